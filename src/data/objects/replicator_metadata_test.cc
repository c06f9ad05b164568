// Where the replicator keeps each replica's metadata: an extended attribute on
// the object (one inode per copy), the previous release's sidecar files still
// read (and the orphan sweep still honours them), sidecar files again when the
// file system refuses attributes. Also the copy's check that the name still
// holds the file that was read. Real directories on the test machine's /tmp.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>

#include "core/duration.h"
#include "data/objects/digest.h"
#include "data/objects/replicator.h"
#include "data/objects/replicator_fixture.h"

namespace pilotlight::objects {
namespace {

using testing::ReadAll;
using testing::Write;

namespace fs = std::filesystem;

// Regular files under `dir`, recursively.
int CountFiles(const std::string& dir) {
  int n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    n += it->is_regular_file() ? 1 : 0;
  }
  return n;
}

// The raw attribute of `path` (its errno, negated, when it has none).
ssize_t XattrSize(const std::string& path) {
  char buf[4096];
  const ssize_t n = lgetxattr(path.c_str(), kMetadataXattr, buf, sizeof buf);
  return n < 0 ? -errno : n;
}

// A sidecar as the previous release wrote it.
std::string OldSidecar(const std::string& key, const std::string& content,
                       const std::string& origin) {
  return "key=" + key + "\nsha256=" + Sha256Hex(content) +
         "\nsize=" + std::to_string(content.size()) +
         "\nsource_mtime_ns=1700000000123456789\norigin=" + origin +
         "\nreplicated_at=2026-11-01T10:00:00.000Z\n";
}

class ReplicatorMetadataTest : public testing::ReplicatorFixture {
 protected:
  std::string Meta(const std::string& key) {
    return options_.dest_dir + "/.pilotlight/meta/" + key;
  }
  ReplicaMetadata MetadataOf(const std::string& key) {
    Result<std::optional<ReplicaMetadata>> m = ReadReplicaMetadata(options_.dest_dir, key);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_TRUE(m.ok() && m->has_value()) << key << " has no metadata";
    return m.ok() && m->has_value() ? **m : ReplicaMetadata{};
  }
  // Skips the test where /tmp itself refuses user attributes.
  bool XattrsWork() {
    const std::string probe = root_ + "/probe";
    Write(probe, "x");
    const bool ok = lsetxattr(probe.c_str(), "user.probe", "1", 1, 0) == 0;
    fs::remove(probe);
    return ok;
  }
};

TEST_F(ReplicatorMetadataTest, MetadataIsAnAttributeOfTheObjectAndNoOtherFileIsLeft) {
  if (!XattrsWork()) GTEST_SKIP() << "the file system of /tmp has no user attributes";
  const std::string body(300, 'c');
  Write(Src("confirmations/t1.json"), body);
  Write(Src("confirmations/t2.json"), "{}");
  Write(Src("t3"), "");
  auto r = Open();
  PassStats s = Pass(*r);
  EXPECT_EQ(s.copied, 3);
  EXPECT_TRUE(r->metadata_in_xattrs());
  // One file per object in the whole destination: no sidecar, no temporary left.
  EXPECT_EQ(CountFiles(options_.dest_dir), 3);
  EXPECT_FALSE(fs::exists(Meta("confirmations/t1.json")));

  struct stat st {};
  ASSERT_EQ(stat(Src("confirmations/t1.json").c_str(), &st), 0);
  const ReplicaMetadata m = MetadataOf("confirmations/t1.json");
  EXPECT_FALSE(m.from_sidecar);
  EXPECT_EQ(m.sha256, Sha256Hex(body));
  EXPECT_EQ(m.size, 300);
  EXPECT_EQ(m.source_mtime_ns,
            static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec);
  EXPECT_EQ(m.origin, "primary");
  EXPECT_EQ(m.replicated_at, FormatTime(clock_.Now()));
  // Small enough to live inside an ext4 inode (about 60 bytes of value).
  EXPECT_LE(XattrSize(Dst("confirmations/t1.json")), 60);
  EXPECT_EQ(MetadataOf("t3").size, 0);
  EXPECT_EQ(MetadataOf("t3").sha256, Sha256Hex(""));

  // Nothing there, or nothing of ours: no metadata, and no error.
  Result<std::optional<ReplicaMetadata>> none = ReadReplicaMetadata(options_.dest_dir, "nope");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  Write(Dst("direct"), "written in DR");
  none = ReadReplicaMetadata(options_.dest_dir, "direct");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  // An attribute that does not parse is an error, not an origin.
  ASSERT_EQ(lsetxattr(Dst("direct").c_str(), kMetadataXattr, "\x07junk", 5, 0), 0);
  EXPECT_FALSE(ReadReplicaMetadata(options_.dest_dir, "direct").ok());
}

TEST_F(ReplicatorMetadataTest, ABucketWithThePreviousReleasesSidecarsStillWorks) {
  // A DR bucket as the previous release left it, and a checkpoint lost since.
  Write(Dst("old-ours"), "copied by the previous release");
  Write(Meta("old-ours"), OldSidecar("old-ours", "copied by the previous release", "primary"));
  Write(Dst("old-theirs"), "copied by another region's replicator");
  Write(Meta("old-theirs"), OldSidecar("old-theirs", "copied by ...", "elsewhere"));
  Write(Dst("direct"), "written in DR, nobody's copy");
  Write(Dst("stale"), "old version");
  Write(Meta("stale"), OldSidecar("stale", "old version", "primary"));
  Write(Src("stale"), "new version, longer");
  Write(Src("kept"), "k");

  const ReplicaMetadata before = MetadataOf("old-theirs");
  EXPECT_TRUE(before.from_sidecar);
  EXPECT_EQ(before.origin, "elsewhere");
  EXPECT_EQ(before.source_mtime_ns, 1700000000123456789);
  EXPECT_EQ(before.replicated_at, "2026-11-01T10:00:00.000Z");

  auto r = Open();
  PassStats s = Pass(*r);
  EXPECT_EQ(s.copied, 2);
  EXPECT_EQ(s.deleted, 1) << "the previous release's copy of a deleted object was not swept";
  EXPECT_FALSE(fs::exists(Dst("old-ours")));
  EXPECT_FALSE(fs::exists(Meta("old-ours")));
  EXPECT_EQ(ReadAll(Dst("old-theirs")), "copied by another region's replicator");
  EXPECT_EQ(ReadAll(Dst("direct")), "written in DR, nobody's copy");
  // The new copy's record is its attribute (or, without attributes, a new sidecar).
  EXPECT_EQ(ReadAll(Dst("stale")), "new version, longer");
  const ReplicaMetadata stale = MetadataOf("stale");
  EXPECT_EQ(stale.sha256, Sha256Hex("new version, longer"));
  EXPECT_EQ(stale.from_sidecar, !r->metadata_in_xattrs());
  if (r->metadata_in_xattrs()) {
    EXPECT_FALSE(fs::exists(Meta("stale"))) << "the stale sidecar outlived the new copy";
  }
}

// Both ways of ending up with sidecar files: asked for, or refused by the file
// system on the first attempt (the test seam makes fsetxattr fail with ENOTSUP).
class ReplicatorSidecarTest : public ReplicatorMetadataTest,
                              public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    ReplicatorMetadataTest::SetUp();
    (GetParam() ? options_.refuse_xattrs : options_.sidecar_metadata) = true;
  }
};

TEST_P(ReplicatorSidecarTest, MetadataGoesToSidecarFilesAndTheSweepReadsThem) {
  Write(Src("a/1"), "one");
  Write(Src("a/2"), "two");
  Write(Src("deleted-while-down"), "d");
  {
    auto r = Open();
    PassStats s = Pass(*r);
    EXPECT_EQ(s.copied, 3);
    EXPECT_TRUE(s.alarms.empty());
    EXPECT_FALSE(r->metadata_in_xattrs());
  }
  for (const char* key : {"a/1", "a/2", "deleted-while-down"}) {
    EXPECT_NE(ReadAll(Meta(key)).find("sha256=" + Sha256Hex(ReadAll(Src(key)))), std::string::npos)
        << key;
    const ReplicaMetadata m = MetadataOf(key);
    EXPECT_TRUE(m.from_sidecar);
    EXPECT_EQ(m.origin, "primary");
    EXPECT_EQ(m.size, static_cast<int64_t>(ReadAll(Src(key)).size()));
    EXPECT_LT(XattrSize(Dst(key)), 0) << key;
  }
  EXPECT_TRUE(fs::is_empty(options_.dest_dir + "/.pilotlight/tmp"));

  fs::remove(options_.state_dir + "/checkpoint.log");
  fs::remove(Src("deleted-while-down"));
  auto r = Open();
  PassStats s = Pass(*r);
  EXPECT_EQ(s.already_in_place, 2);
  EXPECT_EQ(s.deleted, 1);
  EXPECT_FALSE(fs::exists(Dst("deleted-while-down")));
  EXPECT_FALSE(fs::exists(Meta("deleted-while-down")));
  EXPECT_TRUE(fs::exists(Dst("a/1")));
}

INSTANTIATE_TEST_SUITE_P(AskedOrRefused, ReplicatorSidecarTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Refused" : "Asked"; });

TEST_F(ReplicatorMetadataTest, AnObjectFoundInPlaceIsNotModified) {
  // The reverse direction finds its source's objects already at the destination
  // (the other direction's source): it records them in a sidecar, and leaves the
  // object itself alone (no attribute, no change of its inode).
  Write(Src("trade"), "same on both sides");
  Write(Dst("trade"), "same on both sides");
  struct stat before {};
  ASSERT_EQ(stat(Dst("trade").c_str(), &before), 0);
  auto r = Open();
  PassStats s = Pass(*r);
  EXPECT_EQ(s.already_in_place, 1);
  EXPECT_EQ(s.copied, 0);
  struct stat after {};
  ASSERT_EQ(stat(Dst("trade").c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(after.st_ctim.tv_sec, before.st_ctim.tv_sec);
  EXPECT_EQ(after.st_ctim.tv_nsec, before.st_ctim.tv_nsec);
  EXPECT_LT(XattrSize(Dst("trade")), 0);
  EXPECT_TRUE(MetadataOf("trade").from_sidecar);
  EXPECT_EQ(MetadataOf("trade").origin, "primary");
}

TEST_F(ReplicatorMetadataTest, ASourceReplacedMidCopyByAnEqualLookingFileIsCopiedAgain) {
  // The replacement has the same size and modification time: only its inode
  // tells that the name no longer holds the file that was read.
  Write(Src("obj"), std::string(1000, 'a'));
  struct stat st {};
  ASSERT_EQ(stat(Src("obj").c_str(), &st), 0);
  bool replaced = false;
  options_.on_chunk = [&](const std::string& key, int, std::string&) {
    if (replaced) return;
    replaced = true;
    Write(Src(".obj.tmp"), std::string(1000, 'b'));
    const timespec times[2] = {st.st_mtim, st.st_mtim};
    ASSERT_EQ(utimensat(AT_FDCWD, Src(".obj.tmp").c_str(), times, 0), 0);
    fs::rename(Src(".obj.tmp"), Src(key));
  };
  options_.full_rescan_every_pass = true;
  auto r = Open();
  PassStats s = Pass(*r);
  EXPECT_TRUE(replaced);
  EXPECT_EQ(s.changed_during_copy, 1);
  EXPECT_EQ(s.copied, 1);
  EXPECT_EQ(ReadAll(Dst("obj")), std::string(1000, 'b'));
}

TEST_F(ReplicatorMetadataTest, AFifoSwappedInForAnObjectDoesNotBlockThePass) {
  // Copies go oldest first: while "a" is copied, "b" (found a regular file by the
  // scan) becomes a FIFO that no one writes to. Opening it must not block.
  Write(Src("a"), "first");
  Write(Src("b"), "second");
  struct stat st {};
  ASSERT_EQ(stat(Src("a").c_str(), &st), 0);
  const timespec later[2] = {{st.st_mtim.tv_sec + 1, 0}, {st.st_mtim.tv_sec + 1, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, Src("b").c_str(), later, 0), 0);
  options_.full_rescan_every_pass = true;
  options_.on_chunk = [&](const std::string& key, int, std::string&) {
    if (key != "a" || !fs::is_regular_file(Src("b"))) return;
    fs::remove(Src("b"));
    ASSERT_EQ(mkfifo(Src("b").c_str(), 0644), 0);
  };
  auto r = Open();
  auto pass = std::async(std::launch::async, [&] { return r->RunPass(); });
  if (pass.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "the pass blocked opening a FIFO";
    const int w = open(Src("b").c_str(), O_WRONLY | O_NONBLOCK);  // lets it go
    if (w >= 0) close(w);
  }
  Result<PassStats> s = pass.get();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->copied, 1);
  EXPECT_EQ(ReadAll(Dst("a")), "first");
  EXPECT_FALSE(fs::exists(Dst("b")));
}

}  // namespace
}  // namespace pilotlight::objects
