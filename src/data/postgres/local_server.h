// A PostgreSQL server whose data directory pilotlight can reach: the effects a
// failback needs beyond SQL (stop it cleanly, finish crash recovery, start it,
// read its control file). Used on the host of the server (the lab, or an agent
// beside a production server).
//
// Servers are started the way the lab starts them (the postgres binary as a
// daemon in its own session, as the postgres system user when we are root), and
// their pid is written to the same pid file the lab tracks, so the lab keeps
// managing a server pilotlight restarted. Thread-compatible: one caller per
// data directory at a time.
#pragma once

#include <optional>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "data/postgres/pg_client.h"
#include "sys/process.h"

namespace pilotlight::pg {

inline constexpr char kPostgresBinDir[] = "/usr/lib/postgresql/15/bin";

struct LocalServer {
  std::string data_dir;
  std::string pid_file;  // the postmaster's pid is written here on start ("" = none)
  std::string log_file;  // the server's own output
  std::optional<sys::RunAs> user;  // the postgres system user when we are root
  Endpoint endpoint;               // where it listens once started
  std::string bin_dir = kPostgresBinDir;

  // Where pilotlight's tools (pg_rewind, pg_basebackup, pg_ctl) log.
  std::string ToolLog() const;
};

// The .pgpass file of a server's outgoing connections (its primary_conninfo,
// pg_rewind, pg_basebackup): beside its data directory, so a re-clone keeps it.
inline std::string PassfileOf(const LocalServer& server) { return server.data_dir + ".pgpass"; }

// Writes `path` as a .pgpass file with e's password (from its password file),
// 0600 and owned by `owner` (libpq reads it only then), for PostgreSQL's own
// tools run as that user. Returns the path, or "" (writing nothing) when e has
// no password file.
Result<std::string> WriteToolPassfile(const Endpoint& e, const std::string& path,
                                      const std::optional<sys::RunAs>& owner);

// The fields of pg_controldata pilotlight reads.
struct ControlData {
  std::string cluster_state;  // "shut down", "shut down in recovery", "in production", ...
  int timeline = 0;           // latest checkpoint's timeline
  bool cleanly_shut_down() const {
    return cluster_state == "shut down" || cluster_state == "shut down in recovery";
  }
};
Result<ControlData> ReadControlData(const LocalServer& server);

// The live postmaster of the data directory (from its postmaster.pid), if any.
std::optional<pid_t> RunningPostmaster(const LocalServer& server);

// Stops the server with a fast shutdown (a clean shutdown checkpoint). OK when
// it is not running.
Status StopServer(const LocalServer& server, Duration timeout);

// The last-resort fence of a server on this host: SIGKILLs the postmaster and
// every process under it (backends included, each in a session of its own), so
// no session commits another write. No shutdown checkpoint: the next start runs
// crash recovery. OK when it is not running; `how` says what was done.
Status KillServer(const LocalServer& server, Clock& clock, std::string* how = nullptr);

// Starts the server and waits until it accepts connections. OK when it runs.
Status StartServer(const LocalServer& server, Duration timeout);

// pg_rewind needs a cleanly shut down target. A server that crashed (SIGKILL,
// power loss) is run once in single-user mode, which finishes crash recovery
// and shuts down cleanly. REQUIRES: the server is not running.
Status EnsureCleanShutdown(const LocalServer& server, Duration timeout);

// Helpers shared with rejoin.cc: files in a data directory owned by the server's user.
Status WriteServerFile(const LocalServer& server, const std::string& name,
                       const std::string& content);

}  // namespace pilotlight::pg
