// The SQLite adapter shared by pilotlight's local stores (the runbook journal,
// the drill history): opening a database file, switching it to WAL safely when
// several processes open a new file at once, and prepared statements whose
// errors are pilotlight::Status values naming the file and what the SQL was for.
// sqlite3.h stays in database.cc.
//
// Thread-safety: a Database is one SQLite connection; use it, and the
// Statements prepared on it, from one thread at a time. Separate Database
// objects on one file are safe across threads and processes (SQLite locks the
// file; a writer waits up to the busy timeout).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"

namespace pilotlight::sqlite {

struct OpenOptions {
  // What the file is, for messages: "journal" gives "journal <path>: ...".
  std::string label = "database";
  // Make the file when missing; without it a missing file is an IOError.
  bool create = true;
  // How long a statement waits on another connection's lock.
  std::chrono::milliseconds busy_timeout{5000};
  // How long EnableWal() retries a locked WAL switch (see there); 0: no retry.
  std::chrono::milliseconds wal_retry{10000};
  // Appended to a Corruption message: what the operator should do with the file.
  std::string damaged_hint;
};

class Statement;

class Database {
 public:
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Opens the file at `path` (creating it with options.create) with the busy
  // timeout set. No pragma is run: callers check the file first, then
  // EnableWal(). An unopenable file is an IOError naming it.
  static Result<std::unique_ptr<Database>> Open(const std::string& path,
                                                const OpenOptions& options = {});

  // journal_mode=WAL and synchronous=FULL: a committed row is on disk when the
  // call that wrote it returns. Switching a new file to WAL takes an exclusive
  // lock for which SQLite does not call the busy handler, so two processes
  // opening a new file at once get "database is locked": retried here for up
  // to options.wal_retry.
  Status EnableWal();

  // Runs `sql` (one or more statements, no results). On failure an open
  // transaction is rolled back; the error names the file and `purpose`
  // ("create the schema"); a damaged file is a Corruption error.
  Status Exec(const std::string& sql, const std::string& purpose);
  // Exec, retried while another connection holds the lock, until `retry` passes.
  Status ExecRetryingLocked(const std::string& sql, const std::string& purpose,
                            std::chrono::milliseconds retry);

  // A prepared statement; the error names the file and `purpose`.
  Result<Statement> Prepare(const std::string& sql, const std::string& purpose);

  // The rowid of the last INSERT on this connection.
  int64_t LastInsertRowId() const;
  // Rows changed by the last INSERT, UPDATE or DELETE on this connection.
  int Changes() const;
  // SQLite's words for the last failed call on this connection.
  std::string LastError() const;

  const std::string& path() const { return path_; }
  const OpenOptions& options() const { return options_; }

  // The error of a failed call, as a Status: Corruption for a damaged file or
  // one that is no database, IOError otherwise. `rc` is SQLite's result code.
  Status Error(int rc, const std::string& purpose, const std::string& detail) const;
  // "<label> <path> is damaged (<detail>); <damaged_hint>", a Corruption error.
  Status Damaged(const std::string& detail) const;

 private:
  Database(void* db, std::string path, OpenOptions options)
      : db_(db), path_(std::move(path)), options_(std::move(options)) {}

  friend class Statement;
  void* db_;  // sqlite3*
  std::string path_;
  OpenOptions options_;
};

// A prepared statement, finalized when destroyed. Columns and parameters are
// numbered as SQLite numbers them: parameters from 1, columns from 0.
class Statement {
 public:
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int i, const std::string& value);
  Statement& Bind(int i, int64_t value);
  Statement& Bind(int i, int value) { return Bind(i, static_cast<int64_t>(value)); }
  Statement& Bind(int i, double value);
  Statement& Bind(int i, const std::optional<double>& value);
  Statement& Bind(int i, const std::optional<int64_t>& value);
  Statement& BindNull(int i);

  // Runs one step: true with a row to read, false when done.
  Result<bool> Step();
  // Steps a statement that returns no rows (INSERT, UPDATE, ...).
  Status Run();
  // Steps through every row, calling `row` on each (it reads the columns).
  Status ForEachRow(const std::function<void()>& row);
  // Back to before the first step, bindings kept.
  void Reset();

  int64_t Int(int col) const;
  double Double(int col) const;
  std::optional<double> OptDouble(int col) const;
  bool IsNull(int col) const;
  std::string Text(int col) const;

 private:
  Statement(const Database* db, void* stmt, std::string purpose)
      : db_(db), stmt_(stmt), purpose_(std::move(purpose)) {}

  friend class Database;
  const Database* db_;
  void* stmt_;  // sqlite3_stmt*
  std::string purpose_;
};

}  // namespace pilotlight::sqlite
