#include "data/postgres/backup.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/duration.h"
#include "core/log.h"
#include "data/postgres/pg_client.h"
#include "sys/process.h"

namespace pilotlight::pg {
namespace fs = std::filesystem;
namespace {

bool IsIdentifier(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

// "public.orders" -> "\"public\".\"orders\"". REQUIRES: ValidateTableName(name).ok()
std::string QuoteTable(const std::string& name) {
  const size_t dot = name.find('.');
  if (dot == std::string::npos) return "\"" + name + "\"";
  return "\"" + name.substr(0, dot) + "\".\"" + name.substr(dot + 1) + "\"";
}

std::string SqlLiteral(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "''";
    else
      out += c;
  }
  return out + "'";
}

// PostgreSQL's timestamptz input, in UTC with microseconds.
std::string PgTimestamp(WallTime t) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch());
  int64_t secs = us.count() / 1'000'000;
  int64_t frac = us.count() % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06lld+00", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(frac));
  return buf;
}

// "20261126T024056123Z": a name part for run directories and restore points.
std::string Stamp(WallTime t) {
  std::string s = FormatTime(t);  // 2026-11-26T02:40:56.123Z
  std::string out;
  for (char c : s) {
    if (c != '-' && c != ':' && c != '.') out += c;
  }
  return out;
}

double Seconds(Duration d) { return static_cast<double>(d.count()) / 1e9; }

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string LogTail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const std::string& l : tail) out += "\n  " + l;
  return out;
}

Status Chown(const std::string& path, const std::optional<sys::RunAs>& user) {
  if (!user) return Status::OK();
  if (chown(path.c_str(), user->uid, user->gid) != 0) {
    return Status::IOError("cannot chown " + path + " to " + user->name + ": " +
                           std::strerror(errno));
  }
  return Status::OK();
}

Result<uint16_t> FreePort(const std::string& address) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = 0;
  if (inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    close(fd);
    return Status::InvalidArgument("'" + address + "' is not an IPv4 address");
  }
  socklen_t len = sizeof sa;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    const std::string err = std::strerror(errno);
    close(fd);
    return Status::Unavailable("no free port on " + address + ": " + err);
  }
  close(fd);
  return static_cast<uint16_t>(ntohs(sa.sin_port));
}

// Session settings that make row text identical on both servers.
constexpr char kStableText[] =
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';"
    "SET extra_float_digits = 1; SET bytea_output = 'hex'";

Result<std::vector<TableFigures>> ReadFigures(Connection& conn,
                                              const std::vector<std::string>& tables) {
  Result<Rows> rows = conn.Query(FiguresQuery(tables));
  if (!rows.ok()) return rows.status().Annotate("cannot compute the tables' figures");
  std::vector<TableFigures> out;
  for (size_t i = 0; i < rows->rows.size(); ++i) {
    TableFigures f;
    f.table = rows->Get(i, "t").value_or("");
    f.rows = std::strtoll(rows->Get(i, "n").value_or("0").c_str(), nullptr, 10);
    f.checksum = rows->Get(i, "sum").value_or("");
    out.push_back(std::move(f));
  }
  return out;
}

Status CheckTablesExist(Connection& conn, const std::vector<std::string>& tables) {
  for (const std::string& t : tables) {
    Result<Rows> r = conn.Query("SELECT to_regclass($1)::text AS oid", {QuoteTable(t)});
    if (!r.ok()) return r.status();
    if (r->empty() || !r->Get(0, "oid")) {
      return Status::NotFound("table " + t + " does not exist in " + conn.endpoint().ToString() +
                              "; create the trading schema (pilotlight lab up) or name the "
                              "tables to check with --table");
    }
  }
  return Status::OK();
}

struct Point {
  std::string name;
  std::string lsn;
  std::string time;
  std::vector<TableFigures> figures;
  Duration locked{};
};

// The consistent point on the source (see the header, step 2).
Result<Point> MakeConsistentPoint(Connection& conn, const VerifySpec& spec, const std::string& name,
                                  Clock& clock) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(spec.lock_timeout);
  PL_RETURN_IF_ERROR(
      conn.Exec(std::string(kStableText) + "; SET lock_timeout = " + std::to_string(ms.count())));
  std::string list;
  for (const std::string& t : spec.tables) list += (list.empty() ? "" : ", ") + QuoteTable(t);
  Point p;
  p.name = name;
  const MonoTime asked = clock.Monotonic();
  Status st =
      conn.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ; LOCK TABLE " + list + " IN SHARE MODE");
  if (!st.ok()) {
    (void)conn.Exec("ROLLBACK");
    return st.Annotate("cannot lock " + list + " on " + conn.endpoint().ToString() + " within " +
                       FormatDuration(spec.lock_timeout) +
                       " (a long transaction holds them?); retry when it has ended");
  }
  Result<std::vector<TableFigures>> figures = ReadFigures(conn, spec.tables);
  Result<Rows> made = figures.ok()
                          ? conn.Query(
                                "SELECT pg_create_restore_point($1)::text AS lsn, "
                                "clock_timestamp()::text AS at, txid_current()::text AS xid",
                                {name})
                          : Result<Rows>(figures.status());
  if (!made.ok()) {
    (void)conn.Exec("ROLLBACK");
    return made.status().Annotate("cannot make the restore point on " + conn.endpoint().ToString());
  }
  st = conn.Exec("COMMIT");
  p.locked = clock.Monotonic() - asked;
  if (!st.ok()) return st.Annotate("cannot commit the restore point's transaction");
  p.figures = std::move(*figures);
  p.lsn = made->Get(0, "lsn").value_or("");
  p.time = made->Get(0, "at").value_or("");
  // Complete the segment holding the point, so restore_command copies it whole.
  Result<Rows> switched = conn.Query("SELECT pg_switch_wal()::text AS lsn");
  if (!switched.ok()) return switched.status().Annotate("pg_switch_wal");
  return p;
}

// Waits until the scratch server has promoted and answers on its database.
Status WaitPromoted(const LocalServer& scratch, pid_t pid, Duration timeout, Clock& clock) {
  const MonoTime deadline = clock.Monotonic() + timeout;
  std::string last;
  for (;;) {
    if (!sys::ProcessAlive(pid)) {
      return Status::Unavailable(
          "the restored server exited before reaching the target (is the WAL between the "
          "backup and the target still in the source's pg_wal?); its log " +
          scratch.log_file + " ends:" + LogTail(scratch.log_file, 12));
    }
    Result<std::unique_ptr<Connection>> conn = Connection::Open(scratch.endpoint);
    if (conn.ok()) {
      Result<Rows> r = (*conn)->Query("SELECT pg_is_in_recovery()::text AS rec");
      if (r.ok() && r->Get(0, "rec") == "false") return Status::OK();
      last = r.ok() ? "still recovering" : r.status().message();
    } else {
      last = conn.status().message();
    }
    if (clock.Monotonic() > deadline) {
      return Status::Timeout("the restored server did not reach the target within " +
                             FormatDuration(timeout) + " (" + last + "); see " + scratch.log_file +
                             LogTail(scratch.log_file, 8));
    }
    clock.SleepFor(std::chrono::milliseconds(100));  // polling recovery progress
  }
}

}  // namespace

const std::vector<std::string>& TradingTables() {
  static const std::vector<std::string> kTables = {"symbols", "orders", "book", "trades"};
  return kTables;
}

Status ValidateTableName(const std::string& name) {
  const size_t dot = name.find('.');
  const bool ok = dot == std::string::npos
                      ? IsIdentifier(name)
                      : IsIdentifier(name.substr(0, dot)) && IsIdentifier(name.substr(dot + 1));
  if (ok) return Status::OK();
  return Status::InvalidArgument("table '" + name +
                                 "' is not a plain name (letters, digits, _; optionally "
                                 "schema.table)");
}

std::string FiguresQuery(const std::vector<std::string>& tables) {
  std::string sql;
  for (const std::string& t : tables) {
    if (!sql.empty()) sql += " UNION ALL ";
    sql += "SELECT " + SqlLiteral(t) +
           "::text AS t, count(*)::text AS n, "
           "coalesce(sum(hashtextextended(x::text, 0)), 0)::text AS sum FROM " +
           QuoteTable(t) + " x";
  }
  return sql;
}

Result<WallTime> ParseRfc3339(const std::string& text) {
  const Status bad = Status::InvalidArgument(
      "'" + text + "' is not an RFC 3339 time; write e.g. 2026-11-26T02:40:56Z");
  int y, mo, d, h, mi, s, n = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) !=
          6 ||
      n != 19) {
    return bad;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return bad;
  size_t i = 19;
  int64_t frac_ns = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    int64_t scale = 100'000'000;
    size_t digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      frac_ns += (text[i] - '0') * scale;
      scale /= 10;
      ++i;
      ++digits;
    }
    if (digits == 0) return bad;
  }
  int64_t offset = 0;
  if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
    ++i;
  } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int oh, om, m = 0;
    if (std::sscanf(text.c_str() + i + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || m != 5 || oh > 23 ||
        om > 59) {
      return bad;
    }
    offset = (text[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return bad;  // a time without a zone is ambiguous
  }
  if (i != text.size()) return bad;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset;
  return WallTime(std::chrono::seconds(secs) + std::chrono::nanoseconds(frac_ns));
}

Result<std::string> ScratchConf(const ScratchSettings& s) {
  if (s.target_name.empty() == !s.target_time.has_value()) {
    return Status::InvalidArgument(
        "a scratch restore needs exactly one target (a restore point "
        "name or a time)");
  }
  for (char c : s.source_wal_dir) {
    if (c == '\'' || c == '"' || c == '\\' || c == '$' || c == '`' || c == '\n') {
      return Status::InvalidArgument("the source's WAL directory " + s.source_wal_dir +
                                     " has a quote or shell character; restore_command cannot "
                                     "name it safely: move the data directory");
    }
  }
  if (s.target_name.find_first_of("'\\\n") != std::string::npos) {
    return Status::InvalidArgument("restore point name '" + s.target_name + "' has a quote");
  }
  std::string conf =
      "# Written by pilotlight backup verify: a scratch restore, not a server to keep.\n"
      "# It replaces the source's postgresql.auto.conf, so it wins over every other file.\n"
      "listen_addresses = '" +
      s.listen_address +
      "'\n"
      "port = " +
      std::to_string(s.port) +
      "\n"
      "unix_socket_directories = ''\n"
      "primary_conninfo = ''\n"
      "primary_slot_name = ''\n"
      "synchronous_standby_names = ''\n"
      "default_transaction_read_only = off\n"
      "archive_mode = off\n"
      "hot_standby = on\n"
      "recovery_prefetch = off\n"
      "logging_collector = off\n"
      "restore_command = 'cp \"" +
      s.source_wal_dir + "/%f\" \"%p\"'\n";
  if (!s.target_name.empty()) {
    conf += "recovery_target_name = '" + s.target_name + "'\n";
  } else {
    conf += "recovery_target_time = '" + PgTimestamp(*s.target_time) + "'\n";
  }
  conf += "recovery_target_action = 'promote'\n";
  return conf;
}

Comparison CompareFigures(const std::vector<std::string>& tables,
                          const std::vector<TableFigures>& source,
                          const std::vector<TableFigures>& restored, bool compare) {
  auto find = [](const std::vector<TableFigures>& v,
                 const std::string& t) -> std::optional<TableFigures> {
    for (const TableFigures& f : v) {
      if (f.table == t) return f;
    }
    return std::nullopt;
  };
  Comparison c;
  for (const std::string& t : tables) {
    TableCheck check;
    check.table = t;
    check.source = find(source, t);
    check.restored = find(restored, t);
    check.compared = compare;
    if (!check.restored) {
      c.problems.push_back(t + ": no figures from the restored server");
    } else if (compare && !check.source) {
      c.problems.push_back(t + ": no figures from the source");
    } else if (compare) {
      const bool rows = check.source->rows == check.restored->rows;
      const bool sum = check.source->checksum == check.restored->checksum;
      check.match = rows && sum;
      if (!rows) {
        c.problems.push_back(t + ": " + std::to_string(check.restored->rows) +
                             " rows restored, the source had " +
                             std::to_string(check.source->rows));
      } else if (!sum) {
        c.problems.push_back(t + ": same row count (" + std::to_string(check.source->rows) +
                             ") but the checksums differ: rows were changed");
      }
    }
    c.tables.push_back(std::move(check));
  }
  if (tables.empty()) c.problems.push_back("no tables to check");
  c.passed = c.problems.empty();
  return c;
}

std::string FormatReportText(const VerifyReport& r) {
  std::ostringstream out;
  out << "backup verify of " << r.region << " (" << r.source
      << "): " << (r.passed() ? "PASSED" : "FAILED") << "\n";
  out << "  target: " << r.target_kind << " " << r.target << "\n";
  out << "  restore point: " << r.point_name << " at " << r.point_lsn << " (" << r.point_time
      << ")\n";
  out << "  backup " << Fixed(r.backup_seconds, 2) << "s, restore " << Fixed(r.restore_seconds, 2)
      << "s, writers waited " << Fixed(r.source_lock_seconds, 3) << "s, total "
      << Fixed(r.total_seconds, 2) << "s\n";
  char line[256];
  std::snprintf(line, sizeof line, "  %-20s %12s %12s  %-24s %-24s %s\n", "table", "source rows",
                "restored", "source checksum", "restored checksum", "");
  out << line;
  for (const TableCheck& t : r.comparison.tables) {
    const std::string src_rows = t.source ? std::to_string(t.source->rows) : "-";
    const std::string dst_rows = t.restored ? std::to_string(t.restored->rows) : "-";
    std::snprintf(line, sizeof line, "  %-20s %12s %12s  %-24s %-24s %s\n", t.table.c_str(),
                  src_rows.c_str(), dst_rows.c_str(), t.source ? t.source->checksum.c_str() : "-",
                  t.restored ? t.restored->checksum.c_str() : "-",
                  !t.compared ? "(not compared)"
                  : t.match   ? "ok"
                              : "MISMATCH");
    out << line;
  }
  if (!r.comparison.tables.empty() && !r.comparison.tables.front().compared) {
    out << "  counts only: the source's figures were taken at the restore point, after the "
           "target time, so they are shown, not compared\n";
  }
  for (const std::string& p : r.comparison.problems) out << "  problem: " << p << "\n";
  if (r.kept) {
    out << "  kept: the restored server runs on port " << r.scratch_port << " in " << r.scratch_dir
        << " (remove it with `pilotlight backup discard`)\n";
  }
  return out.str();
}

std::string FormatReportJson(const VerifyReport& r) {
  nlohmann::json j;
  j["region"] = r.region;
  j["source"] = r.source;
  j["passed"] = r.passed();
  j["target"] = {{"kind", r.target_kind}, {"value", r.target}};
  j["restore_point"] = {{"name", r.point_name}, {"lsn", r.point_lsn}, {"time", r.point_time}};
  j["started_at"] = r.started_at;
  j["backup_seconds"] = r.backup_seconds;
  j["restore_seconds"] = r.restore_seconds;
  j["source_lock_seconds"] = r.source_lock_seconds;
  j["total_seconds"] = r.total_seconds;
  j["steps"] = nlohmann::json::array();
  for (const StepTiming& s : r.steps)
    j["steps"].push_back({{"name", s.name}, {"seconds", s.seconds}});
  j["compared"] = !r.comparison.tables.empty() && r.comparison.tables.front().compared;
  j["tables"] = nlohmann::json::array();
  for (const TableCheck& t : r.comparison.tables) {
    nlohmann::json row = {{"table", t.table}, {"compared", t.compared}, {"match", t.match}};
    row["source_rows"] = t.source ? nlohmann::json(t.source->rows) : nlohmann::json();
    row["source_checksum"] = t.source ? nlohmann::json(t.source->checksum) : nlohmann::json();
    row["restored_rows"] = t.restored ? nlohmann::json(t.restored->rows) : nlohmann::json();
    row["restored_checksum"] = t.restored ? nlohmann::json(t.restored->checksum) : nlohmann::json();
    j["tables"].push_back(std::move(row));
  }
  j["problems"] = r.comparison.problems;
  j["kept"] = r.kept;
  if (r.kept) {
    j["scratch_dir"] = r.scratch_dir;
    j["scratch_port"] = r.scratch_port;
  }
  return j.dump(2) + "\n";
}

Result<VerifyReport> VerifyBackup(const VerifySpec& spec, Clock& clock) {
  auto say = [&](const std::string& line) {
    if (spec.progress) spec.progress(line);
  };
  for (const std::string& t : spec.tables) PL_RETURN_IF_ERROR(ValidateTableName(t));
  if (spec.tables.empty()) return Status::InvalidArgument("no tables to check");

  VerifyReport report;
  report.region = spec.region;
  report.source = spec.source.endpoint.ToString();
  const WallTime started = clock.Now();
  const MonoTime t0 = clock.Monotonic();
  report.started_at = FormatTime(started);
  const bool by_time = spec.target.kind == BackupTarget::Kind::kTime;
  if (by_time) {
    if (spec.target.time <= started) {
      return Status::InvalidArgument(
          "--target-time " + FormatTime(spec.target.time) +
          " is before this run's base backup "
          "(starting " +
          report.started_at +
          "): a fresh backup recovers only to a later time; "
          "give a time a minute or so ahead (date -u -d '+1 min' +%FT%TZ) or use --target now");
    }
    if (spec.target.time > started + spec.max_target_wait) {
      return Status::InvalidArgument("--target-time " + FormatTime(spec.target.time) +
                                     " is more than " + FormatDuration(spec.max_target_wait) +
                                     " ahead; give a nearer time");
    }
  }

  // The source must be the writable primary: restore points cannot be made on a standby.
  Result<std::unique_ptr<Connection>> source = Connection::Open(spec.source.endpoint);
  if (!source.ok()) {
    return source.status().Annotate("cannot reach the source PostgreSQL of region " + spec.region +
                                    " (is the lab up? pilotlight lab status)");
  }
  Result<Rows> role = (*source)->Query("SELECT pg_is_in_recovery()::text AS rec");
  if (!role.ok()) return role.status();
  if (role->Get(0, "rec") != "false") {
    return Status::FailedPrecondition("the PostgreSQL of region " + spec.region + " at " +
                                      report.source +
                                      " is a standby; verify the writable "
                                      "primary (omit --region)");
  }
  PL_RETURN_IF_ERROR(CheckTablesExist(**source, spec.tables));

  // 1. Base backup into a run directory of its own.
  const std::string run_dir = spec.scratch_root + "/" + Stamp(started);
  LocalServer scratch;
  scratch.data_dir = run_dir + "/pgdata";
  scratch.log_file = run_dir + "/postgres.log";
  scratch.user = spec.source.user;
  scratch.bin_dir = spec.source.bin_dir;
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) return Status::IOError("cannot create " + run_dir + ": " + ec.message());
  PL_RETURN_IF_ERROR(Chown(spec.scratch_root, scratch.user));
  PL_RETURN_IF_ERROR(Chown(run_dir, scratch.user));
  if (scratch.user && !sys::UserCanReach(*scratch.user, run_dir)) {
    return Status::FailedPrecondition("the " + scratch.user->name + " user cannot reach " +
                                      run_dir + "; give a scratch directory it can reach");
  }
  // A failed run keeps its logs (the data directory goes) and names them.
  bool done = false;
  pid_t scratch_pid = 0;
  auto cleanup_on_failure = [&](const Status& st) -> Status {
    if (done) return st;
    if (spec.keep) return st.Annotate("backup verify (kept in " + run_dir + ")");
    if (scratch_pid != 0) (void)StopServer(scratch, std::chrono::seconds(30));
    std::error_code ignored;
    fs::remove_all(scratch.data_dir, ignored);
    return st.Annotate("backup verify (logs kept in " + run_dir + ")");
  };

  say("base backup: pg_basebackup -X stream from " + report.source + " into " + scratch.data_dir);
  const MonoTime b0 = clock.Monotonic();
  Result<std::string> passfile =
      WriteToolPassfile(spec.source.endpoint, run_dir + "/source.pgpass", scratch.user);
  if (!passfile.ok()) return cleanup_on_failure(passfile.status());
  Status st = sys::RunToCompletion(
      {{spec.source.bin_dir + "/pg_basebackup", "-d",
        spec.source.endpoint.ToolConnInfo(*passfile), "-D", scratch.data_dir, "-X", "stream",
        "--checkpoint=fast", "--no-password",
        "--label=pilotlight backup verify"},
       run_dir + "/basebackup.log",
       scratch.user},
      spec.backup_timeout);
  if (!passfile->empty()) {
    std::error_code gone;
    fs::remove(*passfile, gone);  // the password outlives the copy by no longer than it takes
  }
  if (!st.ok()) return cleanup_on_failure(st.Annotate("pg_basebackup"));
  report.backup_seconds = Seconds(clock.Monotonic() - b0);
  report.steps.push_back({"base backup", report.backup_seconds});
  say("base backup: done in " + Fixed(report.backup_seconds, 2) + "s");

  // 2. The consistent point (after the target time, in time mode).
  if (by_time) {
    const WallTime backup_end = clock.Now();
    if (backup_end > spec.target.time) {
      return cleanup_on_failure(
          Status::FailedPrecondition("the base backup ended at " + FormatTime(backup_end) +
                                     ", after --target-time " + FormatTime(spec.target.time) +
                                     "; recovery cannot stop before the backup's end: "
                                     "give a later time"));
    }
    say("target: waiting until " + FormatTime(spec.target.time) + " has passed");
    const MonoTime w0 = clock.Monotonic();
    while (clock.Now() <= spec.target.time) {
      const Duration left = spec.target.time - clock.Now();
      clock.SleepFor(
          std::min<Duration>(left + std::chrono::milliseconds(1), std::chrono::seconds(1)));
    }
    report.steps.push_back({"wait for target time", Seconds(clock.Monotonic() - w0)});
  }
  const std::string name = "pilotlight-verify-" + Stamp(started);
  say("consistent point: locking " + std::to_string(spec.tables.size()) +
      " tables in SHARE mode, figures, restore point " + name);
  const MonoTime p0 = clock.Monotonic();
  Result<Point> point = MakeConsistentPoint(**source, spec, name, clock);
  if (!point.ok()) return cleanup_on_failure(point.status());
  report.point_name = point->name;
  report.point_lsn = point->lsn;
  report.point_time = point->time;
  report.source_lock_seconds = Seconds(point->locked);
  report.steps.push_back({"consistent point", Seconds(clock.Monotonic() - p0)});
  report.target_kind = by_time ? "time" : "restore-point";
  report.target = by_time ? FormatTime(spec.target.time) : name;
  say("consistent point: " + point->lsn + " at " + point->time + " (writers waited " +
      Fixed(report.source_lock_seconds, 3) + "s)");

  // 3. Restore: recovery settings, then start and wait for the promotion.
  Result<uint16_t> port = FreePort(spec.source.endpoint.host);
  if (!port.ok()) return cleanup_on_failure(port.status());
  scratch.endpoint = spec.source.endpoint;
  scratch.endpoint.port = *port;
  ScratchSettings settings;
  settings.listen_address = spec.source.endpoint.host;
  settings.port = *port;
  settings.source_wal_dir =
      fs::absolute(spec.source.data_dir).lexically_normal().string() + "/pg_wal";
  if (by_time)
    settings.target_time = spec.target.time;
  else
    settings.target_name = name;
  Result<std::string> conf = ScratchConf(settings);
  if (!conf.ok()) return cleanup_on_failure(conf.status());
  fs::remove(scratch.data_dir + "/standby.signal", ec);
  st = WriteServerFile(scratch, "postgresql.auto.conf", *conf);
  if (st.ok()) st = WriteServerFile(scratch, "recovery.signal", "");
  if (!st.ok()) return cleanup_on_failure(st);
  Result<std::string> postgres =
      sys::FindBinary({spec.source.bin_dir + "/postgres"}, "postgresql-15");
  if (!postgres.ok()) return cleanup_on_failure(postgres.status());
  say("restore: starting the scratch server on " + scratch.endpoint.host + ":" +
      std::to_string(*port) + ", recovering to " + report.target_kind + " " + report.target);
  const MonoTime r0 = clock.Monotonic();
  Result<pid_t> pid =
      sys::SpawnDaemon({{*postgres, "-D", scratch.data_dir}, scratch.log_file, scratch.user});
  if (!pid.ok()) return cleanup_on_failure(pid.status());
  scratch_pid = *pid;
  st = WaitPromoted(scratch, *pid, spec.restore_timeout, clock);
  if (!st.ok()) return cleanup_on_failure(st);
  report.restore_seconds = Seconds(clock.Monotonic() - r0);
  report.steps.push_back({"restore", report.restore_seconds});
  say("restore: consistent, at the target and queryable in " + Fixed(report.restore_seconds, 2) +
      "s");

  // 4. The same figures on the restored server.
  const MonoTime c0 = clock.Monotonic();
  Result<std::unique_ptr<Connection>> restored = Connection::Open(scratch.endpoint);
  if (!restored.ok()) return cleanup_on_failure(restored.status());
  std::vector<TableFigures> restored_figures;
  std::map<std::string, std::string> unreadable;  // table -> why
  {
    st = (*restored)->Exec(kStableText);
    if (!st.ok()) return cleanup_on_failure(st);
    // One query per table: a table missing on the restored side is a finding, not an error.
    for (const std::string& t : spec.tables) {
      Result<std::vector<TableFigures>> f = ReadFigures(**restored, {t});
      if (f.ok() && !f->empty()) {
        restored_figures.push_back(f->front());
      } else if (!f.ok()) {
        unreadable[t] = f.status().message();
      }
    }
  }
  restored->reset();
  report.comparison = CompareFigures(spec.tables, point->figures, restored_figures, !by_time);
  for (std::string& p : report.comparison.problems) {
    const auto why = unreadable.find(p.substr(0, p.find(':')));
    if (why != unreadable.end()) p += " (" + why->second + ")";
  }
  report.steps.push_back({"check", Seconds(clock.Monotonic() - c0)});
  std::string verdict = std::to_string(report.comparison.problems.size()) + " problem(s)";
  if (report.comparison.passed) {
    verdict = by_time ? "every table restored (counts only)" : "every table matches";
  }
  say("check: " + verdict);

  // 5. Cleanup.
  const MonoTime k0 = clock.Monotonic();
  if (spec.keep) {
    report.kept = true;
    report.scratch_dir = run_dir;
    report.scratch_port = *port;
  } else {
    st = StopServer(scratch, std::chrono::seconds(60));
    if (!st.ok()) return st.Annotate("stopping the scratch server " + scratch.data_dir);
    fs::remove_all(run_dir, ec);
    if (ec) LogWarn("cannot remove " + run_dir + ": " + ec.message());
  }
  done = true;
  report.steps.push_back({"cleanup", Seconds(clock.Monotonic() - k0)});
  report.total_seconds = Seconds(clock.Monotonic() - t0);
  return report;
}

Result<std::vector<std::string>> DiscardScratch(const std::string& scratch_root,
                                                const LocalServer& like) {
  std::vector<std::string> removed;
  std::error_code ec;
  if (!fs::exists(scratch_root, ec)) return removed;
  for (const fs::directory_entry& e : fs::directory_iterator(scratch_root, ec)) {
    if (!e.is_directory()) continue;
    LocalServer s = like;
    s.data_dir = e.path().string() + "/pgdata";
    s.log_file = e.path().string() + "/postgres.log";
    s.pid_file.clear();
    if (fs::exists(s.data_dir)) PL_RETURN_IF_ERROR(StopServer(s, std::chrono::seconds(60)));
    std::error_code rm;
    fs::remove_all(e.path(), rm);
    if (rm) return Status::IOError("cannot remove " + e.path().string() + ": " + rm.message());
    removed.push_back(e.path().string());
  }
  if (ec) return Status::IOError("cannot list " + scratch_root + ": " + ec.message());
  return removed;
}

}  // namespace pilotlight::pg
