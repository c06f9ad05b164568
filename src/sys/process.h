// Processes and ports: starting, finding and stopping servers (the OS effects
// the lab and the data adapters need).
//
// The lab runs real servers (PostgreSQL, Redis, pilotlight agents) as daemons in
// their own sessions, so one signal to the process group reaches a server and all
// its children, and a region can be killed the way a real outage kills it. These
// are thin wrappers over fork/exec, signals and /proc; all functions are
// thread-compatible and report failures as Status.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::sys {

// A system user to run a server as (PostgreSQL refuses to run as root).
struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The user to run servers as: `name` when we are root, nobody (nullopt) otherwise.
Result<std::optional<RunAs>> ServerUser(const std::string& name);

struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0] is an absolute path
  std::string log_file;           // stdout and stderr are appended here
  std::optional<RunAs> user;
};

// Starts a daemon in a new session (its pid is its process group id) and returns
// its pid once exec has succeeded. An exec failure is reported, not hidden.
Result<pid_t> SpawnDaemon(const SpawnSpec& spec);

// Runs a command to completion. On a non-zero exit the Status carries the last
// lines of its output.
Status RunToCompletion(const SpawnSpec& spec, Duration timeout);

// True when pid names a live (not zombie) process.
bool ProcessAlive(pid_t pid);

// The process's command line joined by spaces, or "" when it is gone.
std::string ProcessCommandLine(pid_t pid);

// Sends `sig` to the process group `pid` (and to pid itself).
void SignalGroup(pid_t pid, int sig);

// SIGKILLs `pid` and every process descended from it, wherever their process
// groups (PostgreSQL puts each backend in a session of its own): the tree is
// frozen first (SIGSTOP, parents before children, so none forks a child that is
// missed), then killed. Returns how many processes were killed; 0 when `pid` is
// gone. For a fence that must not leave one backend committing.
int KillProcessTree(pid_t pid);

// Waits until no process of group `pgid` is alive, up to `timeout`.
bool WaitGroupGone(pid_t pgid, Duration timeout);

// OK when addr:port can be bound (nothing listens there).
Status CheckPortFree(const std::string& address, uint16_t port);

// The first existing executable among `candidates`, or NotFound naming the
// Debian package that provides it.
Result<std::string> FindBinary(const std::vector<std::string>& candidates,
                               const std::string& debian_package);

// Pid files: one decimal pid and a newline.
Result<pid_t> ReadPidFile(const std::string& path);
Status WritePidFile(const std::string& path, pid_t pid);

// True when `user` can reach (search) every directory down to `dir`.
bool UserCanReach(const RunAs& user, const std::string& dir);

}  // namespace pilotlight::sys
