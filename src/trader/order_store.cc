#include "trader/order_store.h"

#include <algorithm>
#include <charconv>

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

int64_t Price(const std::optional<std::string>& v) {
  return v ? ParsePrice(*v).value_or(0) : 0;
}

bool IsReadOnlyError(const std::string& message) {
  return message.find("read-only transaction") != std::string::npos ||
         message.find("during recovery") != std::string::npos ||
         message.find("recovery is in progress") != std::string::npos;
}

std::string Array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out + "}";
}

const std::string kTradeColumns =
    "trade_id, symbol, price::text AS price, qty, maker_order_id, taker_order_id, buy_order_id, "
    "sell_order_id, " + Ts("executed_at") + " AS executed_at";

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

const std::string kOrderColumns = "order_id, account, client_order_id, symbol, side, "
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

// Applies a match in one statement: fills shrink or remove the makers in the book
// and in orders, the remainder rests, the taker's fill is recorded and the trades
// are written.
constexpr char kApplySql[] = R"sql(
WITH f AS (
  SELECT * FROM unnest($1::bigint[], $2::numeric[], $3::bigint[], $4::bigint[])
    AS f(maker, price, qty, left_after)),
gone AS (DELETE FROM book b USING f WHERE b.order_id = f.maker AND f.left_after = 0),
shrunk AS (UPDATE book b SET remaining = f.left_after FROM f
           WHERE b.order_id = f.maker AND f.left_after > 0),
makers AS (UPDATE orders o SET filled_qty = o.filled_qty + f.qty, updated_at = now(),
             status = CASE WHEN o.filled_qty + f.qty = o.qty THEN 'filled'
                           ELSE 'partially_filled' END
           FROM f WHERE o.order_id = f.maker),
rest AS (INSERT INTO book (order_id, symbol, side, price, remaining)
         SELECT $5::bigint, $6::text, $7::text, $8::numeric, $9::bigint WHERE $9::bigint > 0),
taker AS (UPDATE orders SET filled_qty = $10::bigint, status = $11::text, updated_at = now()
          WHERE order_id = $5::bigint AND $10::bigint > 0)
INSERT INTO trades (symbol, price, qty, maker_order_id, taker_order_id, buy_order_id,
                    sell_order_id)
SELECT $6::text, f.price, f.qty, f.maker, $5::bigint,
       CASE WHEN $7::text = 'buy' THEN $5::bigint ELSE f.maker END,
       CASE WHEN $7::text = 'buy' THEN f.maker ELSE $5::bigint END
FROM f
RETURNING trade_id, maker_order_id, )sql";

constexpr int kBookPage = 200;

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
    s.detail = "the database of this region is a read-only standby (in recovery); it takes "
               "writes only after it is promoted";
  } else if (r->Get(0, "ro") == "on") {
    s.role = "fenced";
    s.detail = "the database of this region is fenced (default_transaction_read_only = on); "
               "another region holds the writable primary";
  } else {
    s.role = "primary";
    s.writable = true;
    s.detail = "writable primary";
  }
  return s;
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
  const std::string where = taker_only ? "taker_order_id = $1::bigint"
                                       : "taker_order_id = $1::bigint OR maker_order_id = $1::bigint";
  Result<pg::Rows> r = (*c)->Query(
      "SELECT " + kTradeColumns + " FROM trades WHERE " + where + " ORDER BY trade_id",
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
  Result<pg::Rows> r = (*c)->Query("SELECT " + kOrderColumns +
                                       " FROM orders WHERE account = $1 AND client_order_id = $2",
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
    return Status::AlreadyExists(
        "client_order_id '" + order.client_order_id + "' was already used for order " +
        std::to_string(first.order_id) + " (" + SideName(first.side) + " " +
        std::to_string(first.qty) + " " + first.symbol + " @ " + FormatPrice(first.price) +
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
  Result<pg::Connection*> c = Conn();
  if (!c.ok()) return c.status();
  pg::Connection& db = **c;
  Status begun = db.Exec("BEGIN");
  if (!begun.ok()) return Fail(begun, false);

  // Serializes every order of this symbol, across all instances, until COMMIT.
  Result<pg::Rows> lock =
      db.Query("SELECT tick::text AS tick FROM symbols WHERE symbol = $1 FOR UPDATE", {o.symbol});
  if (!lock.ok()) {
    Status refused = Fail(lock.status(), true);
    if (refused.code() == Status::Code::kUnavailable && conn_) {
      // A read-only database may still know this order: a retry after a failover
      // gets its first answer wherever the order has been replicated.
      Result<OrderView> known = Replay(account, o);
      if (known.ok()) return PlaceResult{std::move(*known), true, {}};
    }
    return refused;
  }
  if (lock->empty()) {
    (void)db.Exec("ROLLBACK");
    return Status::InvalidArgument("unknown symbol '" + o.symbol + "'");
  }
  const int64_t tick = Price(lock->Get(0, "tick"));
  if (tick <= 0 || o.price % tick != 0) {
    (void)db.Exec("ROLLBACK");
    return Status::InvalidArgument(FormatPrice(o.price) + " is not on the tick of " + o.symbol +
                                   " (" + FormatPrice(tick) + ")");
  }

  const std::string price = FormatPrice(o.price);
  Result<pg::Rows> inserted = db.Query(
      "INSERT INTO orders (account, client_order_id, symbol, side, price, qty, status) "
      "VALUES ($1, $2, $3, $4, $5::numeric, $6::bigint, 'new') "
      "ON CONFLICT (account, client_order_id) DO NOTHING "
      "RETURNING order_id, " + Ts("created_at") + " AS created_at",
      {account, o.client_order_id, o.symbol, SideName(o.side), price, std::to_string(o.qty)});
  if (!inserted.ok()) return Fail(inserted.status(), true);
  if (inserted->empty()) {
    // A retry: the UNIQUE constraint says this order exists (committed) already.
    (void)db.Exec("ROLLBACK");
    Result<OrderView> first = Replay(account, o);
    if (!first.ok()) return first.status();
    return PlaceResult{std::move(*first), true, {}};
  }
  const int64_t order_id = Int(inserted->Get(0, "order_id"));

  // The crossing part of the opposite side, best first, a page at a time until it
  // holds enough quantity to fill the order. ORDER BY names book.price: a bare
  // "price" would sort by the text output column of the same name.
  const bool buy = o.side == Side::kBuy;
  const std::string page_sql =
      buy ? "SELECT order_id, price::text AS price, remaining FROM book "
            "WHERE symbol = $1 AND side = 'sell' AND price <= $2::numeric "
            "AND (price, order_id) > ($3::numeric, $4::bigint) "
            "ORDER BY book.price, book.order_id LIMIT " + std::to_string(kBookPage)
          : "SELECT order_id, price::text AS price, remaining FROM book "
            "WHERE symbol = $1 AND side = 'buy' AND price >= $2::numeric "
            "AND (price < $3::numeric OR (price = $3::numeric AND order_id > $4::bigint)) "
            "ORDER BY book.price DESC, book.order_id LIMIT " + std::to_string(kBookPage);
  std::vector<RestingOrder> resting;
  int64_t available = 0;
  std::string cursor_price = buy ? "0" : FormatPrice(kMaxPrice + 1);
  std::string cursor_id = "0";
  for (;;) {
    Result<pg::Rows> page = db.Query(page_sql, {o.symbol, price, cursor_price, cursor_id});
    if (!page.ok()) return Fail(page.status(), true);
    for (size_t i = 0; i < page->rows.size(); ++i) {
      RestingOrder r;
      r.order_id = Int(page->Get(i, "order_id"));
      r.price = Price(page->Get(i, "price"));
      r.remaining = Int(page->Get(i, "remaining"));
      r.seq = r.order_id;  // order ids grow in commit order within a symbol (it is locked)
      available += r.remaining;
      resting.push_back(r);
    }
    if (page->rows.size() < static_cast<size_t>(kBookPage) || available >= o.qty) break;
    cursor_price = FormatPrice(resting.back().price);
    cursor_id = std::to_string(resting.back().order_id);
  }

  const MatchResult m = Match({o.side, o.price, o.qty}, std::move(resting));
  std::vector<std::string> makers, prices, qtys, lefts;
  for (const Fill& f : m.fills) {
    makers.push_back(std::to_string(f.maker_order_id));
    prices.push_back(FormatPrice(f.price));
    qtys.push_back(std::to_string(f.qty));
    lefts.push_back(std::to_string(f.maker_remaining));
  }
  const int64_t filled = o.qty - m.remaining;
  const OrderStatus status = StatusOf(o.qty, filled);
  Result<pg::Rows> applied = db.Query(
      std::string(kApplySql) + Ts("executed_at") + " AS executed_at",
      {Array(makers), Array(prices), Array(qtys), Array(lefts), std::to_string(order_id), o.symbol,
       SideName(o.side), price, std::to_string(m.remaining), std::to_string(filled),
       StatusName(status)});
  if (!applied.ok()) return Fail(applied.status(), true);
  Status committed = db.Exec("COMMIT");
  if (!committed.ok()) return Fail(committed, true);

  PlaceResult out;
  OrderView& v = out.order;
  v.order_id = order_id;
  v.account = account;
  v.client_order_id = o.client_order_id;
  v.symbol = o.symbol;
  v.side = o.side;
  v.price = o.price;
  v.qty = o.qty;
  v.filled_qty = filled;
  v.status = status;
  v.created_at = inserted->Get(0, "created_at").value_or("");
  std::map<int64_t, std::pair<int64_t, std::string>> trade_of_maker;
  for (size_t i = 0; i < applied->rows.size(); ++i) {
    trade_of_maker[Int(applied->Get(i, "maker_order_id"))] = {
        Int(applied->Get(i, "trade_id")), applied->Get(i, "executed_at").value_or("")};
  }
  for (const Fill& f : m.fills) {
    Execution e;
    e.trade_id = trade_of_maker[f.maker_order_id].first;
    e.executed_at = trade_of_maker[f.maker_order_id].second;
    e.symbol = o.symbol;
    e.price = f.price;
    e.qty = f.qty;
    e.maker_order_id = f.maker_order_id;
    e.taker_order_id = order_id;
    e.buy_order_id = buy ? order_id : f.maker_order_id;
    e.sell_order_id = buy ? f.maker_order_id : order_id;
    v.fills.push_back(e);
  }
  out.new_trades = v.fills;
  return out;
}

Result<OrderView> OrderStore::Get(const std::string& account, int64_t order_id) {
  Result<pg::Connection*> c = Conn();
  if (!c.ok()) return c.status();
  Result<pg::Rows> r = (*c)->Query(
      "SELECT " + kOrderColumns + " FROM orders WHERE order_id = $1::bigint AND account = $2",
      {std::to_string(order_id), account});
  if (!r.ok()) return Fail(r.status(), false);
  if (r->empty()) return Status::NotFound("no order " + std::to_string(order_id) + " of account " + account);
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
  Result<pg::Rows> owner = db.Query(
      "SELECT symbol FROM orders WHERE order_id = $1::bigint AND account = $2",
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
  Result<pg::Rows> now = db.Query("SELECT status FROM orders WHERE order_id = $1::bigint",
                                  {std::to_string(order_id)});
  if (!now.ok()) return Fail(now.status(), true);
  const OrderStatus status =
      ParseStatus(now->empty() ? "" : now->Get(0, "status").value_or("")).value_or(OrderStatus::kNew);
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
    Level l{Price(r->Get(i, "price")), Int(r->Get(i, "qty")), static_cast<int>(Int(r->Get(i, "n")))};
    (r->Get(i, "side") == "buy" ? b.bids : b.asks).push_back(l);
  }
  std::sort(b.bids.begin(), b.bids.end(), [](const Level& a, const Level& z) { return a.price > z.price; });
  std::sort(b.asks.begin(), b.asks.end(), [](const Level& a, const Level& z) { return a.price < z.price; });
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
