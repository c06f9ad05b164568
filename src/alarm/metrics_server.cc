#include "alarm/metrics_server.h"

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <exception>
#include <optional>
#include <set>
#include <thread>

#include "core/log.h"
#include "http/admission.h"
#include "http/descriptor_reserve.h"
#include "http/request_fault.h"

namespace pilotlight::alarm {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using beast::error_code;
namespace bounds = ::pilotlight::http;  // the client bounds every server shares

std::string_view View(boost::beast::string_view s) { return {s.data(), s.size()}; }

MetricsResponse Plain(int status, std::string body) {
  return {status, "text/plain; charset=utf-8", std::move(body), {}};
}

}  // namespace

MetricsResponse RouteMetricsRequest(std::string_view method, std::string_view target,
                                    const TextSource& source,
                                    const std::vector<ExtraRoute>& routes) {
  const std::string_view path = target.substr(0, target.find('?'));
  const ExtraRoute* extra = nullptr;
  for (const ExtraRoute& r : routes) {
    if (path == r.path) extra = &r;
  }
  if (extra != nullptr) {
    if (method != "GET" && method != "HEAD") {
      MetricsResponse r = Plain(405, "method not allowed; use GET\n");
      r.headers.push_back({"Allow", "GET, HEAD"});
      return r;
    }
    try {
      return {200, extra->content_type, extra->source ? extra->source() : std::string(), {}};
    } catch (const std::exception& e) {
      return Plain(500, std::string("cannot render ") + extra->path + ": " + e.what() + "\n");
    }
  }
  const bool metrics = path == "/metrics";
  if (!metrics && path != "/healthz") {
    return Plain(404, "not found; this server answers GET /metrics and GET /healthz\n");
  }
  if (method != "GET" && method != "HEAD") {
    MetricsResponse r = Plain(405, "method not allowed; use GET\n");
    r.headers.push_back({"Allow", "GET, HEAD"});
    return r;
  }
  if (!metrics) return Plain(200, "ok\n");
  try {
    return {200, kPrometheusContentType, source ? source() : std::string(), {}};
  } catch (const std::exception& e) {
    return Plain(500, std::string("cannot render metrics: ") + e.what() + "\n");
  } catch (...) {
    return Plain(500, "cannot render metrics\n");
  }
}

Result<std::pair<std::string, uint16_t>> ParseListenAddress(std::string_view text) {
  const std::string expected = "expected ADDRESS:PORT such as 127.0.0.1:9464, [::1]:9464 or :9464";
  std::string host;
  std::string_view port;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument(expected + ", found '" + std::string(text) + "'");
    }
    host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument(expected + ", found '" + std::string(text) + "' (no port)");
    }
    host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return Status::InvalidArgument(expected + ", found '" + std::string(text) +
                                     "' (put an IPv6 address in brackets)");
    }
    if (host.empty()) host = "0.0.0.0";
  }
  if (host.empty()) {
    return Status::InvalidArgument(expected + ", found '" + std::string(text) + "' (no address)");
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos ||
      std::stoul(std::string(port)) > 65535) {
    return Status::InvalidArgument(expected + ", found '" + std::string(text) +
                                   "' (the port must be 0-65535)");
  }
  error_code ec;
  asio::ip::make_address(host, ec);
  if (ec) {
    return Status::InvalidArgument(expected + ", found '" + std::string(text) + "' ('" + host +
                                   "' is not an IP address)");
  }
  return std::pair<std::string, uint16_t>{host,
                                          static_cast<uint16_t>(std::stoul(std::string(port)))};
}

namespace {

class Session;

bounds::ClientBounds BoundsOf(const MetricsServerOptions& o) {
  bounds::ClientBounds b;
  b.request_deadline = o.request_deadline;
  b.idle_timeout = o.idle_timeout;
  b.answer_deadline = o.idle_timeout;
  b.max_connections = o.max_connections;
  b.max_connections_per_client = o.max_connections_per_client;
  b.max_header_bytes = o.max_header_bytes;
  b.max_body_bytes = o.max_body_bytes;
  return b;
}

// What the sessions share with the server.
struct Shared {
  explicit Shared(const MetricsServerOptions& o) : options(o), ledger(BoundsOf(o)) {}
  TextSource source;
  MetricsServerOptions options;
  bounds::ConnectionLedger ledger;  // open connections by client address
  std::function<void()> on_close;  // a descriptor came free
  std::atomic<uint64_t> requests{0};
  // Live sessions, touched on the loop thread only (or after it has joined).
  std::set<Session*> sessions;
};

}  // namespace

struct MetricsServer::Impl {
  Impl(TextSource s, const MetricsServerOptions& o) : shared(o) {
    shared.source = std::move(s);
  }

  void Accept();

  // Declared before ioc: destroying ioc destroys the sessions its handlers own,
  // and they unregister themselves here.
  Shared shared;
  bounds::DescriptorReserve reserve{4};  // destroyed after ioc: closing sessions refill it
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer retry{ioc};
  uint16_t port = 0;
  std::thread thread;
  bool stopped = false;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  // REQUIRES: `peer` was admitted to server->ledger.
  Session(tcp::socket socket, Shared* server, std::string peer)
      : stream_(std::move(socket)),
        buffer_(server->options.max_header_bytes + server->options.max_body_bytes + 16 * 1024),
        server_(server),
        peer_(std::move(peer)) {
    server_->sessions.insert(this);
  }
  ~Session() {
    server_->sessions.erase(this);
    server_->ledger.Release(peer_);
    if (server_->on_close) server_->on_close();
  }

  // Waits idle_timeout for the first byte of the next request (unless one is
  // buffered already), then gives the whole request request_deadline.
  void Read() {
    if (buffer_.size() > 0) return ReadRequest();
    stream_.expires_after(server_->options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](error_code ec, size_t n) {
                              if (ec) return self->Close();  // idle, gone, or stopped
                              self->buffer_.commit(n);
                              self->ReadRequest();
                            });
  }

  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(server_->options.max_body_bytes);
    stream_.expires_after(server_->options.request_deadline);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, size_t) { self->OnRead(ec); });
  }

  // After the last answer: stop sending, then read and discard what the peer is
  // still sending (bounded in bytes and time) before closing, so unread request
  // bytes do not turn the close into a reset that destroys the answer in flight.
  void Linger() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(1));
    Discard();
  }

  void Close() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

 private:
  void OnRead(error_code ec) {
    if (ec) {
      // A peer that went away, timed out or stopped mid-request gets no answer;
      // 431, 413 and 400 as every pilotlight server answers them.
      const bounds::RequestFault fault = bounds::ClassifyReadError(ec);
      const int status = bounds::FaultStatus(fault);
      if (status == 0) {
        Close();
        return;
      }
      std::string text = bounds::FaultMessage(fault, BoundsOf(server_->options));
      if (fault == bounds::RequestFault::kMalformed) text += ": " + ec.message();
      Write(Plain(status, text + "\n"), 11, /*keep_alive=*/false, /*head=*/false);
      return;
    }
    const http::request<http::string_body>& req = parser_->get();
    const std::string_view method = View(req.method_string());
    Write(RouteMetricsRequest(method, View(req.target()), server_->source,
                              server_->options.routes),
          req.version(),
          req.keep_alive(), method == "HEAD");
  }

  void Write(MetricsResponse r, unsigned version, bool keep_alive, bool head) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version);
    res->set(http::field::server, "pilotlight");
    res->set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) res->set(name, value);
    res->keep_alive(keep_alive);
    const size_t length = r.body.size();
    if (!head) res->body() = std::move(r.body);
    res->content_length(length);  // HEAD: the length a GET would get, and no body
    ++server_->requests;
    stream_.expires_after(server_->options.idle_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive](error_code ec, size_t) {
                        if (ec) {
                          self->Close();
                          return;
                        }
                        if (!keep_alive) {
                          self->Linger();
                          return;
                        }
                        self->Read();
                      });
  }

  void Discard() {
    stream_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](error_code ec, size_t n) {
                              self->discarded_ += n;
                              if (ec || self->discarded_ > 1024 * 1024) {
                                self->Close();
                                return;
                              }
                              self->Discard();
                            });
  }

  beast::tcp_stream stream_;
  std::array<char, 4096> discard_;
  size_t discarded_ = 0;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Shared* server_;
  const std::string peer_;
};

}  // namespace

void MetricsServer::Impl::Accept() {
  acceptor.async_accept([this](error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      if (bounds::IsOutOfDescriptors(ec.value()) && reserve.Release()) {
        // Out of descriptors: the reserve lets the next accept take the waiting
        // connection (it is refilled as soon as a connection closes).
        LogWarn("metrics server: the process has no descriptor left; using its reserve");
        return Accept();
      }
      // Out of descriptors (reserve spent) and the like: back off briefly
      // instead of spinning.
      LogWarn("metrics server: accept: " + ec.message());
      retry.expires_after(std::chrono::milliseconds(100));
      retry.async_wait([this](error_code e) {
        if (!e) Accept();
      });
      return;
    }
    error_code peer_ec;
    const tcp::endpoint remote = socket.remote_endpoint(peer_ec);
    std::string peer = peer_ec ? std::string() : remote.address().to_string();
    if (shared.ledger.Admit(peer) != bounds::Admission::kAdmitted) {
      error_code ignored;
      socket.close(ignored);  // at the cap or the address's share: refuse rather than grow
    } else {
      std::make_shared<Session>(std::move(socket), &shared, std::move(peer))->Read();
    }
    Accept();
  });
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address,
                                                            uint16_t port, TextSource source,
                                                            MetricsServerOptions options) {
  if (Status st = bounds::Validate(BoundsOf(options), "metrics server"); !st.ok()) return st;
  auto impl = std::make_unique<Impl>(std::move(source), options);
  error_code ec;
  const asio::ip::address addr = asio::ip::make_address(address, ec);
  if (ec) {
    return Status::InvalidArgument("metrics listen address '" + address +
                                   "' is not an IP address (e.g. 127.0.0.1 or ::1)");
  }
  const tcp::endpoint endpoint(addr, port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot serve /metrics on " + address + ":" + std::to_string(port) +
                               ": " + ec.message() + " (choose another --metrics-listen)");
  }
  impl->port = impl->acceptor.local_endpoint(ec).port();
  Impl* raw = impl.get();
  raw->shared.on_close = [raw] {
    if (raw->reserve.held() == 0) raw->reserve.Refill();
  };
  raw->Accept();
  raw->thread = std::thread([raw] { raw->ioc.run(); });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

MetricsServer::~MetricsServer() { Stop(); }

uint16_t MetricsServer::port() const { return impl_->port; }

uint64_t MetricsServer::requests() const { return impl_->shared.requests; }

void MetricsServer::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  asio::post(impl_->ioc, [impl = impl_.get()] {
    error_code ignored;
    impl->acceptor.close(ignored);
    impl->retry.cancel();
    for (Session* s : impl->shared.sessions) s->Close();
    impl->ioc.stop();
  });
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace pilotlight::alarm
