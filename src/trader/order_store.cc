#include "trader/order_store.h"

#include <algorithm>
#include <charconv>

#include "trader/schema.h"

namespace pilotlight::trader {
namespace {

// Timestamps leave the database as RFC 3339 UTC text.
std::string Ts(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

int64_t Int(const std::optional<std::string>& v) {
  int64_t out = 0;
  if (v) std::from_chars(v->data(), v->data() + v->size(), out);
  return out;
}

int64_t Price(const std::optional<std::string>& v) { return v ? ParsePrice(*v).value_or(0) : 0; }

// A PostgreSQL array literal of text items, each quoted and escaped.
std::string PgArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char ch : items[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  return out + "}";
}

bool IsReadOnlyError(const std::string& message) {
  return message.find("read-only transaction") != std::string::npos ||
         message.find("during recovery") != std::string::npos ||
         message.find("recovery is in progress") != std::string::npos;
}

const std::string kTradeColumns =
    "trade_id, symbol, price::text AS price, qty, maker_order_id, taker_order_id, buy_order_id, "
    "sell_order_id, " +
    Ts("executed_at") + " AS executed_at";

Execution ExecutionAt(const pg::Rows& rows, size_t i) {
  Execution e;
  e.trade_id = Int(rows.Get(i, "trade_id"));
  e.symbol = rows.Get(i, "symbol").value_or("");
  e.price = Price(rows.Get(i, "price"));
  e.qty = Int(rows.Get(i, "qty"));
  e.maker_order_id = Int(rows.Get(i, "maker_order_id"));
  e.taker_order_id = Int(rows.Get(i, "taker_order_id"));
  e.buy_order_id = Int(rows.Get(i, "buy_order_id"));
  e.sell_order_id = Int(rows.Get(i, "sell_order_id"));
  e.executed_at = rows.Get(i, "executed_at").value_or("");
  return e;
}

const std::string kOrderColumns =
    "order_id, account, client_order_id, symbol, side, "
    "price::text AS price, qty, filled_qty, status, " +
    Ts("created_at") + " AS created_at";

OrderView OrderAt(const pg::Rows& rows, size_t i) {
  OrderView o;
  o.order_id = Int(rows.Get(i, "order_id"));
  o.account = rows.Get(i, "account").value_or("");
  o.client_order_id = rows.Get(i, "client_order_id").value_or("");
  o.symbol = rows.Get(i, "symbol").value_or("");
  o.side = ParseSide(rows.Get(i, "side").value_or("")).value_or(Side::kBuy);
  o.price = Price(rows.Get(i, "price"));
  o.qty = Int(rows.Get(i, "qty"));
  o.filled_qty = Int(rows.Get(i, "filled_qty"));
  o.status = ParseStatus(rows.Get(i, "status").value_or("")).value_or(OrderStatus::kNew);
  o.created_at = rows.Get(i, "created_at").value_or("");
  return o;
}

}  // namespace

OrderStore::OrderStore(pg::Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

Result<pg::Connection*> OrderStore::Conn() {
  if (!conn_) {
    Result<std::unique_ptr<pg::Connection>> opened = pg::Connection::Open(endpoint_);
    if (!opened.ok()) {
      unavailable_reason_ = "unreachable";
      return Status::Unavailable("database unreachable: " + opened.status().message());
    }
    conn_ = std::move(*opened);
  }
  return conn_.get();
}

Status OrderStore::Fail(const Status& st, bool in_transaction) {
  if (!conn_) return st;
  // ROLLBACK outside a transaction only warns; when it fails the connection is gone.
  const bool alive = conn_->Exec("ROLLBACK").ok();
  if (!alive) {
    conn_.reset();
    unavailable_reason_ = "unreachable";
    return Status::Unavailable("database unreachable: " + st.message());
  }
  if (IsReadOnlyError(st.message())) {
    DatabaseState db = Probe();
    unavailable_reason_ = db.role == "primary" ? "read-only" : db.role;
    return Status::Unavailable("writes refused: " + db.detail);
  }
  (void)in_transaction;
  return Status::Internal(st.message());
}

DatabaseState OrderStore::Probe() {
  DatabaseState s;
  Result<pg::Connection*> c = Conn();
  if (!c.ok()) {
    s.role = "unreachable";
    s.detail = c.status().message();
    return s;
  }
  Result<pg::Rows> r = (*c)->Query(
      "SELECT pg_is_in_recovery()::text AS recovery, "
      "current_setting('default_transaction_read_only') AS ro");
  if (!r.ok() || r->empty()) {
    conn_.reset();
    s.role = "unreachable";
    s.detail = "database unreachable: " + r.status().message();
    return s;
  }
  s.reachable = true;
  if (r->Get(0, "recovery") == "true") {
    s.role = "standby";
    s.detail =
        "the database of this region is a read-only standby (in recovery); it takes "
        "writes only after it is promoted";
  } else if (r->Get(0, "ro") == "on") {
    s.role = "fenced";
    s.detail =
        "the database of this region is fenced (default_transaction_read_only = on); "
        "another region holds the writable primary";
  } else {
    s.role = "primary";
    s.writable = true;
    s.detail = "writable primary";
  }
  return s;
}

Result<std::optional<StoredApiKey>> OrderStore::ApiKeyById(const std::string& key_id) {
  Result<pg::Connection*> c = Conn();
  if (!c.ok()) return c.status();
  Result<std::optional<StoredApiKey>> r = FindApiKey(**c, key_id);
  if (!r.ok()) return Fail(r.status(), false);
  return r;
}

Result<std::map<std::string, int64_t>> OrderStore::Ticks() {
  Result<pg::Connection*> c = Conn();
  if (!c.ok()) return c.status();
  Result<pg::Rows> r = (*c)->Query("SELECT symbol, tick::text AS tick FROM symbols");
  if (!r.ok()) return Fail(r.status(), false);
  std::map<std::string, int64_t> out;
  for (size_t i = 0; i < r->rows.size(); ++i) {
    const int64_t tick = Price(r->Get(i, "tick"));
    if (tick > 0) out[r->Get(i, "symbol").value_or("")] = tick;
  }
  return out;
}

Result<std::vector<Execution>> OrderStore::FillsOf(int64_t order_id, bool taker_only) {
  Result<pg::Connection*> c = Conn();
  if (!c.ok()) return c.status();
  const std::string where = taker_only
                                ? "taker_order_id = $1::bigint"
                                : "taker_order_id = $1::bigint OR maker_order_id = $1::bigint";
  Result<pg::Rows> r =
      (*c)->Query("SELECT " + kTradeColumns + " FROM trades WHERE " + where + " ORDER BY trade_id",
                  {std::to_string(order_id)});
  if (!r.ok()) return Fail(r.status(), false);
  std::vector<Execution> out;
  for (size_t i = 0; i < r->rows.size(); ++i) out.push_back(ExecutionAt(*r, i));
  return out;
}

Result<std::optional<OrderView>> OrderStore::FindByClientId(const std::string& account,
                                                            const std::string& client_order_id) {
  Result<pg::Connection*> c = Conn();
  if (!c.ok()) return c.status();
  Result<pg::Rows> r = (*c)->Query(
      "SELECT " + kOrderColumns + " FROM orders WHERE account = $1 AND client_order_id = $2",
      {account, client_order_id});
  if (!r.ok()) return Fail(r.status(), false);
  if (r->empty()) return std::optional<OrderView>();
  return std::optional<OrderView>(OrderAt(*r, 0));
}

Result<OrderView> OrderStore::Replay(const std::string& account, const OrderRequest& order) {
  Result<std::optional<OrderView>> found = FindByClientId(account, order.client_order_id);
  if (!found.ok()) return found.status();
  if (!*found) {
    return Status::NotFound("no order with client_order_id " + order.client_order_id);
  }
  OrderView first = std::move(**found);
  if (first.symbol != order.symbol || first.side != order.side || first.price != order.price ||
      first.qty != order.qty) {
    return Status::AlreadyExists("client_order_id '" + order.client_order_id +
                                 "' was already used for order " + std::to_string(first.order_id) +
                                 " (" + SideName(first.side) + " " + std::to_string(first.qty) +
                                 " " + first.symbol + " @ " + FormatPrice(first.price) +
                                 "); use a new client_order_id for a new order");
  }
  // The first answer is the order as it left the matching: its own (taker) fills.
  Result<std::vector<Execution>> fills = FillsOf(first.order_id, /*taker_only=*/true);
  if (!fills.ok()) return fills.status();
  first.fills = std::move(*fills);
  first.filled_qty = 0;
  for (const Execution& e : first.fills) first.filled_qty += e.qty;
  first.status = StatusOf(first.qty, first.filled_qty);
  return first;
}

Result<PlaceResult> OrderStore::Place(const std::string& account, const OrderRequest& o) {
  std::vector<Result<PlaceResult>> one = PlaceBatch({{account, o}});
  return std::move(one.front());
}

std::vector<Result<PlaceResult>> OrderStore::PlaceBatch(
    const std::vector<std::pair<std::string, OrderRequest>>& orders) {
  std::vector<Result<PlaceResult>> out;
  if (orders.empty()) return out;
  auto all = [&](const Status& st) {
    out.assign(orders.size(), Result<PlaceResult>(st));
    return out;
  };
  Result<pg::Connection*> c = Conn();
  if (!c.ok()) return all(c.status());
  auto text_array = [&](auto field) {
    std::vector<std::string> items;
    for (const auto& [account, o] : orders) items.push_back(field(account, o));
    return PgArray(items);
  };
  // ONE round trip, two transactions: pl_place_orders (schema.cc) locks the
  // batch's symbols and, for each order in turn, inserts it idempotently, matches it,
  // writes its trades and their confirmation outbox rows, and commits
  // asynchronously (the symbols are free again before the WAL flush); then the
  // durability barrier commits synchronously, so when it answers, the orders, and
  // any first order a replay found, are durable. Nothing is answered before it.
  std::vector<Result<pg::Rows>> answers = (*c)->QueryPipeline(
      {{"SELECT * FROM pl_place_orders($1::text[], $2::text[], $3::text[], $4::text[], "
        "$5::numeric[], $6::bigint[])",
        {text_array([](const std::string&, const OrderRequest& o) { return o.symbol; }),
         text_array([](const std::string& a, const OrderRequest&) { return a; }),
         text_array([](const std::string&, const OrderRequest& o) { return o.client_order_id; }),
         text_array([](const std::string&, const OrderRequest& o) {
           return std::string(SideName(o.side));
         }),
         text_array([](const std::string&, const OrderRequest& o) { return FormatPrice(o.price); }),
         text_array(
             [](const std::string&, const OrderRequest& o) { return std::to_string(o.qty); })}},
       {kDurabilityBarrierSql, {}}});
  Result<pg::Rows>& r = answers[0];
  if (!r.ok()) {
    Status refused = Fail(r.status(), false);
    if (refused.code() == Status::Code::kUnavailable) {
      // A read-only database may still know these orders: a retry after a
      // failover gets its first answer wherever the order has been replicated.
      for (const auto& [account, o] : orders) {
        Result<OrderView> known = conn_ ? Replay(account, o) : Result<OrderView>(refused);
        out.push_back(known.ok() ? Result<PlaceResult>(PlaceResult{std::move(*known), true, {}})
                                 : Result<PlaceResult>(refused));
      }
      return out;
    }
    if (orders.size() > 1) {
      // One bad order must not fail the others: each on its own.
      for (const auto& order : orders) out.push_back(Place(order.first, order.second));
      return out;
    }
    return all(refused);
  }
  if (!answers[1].ok()) return all(Fail(answers[1].status(), false));

  std::vector<std::string> outcome(orders.size());
  std::vector<PlaceResult> placed(orders.size());
  for (size_t i = 0; i < r->rows.size(); ++i) {
    const int64_t index = Int(r->Get(i, "r_index")) - 1;
    if (index < 0 || index >= static_cast<int64_t>(orders.size())) continue;
    const auto& [account, o] = orders[static_cast<size_t>(index)];
    outcome[index] = r->Get(i, "r_outcome").value_or("");
    OrderView& v = placed[index].order;
    if (v.order_id == 0) {
      v.order_id = Int(r->Get(i, "r_order_id"));
      v.account = account;
      v.client_order_id = o.client_order_id;
      v.symbol = o.symbol;
      v.side = o.side;
      v.price = o.price;
      v.qty = o.qty;
      v.created_at = r->Get(i, "r_created_at").value_or("");
    }
    if (!r->Get(i, "r_trade_id")) continue;  // placed without a trade
    Execution e;
    e.trade_id = Int(r->Get(i, "r_trade_id"));
    e.symbol = o.symbol;
    e.price = Price(r->Get(i, "r_price"));
    e.qty = Int(r->Get(i, "r_qty"));
    e.maker_order_id = Int(r->Get(i, "r_maker_order_id"));
    e.taker_order_id = v.order_id;
    e.buy_order_id = o.side == Side::kBuy ? v.order_id : e.maker_order_id;
    e.sell_order_id = o.side == Side::kBuy ? e.maker_order_id : v.order_id;
    e.executed_at = r->Get(i, "r_executed_at").value_or("");
    v.filled_qty += e.qty;
    v.fills.push_back(std::move(e));
  }
  for (size_t i = 0; i < orders.size(); ++i) {
    const auto& [account, o] = orders[i];
    if (outcome[i] == "unknown_symbol") {
      out.push_back(Status::InvalidArgument("unknown symbol '" + o.symbol + "'"));
    } else if (outcome[i] == "replay") {
      // The UNIQUE constraint found the committed first order: answer from it.
      Result<OrderView> known = Replay(account, o);
      out.push_back(known.ok() ? Result<PlaceResult>(PlaceResult{std::move(*known), true, {}})
                               : Result<PlaceResult>(known.status()));
    } else if (outcome[i] == "placed") {
      placed[i].order.status = StatusOf(o.qty, placed[i].order.filled_qty);
      placed[i].new_trades = placed[i].order.fills;
      out.push_back(std::move(placed[i]));
    } else {
      out.push_back(Status::Internal("pl_place_orders answered '" + outcome[i] +
                                     "' for client_order_id " + o.client_order_id +
                                     "; is the trading schema current?"));
    }
  }
  return out;
}

Result<OrderView> OrderStore::Get(const std::string& account, int64_t order_id) {
  Result<pg::Connection*> c = Conn();
  if (!c.ok()) return c.status();
  Result<pg::Rows> r = (*c)->Query(
      "SELECT " + kOrderColumns + " FROM orders WHERE order_id = $1::bigint AND account = $2",
      {std::to_string(order_id), account});
  if (!r.ok()) return Fail(r.status(), false);
  if (r->empty())
    return Status::NotFound("no order " + std::to_string(order_id) + " of account " + account);
  OrderView v = OrderAt(*r, 0);
  Result<std::vector<Execution>> fills = FillsOf(order_id, /*taker_only=*/false);
  if (!fills.ok()) return fills.status();
  v.fills = std::move(*fills);
  return v;
}

Result<OrderView> OrderStore::Cancel(const std::string& account, int64_t order_id) {
  Result<pg::Connection*> c = Conn();
  if (!c.ok()) return c.status();
  pg::Connection& db = **c;
  Result<pg::Rows> owner =
      db.Query("SELECT symbol FROM orders WHERE order_id = $1::bigint AND account = $2",
               {std::to_string(order_id), account});
  if (!owner.ok()) return Fail(owner.status(), false);
  if (owner->empty()) {
    return Status::NotFound("no order " + std::to_string(order_id) + " of account " + account);
  }
  Status begun = db.Exec("BEGIN");
  if (!begun.ok()) return Fail(begun, false);
  Result<pg::Rows> lock = db.Query("SELECT 1 FROM symbols WHERE symbol = $1 FOR UPDATE",
                                   {owner->Get(0, "symbol").value_or("")});
  if (!lock.ok()) return Fail(lock.status(), true);
  Result<pg::Rows> now =
      db.Query("SELECT status FROM orders WHERE order_id = $1::bigint", {std::to_string(order_id)});
  if (!now.ok()) return Fail(now.status(), true);
  const OrderStatus status = ParseStatus(now->empty() ? "" : now->Get(0, "status").value_or(""))
                                 .value_or(OrderStatus::kNew);
  switch (DecideCancel(status)) {
    case CancelDecision::kCancel: {
      Result<pg::Rows> done = db.Query(
          "WITH gone AS (DELETE FROM book WHERE order_id = $1::bigint) "
          "UPDATE orders SET status = 'cancelled', updated_at = now() WHERE order_id = $1::bigint",
          {std::to_string(order_id)});
      if (!done.ok()) return Fail(done.status(), true);
      Status committed = db.Exec("COMMIT");
      if (!committed.ok()) return Fail(committed, true);
      break;
    }
    case CancelDecision::kAlreadyCancelled:
      (void)db.Exec("ROLLBACK");
      break;
    case CancelDecision::kAlreadyFilled:
      (void)db.Exec("ROLLBACK");
      return Status::FailedPrecondition("order " + std::to_string(order_id) +
                                        " is already filled; there is nothing left to cancel");
  }
  return Get(account, order_id);
}

Result<BookView> OrderStore::Book(const std::string& symbol, int depth) {
  Result<pg::Connection*> c = Conn();
  if (!c.ok()) return c.status();
  Result<pg::Rows> known = (*c)->Query("SELECT 1 FROM symbols WHERE symbol = $1", {symbol});
  if (!known.ok()) return Fail(known.status(), false);
  if (known->empty()) return Status::NotFound("unknown symbol '" + symbol + "'");
  Result<pg::Rows> r = (*c)->Query(
      "SELECT side, price::text AS price, sum(remaining)::text AS qty, count(*)::text AS n "
      "FROM book WHERE symbol = $1 GROUP BY side, price",
      {symbol});
  if (!r.ok()) return Fail(r.status(), false);
  BookView b;
  b.symbol = symbol;
  for (size_t i = 0; i < r->rows.size(); ++i) {
    Level l{Price(r->Get(i, "price")), Int(r->Get(i, "qty")),
            static_cast<int>(Int(r->Get(i, "n")))};
    (r->Get(i, "side") == "buy" ? b.bids : b.asks).push_back(l);
  }
  std::sort(b.bids.begin(), b.bids.end(),
            [](const Level& a, const Level& z) { return a.price > z.price; });
  std::sort(b.asks.begin(), b.asks.end(),
            [](const Level& a, const Level& z) { return a.price < z.price; });
  if (depth > 0) {
    if (b.bids.size() > static_cast<size_t>(depth)) b.bids.resize(depth);
    if (b.asks.size() > static_cast<size_t>(depth)) b.asks.resize(depth);
  }
  return b;
}

Result<std::vector<Execution>> OrderStore::Trades(int64_t since_trade_id, int limit) {
  Result<pg::Connection*> c = Conn();
  if (!c.ok()) return c.status();
  Result<pg::Rows> r = (*c)->Query("SELECT " + kTradeColumns +
                                       " FROM trades WHERE trade_id > $1::bigint "
                                       "ORDER BY trade_id LIMIT $2::int",
                                   {std::to_string(since_trade_id), std::to_string(limit)});
  if (!r.ok()) return Fail(r.status(), false);
  std::vector<Execution> out;
  for (size_t i = 0; i < r->rows.size(); ++i) out.push_back(ExecutionAt(*r, i));
  return out;
}

}  // namespace pilotlight::trader
