#include "runbook/journal.h"

#include <chrono>
#include <thread>

#include <sqlite3.h>

namespace pilotlight::runbook {
namespace {

sqlite3* Db(void* p) { return static_cast<sqlite3*>(p); }

int64_t Nanos(WallTime t) { return t.time_since_epoch().count(); }
WallTime FromNanos(int64_t n) { return WallTime(Duration(n)); }

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindNull(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  int Step() { return sqlite3_step(stmt_); }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
  }
  std::string Error() const { return sqlite3_errmsg(db_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

Status SqlError(const std::string& path, const std::string& what, const std::string& msg) {
  return Status::IOError("journal " + path + ": " + what + ": " + msg);
}

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

Journal::~Journal() { sqlite3_close(Db(db_)); }

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IOError("cannot open journal " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<Journal> j(new Journal(db, path));
  // quick_check reads every page: a truncated or scribbled file fails here, at
  // open, with the path in the message, instead of at the worst moment mid-failover.
  {
    Stmt check(db, "PRAGMA quick_check");
    if (!check.ok() || check.Step() != SQLITE_ROW || check.Text(0) != "ok") {
      return Status::Corruption("journal " + path + " is damaged (" +
                                (check.ok() ? check.Text(0) : check.Error()) +
                                "); move it aside and start the controller again: it will "
                                "make a new one, and keep the old one for the post-mortem");
    }
  }
  // Two controllers opening a new journal at once: switching it to WAL needs
  // an exclusive lock, and SQLite answers "database is locked" there without
  // waiting on the busy handler; retry for a while.
  auto exec_retrying = [&](const char* sql) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      Status st = j->Exec(sql);
      const bool locked = !st.ok() && (st.message().find("locked") != std::string::npos ||
                                       st.message().find("busy") != std::string::npos);
      if (!locked || std::chrono::steady_clock::now() >= deadline) return st;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // another opener's lock
    }
  };
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                             "PRAGMA foreign_keys=ON"}) {
    PL_RETURN_IF_ERROR(exec_retrying(pragma));
  }
  PL_RETURN_IF_ERROR(exec_retrying(kSchema));
  return j;
}

Status Journal::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(Db(db_), sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
      return Status::Corruption("journal " + path_ + " is damaged: " + msg);
    }
    return SqlError(path_, sql.substr(0, 40), msg);
  }
  return Status::OK();
}

Result<int64_t> Journal::BeginRun(const std::string& runbook, const std::string& reason,
                                  WallTime at) {
  Stmt st(Db(db_), "INSERT INTO runs (runbook, reason, started_at) VALUES (?, ?, ?)");
  if (!st.ok() || st.Bind(1, runbook).Bind(2, reason).Bind(3, Nanos(at)).Step() != SQLITE_DONE) {
    return SqlError(path_, "begin run", st.Error());
  }
  return static_cast<int64_t>(sqlite3_last_insert_rowid(Db(db_)));
}

Status Journal::RecordIntent(int64_t run, int index, const std::string& name, int attempt,
                             WallTime at) {
  Stmt st(Db(db_),
          "INSERT INTO steps (run_id, idx, name, attempt, intent_at) VALUES (?, ?, ?, ?, ?)");
  if (!st.ok() || st.Bind(1, run).Bind(2, index).Bind(3, name).Bind(4, attempt).Bind(5, Nanos(at))
                          .Step() != SQLITE_DONE) {
    return SqlError(path_, "record intent of step " + name, st.Error());
  }
  return Status::OK();
}

Status Journal::RecordOutcome(int64_t run, int index, int attempt, StepOutcome outcome,
                              const std::string& detail, WallTime at) {
  Stmt st(Db(db_),
          "UPDATE steps SET outcome = ?, detail = ?, finished_at = ? "
          "WHERE run_id = ? AND idx = ? AND attempt = ?");
  if (!st.ok() || st.Bind(1, std::string(OutcomeName(outcome)))
                          .Bind(2, detail)
                          .Bind(3, Nanos(at))
                          .Bind(4, run)
                          .Bind(5, index)
                          .Bind(6, attempt)
                          .Step() != SQLITE_DONE) {
    return SqlError(path_, "record outcome", st.Error());
  }
  if (sqlite3_changes(Db(db_)) != 1) {
    return Status::Internal("journal " + path_ + ": outcome for a step whose intent was never "
                            "recorded (run " + std::to_string(run) + ", step " +
                            std::to_string(index) + ")");
  }
  return Status::OK();
}

Status Journal::FinishRun(int64_t run, bool succeeded, WallTime at) {
  Stmt st(Db(db_), "UPDATE runs SET outcome = ?, finished_at = ? WHERE id = ?");
  if (!st.ok() || st.Bind(1, std::string(succeeded ? "succeeded" : "failed"))
                          .Bind(2, Nanos(at))
                          .Bind(3, run)
                          .Step() != SQLITE_DONE) {
    return SqlError(path_, "finish run", st.Error());
  }
  return Status::OK();
}

Result<RunRecord> Journal::LoadRun(int64_t run) {
  RunRecord r;
  {
    Stmt st(Db(db_),
            "SELECT id, runbook, reason, started_at, finished_at, outcome FROM runs WHERE id = ?");
    if (!st.ok()) return SqlError(path_, "load run", st.Error());
    st.Bind(1, run);
    int rc = st.Step();
    if (rc == SQLITE_DONE) return Status::NotFound("no run " + std::to_string(run) + " in journal " + path_);
    if (rc != SQLITE_ROW) return SqlError(path_, "load run", st.Error());
    r.id = st.Int(0);
    r.runbook = st.Text(1);
    r.reason = st.Text(2);
    r.started_at = FromNanos(st.Int(3));
    if (!st.IsNull(4)) r.finished_at = FromNanos(st.Int(4));
    r.outcome = st.Text(5);
  }
  Stmt st(Db(db_),
          "SELECT idx, name, attempt, intent_at, outcome, finished_at, detail FROM steps "
          "WHERE run_id = ? ORDER BY intent_at, idx, attempt");
  if (!st.ok()) return SqlError(path_, "load steps", st.Error());
  st.Bind(1, run);
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    StepRecord s;
    s.index = static_cast<int>(st.Int(0));
    s.name = st.Text(1);
    s.attempt = static_cast<int>(st.Int(2));
    s.intent_at = FromNanos(st.Int(3));
    s.outcome = OutcomeFromName(st.Text(4));
    if (!st.IsNull(5)) s.finished_at = FromNanos(st.Int(5));
    s.detail = st.Text(6);
    r.steps.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return SqlError(path_, "load steps", st.Error());
  return r;
}

Result<std::optional<RunRecord>> Journal::UnfinishedRun() {
  Stmt st(Db(db_), "SELECT id FROM runs WHERE outcome = '' ORDER BY id DESC LIMIT 1");
  if (!st.ok()) return SqlError(path_, "find unfinished run", st.Error());
  int rc = st.Step();
  if (rc == SQLITE_DONE) return std::optional<RunRecord>();
  if (rc != SQLITE_ROW) return SqlError(path_, "find unfinished run", st.Error());
  Result<RunRecord> run = LoadRun(st.Int(0));
  if (!run.ok()) return run.status();
  return std::optional<RunRecord>(std::move(*run));
}

Result<std::vector<RunRecord>> Journal::RecentRuns(int limit) {
  std::vector<int64_t> ids;
  {
    Stmt st(Db(db_), "SELECT id FROM runs ORDER BY id DESC LIMIT ?");
    if (!st.ok()) return SqlError(path_, "list runs", st.Error());
    st.Bind(1, limit);
    while (st.Step() == SQLITE_ROW) ids.push_back(st.Int(0));
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
