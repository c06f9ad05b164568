#include "dns/update/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pilotlight::dns {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Result<sockaddr_storage> Resolve(const ServerAddress& s, socklen_t* len) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, s.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(s.port);
    *len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, s.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(s.port);
    *len = sizeof(sockaddr_in6);
  } else {
    return Status::InvalidArgument("DNS server \"" + s.host + "\" is not an IP address");
  }
  return ss;
}

// Waits for `events` on fd until `deadline`; Timeout when it passes.
Status Wait(int fd, short events, std::chrono::steady_clock::time_point deadline,
            const std::string& what) {
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::Timeout(what + ": no reply in time");
    pollfd p{fd, events, 0};
    const int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r > 0) return Status::OK();
    if (r < 0 && errno != EINTR) return Status::IOError(what + ": poll: " + strerror(errno));
  }
}

}  // namespace

std::string ServerAddress::ToString() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

Result<std::vector<uint8_t>> ExchangeTcp(const ServerAddress& server,
                                         const std::vector<uint8_t>& query, Duration timeout) {
  const std::string what = "DNS over TCP to " + server.ToString();
  if (query.size() > 65535) return Status::InvalidArgument(what + ": message too large");
  socklen_t len = 0;
  Result<sockaddr_storage> addr = Resolve(server, &len);
  if (!addr.ok()) return addr.status();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Fd fd(socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::IOError(what + ": socket: " + strerror(errno));
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), len) != 0) {
    if (errno != EINPROGRESS) return Status::Unavailable(what + ": connect: " + strerror(errno));
    PL_RETURN_IF_ERROR(Wait(fd.get(), POLLOUT, deadline, what));
    int err = 0;
    socklen_t elen = sizeof err;
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &elen);
    if (err != 0) return Status::Unavailable(what + ": connect: " + strerror(err));
  }
  std::vector<uint8_t> out = {static_cast<uint8_t>(query.size() >> 8),
                              static_cast<uint8_t>(query.size())};
  out.insert(out.end(), query.begin(), query.end());
  size_t sent = 0;
  while (sent < out.size()) {
    PL_RETURN_IF_ERROR(Wait(fd.get(), POLLOUT, deadline, what));
    const ssize_t n = send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return Status::Unavailable(what + ": send: " + strerror(errno));
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::vector<uint8_t> in;
  size_t want = 2;
  while (in.size() < want) {
    PL_RETURN_IF_ERROR(Wait(fd.get(), POLLIN, deadline, what));
    uint8_t buf[4096];
    const ssize_t n = recv(fd.get(), buf, std::min(sizeof buf, want - in.size()), 0);
    if (n == 0) return Status::Unavailable(what + ": the server closed the connection");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Status::Unavailable(what + ": recv: " + strerror(errno));
    }
    in.insert(in.end(), buf, buf + n);
    if (want == 2 && in.size() == 2) {
      want = 2 + (in[0] << 8 | in[1]);
    }
  }
  return std::vector<uint8_t>(in.begin() + 2, in.end());
}

Result<std::vector<uint8_t>> ExchangeUdp(const ServerAddress& server,
                                         const std::vector<uint8_t>& query, Duration timeout) {
  const std::string what = "DNS over UDP to " + server.ToString();
  socklen_t len = 0;
  Result<sockaddr_storage> addr = Resolve(server, &len);
  if (!addr.ok()) return addr.status();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Fd fd(socket(addr->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::IOError(what + ": socket: " + strerror(errno));
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), len) != 0) {
    return Status::Unavailable(what + ": connect: " + strerror(errno));
  }
  if (send(fd.get(), query.data(), query.size(), 0) < 0) {
    return Status::Unavailable(what + ": send: " + strerror(errno));
  }
  while (true) {
    PL_RETURN_IF_ERROR(Wait(fd.get(), POLLIN, deadline, what));
    std::vector<uint8_t> buf(65535);
    const ssize_t n = recv(fd.get(), buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Status::Unavailable(what + ": recv: " + strerror(errno));
    }
    // Answers with another id are stale or spoofed: keep waiting for ours.
    if (n >= 2 && query.size() >= 2 && buf[0] == query[0] && buf[1] == query[1]) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
  }
}

}  // namespace pilotlight::dns
