#include "runbook/executor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "testing/scratch_dir.h"
#include "testing/wait.h"

namespace pilotlight::runbook {
namespace {

using pilotlight::testing::ScratchDir;
using pilotlight::testing::WaitFor;

using namespace std::chrono_literals;

// A step kind whose behaviour a test scripts: fail N times, take some (fake)
// time, report "already done" once its effect exists.
class ScriptedAction : public StepAction {
 public:
  explicit ScriptedAction(FakeClock* clock) : clock_(clock) {}
  Status Precondition(const StepSpec& step) override {
    return precondition_ok ? Status::OK() : Status::FailedPrecondition("replica lag 12 s > 10 s");
  }
  Result<bool> AlreadyDone(const StepSpec& step) override { return effects.count(step.name) > 0; }
  Status Run(const StepSpec& step, MonoTime deadline) override {
    ++runs[step.name];
    if (clock_) clock_->Advance(takes);
    if (failures_left[step.name] > 0) {
      --failures_left[step.name];
      return Status::Unavailable("server said no");
    }
    effects.insert(step.name);
    return Status::OK();
  }

  FakeClock* clock_;
  bool precondition_ok = true;
  Duration takes = 100ms;
  std::map<std::string, int> failures_left;
  std::map<std::string, int> runs;
  std::set<std::string> effects;
};

RunbookSpec Failover() {
  RunbookSpec r;
  r.name = "failover";
  r.steps = {{"scale up DR", "scale", {{"group", "trader"}, {"size", "3"}}, 30s, 2, 500ms},
             {"fence old primary", "fence", {}, 10s, 2, 500ms},
             {"promote replica", "promote", {}, 30s, 2, 500ms},
             {"switch DNS", "dns", {{"record", "api"}, {"to", "secondary"}}, 10s, 2, 500ms},
             {"notify", "notify", {{"topic", "ops"}}, 10s, 2, 500ms}};
  return r;
}

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
    auto j = Journal::Open(dir_ + "/journal.db");
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    journal_ = std::move(*j);
  }

  Executor MakeExecutor(std::vector<std::string>* events = nullptr) {
    return Executor(
        *journal_, clock_, [this](const std::string&) -> StepAction* { return &action_; },
        [events](const StepEvent& e) {
          if (events) {
            events->push_back((e.kind == StepEvent::Kind::kStarted ? "start " : "end ") +
                              e.step->name);
          }
        });
  }

  ScratchDir scratch_{"executor-test"};
  std::string dir_;
  FakeClock clock_;
  ScriptedAction action_{&clock_};
  std::unique_ptr<Journal> journal_;
};

TEST_F(ExecutorTest, RunsEveryStepInOrderAndJournalsIt) {
  std::vector<std::string> events;
  Executor ex = MakeExecutor(&events);
  auto report = ex.Run(Failover(), "primary unhealthy from 3 of 3");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->succeeded) << report->failure;
  ASSERT_EQ(report->steps.size(), 5u);
  for (const StepReport& s : report->steps) {
    EXPECT_EQ(s.outcome, StepOutcome::kSucceeded) << s.name;
    EXPECT_EQ(s.finished_at - s.started_at, 100ms) << s.name;
  }
  EXPECT_EQ(events.front(), "start scale up DR");
  EXPECT_EQ(events.back(), "end notify");
  auto run = journal_->LoadRun(report->run_id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->outcome, "succeeded");
  EXPECT_EQ(run->reason, "primary unhealthy from 3 of 3");
  EXPECT_EQ(run->steps.size(), 5u);
}

TEST_F(ExecutorTest, RetriesWithGrowingBackoffThenSucceeds) {
  action_.failures_left["promote replica"] = 2;
  Executor ex = MakeExecutor();
  const WallTime start = clock_.Now();
  auto report = ex.Run(Failover(), "x");
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->succeeded);
  EXPECT_EQ(report->steps[2].attempts, 3);
  EXPECT_EQ(action_.runs["promote replica"], 3);
  // 7 runs of 100 ms, plus backoffs of 500 ms and 1 s.
  EXPECT_EQ(clock_.Now() - start, 7 * 100ms + 500ms + 1s);
  auto run = journal_->LoadRun(report->run_id);
  int promote_rows = 0;
  for (const StepRecord& s : run->steps) promote_rows += s.name == "promote replica";
  EXPECT_EQ(promote_rows, 3);
}

TEST_F(ExecutorTest, ExhaustedRetriesStopTheRunbook) {
  action_.failures_left["fence old primary"] = 10;
  Executor ex = MakeExecutor();
  auto report = ex.Run(Failover(), "x");
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->succeeded);
  EXPECT_EQ(report->steps.size(), 2u);  // promote never ran: never promote unfenced
  EXPECT_EQ(action_.runs.count("promote replica"), 0u);
  EXPECT_NE(report->failure.find("'fence old primary' failed after 3 attempt(s): server said no"),
            std::string::npos)
      << report->failure;
  EXPECT_EQ(journal_->LoadRun(report->run_id)->outcome, "failed");
}

TEST_F(ExecutorTest, FailedPreconditionDoesNotAct) {
  action_.precondition_ok = false;
  Executor ex = MakeExecutor();
  auto report = ex.Run(Failover(), "x");
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->succeeded);
  EXPECT_TRUE(action_.runs.empty());
  EXPECT_NE(report->failure.find("precondition: replica lag 12 s > 10 s"), std::string::npos);
}

TEST_F(ExecutorTest, StepWhoseEffectHoldsIsSkipped) {
  action_.effects.insert("scale up DR");
  Executor ex = MakeExecutor();
  auto report = ex.Run(Failover(), "x");
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->steps[0].outcome, StepOutcome::kSkipped);
  EXPECT_EQ(report->steps[0].detail, "already done");
  EXPECT_EQ(action_.runs.count("scale up DR"), 0u);
}

TEST_F(ExecutorTest, LateStepIsATimeout) {
  action_.takes = 45s;  // over the 30 s limit of the first step
  RunbookSpec once = Failover();
  once.steps[0].retries = 0;
  Executor ex = MakeExecutor();
  auto report = ex.Run(once, "x");
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->succeeded);
  EXPECT_NE(report->steps[0].detail.find("timed out: took 45s, limit 30s"), std::string::npos)
      << report->steps[0].detail;
}

TEST_F(ExecutorTest, LateStepWhoseEffectLandedIsSkippedOnRetry) {
  action_.takes = 45s;
  Executor ex = MakeExecutor();
  auto report = ex.Run(Failover(), "x");
  ASSERT_TRUE(report.ok());
  // The late attempt is journaled as a timeout; the retry finds its effect.
  auto run = journal_->LoadRun(report->run_id);
  EXPECT_EQ(run->steps[0].outcome, StepOutcome::kFailed);
  EXPECT_EQ(run->steps[1].outcome, StepOutcome::kSkipped);
  EXPECT_EQ(action_.runs["scale up DR"], 1);
}

TEST_F(ExecutorTest, UnknownStepKindIsRejectedBeforeAnythingRuns) {
  Executor ex(*journal_, clock_, [](const std::string&) -> StepAction* { return nullptr; });
  auto report = ex.Run(Failover(), "x");
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("kind 'scale'"), std::string::npos);
  auto unfinished = journal_->UnfinishedRun();
  EXPECT_FALSE(unfinished->has_value());
}

TEST_F(ExecutorTest, ResumeAfterCrashMidStepRunsOnlyWhatRemains) {
  // What a controller killed during "promote replica" leaves behind.
  auto run = journal_->BeginRun("failover", "outage", clock_.Now());
  ASSERT_TRUE(run.ok());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(journal_->RecordIntent(*run, i, Failover().steps[i].name, 1, clock_.Now()).ok());
    ASSERT_TRUE(journal_->RecordOutcome(*run, i, 1, StepOutcome::kSucceeded, "", clock_.Now()).ok());
  }
  ASSERT_TRUE(journal_->RecordIntent(*run, 2, "promote replica", 1, clock_.Now()).ok());

  RunbookSpec failover = Failover();
  Executor ex = MakeExecutor();
  auto resumed = ex.ResumeUnfinished(
      [&](const std::string& name) { return name == "failover" ? &failover : nullptr; });
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  ASSERT_TRUE(resumed->has_value());
  const RunReport& r = **resumed;
  EXPECT_TRUE(r.resumed);
  EXPECT_TRUE(r.succeeded);
  EXPECT_EQ(r.run_id, *run);
  EXPECT_TRUE(r.steps[0].done_before_resume);
  EXPECT_TRUE(r.steps[1].done_before_resume);
  EXPECT_EQ(action_.runs.count("scale up DR"), 0u);
  EXPECT_EQ(action_.runs.count("fence old primary"), 0u);
  EXPECT_EQ(action_.runs["promote replica"], 1);
  EXPECT_EQ(action_.runs["switch DNS"], 1);
  // The retried step continues the attempt numbering.
  auto record = journal_->LoadRun(*run);
  int max_attempt = 0;
  for (const StepRecord& s : record->steps) {
    if (s.index == 2) max_attempt = std::max(max_attempt, s.attempt);
  }
  EXPECT_EQ(max_attempt, 2);
  // Nothing left to resume.
  auto again = ex.ResumeUnfinished([&](const std::string&) { return &failover; });
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

TEST_F(ExecutorTest, ResumeRefusesAChangedRunbook) {
  auto run = journal_->BeginRun("failover", "outage", clock_.Now());
  ASSERT_TRUE(journal_->RecordIntent(*run, 0, "scale up DR", 1, clock_.Now()).ok());
  RunbookSpec changed = Failover();
  changed.steps[0].name = "scale up DR to 10";
  Executor ex = MakeExecutor();
  auto r = ex.ResumeUnfinished([&](const std::string&) { return &changed; });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("changed since run"), std::string::npos);
  auto missing = ex.ResumeUnfinished([&](const std::string&) { return nullptr; });
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no longer has that runbook"), std::string::npos);
}

// A step whose effect is a line appended to a file: it lets a killed process
// and its successor be checked for "exactly once".
class FileEffectAction : public StepAction {
 public:
  FileEffectAction(std::string dir, std::string block_on) : dir_(dir), block_on_(block_on) {}
  Result<bool> AlreadyDone(const StepSpec& step) override {
    return std::filesystem::exists(dir_ + "/done-" + step.name);
  }
  Status Run(const StepSpec& step, MonoTime deadline) override {
    std::ofstream(dir_ + "/effects", std::ios::app) << step.name << "\n";
    if (step.name == block_on_) {
      std::ofstream(dir_ + "/blocked");  // tell the parent we are mid-step
      for (;;) pause();                  // until SIGKILL
    }
    std::ofstream(dir_ + "/done-" + step.name);
    return Status::OK();
  }

 private:
  std::string dir_;
  std::string block_on_;
};

TEST_F(ExecutorTest, SigkillMidStepThenResumeReachesTheSameEndOnce) {
  RunbookSpec failover = Failover();
  for (StepSpec& s : failover.steps) s.kind = "file";
  const std::string journal_path = dir_ + "/crash.db";
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto j = Journal::Open(journal_path);
    if (!j.ok()) _exit(2);
    FileEffectAction action(dir_, "promote replica");
    Executor ex(**j, SystemClock::Instance(), [&](const std::string&) { return &action; });
    (void)ex.Run(failover, "outage");
    _exit(3);  // never reached: the parent kills us mid-promote
  }
  ASSERT_TRUE(WaitFor(10s, [&] { return std::filesystem::exists(dir_ + "/blocked"); }))
      << "the child never reached the promote step";
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto j = Journal::Open(journal_path);
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  FileEffectAction action(dir_, "");
  Executor ex(**j, SystemClock::Instance(), [&](const std::string&) { return &action; });
  auto resumed = ex.ResumeUnfinished([&](const std::string&) { return &failover; });
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  ASSERT_TRUE(resumed->has_value());
  EXPECT_TRUE((*resumed)->succeeded);

  std::ifstream in(dir_ + "/effects");
  std::map<std::string, int> count;
  for (std::string line; std::getline(in, line);) ++count[line];
  EXPECT_EQ(count["scale up DR"], 1);
  EXPECT_EQ(count["fence old primary"], 1);
  EXPECT_EQ(count["promote replica"], 2);  // interrupted once, then completed
  EXPECT_EQ(count["switch DNS"], 1);
  EXPECT_EQ(count["notify"], 1);
  for (const StepSpec& s : failover.steps) {
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/done-" + s.name)) << s.name;
  }
}

}  // namespace
}  // namespace pilotlight::runbook
