#include "data/objects/replicator.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "data/objects/digest.h"
#include "data/objects/replicator_fixture.h"

namespace pilotlight::objects {
namespace {

using testing::ReadAll;
using testing::Write;

namespace fs = std::filesystem;

// Sets a file's modification time to `t`.
void SetMtime(const std::string& path, WallTime t) {
  const int64_t ns = t.time_since_epoch().count();
  timespec times[2] = {{ns / 1'000'000'000, ns % 1'000'000'000},
                       {ns / 1'000'000'000, ns % 1'000'000'000}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

class ReplicatorTest : public testing::ReplicatorFixture {};

TEST_F(ReplicatorTest, CopiesNewObjectsWithTheirMetadataThenHasNothingToDo) {
  Write(Src("confirmations/1.json"), "{\"trade\":1}");
  Write(Src("confirmations/2.json"), "{\"trade\":2}");
  Write(Src("top.txt"), "");
  Write(Src(".pilotlight/meta/ignored"), "internal");
  auto r = Open();
  PassStats s = Pass(*r);
  EXPECT_EQ(s.copied, 3);
  EXPECT_EQ(s.bytes_copied, 22);
  EXPECT_TRUE(s.alarms.empty());
  for (const char* key : {"confirmations/1.json", "confirmations/2.json", "top.txt"}) {
    EXPECT_EQ(ReadAll(Dst(key)), ReadAll(Src(key))) << key;
    Result<std::optional<ReplicaMetadata>> m = ReadReplicaMetadata(options_.dest_dir, key);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    ASSERT_TRUE(m->has_value()) << key;
    EXPECT_EQ((*m)->sha256, Sha256Hex(ReadAll(Src(key)))) << key;
    EXPECT_EQ((*m)->origin, "primary");
  }
  EXPECT_FALSE(fs::exists(Dst(".pilotlight/meta/ignored")));
  EXPECT_TRUE(fs::is_empty(options_.dest_dir + "/.pilotlight/tmp"));

  PassStats again = Pass(*r);
  EXPECT_EQ(again.copied, 0);
  EXPECT_EQ(again.already_in_place, 0);
  Result<Backlog> b = ReadBacklog(options_.source_dir, options_.state_dir, clock_.Now());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->objects, 0);
  EXPECT_EQ(b->lag, Duration(0));
}

TEST_F(ReplicatorTest, ChangedObjectsAreCopiedAgainAndDeletesFollow) {
  Write(Src("a"), "version 1");
  Write(Src("b"), "to be deleted");
  Write(Dst("direct-in-dr"), "written in DR, not ours");
  auto r = Open();
  Pass(*r);
  Write(Src("a"), "version 2, longer");
  fs::remove(Src("b"));
  PassStats s = Pass(*r);
  EXPECT_EQ(s.copied, 1);
  EXPECT_EQ(s.deleted, 1);
  EXPECT_EQ(ReadAll(Dst("a")), "version 2, longer");
  EXPECT_FALSE(fs::exists(Dst("b")));
  EXPECT_FALSE(fs::exists(options_.dest_dir + "/.pilotlight/meta/b"));
  EXPECT_TRUE(fs::exists(Dst("direct-in-dr"))) << "a delete touched an object it never copied";
}

TEST_F(ReplicatorTest, ChecksumMismatchInTransitIsRetried) {
  Write(Src("trade"), std::string(200'000, 'q'));
  options_.on_chunk = [](const std::string&, int attempt, std::string& chunk) {
    if (attempt == 1) chunk[7] ^= 0x01;  // one bit flipped on the first attempt
  };
  auto r = Open();
  PassStats s = Pass(*r);
  EXPECT_EQ(s.checksum_retries, 1);
  EXPECT_EQ(s.copied, 1);
  EXPECT_TRUE(s.alarms.empty());
  EXPECT_EQ(ReadAll(Dst("trade")), ReadAll(Src("trade")));
}

TEST_F(ReplicatorTest, PersistentCorruptionAlarmsAndNeverReplacesTheGoodCopy) {
  Write(Src("trade"), "good version");
  auto r = Open();
  Pass(*r);
  ASSERT_EQ(ReadAll(Dst("trade")), "good version");

  Write(Src("trade"), "newer version");
  options_.on_chunk = [](const std::string&, int, std::string& chunk) { chunk[0] ^= 0x20; };
  auto corrupting = Open();
  PassStats s = Pass(*corrupting);
  EXPECT_EQ(s.copied, 0);
  EXPECT_EQ(s.checksum_retries, options_.verify_attempts);
  ASSERT_EQ(s.alarms.size(), 1u);
  EXPECT_NE(s.alarms[0].find("checksum mismatch"), std::string::npos) << s.alarms[0];
  EXPECT_EQ(ReadAll(Dst("trade")), "good version");
  EXPECT_TRUE(fs::is_empty(options_.dest_dir + "/.pilotlight/tmp"));
  Result<Backlog> b = ReadBacklog(options_.source_dir, options_.state_dir, clock_.Now());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->objects, 1) << "the unreplicated version must count in the backlog";
}

TEST_F(ReplicatorTest, SourceChangedDuringItsCopyIsCopiedAgain) {
  Write(Src("growing"), std::string(300'000, 'a'));
  bool touched = false;
  options_.on_chunk = [&](const std::string& key, int attempt, std::string&) {
    if (!touched) {
      touched = true;
      std::ofstream(Src(key), std::ios::app) << "appended while copying";
    }
  };
  auto r = Open();
  PassStats s = Pass(*r);
  EXPECT_GE(s.changed_during_copy, 1);
  EXPECT_EQ(s.copied, 1);
  EXPECT_EQ(ReadAll(Dst("growing")), ReadAll(Src("growing")));
  EXPECT_EQ(Pass(*r).copied, 0);
}

TEST_F(ReplicatorTest, AfterACrashObjectsInPlaceAreRecordedNotCopiedAndTempFilesGo) {
  Write(Src("done-before-crash"), "renamed, but the checkpoint never said so");
  Write(Src("not-yet"), "never copied");
  // The state a crash leaves: one object in place without a checkpoint record,
  // one half-written temporary file.
  Write(Dst("done-before-crash"), ReadAll(Src("done-before-crash")));
  Write(options_.dest_dir + "/.pilotlight/tmp/17.obj", "half of some");
  auto r = Open();
  EXPECT_TRUE(fs::is_empty(options_.dest_dir + "/.pilotlight/tmp"));
  PassStats s = Pass(*r);
  EXPECT_EQ(s.already_in_place, 1);
  EXPECT_EQ(s.copied, 1);
  EXPECT_TRUE(fs::exists(options_.dest_dir + "/.pilotlight/meta/done-before-crash"));
}

TEST_F(ReplicatorTest, OrphansOfALostCheckpointRecordAreDeleted) {
  Write(Src("kept"), "k");
  Write(Src("deleted-while-down"), "d");
  {
    auto r = Open();
    Pass(*r);
  }
  // A crash lost the checkpoint (worst case); the source deleted one object meanwhile.
  fs::remove(options_.state_dir + "/checkpoint.log");
  fs::remove(Src("deleted-while-down"));
  auto r = Open();
  PassStats s = Pass(*r);
  EXPECT_EQ(s.already_in_place, 1);
  EXPECT_EQ(s.deleted, 1);
  EXPECT_FALSE(fs::exists(Dst("deleted-while-down")));
  EXPECT_TRUE(fs::exists(Dst("kept")));
}

TEST_F(ReplicatorTest, BacklogCountsObjectsBytesAndTheOldestChangesAge) {
  const WallTime now = clock_.Now();
  Write(Src("old"), "12345");
  Write(Src("new"), "123");
  Write(Src("replicated"), "x");
  SetMtime(Src("replicated"), now - std::chrono::seconds(100));
  auto r = Open();
  Pass(*r);
  SetMtime(Src("old"), now - std::chrono::seconds(40));
  SetMtime(Src("new"), now - std::chrono::seconds(2));
  fs::remove(Src("replicated"));
  Result<Backlog> b = ReadBacklog(options_.source_dir, options_.state_dir, now);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->objects, 2);
  EXPECT_EQ(b->bytes, 8);
  EXPECT_EQ(b->deletes, 1);
  EXPECT_EQ(b->lag, std::chrono::seconds(40));
}

// S3 allows a newline in a key: such an object is replicated like any other
// (the previous release counted it nowhere, and status said "0 objects pending").
TEST_F(ReplicatorTest, NamesWithControlCharactersAreReplicated) {
  const std::string keys[] = {"line\nbreak", "dir\r/cr\r", "tab\tand\\backslash",
                              "x\n2026-12-08T00:00:00.000 error forged"};
  for (const std::string& key : keys) Write(Src(key), "content of " + key);
  Write(Src("plain"), "p");
  {
    auto r = Open();
    PassStats s = Pass(*r);
    EXPECT_EQ(s.copied, 5);
    EXPECT_TRUE(s.alarms.empty()) << s.alarms[0];
    EXPECT_TRUE(s.skipped.empty());
  }
  for (const std::string& key : keys) {
    EXPECT_EQ(ReadAll(Dst(key)), "content of " + key) << EscapeKey(key);
    Result<std::optional<ReplicaMetadata>> m = ReadReplicaMetadata(options_.dest_dir, key);
    ASSERT_TRUE(m.ok() && m->has_value()) << EscapeKey(key);
    EXPECT_EQ((*m)->sha256, Sha256Hex("content of " + key));
  }
  Result<Backlog> b = ReadBacklog(options_.source_dir, options_.state_dir, clock_.Now());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->objects, 0);
  EXPECT_EQ(b->not_replicated, 0);

  // The checkpoint kept them: a new replicator has nothing to do, then replicates
  // a delete.
  auto again = Open();
  PassStats s = Pass(*again);
  EXPECT_EQ(s.copied, 0);
  EXPECT_EQ(s.already_in_place, 0);
  fs::remove(Src(keys[0]));
  s = Pass(*again);
  EXPECT_EQ(s.deleted, 1);
  EXPECT_FALSE(fs::exists(Dst(keys[0])));
  b = ReadBacklog(options_.source_dir, options_.state_dir, clock_.Now());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->objects, 0);
  EXPECT_EQ(b->deletes, 0);
}

}  // namespace
}  // namespace pilotlight::objects
