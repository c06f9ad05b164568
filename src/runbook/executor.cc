#include "runbook/executor.h"

#include "core/duration.h"

namespace pilotlight::runbook {

Executor::Executor(Journal& journal, Clock& clock, ActionLookup actions, Observer observer)
    : journal_(journal), clock_(clock), actions_(std::move(actions)),
      observer_(std::move(observer)) {}

Result<RunReport> Executor::Run(const RunbookSpec& runbook, const std::string& reason) {
  for (const StepSpec& step : runbook.steps) {
    if (actions_(step.kind) == nullptr) {
      return Status::InvalidArgument("runbook '" + runbook.name + "' step '" + step.name +
                                     "' has kind '" + step.kind +
                                     "', which this controller cannot run");
    }
  }
  Result<int64_t> run = journal_.BeginRun(runbook.name, reason, clock_.Now());
  if (!run.ok()) return run.status();
  Result<RunRecord> record = journal_.LoadRun(*run);
  if (!record.ok()) return record.status();
  return Execute(runbook, *record, /*resumed=*/false);
}

Result<std::optional<RunReport>> Executor::ResumeUnfinished(
    const std::function<const RunbookSpec*(const std::string&)>& find) {
  Result<std::optional<RunRecord>> unfinished = journal_.UnfinishedRun();
  if (!unfinished.ok()) return unfinished.status();
  if (!unfinished->has_value()) return std::optional<RunReport>();
  const RunRecord& record = **unfinished;
  const RunbookSpec* runbook = find(record.runbook);
  if (runbook == nullptr) {
    return Status::FailedPrecondition(
        "run " + std::to_string(record.id) + " of runbook '" + record.runbook +
        "' is unfinished but the config no longer has that runbook; finish it by hand, then "
        "mark it with `pilotlight history`");
  }
  for (const StepRecord& s : record.steps) {
    if (s.index >= static_cast<int>(runbook->steps.size()) ||
        runbook->steps[s.index].name != s.name) {
      return Status::FailedPrecondition(
          "runbook '" + record.runbook + "' changed since run " + std::to_string(record.id) +
          " began (step " + std::to_string(s.index) + " was '" + s.name +
          "'); resuming it could repeat or skip actions: finish it by hand");
    }
  }
  Result<RunReport> report = Execute(*runbook, record, /*resumed=*/true);
  if (!report.ok()) return report.status();
  return std::optional<RunReport>(std::move(*report));
}

Result<RunReport> Executor::Execute(const RunbookSpec& runbook, const RunRecord& record,
                                    bool resumed) {
  RunReport report;
  report.run_id = record.id;
  report.runbook = runbook.name;
  report.resumed = resumed;
  for (int i = 0; i < static_cast<int>(runbook.steps.size()); ++i) {
    const StepSpec& step = runbook.steps[i];
    const StepOutcome before = record.LastOutcome(i);
    if (before == StepOutcome::kSucceeded || before == StepOutcome::kSkipped) {
      StepReport done;
      done.index = i;
      done.name = step.name;
      done.outcome = before;
      done.done_before_resume = true;
      for (const StepRecord& s : record.steps) {
        if (s.index != i) continue;
        done.started_at = s.intent_at;
        done.finished_at = s.finished_at.value_or(s.intent_at);
        done.detail = s.detail;
      }
      report.steps.push_back(std::move(done));
      continue;
    }
    int first_attempt = 1;
    for (const StepRecord& s : record.steps) {
      if (s.index == i) first_attempt = std::max(first_attempt, s.attempt + 1);
    }
    Result<StepReport> sr = RunStep(record.id, i, step, first_attempt);
    if (!sr.ok()) return sr.status();  // the journal itself failed: stop, state is on disk
    report.steps.push_back(*sr);
    if (sr->outcome == StepOutcome::kFailed) {
      report.failure = "step " + std::to_string(i + 1) + " '" + step.name + "' failed after " +
                       std::to_string(sr->attempts) + " attempt(s): " + sr->detail;
      PL_RETURN_IF_ERROR(journal_.FinishRun(record.id, false, clock_.Now()));
      return report;
    }
  }
  PL_RETURN_IF_ERROR(journal_.FinishRun(record.id, true, clock_.Now()));
  report.succeeded = true;
  return report;
}

Result<StepReport> Executor::RunStep(int64_t run, int index, const StepSpec& step,
                                     int first_attempt) {
  StepAction* action = actions_(step.kind);
  StepReport report;
  report.index = index;
  report.name = step.name;
  report.started_at = clock_.Now();
  if (observer_) observer_({StepEvent::Kind::kStarted, run, &report});
  Duration backoff = step.backoff;
  const int attempts = step.retries + 1;
  for (int n = 0; n < attempts; ++n) {
    const int attempt = first_attempt + n;
    report.attempts = n + 1;
    PL_RETURN_IF_ERROR(journal_.RecordIntent(run, index, step.name, attempt, clock_.Now()));
    StepOutcome outcome = StepOutcome::kFailed;
    std::string detail;
    if (action == nullptr) {
      detail = "no action for step kind '" + step.kind + "'";
    } else if (Status pre = action->Precondition(step); !pre.ok()) {
      detail = "precondition: " + pre.message();
    } else if (Result<bool> done = action->AlreadyDone(step); !done.ok()) {
      detail = "checking whether it is already done: " + done.status().message();
    } else if (*done) {
      outcome = StepOutcome::kSkipped;
      detail = action->SkipDetail(step);
      detail = detail.empty() ? "already done" : "already done: " + detail;
    } else {
      const MonoTime start = clock_.Monotonic();
      Status st = action->Run(step, start + step.timeout);
      const Duration took = clock_.Monotonic() - start;
      if (st.ok() && took <= step.timeout) {
        outcome = StepOutcome::kSucceeded;
      } else if (st.ok()) {
        detail = "timed out: took " + FormatDuration(took) + ", limit " +
                 FormatDuration(step.timeout);
      } else {
        detail = st.message();
      }
    }
    PL_RETURN_IF_ERROR(journal_.RecordOutcome(run, index, attempt, outcome, detail, clock_.Now()));
    report.outcome = outcome;
    report.detail = detail;
    if (outcome != StepOutcome::kFailed) break;
    if (n + 1 < attempts) {
      clock_.SleepFor(backoff);
      backoff *= 2;
    }
  }
  report.finished_at = clock_.Now();
  if (observer_) observer_({StepEvent::Kind::kFinished, run, &report});
  return report;
}

}  // namespace pilotlight::runbook
