// Backup validation: prove that a base backup of the primary, plus its WAL,
// restores to exactly the data the primary held at a chosen point.
//
// VerifyBackup runs one check end to end against a running, writable PostgreSQL
// server whose data directory is on this host (the lab's primary):
//
//  1. base backup: pg_basebackup -X stream --checkpoint=fast into a fresh scratch
//     directory (owned by the server's system user when we are root). Writers
//     keep writing: a base backup never blocks them.
//  2. consistent point, on the source, after the backup: one REPEATABLE READ
//     transaction locks the checked tables IN SHARE MODE (writers of those
//     tables wait, readers do not), computes each table's figures (row count and
//     a checksum: the sum of the 64-bit hashtextextended() of every row's text
//     form, order-independent, streamed, with TimeZone/DateStyle pinned so both
//     servers print rows alike), creates a named restore point and commits.
//     Nothing can commit to the tables while the lock is held, so the figures
//     are the tables' content at the restore point. pg_switch_wal() then
//     completes the WAL segment holding the point.
//     With a time target (--target-time T) the run waits until T has passed,
//     then takes the point the same way: recovery stops at T, the figures are
//     the source's at the point (later than T), so only counts are reported and
//     nothing is compared (the report says so).
//  3. restore: the scratch copy gets recovery.signal and its own
//     postgresql.auto.conf (ScratchConf: a free port on the source's address,
//     no streaming, restore_command copying segments from the source's pg_wal,
//     recovery_target_name or recovery_target_time, recovery_target_action =
//     promote). Replacing postgresql.auto.conf drops the source's ALTER SYSTEM
//     settings (fence, synchronous standby), which belong to the source's role,
//     and makes ours win over every other config file. It is started and
//     watched until it has promoted and answers queries (PostgreSQL 13+ ends
//     with FATAL instead of promoting when the WAL ends before the target, so a
//     promoted scratch server stopped exactly at the target).
//  4. check: the same figures on the scratch server, compared table by table.
//  5. cleanup: the scratch server is stopped and its directory deleted, unless
//     `keep` (then it keeps running for inspection: DiscardScratch removes it).
//     A failed run keeps the logs of its run directory and names them.
//
// Every step is timed; the report carries backup seconds (pg_basebackup),
// restore seconds (scratch start until promoted and queryable), how long the
// source's writers waited on the lock, and the figures of both sides.
//
// LIMITS: restore_command reads the source's pg_wal, so the source must keep the
// WAL between the backup and the point (the lab's wal_keep_size and replication
// slot do; a production setup points restore_command at its WAL archive). The
// scratch server runs on this host, beside the source.
//
// Thread-compatible: one VerifyBackup per scratch root at a time; the pure
// functions are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "data/postgres/local_server.h"

namespace pilotlight::pg {

// The tables of the trading schema (trader/schema.cc), checked by default.
const std::vector<std::string>& TradingTables();

// "orders" or "public.orders": plain identifiers only, so the name can be
// quoted into SQL safely. InvalidArgument otherwise.
Status ValidateTableName(const std::string& name);

// One table's content, summarized.
struct TableFigures {
  std::string table;
  int64_t rows = 0;
  std::string checksum;  // decimal sum of hashtextextended(row::text, 0) over the rows
};

// The SQL that computes the figures of `tables` (one row per table: t, n, sum).
// REQUIRES: every name passes ValidateTableName.
std::string FiguresQuery(const std::vector<std::string>& tables);

// RFC 3339 ("2026-11-26T02:40:56Z", "2026-11-26T04:40:56.25+02:00").
Result<WallTime> ParseRfc3339(const std::string& text);

// What the scratch server recovers to.
struct BackupTarget {
  enum class Kind { kNow, kTime };
  Kind kind = Kind::kNow;  // kNow: a restore point made right after the backup
  WallTime time{};         // kTime only
};

// The settings the scratch server runs with (its postgresql.auto.conf).
struct ScratchSettings {
  std::string listen_address;
  uint16_t port = 0;
  std::string source_wal_dir;           // restore_command copies segments from here
  std::string target_name;              // recovery_target_name, or
  std::optional<WallTime> target_time;  // recovery_target_time
};
// The file's text. InvalidArgument when a value cannot be written safely (a WAL
// path with quotes, a restore point name with a quote, no target or two).
Result<std::string> ScratchConf(const ScratchSettings& s);

// One table, source against restored.
struct TableCheck {
  std::string table;
  std::optional<TableFigures> source;    // nullopt: the source has no figures for it
  std::optional<TableFigures> restored;  // nullopt: missing on the restored side
  bool compared = false;                 // false in time-target mode
  bool match = false;                    // rows and checksum equal (when compared)
};

// Pairs figures by table (in the order of `tables`). With `compare`, a table
// matches when both sides have it with equal rows and checksum; problems name
// every difference. Without, nothing is compared and only a table missing on
// the restored side is a problem. Pure.
struct Comparison {
  std::vector<TableCheck> tables;
  std::vector<std::string> problems;
  bool passed = false;
};
Comparison CompareFigures(const std::vector<std::string>& tables,
                          const std::vector<TableFigures>& source,
                          const std::vector<TableFigures>& restored, bool compare);

struct StepTiming {
  std::string name;
  double seconds = 0;
};

struct VerifyReport {
  std::string region;
  std::string source;       // endpoint, "postgres@127.0.1.1:5432/trading"
  std::string target_kind;  // "restore-point" | "time"
  std::string target;       // the restore point's name, or the target time (RFC 3339)
  std::string point_name;   // the restore point made on the source
  std::string point_lsn;
  std::string point_time;  // the source's clock inside the locked transaction
  std::string started_at;  // RFC 3339
  double backup_seconds = 0;
  double restore_seconds = 0;
  double source_lock_seconds = 0;  // how long the source's writers of the tables waited
  double total_seconds = 0;
  std::vector<StepTiming> steps;
  Comparison comparison;
  std::string scratch_dir;  // kept only with `keep`
  uint16_t scratch_port = 0;
  bool kept = false;
  bool passed() const { return comparison.passed; }
};

std::string FormatReportText(const VerifyReport& report);
std::string FormatReportJson(const VerifyReport& report);  // one object, newline-terminated

struct VerifySpec {
  std::string region;  // for the report
  // The source: endpoint (its application database), data_dir (restore_command
  // reads <data_dir>/pg_wal), user and bin_dir (the scratch server runs alike).
  LocalServer source;
  // Each run makes <scratch_root>/<stamp>/ (pgdata and logs). The server's user
  // must be able to reach it.
  std::string scratch_root;
  std::vector<std::string> tables = TradingTables();
  BackupTarget target;
  bool keep = false;
  Duration backup_timeout = std::chrono::minutes(30);
  Duration restore_timeout = std::chrono::minutes(30);
  Duration lock_timeout = std::chrono::seconds(10);     // waiting for the SHARE lock
  Duration max_target_wait = std::chrono::minutes(15);  // how far ahead a target time may be
  std::function<void(const std::string&)> progress;     // one line per step; may be empty
};

// Runs the check. A difference is a report with passed() false; a step that
// could not run is an error naming what to do.
Result<VerifyReport> VerifyBackup(const VerifySpec& spec, Clock& clock);

// Stops the scratch servers left under `scratch_root` (by `keep` or a crash)
// and deletes their directories. Returns the directories removed.
Result<std::vector<std::string>> DiscardScratch(const std::string& scratch_root,
                                                const LocalServer& like);

}  // namespace pilotlight::pg
