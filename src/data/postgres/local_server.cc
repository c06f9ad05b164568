#include "data/postgres/local_server.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/log.h"

namespace pilotlight::pg {
namespace fs = std::filesystem;
namespace {

std::string Tool(const LocalServer& s, const std::string& name) { return s.bin_dir + "/" + name; }

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string TempLog(const std::string& what) {
  std::string path = "/tmp/pilotlight-" + what + "-XXXXXX";
  int fd = mkstemp(path.data());
  if (fd >= 0) close(fd);
  return path;
}

// A postmaster killed with SIGKILL leaves postmaster.pid behind; PostgreSQL may
// take an unreaped zombie's pid for a live server. Remove the file once the
// process is provably gone.
void RemoveStalePostmasterPid(const LocalServer& s) {
  const std::string path = s.data_dir + "/postmaster.pid";
  Result<pid_t> pid = sys::ReadPidFile(path);
  if (!pid.ok() || sys::ProcessAlive(*pid)) return;
  LogWarn("removing stale " + path + " (postmaster " + std::to_string(*pid) + " is gone)");
  std::error_code ec;
  fs::remove(path, ec);
}

}  // namespace

std::string LocalServer::ToolLog() const {
  if (!log_file.empty()) return fs::path(log_file).parent_path().string() + "/postgres-tools.log";
  return fs::path(data_dir).parent_path().string() + "/postgres-tools.log";
}

Result<std::string> WriteToolPassfile(const Endpoint& e, const std::string& path,
                                      const std::optional<sys::RunAs>& owner) {
  if (e.password_file.empty()) return std::string();
  Result<std::string> password = ReadPasswordFile(e.password_file);
  if (!password.ok()) return password.status();
  const std::string tmp = path + ".pilotlight-tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot write " + tmp + ": " + std::strerror(errno));
  const std::string line = PgpassLine(e, *password);
  const bool wrote = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!wrote) return Status::IOError("cannot write " + tmp);
  if (owner && ::chown(tmp.c_str(), owner->uid, owner->gid) != 0) {
    return Status::IOError("cannot chown " + tmp + " to " + owner->name + ": " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IOError("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  }
  return path;
}

Status WriteServerFile(const LocalServer& server, const std::string& name,
                       const std::string& content) {
  const std::string path = server.data_dir + "/" + name;
  const std::string tmp = path + ".pilotlight-tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    out.flush();
    if (!out) return Status::IOError("cannot write " + tmp);
  }
  if (server.user && chown(tmp.c_str(), server.user->uid, server.user->gid) != 0) {
    return Status::IOError("cannot chown " + tmp + " to " + server.user->name + ": " +
                           std::strerror(errno));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::IOError("cannot rename " + tmp + " to " + path + ": " + ec.message());
  return Status::OK();
}

Result<ControlData> ReadControlData(const LocalServer& server) {
  const std::string out = TempLog("controldata");
  Status st = sys::RunToCompletion({{Tool(server, "pg_controldata"), "-D", server.data_dir}, out,
                                    server.user},
                                   std::chrono::seconds(30));
  const std::string text = ReadFileText(out);
  std::error_code ec;
  fs::remove(out, ec);
  if (!st.ok()) return st.Annotate("pg_controldata " + server.data_dir);
  ControlData cd;
  std::istringstream lines(text);
  std::string line;
  auto value = [](const std::string& l) {
    std::string v = l.substr(l.find(':') + 1);
    while (!v.empty() && v.front() == ' ') v.erase(v.begin());
    return v;
  };
  while (std::getline(lines, line)) {
    if (line.rfind("Database cluster state:", 0) == 0) cd.cluster_state = value(line);
    if (line.rfind("Latest checkpoint's TimeLineID:", 0) == 0) {
      cd.timeline = std::atoi(value(line).c_str());
    }
  }
  if (cd.cluster_state.empty()) {
    return Status::Corruption("pg_controldata " + server.data_dir + " printed no cluster state");
  }
  return cd;
}

std::optional<pid_t> RunningPostmaster(const LocalServer& server) {
  Result<pid_t> pid = sys::ReadPidFile(server.data_dir + "/postmaster.pid");
  if (!pid.ok() || !sys::ProcessAlive(*pid)) return std::nullopt;
  if (sys::ProcessCommandLine(*pid).find("postgres") == std::string::npos) return std::nullopt;
  return *pid;
}

Status StopServer(const LocalServer& server, Duration timeout) {
  std::optional<pid_t> pid = RunningPostmaster(server);
  if (!pid) {
    RemoveStalePostmasterPid(server);
    return Status::OK();
  }
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout).count();
  LogInfo("stopping PostgreSQL " + server.data_dir + " (pid " + std::to_string(*pid) + ")");
  PL_RETURN_IF_ERROR(sys::RunToCompletion(
      {{Tool(server, "pg_ctl"), "stop", "-D", server.data_dir, "-m", "fast", "-w", "-t",
        std::to_string(secs < 1 ? 1 : secs)},
       server.ToolLog(),
       server.user},
      timeout + std::chrono::seconds(5)));
  // Reap it when it is our own child, so it does not linger as a zombie.
  if (!sys::WaitGroupGone(*pid, std::chrono::seconds(10))) {
    return Status::Internal("PostgreSQL pid " + std::to_string(*pid) + " outlived pg_ctl stop");
  }
  if (!server.pid_file.empty()) {
    Result<pid_t> tracked = sys::ReadPidFile(server.pid_file);
    std::error_code ec;
    if (tracked.ok() && *tracked == *pid) fs::remove(server.pid_file, ec);
  }
  return Status::OK();
}

Status KillServer(const LocalServer& server, Clock& clock, std::string* how) {
  std::optional<pid_t> pid = RunningPostmaster(server);
  if (!pid) {
    if (how != nullptr) *how = "PostgreSQL " + server.data_dir + " is not running";
    return Status::OK();
  }
  const int killed = sys::KillProcessTree(*pid);
  // Reap it when it is our own child; the kill itself is immediate.
  for (int i = 0; i < 100 && sys::ProcessAlive(*pid); ++i) {
    (void)::waitpid(*pid, nullptr, WNOHANG);
    clock.SleepFor(std::chrono::milliseconds(10));  // polling a dying process
  }
  if (sys::ProcessAlive(*pid)) {
    return Status::Internal("PostgreSQL postmaster " + std::to_string(*pid) +
                            " is still alive after SIGKILL");
  }
  if (how != nullptr) {
    *how = "killed the postmaster " + std::to_string(*pid) + " of " + server.data_dir + " and " +
           std::to_string(killed > 0 ? killed - 1 : 0) + " process(es) under it";
  }
  return Status::OK();
}

Status StartServer(const LocalServer& server, Duration timeout) {
  if (RunningPostmaster(server)) return Status::OK();
  RemoveStalePostmasterPid(server);
  Result<std::string> postgres = sys::FindBinary({Tool(server, "postgres")}, "postgresql-15");
  if (!postgres.ok()) return postgres.status();
  Result<pid_t> pid = sys::SpawnDaemon({{*postgres, "-D", server.data_dir}, server.log_file,
                                        server.user});
  if (!pid.ok()) return pid.status();
  if (!server.pid_file.empty()) PL_RETURN_IF_ERROR(sys::WritePidFile(server.pid_file, *pid));
  LogInfo("started PostgreSQL " + server.data_dir + " pid " + std::to_string(*pid));
  // A real server starting in real time: the system clock, whoever calls.
  Clock& clock = SystemClock::Instance();
  const MonoTime deadline = clock.Monotonic() + timeout;
  while (!Ping(server.endpoint)) {
    if (!sys::ProcessAlive(*pid)) {
      return Status::Unavailable("PostgreSQL " + server.data_dir + " exited during start-up; see " +
                                 server.log_file);
    }
    if (clock.Monotonic() > deadline) {
      return Status::Timeout("PostgreSQL " + server.data_dir + " did not accept connections in time; see " +
                             server.log_file);
    }
    clock.SleepFor(std::chrono::milliseconds(50));  // polling readiness
  }
  return Status::OK();
}

Status EnsureCleanShutdown(const LocalServer& server, Duration timeout) {
  if (RunningPostmaster(server)) {
    return Status::FailedPrecondition("PostgreSQL " + server.data_dir + " is running; stop it first");
  }
  Result<ControlData> cd = ReadControlData(server);
  if (!cd.ok()) return cd.status();
  if (cd->cleanly_shut_down()) return Status::OK();
  LogInfo("PostgreSQL " + server.data_dir + " was not shut down cleanly (" + cd->cluster_state +
          "): finishing crash recovery in single-user mode");
  RemoveStalePostmasterPid(server);
  PL_RETURN_IF_ERROR(sys::RunToCompletion(
      {{Tool(server, "postgres"), "--single", "-D", server.data_dir, "-F", "-c",
        "exit_on_error=true", "postgres"},
       server.ToolLog(),
       server.user},
      timeout));
  cd = ReadControlData(server);
  if (!cd.ok()) return cd.status();
  if (!cd->cleanly_shut_down()) {
    return Status::Internal("PostgreSQL " + server.data_dir + " is still '" + cd->cluster_state +
                            "' after crash recovery; see " + server.ToolLog());
  }
  return Status::OK();
}

}  // namespace pilotlight::pg
