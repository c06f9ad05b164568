#include "trader/schema.h"

namespace pilotlight::trader {
namespace {

// pl_place_order: a whole order in ONE statement, so in one round trip and one
// transaction (autocommit). It locks the symbol's row first, which serializes
// every order of the symbol across all instances until COMMIT; every later
// statement of a plpgsql function takes a new snapshot (READ COMMITTED), so the
// book it reads holds every order committed before the lock was granted. It then
// inserts the order under UNIQUE (account, client_order_id) (outcome 'replay'
// when that finds the first one: the caller answers from it) and draws the order
// id under the lock, so within a symbol ids grow in execution order and double as
// time priority. It walks the crossing side best price first, then lowest id,
// filling at the maker's price: exactly Match() in matching.h, which stays the
// specification (the integration tests replay every order through OrderBook and
// compare). Each trade also gets its confirmation_outbox row here.
//
// Rows out: one per trade of this order (r_trade_id set), or a single row without
// one; r_outcome is 'placed', 'replay' or 'unknown_symbol'.
constexpr char kPlaceOrderFunction[] = R"sql(
CREATE OR REPLACE FUNCTION pl_place_order(p_account text, p_client_order_id text, p_symbol text,
                                          p_side text, p_price numeric, p_qty bigint)
RETURNS TABLE (r_outcome text, r_order_id bigint, r_created_at text, r_trade_id bigint,
               r_price text, r_qty bigint, r_maker_order_id bigint, r_executed_at text)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_buy boolean := p_side = 'buy';
  v_order bigint;
  v_created timestamptz;
  v_left bigint := p_qty;
  v_fill bigint;
  v_makers bigint[] := '{}';
  v_prices numeric[] := '{}';
  v_qtys bigint[] := '{}';
  v_lefts bigint[] := '{}';
  m record;
  c refcursor;
BEGIN
  PERFORM 1 FROM symbols s WHERE s.symbol = p_symbol FOR UPDATE;
  IF NOT FOUND THEN
    r_outcome := 'unknown_symbol';
    RETURN NEXT;
    RETURN;
  END IF;
  INSERT INTO orders AS o (account, client_order_id, symbol, side, price, qty, status)
    VALUES (p_account, p_client_order_id, p_symbol, p_side, p_price, p_qty, 'new')
    ON CONFLICT (account, client_order_id) DO NOTHING
    RETURNING o.order_id, o.created_at INTO v_order, v_created;
  IF v_order IS NULL THEN
    r_outcome := 'replay';
    RETURN NEXT;
    RETURN;
  END IF;
  r_outcome := 'placed';
  r_order_id := v_order;
  r_created_at := to_char(v_created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
  IF v_buy THEN
    OPEN c FOR SELECT b.order_id, b.price, b.remaining FROM book b
      WHERE b.symbol = p_symbol AND b.side = 'sell' AND b.price <= p_price
      ORDER BY b.price, b.order_id;
  ELSE
    OPEN c FOR SELECT b.order_id, b.price, b.remaining FROM book b
      WHERE b.symbol = p_symbol AND b.side = 'buy' AND b.price >= p_price
      ORDER BY b.price DESC, b.order_id;
  END IF;
  -- Decide first (reads only), then apply every fill in one set-based statement:
  -- a statement per fill costs more server CPU than the matching itself.
  WHILE v_left > 0 LOOP
    FETCH c INTO m;
    EXIT WHEN NOT FOUND;
    v_fill := least(v_left, m.remaining);
    v_makers := v_makers || m.order_id;
    v_prices := v_prices || m.price;
    v_qtys := v_qtys || v_fill;
    v_lefts := v_lefts || (m.remaining - v_fill);
    v_left := v_left - v_fill;
  END LOOP;
  CLOSE c;
  IF v_left > 0 THEN
    INSERT INTO book (order_id, symbol, side, price, remaining)
      VALUES (v_order, p_symbol, p_side, p_price, v_left);
  END IF;
  IF v_left = p_qty THEN
    RETURN NEXT;  -- no trade
    RETURN;
  END IF;
  RETURN QUERY
  WITH f AS (
    SELECT * FROM unnest(v_makers, v_prices, v_qtys, v_lefts) WITH ORDINALITY
      AS f(maker, price, qty, left_after, n)),
  gone AS (DELETE FROM book b USING f WHERE b.order_id = f.maker AND f.left_after = 0),
  shrunk AS (UPDATE book b SET remaining = f.left_after FROM f
             WHERE b.order_id = f.maker AND f.left_after > 0),
  makers AS (UPDATE orders o SET filled_qty = o.filled_qty + f.qty, updated_at = now(),
               status = CASE WHEN o.filled_qty + f.qty = o.qty THEN 'filled'
                             ELSE 'partially_filled' END
             FROM f WHERE o.order_id = f.maker),
  taker AS (UPDATE orders o SET filled_qty = p_qty - v_left, updated_at = now(),
              status = CASE WHEN v_left = 0 THEN 'filled' ELSE 'partially_filled' END
            WHERE o.order_id = v_order),
  t AS (INSERT INTO trades (symbol, price, qty, maker_order_id, taker_order_id, buy_order_id,
                            sell_order_id)
        SELECT p_symbol, f.price, f.qty, f.maker, v_order,
               CASE WHEN v_buy THEN v_order ELSE f.maker END,
               CASE WHEN v_buy THEN f.maker ELSE v_order END
        FROM f ORDER BY f.n  -- trade ids in execution order
        RETURNING trades.trade_id, trades.price, trades.qty, trades.maker_order_id,
                  trades.executed_at),
  outbox AS (INSERT INTO confirmation_outbox (trade_id, taker_account)
             SELECT t.trade_id, p_account FROM t)
  SELECT 'placed'::text, v_order, r_created_at, t.trade_id, t.price::text, t.qty,
         t.maker_order_id,
         to_char(t.executed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
  FROM t ORDER BY t.trade_id;
END
$fn$;
)sql";

}  // namespace

const std::vector<std::pair<std::string, std::string>>& SeedSymbols() {
  static const std::vector<std::pair<std::string, std::string>> kSeed = {
      {"AAPL", "0.01"}, {"MSFT", "0.01"}, {"GOOG", "0.01"}, {"AMZN", "0.01"},
      {"NVDA", "0.01"}, {"META", "0.01"}, {"TSLA", "0.01"}, {"SPY", "0.01"},
  };
  return kSeed;
}

Status EnsureSchema(pg::Connection& conn) {
  std::string seed;
  for (const auto& [symbol, tick] : SeedSymbols()) {
    seed += std::string(seed.empty() ? "" : ",") + "('" + symbol + "'," + tick + ")";
  }
  // `book` holds only resting orders (remaining > 0), so matching reads a small
  // index; `orders` keeps every order for good. The UNIQUE (account,
  // client_order_id) constraint is what makes a retried order idempotent.
  const std::string sql =
      "BEGIN;"
      "SELECT pg_advisory_xact_lock(7041954);"
      "CREATE TABLE IF NOT EXISTS symbols ("
      "  symbol text PRIMARY KEY,"
      "  tick numeric(18,4) NOT NULL CHECK (tick > 0));"
      "CREATE TABLE IF NOT EXISTS orders ("
      "  order_id bigserial PRIMARY KEY,"
      "  account text NOT NULL,"
      "  client_order_id text NOT NULL,"
      "  symbol text NOT NULL REFERENCES symbols,"
      "  side text NOT NULL CHECK (side IN ('buy', 'sell')),"
      "  price numeric(18,4) NOT NULL CHECK (price > 0),"
      "  qty bigint NOT NULL CHECK (qty > 0),"
      "  filled_qty bigint NOT NULL DEFAULT 0 CHECK (filled_qty >= 0 AND filled_qty <= qty),"
      "  status text NOT NULL"
      "    CHECK (status IN ('new', 'partially_filled', 'filled', 'cancelled')),"
      "  created_at timestamptz NOT NULL DEFAULT now(),"
      "  updated_at timestamptz NOT NULL DEFAULT now(),"
      "  UNIQUE (account, client_order_id));"
      "CREATE TABLE IF NOT EXISTS book ("
      "  order_id bigint PRIMARY KEY,"
      "  symbol text NOT NULL,"
      "  side text NOT NULL,"
      "  price numeric(18,4) NOT NULL,"
      "  remaining bigint NOT NULL CHECK (remaining > 0));"
      "CREATE INDEX IF NOT EXISTS book_priority ON book (symbol, side, price, order_id);"
      "CREATE TABLE IF NOT EXISTS trades ("
      "  trade_id bigserial PRIMARY KEY,"
      "  symbol text NOT NULL,"
      "  price numeric(18,4) NOT NULL,"
      "  qty bigint NOT NULL CHECK (qty > 0),"
      "  maker_order_id bigint NOT NULL,"
      "  taker_order_id bigint NOT NULL,"
      "  buy_order_id bigint NOT NULL,"
      "  sell_order_id bigint NOT NULL,"
      "  executed_at timestamptz NOT NULL DEFAULT now());"
      "CREATE INDEX IF NOT EXISTS trades_taker ON trades (taker_order_id);"
      "CREATE INDEX IF NOT EXISTS trades_maker ON trades (maker_order_id);"
      // The confirmation outbox: one row per trade whose object is not yet in the
      // bucket, inserted in the trade's own transaction (see confirmations.h).
      "CREATE TABLE IF NOT EXISTS confirmation_outbox ("
      "  trade_id bigint PRIMARY KEY,"
      "  taker_account text NOT NULL);" +
      std::string(kPlaceOrderFunction) +
      "INSERT INTO symbols (symbol, tick) VALUES " + seed + " ON CONFLICT (symbol) DO NOTHING;"
      "COMMIT;";
  Status st = conn.Exec(sql);
  if (!st.ok()) {
    (void)conn.Exec("ROLLBACK");
    return st.Annotate("cannot create the trading schema");
  }
  return Status::OK();
}

}  // namespace pilotlight::trader
