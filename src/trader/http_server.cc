#include "trader/http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "core/log.h"

namespace pilotlight::trader {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr uint32_t kHeaderLimit = 8192;

// Every open connection, so the main thread can close idle ones (drain, idle
// timeout) without racing a response in flight.
struct Connections {
  struct Entry {
    bool idle = true;
    MonoTime since{};
  };
  std::mutex mu;
  std::condition_variable cv;
  std::map<int, Entry> open;  // by fd
  bool draining = false;

  // Marks fd idle or busy; returns false when the connection should close (draining).
  bool Mark(int fd, bool idle, MonoTime now) {
    std::lock_guard<std::mutex> lock(mu);
    Entry& e = open[fd];
    e.idle = idle;
    e.since = now;
    return !(idle && draining);
  }
  void Remove(int fd) {
    std::lock_guard<std::mutex> lock(mu);
    open.erase(fd);
    cv.notify_all();
  }
  // Shuts down idle connections (all of them, or those idle since before `cutoff`).
  void CloseIdle(std::optional<MonoTime> cutoff) {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [fd, e] : open) {
      if (e.idle && (!cutoff || e.since < *cutoff)) ::shutdown(fd, SHUT_RDWR);
    }
  }
};

http::response<http::string_body> ToBeast(const HttpResponse& r, unsigned version,
                                          bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "pilotlight-trader");
  res.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : r.headers) res.set(name, value);
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  return res;
}

void Reply(tcp::socket& socket, const HttpResponse& r, unsigned version, bool keep_alive) {
  beast::error_code ec;
  http::write(socket, ToBeast(r, version, keep_alive), ec);
}

// Probes are not load: the auto-scaler counts what clients asked for.
bool IsProbe(const std::string& target) {
  const std::string path = target.substr(0, target.find('?'));
  return path == "/healthz" || path == "/readyz";
}

void Serve(tcp::socket socket, Service& service, Connections& conns, const Clock& clock,
           std::atomic<uint64_t>& served) {
  const int fd = socket.native_handle();
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  beast::flat_buffer buffer;
  for (;;) {
    if (!conns.Mark(fd, /*idle=*/true, clock.Monotonic())) break;
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(kMaxBodyBytes);
    beast::error_code ec;
    http::read_header(socket, buffer, parser, ec);
    conns.Mark(fd, /*idle=*/false, clock.Monotonic());
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset) {
      break;
    }
    if (ec == http::error::body_limit) {  // Content-Length beyond the limit
      Reply(socket,
            service.BadRequest("body", "larger than " + std::to_string(kMaxBodyBytes) + " bytes"),
            11, false);
      break;
    }
    if (ec) {
      // Oversize headers or bytes that are not HTTP: say so, then hang up.
      const bool too_big = ec == http::error::header_limit;
      Reply(socket,
            service.BadRequest(too_big ? "headers" : "request",
                               too_big ? "headers larger than 8192 bytes"
                                       : "not a valid HTTP/1.1 request: " + ec.message()),
            11, false);
      break;
    }
    const auto& header = parser.get();
    if (auto len = parser.content_length(); len && *len > kMaxBodyBytes) {
      Reply(socket,
            service.BadRequest("body", "larger than " + std::to_string(kMaxBodyBytes) + " bytes"),
            header.version(), false);
      break;
    }
    if (beast::iequals(header[http::field::expect], "100-continue")) {
      http::response<http::empty_body> cont{http::status::continue_, header.version()};
      http::write(socket, cont, ec);
    }
    http::read(socket, buffer, parser, ec);
    if (ec) {
      const bool too_big = ec == http::error::body_limit;
      Reply(socket,
            service.BadRequest("body", too_big ? "larger than " + std::to_string(kMaxBodyBytes) +
                                                     " bytes"
                                               : "incomplete request body: " + ec.message()),
            header.version(), false);
      break;
    }
    http::request<http::string_body> req = parser.release();
    HttpRequest hr;
    hr.method = std::string(req.method_string());
    hr.target = std::string(req.target());
    hr.authorization = std::string(req[http::field::authorization]);
    hr.peer = socket.remote_endpoint(ec).address().to_string();
    hr.body = std::move(req.body());
    const HttpResponse resp = service.Handle(hr);
    if (!IsProbe(hr.target)) served.fetch_add(1, std::memory_order_relaxed);
    const bool keep_alive = req.keep_alive() && !service.draining();
    http::write(socket, ToBeast(resp, req.version(), keep_alive), ec);
    if (ec || !keep_alive) break;
  }
  conns.Remove(fd);
  beast::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace

std::string FormatServedCount(const ServedCount& c) {
  const int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(c.at.time_since_epoch()).count();
  return std::to_string(c.total) + " " + std::to_string(ms) + "\n";
}

Result<ServedCount> ParseServedCount(const std::string& text) {
  auto bad = [&] {
    return Status::InvalidArgument("expected \"<requests served> <unix time in ms>\", found \"" +
                                   text.substr(0, 60) + "\"");
  };
  const size_t space = text.find(' ');
  if (space == std::string::npos) return bad();
  std::string rest = text.substr(space + 1);
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == '\r')) rest.pop_back();
  ServedCount out;
  int64_t ms = 0;
  const char* b = text.data();
  auto [p1, e1] = std::from_chars(b, b + space, out.total);
  auto [p2, e2] = std::from_chars(rest.data(), rest.data() + rest.size(), ms);
  if (space == 0 || e1 != std::errc() || p1 != b + space || rest.empty() || e2 != std::errc() ||
      p2 != rest.data() + rest.size() || ms < 0) {
    return bad();
  }
  out.at = WallTime(std::chrono::milliseconds(ms));
  return out;
}

Status RunHttpServer(const ServerOptions& options, Service& service, Clock& clock,
                     const std::function<void()>& on_listening) {
  // Every thread started from here on inherits the blocked mask; only sigtimedwait
  // below takes these signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const std::string where = options.address + ":" + std::to_string(options.port);
  asio::io_context io;
  tcp::acceptor acceptor(io);
  try {
    const tcp::endpoint endpoint(asio::ip::make_address_v4(options.address), options.port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    const int one = 1;
    if (setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      return Status::IOError("cannot set SO_REUSEPORT on " + where);
    }
    acceptor.bind(endpoint);
    acceptor.listen(1024);
  } catch (const boost::system::system_error& e) {
    return Status::Unavailable("trader cannot listen on " + where + ": " + e.what() +
                               "; another program (not a trader instance) may hold the port, "
                               "or the address is not configured on this host");
  }
  if (on_listening) on_listening();

  Connections conns;
  std::atomic<uint64_t> served{0};
  std::atomic<bool> stopping{false};
  std::thread acceptor_thread([&] {
    for (;;) {
      tcp::socket socket(io);
      beast::error_code ec;
      acceptor.accept(socket, ec);
      if (stopping.load()) break;
      if (ec) {
        if (ec == asio::error::no_descriptors) {
          // Out of file descriptors: back off briefly instead of spinning.
          clock.SleepFor(std::chrono::milliseconds(10));
        }
        continue;
      }
      size_t open_now;
      {
        std::lock_guard<std::mutex> lock(conns.mu);
        open_now = conns.open.size();
        conns.open[socket.native_handle()] = {false, clock.Monotonic()};
      }
      if (open_now >= static_cast<size_t>(options.max_connections)) {
        conns.Remove(socket.native_handle());
        HttpResponse busy;
        busy.status = 503;
        busy.body = R"({"error":"unavailable","reason":"overloaded","message":"too many connections"})";
        Reply(socket, busy, 11, false);
        continue;
      }
      std::thread(Serve, std::move(socket), std::ref(service), std::ref(conns), std::cref(clock),
                  std::ref(served))
          .detach();
    }
  });

  // Wait for a stop signal, closing idle connections as they time out.
  for (;;) {
    timespec tick{1, 0};
    const int sig = sigtimedwait(&stop_signals, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      LogInfo("trader: signal " + std::to_string(sig) + ": draining");
      break;
    }
    conns.CloseIdle(clock.Monotonic() - options.idle_timeout);
    if (options.on_tick) options.on_tick(served.load());
  }

  service.StartDraining();
  stopping.store(true);
  ::shutdown(acceptor.native_handle(), SHUT_RDWR);  // wakes the blocked accept
  acceptor_thread.join();
  beast::error_code ignored;
  acceptor.close(ignored);
  {
    std::lock_guard<std::mutex> lock(conns.mu);
    conns.draining = true;
  }
  conns.CloseIdle(std::nullopt);
  const MonoTime deadline = clock.Monotonic() + options.drain_timeout;
  std::unique_lock<std::mutex> lock(conns.mu);
  while (!conns.open.empty() && clock.Monotonic() < deadline) {
    conns.cv.wait_for(lock, std::chrono::milliseconds(100));
    // Connections that went idle after their last response close now.
    for (const auto& [fd, e] : conns.open) {
      if (e.idle) ::shutdown(fd, SHUT_RDWR);
    }
  }
  const size_t left = conns.open.size();
  lock.unlock();
  if (left > 0) {
    LogWarn("trader: " + std::to_string(left) + " connection(s) still busy after the drain timeout");
  }
  if (options.on_tick) options.on_tick(served.load());
  LogInfo("trader: drained");
  return Status::OK();
}

}  // namespace pilotlight::trader
