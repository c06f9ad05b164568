#include "sqlite/database.h"

#include <sqlite3.h>

#include "core/clock.h"

namespace pilotlight::sqlite {
namespace {

sqlite3* Db(void* p) { return static_cast<sqlite3*>(p); }
sqlite3_stmt* Stmt(void* p) { return static_cast<sqlite3_stmt*>(p); }

// Another connection holds the lock (extended codes included).
bool Locked(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

}  // namespace

Database::~Database() { sqlite3_close(Db(db_)); }

Result<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                 const OpenOptions& options) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (options.create ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IOError("cannot open " + options.label + " " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));
  return std::unique_ptr<Database>(new Database(db, path, options));
}

Status Database::Error(int rc, const std::string& purpose, const std::string& detail) const {
  const int primary = rc & 0xff;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return Damaged(detail);
  return Status::IOError(options_.label + " " + path_ + ": " + purpose + ": " + detail);
}

Status Database::Damaged(const std::string& detail) const {
  return Status::Corruption(options_.label + " " + path_ + " is damaged (" + detail + ")" +
                            (options_.damaged_hint.empty() ? "" : "; " + options_.damaged_hint));
}

Status Database::Exec(const std::string& sql, const std::string& purpose) {
  return ExecRetryingLocked(sql, purpose, std::chrono::milliseconds(0));
}

Status Database::ExecRetryingLocked(const std::string& sql, const std::string& purpose,
                                    std::chrono::milliseconds retry) {
  Clock& clock = SystemClock::Instance();  // another process's lock, in real time
  const MonoTime deadline = clock.Monotonic() + retry;
  for (;;) {
    char* err = nullptr;
    const int rc = sqlite3_exec(Db(db_), sql.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Status::OK();
    const std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    if (!Locked(rc) || clock.Monotonic() >= deadline) {
      // A multi-statement script that failed half way must not leave its
      // transaction open on this connection (and its lock on the file).
      if (sqlite3_get_autocommit(Db(db_)) == 0) {
        sqlite3_exec(Db(db_), "ROLLBACK", nullptr, nullptr, nullptr);
      }
      return Error(rc, purpose, msg);
    }
    // Not synchronization: SQLite offers nothing to wait on for this lock.
    clock.SleepFor(std::chrono::milliseconds(20));
  }
}

Status Database::EnableWal() {
  PL_RETURN_IF_ERROR(
      ExecRetryingLocked("PRAGMA journal_mode=WAL", "switch to WAL", options_.wal_retry));
  return ExecRetryingLocked("PRAGMA synchronous=FULL", "set synchronous=FULL", options_.wal_retry);
}

Result<Statement> Database::Prepare(const std::string& sql, const std::string& purpose) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(Db(db_), sql.c_str(), -1, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(rc, purpose, LastError());
  }
  return Statement(this, stmt, purpose);
}

int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(Db(db_)); }

int Database::Changes() const { return sqlite3_changes(Db(db_)); }

std::string Database::LastError() const { return sqlite3_errmsg(Db(db_)); }

Statement::~Statement() { sqlite3_finalize(Stmt(stmt_)); }

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), purpose_(std::move(other.purpose_)) {
  other.stmt_ = nullptr;
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(Stmt(stmt_));
    db_ = other.db_;
    stmt_ = other.stmt_;
    purpose_ = std::move(other.purpose_);
    other.stmt_ = nullptr;
  }
  return *this;
}

Statement& Statement::Bind(int i, const std::string& value) {
  sqlite3_bind_text(Stmt(stmt_), i, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::Bind(int i, int64_t value) {
  sqlite3_bind_int64(Stmt(stmt_), i, value);
  return *this;
}

Statement& Statement::Bind(int i, double value) {
  sqlite3_bind_double(Stmt(stmt_), i, value);
  return *this;
}

Statement& Statement::Bind(int i, const std::optional<double>& value) {
  return value ? Bind(i, *value) : BindNull(i);
}

Statement& Statement::Bind(int i, const std::optional<int64_t>& value) {
  return value ? Bind(i, *value) : BindNull(i);
}

Statement& Statement::BindNull(int i) {
  sqlite3_bind_null(Stmt(stmt_), i);
  return *this;
}

Result<bool> Statement::Step() {
  const int rc = sqlite3_step(Stmt(stmt_));
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(rc, purpose_, db_->LastError());
}

Status Statement::Run() {
  Result<bool> row = Step();
  if (!row.ok()) return row.status();
  if (*row) {
    return Status::Internal(db_->options_.label + " " + db_->path_ + ": " + purpose_ +
                            ": the statement returned rows where none were expected");
  }
  return Status::OK();
}

Status Statement::ForEachRow(const std::function<void()>& row) {
  for (;;) {
    Result<bool> more = Step();
    if (!more.ok()) return more.status();
    if (!*more) return Status::OK();
    row();
  }
}

void Statement::Reset() { sqlite3_reset(Stmt(stmt_)); }

int64_t Statement::Int(int col) const { return sqlite3_column_int64(Stmt(stmt_), col); }

double Statement::Double(int col) const { return sqlite3_column_double(Stmt(stmt_), col); }

std::optional<double> Statement::OptDouble(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Double(col);
}

bool Statement::IsNull(int col) const {
  return sqlite3_column_type(Stmt(stmt_), col) == SQLITE_NULL;
}

std::string Statement::Text(int col) const {
  const unsigned char* t = sqlite3_column_text(Stmt(stmt_), col);
  return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
}

}  // namespace pilotlight::sqlite
