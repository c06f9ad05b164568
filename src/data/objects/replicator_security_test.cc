// What a writer of the primary bucket must not be able to do to the DR bucket
// through the replicator (issue #14): bring in a file from outside the bucket by
// a symbolic link (absolute, relative, a linked directory, or one swapped in after
// the scan), hang a pass with a FIFO, fill DR's disk with a sparse file, lose an
// object silently by its name, or forge log lines with a name. On a real file
// system (the test's scratch directory under /tmp).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "data/objects/digest.h"
#include "data/objects/replicator.h"
#include "data/objects/replicator_fixture.h"
#include "testing/wait.h"

namespace pilotlight::objects {
namespace {

using testing::ReadAll;
using testing::Write;
namespace fs = std::filesystem;
using pilotlight::testing::WaitFor;

constexpr char kSecret[] = "root:$y$j9T$not-for-the-dr-bucket:19000:0:99999:7:::";

// Run with openat2 (false) and with the one-component-at-a-time fallback (true).
class ReplicatorSecurityTest : public testing::ReplicatorFixture,
                               public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    ReplicatorFixture::SetUp();
    options_.open_by_components = GetParam();
    outside_ = root_ + "/outside";
    Write(outside_ + "/shadow", kSecret);
    fs::create_directories(options_.source_dir);
  }

  // Every regular file of the DR bucket (pilotlight's own directory aside) whose
  // content is the secret.
  std::vector<std::string> SecretsInDr() {
    std::vector<std::string> found;
    for (auto it = fs::recursive_directory_iterator(options_.dest_dir);
         it != fs::recursive_directory_iterator(); ++it) {
      if (it->path().filename() == kInternalDir) {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file() && ReadAll(it->path()) == kSecret) {
        found.push_back(it->path().string());
      }
    }
    return found;
  }

  static std::vector<std::string> Keys(const std::vector<SkippedEntry>& skipped,
                                       SkipReason reason) {
    std::vector<std::string> keys;
    for (const SkippedEntry& e : skipped) {
      if (e.reason == reason) keys.push_back(e.key);
    }
    return keys;
  }

  // Sets a file's modification time (not following a link).
  static void SetMtime(const std::string& path, int64_t seconds) {
    timespec times[2] = {{seconds, 0}, {seconds, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
  }

  std::string outside_;
};

TEST_P(ReplicatorSecurityTest, LinksToFilesOutsideTheBucketAreNotReplicated) {
  fs::create_symlink(outside_ + "/shadow", Src("absolute"));
  fs::create_directories(Src("reports/2026"));
  fs::create_symlink("../../../outside/shadow", Src("reports/2026/relative"));
  fs::create_symlink(outside_, Src("linked-dir"));  // not descended into
  Write(Src("reports/2026/q4.pdf"), "a report");

  auto r = Open();
  ::testing::internal::CaptureStderr();
  PassStats s = Pass(*r);
  const std::string first_log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(s.copied, 1);
  EXPECT_EQ(ReadAll(Dst("reports/2026/q4.pdf")), "a report");
  EXPECT_EQ(SecretsInDr(), std::vector<std::string>{});
  for (const char* key : {"absolute", "reports/2026/relative", "linked-dir", "linked-dir/shadow"}) {
    EXPECT_FALSE(fs::exists(fs::symlink_status(Dst(key)))) << key;
  }
  // Reported: in the pass's result, in the backlog, and in the log once.
  EXPECT_EQ(Keys(s.skipped, SkipReason::kSymlink),
            (std::vector<std::string>{"absolute", "linked-dir", "reports/2026/relative"}));
  Result<Backlog> b = ReadBacklog(options_.source_dir, options_.state_dir, clock_.Now());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->objects, 0);
  EXPECT_EQ(b->skipped, (std::map<SkipReason, int64_t>{{SkipReason::kSymlink, 3}}));
  EXPECT_NE(first_log.find("'absolute'"), std::string::npos) << first_log;
  EXPECT_NE(first_log.find("'reports/2026/relative'"), std::string::npos) << first_log;
  EXPECT_NE(first_log.find("symbolic link"), std::string::npos) << first_log;

  ::testing::internal::CaptureStderr();
  PassStats again = Pass(*r);
  const std::string second_log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(again.skipped, s.skipped);                                      // still counted
  EXPECT_EQ(second_log.find("absolute"), std::string::npos) << second_log;  // not logged again

  // Planted later: found by the change feed's incremental pass just the same.
  fs::create_symlink(outside_ + "/shadow", Src("reports/late"));
  PassStats late = Pass(*r);
  if (r->has_change_feed()) {
    EXPECT_FALSE(late.full_scan);
  }
  EXPECT_EQ(SecretsInDr(), std::vector<std::string>{});
  EXPECT_EQ(Keys(late.skipped, SkipReason::kSymlink),
            (std::vector<std::string>{"absolute", "linked-dir", "reports/2026/relative",
                                      "reports/late"}));
}

// A bucket full of planted links: a bounded number of log lines, once, while the
// pass's result still counts every one.
TEST_P(ReplicatorSecurityTest, ManyPlantedLinksAreLoggedBoundedAndOnce) {
  for (int i = 0; i < 100; ++i) {
    fs::create_symlink(outside_ + "/shadow", Src("link-" + std::to_string(i)));
  }
  options_.full_rescan_every_pass = true;
  auto r = Open();
  auto lines = [](const std::string& log) { return std::count(log.begin(), log.end(), '\n'); };
  ::testing::internal::CaptureStderr();
  PassStats s = Pass(*r);
  const std::string first = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(s.skipped.size(), 100u);
  EXPECT_LE(lines(first), 30) << first;
  EXPECT_NE(first.find("80 more entries"), std::string::npos) << first;
  ::testing::internal::CaptureStderr();
  s = Pass(*r);
  const std::string second = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(s.skipped.size(), 100u);
  EXPECT_EQ(lines(second), 0) << second;
  EXPECT_EQ(SecretsInDr(), std::vector<std::string>{});
}

// Replaced by a link between the scan and the copy: the copy's open does not
// follow it, and a FIFO swapped in is refused by the fstat of what was opened.
TEST_P(ReplicatorSecurityTest, ALinkOrFifoSwappedInAfterTheScanIsRefused) {
  Write(Src("a-first"), "copied first");
  Write(Src("b-becomes-link"), "innocent");
  Write(Src("c-becomes-fifo"), "innocent too");
  Write(Src("d-becomes-link/shadow"), "a directory's object");
  SetMtime(Src("a-first"), 1'000);  // copied in order of modification
  SetMtime(Src("b-becomes-link"), 2'000);
  SetMtime(Src("c-becomes-fifo"), 3'000);
  SetMtime(Src("d-becomes-link/shadow"), 4'000);
  bool swapped = false;
  options_.on_chunk = [&](const std::string& key, int, std::string&) {
    if (key != "a-first" || swapped) return;
    swapped = true;
    fs::remove(Src("b-becomes-link"));
    fs::create_symlink(outside_ + "/shadow", Src("b-becomes-link"));
    fs::remove(Src("c-becomes-fifo"));
    ASSERT_EQ(mkfifo(Src("c-becomes-fifo").c_str(), 0644), 0);
    // A directory on the object's path becomes a link to one outside the bucket.
    fs::rename(Src("d-becomes-link"), root_ + "/moved-away");
    fs::create_symlink(outside_, Src("d-becomes-link"));
  };
  options_.full_rescan_every_pass = true;
  auto r = Open();
  PassStats s = Pass(*r);
  ASSERT_TRUE(swapped);
  EXPECT_EQ(SecretsInDr(), std::vector<std::string>{});
  EXPECT_FALSE(fs::exists(Dst("b-becomes-link")));
  EXPECT_FALSE(fs::exists(Dst("c-becomes-fifo")));
  EXPECT_FALSE(fs::exists(Dst("d-becomes-link/shadow")));
  EXPECT_EQ(Keys(s.skipped, SkipReason::kSymlink),
            (std::vector<std::string>{"b-becomes-link", "d-becomes-link/shadow"}));
  EXPECT_EQ(Keys(s.skipped, SkipReason::kFifo), std::vector<std::string>{"c-becomes-fifo"});
  // The next scan sees the link itself, and what it points to is never an object.
  PassStats next = Pass(*r);
  EXPECT_EQ(SecretsInDr(), std::vector<std::string>{});
  EXPECT_EQ(Keys(next.skipped, SkipReason::kSymlink),
            (std::vector<std::string>{"b-becomes-link", "d-becomes-link"}));
}

TEST_P(ReplicatorSecurityTest, AFifoDoesNotHangThePassAndIsReported) {
  ASSERT_EQ(mkfifo(Src("pipe").c_str(), 0644), 0);
  fs::create_symlink("pipe", Src("link-to-pipe"));
  Write(Src("after-the-pipe"), "x");
  auto r = Open();
  std::future<Result<PassStats>> pass =
      std::async(std::launch::async, [&] { return r->RunPass(); });
  if (pass.wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
    // Blocked on the FIFO: a writer's open and close releases it, and the test fails.
    const int w = open(Src("pipe").c_str(), O_WRONLY | O_NONBLOCK);
    if (w >= 0) close(w);
    pass.wait();
    FAIL() << "the pass blocked on a FIFO in the bucket";
  }
  Result<PassStats> s = pass.get();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->copied, 1);
  EXPECT_FALSE(fs::exists(fs::symlink_status(Dst("pipe"))));
  EXPECT_FALSE(fs::exists(fs::symlink_status(Dst("link-to-pipe"))));
  EXPECT_EQ(Keys(s->skipped, SkipReason::kFifo), std::vector<std::string>{"pipe"});
  EXPECT_EQ(Keys(s->skipped, SkipReason::kSymlink), std::vector<std::string>{"link-to-pipe"});
  Result<Backlog> b = ReadBacklog(options_.source_dir, options_.state_dir, clock_.Now());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->skipped,
            (std::map<SkipReason, int64_t>{{SkipReason::kSymlink, 1}, {SkipReason::kFifo, 1}}));
}

// 256 MiB of which 3 MiB are data: DR's copy holds the same bytes in about as
// many blocks, not 256 MiB of zeros.
TEST_P(ReplicatorSecurityTest, ASparseObjectKeepsItsHoles) {
  constexpr off_t kMiB = 1 << 20;
  constexpr off_t kSize = 256 * kMiB;
  {
    const int fd = open(Src("sparse.img").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    std::string data(kMiB, '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
    for (off_t at : {off_t{0}, 100 * kMiB, kSize - kMiB}) {
      ASSERT_EQ(pwrite(fd, data.data(), data.size(), at), static_cast<ssize_t>(data.size()));
    }
    ASSERT_EQ(ftruncate(fd, kSize), 0);
    close(fd);
  }
  Write(Src("empty"), "");
  auto r = Open();
  PassStats s = Pass(*r);
  EXPECT_EQ(s.copied, 2);
  EXPECT_EQ(s.bytes_copied, kSize);
  struct stat src {
  }, dst{};
  ASSERT_EQ(stat(Src("sparse.img").c_str(), &src), 0);
  ASSERT_EQ(stat(Dst("sparse.img").c_str(), &dst), 0);
  EXPECT_EQ(dst.st_size, kSize);
  // About as many blocks: the source's, give or take a little allocation slack.
  EXPECT_LE(dst.st_blocks, src.st_blocks + src.st_blocks / 10 + 64)
      << "source " << src.st_blocks << " blocks, DR " << dst.st_blocks;
  EXPECT_LT(dst.st_blocks, kSize / 512 / 10);
  Result<std::string> a = Sha256File(Src("sparse.img"));
  Result<std::string> b = Sha256File(Dst("sparse.img"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  Result<std::optional<ReplicaMetadata>> m = ReadReplicaMetadata(options_.dest_dir, "sparse.img");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->sha256, *a);
  EXPECT_EQ(ReadAll(Dst("empty")), "");
}

// An object over the size limit is not copied, and says so: an alarm (once), the
// pass's result, and the backlog (replication status: breaching, not "within").
TEST_P(ReplicatorSecurityTest, AnObjectOverTheSizeLimitIsReportedNotReplicated) {
  options_.max_object_bytes = 10;
  Write(Src("big\nname"), "eleven byte");
  Write(Src("small"), "ten bytes!");
  auto r = Open();
  PassStats s = Pass(*r);
  EXPECT_EQ(s.copied, 1);
  EXPECT_FALSE(fs::exists(Dst("big\nname")));
  EXPECT_EQ(s.skipped, (std::vector<SkippedEntry>{{"big\nname", SkipReason::kTooLarge, 11}}));
  ASSERT_EQ(s.alarms.size(), 1u);
  EXPECT_NE(s.alarms[0].find("'big\\nname'"), std::string::npos) << s.alarms[0];
  EXPECT_EQ(s.alarms[0].find('\n'), std::string::npos) << s.alarms[0];
  Result<Backlog> b = ReadBacklog(options_.source_dir, options_.state_dir, clock_.Now());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->objects, 1);
  EXPECT_EQ(b->not_replicated, 1);
  EXPECT_EQ(b->not_replicated_bytes, 11);

  PassStats again = Pass(*r);
  EXPECT_TRUE(again.alarms.empty());  // alarmed once
  EXPECT_EQ(again.skipped, s.skipped);

  Write(Src("big\nname"), "now small");
  again = Pass(*r);
  EXPECT_EQ(again.copied, 1);
  EXPECT_TRUE(again.skipped.empty());
  EXPECT_EQ(ReadAll(Dst("big\nname")), "now small");
  b = ReadBacklog(options_.source_dir, options_.state_dir, clock_.Now());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->objects, 0);
  EXPECT_EQ(b->not_replicated, 0);
}

// A name cannot write a line of its own into the log: what Run() logs about a
// skipped entry or an alarm has the name's control characters escaped.
TEST_P(ReplicatorSecurityTest, NamesAreEscapedInLogLines) {
  const std::string forged = "2026-12-08T00:00:00.000 error objects: FORGED";
  fs::create_symlink(outside_ + "/shadow", Src("link\n" + forged));
  options_.max_object_bytes = 4;
  Write(Src("large\r\n" + forged), "more than four bytes");
  Write(Src("marker"), "m");
  auto r = Open();
  std::atomic<bool> stop{false};
  ::testing::internal::CaptureStderr();
  std::thread run([&] { r->Run(stop, std::chrono::milliseconds(10)); });
  WaitFor(std::chrono::seconds(60), [&] { return fs::exists(Dst("marker")); });
  stop = true;
  run.join();
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(fs::exists(Dst("marker"))) << log;
  EXPECT_NE(log.find("link\\n" + forged), std::string::npos) << log;
  EXPECT_NE(log.find("large\\r\\n" + forged), std::string::npos) << log;
  size_t at = 0;
  for (size_t nl; (nl = log.find('\n', at)) != std::string::npos; at = nl + 1) {
    EXPECT_NE(log.compare(at, forged.size(), forged), 0) << "a forged line: " << log;
    EXPECT_EQ(log.substr(at, nl - at).find('\r'), std::string::npos) << log;
  }
}

INSTANTIATE_TEST_SUITE_P(OpenBeneath, ReplicatorSecurityTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "ByComponents" : "Openat2";
                         });

}  // namespace
}  // namespace pilotlight::objects
