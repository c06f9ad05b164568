#include "data/postgres/failover.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/duration.h"
#include "core/log.h"
#include "core/poll.h"

namespace pilotlight::pg {
namespace fs = std::filesystem;
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(50);

Endpoint AdminOf(const Endpoint& e) {
  Endpoint admin = e;
  admin.database = "postgres";
  return admin;
}

// Polls `done` until it returns true or the deadline passes. `done` may set
// `last` to explain the most recent failure.
bool PollUntil(Clock& clock, MonoTime deadline, const std::function<bool()>& done) {
  return pilotlight::PollUntil(clock, deadline, kPollInterval, done);
}

std::string QuoteIdent(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QuoteLiteral(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

constexpr char kHbaSaved[] = ".pilotlight-unfenced";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The pg_hba.conf the server reads, as a file name inside its data directory.
Result<std::string> HbaFileName(Connection& conn, const LocalServer& local) {
  Result<Rows> r = conn.Query("SELECT current_setting('hba_file') AS f");
  if (!r.ok()) return r.status();
  const fs::path hba = r->Get(0, "f").value_or("");
  std::error_code ec;
  if (!fs::equivalent(hba.parent_path(), local.data_dir, ec)) {
    return Status::FailedPrecondition("hba_file " + hba.string() + " is outside the data directory " +
                                      local.data_dir + "; fence with read-only or stop the server");
  }
  return hba.filename().string();
}

// Prepends rules rejecting every client connection to `dbs`, keeping the
// original file aside (its presence marks the fence) so Unfence restores it.
Status CloseDatabasesInHba(Connection& conn, const LocalServer& local,
                           const std::vector<std::string>& dbs) {
  Result<std::string> name = HbaFileName(conn, local);
  if (!name.ok()) return name.status();
  const std::string path = local.data_dir + "/" + *name;
  const std::string saved_name = *name + kHbaSaved;
  if (!fs::exists(local.data_dir + "/" + saved_name)) {
    PL_RETURN_IF_ERROR(WriteServerFile(local, saved_name, ReadText(path)));
  }
  std::string list;
  for (const std::string& db : dbs) list += (list.empty() ? "" : ",") + QuoteIdent(db);
  std::string fenced =
      "# pilotlight fence: client connections to the application databases are rejected\n"
      "# until the fence is lifted (the original rules are in " + saved_name + ").\n";
  if (!list.empty()) {
    fenced += "local\t" + list + "\tall\treject\n";
    fenced += "host\t" + list + "\tall\tall\treject\n";
  }
  fenced += ReadText(local.data_dir + "/" + saved_name);
  PL_RETURN_IF_ERROR(WriteServerFile(local, *name, fenced));
  return conn.Exec("SELECT pg_reload_conf()");
}

Status OpenHba(Connection& conn, const LocalServer& local) {
  Result<std::string> name = HbaFileName(conn, local);
  if (!name.ok()) return name.status();
  const std::string saved = local.data_dir + "/" + *name + kHbaSaved;
  if (!fs::exists(saved)) return Status::OK();
  std::error_code ec;
  fs::rename(saved, local.data_dir + "/" + *name, ec);
  if (ec) return Status::IOError("cannot restore " + saved + ": " + ec.message());
  return conn.Exec("SELECT pg_reload_conf()");
}

// The roles a fence revoked LOGIN from, so that lifting the fence (or promoting
// the replica, which received the revocation by replication) restores exactly
// those and no role an operator had locked on purpose. A table in the admin
// database: it replicates with the revocation itself.
constexpr char kFencedRolesTable[] = "pilotlight_fenced_roles";

Status EnsureFencedRolesTable(Connection& admin) {
  return admin.Exec(std::string("CREATE TABLE IF NOT EXISTS ") + kFencedRolesTable +
                    " (role name PRIMARY KEY, fenced_at timestamptz NOT NULL)");
}

// Revokes LOGIN from `role` (recording it when it could log in) and ends its
// sessions. Returns how many sessions were ended. The admin session must be
// writable (default_transaction_read_only off).
Result<int> RevokeApplicationLogin(Connection& admin, const std::string& role) {
  PL_RETURN_IF_ERROR(EnsureFencedRolesTable(admin));
  Result<Rows> can = admin.Query(
      "SELECT rolcanlogin::text AS login, rolsuper::text AS super FROM pg_roles "
      "WHERE rolname = $1",
      {role});
  if (!can.ok()) return can.status();
  if (can->empty()) {
    return Status::NotFound("the application role '" + role + "' does not exist on " +
                            admin.endpoint().ToString() +
                            "; set the region's postgres.app_user to the role the application "
                            "logs in as");
  }
  if (can->Get(0, "super").value_or("") == "true") {
    return Status::FailedPrecondition("the application role '" + role +
                                      "' is a superuser: no fence can keep it from "
                                      "writing; give the application a role without SUPERUSER");
  }
  if (can->Get(0, "login").value_or("") == "true") {
    PL_RETURN_IF_ERROR(admin.Exec("BEGIN; INSERT INTO " + std::string(kFencedRolesTable) +
                                  " VALUES (" + QuoteLiteral(role) +
                                  ", now()) ON CONFLICT (role) DO NOTHING; ALTER ROLE " +
                                  QuoteIdent(role) + " NOLOGIN; COMMIT"));
  }
  Result<Rows> ended = admin.Query(
      "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::text AS n "
      "FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()",
      {role});
  if (!ended.ok()) return ended.status();
  return std::atoi(ended->Get(0, "n").value_or("0").c_str());
}

// Gives LOGIN back to the roles a fence took it from. Returns them.
Result<std::vector<std::string>> RestoreApplicationLogins(Connection& admin) {
  Result<Rows> exists = admin.Query("SELECT to_regclass($1) IS NOT NULL AS e", {kFencedRolesTable});
  if (!exists.ok()) return exists.status();
  std::vector<std::string> restored;
  if (exists->Get(0, "e").value_or("f") != "t") return restored;
  Result<Rows> roles = admin.Query(std::string("SELECT role::text AS role FROM ") +
                                   kFencedRolesTable + " ORDER BY role");
  if (!roles.ok()) return roles.status();
  for (size_t i = 0; i < roles->rows.size(); ++i) {
    const std::string role = roles->Get(i, "role").value_or("");
    Result<Rows> r = admin.Query("SELECT 1 FROM pg_roles WHERE rolname = $1", {role});
    if (!r.ok()) return r.status();
    std::string sql = "BEGIN; ";
    if (!r->empty()) sql += "ALTER ROLE " + QuoteIdent(role) + " LOGIN; ";
    sql += "DELETE FROM " + std::string(kFencedRolesTable) + " WHERE role = " + QuoteLiteral(role) +
           "; COMMIT";
    PL_RETURN_IF_ERROR(admin.Exec(sql));
    restored.push_back(role);
  }
  return restored;
}

// Tries to commit a write as the application would if it wanted to get past a
// read-only default: BEGIN READ WRITE, a temporary table (TEMP is granted to
// every role by default, so the attempt needs no grant), an INSERT, COMMIT.
// OK when the write committed; otherwise `sqlstate` (when given) is the
// server's reason, "" when it gave none (the connection was lost).
Status ApplicationWrite(Connection& app, std::string* sqlstate = nullptr) {
  Status s = app.Exec(
      "BEGIN READ WRITE; CREATE TEMP TABLE IF NOT EXISTS pilotlight_fence_probe (at timestamptz); "
      "INSERT INTO pilotlight_fence_probe VALUES (clock_timestamp()); COMMIT");
  if (sqlstate != nullptr) *sqlstate = s.ok() ? "" : app.last_sqlstate();
  if (!s.ok()) (void)app.Exec("ROLLBACK");
  return s;
}

// After a promotion, no sequence of the application database may hand out an
// id the old primary could have handed out past what replicated (an
// acknowledged order lost with the asynchronous tail keeps its id; a new order
// must not take it). Each bigint sequence jumps to the new timeline's range,
// timeline * 2^40: the old primary, on an earlier timeline, issued ids below it
// (unless it issued 2^40 of them in one timeline). Returns the sequences moved.
Result<int> MoveSequencesToTimeline(Connection& db, int timeline) {
  const std::string start = std::to_string(static_cast<int64_t>(timeline) << 40);
  Result<Rows> moved = db.Query(
      "SELECT count(setval(format('%I.%I', schemaname, sequencename), $1::bigint, false))::text "
      "AS n FROM pg_sequences WHERE data_type = 'bigint'::regtype "
      "AND coalesce(last_value, 0) < $1::bigint AND max_value >= $1::bigint",
      {start});
  if (!moved.ok()) return moved.status();
  return std::atoi(moved->Get(0, "n").value_or("0").c_str());
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

int ParseTimelineFromWalFile(const std::string& walfile) {
  if (walfile.size() < 8) return 0;
  return static_cast<int>(std::strtol(walfile.substr(0, 8).c_str(), nullptr, 16));
}

}  // namespace

Result<ServerRole> ReadServerRole(Connection& conn) {
  Result<Rows> r = conn.Query(
      "SELECT pg_is_in_recovery()::text AS recovery, "
      "  CASE WHEN pg_is_in_recovery() THEN NULL "
      "       ELSE pg_walfile_name(pg_current_wal_lsn()) END AS walfile, "
      "  (SELECT received_tli FROM pg_stat_wal_receiver)::text AS received_tli, "
      "  (SELECT timeline_id FROM pg_control_checkpoint())::text AS checkpoint_tli, "
      "  current_setting('default_transaction_read_only') AS read_only");
  if (!r.ok()) return r.status();
  if (r->empty()) return Status::Internal("no row from the server role query");
  ServerRole role;
  role.in_recovery = r->Get(0, "recovery").value_or("") == "true";
  role.read_only_default = r->Get(0, "read_only").value_or("") == "on";
  if (auto wal = r->Get(0, "walfile")) {
    role.timeline = ParseTimelineFromWalFile(*wal);
  } else {
    const int received = std::atoi(r->Get(0, "received_tli").value_or("0").c_str());
    const int checkpoint = std::atoi(r->Get(0, "checkpoint_tli").value_or("0").c_str());
    role.timeline = received > checkpoint ? received : checkpoint;
  }
  return role;
}

Status ProbeWrite(Connection& conn, const std::string& writer) {
  PL_RETURN_IF_ERROR(conn.Exec(std::string("CREATE TABLE IF NOT EXISTS ") + kWriteProbeTable +
                               " (id int PRIMARY KEY, written_at timestamptz NOT NULL, "
                               "writer text NOT NULL)"));
  Result<Rows> r = conn.Query(std::string("INSERT INTO ") + kWriteProbeTable +
                                  " VALUES (1, clock_timestamp(), $1) ON CONFLICT (id) DO UPDATE "
                                  "SET written_at = EXCLUDED.written_at, writer = EXCLUDED.writer",
                              {writer});
  return r.ok() ? Status::OK() : r.status();
}

std::string PromoteOutcome::ToString() const {
  if (already_primary) {
    return "already a primary on timeline " + std::to_string(timeline_after) +
           ": nothing to promote; writes verified";
  }
  return "promoted from timeline " + std::to_string(timeline_before) + " to " +
         std::to_string(timeline_after) + " in " + FormatDuration(took) +
         (lifted_fence ? "; lifted an old fence" : "") +
         (restored_logins.empty() ? "" : "; LOGIN restored to " + JoinNames(restored_logins)) +
         (sequences_moved == 0
              ? ""
              : "; " + std::to_string(sequences_moved) + " id sequence(s) moved to timeline " +
                    std::to_string(timeline_after) + "'s range") +
         "; writes verified";
}

Result<PromoteOutcome> Promote(const Endpoint& standby, Duration timeout, Clock& clock) {
  const MonoTime start = clock.Monotonic();
  const MonoTime deadline = start + timeout;
  Result<std::unique_ptr<Connection>> conn = Connection::Open(AdminOf(standby));
  if (!conn.ok()) return conn.status().Annotate("promote");
  Result<ServerRole> role = ReadServerRole(**conn);
  if (!role.ok()) return role.status().Annotate("promote");

  PromoteOutcome out;
  out.timeline_before = role->timeline;
  if (!role->in_recovery) {
    out.already_primary = true;
  } else {
    // A restartpoint at the last checkpoint replayed (the fence's, when the old
    // primary was fenced) makes it the last checkpoint both timelines share, so
    // pg_rewind later needs only the old primary's most recent WAL.
    PL_RETURN_IF_ERROR((*conn)->Exec("CHECKPOINT"));
    const auto wait_s = std::chrono::duration_cast<std::chrono::seconds>(timeout).count();
    LogInfo("promoting " + standby.ToString() + " (timeline " + std::to_string(role->timeline) +
            ")");
    Result<Rows> promoted = (*conn)->Query("SELECT pg_promote(true, $1)::text AS done",
                                           {std::to_string(wait_s < 1 ? 1 : wait_s)});
    if (!promoted.ok()) return promoted.status().Annotate("pg_promote");
    if (promoted->Get(0, "done").value_or("") != "true") {
      return Status::Timeout("PostgreSQL " + standby.ToString() + " did not finish promotion within " +
                             FormatDuration(timeout) + "; see its log, then promote again");
    }
  }

  // A promoted server must be writable: lift a fence it may carry from its
  // earlier life as a fenced primary (rewound servers copy postgresql.auto.conf).
  Result<ServerRole> now = ReadServerRole(**conn);
  if (!now.ok()) return now.status().Annotate("promote");
  if (now->in_recovery) {
    return Status::Internal("PostgreSQL " + standby.ToString() +
                            " reported promotion but is still in recovery");
  }
  Result<Rows> fence = (*conn)->Query(
      "SELECT (SELECT count(*) FROM pg_file_settings WHERE name = "
      "'default_transaction_read_only' AND setting = 'on' AND applied)::text AS fenced");
  if (fence.ok() && fence->Get(0, "fenced").value_or("0") != "0") {
    PL_RETURN_IF_ERROR((*conn)->Exec("ALTER SYSTEM RESET default_transaction_read_only"));
    PL_RETURN_IF_ERROR((*conn)->Exec("SELECT pg_reload_conf()"));
    out.lifted_fence = true;
  }
  // A fence of the old primary revoked the application's LOGIN, and the
  // revocation replicated here: the new primary's application must log in.
  Result<std::vector<std::string>> restored = RestoreApplicationLogins(**conn);
  if (!restored.ok()) return restored.status().Annotate("promote: restoring application logins");
  out.restored_logins = *restored;
  // The end-of-recovery checkpoint makes pg_control carry the new timeline, which
  // pg_rewind reads when the old primary is later rewound from this server.
  if (!out.already_primary) PL_RETURN_IF_ERROR((*conn)->Exec("CHECKPOINT"));

  Status last;
  const bool writable = PollUntil(clock, deadline, [&] {
    Result<std::unique_ptr<Connection>> fresh = Connection::Open(standby);
    if (!fresh.ok()) {
      last = fresh.status();
      return false;
    }
    last = ProbeWrite(**fresh, "promote");
    if (!last.ok()) return false;
    if (standby.has_application_role()) {
      Result<std::unique_ptr<Connection>> app = Connection::Open(standby.AsApplication());
      last = app.ok() ? ApplicationWrite(**app) : app.status();
      if (!last.ok()) return false;
    }
    Result<ServerRole> r = ReadServerRole(**fresh);
    if (r.ok()) out.timeline_after = r->timeline;
    return r.ok();
  });
  if (!writable) {
    return Status::Timeout("promoted PostgreSQL " + standby.ToString() +
                           " does not accept writes: " + last.message());
  }
  if (!out.already_primary && out.timeline_after <= out.timeline_before) {
    return Status::Internal("PostgreSQL " + standby.ToString() + " was promoted but stayed on timeline " +
                            std::to_string(out.timeline_after));
  }
  // Idempotent (a sequence already in the range is left alone), so it runs for
  // an already-promoted server too: a promotion interrupted before it.
  {
    Result<std::unique_ptr<Connection>> db = Connection::Open(standby);
    if (!db.ok()) return db.status().Annotate("promote: moving the id sequences");
    Result<int> moved = MoveSequencesToTimeline(**db, out.timeline_after);
    if (!moved.ok()) return moved.status().Annotate("promote: moving the id sequences");
    out.sequences_moved = *moved;
  }
  out.took = clock.Monotonic() - start;
  LogInfo("PostgreSQL " + standby.ToString() + ": " + out.ToString());
  return out;
}

const char* FenceModeName(FenceMode mode) {
  return mode == FenceMode::kReadOnly ? "read-only" : "no-connections";
}

Result<FenceMode> ParseFenceMode(const std::string& name) {
  if (name == "read-only") return FenceMode::kReadOnly;
  if (name == "no-connections") return FenceMode::kNoConnections;
  return Status::InvalidArgument("unknown fence mode '" + name +
                                 "': expected read-only or no-connections");
}

std::string FenceOutcome::ToString() const {
  if (standby) return "the server is a standby: it refuses writes already";
  std::string s = already_fenced ? "already fenced" : "fenced";
  if (!revoked_login.empty()) s += "; LOGIN revoked from " + revoked_login;
  s += "; terminated " + std::to_string(terminated_sessions) + " client session(s)";
  if (!closed_databases.empty()) {
    s += "; closed to connections:";
    for (const std::string& d : closed_databases) s += " " + d;
  }
  return s + "; verified: " + verified;
}

FenceState ReadFenceState(const Endpoint& server) {
  FenceState st;
  Result<std::unique_ptr<Connection>> admin = Connection::Open(AdminOf(server));
  if (!admin.ok()) {
    st.detail = admin.status().message();
    return st;
  }
  st.reachable = true;
  if (Result<ServerRole> role = ReadServerRole(**admin); role.ok()) {
    st.in_recovery = role->in_recovery;
    st.read_only_default = role->read_only_default;
  }
  if (server.has_application_role()) {
    st.application_role = server.application_user;
    Result<Rows> r = (*admin)->Query(
        "SELECT (SELECT NOT rolcanlogin FROM pg_roles WHERE rolname = $1)::text AS revoked, "
        "  (SELECT count(*) FROM pg_stat_activity WHERE usename = $1)::text AS sessions",
        {server.application_user});
    if (r.ok() && !r->empty()) {
      st.application_login_revoked = r->Get(0, "revoked").value_or("") == "true";
      st.application_sessions = std::atoi(r->Get(0, "sessions").value_or("0").c_str());
    }
  }
  Result<std::unique_ptr<Connection>> app = Connection::Open(server.AsApplication());
  if (!app.ok()) {
    st.app_database_accepts_connections = false;
    st.detail = app.status().message();
    return st;
  }
  if (server.has_application_role()) {
    // The application's own attempt, the way a client past the default would.
    std::string sqlstate;
    Status write = ApplicationWrite(**app, &sqlstate);
    st.application_write_accepted = write.ok();
    st.write_refused = !write.ok() && sqlstate == kSqlStateReadOnlyTransaction;
    st.detail = write.ok()
                    ? "a BEGIN READ WRITE transaction of " + server.application_user + " committed"
                    : write.message();
    return st;
  }
  Status write = ProbeWrite(**app, "fence-check");
  st.write_refused = !write.ok() && (*app)->last_sqlstate() == kSqlStateReadOnlyTransaction;
  st.application_write_accepted = write.ok();
  st.detail = write.ok() ? "a write was accepted" : write.message();
  return st;
}

WriteAttempt AttemptApplicationWrite(const Endpoint& server) {
  WriteAttempt out;
  const Endpoint app = server.AsApplication();
  Result<std::unique_ptr<Connection>> conn = Connection::Open(app);
  if (!conn.ok()) {
    const std::string& m = conn.status().message();
    out.refused = m.find("not permitted to log in") != std::string::npos ||
                  m.find("pg_hba.conf rejects") != std::string::npos ||
                  m.find("no pg_hba.conf entry") != std::string::npos ||
                  m.find("database system is shutting down") != std::string::npos;
    out.detail = (out.refused ? "refused: " : "unreachable: ") + m;
    return out;
  }
  std::string sqlstate;
  Status write = ApplicationWrite(**conn, &sqlstate);
  out.committed = write.ok();
  out.refused = !write.ok() && !sqlstate.empty();
  out.detail = write.ok() ? "BEGIN READ WRITE as " + app.user + " committed"
                          : (out.refused ? "refused: " : "failed: ") + write.message();
  return out;
}

bool FenceState::fenced() const {
  if (!reachable) return false;
  if (in_recovery) return true;
  if (!application_role.empty()) {
    // No application client can commit: none can log in (or reach the
    // database), none is still connected, and the attempt did not commit.
    return !application_write_accepted && application_sessions == 0 &&
           (application_login_revoked || !app_database_accepts_connections);
  }
  return write_refused || !app_database_accepts_connections;
}

Result<FenceOutcome> Fence(const Endpoint& server, FenceMode mode, Duration timeout,
                           Clock& clock, const LocalServer* local) {
  if (mode == FenceMode::kNoConnections && local == nullptr) {
    return Status::InvalidArgument("the no-connections fence edits pg_hba.conf: it needs the data "
                                   "directory of " + server.ToString());
  }
  const MonoTime deadline = clock.Monotonic() + timeout;
  Result<std::unique_ptr<Connection>> admin = Connection::Open(AdminOf(server));
  if (!admin.ok()) return admin.status().Annotate("fence");
  Connection& conn = **admin;
  Result<ServerRole> role = ReadServerRole(conn);
  if (!role.ok()) return role.status().Annotate("fence");
  FenceOutcome out;
  if (role->in_recovery) {
    out.standby = true;
    out.verified = "in recovery";
    return out;
  }
  const FenceState before = ReadFenceState(server);
  // Our own session must be able to change the catalog while the fence goes up.
  PL_RETURN_IF_ERROR(conn.Exec("SET default_transaction_read_only = off"));

  // First the application's role loses LOGIN and its sessions end: a default
  // is only a default (BEGIN READ WRITE talks past it), a permission is not.
  if (server.has_application_role()) {
    Result<int> ended = RevokeApplicationLogin(conn, server.application_user);
    if (!ended.ok()) return ended.status().Annotate("fence");
    out.revoked_login = server.application_user;
    out.terminated_sessions += *ended;
  }

  if (mode == FenceMode::kNoConnections) {
    Result<Rows> dbs = conn.Query(
        "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' "
        "ORDER BY datname");
    if (!dbs.ok()) return dbs.status().Annotate("fence");
    for (size_t i = 0; i < dbs->rows.size(); ++i) {
      out.closed_databases.push_back(dbs->Get(i, "datname").value_or(""));
    }
    PL_RETURN_IF_ERROR(CloseDatabasesInHba(conn, *local, out.closed_databases));
  }
  PL_RETURN_IF_ERROR(conn.Exec("ALTER SYSTEM SET default_transaction_read_only = on"));
  PL_RETURN_IF_ERROR(conn.Exec("SELECT pg_reload_conf()"));
  out.already_fenced = before.fenced() && before.read_only_default &&
                       (mode == FenceMode::kReadOnly || !before.app_database_accepts_connections);

  // First see the new default from a fresh session (the postmaster has reloaded,
  // so every backend forked from now on is fenced). Then end every client
  // backend older than that (not walsenders: the replica keeps catching up), as
  // such a session may have turned read-only off for itself.
  std::string last;
  auto observed = [&] {
    FenceState st = ReadFenceState(server);
    last = st.detail;
    if (mode == FenceMode::kNoConnections) {
      if (st.app_database_accepts_connections) return false;
      out.verified = "a new connection to " + server.database + " is refused (" + st.detail + ")";
      return true;
    }
    if (server.has_application_role()) {
      if (!st.fenced()) return false;
      out.verified =
          "the application role " + server.application_user + " cannot commit (" + st.detail + ")";
      return true;
    }
    if (!st.write_refused) return false;
    out.verified = "a write in the default transaction mode is refused (" + st.detail + ")";
    return true;
  };
  bool verified = PollUntil(clock, deadline, observed);
  if (verified) {
    Result<Rows> older = conn.Query(
        "SELECT coalesce(string_agg(pid::text, ','), '') AS pids, "
        "  count(*) FILTER (WHERE pg_terminate_backend(pid))::text AS n "
        "FROM pg_stat_activity WHERE backend_type = 'client backend' "
        "AND pid <> pg_backend_pid()");
    if (!older.ok()) return older.status().Annotate("fence: terminating client sessions");
    out.terminated_sessions += std::atoi(older->Get(0, "n").value_or("0").c_str());
    const std::string pids = older->Get(0, "pids").value_or("");
    if (!pids.empty()) {
      verified = PollUntil(clock, deadline, [&] {
        Result<Rows> left = conn.Query(
            "SELECT count(*)::text AS n FROM pg_stat_activity WHERE pid = ANY(string_to_array($1, "
            "',')::int[])",
            {pids});
        last = "client sessions opened before the fence are still ending";
        return left.ok() && left->Get(0, "n").value_or("1") == "0";
      });
    }
    verified = verified && observed();
  }
  // A checkpoint the replica replays before its promotion becomes the last
  // checkpoint both timelines share: pg_rewind will need little old WAL.
  if (verified) PL_RETURN_IF_ERROR(conn.Exec("CHECKPOINT"));
  if (!verified) {
    return Status::Timeout("fenced PostgreSQL " + server.ToString() + " but could not verify within " +
                           FormatDuration(timeout) + " that it refuses writes: " + last +
                           "; stop the server to fence it");
  }
  LogInfo("PostgreSQL " + server.ToString() + ": " + out.ToString());
  return out;
}

Status Unfence(const Endpoint& server, Duration timeout, Clock& clock,
               const LocalServer* local) {
  const MonoTime deadline = clock.Monotonic() + timeout;
  Result<std::unique_ptr<Connection>> admin = Connection::Open(AdminOf(server));
  if (!admin.ok()) return admin.status().Annotate("unfence");
  Connection& conn = **admin;
  Result<ServerRole> role = ReadServerRole(conn);
  if (!role.ok()) return role.status().Annotate("unfence");
  if (role->in_recovery) {
    return Status::FailedPrecondition("PostgreSQL " + server.ToString() +
                                      " is a standby: promote it instead of lifting a fence");
  }
  if (local != nullptr) PL_RETURN_IF_ERROR(OpenHba(conn, *local));
  PL_RETURN_IF_ERROR(conn.Exec("SET default_transaction_read_only = off"));
  Result<std::vector<std::string>> restored = RestoreApplicationLogins(conn);
  if (!restored.ok()) return restored.status().Annotate("unfence");
  PL_RETURN_IF_ERROR(conn.Exec("ALTER SYSTEM RESET default_transaction_read_only"));
  PL_RETURN_IF_ERROR(conn.Exec("SELECT pg_reload_conf()"));
  Status last;
  if (!PollUntil(clock, deadline, [&] {
        Result<std::unique_ptr<Connection>> fresh = Connection::Open(server);
        last = fresh.ok() ? ProbeWrite(**fresh, "unfence") : fresh.status();
        if (last.ok() && server.has_application_role()) {
          Result<std::unique_ptr<Connection>> app = Connection::Open(server.AsApplication());
          last = app.ok() ? ApplicationWrite(**app) : app.status();
        }
        return last.ok();
      })) {
    return Status::Timeout("lifted the fence of PostgreSQL " + server.ToString() +
                           " but it still refuses writes: " + last.message());
  }
  LogInfo("PostgreSQL " + server.ToString() + ": fence lifted" +
          (restored->empty() ? "" : "; LOGIN restored to " + JoinNames(*restored)) +
          "; writes verified");
  return Status::OK();
}

Status SetSynchronousStandby(const Endpoint& primary, const std::string& standby_name) {
  for (char c : standby_name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      return Status::InvalidArgument("standby name '" + standby_name +
                                     "' may hold only letters, digits, '_' and '-'");
    }
  }
  Result<std::unique_ptr<Connection>> conn = Connection::Open(AdminOf(primary));
  if (!conn.ok()) return conn.status().Annotate("synchronous replication");
  if (standby_name.empty()) {
    PL_RETURN_IF_ERROR((*conn)->Exec("ALTER SYSTEM RESET synchronous_standby_names"));
    PL_RETURN_IF_ERROR((*conn)->Exec("ALTER SYSTEM RESET synchronous_commit"));
  } else {
    PL_RETURN_IF_ERROR((*conn)->Exec("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (\"" +
                                     standby_name + "\")'"));
    PL_RETURN_IF_ERROR((*conn)->Exec("ALTER SYSTEM SET synchronous_commit = 'remote_apply'"));
  }
  return (*conn)->Exec("SELECT pg_reload_conf()");
}

}  // namespace pilotlight::pg
