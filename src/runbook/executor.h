// The runbook executor: runs a runbook's steps in order, each with a timeout,
// retries and a precondition, writing intent and outcome to the Journal before
// and after every step, and resumes an interrupted run after a restart.
//
// A step is idempotent by contract: its action first reports whether its effect
// already holds (AlreadyDone) and is skipped if so; a step whose intent was
// journaled but whose outcome was not (the controller died mid-step) is tried
// again on resume and finds its own effect. A step that succeeded is never run
// again. Used by one thread (the controller's); actions run on that thread and
// must honour the deadline they are given.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "runbook/journal.h"

namespace pilotlight::runbook {

struct StepSpec {
  std::string name;  // what the operator reads: "promote the DR replica"
  std::string kind;  // scale | fence | promote | dns | replicate | notify | exec | wait_healthy | approve
  std::map<std::string, std::string> params;
  Duration timeout = std::chrono::seconds(60);
  int retries = 2;                                  // attempts = retries + 1
  Duration backoff = std::chrono::milliseconds(500);  // doubles after each failed attempt
};

struct RunbookSpec {
  std::string name;
  std::vector<StepSpec> steps;
};

// What a kind of step does. Implementations adapt compute, data, DNS, notify.
class StepAction {
 public:
  virtual ~StepAction() = default;
  // OK when the step may act now (e.g. "the replica's lag is under the limit").
  virtual Status Precondition(const StepSpec& step) { return Status::OK(); }
  // True when the step's effect already holds: it is then skipped, not repeated.
  virtual Result<bool> AlreadyDone(const StepSpec& step) = 0;
  // Acts; returns by `deadline` (the executor fails a late step as timed out).
  virtual Status Run(const StepSpec& step, MonoTime deadline) = 0;
  // Journaled as the detail of a skipped step (after AlreadyDone said true): how
  // the effect was found to hold. Empty: "already done".
  virtual std::string SkipDetail(const StepSpec& step) { return ""; }
};

struct StepReport {
  int index = 0;
  std::string name;
  StepOutcome outcome = StepOutcome::kPending;
  int attempts = 0;                // attempts made in this process
  bool done_before_resume = false;  // finished by an earlier process; not run again
  WallTime started_at;
  WallTime finished_at;
  std::string detail;
};

struct RunReport {
  int64_t run_id = 0;
  std::string runbook;
  bool succeeded = false;
  bool resumed = false;
  std::vector<StepReport> steps;
  std::string failure;  // the failed step's words, when !succeeded
};

// Step start and end, for notifications and the drill's timeline.
struct StepEvent {
  enum class Kind { kStarted, kFinished };
  Kind kind;
  int64_t run_id;
  const StepReport* step;
};

class Executor {
 public:
  using ActionLookup = std::function<StepAction*(const std::string& kind)>;
  using Observer = std::function<void(const StepEvent&)>;

  Executor(Journal& journal, Clock& clock, ActionLookup actions, Observer observer = nullptr);

  // Starts a new run of `runbook`; `reason` is journaled with it.
  Result<RunReport> Run(const RunbookSpec& runbook, const std::string& reason);

  // Resumes the journal's unfinished run, if any. `find` maps a runbook name to
  // its spec; a runbook whose steps changed since the run began is an error.
  Result<std::optional<RunReport>> ResumeUnfinished(
      const std::function<const RunbookSpec*(const std::string&)>& find);

 private:
  Result<RunReport> Execute(const RunbookSpec& runbook, const RunRecord& record, bool resumed);
  // Runs one step's attempts; returns its report (outcome kFailed on failure).
  Result<StepReport> RunStep(int64_t run, int index, const StepSpec& step, int first_attempt);

  Journal& journal_;
  Clock& clock_;
  ActionLookup actions_;
  Observer observer_;
};

}  // namespace pilotlight::runbook
