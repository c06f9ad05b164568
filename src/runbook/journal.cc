#include "runbook/journal.h"

#include "sqlite/database.h"

namespace pilotlight::runbook {
namespace {

int64_t Nanos(WallTime t) { return t.time_since_epoch().count(); }
WallTime FromNanos(int64_t n) { return WallTime(Duration(n)); }

StepOutcome OutcomeFromName(const std::string& s) {
  if (s == "succeeded") return StepOutcome::kSucceeded;
  if (s == "skipped") return StepOutcome::kSkipped;
  if (s == "failed") return StepOutcome::kFailed;
  return StepOutcome::kPending;
}

constexpr char kSchema[] =
    "CREATE TABLE IF NOT EXISTS runs ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, runbook TEXT NOT NULL, reason TEXT NOT NULL,"
    "  started_at INTEGER NOT NULL, finished_at INTEGER, outcome TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS steps ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id), idx INTEGER NOT NULL, name TEXT NOT NULL,"
    "  attempt INTEGER NOT NULL, intent_at INTEGER NOT NULL, outcome TEXT NOT NULL DEFAULT "
    "  'pending', finished_at INTEGER, detail TEXT NOT NULL DEFAULT '',"
    "  PRIMARY KEY (run_id, idx, attempt));";

}  // namespace

const char* OutcomeName(StepOutcome outcome) {
  switch (outcome) {
    case StepOutcome::kPending: return "pending";
    case StepOutcome::kSucceeded: return "succeeded";
    case StepOutcome::kSkipped: return "skipped";
    case StepOutcome::kFailed: return "failed";
  }
  return "?";
}

StepOutcome RunRecord::LastOutcome(int index) const {
  StepOutcome last = StepOutcome::kPending;
  for (const StepRecord& s : steps) {
    if (s.index == index) last = s.outcome;
  }
  return last;
}

Journal::Journal(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)), path_(db_->path()) {}

Journal::~Journal() = default;

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& path) {
  sqlite::OpenOptions options;
  options.label = "journal";
  options.damaged_hint =
      "move it aside and start the controller again: it will make a new one, and keep the old "
      "one for the post-mortem";
  Result<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(path, options);
  if (!db.ok()) return db.status();
  // quick_check reads every page: a truncated or scribbled file fails here, at
  // open, with the path in the message, instead of at the worst moment mid-failover.
  {
    Result<sqlite::Statement> check = (*db)->Prepare("PRAGMA quick_check", "check the file");
    Result<bool> row = check.ok() ? check->Step() : Result<bool>(check.status());
    if (!row.ok()) return (*db)->Damaged((*db)->LastError());
    if (!*row || check->Text(0) != "ok") return (*db)->Damaged(check->Text(0));
  }
  // Two controllers opening a new journal at once: EnableWal() and the rest retry
  // the lock the WAL switch races for.
  PL_RETURN_IF_ERROR((*db)->EnableWal());
  PL_RETURN_IF_ERROR((*db)->ExecRetryingLocked("PRAGMA foreign_keys=ON", "enable foreign keys",
                                               options.wal_retry));
  PL_RETURN_IF_ERROR((*db)->ExecRetryingLocked(kSchema, "create the schema", options.wal_retry));
  return std::unique_ptr<Journal>(new Journal(std::move(*db)));
}

Result<int64_t> Journal::BeginRun(const std::string& runbook, const std::string& reason,
                                  WallTime at) {
  Result<sqlite::Statement> st =
      db_->Prepare("INSERT INTO runs (runbook, reason, started_at) VALUES (?, ?, ?)", "begin run");
  if (!st.ok()) return st.status();
  PL_RETURN_IF_ERROR(st->Bind(1, runbook).Bind(2, reason).Bind(3, Nanos(at)).Run());
  return db_->LastInsertRowId();
}

Status Journal::RecordIntent(int64_t run, int index, const std::string& name, int attempt,
                             WallTime at) {
  Result<sqlite::Statement> st =
      db_->Prepare("INSERT INTO steps (run_id, idx, name, attempt, intent_at) VALUES (?, ?, ?, ?, ?)",
                   "record intent of step " + name);
  if (!st.ok()) return st.status();
  return st->Bind(1, run).Bind(2, index).Bind(3, name).Bind(4, attempt).Bind(5, Nanos(at)).Run();
}

Status Journal::RecordOutcome(int64_t run, int index, int attempt, StepOutcome outcome,
                              const std::string& detail, WallTime at) {
  Result<sqlite::Statement> st = db_->Prepare(
      "UPDATE steps SET outcome = ?, detail = ?, finished_at = ? "
      "WHERE run_id = ? AND idx = ? AND attempt = ?",
      "record outcome");
  if (!st.ok()) return st.status();
  PL_RETURN_IF_ERROR(st->Bind(1, std::string(OutcomeName(outcome)))
                         .Bind(2, detail)
                         .Bind(3, Nanos(at))
                         .Bind(4, run)
                         .Bind(5, index)
                         .Bind(6, attempt)
                         .Run());
  if (db_->Changes() != 1) {
    return Status::Internal("journal " + path_ + ": outcome for a step whose intent was never "
                            "recorded (run " + std::to_string(run) + ", step " +
                            std::to_string(index) + ")");
  }
  return Status::OK();
}

Status Journal::FinishRun(int64_t run, bool succeeded, WallTime at) {
  Result<sqlite::Statement> st =
      db_->Prepare("UPDATE runs SET outcome = ?, finished_at = ? WHERE id = ?", "finish run");
  if (!st.ok()) return st.status();
  return st->Bind(1, std::string(succeeded ? "succeeded" : "failed"))
      .Bind(2, Nanos(at))
      .Bind(3, run)
      .Run();
}

Result<RunRecord> Journal::LoadRun(int64_t run) {
  RunRecord r;
  {
    Result<sqlite::Statement> st = db_->Prepare(
        "SELECT id, runbook, reason, started_at, finished_at, outcome FROM runs WHERE id = ?",
        "load run");
    if (!st.ok()) return st.status();
    Result<bool> row = st->Bind(1, run).Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no run " + std::to_string(run) + " in journal " + path_);
    r.id = st->Int(0);
    r.runbook = st->Text(1);
    r.reason = st->Text(2);
    r.started_at = FromNanos(st->Int(3));
    if (!st->IsNull(4)) r.finished_at = FromNanos(st->Int(4));
    r.outcome = st->Text(5);
  }
  Result<sqlite::Statement> st = db_->Prepare(
      "SELECT idx, name, attempt, intent_at, outcome, finished_at, detail FROM steps "
      "WHERE run_id = ? ORDER BY intent_at, idx, attempt",
      "load steps");
  if (!st.ok()) return st.status();
  PL_RETURN_IF_ERROR(st->Bind(1, run).ForEachRow([&] {
    StepRecord s;
    s.index = static_cast<int>(st->Int(0));
    s.name = st->Text(1);
    s.attempt = static_cast<int>(st->Int(2));
    s.intent_at = FromNanos(st->Int(3));
    s.outcome = OutcomeFromName(st->Text(4));
    if (!st->IsNull(5)) s.finished_at = FromNanos(st->Int(5));
    s.detail = st->Text(6);
    r.steps.push_back(std::move(s));
  }));
  return r;
}

Result<std::optional<RunRecord>> Journal::UnfinishedRun() {
  Result<sqlite::Statement> st = db_->Prepare(
      "SELECT id FROM runs WHERE outcome = '' ORDER BY id DESC LIMIT 1", "find unfinished run");
  if (!st.ok()) return st.status();
  Result<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<RunRecord>();
  Result<RunRecord> run = LoadRun(st->Int(0));
  if (!run.ok()) return run.status();
  return std::optional<RunRecord>(std::move(*run));
}

Result<std::vector<RunRecord>> Journal::RecentRuns(int limit) {
  std::vector<int64_t> ids;
  {
    Result<sqlite::Statement> st =
        db_->Prepare("SELECT id FROM runs ORDER BY id DESC LIMIT ?", "list runs");
    if (!st.ok()) return st.status();
    PL_RETURN_IF_ERROR(st->Bind(1, limit).ForEachRow([&] { ids.push_back(st->Int(0)); }));
  }
  std::vector<RunRecord> out;
  for (int64_t id : ids) {
    Result<RunRecord> r = LoadRun(id);
    if (!r.ok()) return r.status();
    out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace pilotlight::runbook
