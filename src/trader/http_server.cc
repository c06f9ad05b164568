#include "trader/http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "core/log.h"
#include "http/admission.h"
#include "http/descriptor_reserve.h"
#include "http/request_reader.h"

namespace pilotlight::trader {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Every open connection, so the main thread can close idle ones (drain) without
// racing a response in flight.
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
  // Shuts down every idle connection (its reader's wait returns).
  void CloseIdle() {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [fd, e] : open) {
      if (e.idle) ::shutdown(fd, SHUT_RDWR);
    }
  }
};

http::Answer ToAnswer(const HttpResponse& r) {
  http::Answer a;
  a.status = r.status;
  a.headers.reserve(r.headers.size() + 2);
  a.headers.emplace_back("Server", "pilotlight-trader");
  a.headers.emplace_back("Content-Type", "application/json");
  a.headers.insert(a.headers.end(), r.headers.begin(), r.headers.end());
  a.body = r.body;
  return a;
}

// Probes are not load: the auto-scaler counts what clients asked for.
bool IsProbe(const std::string& target) {
  const std::string path = target.substr(0, target.find('?'));
  return path == "/healthz" || path == "/readyz";
}

// A connection not admitted: one short 503 (the socket's send buffer is empty,
// so this cannot block), then closed; it never gets a thread.
void Refuse(int fd, const std::string& reason, const std::string& message) {
  const std::string body = R"({"error":"unavailable","reason":")" + reason +
                           R"(","message":")" + message + "\"}";
  const std::string text = "HTTP/1.1 503 Service Unavailable\r\nServer: pilotlight-trader\r\n"
                           "Content-Type: application/json\r\nRetry-After: 1\r\n"
                           "Connection: close\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n" + body;
  (void)!send(fd, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

void Serve(int fd, std::string peer, Service& service, Connections& conns,
           http::ConnectionLedger& ledger, const Clock& clock, std::atomic<uint64_t>& served) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const http::ClientBounds& bounds = ledger.bounds();
  http::RequestReader reader(fd, bounds);
  http::Request req;
  HttpRequest hr;
  hr.peer = peer;
  for (;;) {
    if (!conns.Mark(fd, /*idle=*/true, clock.Monotonic())) break;
    // The first request within request_deadline of the accept, a keep-alive one
    // within idle_timeout of the last answer; then the whole request within
    // request_deadline of its first byte.
    if (!reader.WaitForRequest()) break;
    conns.Mark(fd, /*idle=*/false, clock.Monotonic());
    const http::RequestFault fault = reader.Read(&req);
    if (fault != http::RequestFault::kNone) {
      if (const int status = http::FaultStatus(fault); status != 0) {
        const bool headers = fault == http::RequestFault::kHeadersTooLarge;
        HttpResponse r = service.BadRequest(
            fault == http::RequestFault::kBodyTooLarge ? "body" : headers ? "headers" : "request",
            http::FaultMessage(fault, bounds));
        r.status = status;
        if (reader.Write(ToAnswer(r), 11, /*keep_alive=*/false)) reader.Linger();
      }
      break;
    }
    hr.method = std::move(req.method);
    hr.target = std::move(req.target);
    hr.authorization = std::string(req.Header("Authorization"));
    hr.body = std::move(req.body);
    const HttpResponse resp = service.Handle(hr);
    if (!IsProbe(hr.target)) served.fetch_add(1, std::memory_order_relaxed);
    const bool keep_alive = req.keep_alive && !service.draining();
    if (!reader.Write(ToAnswer(resp), req.version, keep_alive) || !keep_alive) break;
  }
  conns.Remove(fd);
  ledger.Release(peer);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

}  // namespace

http::ClientBounds DefaultBounds() {
  http::ClientBounds b;
  b.request_deadline = std::chrono::seconds(10);
  b.idle_timeout = std::chrono::seconds(60);
  b.answer_deadline = std::chrono::seconds(10);
  b.max_connections = 512;
  b.max_connections_per_client = 0;  // a quarter: 128
  b.max_header_bytes = 8192;
  b.max_body_bytes = kMaxBodyBytes;
  return b;
}

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
  PL_RETURN_IF_ERROR(http::Validate(options.bounds, "trader on " + where));
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
  http::ConnectionLedger ledger(options.bounds);
  http::DescriptorReserve reserve(options.bounds.descriptor_reserve);
  std::atomic<uint64_t> served{0};
  std::atomic<bool> stopping{false};
  std::thread acceptor_thread([&] {
    // Refusals are logged at most every 10 s, with their count, so a flood
    // costs a few log lines.
    uint64_t refusals = 0;
    MonoTime logged{};
    auto refused = [&](const std::string& what) {
      ++refusals;
      const MonoTime now = clock.Monotonic();
      if (logged != MonoTime{} && now - logged < std::chrono::seconds(10)) return;
      LogWarn("trader: refused " + std::to_string(refusals) + " connection(s)" +
              (logged == MonoTime{} ? std::string() : " since the last report") + ", the last: " +
              what);
      refusals = 0;
      logged = now;
    };
    for (;;) {
      tcp::socket socket(io);
      boost::system::error_code ec;
      acceptor.accept(socket, ec);
      if (stopping.load()) break;
      if (ec) {
        if (http::IsOutOfDescriptors(ec.value())) {
          // The connection stays queued and every accept would fail again: spend
          // the reserve to take it and refuse it, then refill.
          if (reserve.Release()) {
            acceptor.accept(socket, ec);
            if (!ec) {
              Refuse(socket.release(), "overloaded", "the server has no descriptor left");
              refused("out of descriptors (ulimit -n)");
            }
            reserve.Refill();
          } else {
            clock.SleepFor(std::chrono::milliseconds(10));
            reserve.Refill();
          }
        }
        continue;
      }
      boost::system::error_code peer_ec;
      const tcp::endpoint remote = socket.remote_endpoint(peer_ec);
      std::string peer = peer_ec ? std::string() : remote.address().to_string();
      const int fd = socket.release();
      const http::Admission admission = ledger.Admit(peer);
      if (admission != http::Admission::kAdmitted) {
        const bool share = admission == http::Admission::kClientShareUsed;
        Refuse(fd, "overloaded",
               share ? "too many connections from your address" : "too many connections");
        refused(share ? "client " + peer + " holds its share (" +
                            std::to_string(http::PerClientLimit(options.bounds)) + ")"
                      : "the server is full (" + std::to_string(options.bounds.max_connections) +
                            " connections)");
        continue;
      }
      if (reserve.held() < options.bounds.descriptor_reserve) reserve.Refill();
      {
        std::lock_guard<std::mutex> lock(conns.mu);
        conns.open[fd] = {false, clock.Monotonic()};
      }
      std::thread(Serve, fd, std::move(peer), std::ref(service), std::ref(conns), std::ref(ledger),
                  std::cref(clock), std::ref(served))
          .detach();
    }
  });

  // Wait for a stop signal (each connection times itself out).
  for (;;) {
    timespec tick{1, 0};
    const int sig = sigtimedwait(&stop_signals, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      LogInfo("trader: signal " + std::to_string(sig) + ": draining");
      break;
    }
    if (options.on_tick) options.on_tick(served.load());
  }

  service.StartDraining();
  stopping.store(true);
  ::shutdown(acceptor.native_handle(), SHUT_RDWR);  // wakes the blocked accept
  acceptor_thread.join();
  boost::system::error_code ignored;
  acceptor.close(ignored);
  {
    std::lock_guard<std::mutex> lock(conns.mu);
    conns.draining = true;
  }
  conns.CloseIdle();
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
