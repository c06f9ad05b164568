// Service: the trading service's HTTP API, independent of the HTTP library.
//
// Handle() takes a parsed request and returns the response; http_server.cc owns
// the sockets (Boost.Beast) and calls it from one thread per connection. A call
// that needs the database or Redis (an order's session and ticks are usually
// cached) borrows a Backend (one PostgreSQL connection in an OrderStore and one
// Redis connection in a SessionStore) from a fixed pool, so an instance holds at
// most `db_connections` database connections whatever its client count. Orders go
// to the database in batches (GroupCommit, group_commit.h): the orders that
// arrive while `order_batches` earlier batches are with the database leave
// together, as one statement, one transaction and one durability barrier.
//
//   POST   /v1/sessions        {account}                      -> {token, account, expires_in}
//   POST   /v1/orders          {client_order_id, symbol, side, price, qty} (Bearer) -> order
//   GET    /v1/orders/{id}     (Bearer)                       -> order with every fill
//   DELETE /v1/orders/{id}     (Bearer)                       -> order, cancelled
//   GET    /v1/book/{symbol}[?depth=N]                        -> aggregated levels
//   GET    /v1/trades?since=ID[&limit=N]                      -> trades after ID
//   GET    /healthz                                           -> the process is alive
//   GET    /readyz   200 when the database is writable and Redis reachable, else 503;
//                    reports region, role and release digest either way
//
// Errors are JSON {"error", "message"[, "field"][, "reason"]}: 400 bad input
// (naming the field), 401, 404, 405, 409, 503 when writes cannot be taken
// (reason: standby | fenced | unreachable | session_store_unreachable |
// draining). Every response carries X-Pilotlight-Region. Each trade's
// confirmation is committed with the trade (an outbox row) before the order is
// answered; a ConfirmationDrainer writes the objects into the region's bucket
// (confirmations.h says why). Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/clock.h"
#include "data/postgres/pg_client.h"
#include "trader/confirmations.h"
#include "trader/group_commit.h"
#include "trader/order_store.h"
#include "trader/sessions.h"

namespace pilotlight::trader {

inline constexpr char kRegionHeader[] = "X-Pilotlight-Region";
inline constexpr size_t kMaxBodyBytes = 8192;
inline constexpr Duration kSessionCacheTtl = std::chrono::seconds(5);
inline constexpr size_t kSessionCacheSize = 100'000;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/v1/orders/12?x=y"
  std::string authorization;
  std::string body;
  std::string peer;  // the client's IP address, e.g. "127.0.0.1"
};

struct HttpResponse {
  int status = 200;
  std::string body;  // JSON
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ServiceOptions {
  std::string region;
  std::string region_role;  // configured: "primary" | "dr"
  std::string instance;     // e.g. "trader-1"
  pg::Endpoint database;
  std::string redis_host;
  uint16_t redis_port = 6379;
  Duration session_ttl = std::chrono::hours(8);
  std::string confirmations_dir;  // "" disables confirmations
  std::string release_digest;     // "sha256:..."
  int db_connections = 8;
  // Order batches with the database at once (each on its own connection), and the
  // most orders in one batch.
  int order_batches = 1;
  int max_batch = 64;
};

class Service {
 public:
  Service(ServiceOptions options, const Clock& clock);
  ~Service();

  HttpResponse Handle(const HttpRequest& request);
  // From now on /readyz answers 503 (reason draining) so health checks move away.
  void StartDraining() { draining_.store(true); }
  bool draining() const { return draining_.load(); }
  // Waits until the confirmation outbox is drained into the bucket; returns 0
  // then, non-zero when rows were left after `timeout` (they stay committed in the
  // outbox for the next instance).
  size_t FlushConfirmations(Duration timeout) { return confirmations_.Flush(timeout); }
  // The response to a request whose body exceeded kMaxBodyBytes or did not parse.
  HttpResponse BadRequest(const std::string& field, const std::string& message) const;

 private:
  struct Backend;
  class Lease;
  Lease Borrow();

  HttpResponse Readyz();
  HttpResponse CreateSession(const HttpRequest& r);
  HttpResponse PlaceOrder(const HttpRequest& r);
  HttpResponse OrderById(const HttpRequest& r, const std::string& id);
  HttpResponse BookOf(const std::string& symbol, const std::string& query);
  HttpResponse TradesSince(const std::string& query);
  // The account of the request's Bearer token, or the error response to send.
  // A backend is borrowed into `lease` only when the session is not cached.
  std::variant<std::string, HttpResponse> Authenticate(std::optional<Lease>& lease,
                                                       const HttpRequest& r);
  // The tradable symbols, cached; refreshed at most once a second when `refresh`.
  // (A backend is borrowed into `lease` only to load them.)
  using TickMap = std::map<std::string, int64_t>;
  Result<std::shared_ptr<const TickMap>> Ticks(std::optional<Lease>& lease, bool refresh);
  // The backend in `lease`, borrowed now if it holds none.
  Backend& Need(std::optional<Lease>& lease);
  HttpResponse FromStatus(const Status& st, const std::string& reason) const;
  struct Placed;
  Placed PlaceBatched(const std::string& account, const OrderRequest& order);
  HttpResponse Json(int status, std::string body) const;

  ServiceOptions options_;
  const Clock& clock_;
  ConfirmationDrainer confirmations_;
  std::atomic<bool> draining_{false};

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Backend>> idle_;

  // An order's outcome, with the reason its store gave when it was Unavailable.
  struct Placed {
    Result<PlaceResult> result;
    std::string unavailable_reason;
  };
  GroupCommit<std::pair<std::string, OrderRequest>, Placed> batches_;

  std::mutex ticks_mu_;
  std::shared_ptr<const TickMap> ticks_;
  MonoTime ticks_loaded_{};

  // Sessions seen recently (token -> account, until when), so an order costs no
  // Redis round trip; an entry lives at most kSessionCacheTtl.
  struct CachedSession {
    std::string account;
    MonoTime until;
  };
  std::mutex sessions_mu_;
  std::map<std::string, CachedSession> sessions_;
};

}  // namespace pilotlight::trader
