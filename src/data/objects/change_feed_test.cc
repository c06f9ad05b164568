// The change feed on real directories: inotify queues an event during the
// system call that causes it, so a Take() right after an operation sees it; no
// test waits for the kernel.
#include "data/objects/change_feed.h"
#include "testing/scratch_dir.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace pilotlight::objects {
namespace {

using pilotlight::testing::ScratchDir;

namespace fs = std::filesystem;
using Keys = std::set<std::string>;

void Write(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

class ChangeFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = scratch_.path();
    bucket_ = root_ + "/bucket";
    fs::create_directories(bucket_);
  }

  std::unique_ptr<ChangeFeed> Open(ChangeFeedOptions options = {}) {
    auto f = ChangeFeed::Open(bucket_, std::move(options));
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? std::move(*f) : nullptr;
  }
  std::string B(const std::string& key) { return bucket_ + "/" + key; }

  ScratchDir scratch_{"feed"};
  std::string root_;
  std::string bucket_;
};

TEST_F(ChangeFeedTest, NothingHappenedReportsNothing) {
  Write(B("existing"), "x");
  auto feed = Open();
  EXPECT_FALSE(feed->Wait(std::chrono::milliseconds(0)));
  Changes c = feed->Take();
  EXPECT_TRUE(c.empty()) << "objects present at Open are the first full scan's business";
}

TEST_F(ChangeFeedTest, CreateIsReportedAndWakesWait) {
  auto feed = Open();
  Write(B("trade-1.json"), "{}");
  EXPECT_TRUE(feed->Wait(std::chrono::seconds(5)));
  Changes c = feed->Take();
  EXPECT_EQ(c.keys, Keys{"trade-1.json"});
  EXPECT_FALSE(c.rescan_needed);
  EXPECT_TRUE(feed->Take().empty()) << "a change is reported once";
}

TEST_F(ChangeFeedTest, OverwriteInPlaceIsReported) {
  Write(B("a"), "version 1");
  auto feed = Open();
  {
    // Written through a descriptor kept by the writer, then closed: IN_CLOSE_WRITE.
    int fd = open(B("a").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, "V", 1, 0), 1);
    close(fd);
  }
  EXPECT_EQ(feed->Take().keys, Keys{"a"});
}

TEST_F(ChangeFeedTest, AttributeChangeIsReported) {
  Write(B("a"), "x");
  auto feed = Open();
  ASSERT_EQ(chmod(B("a").c_str(), 0600), 0);
  EXPECT_EQ(feed->Take().keys, Keys{"a"});
}

TEST_F(ChangeFeedTest, RenameIntoPlaceReportsTheFinalName) {
  Write(B("confirmations/existing"), "x");
  auto feed = Open();
  // How the trader writes: a hidden temporary file, then rename.
  Write(B("confirmations/.t1.json.42.0.tmp"), "{\"trade\":1}");
  fs::rename(B("confirmations/.t1.json.42.0.tmp"), B("confirmations/t1.json"));
  Changes c = feed->Take();
  EXPECT_TRUE(c.keys.count("confirmations/t1.json"));
  EXPECT_TRUE(c.keys.count("confirmations/.t1.json.42.0.tmp")) << "the temporary name went away";
  EXPECT_FALSE(c.rescan_needed);
}

TEST_F(ChangeFeedTest, RenameFromOutsideTheBucketIsReported) {
  Write(root_ + "/outside", "x");
  auto feed = Open();
  fs::rename(root_ + "/outside", B("moved-in"));
  EXPECT_EQ(feed->Take().keys, Keys{"moved-in"});
}

TEST_F(ChangeFeedTest, DeleteAndRenameAwayAreReported) {
  Write(B("d/gone"), "x");
  Write(B("d/away"), "x");
  auto feed = Open();
  fs::remove(B("d/gone"));
  fs::rename(B("d/away"), root_ + "/away");
  EXPECT_EQ(feed->Take().keys, (Keys{"d/away", "d/gone"}));
}

TEST_F(ChangeFeedTest, NewDirectoryFilesLandedBeforeItsWatchAreReported) {
  auto feed = Open();
  // All of this happens before the feed has seen the IN_CREATE of "new", so no
  // watch exists on "new" or "new/deeper" while these files are written.
  Write(B("new/one"), "1");
  Write(B("new/deeper/two"), "2");
  Changes c = feed->Take();
  EXPECT_EQ(c.keys, (Keys{"new/deeper/two", "new/one"}));
  EXPECT_FALSE(c.rescan_needed);
  // And the new directories are watched from now on.
  Write(B("new/deeper/three"), "3");
  EXPECT_EQ(feed->Take().keys, Keys{"new/deeper/three"});
}

TEST_F(ChangeFeedTest, DirectoryMovedInIsWatchedAndItsFilesReported) {
  Write(root_ + "/staging/a", "a");
  Write(root_ + "/staging/sub/b", "b");
  auto feed = Open();
  fs::rename(root_ + "/staging", B("batch"));
  EXPECT_EQ(feed->Take().keys, (Keys{"batch/a", "batch/sub/b"}));
  Write(B("batch/sub/c"), "c");
  EXPECT_EQ(feed->Take().keys, Keys{"batch/sub/c"});
}

TEST_F(ChangeFeedTest, DirectoryDeletedOrMovedAwayIsReportedAsASubtree) {
  Write(B("del/x"), "x");
  Write(B("mv/sub/y"), "y");
  auto feed = Open();
  fs::remove_all(B("del"));
  fs::rename(B("mv"), root_ + "/elsewhere");
  Changes c = feed->Take();
  EXPECT_EQ(c.subtrees, (Keys{"del", "mv"}));
  EXPECT_FALSE(c.rescan_needed);
  // The moved directory is no longer the bucket's: its changes are not reported
  // (under its old name, which would be wrong).
  Write(root_ + "/elsewhere/sub/z", "z");
  EXPECT_TRUE(feed->Take().empty());
}

TEST_F(ChangeFeedTest, InternalDirectoryIsIgnored) {
  Write(B(".pilotlight/meta/old"), "x");
  auto feed = Open();
  EXPECT_EQ(feed->watch_count(), 1u) << "only the root; .pilotlight is not watched";
  Write(B(".pilotlight/meta/new"), "x");
  Write(B(".pilotlight/tmp/1.obj"), "x");
  fs::remove_all(B(".pilotlight"));
  Write(B(".pilotlight/meta/again"), "x");
  EXPECT_TRUE(feed->Take().empty());
  // A nested directory of that name is an ordinary one.
  Write(B("sub/.pilotlight"), "object");
  EXPECT_EQ(feed->Take().keys, Keys{"sub/.pilotlight"});
}

TEST_F(ChangeFeedTest, QueueOverflowAsksForARescanAndRebuildsTheWatches) {
  std::ifstream limit("/proc/sys/fs/inotify/max_queued_events");
  int64_t max_queued = 0;
  if (!(limit >> max_queued) || max_queued <= 0 || max_queued > 1'000'000) {
    GTEST_SKIP() << "cannot read fs.inotify.max_queued_events";
  }
  Write(B("a"), "a");
  Write(B("b"), "b");
  auto feed = Open();
  // Alternating attribute changes are never merged: one event each, past the limit.
  for (int64_t i = 0; i <= max_queued; ++i) {
    ASSERT_EQ(chmod(B(i % 2 ? "a" : "b").c_str(), i % 4 < 2 ? 0600 : 0644), 0);
  }
  // Its IN_CREATE is lost in the overflow: only the rebuild can watch it.
  fs::create_directories(B("created-during-overflow"));
  Changes c = feed->Take();
  EXPECT_TRUE(c.rescan_needed);
  EXPECT_NE(c.rescan_reason.find("overflow"), std::string::npos) << c.rescan_reason;

  Write(B("created-during-overflow/x"), "x");
  Changes after = feed->Take();
  EXPECT_FALSE(after.rescan_needed) << after.rescan_reason;
  EXPECT_EQ(after.keys, Keys{"created-during-overflow/x"});
}

TEST_F(ChangeFeedTest, WatchLimitAsksForARescanOnEveryTakeUntilItFits) {
  Write(B("d1/x"), "x");
  Write(B("d2/y"), "y");
  ChangeFeedOptions o;
  o.watch_limit = 2;  // the root and one directory: d1 or d2 goes unwatched
  auto feed = Open(o);
  Changes c = feed->Take();
  EXPECT_TRUE(c.rescan_needed);
  EXPECT_NE(c.rescan_reason.find("watch limit"), std::string::npos) << c.rescan_reason;
  EXPECT_TRUE(feed->degraded());
  EXPECT_FALSE(feed->Wait(std::chrono::milliseconds(0)))
      << "a degraded feed must not wake its caller for rescans back to back";
  for (int i = 0; i < 2 * ChangeFeed::kDegradedRetryTakes; ++i) {
    ASSERT_TRUE(feed->Take().rescan_needed) << "still not every directory is watched";
  }

  fs::remove_all(B("d2"));
  // Sees the delete; within kDegradedRetryTakes it rebuilds, and two directories fit.
  for (int i = 0; i <= ChangeFeed::kDegradedRetryTakes && feed->degraded(); ++i) {
    (void)feed->Take();
  }
  EXPECT_FALSE(feed->degraded());
  Write(B("d1/z"), "z");
  Changes fits = feed->Take();
  EXPECT_FALSE(fits.rescan_needed) << fits.rescan_reason;
  EXPECT_EQ(fits.keys, Keys{"d1/z"});
}

TEST_F(ChangeFeedTest, BucketDirectoryMovedAwayAsksForARescan) {
  auto feed = Open();
  fs::rename(bucket_, root_ + "/moved");
  EXPECT_TRUE(feed->Take().rescan_needed);
}

TEST_F(ChangeFeedTest, DroppedEventsAreNotReported) {
  ChangeFeedOptions o;
  o.drop_event = [](const std::string& key) { return key == "unseen"; };
  auto feed = Open(o);
  Write(B("unseen"), "x");
  Write(B("seen"), "x");
  EXPECT_EQ(feed->Take().keys, Keys{"seen"});
}

TEST_F(ChangeFeedTest, OpenFailsOnAMissingRoot) {
  auto f = ChangeFeed::Open(root_ + "/no-such-bucket");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("no-such-bucket"), std::string::npos);
}

}  // namespace
}  // namespace pilotlight::objects
