#include "sys/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "sys/whole_file.h"

namespace pilotlight::sys {
namespace {

std::string Errno(int err) { return std::strerror(err); }

// In the child after fork: become `user`, redirect output, exec. Never returns.
[[noreturn]] void ExecChild(const SpawnSpec& spec, int error_pipe, bool new_session) {
  if (new_session) setsid();
  // Make SIGTERM/SIGINT defaults again: the parent may have handlers.
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, STDIN_FILENO);
  if (!spec.log_file.empty()) {
    int log = open(spec.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log >= 0) {
      if (spec.user) (void)fchown(log, spec.user->uid, spec.user->gid);
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
    }
  }
  if (chdir("/") != 0) {
    // Ignored: "/" is always reachable.
  }
  if (spec.user) {
    if (setgroups(0, nullptr) != 0 || setgid(spec.user->gid) != 0 ||
        setuid(spec.user->uid) != 0) {
      int err = errno;
      (void)!write(error_pipe, &err, sizeof err);
      _exit(127);
    }
    setenv("HOME", "/", 1);
    setenv("USER", spec.user->name.c_str(), 1);
  }
  std::vector<char*> argv;
  for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  int err = errno;
  (void)!write(error_pipe, &err, sizeof err);
  _exit(127);
}

// Forks and execs; returns the child's pid once exec succeeded.
Result<pid_t> ForkExec(const SpawnSpec& spec, bool new_session) {
  if (spec.argv.empty()) return Status::InvalidArgument("empty command");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::IOError("pipe: " + Errno(errno));
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return Status::IOError("fork: " + Errno(errno));
  }
  if (pid == 0) {
    close(fds[0]);
    ExecChild(spec, fds[1], new_session);
  }
  close(fds[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(fds[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(fds[0]);
  if (n == sizeof child_errno) {
    waitpid(pid, nullptr, 0);
    return Status::IOError("cannot start " + spec.argv[0] + ": " + Errno(child_errno));
  }
  return pid;
}

std::string TailOfFile(const std::string& path, size_t max_lines) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (lines.size() > max_lines) lines.erase(lines.begin());
  }
  std::string out;
  for (const std::string& l : lines) out += "\n    " + l;
  return out;
}

}  // namespace

Result<std::optional<RunAs>> ServerUser(const std::string& name) {
  if (geteuid() != 0) return std::optional<RunAs>();
  struct passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) {
    return Status::NotFound("system user '" + name +
                            "' does not exist; PostgreSQL refuses to run as root. Install the "
                            "Debian package postgresql-15 (it creates the user) or run as a "
                            "non-root user");
  }
  return std::optional<RunAs>(RunAs{name, pw->pw_uid, pw->pw_gid});
}

Result<pid_t> SpawnDaemon(const SpawnSpec& spec) { return ForkExec(spec, /*new_session=*/true); }

Status RunToCompletion(const SpawnSpec& spec, Duration timeout) {
  Result<pid_t> pid = ForkExec(spec, /*new_session=*/true);
  if (!pid.ok()) return pid.status();
  // A real child in real time: the system clock, whoever calls.
  Clock& clock = SystemClock::Instance();
  const MonoTime deadline = clock.Monotonic() + timeout;
  int wstatus = 0;
  for (;;) {
    pid_t r = waitpid(*pid, &wstatus, WNOHANG);
    if (r == *pid) break;
    if (r < 0 && errno != EINTR) return Status::IOError("waitpid: " + Errno(errno));
    if (clock.Monotonic() > deadline) {
      SignalGroup(*pid, SIGKILL);
      waitpid(*pid, &wstatus, 0);
      return Status::Timeout(spec.argv[0] + " did not finish within " +
                             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
                             "s; see " + spec.log_file);
    }
    clock.SleepFor(std::chrono::milliseconds(20));  // polling a child, not syncing
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return Status::OK();
  std::string how = WIFEXITED(wstatus) ? "exited with status " + std::to_string(WEXITSTATUS(wstatus))
                                       : "was killed by signal " + std::to_string(WTERMSIG(wstatus));
  return Status::Internal(spec.argv[0] + " " + how + "; last lines of " + spec.log_file + ":" +
                          TailOfFile(spec.log_file, 8));
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content;
  if (!std::getline(stat, content)) return false;
  // Field 3, after the ")" that closes the command name, is the state.
  size_t close = content.rfind(')');
  if (close == std::string::npos || close + 2 >= content.size()) return false;
  char state = content[close + 2];
  return state != 'Z' && state != 'X';
}

std::string ProcessCommandLine(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : raw) {
    if (c == '\0') c = ' ';
  }
  while (!raw.empty() && raw.back() == ' ') raw.pop_back();
  return raw;
}

void SignalGroup(pid_t pid, int sig) {
  if (pid <= 0) return;
  kill(-pid, sig);
  kill(pid, sig);
}

namespace {

bool GroupHasLiveMember(pid_t pgid) {
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return ProcessAlive(pgid);
  bool found = false;
  while (struct dirent* e = readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (getpgid(static_cast<pid_t>(pid)) == pgid && ProcessAlive(static_cast<pid_t>(pid))) {
      found = true;
      break;
    }
  }
  closedir(dir);
  return found;
}

// The parent of `pid` from /proc/PID/stat, or 0.
pid_t ParentOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');  // the command name may hold spaces and parens
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 1));
  std::string state;
  long ppid = 0;
  rest >> state >> ppid;
  return static_cast<pid_t>(ppid);
}

// The live children of `parent`.
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return out;
  while (struct dirent* e = readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (ParentOf(static_cast<pid_t>(pid)) == parent) out.push_back(static_cast<pid_t>(pid));
  }
  closedir(dir);
  return out;
}

}  // namespace

int KillProcessTree(pid_t pid) {
  if (pid <= 0 || !ProcessAlive(pid)) return 0;
  // Freeze breadth first: a stopped parent forks no more children.
  std::vector<pid_t> tree = {pid};
  kill(pid, SIGSTOP);
  for (size_t i = 0; i < tree.size(); ++i) {
    for (pid_t child : ChildrenOf(tree[i])) {
      kill(child, SIGSTOP);
      tree.push_back(child);
    }
  }
  int killed = 0;
  for (pid_t p : tree) killed += kill(p, SIGKILL) == 0 ? 1 : 0;
  return killed;
}

bool WaitGroupGone(pid_t pgid, Duration timeout) {
  Clock& clock = SystemClock::Instance();  // real processes, in real time
  const MonoTime deadline = clock.Monotonic() + timeout;
  for (;;) {
    // Reap if it is our own child (lab up in-process); harmless otherwise.
    while (waitpid(-pgid, nullptr, WNOHANG) > 0) {
    }
    if (!GroupHasLiveMember(pgid)) return true;
    if (clock.Monotonic() > deadline) return false;
    clock.SleepFor(std::chrono::milliseconds(20));  // polling /proc
  }
}

Status CheckPortFree(const std::string& address, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError("socket: " + Errno(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    close(fd);
    return Status::InvalidArgument("'" + address + "' is not an IPv4 address");
  }
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  int err = errno;
  close(fd);
  if (rc == 0) return Status::OK();
  if (err == EADDRINUSE) {
    return Status::AlreadyExists(address + ":" + std::to_string(port) +
                                 " is already in use by another process");
  }
  return Status::IOError("cannot bind " + address + ":" + std::to_string(port) + ": " + Errno(err));
}

Result<std::string> FindBinary(const std::vector<std::string>& candidates,
                               const std::string& debian_package) {
  for (const std::string& c : candidates) {
    if (access(c.c_str(), X_OK) == 0) return c;
  }
  std::string tried;
  for (const std::string& c : candidates) tried += (tried.empty() ? "" : ", ") + c;
  return Status::NotFound("cannot find " + tried + ": install the Debian package " +
                          debian_package + " (apt-get install " + debian_package +
                          ", or run scripts/install-deps)");
}

Result<pid_t> ReadPidFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("no pid file " + path);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return Status::Corruption("pid file " + path + " holds no pid");
  return static_cast<pid_t>(pid);
}

Status WritePidFile(const std::string& path, pid_t pid) {
  return WriteFileAtomically(path, std::to_string(pid) + "\n");
}

bool UserCanReach(const RunAs& user, const std::string& dir) {
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(user.gid) != 0 || setuid(user.uid) != 0) _exit(2);
    _exit(access(dir.c_str(), X_OK) == 0 ? 0 : 1);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

}  // namespace pilotlight::sys
