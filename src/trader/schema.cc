#include "trader/schema.h"

namespace pilotlight::trader {

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
