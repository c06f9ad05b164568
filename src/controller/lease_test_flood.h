// ConnectionFlood: a child process that holds `n` TCP connections to
// 127.0.0.1:port, opening a new one whenever the server closes one, until it is
// killed. Each connection sends `opening` once connected (none: idle; the start
// of a request: a slow client) and nothing more. Test-only.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace pilotlight::testing {

class ConnectionFlood {
 public:
  // Forks the flooding child; `ready()` tells when it first held all `n` at once.
  ConnectionFlood(uint16_t port, int n, std::string opening = "") : opening_(std::move(opening)) {
    int p[2];
    if (pipe(p) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(p[0]);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      Run(port, n, opening_, p[1]);
      _exit(0);
    }
    close(p[1]);
    report_ = p[0];
    fcntl(report_, F_SETFL, O_NONBLOCK);
  }
  ~ConnectionFlood() { Stop(); }
  bool started() const { return pid_ > 0; }

  // True once the child reported it held all `n` connections at the same time.
  bool ready() {
    Drain();
    return ready_;
  }
  // How many of its connections the server had closed by the child's last report.
  uint64_t closed_by_server() {
    Drain();
    return closed_;
  }

  // Stops the child (its last report stays readable through the accessors).
  void Stop() {
    if (pid_ <= 0) return;
    Drain();
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    if (report_ >= 0) close(report_);
    report_ = -1;
  }

 private:
  // Reports are 8-byte records: the top bit says all `n` were held at once, the
  // rest counts the connections the server closed.
  static constexpr uint64_t kHeldAll = uint64_t{1} << 63;

  void Drain() {
    uint64_t record;
    while (report_ >= 0 && read(report_, &record, sizeof record) == sizeof record) {
      ready_ = ready_ || (record & kHeldAll) != 0;
      closed_ = record & ~kHeldAll;
    }
  }

  static void Run(uint16_t port, int n, const std::string& opening, int report) {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, static_cast<rlim_t>(n) + 256);
    setrlimit(RLIMIT_NOFILE, &rl);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct Conn {
      int fd;
      bool connected;
    };
    std::vector<Conn> conns;
    std::vector<pollfd> pfds;
    bool held_all = false;
    uint64_t closed = 0;
    timespec last_report{};
    for (;;) {
      while (static_cast<int>(conns.size()) < n) {
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0) break;
        const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
        if (rc != 0 && errno != EINPROGRESS) {
          close(fd);
          break;
        }
        if (rc == 0 && !opening.empty()) (void)!write(fd, opening.data(), opening.size());
        conns.push_back({fd, rc == 0});
      }
      int connected = 0;
      for (const Conn& c : conns) connected += c.connected ? 1 : 0;
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      const bool first = !held_all && connected >= n;
      held_all = held_all || connected >= n;
      if (first || (now.tv_sec - last_report.tv_sec) * 1000 +
                           (now.tv_nsec - last_report.tv_nsec) / 1'000'000 >=
                       100) {
        const uint64_t record = (held_all ? kHeldAll : 0) | closed;
        if (write(report, &record, sizeof record) == sizeof record) last_report = now;
      }
      pfds.resize(conns.size());
      for (size_t i = 0; i < conns.size(); ++i) {
        pfds[i] = {conns[i].fd, static_cast<short>(conns[i].connected ? POLLIN : POLLOUT), 0};
      }
      if (poll(pfds.data(), pfds.size(), 100) < 0 && errno != EINTR) return;
      std::vector<Conn> kept;
      kept.reserve(conns.size());
      for (size_t i = 0; i < conns.size(); ++i) {
        Conn c = conns[i];
        const short ev = pfds[i].revents;
        bool drop = false;
        if (!c.connected && (ev & (POLLOUT | POLLERR | POLLHUP))) {
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err == 0) {
            c.connected = true;
            if (!opening.empty()) (void)!write(c.fd, opening.data(), opening.size());
          } else {
            drop = true;
          }
        } else if (c.connected && (ev & (POLLIN | POLLERR | POLLHUP))) {
          char buf[256];
          const ssize_t r = read(c.fd, buf, sizeof buf);
          if (r <= 0) {
            drop = true;  // the server closed it: open another
            ++closed;
          }
        }
        if (drop) {
          close(c.fd);
        } else {
          kept.push_back(c);
        }
      }
      conns.swap(kept);
    }
  }

  std::string opening_;
  pid_t pid_ = -1;
  int report_ = -1;
  bool ready_ = false;
  uint64_t closed_ = 0;
};

}  // namespace pilotlight::testing
