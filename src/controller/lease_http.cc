#include "controller/lease_http.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "controller/http_call.h"
#include "core/duration.h"
#include "core/log.h"
#include "sys/whole_file.h"

namespace pilotlight::controller {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

// ---- LeaseService -------------------------------------------------------------

LeaseService::LeaseService(LeaseGrantor grantor, const Clock& clock, std::string state_file)
    : grantor_(std::move(grantor)), clock_(clock), state_file_(std::move(state_file)) {}

Status LeaseService::Load() {
  if (state_file_.empty()) return Status::OK();
  std::ifstream in(state_file_);
  if (!in) return Status::OK();
  std::string line;
  std::getline(in, line);
  if (line.empty() || line.size() > 20 || line.find_first_not_of("0123456789") != std::string::npos) {
    return Status::Corruption("lease state file " + state_file_ + " holds \"" + line.substr(0, 40) +
                              "\", not an expiry; if no lease can be outstanding, delete it");
  }
  std::lock_guard<std::mutex> lock(mu_);
  grantor_.Restore(WallTime(Duration(std::stoll(line))));
  return Status::OK();
}

LeaseAnswer LeaseService::Renew(const std::string& holder) {
  std::lock_guard<std::mutex> lock(mu_);
  LeaseGrantor before = grantor_;
  LeaseAnswer a = grantor_.Renew(holder, clock_.Now());
  if (a.granted && !state_file_.empty()) {
    const int64_t expiry = grantor_.ExpiresAt()->time_since_epoch().count();
    Status st =
        sys::WriteFileAtomically(state_file_, std::to_string(expiry) + "\n", /*durable=*/true);
    if (!st.ok()) {
      // Unrecorded, the grant could be forgotten by a restart: do not give it.
      grantor_ = before;
      return LeaseAnswer{false, Duration(0), 0, "the controller cannot record the lease: " +
                                                     st.message()};
    }
  }
  return a;
}

void LeaseService::SetGranting(bool granting, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  grantor_.SetGranting(granting, why);
}

void LeaseService::Revoke(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  grantor_.Revoke(why);
}

void LeaseService::Rearm() {
  std::lock_guard<std::mutex> lock(mu_);
  grantor_.Rearm();
}

void LeaseService::SetServingGate(std::function<bool()> serving) {
  std::lock_guard<std::mutex> lock(mu_);
  serving_ = std::move(serving);
}

bool LeaseService::serving() const {
  std::function<bool()> gate;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gate = serving_;
  }
  return !gate || gate();
}

std::optional<WallTime> LeaseService::ExpiresAt() const {
  std::lock_guard<std::mutex> lock(mu_);
  return grantor_.ExpiresAt();
}

bool LeaseService::granting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return grantor_.granting();
}

bool LeaseService::revoked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return grantor_.revoked();
}

std::string LeaseService::holder() const {
  std::lock_guard<std::mutex> lock(mu_);
  return grantor_.holder();
}

std::string LeaseService::refusal() const {
  std::lock_guard<std::mutex> lock(mu_);
  return grantor_.refusal();
}

// ---- LeaseServer --------------------------------------------------------------

namespace {

http::response<http::string_body> Handle(const http::request<http::string_body>& req,
                                         LeaseService& service) {
  http::response<http::string_body> res;
  res.version(11);
  res.set(http::field::content_type, "application/json");
  res.keep_alive(false);
  auto reply = [&](http::status status, const json& body) {
    res.result(status);
    res.body() = body.dump();
    res.prepare_payload();
    return res;
  };
  if (req.target() != "/v1/lease") {
    return reply(http::status::not_found, {{"error", "no such endpoint; use /v1/lease"}});
  }
  if (req.method() == http::verb::get) {
    const std::optional<WallTime> exp = service.ExpiresAt();
    return reply(http::status::ok, {{"holder", service.holder()},
                                    {"granting", service.granting()},
                                    {"revoked", service.revoked()},
                                    {"expires_at", exp ? FormatTime(*exp) : ""},
                                    {"reason", service.refusal()}});
  }
  if (req.method() != http::verb::post) {
    res.set(http::field::allow, "GET, POST");
    return reply(http::status::method_not_allowed, {{"error", "use GET or POST"}});
  }
  json body = json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("holder") || !body["holder"].is_string()) {
    return reply(http::status::bad_request,
                 {{"error", "expected a JSON object with a string \"holder\""}});
  }
  if (!service.serving()) {
    return reply(http::status::service_unavailable,
                 {{"error", "this controller does not lead; renew with the leader's endpoint "
                            "(lease.endpoint)"}});
  }
  const LeaseAnswer a = service.Renew(body["holder"].get<std::string>());
  if (!a.granted) {
    return reply(http::status::conflict,
                 {{"granted", false}, {"reason", a.reason}, {"fence", a.fence_now}});
  }
  return reply(http::status::ok,
               {{"granted", true},
                {"duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(a.duration)
                                    .count()},
                {"epoch", a.epoch}});
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, LeaseService& service)
      : stream_(std::move(socket)), service_(service) {}
  void Start() {
    stream_.expires_after(std::chrono::seconds(2));
    parser_.body_limit(4096);
    parser_.header_limit(4096);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return;
                       self->res_ = Handle(self->parser_.get(), self->service_);
                       http::async_write(self->stream_, self->res_,
                                         [self](beast::error_code, size_t) {
                                           beast::error_code ignored;
                                           self->stream_.socket().shutdown(
                                               tcp::socket::shutdown_send, ignored);
                                         });
                     });
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> res_;
  LeaseService& service_;
};

}  // namespace

struct LeaseServer::Impl {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  LeaseService* service = nullptr;
  std::thread thread;
  uint16_t port = 0;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(socket), *service)->Start();
      Accept();
    });
  }
};

LeaseServer::LeaseServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LeaseServer::~LeaseServer() { Stop(); }

Result<std::unique_ptr<LeaseServer>> LeaseServer::Start(const std::string& address, uint16_t port,
                                                        LeaseService& service) {
  auto impl = std::make_unique<Impl>();
  impl->service = &service;
  beast::error_code ec;
  const asio::ip::address addr = asio::ip::make_address(address, ec);
  if (ec) return Status::InvalidArgument("lease listen address \"" + address + "\": " + ec.message());
  const tcp::endpoint ep(addr, port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen for lease renewals on " + address + ":" +
                               std::to_string(port) + ": " + ec.message());
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->ioc.run(); });
  return std::unique_ptr<LeaseServer>(new LeaseServer(std::move(impl)));
}

uint16_t LeaseServer::port() const { return impl_->port; }

void LeaseServer::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  asio::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    impl->ioc.stop();
  });
  impl_->thread.join();
}

// ---- Client --------------------------------------------------------------------

Result<std::pair<std::string, uint16_t>> ParseHostPort(const std::string& text) {
  const size_t colon = text.rfind(':');
  const std::string port = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (colon == 0 || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
    return Status::InvalidArgument("\"" + text + "\": expected HOST:PORT");
  }
  return std::make_pair(text.substr(0, colon), static_cast<uint16_t>(std::stoul(port)));
}

Result<LeaseAnswer> RequestRenewal(const std::string& address, uint16_t port,
                                   const std::string& holder, Duration timeout) {
  const std::string where = address + ":" + std::to_string(port);
  HttpRequestSpec request;
  request.method = "POST";
  request.target = "/v1/lease";
  request.body = json{{"holder", holder}}.dump();
  request.headers = {{"Content-Type", "application/json"}};
  request.resolve_names = false;  // the controller is named by its IP address
  request.body_limit = 8u << 20;  // Beast's default for a response, as before
  request.label = "lease renewal to " + where;
  Result<HttpReply> res = HttpCall(address, port, request, timeout);
  if (!res.ok()) return res.status();
  try {
    json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object() || !body.contains("granted") || !body["granted"].is_boolean()) {
      return Status::Unavailable("lease renewal to " + where + ": HTTP " +
                                 std::to_string(res->status) + " without a lease answer");
    }
    LeaseAnswer a;
    a.granted = body["granted"].get<bool>();
    a.reason = body.value("reason", a.granted ? "granted" : "refused");
    a.fence_now = !a.granted && body.value("fence", false);
    if (a.granted) {
      if (!body.contains("duration_ms") || !body["duration_ms"].is_number_integer() ||
          body["duration_ms"].get<int64_t>() <= 0) {
        return Status::Unavailable("lease renewal to " + where + ": a grant without a duration");
      }
      a.duration = std::chrono::milliseconds(body["duration_ms"].get<int64_t>());
      a.epoch = body.value("epoch", uint64_t{0});
    }
    return a;
  } catch (const std::exception& e) {
    return Status::Unavailable("lease renewal to " + where + ": " + e.what());
  }
}

// ---- The keeper loop ------------------------------------------------------------

LeaseEffects PostgresLeaseEffects(const LeaseKeeperOptions& options, const Clock& clock) {
  LeaseEffects e;
  e.fence = [options, &clock] {
    return pg::Fence(options.database, pg::FenceMode::kReadOnly, options.fence_timeout, clock)
        .status();
  };
  e.unfence = [options, &clock] {
    return pg::Unfence(options.database, options.fence_timeout, clock);
  };
  return e;
}

void RunLeaseKeeper(const LeaseKeeperOptions& options, const LeaseEffects& effects,
                    Clock& clock, const std::atomic<bool>& stop) {
  Result<std::pair<std::string, uint16_t>> controller = ParseHostPort(options.controller);
  if (!controller.ok()) {
    LogError("lease keeper: controller " + controller.status().message());
    return;
  }
  LeaseKeeper keeper(options.keeper);
  LeaseKeeper::State logged = keeper.state();
  std::string last_error;
  LogInfo("lease keeper for region " + options.holder + ": asking " + options.controller +
          " for the write lease; fencing " + options.database.ToString() + " if it is lost");
  while (!stop.load()) {
    const MonoTime now = clock.Monotonic();
    switch (keeper.Next(now)) {
      case LeaseKeeper::Action::kRenew: {
        const MonoTime sent = clock.Monotonic();
        const Duration timeout =
            keeper.valid_until()
                ? std::max<Duration>(std::min<Duration>(options.request_timeout,
                                                        *keeper.valid_until() -
                                                            keeper.fence_lead() - sent),
                                     std::chrono::milliseconds(50))
                : options.request_timeout;
        Result<LeaseAnswer> a = RequestRenewal(controller->first, controller->second,
                                               options.holder, timeout);
        if (a.ok()) {
          if (!a->granted && a->reason != last_error) LogWarn("lease keeper: refused: " + a->reason);
          last_error = a->granted ? "" : a->reason;
          keeper.Answered(sent, *a, clock.Monotonic());
        } else {
          if (a.status().message() != last_error) LogWarn("lease keeper: " + a.status().message());
          last_error = a.status().message();
          keeper.Failed(sent, clock.Monotonic());
        }
        break;
      }
      case LeaseKeeper::Action::kFence: {
        LogWarn("lease keeper: the write lease is lost" +
                (keeper.last_refusal().empty() ? std::string(" (not renewed in time)")
                                               : " (" + keeper.last_refusal() + ")") +
                "; fencing " + options.database.ToString());
        Status st = effects.fence();
        if (!st.ok()) LogError("lease keeper: fence failed (retrying): " + st.ToString());
        keeper.FenceDone(st.ok(), clock.Monotonic());
        break;
      }
      case LeaseKeeper::Action::kUnfence: {
        LogInfo("lease keeper: write lease granted again; lifting the fence it set");
        Status st = effects.unfence();
        if (!st.ok()) LogError("lease keeper: unfence failed (retrying): " + st.ToString());
        keeper.UnfenceDone(st.ok(), clock.Monotonic());
        break;
      }
      case LeaseKeeper::Action::kWait: {
        const Duration d = keeper.NextWakeup(now) - clock.Monotonic();
        clock.SleepFor(std::clamp<Duration>(d, std::chrono::milliseconds(1),
                                            std::chrono::milliseconds(50)));
        break;
      }
    }
    if (keeper.state() != logged) {
      LogInfo(std::string("lease keeper: ") + KeeperStateName(logged) + " -> " +
              KeeperStateName(keeper.state()));
      logged = keeper.state();
    }
  }
  LogInfo("lease keeper for region " + options.holder + ": stopped");
}

}  // namespace pilotlight::controller
