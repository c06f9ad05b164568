#include "controller/state.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "testing/scratch_dir.h"

namespace pilotlight::controller {
namespace {

using pilotlight::testing::ScratchDir;

using namespace std::chrono_literals;
using Phase = decide::ControllerState::Phase;

const WallTime kT = WallTime(std::chrono::seconds(1'800'000'000));

runbook::RunRecord Run(int64_t id, const std::string& runbook, const std::string& outcome,
                       WallTime started) {
  runbook::RunRecord r;
  r.id = id;
  r.runbook = runbook;
  r.outcome = outcome;
  r.started_at = started;
  if (!outcome.empty()) r.finished_at = started + 30s;
  return r;
}

struct Row {
  const char* name;
  std::vector<runbook::RunRecord> newest_first;
  Phase phase;
  std::optional<WallTime> last_failover_at;
  const char* summary;
  std::optional<WallTime> last_failback_at = std::nullopt;
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

class StateTable : public ::testing::TestWithParam<Row> {};

TEST_P(StateTable, Row) {
  DurableState s = StateFromRuns(GetParam().newest_first, "failover");
  EXPECT_EQ(decide::PhaseName(s.state.phase), std::string(decide::PhaseName(GetParam().phase)));
  EXPECT_EQ(s.state.last_failover_at, GetParam().last_failover_at);
  EXPECT_EQ(s.state.last_failback_at, GetParam().last_failback_at);
  EXPECT_NE(s.summary.find(GetParam().summary), std::string::npos) << s.summary;
}

INSTANTIATE_TEST_SUITE_P(
    Table, StateTable,
    ::testing::Values(
        Row{"empty journal", {}, Phase::kNormal, std::nullopt, "no failover in the journal"},
        Row{"unfinished failover: failing over",
            {Run(3, "failover", "", kT)}, Phase::kFailingOver, std::nullopt,
            "run 3 began"},
        Row{"succeeded failover: failed over at its finish",
            {Run(3, "failover", "succeeded", kT)}, Phase::kFailedOver, kT + 30s,
            "failed over by run 3"},
        Row{"failed failover: normal, retried later",
            {Run(4, "failover", "failed", kT)}, Phase::kNormal, std::nullopt,
            "the last failover run 4 failed"},
        Row{"other runbooks do not count",
            {Run(5, "manual-scale", "", kT), Run(4, "failover", "succeeded", kT - 1h)},
            Phase::kFailedOver, kT - 1h + 30s, "failed over by run 4"},
        Row{"a failback after the failover: normal, hold-down still counts",
            {Run(6, "failback", "succeeded", kT), Run(4, "failover", "succeeded", kT - 1h)},
            Phase::kNormal, kT - 1h + 30s, "failed back by run 6", kT + 30s},
        Row{"a failed failback does not start a hold-down",
            {Run(6, "failback", "failed", kT), Run(4, "failover", "succeeded", kT - 1h)},
            Phase::kFailedOver, kT - 1h + 30s, "failed over by run 4"},
        Row{"the newest succeeded failback counts, not an older one",
            {Run(9, "failback", "succeeded", kT), Run(8, "failover", "succeeded", kT - 1h),
             Run(6, "failback", "succeeded", kT - 2h), Run(4, "failover", "succeeded", kT - 3h)},
            Phase::kNormal, kT - 1h + 30s, "failed back by run 9", kT + 30s},
        Row{"a failed retry after an old success is not 'failed over'",
            {Run(7, "failover", "failed", kT), Run(4, "failover", "succeeded", kT - 1h)},
            Phase::kNormal, kT - 1h + 30s, "run 7 failed"},
        Row{"an unfinished retry after an old success resumes",
            {Run(8, "failover", "", kT), Run(4, "failover", "succeeded", kT - 1h)},
            Phase::kFailingOver, kT - 1h + 30s, "run 8 began"}));

// Only a succeeded failback newer than every failover re-arms the write lease.
TEST(StateFromRuns, FailedBackOnlyWhenTheNewestDecidingRunIsASucceededFailback) {
  const auto R = &pilotlight::controller::Run;
  struct Case {
    const char* name;
    std::vector<runbook::RunRecord> runs;
    bool failed_back;
    Phase phase;
  };
  const Case cases[] = {
      {"succeeded failback", {R(6, "failback", "succeeded", kT),
                              R(4, "failover", "succeeded", kT - 1h)}, true, Phase::kNormal},
      {"failed failback: still failed over", {R(6, "failback", "failed", kT),
                                              R(4, "failover", "succeeded", kT - 1h)},
       false, Phase::kFailedOver},
      {"unfinished failback: still failed over", {R(6, "failback", "", kT),
                                                  R(4, "failover", "succeeded", kT - 1h)},
       false, Phase::kFailedOver},
      {"a failover after the failback", {R(8, "failover", "succeeded", kT),
                                         R(6, "failback", "succeeded", kT - 1h),
                                         R(4, "failover", "succeeded", kT - 2h)},
       false, Phase::kFailedOver},
      {"a failed failover after the failback: not re-armed",
       {R(8, "failover", "failed", kT), R(6, "failback", "succeeded", kT - 1h)}, false,
       Phase::kNormal},
      {"no failover at all", {}, false, Phase::kNormal},
  };
  for (const Case& c : cases) {
    DurableState s = StateFromRuns(c.runs, "failover", "failback");
    EXPECT_EQ(s.failed_back, c.failed_back) << c.name;
    EXPECT_EQ(s.state.phase, c.phase) << c.name;
    if (!c.runs.empty() && c.runs[0].runbook == "failback") {
      ASSERT_TRUE(s.last_failback.has_value()) << c.name;
      EXPECT_EQ(s.last_failback->id, c.runs[0].id) << c.name;
    }
  }
}

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
  }
  ScratchDir scratch_{"state-test"};
  std::string dir_;
};

TEST_F(FilesTest, RequestsArePostedAndCleared) {
  EXPECT_FALSE(RequestPending(dir_ + "/requests", Request::kApprove));
  ASSERT_TRUE(PostRequest(dir_ + "/requests", Request::kApprove, "by alice", kT).ok());
  EXPECT_TRUE(RequestPending(dir_ + "/requests", Request::kApprove));
  ClearRequest(dir_ + "/requests", Request::kApprove);
  EXPECT_FALSE(RequestPending(dir_ + "/requests", Request::kApprove));
}

TEST_F(FilesTest, RunbookLockIsExclusiveAcrossProcessesAndFreedOnDeath) {
  const std::string path = dir_ + "/runbook.lock";
  int ready[2], release[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(release), 0);
  pid_t child = fork();
  if (child == 0) {
    auto lock = RunbookLock::TryAcquire(path, "the child");
    char c = lock.ok() ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    (void)!read(release[0], &c, 1);
    _exit(0);  // dies holding the lock
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  auto mine = RunbookLock::TryAcquire(path, "the test");
  ASSERT_FALSE(mine.ok());
  EXPECT_NE(mine.status().message().find("the child (pid " + std::to_string(child) + ")"),
            std::string::npos)
      << mine.status().message();
  (void)!write(release[1], "x", 1);
  int st;
  waitpid(child, &st, 0);
  auto after = RunbookLock::TryAcquire(path, "the test");
  EXPECT_TRUE(after.ok()) << after.status().ToString();
}

}  // namespace
}  // namespace pilotlight::controller
