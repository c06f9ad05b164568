// `pilotlight replication run-objects` with a pass interval of an hour: only the
// change feed can start a pass after the first, so every object below that
// reaches the DR bucket (created, renamed into place, in a new directory, changed
// in place, deleted) got there because inotify reported it.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "core/clock.h"
#include "data/objects/replicator.h"
#include "sys/process.h"
#include "test_util.h"
#include "testing/scratch_dir.h"

namespace pilotlight {
namespace {

using pilotlight::testing::ScratchDir;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::WaitFor;

void Write(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

class ObjectsWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = scratch_.path();
    source_ = root_ + "/primary";
    dest_ = root_ + "/dr";
    state_ = root_ + "/state";
    fs::create_directories(source_);
  }
  void TearDown() override {
    if (replicator_ > 0) {
      sys::SignalGroup(replicator_, SIGKILL);
      sys::WaitGroupGone(replicator_, 10s);
    }
  }
  std::string Log() { return testing::ReadAll(root_ + "/replicator.log"); }
  std::string Src(const std::string& key) { return source_ + "/" + key; }
  std::string Dst(const std::string& key) { return dest_ + "/" + key; }
  bool Replicated(const std::string& key, const std::string& content) {
    return WaitFor(15s, [&] { return testing::ReadAll(Dst(key)) == content; });
  }
  bool Gone(const std::string& key) {
    return WaitFor(15s, [&] { return !fs::exists(Dst(key)); });
  }

  ScratchDir scratch_{"objwatch"};
  std::string root_, source_, dest_, state_;
  pid_t replicator_ = -1;
};

TEST_F(ObjectsWatchTest, ChangesReachTheDrBucketWithoutWaitingForTheInterval) {
  for (int i = 0; i < 1000; ++i) {
    Write(Src("confirmations/" + std::to_string(i) + ".json"),
          "{\"trade\":" + std::to_string(i) + "}");
  }
  Result<pid_t> pid =
      sys::SpawnDaemon({{PILOTLIGHT_BIN, "replication", "run-objects", "--source", source_,
                         "--dest", dest_, "--state", state_, "--interval", "1h"},
                        root_ + "/replicator.log",
                        std::nullopt});
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  replicator_ = *pid;
  // The first pass (a full scan) copies what was there.
  ASSERT_TRUE(Replicated("confirmations/999.json", "{\"trade\":999}")) << Log();

  // As the trader writes: a temporary file, then rename.
  Write(Src("confirmations/.1000.json.7.0.tmp"), "{\"trade\":1000}");
  fs::rename(Src("confirmations/.1000.json.7.0.tmp"), Src("confirmations/1000.json"));
  EXPECT_TRUE(Replicated("confirmations/1000.json", "{\"trade\":1000}")) << Log();

  Write(Src("2026/11/26/eod.csv"), "a new directory tree");
  EXPECT_TRUE(Replicated("2026/11/26/eod.csv", "a new directory tree")) << Log();

  Write(Src("confirmations/5.json"), "{\"trade\":5,\"amended\":true}");
  EXPECT_TRUE(Replicated("confirmations/5.json", "{\"trade\":5,\"amended\":true}")) << Log();

  fs::remove(Src("confirmations/6.json"));
  EXPECT_TRUE(Gone("confirmations/6.json")) << Log();
  fs::remove_all(Src("2026"));
  EXPECT_TRUE(Gone("2026/11/26/eod.csv")) << Log();

  // Nothing left behind, as another process (the RPO reader) sees it. The
  // checkpoint records a deletion just after the DR copy is gone (CI once read
  // it in between), so wait for it.
  Result<objects::Backlog> b = Status::Internal("not read");
  EXPECT_TRUE(WaitFor(15s,
                      [&] {
                        b = objects::ReadBacklog(source_, state_, SystemClock::Instance().Now());
                        return b.ok() && b->objects == 0 && b->deletes == 0;
                      }))
      << (b.ok()
              ? "objects " + std::to_string(b->objects) + ", deletes " + std::to_string(b->deletes)
              : b.status().ToString());

  sys::SignalGroup(replicator_, SIGTERM);
  EXPECT_TRUE(sys::WaitGroupGone(replicator_, 10s)) << "the replicator did not stop on SIGTERM";
  replicator_ = -1;
}

}  // namespace
}  // namespace pilotlight
