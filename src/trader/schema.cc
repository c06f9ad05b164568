#include "trader/schema.h"

#include "trader/api_keys.h"

namespace pilotlight::trader {
namespace {

// pl_place_orders: a batch of orders, of one symbol or several, in one statement,
// so in one round trip and one transaction (autocommit); the service gathers the
// orders that arrive while earlier batches are with the database (GroupCommit,
// service.h), and a lone order is a batch of one. It first locks the rows of the
// batch's symbols, in symbol order (so two batches never deadlock), which
// serializes every order of those symbols across all instances until COMMIT;
// every later statement of a plpgsql function takes a new snapshot (READ
// COMMITTED), so the book it reads holds every order committed before the locks
// were granted, and each order of the batch sees the ones before it. Per order,
// in array order: it looks the (account, client_order_id) up (outcome 'replay'
// when the first order is there: the caller answers from it); walks the crossing
// side best price first, then lowest id, filling at the maker's price: exactly
// Match() in matching.h, which stays the specification (the integration tests
// replay every order through OrderBook and compare); then ONE statement inserts
// the order in its final state, drawing its id under the lock (so within a symbol
// ids grow in execution order and double as time priority), rests what is left in
// the book, applies every fill set-based (a statement per fill costs more server
// CPU than the matching itself), and writes each trade and its
// confirmation_outbox row. The same client_order_id inserted meanwhile by a
// transaction that does not hold this symbol's lock (a reused id on another
// symbol) breaks UNIQUE (account, client_order_id): the batch fails whole and
// OrderStore::PlaceBatch places its orders one by one, where the lookup finds it.
//
// Its statements run on generic plans (plan_cache_mode): their parameters never
// change the best plan (an index walk of one symbol's side, key lookups), and the
// planner had cost more than a tenth of the server's CPU per order re-planning the
// fills statement on every call.
//
// Rows out, for order r_index (1-based): one per trade of the order (r_trade_id
// set), or a single row without one; r_outcome is 'placed', 'replay' or
// 'unknown_symbol'.
constexpr char kPlaceOrdersFunction[] = R"sql(
DROP FUNCTION IF EXISTS pl_place_order(text, text, text, text, numeric, bigint);
CREATE OR REPLACE FUNCTION pl_place_orders(p_symbols text[], p_accounts text[],
                                           p_client_order_ids text[], p_sides text[],
                                           p_prices numeric[], p_qtys bigint[])
RETURNS TABLE (r_index int, r_outcome text, r_order_id bigint, r_created_at text,
               r_trade_id bigint, r_price text, r_qty bigint, r_maker_order_id bigint,
               r_executed_at text)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_n int := coalesce(array_length(p_accounts, 1), 0);
  v_i int;
  v_known text[];
  v_symbol text;
  v_account text;
  v_side text;
  v_price numeric;
  v_qty bigint;
  v_buy boolean;
  v_order bigint;
  v_left bigint;
  v_fill bigint;
  v_makers bigint[];
  v_prices numeric[];
  v_qtys bigint[];
  v_lefts bigint[];
  m record;
  c refcursor;
BEGIN
  -- The symbol's lock is released at COMMIT; committing asynchronously releases
  -- it before the WAL flush, so the next order of the symbol need not wait for the
  -- disk. Nothing is acknowledged until the durability barrier has
  -- committed synchronously after this (kDurabilityBarrierSql in schema.h).
  PERFORM set_config('synchronous_commit', 'off', true);
  -- Rows are locked as the sort returns them: in symbol order.
  SELECT array_agg(k.symbol) INTO v_known FROM (
    SELECT s.symbol FROM symbols s WHERE s.symbol = ANY (p_symbols) ORDER BY s.symbol
    FOR UPDATE) k;
  FOR v_i IN 1 .. v_n LOOP
    v_symbol := p_symbols[v_i];
    v_account := p_accounts[v_i];
    v_side := p_sides[v_i];
    v_price := p_prices[v_i];
    v_qty := p_qtys[v_i];
    v_buy := v_side = 'buy';
    r_index := v_i;
    r_order_id := NULL;
    r_created_at := NULL;
    r_trade_id := NULL;
    r_price := NULL;
    r_qty := NULL;
    r_maker_order_id := NULL;
    r_executed_at := NULL;
    v_order := NULL;
    IF NOT coalesce(v_symbol = ANY (v_known), false) THEN
      r_outcome := 'unknown_symbol';
      RETURN NEXT;
      CONTINUE;
    END IF;
    -- A client_order_id already used: its first order answers (the caller reads it).
    SELECT o.order_id INTO v_order FROM orders o
      WHERE o.account = v_account AND o.client_order_id = p_client_order_ids[v_i];
    IF FOUND THEN
      r_outcome := 'replay';
      RETURN NEXT;
      CONTINUE;
    END IF;
    r_outcome := 'placed';
    IF v_buy THEN
      OPEN c FOR SELECT b.order_id, b.price, b.remaining FROM book b
        WHERE b.symbol = v_symbol AND b.side = 'sell' AND b.price <= v_price
        ORDER BY b.price, b.order_id;
    ELSE
      OPEN c FOR SELECT b.order_id, b.price, b.remaining FROM book b
        WHERE b.symbol = v_symbol AND b.side = 'buy' AND b.price >= v_price
        ORDER BY b.price DESC, b.order_id;
    END IF;
    v_left := v_qty;
    v_makers := '{}';
    v_prices := '{}';
    v_qtys := '{}';
    v_lefts := '{}';
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
    -- The order is inserted once, already in its final state (no update of a row
    -- just inserted), its id drawn here, under the symbol's lock.
    IF v_left = v_qty THEN  -- no trade: the order rests whole
      RETURN QUERY
      WITH o AS (INSERT INTO orders (account, client_order_id, symbol, side, price, qty, status)
                 VALUES (v_account, p_client_order_ids[v_i], v_symbol, v_side, v_price, v_qty,
                         'new')
                 RETURNING orders.order_id, orders.created_at),
      rest AS (INSERT INTO book (order_id, symbol, side, price, remaining)
               SELECT o.order_id, v_symbol, v_side, v_price, v_qty FROM o)
      SELECT v_i, 'placed'::text, o.order_id,
             to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
             NULL::bigint, NULL::text, NULL::bigint, NULL::bigint, NULL::text
      FROM o;
      CONTINUE;
    END IF;
    RETURN QUERY
    WITH o AS (INSERT INTO orders (account, client_order_id, symbol, side, price, qty, filled_qty,
                                   status)
               VALUES (v_account, p_client_order_ids[v_i], v_symbol, v_side, v_price, v_qty,
                       v_qty - v_left,
                       CASE WHEN v_left = 0 THEN 'filled' ELSE 'partially_filled' END)
               RETURNING orders.order_id, orders.created_at),
    rest AS (INSERT INTO book (order_id, symbol, side, price, remaining)
             SELECT o.order_id, v_symbol, v_side, v_price, v_left FROM o WHERE v_left > 0),
    f AS (
      SELECT * FROM unnest(v_makers, v_prices, v_qtys, v_lefts) WITH ORDINALITY
        AS f(maker, price, qty, left_after, n)),
    gone AS (DELETE FROM book b USING f WHERE b.order_id = f.maker AND f.left_after = 0),
    shrunk AS (UPDATE book b SET remaining = f.left_after FROM f
               WHERE b.order_id = f.maker AND f.left_after > 0),
    makers AS (UPDATE orders mo SET filled_qty = mo.filled_qty + f.qty, updated_at = now(),
                 status = CASE WHEN mo.filled_qty + f.qty = mo.qty THEN 'filled'
                               ELSE 'partially_filled' END
               FROM f WHERE mo.order_id = f.maker),
    t AS (INSERT INTO trades (symbol, price, qty, maker_order_id, taker_order_id, buy_order_id,
                              sell_order_id)
          SELECT v_symbol, f.price, f.qty, f.maker, o.order_id,
                 CASE WHEN v_buy THEN o.order_id ELSE f.maker END,
                 CASE WHEN v_buy THEN f.maker ELSE o.order_id END
          FROM f CROSS JOIN o ORDER BY f.n  -- trade ids in execution order
          RETURNING trades.trade_id, trades.price, trades.qty, trades.maker_order_id,
                    trades.executed_at),
    outbox AS (INSERT INTO confirmation_outbox (trade_id, taker_account)
               SELECT t.trade_id, v_account FROM t)
    SELECT v_i, 'placed'::text, o.order_id,
           to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           t.trade_id, t.price::text, t.qty::bigint, t.maker_order_id,
           to_char(t.executed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    FROM t CROSS JOIN o ORDER BY t.trade_id;
  END LOOP;
END
$fn$;
-- The one-symbol form earlier releases call, so that instances of the previous
-- release keep trading during a rolling upgrade.
CREATE OR REPLACE FUNCTION pl_place_orders(p_symbol text, p_accounts text[],
                                           p_client_order_ids text[], p_sides text[],
                                           p_prices numeric[], p_qtys bigint[])
RETURNS TABLE (r_index int, r_outcome text, r_order_id bigint, r_created_at text,
               r_trade_id bigint, r_price text, r_qty bigint, r_maker_order_id bigint,
               r_executed_at text)
LANGUAGE sql AS $fn$
  SELECT * FROM pl_place_orders(
    array_fill(p_symbol, ARRAY[coalesce(array_length(p_accounts, 1), 0)]), p_accounts,
    p_client_order_ids, p_sides, p_prices, p_qtys)
$fn$;
)sql";

// The durability barrier's table (kDurabilityBarrierSql in schema.h).
constexpr char kDurabilityBarrier[] = R"sql(
CREATE TABLE IF NOT EXISTS pl_durability (backend int PRIMARY KEY, n bigint NOT NULL);
DROP FUNCTION IF EXISTS pl_make_durable();
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
      // Column checks are domains: a table's CHECK constraints are parsed and
      // planned again by every statement that writes the table (ExecRelCheck),
      // which cost about a sixth of the server's CPU per order; a domain's are
      // planned once per connection (the type cache) and ride in the cached plan.
      // The one check across columns stays a table constraint. A schema created by
      // an earlier release keeps its CHECK constraints: as strict, only slower.
      "DO $$ BEGIN"
      "  IF to_regtype('pl_side') IS NULL THEN"
      "    CREATE DOMAIN pl_side AS text CHECK (VALUE IN ('buy', 'sell'));"
      "  END IF;"
      "  IF to_regtype('pl_order_status') IS NULL THEN"
      "    CREATE DOMAIN pl_order_status AS text"
      "      CHECK (VALUE IN ('new', 'partially_filled', 'filled', 'cancelled'));"
      "  END IF;"
      "  IF to_regtype('pl_price') IS NULL THEN"
      "    CREATE DOMAIN pl_price AS numeric(18,4) CHECK (VALUE > 0);"
      "  END IF;"
      "  IF to_regtype('pl_qty') IS NULL THEN"
      "    CREATE DOMAIN pl_qty AS bigint CHECK (VALUE > 0);"
      "  END IF;"
      "  IF to_regtype('pl_filled_qty') IS NULL THEN"
      "    CREATE DOMAIN pl_filled_qty AS bigint CHECK (VALUE >= 0);"
      "  END IF;"
      "END $$;"
      "CREATE TABLE IF NOT EXISTS orders ("
      "  order_id bigserial PRIMARY KEY,"
      "  account text NOT NULL,"
      "  client_order_id text NOT NULL,"
      "  symbol text NOT NULL,"
      "  side pl_side NOT NULL,"
      "  price pl_price NOT NULL,"
      "  qty pl_qty NOT NULL,"
      "  filled_qty pl_filled_qty NOT NULL DEFAULT 0 CHECK (filled_qty <= qty),"
      "  status pl_order_status NOT NULL,"
      "  created_at timestamptz NOT NULL DEFAULT now(),"
      "  updated_at timestamptz NOT NULL DEFAULT now(),"
      "  UNIQUE (account, client_order_id)) WITH (fillfactor = 80);"
      // Space for makers' fill updates in their own page (HOT: no index entries).
      // No foreign key to symbols: pl_place_orders checks the symbol under its
      // lock, symbols are never deleted, and the key's trigger cost a query per
      // order. Both changed in an existing schema too, without taking the table's
      // lock when there is nothing to change.
      "DO $$ BEGIN"
      "  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'orders_symbol_fkey') THEN"
      "    ALTER TABLE orders DROP CONSTRAINT orders_symbol_fkey;"
      "  END IF;"
      "  IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'orders' AND"
      "                 'fillfactor=80' = ANY (coalesce(reloptions, '{}'))) THEN"
      "    ALTER TABLE orders SET (fillfactor = 80);"
      "  END IF;"
      "END $$;"
      "CREATE TABLE IF NOT EXISTS book ("
      "  order_id bigint PRIMARY KEY,"
      "  symbol text NOT NULL,"
      "  side pl_side NOT NULL,"
      "  price pl_price NOT NULL,"
      "  remaining pl_qty NOT NULL);"
      "CREATE INDEX IF NOT EXISTS book_priority ON book (symbol, side, price, order_id);"
      "CREATE TABLE IF NOT EXISTS trades ("
      "  trade_id bigserial PRIMARY KEY,"
      "  symbol text NOT NULL,"
      "  price pl_price NOT NULL,"
      "  qty pl_qty NOT NULL,"
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
      // The accounts' API keys, hashed (api_keys.h): here, so they replicate to
      // DR with the orders and a failover keeps every key.
      std::string(ApiKeysTableSql()) + kPlaceOrdersFunction + kDurabilityBarrier +
      "INSERT INTO symbols (symbol, tick) VALUES " + seed +
      " ON CONFLICT (symbol) DO NOTHING;"
      "COMMIT;";
  Status st = conn.Exec(sql);
  if (!st.ok()) {
    (void)conn.Exec("ROLLBACK");
    return st.Annotate("cannot create the trading schema");
  }
  return Status::OK();
}

}  // namespace pilotlight::trader
