#include "trader/service.h"

#include <strings.h>
#include <unistd.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "trader/api_keys.h"
#include "trader/order_request.h"

namespace pilotlight::trader {
namespace {

using nlohmann::json;

constexpr int kDefaultTradesLimit = 1000;
constexpr int kMaxTradesLimit = 10000;

double PriceNumber(int64_t price) { return static_cast<double>(price) / kPriceScale; }

json ExecutionJson(const Execution& e, int64_t for_order) {
  json j = {{"trade_id", e.trade_id},
            {"symbol", e.symbol},
            {"price", PriceNumber(e.price)},
            {"qty", e.qty},
            {"buy_order_id", e.buy_order_id},
            {"sell_order_id", e.sell_order_id},
            {"maker_order_id", e.maker_order_id},
            {"taker_order_id", e.taker_order_id},
            {"executed_at", e.executed_at}};
  if (for_order != 0) j["liquidity"] = e.maker_order_id == for_order ? "maker" : "taker";
  return j;
}

json OrderJson(const OrderView& o) {
  json fills = json::array();
  for (const Execution& e : o.fills) fills.push_back(ExecutionJson(e, o.order_id));
  const bool live = o.status == OrderStatus::kNew || o.status == OrderStatus::kPartiallyFilled;
  return {{"order_id", o.order_id},
          {"client_order_id", o.client_order_id},
          {"account", o.account},
          {"symbol", o.symbol},
          {"side", SideName(o.side)},
          {"price", PriceNumber(o.price)},
          {"qty", o.qty},
          {"filled_qty", o.filled_qty},
          {"remaining_qty", live ? o.qty - o.filled_qty : 0},
          {"status", StatusName(o.status)},
          {"created_at", o.created_at},
          {"fills", fills}};
}

json LevelsJson(const std::vector<Level>& levels) {
  json out = json::array();
  for (const Level& l : levels) {
    out.push_back({{"price", PriceNumber(l.price)}, {"qty", l.qty}, {"orders", l.orders}});
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(const std::string& query) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string::npos) amp = query.size();
    const std::string pair = query.substr(start, amp - start);
    const size_t eq = pair.find('=');
    if (!pair.empty()) {
      out[pair.substr(0, eq)] = eq == std::string::npos ? "" : pair.substr(eq + 1);
    }
    start = amp + 1;
  }
  return out;
}

std::optional<int64_t> ParseInt(const std::string& s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

json ErrorJson(const std::string& error, const std::string& message) {
  return {{"error", error}, {"message", message}};
}

}  // namespace

struct Service::Backend {
  Backend(const ServiceOptions& o)
      : orders(o.database), sessions(o.region, o.redis_host, o.redis_port, o.session_ttl, o.redis_user,
                 o.redis_password_file) {}
  OrderStore orders;
  SessionStore sessions;
};

// Returns the backend to the pool when the request is done.
class Service::Lease {
 public:
  Lease(Service* s, std::unique_ptr<Backend> b) : s_(s), b_(std::move(b)) {}
  Lease(Lease&&) = default;
  ~Lease() {
    if (!b_) return;
    std::lock_guard<std::mutex> lock(s_->pool_mu_);
    s_->idle_.push_back(std::move(b_));
    s_->pool_cv_.notify_one();
  }
  Backend& operator*() { return *b_; }
  Backend* operator->() { return b_.get(); }

 private:
  Service* s_;
  std::unique_ptr<Backend> b_;
};

Service::Service(ServiceOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      confirmations_(ConfirmationWriter(options_.confirmations_dir, options_.region),
                     options_.database),
      batches_(static_cast<size_t>(std::max(1, options_.order_batches)),
               static_cast<size_t>(std::max(1, options_.max_batch)),
               Placed{Status::Internal("order batch answered short"), ""}),
      session_limiter_(options_.session_limits) {
  const int n = std::max(1, options_.db_connections);
  for (int i = 0; i < n; ++i) idle_.push_back(std::make_unique<Backend>(options_));
}

Service::~Service() = default;

Service::Lease Service::Borrow() {
  std::unique_lock<std::mutex> lock(pool_mu_);
  pool_cv_.wait(lock, [&] { return !idle_.empty(); });
  std::unique_ptr<Backend> b = std::move(idle_.back());
  idle_.pop_back();
  return Lease(this, std::move(b));
}

HttpResponse Service::Json(int status, std::string body) const {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back(kRegionHeader, options_.region);
  return r;
}

HttpResponse Service::BadRequest(const std::string& field, const std::string& message) const {
  json j = ErrorJson("bad_request", field + ": " + message);
  j["field"] = field;
  return Json(400, j.dump());
}

HttpResponse Service::FromStatus(const Status& st, const std::string& reason) const {
  int code = 500;
  std::string error = "internal";
  switch (st.code()) {
    case Status::Code::kInvalidArgument:
      code = 400, error = "bad_request";
      break;
    case Status::Code::kNotFound:
      code = 404, error = "not_found";
      break;
    case Status::Code::kAlreadyExists:
    case Status::Code::kFailedPrecondition:
      code = 409, error = "conflict";
      break;
    case Status::Code::kUnavailable:
    case Status::Code::kTimeout:
      code = 503, error = "unavailable";
      break;
    default:
      LogError("trader: internal error: " + st.ToString());
      break;
  }
  json j = ErrorJson(error, st.message());
  if (code == 503) j["reason"] = reason.empty() ? "unreachable" : reason;
  HttpResponse r = Json(code, j.dump());
  if (code == 503) r.headers.emplace_back("Retry-After", "1");
  return r;
}

Service::Backend& Service::Need(std::optional<Lease>& lease) {
  if (!lease) lease.emplace(Borrow());
  return **lease;
}

Result<std::shared_ptr<const Service::TickMap>> Service::Ticks(std::optional<Lease>& lease,
                                                                bool refresh) {
  std::lock_guard<std::mutex> lock(ticks_mu_);
  const MonoTime now = clock_.Monotonic();
  const bool stale = refresh && now - ticks_loaded_ > std::chrono::seconds(1);
  if (!ticks_ || stale) {
    Result<TickMap> loaded = Need(lease).orders.Ticks();
    ticks_loaded_ = now;
    if (loaded.ok()) {
      ticks_ = std::make_shared<const TickMap>(std::move(*loaded));
    } else if (!ticks_) {
      return loaded.status();
    }
  }
  return ticks_;
}

std::variant<std::string, HttpResponse> Service::Authenticate(std::optional<Lease>& lease,
                                                              const HttpRequest& r) {
  const std::string& h = r.authorization;
  auto unauthorized = [&](const std::string& why) {
    HttpResponse resp = Json(401, ErrorJson("unauthorized", why).dump());
    resp.headers.emplace_back("WWW-Authenticate", "Bearer");
    return resp;
  };
  if (h.size() < 7 || strncasecmp(h.c_str(), "Bearer ", 7) != 0) {
    return unauthorized("send Authorization: Bearer <token> (POST /v1/sessions makes one)");
  }
  const std::string token = h.substr(7);
  if (!ValidIdentifier(token, 64)) return unauthorized("malformed session token");
  const MonoTime now = clock_.Monotonic();
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    auto it = sessions_.find(token);
    if (it != sessions_.end() && now < it->second.until) return it->second.account;
  }
  Result<std::optional<std::string>> account = Need(lease).sessions.Lookup(token);
  if (!account.ok()) return FromStatus(account.status(), "session_store_unreachable");
  if (!*account) return unauthorized("unknown or expired session; create a new one");
  std::lock_guard<std::mutex> lock(sessions_mu_);
  if (sessions_.size() >= kSessionCacheSize) sessions_.clear();
  sessions_[token] = {**account, now + std::min(kSessionCacheTtl, options_.session_ttl)};
  return **account;
}

HttpResponse Service::Handle(const HttpRequest& r) {
  const size_t q = r.target.find('?');
  const std::string path = r.target.substr(0, q);
  const std::string query = q == std::string::npos ? "" : r.target.substr(q + 1);
  auto not_allowed = [&](const char* allow) {
    HttpResponse resp =
        Json(405, ErrorJson("method_not_allowed", r.method + " is not allowed on " + path).dump());
    resp.headers.emplace_back("Allow", allow);
    return resp;
  };

  if (path == "/healthz") {
    if (r.method != "GET") return not_allowed("GET");
    return Json(200, json({{"status", "alive"},
                           {"region", options_.region},
                           {"instance", options_.instance},
                           {"pid", getpid()}})
                         .dump());
  }
  if (path == "/readyz") {
    if (r.method != "GET") return not_allowed("GET");
    return Readyz();
  }
  if (path == "/v1/sessions") {
    if (r.method != "POST") return not_allowed("POST");
    return CreateSession(r);
  }
  if (path == "/v1/orders") {
    if (r.method != "POST") return not_allowed("POST");
    return PlaceOrder(r);
  }
  if (path.rfind("/v1/orders/", 0) == 0) {
    if (r.method != "GET" && r.method != "DELETE") return not_allowed("GET, DELETE");
    return OrderById(r, path.substr(11));
  }
  if (path.rfind("/v1/book/", 0) == 0) {
    if (r.method != "GET") return not_allowed("GET");
    return BookOf(path.substr(9), query);
  }
  if (path == "/v1/trades") {
    if (r.method != "GET") return not_allowed("GET");
    return TradesSince(query);
  }
  return Json(404, ErrorJson("not_found", "no such endpoint: " + path).dump());
}

HttpResponse Service::Readyz() {
  Lease b = Borrow();
  const DatabaseState db = b->orders.Probe();
  const bool redis = b->sessions.Ping();
  const bool ready = db.writable && redis && !draining();
  std::string why = "ready";
  if (draining()) {
    why = "draining: the instance is shutting down";
  } else if (!db.writable) {
    why = db.detail;
  } else if (!redis) {
    why = "session store (Redis " + options_.redis_host + ":" +
          std::to_string(options_.redis_port) + ") unreachable";
  }
  json j = {{"ready", ready},
            {"region", options_.region},
            {"region_role", options_.region_role},
            {"role", db.role},
            {"instance", options_.instance},
            {"release_digest", options_.release_digest},
            {"draining", draining()},
            {"database", {{"reachable", db.reachable}, {"writable", db.writable},
                          {"role", db.role}, {"detail", db.detail}}},
            {"redis", {{"reachable", redis}}},
            {"message", why}};
  // How orders have been batched since the instance started (service.h).
  const auto batches = batches_.stats();
  j["order_batches"] = {{"batches", batches.batches},
                        {"orders", batches.items},
                        {"largest", batches.largest},
                        {"in_flight_limit", batches_.max_in_flight()}};
  // Session requests since the instance started: refused for their key (401) or
  // their address's rate (429).
  j["sessions_created"] = sessions_created_.load();
  j["sessions_unauthorized"] = sessions_unauthorized_.load();
  j["sessions_rate_limited"] = sessions_rate_limited_.load();
  return Json(ready ? 200 : 503, j.dump());
}

HttpResponse Service::CreateSession(const HttpRequest& r) {
  // Before anything else, so that guessing keys costs tokens too.
  if (!session_limiter_.Allow(r.peer, clock_.Monotonic())) {
    sessions_rate_limited_++;
    HttpResponse resp =
        Json(429, ErrorJson("rate_limited", "too many session requests from " +
                                                (r.peer.empty() ? "this client" : r.peer) +
                                                "; retry after a second")
                      .dump());
    resp.headers.emplace_back("Retry-After", "1");
    return resp;
  }
  Parsed<SessionRequest> parsed = ParseSessionRequest(r.body);
  if (auto* e = std::get_if<RequestError>(&parsed)) return BadRequest(e->field, e->message);
  const SessionRequest& req = std::get<SessionRequest>(parsed);
  // One answer for every refusal, so a client learns nothing about which
  // accounts or key ids exist.
  auto unauthorized = [&] {
    sessions_unauthorized_++;
    return Json(401, ErrorJson("unauthorized",
                               "unknown account or wrong API key; send {\"account\", "
                               "\"api_key\"} with a key `pilotlight trader accounts add` made")
                         .dump());
  };
  std::optional<ApiKey> key = ParseApiKey(req.api_key);
  if (!key) return unauthorized();
  Lease b = Borrow();
  Result<std::optional<StoredApiKey>> stored = b->orders.ApiKeyById(key->key_id);
  if (!stored.ok()) return FromStatus(stored.status(), b->orders.unavailable_reason());
  if (!*stored || !VerifyApiKey(**stored, req.account, *key)) return unauthorized();
  Result<std::string> token = b->sessions.Create(req.account);
  if (!token.ok()) return FromStatus(token.status(), "session_store_unreachable");
  sessions_created_++;
  return Json(201, json({{"token", *token},
                         {"account", req.account},
                         {"expires_in",
                          std::chrono::duration_cast<std::chrono::seconds>(options_.session_ttl)
                              .count()}})
                       .dump());
}

Service::Placed Service::PlaceBatched(const std::string& account, const OrderRequest& order) {
  return batches_.Run({account, order}, [this](const auto& orders) {
    Lease b = Borrow();
    std::vector<Result<PlaceResult>> results = b->orders.PlaceBatch(orders);
    std::vector<Placed> out;
    out.reserve(results.size());
    for (Result<PlaceResult>& r : results) {
      out.push_back(Placed{std::move(r), b->orders.unavailable_reason()});
    }
    return out;
  });
}

HttpResponse Service::PlaceOrder(const HttpRequest& r) {
  std::string account;
  Parsed<OrderRequest> order = RequestError{};
  {
    // A backend only when the session or the ticks are not cached, and given
    // back before the order joins a batch: the batch's leader borrows one for the
    // whole batch.
    std::optional<Lease> b;
    std::variant<std::string, HttpResponse> who = Authenticate(b, r);
    if (auto* resp = std::get_if<HttpResponse>(&who)) return std::move(*resp);
    account = std::get<std::string>(who);
    Result<std::shared_ptr<const TickMap>> ticks = Ticks(b, false);
    if (!ticks.ok()) return FromStatus(ticks.status(), Need(b).orders.unavailable_reason());
    order = ParseOrderRequest(r.body, **ticks);
    if (auto* e = std::get_if<RequestError>(&order); e && e->field == "symbol") {
      ticks = Ticks(b, true);  // a symbol added since we last looked?
      if (ticks.ok()) order = ParseOrderRequest(r.body, **ticks);
    }
  }
  if (auto* e = std::get_if<RequestError>(&order)) return BadRequest(e->field, e->message);
  const OrderRequest& o = std::get<OrderRequest>(order);
  Placed placed = PlaceBatched(account, o);
  if (!placed.result.ok()) {
    const Status& st = placed.result.status();
    if (st.code() == Status::Code::kInvalidArgument) {
      const bool symbol = st.message().find("unknown symbol") != std::string::npos;
      return BadRequest(symbol ? "symbol" : "price", st.message());
    }
    return FromStatus(st, placed.unavailable_reason);
  }
  // The trades' confirmations are committed in the outbox already: write them now.
  if (!placed.result->new_trades.empty()) confirmations_.Nudge();
  HttpResponse resp =
      Json(placed.result->replayed ? 200 : 201, OrderJson(placed.result->order).dump());
  if (placed.result->replayed) resp.headers.emplace_back("Idempotent-Replayed", "true");
  return resp;
}

HttpResponse Service::OrderById(const HttpRequest& r, const std::string& id_text) {
  std::optional<int64_t> id = ParseInt(id_text);
  if (!id || *id <= 0) return BadRequest("order_id", "must be a positive integer, got '" +
                                                         id_text.substr(0, 32) + "'");
  std::optional<Lease> lease;
  std::variant<std::string, HttpResponse> account = Authenticate(lease, r);
  if (auto* resp = std::get_if<HttpResponse>(&account)) return std::move(*resp);
  Backend& b = Need(lease);
  Result<OrderView> v = r.method == "DELETE" ? b.orders.Cancel(std::get<std::string>(account), *id)
                                             : b.orders.Get(std::get<std::string>(account), *id);
  if (!v.ok()) return FromStatus(v.status(), b.orders.unavailable_reason());
  return Json(200, OrderJson(*v).dump());
}

HttpResponse Service::BookOf(const std::string& symbol, const std::string& query) {
  std::map<std::string, std::string> params = ParseQuery(query);
  int depth = 0;
  if (params.count("depth")) {
    std::optional<int64_t> d = ParseInt(params["depth"]);
    if (!d || *d < 1 || *d > 1000) return BadRequest("depth", "must be an integer 1-1000");
    depth = static_cast<int>(*d);
  }
  if (!ValidIdentifier(symbol, 16)) return BadRequest("symbol", "malformed symbol");
  Lease b = Borrow();
  Result<BookView> book = b->orders.Book(symbol, depth);
  if (!book.ok()) return FromStatus(book.status(), b->orders.unavailable_reason());
  return Json(200, json({{"symbol", book->symbol},
                         {"bids", LevelsJson(book->bids)},
                         {"asks", LevelsJson(book->asks)}})
                       .dump());
}

HttpResponse Service::TradesSince(const std::string& query) {
  std::map<std::string, std::string> params = ParseQuery(query);
  int64_t since = 0;
  int limit = kDefaultTradesLimit;
  for (const auto& [key, value] : params) {
    if (key == "since") {
      std::optional<int64_t> s = ParseInt(value);
      if (!s || *s < 0) return BadRequest("since", "must be a trade_id (an integer >= 0)");
      since = *s;
    } else if (key == "limit") {
      std::optional<int64_t> l = ParseInt(value);
      if (!l || *l < 1 || *l > kMaxTradesLimit) {
        return BadRequest("limit", "must be an integer 1-" + std::to_string(kMaxTradesLimit));
      }
      limit = static_cast<int>(*l);
    } else {
      return BadRequest(key, "is not a parameter of /v1/trades (expected since, limit)");
    }
  }
  Lease b = Borrow();
  Result<std::vector<Execution>> trades = b->orders.Trades(since, limit);
  if (!trades.ok()) return FromStatus(trades.status(), b->orders.unavailable_reason());
  json list = json::array();
  for (const Execution& e : *trades) list.push_back(ExecutionJson(e, 0));
  return Json(200, json({{"trades", list},
                         {"next_since", trades->empty() ? since : trades->back().trade_id}})
                       .dump());
}

}  // namespace pilotlight::trader
