#include "data/postgres/rejoin.h"

#include <filesystem>
#include <fstream>

#include "core/duration.h"
#include "core/log.h"
#include "data/postgres/failover.h"

namespace pilotlight::pg {
namespace fs = std::filesystem;
namespace {

constexpr char kIncludeLine[] = "include_if_exists = 'pilotlight_standby.conf'";

std::string QuoteConf(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

Status CheckName(const std::string& what, const std::string& v) {
  if (v.empty()) return Status::InvalidArgument(what + " is empty");
  for (char c : v) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return Status::InvalidArgument(what + " '" + v + "' may hold only letters, digits, '_', '-', '.'");
    }
  }
  return Status::OK();
}

Status EnsureSlot(Connection& primary, const std::string& slot) {
  Result<Rows> found = primary.Query(
      "SELECT active::text AS active FROM pg_replication_slots WHERE slot_name = $1", {slot});
  if (!found.ok()) return found.status();
  if (!found->empty()) return Status::OK();
  Result<Rows> made =
      primary.Query("SELECT pg_create_physical_replication_slot($1, true)", {slot});
  return made.ok() ? Status::OK() : made.status().Annotate("creating slot " + slot);
}

Result<std::string> WritePassfile(const RejoinSpec& spec) {
  return WriteToolPassfile(spec.new_primary, PassfileOf(spec.server), spec.server.user);
}

Status RunRewind(const RejoinSpec& spec, Duration timeout) {
  const LocalServer& s = spec.server;
  Endpoint source = spec.new_primary;
  source.database = "postgres";
  LogInfo("pg_rewind " + s.data_dir + " from " + source.ToString());
  Result<std::string> passfile = WritePassfile(spec);
  if (!passfile.ok()) return passfile.status();
  return sys::RunToCompletion({{s.bin_dir + "/pg_rewind", "--target-pgdata=" + s.data_dir,
                                "--source-server=" + source.ToolConnInfo(*passfile) +
                                    " dbname=postgres",
                                "--progress"},
                               s.ToolLog(),
                               s.user},
                              timeout);
}

Status RunBasebackup(const RejoinSpec& spec, Duration timeout) {
  const LocalServer& s = spec.server;
  const std::string aside = s.data_dir + ".pilotlight-before-basebackup";
  std::error_code ec;
  fs::remove_all(aside, ec);
  fs::rename(s.data_dir, aside, ec);
  if (ec) return Status::IOError("cannot move " + s.data_dir + " aside: " + ec.message());
  LogInfo("pg_basebackup " + s.data_dir + " from " + spec.new_primary.ToString());
  Result<std::string> passfile = WritePassfile(spec);
  if (!passfile.ok()) return passfile.status();
  Status st = sys::RunToCompletion(
      {{s.bin_dir + "/pg_basebackup", "-d", spec.new_primary.ToolConnInfo(*passfile), "-D",
        s.data_dir, "-X", "stream", "-S", spec.slot, "--checkpoint=fast", "--no-password"},
       s.ToolLog(),
       s.user},
      timeout);
  if (!st.ok()) {
    // Put the old data back: a failed re-clone must not leave nothing behind.
    fs::remove_all(s.data_dir, ec);
    fs::rename(aside, s.data_dir, ec);
    return st;
  }
  fs::remove_all(aside, ec);
  return Status::OK();
}

Status WriteStandbyConfig(const RejoinSpec& spec) {
  const LocalServer& s = spec.server;
  PL_RETURN_IF_ERROR(WriteServerFile(s, kStandbyConfFile, StandbyConf(spec)));
  PL_RETURN_IF_ERROR(WriteServerFile(s, "standby.signal", ""));
  std::ifstream in(s.data_dir + "/postgresql.conf");
  std::string conf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (conf.find(kIncludeLine) == std::string::npos) {
    if (!conf.empty() && conf.back() != '\n') conf += '\n';
    conf += std::string("# pilotlight rejoin: standby settings, last so they win.\n") +
            kIncludeLine + "\n";
    PL_RETURN_IF_ERROR(WriteServerFile(s, "postgresql.conf", conf));
  }
  return Status::OK();
}

}  // namespace

std::string RejoinOutcome::ToString() const {
  std::string s = method == "already streaming"
                      ? "already streaming from the new primary"
                      : "rejoined by " + method + " in " + FormatDuration(took);
  if (!rewind_error.empty()) s += " (pg_rewind failed: " + rewind_error + ")";
  return s + "; streaming on timeline " + std::to_string(timeline);
}

std::string StandbyConf(const RejoinSpec& spec) {
  const Endpoint& p = spec.new_primary;
  std::string conf = "# Written by pilotlight rejoin: a standby of " + p.host + ":" +
                     std::to_string(p.port) + ".\n";
  if (!spec.server.endpoint.host.empty()) {
    conf += "listen_addresses = " + QuoteConf(spec.server.endpoint.host) + "\n";
    conf += "port = " + std::to_string(spec.server.endpoint.port) + "\n";
  }
  conf += "primary_conninfo = " +
          QuoteConf(p.ToolConnInfo(p.password_file.empty() ? "" : PassfileOf(spec.server)) +
                    " application_name=" + spec.application_name) +
          "\n";
  conf += "primary_slot_name = " + QuoteConf(spec.slot) + "\n";
  conf += "recovery_target_timeline = 'latest'\n";
  return conf;
}

Result<bool> IsStreamingTo(const Endpoint& primary, const std::string& application_name) {
  Endpoint admin = primary;
  admin.database = "postgres";
  Result<std::unique_ptr<Connection>> conn = Connection::Open(admin);
  if (!conn.ok()) return conn.status();
  Result<Rows> r = (*conn)->Query(
      "SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'",
      {application_name});
  if (!r.ok()) return r.status();
  return !r->empty();
}

Result<RejoinOutcome> Rejoin(const RejoinSpec& spec, Clock& clock) {
  PL_RETURN_IF_ERROR(CheckName("application name", spec.application_name));
  PL_RETURN_IF_ERROR(CheckName("slot", spec.slot));
  const MonoTime start = clock.Monotonic();
  const MonoTime deadline = start + spec.timeout;
  auto left = [&] {
    const Duration d = deadline - clock.Monotonic();
    return d < std::chrono::seconds(1) ? Duration(std::chrono::seconds(1)) : d;
  };
  RejoinOutcome out;

  Endpoint primary_admin = spec.new_primary;
  primary_admin.database = "postgres";
  Result<std::unique_ptr<Connection>> primary = Connection::Open(primary_admin);
  if (!primary.ok()) return primary.status().Annotate("rejoin: the new primary");
  Result<ServerRole> primary_role = ReadServerRole(**primary);
  if (!primary_role.ok()) return primary_role.status().Annotate("rejoin: the new primary");
  if (primary_role->in_recovery) {
    return Status::FailedPrecondition("rejoin: " + spec.new_primary.ToString() +
                                      " is a standby, not a primary; promote it first");
  }

  // Idempotence: already a standby streaming from the new primary.
  if (RunningPostmaster(spec.server)) {
    Endpoint self = spec.server.endpoint;
    self.database = "postgres";
    if (auto conn = Connection::Open(self); conn.ok()) {
      Result<ServerRole> role = ReadServerRole(**conn);
      Result<bool> streaming = IsStreamingTo(spec.new_primary, spec.application_name);
      if (role.ok() && role->in_recovery && streaming.ok() && *streaming) {
        out.method = "already streaming";
        out.timeline = role->timeline;
        out.took = clock.Monotonic() - start;
        return out;
      }
    }
  }

  PL_RETURN_IF_ERROR(StopServer(spec.server, left()));
  PL_RETURN_IF_ERROR(EnsureCleanShutdown(spec.server, left()));
  PL_RETURN_IF_ERROR(EnsureSlot(**primary, spec.slot));
  // pg_rewind reads the source's timeline from its control file: checkpoint so it
  // is current even right after a promotion.
  PL_RETURN_IF_ERROR((*primary)->Exec("CHECKPOINT"));

  Status rewound = Status::FailedPrecondition("a re-clone was asked for");
  if (!spec.force_basebackup) rewound = RunRewind(spec, left());
  if (rewound.ok()) {
    out.method = "pg_rewind";
  } else {
    if (!spec.force_basebackup) {
      out.rewind_error = rewound.message();
      LogWarn("pg_rewind of " + spec.server.data_dir + " failed; re-cloning: " + rewound.message());
    }
    PL_RETURN_IF_ERROR(RunBasebackup(spec, left()));
    out.method = "pg_basebackup";
  }
  PL_RETURN_IF_ERROR(WriteStandbyConfig(spec));
  PL_RETURN_IF_ERROR(StartServer(spec.server, left()));

  Status last = Status::Timeout("not streaming yet");
  for (;;) {
    Result<bool> streaming = IsStreamingTo(spec.new_primary, spec.application_name);
    if (streaming.ok() && *streaming) break;
    if (!streaming.ok()) last = streaming.status();
    if (clock.Monotonic() >= deadline) {
      return Status::Timeout("rejoined " + spec.server.data_dir + " by " + out.method +
                             " but it does not stream from " + spec.new_primary.ToString() +
                             " within the deadline (" + last.message() + "); see " +
                             spec.server.log_file);
    }
    clock.SleepFor(std::chrono::milliseconds(100));  // polling replication state
  }
  Endpoint self = spec.server.endpoint;
  self.database = "postgres";
  if (auto conn = Connection::Open(self); conn.ok()) {
    if (Result<ServerRole> role = ReadServerRole(**conn); role.ok()) out.timeline = role->timeline;
  }
  out.took = clock.Monotonic() - start;
  LogInfo(spec.server.data_dir + ": " + out.ToString());
  return out;
}

}  // namespace pilotlight::pg
