#include "runbook/journal.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "testing/scratch_dir.h"

namespace pilotlight::runbook {
namespace {

using pilotlight::testing::ScratchDir;

using namespace std::chrono_literals;

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
    path_ = dir_ + "/journal.db";
  }

  // Writes a journal with one finished and one unfinished run, then closes it.
  void WriteSomeRuns() {
    auto j = Journal::Open(path_);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    auto first = (*j)->BeginRun("failover", "drill 1", t0_);
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE((*j)->RecordIntent(*first, 0, "scale up", 1, t0_).ok());
    ASSERT_TRUE((*j)->RecordOutcome(*first, 0, 1, StepOutcome::kSucceeded, "", t0_ + 1s).ok());
    ASSERT_TRUE((*j)->FinishRun(*first, true, t0_ + 1s).ok());
    for (int i = 0; i < 200; ++i) {  // enough rows to span several pages
      auto r = (*j)->BeginRun("failover", std::string(200, 'x'), t0_ + 2s);
      ASSERT_TRUE(r.ok());
      ASSERT_TRUE((*j)->FinishRun(*r, false, t0_ + 2s).ok());
    }
    auto second = (*j)->BeginRun("failover", "drill 2", t0_ + 10s);
    ASSERT_TRUE(second.ok());
    ASSERT_TRUE((*j)->RecordIntent(*second, 0, "scale up", 1, t0_ + 10s).ok());
    ASSERT_TRUE((*j)->RecordOutcome(*second, 0, 1, StepOutcome::kFailed, "no capacity", t0_ + 11s).ok());
    ASSERT_TRUE((*j)->RecordIntent(*second, 0, "scale up", 2, t0_ + 12s).ok());
    ASSERT_TRUE((*j)->RecordOutcome(*second, 0, 2, StepOutcome::kSucceeded, "", t0_ + 13s).ok());
    ASSERT_TRUE((*j)->RecordIntent(*second, 1, "promote", 1, t0_ + 14s).ok());
  }

  ScratchDir scratch_{"journal-test"};
  std::string dir_;
  std::string path_;
  WallTime t0_ = WallTime(std::chrono::seconds(1'800'000'000));
};

TEST_F(JournalTest, UnfinishedRunSurvivesReopenWithEveryAttempt) {
  WriteSomeRuns();
  auto j = Journal::Open(path_);
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  auto run = (*j)->UnfinishedRun();
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->has_value());
  const RunRecord& r = **run;
  EXPECT_EQ(r.reason, "drill 2");
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_EQ(r.steps[0].outcome, StepOutcome::kFailed);
  EXPECT_EQ(r.steps[0].detail, "no capacity");
  EXPECT_EQ(r.LastOutcome(0), StepOutcome::kSucceeded);
  EXPECT_EQ(r.LastOutcome(1), StepOutcome::kPending);  // intent only: died mid-step
  EXPECT_FALSE(r.steps[2].finished_at.has_value());
  EXPECT_EQ(r.steps[2].intent_at, t0_ + 14s);
}

TEST_F(JournalTest, NoUnfinishedRunWhenAllFinished) {
  auto j = Journal::Open(path_);
  ASSERT_TRUE(j.ok());
  auto r = (*j)->BeginRun("failover", "x", t0_);
  ASSERT_TRUE((*j)->FinishRun(*r, true, t0_).ok());
  auto run = (*j)->UnfinishedRun();
  ASSERT_TRUE(run.ok());
  EXPECT_FALSE(run->has_value());
  auto recent = (*j)->RecentRuns(5);
  ASSERT_TRUE(recent.ok());
  ASSERT_EQ(recent->size(), 1u);
  EXPECT_EQ((*recent)[0].outcome, "succeeded");
}

TEST_F(JournalTest, OutcomeWithoutIntentIsRefused) {
  auto j = Journal::Open(path_);
  ASSERT_TRUE(j.ok());
  auto r = (*j)->BeginRun("failover", "x", t0_);
  Status st = (*j)->RecordOutcome(*r, 3, 1, StepOutcome::kSucceeded, "", t0_);
  EXPECT_EQ(st.code(), Status::Code::kInternal);
}

// LevelDB-style damage: the journal must refuse a damaged file with a clear
// error naming it, never crash and never silently start from nothing.
TEST_F(JournalTest, TruncatedFileIsCorruption) {
  WriteSomeRuns();
  std::filesystem::remove(path_ + "-wal");
  std::filesystem::remove(path_ + "-shm");
  const auto size = std::filesystem::file_size(path_);
  std::filesystem::resize_file(path_, size / 2 + 1);
  auto j = Journal::Open(path_);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Status::Code::kCorruption) << j.status().ToString();
  EXPECT_NE(j.status().message().find(path_), std::string::npos);
}

TEST_F(JournalTest, ScribbledPagesAreCorruption) {
  WriteSomeRuns();
  {  // checkpoint the WAL into the main file so the damage hits real data
    auto j = Journal::Open(path_);
    ASSERT_TRUE(j.ok());
  }
  std::filesystem::remove(path_ + "-wal");
  std::filesystem::remove(path_ + "-shm");
  std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
  for (std::streamoff off = 4096 + 8; off < 4096 * 4; off += 64) {  // page headers and cells
    f.seekp(off);
    f.write("\xff\xff\xff\xff\xff\xff\xff\xff", 8);
  }
  f.close();
  auto j = Journal::Open(path_);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Status::Code::kCorruption) << j.status().ToString();
}

TEST_F(JournalTest, NotAJournalIsAClearError) {
  std::ofstream(path_) << std::string(8192, 'g');
  auto j = Journal::Open(path_);
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find(path_), std::string::npos) << j.status().ToString();
}

TEST_F(JournalTest, UnwritableDirectoryIsIOError) {
  auto j = Journal::Open("/nonexistent/dir/journal.db");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Status::Code::kIOError);
}

}  // namespace
}  // namespace pilotlight::runbook

namespace pilotlight::runbook {
namespace {

// Two controllers starting together open a journal that does not exist yet:
// every opener must get it (switching a new file to WAL races for a lock
// between processes). Openers are processes released at one instant.
TEST(JournalOpenTest, ConcurrentOpenersOfANewJournalAllSucceed) {
  for (int round = 0; round < 10; ++round) {
    ScratchDir scratch("journal-race");
    const std::string dir = scratch.path();
    const std::string path = dir + "/journal.db";
    const auto start = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    std::vector<pid_t> openers;
    for (int i = 0; i < 6; ++i) {
      const pid_t pid = fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        while (std::chrono::steady_clock::now() < start) {
        }
        Result<std::unique_ptr<Journal>> j = Journal::Open(path);
        if (!j.ok()) fprintf(stderr, "%s\n", j.status().ToString().c_str());
        _exit(j.ok() ? 0 : 1);
      }
      openers.push_back(pid);
    }
    int failed = 0;
    for (pid_t pid : openers) {
      int st = 0;
      waitpid(pid, &st, 0);
      failed += WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
    }
    EXPECT_EQ(failed, 0) << "round " << round;
  }
}

}  // namespace
}  // namespace pilotlight::runbook
