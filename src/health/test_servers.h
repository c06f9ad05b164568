// Tiny local servers for the probe tests: a scripted HTTP server and a scripted
// DNS server, each on a port of its own (bound to port 0), each one thread,
// stopped by its destructor. A port nothing listens on is a
// pilotlight::testing::ClosedPort (testing/ports.h). Test-only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace pilotlight::health::testing {

inline int ListenTcp(uint16_t* port, int backlog = 16) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  listen(fd, backlog);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  *port = ntohs(sa.sin_port);
  return fd;
}

// Answers GET <path> by path:
//   /ok          200, "ready" early in the body
//   /late-marker 200, "ready" after 6,000 bytes
//   /503         503
//   /endless     200 headers, then body bytes forever (no "ready")
//   /silent      reads the request, never answers
//   /bigheaders  20 KB of headers
//   /garbage     "SSH-2.0-OpenSSH_9.2"
//   /chunked     chunked body with "ready" split across two chunks
//   /close       closes mid-headers
class HttpTestServer {
 public:
  HttpTestServer() {
    fd_ = ListenTcp(&port_);
    thread_ = std::thread([this] { Loop(); });
  }
  ~HttpTestServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  int connections() const { return connections_; }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++connections_;
      Serve(c);
      close(c);
    }
  }

  static bool Send(int c, const std::string& s) {
    return send(c, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }

  void Serve(int c) {
    std::string req;
    char buf[4096];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (req.find("\r\n\r\n") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline && !stop_) {
      pollfd p{c, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      req.append(buf, static_cast<size_t>(n));
      if (req.size() > 64 * 1024) return;
    }
    const size_t sp = req.find(' ');
    const std::string path =
        sp == std::string::npos ? "" : req.substr(sp + 1, req.find(' ', sp + 1) - sp - 1);
    if (path == "/ok") {
      Send(c, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nready: yes\n");
    } else if (path == "/late-marker") {
      const std::string body = std::string(6000, 'x') + "ready";
      Send(c, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                  body);
    } else if (path == "/503") {
      Send(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    } else if (path == "/endless") {
      Send(c, "HTTP/1.1 200 OK\r\n\r\n");
      const std::string chunk(1024, 'z');
      for (int i = 0; i < 100000 && !stop_ && Send(c, chunk); ++i) {
      }
    } else if (path == "/silent") {
      while (!stop_) {
        pollfd p{c, POLLIN, 0};
        if (poll(&p, 1, 50) > 0 && recv(c, buf, sizeof buf, 0) <= 0) return;  // client gone
      }
    } else if (path == "/bigheaders") {
      Send(c, "HTTP/1.1 200 OK\r\nX-Big: " + std::string(20000, 'h') + "\r\n\r\nready");
    } else if (path == "/garbage") {
      Send(c, "SSH-2.0-OpenSSH_9.2\r\n");
    } else if (path == "/chunked") {
      Send(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nxrea\r\n3\r\ndy!\r\n0\r\n\r\n");
    } else if (path == "/close") {
      Send(c, "HTTP/1.1 200 OK\r\nContent-");
    } else {
      Send(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// Answers A queries by name:
//   ok.test       one A record          nx.test      NXDOMAIN
//   garbage.test  random bytes          silent.test  nothing
//   stray.test    first a reply with another id, then the right one
//   empty.test    NOERROR, no answer
class DnsTestServer {
 public:
  DnsTestServer() {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    socklen_t len = sizeof sa;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~DnsTestServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char buf[512];
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 12) continue;
      std::string q(buf, static_cast<size_t>(n));
      auto reply = [&](const std::string& r) {
        sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
      };
      auto answer = [&](uint8_t rcode, int ancount) {
        std::string r = q;
        r[2] = static_cast<char>(0x81);
        r[3] = static_cast<char>(0x80 | rcode);
        r[7] = static_cast<char>(ancount);
        if (ancount > 0) {
          r += std::string("\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01", 16);
        }
        return r;
      };
      if (q.find("\x02ok\x04test") != std::string::npos) {
        reply(answer(0, 1));
      } else if (q.find("\x02nx\x04test") != std::string::npos) {
        reply(answer(3, 0));
      } else if (q.find("\x05" "empty\x04test") != std::string::npos) {
        reply(answer(0, 0));
      } else if (q.find("\x07garbage\x04test") != std::string::npos) {
        std::string junk = q.substr(0, 2) + std::string("\xff\xff\x00\x07garbage-garbage", 20);
        reply(junk);
      } else if (q.find("\x05stray\x04test") != std::string::npos) {
        std::string wrong = answer(0, 1);
        wrong[0] = static_cast<char>(wrong[0] ^ 0x5a);
        reply(wrong);
        reply(answer(0, 1));
      }
      // silent.test: no reply.
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace pilotlight::health::testing
