#include "http/request_reader.h"

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cerrno>
#include <chrono>
#include <optional>

namespace pilotlight::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using error_code = boost::system::error_code;
using SteadyTime = std::chrono::steady_clock::time_point;

// Milliseconds left until `deadline` for poll(2), rounded up; 0 when past.
int MillisLeft(SteadyTime deadline) {
  const auto left = deadline - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

// Waits until fd is ready for `events` or `deadline` passes; false on timeout.
bool PollUntil(int fd, short events, SteadyTime deadline) {
  for (;;) {
    const int ms = MillisLeft(deadline);
    if (ms == 0) return false;
    pollfd p{fd, events, 0};
    const int rc = poll(&p, 1, ms);
    if (rc > 0) return true;  // ready, or hung up / error: the next call says which
    if (rc < 0 && errno != EINTR) return true;
  }
}

// A Beast SyncReadStream over a socket descriptor whose every read ends by one
// deadline (non-blocking recv, poll(2) while nothing is there).
class DeadlineStream {
 public:
  explicit DeadlineStream(int fd) : fd_(fd) {}
  void set_deadline(SteadyTime d) { deadline_ = d; }

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, error_code& ec) {
    ec = {};
    asio::mutable_buffer b;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      if (asio::mutable_buffer(*it).size() > 0) {
        b = *it;
        break;
      }
    }
    if (b.size() == 0) return 0;
    for (;;) {
      const ssize_t n = recv(fd_, b.data(), b.size(), MSG_DONTWAIT);
      if (n > 0) return static_cast<size_t>(n);
      if (n == 0) {
        ec = asio::error::eof;
        return 0;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        ec = error_code(errno, boost::system::system_category());
        return 0;
      }
      if (!PollUntil(fd_, POLLIN, deadline_)) {
        ec = asio::error::timed_out;
        return 0;
      }
    }
  }
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    error_code ec;
    const size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  int fd_;
  SteadyTime deadline_{};
};

// Sends all of `data` by `deadline`.
bool SendAll(int fd, std::string_view data, SteadyTime deadline) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!PollUntil(fd, POLLOUT, deadline)) return false;
      continue;
    }
    return false;
  }
  return true;
}

SteadyTime After(Duration d) {
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
}

}  // namespace

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (beast::iequals(n, beast::string_view(name.data(), name.size()))) return v;
  }
  return {};
}

struct RequestReader::Impl {
  Impl(int f, const ClientBounds& b) : fd(f), bounds(b), stream(f), accepted(After(Duration{})) {}
  int fd;
  ClientBounds bounds;
  DeadlineStream stream;
  beast::flat_buffer buffer;
  SteadyTime accepted;
  bool first = true;
  SteadyTime request_start{};
};

RequestReader::RequestReader(int fd, const ClientBounds& bounds)
    : impl_(std::make_unique<Impl>(fd, bounds)) {}

RequestReader::~RequestReader() = default;

bool RequestReader::WaitForRequest() {
  Impl& s = *impl_;
  const SteadyTime until = s.first ? s.accepted + std::chrono::duration_cast<
                                                      std::chrono::steady_clock::duration>(
                                                      s.bounds.request_deadline)
                                   : After(s.bounds.idle_timeout);
  if (s.buffer.size() == 0) {
    s.stream.set_deadline(until);
    error_code ec;
    const size_t n = s.stream.read_some(s.buffer.prepare(4096), ec);
    if (ec) return false;
    s.buffer.commit(n);
  }
  s.request_start = s.first ? s.accepted : std::chrono::steady_clock::now();
  return true;
}

RequestFault RequestReader::Read(Request* out) {
  Impl& s = *impl_;
  const bool first = s.first;
  s.first = false;
  if (!first && s.request_start == SteadyTime{}) s.request_start = std::chrono::steady_clock::now();
  s.stream.set_deadline(s.request_start + std::chrono::duration_cast<
                                              std::chrono::steady_clock::duration>(
                                              s.bounds.request_deadline));
  s.request_start = SteadyTime{};
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(std::min<size_t>(s.bounds.max_header_bytes, UINT32_MAX)));
  parser.body_limit(s.bounds.max_body_bytes);
  error_code ec;
  bhttp::read_header(s.stream, s.buffer, parser, ec);
  if (ec) return ClassifyReadError(ec);
  // (A Content-Length over the limit failed read_header already: Beast checks it
  // with the headers, before any body byte.)
  if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    if (!SendAll(s.fd, kContinue, After(s.bounds.answer_deadline))) return RequestFault::kPeerGone;
  }
  bhttp::read(s.stream, s.buffer, parser, ec);
  if (ec) return ClassifyReadError(ec);
  bhttp::request<bhttp::string_body> req = parser.release();
  out->method = std::string(req.method_string());
  out->target = std::string(req.target());
  out->version = req.version();
  out->keep_alive = req.keep_alive();
  out->headers.clear();
  for (const auto& f : req) {
    out->headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  out->body = std::move(req.body());
  return RequestFault::kNone;
}

bool RequestReader::Write(const Answer& a, unsigned version, bool keep_alive) {
  std::string text;
  text.reserve(128 + a.body.size());
  text += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  text += std::to_string(a.status);
  text += ' ';
  const beast::string_view reason = bhttp::obsolete_reason(bhttp::int_to_status(a.status));
  text.append(reason.data(), reason.size());
  text += "\r\n";
  for (const auto& [name, value] : a.headers) {
    text += name;
    text += ": ";
    text += value;
    text += "\r\n";
  }
  text += "Content-Length: ";
  text += std::to_string(a.body.size());
  text += "\r\n";
  if (!keep_alive) {
    text += "Connection: close\r\n";
  } else if (version == 10) {
    text += "Connection: keep-alive\r\n";
  }
  text += "\r\n";
  text += a.body;
  return SendAll(impl_->fd, text, After(impl_->bounds.answer_deadline));
}

void RequestReader::Linger() {
  shutdown(impl_->fd, SHUT_WR);
  const SteadyTime until = After(std::chrono::seconds(1));
  char discard[4096];
  size_t total = 0;
  while (total < 64 * 1024) {
    const ssize_t n = recv(impl_->fd, discard, sizeof discard, MSG_DONTWAIT);
    if (n > 0) {
      total += static_cast<size_t>(n);
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return;
    if (!PollUntil(impl_->fd, POLLIN, until)) return;
  }
}

}  // namespace pilotlight::http
