// Matching: the pure decision at the heart of the reference trading service.
//
// Limit orders, price-time priority, partial fills, one book per symbol. Match()
// takes an incoming order and the resting orders of the opposite side and returns
// the fills and what remains; it does no I/O, so the SQL layer (order_store.cc)
// applies its decision inside one database transaction and the table-driven tests
// pin it down. OrderBook is an in-memory book built on Match(), used by the tests
// and as an oracle that replays what the database did. Prices are integers in
// units of 1/kPriceScale (0.01 = 100). Everything here is a plain value:
// thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pilotlight::trader {

// Prices are fixed point: 101.25 is 1'012'500.
inline constexpr int64_t kPriceScale = 10'000;

enum class Side { kBuy, kSell };
const char* SideName(Side side);  // "buy" | "sell"
std::optional<Side> ParseSide(std::string_view text);
Side Opposite(Side side);

enum class OrderStatus { kNew, kPartiallyFilled, kFilled, kCancelled };
const char* StatusName(OrderStatus status);  // "new" | "partially_filled" | "filled" | "cancelled"
std::optional<OrderStatus> ParseStatus(std::string_view text);
// The status of a live (not cancelled) order of `qty` with `filled` executed.
OrderStatus StatusOf(int64_t qty, int64_t filled);

// An order resting in the book. `seq` is its time priority (lower is earlier).
struct RestingOrder {
  int64_t order_id = 0;
  int64_t price = 0;
  int64_t remaining = 0;
  int64_t seq = 0;
};

struct IncomingOrder {
  Side side = Side::kBuy;
  int64_t price = 0;
  int64_t qty = 0;
};

// One execution against a resting (maker) order, at the maker's price.
struct Fill {
  int64_t maker_order_id = 0;
  int64_t price = 0;
  int64_t qty = 0;
  int64_t maker_remaining = 0;  // what the maker has left after this fill
  bool operator==(const Fill&) const = default;
};

struct MatchResult {
  std::vector<Fill> fills;  // in execution order
  int64_t remaining = 0;    // the incoming order's unfilled quantity (it rests if > 0)
};

// True when an order on `taker` side at `taker_price` trades with a resting order at
// `maker_price`.
bool Crosses(Side taker, int64_t taker_price, int64_t maker_price);

// Matches `in` against `opposite` (resting orders of the other side, in any order;
// those that do not cross are ignored) best price first, then earliest seq.
// REQUIRES: in.qty > 0, every resting remaining > 0.
MatchResult Match(const IncomingOrder& in, std::vector<RestingOrder> opposite);

// What a cancel request does to an order in `status`.
enum class CancelDecision {
  kCancel,            // it is live: take it off the book
  kAlreadyCancelled,  // idempotent: answer as if it had just been cancelled
  kAlreadyFilled,     // nothing left to cancel: refuse
};
CancelDecision DecideCancel(OrderStatus status);

// One price level of a book, as clients see it.
struct Level {
  int64_t price = 0;
  int64_t qty = 0;
  int orders = 0;
  bool operator==(const Level&) const = default;
};

// An in-memory limit order book of one symbol, built on Match().
class OrderBook {
 public:
  // Matches the order and rests what is left; `order_id` doubles as time priority.
  MatchResult Submit(int64_t order_id, const IncomingOrder& order);
  // Removes a resting order; returns what it had left, or nullopt when it is not
  // resting (unknown, filled or already cancelled).
  std::optional<int64_t> Cancel(int64_t order_id);

  std::vector<Level> Bids() const;  // best (highest) first
  std::vector<Level> Asks() const;  // best (lowest) first
  bool Crossed() const;             // best bid >= best ask: must never happen
  std::vector<RestingOrder> RestingOn(Side side) const;

 private:
  struct Entry {
    Side side;
    RestingOrder order;
  };
  std::map<int64_t, Entry> resting_;  // by order id
};

// Formats a fixed-point price: 1012500 -> "101.25"; ParsePrice is its inverse for
// decimal text ("101.25", "101.2500", "7"); nullopt on anything else or when the
// text has more decimals than kPriceScale holds.
std::string FormatPrice(int64_t price);
std::optional<int64_t> ParsePrice(std::string_view text);

}  // namespace pilotlight::trader
