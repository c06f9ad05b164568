// The runbook journal: a durable record of every runbook run and every step's
// intent and outcome, so a controller killed at any instant resumes to the same
// end state without repeating a finished step.
//
// SQLite in WAL mode with synchronous=FULL: a row is on disk before the call
// that wrote it returns. The executor writes a step's intent before acting and
// its outcome after. Used by one thread at a time (the controller's executor);
// separate Journal objects on one file are safe across processes (SQLite locks).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::sqlite {
class Database;
}  // namespace pilotlight::sqlite

namespace pilotlight::runbook {

enum class StepOutcome { kPending, kSucceeded, kSkipped, kFailed };
const char* OutcomeName(StepOutcome outcome);

struct StepRecord {
  int index = 0;
  std::string name;
  int attempt = 0;
  WallTime intent_at;
  StepOutcome outcome = StepOutcome::kPending;  // kPending: intent written, no outcome (crash)
  std::optional<WallTime> finished_at;
  std::string detail;
};

struct RunRecord {
  int64_t id = 0;
  std::string runbook;
  std::string reason;  // why the run started (the decision's words)
  WallTime started_at;
  std::optional<WallTime> finished_at;
  std::string outcome;  // "" while running, "succeeded" | "failed"
  std::vector<StepRecord> steps;  // every attempt, in order

  // The last attempt's outcome of step `index`, or kPending when never tried.
  StepOutcome LastOutcome(int index) const;
};

class Journal {
 public:
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Opens (creating if needed) the journal at `path`. A damaged file is a
  // Corruption error naming it, never a crash.
  static Result<std::unique_ptr<Journal>> Open(const std::string& path);

  Result<int64_t> BeginRun(const std::string& runbook, const std::string& reason, WallTime at);
  Status RecordIntent(int64_t run, int index, const std::string& name, int attempt, WallTime at);
  Status RecordOutcome(int64_t run, int index, int attempt, StepOutcome outcome,
                       const std::string& detail, WallTime at);
  Status FinishRun(int64_t run, bool succeeded, WallTime at);

  // The newest run that has not finished, if any (what a restart resumes).
  Result<std::optional<RunRecord>> UnfinishedRun();
  Result<RunRecord> LoadRun(int64_t run);
  // Newest first.
  Result<std::vector<RunRecord>> RecentRuns(int limit);

 private:
  explicit Journal(std::unique_ptr<sqlite::Database> db);

  std::unique_ptr<sqlite::Database> db_;
  std::string path_;
};

}  // namespace pilotlight::runbook
