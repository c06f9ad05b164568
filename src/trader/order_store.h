// OrderStore: the trading service's SQL layer over one PostgreSQL connection.
//
// Every order is matched and stored in ONE statement and one transaction
// (PlaceBatch shares it among the orders of a batch, of any symbols): the
// server-side function pl_place_orders (schema.cc) locks the symbols' rows, in
// symbol order, which serializes concurrent orders on one symbol across all
// instances; inserts the order under the UNIQUE
// (account, client_order_id) constraint, so a retried order never executes twice
// and gets its first answer back; matches it against the crossing side of the
// book exactly as the pure Match() does (price-time priority, partial fills at the
// maker's price); and records each trade with its confirmation outbox row. That
// transaction commits asynchronously, releasing the symbols before the WAL flush;
// the durability barrier (kDurabilityBarrierSql, schema.h), pipelined behind it in
// the same round trip, commits synchronously, and only after it returns is
// anything answered. So the symbol is held for the matching, not for the disk,
// and concurrent orders share flushes. Nothing is kept in memory between calls,
// which is what keeps instances stateless.
//
// Failures come back as Status: InvalidArgument (bad input the caller could not
// check, e.g. a symbol deleted meanwhile), NotFound, AlreadyExists (a
// client_order_id reused for a different order), FailedPrecondition (cancel of a
// filled order) and Unavailable (database unreachable, or read-only because it
// is a standby or fenced; unavailable_reason() then says which).
//
// Not thread-safe: one OrderStore per thread (libpq's rule); it reconnects on its
// own after the database comes back.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "data/postgres/pg_client.h"
#include "trader/api_keys.h"
#include "trader/matching.h"
#include "trader/order_request.h"

namespace pilotlight::trader {

struct Execution {
  int64_t trade_id = 0;
  std::string symbol;
  int64_t price = 0;
  int64_t qty = 0;
  int64_t maker_order_id = 0;
  int64_t taker_order_id = 0;
  int64_t buy_order_id = 0;
  int64_t sell_order_id = 0;
  std::string executed_at;  // RFC 3339 UTC, the database's clock
};

struct OrderView {
  int64_t order_id = 0;
  std::string account;
  std::string client_order_id;
  std::string symbol;
  Side side = Side::kBuy;
  int64_t price = 0;
  int64_t qty = 0;
  int64_t filled_qty = 0;
  OrderStatus status = OrderStatus::kNew;
  std::string created_at;
  std::vector<Execution> fills;  // in trade order
};

struct PlaceResult {
  OrderView order;                    // the first answer (the same on every retry)
  bool replayed = false;              // true when this was a retry of a known order
  std::vector<Execution> new_trades;  // trades this call executed (empty on a replay)
};

struct BookView {
  std::string symbol;
  std::vector<Level> bids;  // best first
  std::vector<Level> asks;  // best first
};

// What the database can do right now, for /readyz.
struct DatabaseState {
  bool reachable = false;
  bool writable = false;
  std::string role;    // "primary" | "standby" | "fenced" | "unreachable"
  std::string detail;  // why, in words
};

class OrderStore {
 public:
  explicit OrderStore(pg::Endpoint endpoint);

  Result<PlaceResult> Place(const std::string& account, const OrderRequest& order);
  // Places (account, order) pairs, of any symbols, in one transaction, in order;
  // one result per pair. When the batch fails on an error that is not the
  // database's availability, each order is retried on its own, so one bad order
  // fails alone.
  std::vector<Result<PlaceResult>> PlaceBatch(
      const std::vector<std::pair<std::string, OrderRequest>>& orders);
  Result<OrderView> Cancel(const std::string& account, int64_t order_id);
  Result<OrderView> Get(const std::string& account, int64_t order_id);
  Result<BookView> Book(const std::string& symbol, int depth);
  Result<std::vector<Execution>> Trades(int64_t since_trade_id, int limit);
  // Every tradable symbol and its tick.
  Result<std::map<std::string, int64_t>> Ticks();
  DatabaseState Probe();
  // The row of API key `key_id` (api_keys.h), nullopt when there is none; a
  // standby answers too (the keys replicate). Unavailable when unreachable.
  Result<std::optional<StoredApiKey>> ApiKeyById(const std::string& key_id);

  // Why the last call returned Unavailable: "standby", "fenced" or "unreachable".
  const std::string& unavailable_reason() const { return unavailable_reason_; }

 private:
  Result<pg::Connection*> Conn();
  // Turns a failed statement into the Status callers see, rolling back first
  // when inside a transaction and dropping a dead connection.
  Status Fail(const Status& st, bool in_transaction);
  Result<std::optional<OrderView>> FindByClientId(const std::string& account,
                                                  const std::string& client_order_id);
  Result<std::vector<Execution>> FillsOf(int64_t order_id, bool taker_only);
  Result<OrderView> Replay(const std::string& account, const OrderRequest& order);

  pg::Endpoint endpoint_;
  std::unique_ptr<pg::Connection> conn_;
  std::string unavailable_reason_;
};

}  // namespace pilotlight::trader
