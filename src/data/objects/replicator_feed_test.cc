// The bucket replicator with its change feed on: passes between full scans look
// only at what inotify reported, and the periodic full scan catches what it did
// not report. Real directories; the clock is fake, so "60 s later" is an Advance.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "data/objects/replicator.h"
#include "data/objects/replicator_fixture.h"
#include "testing/wait.h"

namespace pilotlight::objects {
namespace {

using testing::ReadAll;
using testing::Write;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using pilotlight::testing::WaitFor;

class ReplicatorFeedTest : public testing::ReplicatorFixture {
 protected:
  void WriteObjects(int n) {
    for (int i = 0; i < n; ++i)
      Write(Src("t" + std::to_string(i % 4) + "/" + std::to_string(i)), "o" + std::to_string(i));
  }
};

TEST_F(ReplicatorFeedTest, FirstPassIsAFullScanThenAnIdlePassStatsNothing) {
  WriteObjects(100);
  auto r = Open();
  ASSERT_TRUE(r->has_change_feed());
  PassStats first = Pass(*r);
  EXPECT_TRUE(first.full_scan);
  EXPECT_EQ(first.scanned, 100);
  EXPECT_EQ(first.copied, 100);
  for (int i = 0; i < 3; ++i) {
    PassStats idle = Pass(*r);
    EXPECT_FALSE(idle.full_scan);
    EXPECT_EQ(idle.scanned, 0) << "a pass with nothing to do stat'ed unchanged objects";
    EXPECT_EQ(idle.copied, 0);
  }
}

TEST_F(ReplicatorFeedTest, CreatesChangesRenamesAndDeletesBetweenPassesReplicate) {
  WriteObjects(40);
  Write(Src("doomed/a"), "a");
  Write(Src("doomed/b"), "b");
  auto r = Open();
  Pass(*r);
  ASSERT_EQ(ReadAll(Dst("doomed/a")), "a");

  Write(Src("t0/0"), "changed in place, longer");
  Write(Src("fresh/new-dir/obj"), "in a directory made after the first pass");
  Write(Src("confirmations/.t9.json.1.0.tmp"), "{\"trade\":9}");
  fs::rename(Src("confirmations/.t9.json.1.0.tmp"), Src("confirmations/t9.json"));
  fs::remove(Src("t1/1"));
  fs::remove_all(Src("doomed"));

  PassStats s = Pass(*r);
  EXPECT_FALSE(s.full_scan);
  EXPECT_EQ(s.copied, 3);
  EXPECT_EQ(s.deleted, 3);  // t1/1 and the two objects of the deleted directory
  EXPECT_LE(s.scanned, 8) << "only the reported keys are stat'ed";
  EXPECT_EQ(ReadAll(Dst("t0/0")), "changed in place, longer");
  EXPECT_EQ(ReadAll(Dst("fresh/new-dir/obj")), "in a directory made after the first pass");
  EXPECT_EQ(ReadAll(Dst("confirmations/t9.json")), "{\"trade\":9}");
  EXPECT_FALSE(fs::exists(Dst("confirmations/.t9.json.1.0.tmp")));
  EXPECT_FALSE(fs::exists(Dst("t1/1")));
  EXPECT_FALSE(fs::exists(Dst("doomed/a")));
  EXPECT_FALSE(fs::exists(Dst("doomed/b")));
  EXPECT_FALSE(fs::exists(options_.dest_dir + "/.pilotlight/meta/doomed/a"));

  // The backlog (a full scan, another process's view) agrees: nothing left.
  Result<Backlog> b = ReadBacklog(options_.source_dir, options_.state_dir, clock_.Now());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->objects, 0);
  EXPECT_EQ(b->deletes, 0);
}

TEST_F(ReplicatorFeedTest, AChangeInotifyMissedIsCaughtByThePeriodicFullScan) {
  options_.drop_change_event = [](const std::string& key) { return key == "hidden"; };
  options_.full_rescan_interval = 60s;
  Write(Src("hidden"), "version 1");
  auto r = Open();
  Pass(*r);
  ASSERT_EQ(ReadAll(Dst("hidden")), "version 1");

  Write(Src("hidden"), "version 2, which no event reports");
  PassStats unseen = Pass(*r);
  EXPECT_EQ(unseen.copied, 0) << "the seam did not drop the event";
  clock_.Advance(59s);
  EXPECT_EQ(Pass(*r).copied, 0);
  clock_.Advance(1s);
  PassStats rescan = Pass(*r);
  EXPECT_TRUE(rescan.full_scan);
  EXPECT_EQ(rescan.copied, 1);
  EXPECT_EQ(ReadAll(Dst("hidden")), "version 2, which no event reports");
  EXPECT_FALSE(Pass(*r).full_scan) << "the next full scan is due 60 s later";
}

TEST_F(ReplicatorFeedTest, ChecksumFailuresAreRetriedOnTheNextPassAsBefore) {
  Write(Src("trade"), "v1");
  int corrupt_attempts = 3;  // every attempt of the first pass after the change
  options_.verify_attempts = 3;
  options_.on_chunk = [&](const std::string&, int, std::string& chunk) {
    if (corrupt_attempts > 0) {
      --corrupt_attempts;
      chunk[0] ^= 0x01;
    }
  };
  auto r = Open();
  PassStats first = Pass(*r);
  EXPECT_EQ(first.copied, 0);
  ASSERT_EQ(first.alarms.size(), 1u);
  // No new event about "trade": it is looked at again all the same.
  PassStats retry = Pass(*r);
  EXPECT_FALSE(retry.full_scan);
  EXPECT_EQ(retry.copied, 1);
  EXPECT_EQ(ReadAll(Dst("trade")), "v1");
}

TEST_F(ReplicatorFeedTest, FullRescanEveryPassIsTheOldBehaviour) {
  options_.full_rescan_every_pass = true;
  WriteObjects(30);
  auto r = Open();
  EXPECT_FALSE(r->has_change_feed());
  Pass(*r);
  PassStats idle = Pass(*r);
  EXPECT_TRUE(idle.full_scan);
  EXPECT_EQ(idle.scanned, 30);
  Write(Src("late"), "x");
  EXPECT_EQ(Pass(*r).copied, 1);
}

TEST_F(ReplicatorFeedTest, RunWakesOnAChangeBeforeTheIntervalEnds) {
  Write(Src("first"), "1");
  auto r = Open();
  std::atomic<bool> stop{false};
  // The fake clock never advances: only the feed can start a second pass.
  std::thread runner([&] { r->Run(stop, std::chrono::hours(1)); });
  const bool first = WaitFor(10s, [&] { return fs::exists(Dst("first")); });
  Write(Src(".second.tmp"), "2");
  fs::rename(Src(".second.tmp"), Src("second"));
  const bool second = WaitFor(10s, [&] { return ReadAll(Dst("second")) == "2"; });
  stop = true;
  runner.join();
  EXPECT_TRUE(first);
  EXPECT_TRUE(second) << "a new object waited for the pass interval";
}

}  // namespace
}  // namespace pilotlight::objects
