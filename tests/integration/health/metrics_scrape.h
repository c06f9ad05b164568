// Helpers for the /metrics tests: a plain-socket HTTP client, a sample lookup
// in an exposition, and pilotlight running in the background. Test-only.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "test_util.h"

extern char** environ;

namespace pilotlight::testing {

struct HttpReply {
  int status = -1;
  std::string head;
  std::string body;
};

// One request over a fresh connection (Connection: close), read to the end.
inline HttpReply Request(uint16_t port, const std::string& method, const std::string& path) {
  HttpReply reply;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return reply;
  }
  const std::string req =
      method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return reply;
  }
  std::string all;
  char buf[8192];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const size_t end = all.find("\r\n\r\n");
  if (all.compare(0, 9, "HTTP/1.1 ") != 0 || end == std::string::npos) return reply;
  reply.status = std::stoi(all.substr(9, 3));
  reply.head = all.substr(0, end);
  reply.body = all.substr(end + 4);
  return reply;
}

// The value of the sample line `series` (name{labels}) in an exposition, or "".
inline std::string Sample(const std::string& text, const std::string& series) {
  const std::string prefix = series + " ";
  size_t at = 0;
  while ((at = text.find(prefix, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      const size_t eol = text.find('\n', at);
      return text.substr(at + prefix.size(), eol - at - prefix.size());
    }
    at += prefix.size();
  }
  return "";
}

// pilotlight with `args` in the background (stdout and stderr in files under
// `dir`), stopped with SIGTERM by Stop() or the destructor.
class Background {
 public:
  Background(const std::vector<std::string>& args, const std::string& dir)
      : out_(dir + "/" + args.at(0) + ".out"), err_(dir + "/" + args.at(0) + ".err") {
    std::vector<std::string> argv = {PILOTLIGHT_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (posix_spawn(&pid_, PILOTLIGHT_BIN, &fa, nullptr, cargv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Background() { Stop(); }

  bool running() const { return pid_ > 0; }
  std::string err() const { return testing::ReadAll(err_); }
  std::string out() const { return testing::ReadAll(out_); }

  // SIGTERM, then its exit status (-1 if it had to be killed).
  int Stop() {
    if (pid_ <= 0) return exit_;
    kill(pid_, SIGTERM);
    int st = 0;
    const bool exited = testing::WaitFor(std::chrono::seconds(10),
                                         [&] { return waitpid(pid_, &st, WNOHANG) == pid_; });
    if (!exited) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &st, 0);
    }
    exit_ = exited && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    pid_ = -1;
    return exit_;
  }

 private:
  std::string out_;
  std::string err_;
  pid_t pid_ = -1;
  int exit_ = -1;
};

// The port a background pilotlight printed it serves /metrics on (0: not yet).
inline uint16_t ServedMetricsPort(const Background& b) {
  static const std::regex kLine(
      "serving Prometheus metrics at http://127\\.0\\.0\\.1:([0-9]+)/metrics");
  std::smatch m;
  const std::string err = b.err();
  if (!std::regex_search(err, m, kLine)) return 0;
  return static_cast<uint16_t>(std::stoi(m[1]));
}

}  // namespace pilotlight::testing
