// A tiny HTTP server that records webhook POSTs, for the notify tests and the
// detection integration test. It answers the first `fail_first` requests with
// 500, then 200; with `hang` it accepts and never answers. One thread; stops in
// its destructor. Test-only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pilotlight::notify::testing {

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class WebhookTestServer {
 public:
  explicit WebhookTestServer(int fail_first = 0, bool hang = false)
      : fail_first_(fail_first), hang_(hang) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    listen(fd_, 64);
    socklen_t len = sizeof sa;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~WebhookTestServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  std::string Url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<ReceivedRequest> Requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int attempts() const { return attempts_; }

 private:
  void Loop() {
    std::vector<int> hung;
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++attempts_;
      if (hang_) {
        hung.push_back(c);
        continue;
      }
      Serve(c);
      close(c);
    }
    for (int c : hung) close(c);
  }

  void Serve(int c) {
    std::string data;
    char buf[4096];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    size_t need = std::string::npos;
    while (std::chrono::steady_clock::now() < deadline) {
      const size_t end = data.find("\r\n\r\n");
      if (end != std::string::npos && need == std::string::npos) {
        need = end + 4;
        const std::string head = data.substr(0, end);
        const size_t cl = Lower(head).find("content-length:");
        if (cl != std::string::npos) need += std::stoul(head.substr(cl + 15));
      }
      if (need != std::string::npos && data.size() >= need) break;
      pollfd p{c, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      data.append(buf, static_cast<size_t>(n));
    }
    if (need == std::string::npos) return;
    ReceivedRequest r;
    const size_t end = data.find("\r\n\r\n");
    size_t pos = data.find("\r\n");
    const std::string line = data.substr(0, pos);
    r.method = line.substr(0, line.find(' '));
    r.path = line.substr(line.find(' ') + 1, line.rfind(' ') - line.find(' ') - 1);
    pos += 2;
    while (pos < end) {
      const size_t e = data.find("\r\n", pos);
      const std::string h = data.substr(pos, e - pos);
      const size_t colon = h.find(':');
      std::string value = h.substr(colon + 1);
      while (!value.empty() && value[0] == ' ') value.erase(0, 1);
      r.headers[Lower(h.substr(0, colon))] = value;
      pos = e + 2;
    }
    r.body = data.substr(end + 4);
    const bool fail = served_++ < fail_first_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!fail) requests_.push_back(r);
    }
    const std::string resp = fail ? "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
                                  : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
  }

  static std::string Lower(std::string s) {
    for (char& ch : s) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    return s;
  }

  int fail_first_;
  bool hang_;
  int served_ = 0;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> attempts_{0};
  mutable std::mutex mu_;
  std::vector<ReceivedRequest> requests_;
  std::thread thread_;
};

}  // namespace pilotlight::notify::testing
