#include "trader/matching.h"

#include <algorithm>
#include <charconv>

namespace pilotlight::trader {

const char* SideName(Side side) { return side == Side::kBuy ? "buy" : "sell"; }

std::optional<Side> ParseSide(std::string_view text) {
  if (text == "buy") return Side::kBuy;
  if (text == "sell") return Side::kSell;
  return std::nullopt;
}

Side Opposite(Side side) { return side == Side::kBuy ? Side::kSell : Side::kBuy; }

const char* StatusName(OrderStatus status) {
  switch (status) {
    case OrderStatus::kNew:
      return "new";
    case OrderStatus::kPartiallyFilled:
      return "partially_filled";
    case OrderStatus::kFilled:
      return "filled";
    case OrderStatus::kCancelled:
      return "cancelled";
  }
  return "new";
}

std::optional<OrderStatus> ParseStatus(std::string_view text) {
  for (OrderStatus s : {OrderStatus::kNew, OrderStatus::kPartiallyFilled, OrderStatus::kFilled,
                        OrderStatus::kCancelled}) {
    if (text == StatusName(s)) return s;
  }
  return std::nullopt;
}

OrderStatus StatusOf(int64_t qty, int64_t filled) {
  if (filled <= 0) return OrderStatus::kNew;
  return filled >= qty ? OrderStatus::kFilled : OrderStatus::kPartiallyFilled;
}

bool Crosses(Side taker, int64_t taker_price, int64_t maker_price) {
  return taker == Side::kBuy ? maker_price <= taker_price : maker_price >= taker_price;
}

MatchResult Match(const IncomingOrder& in, std::vector<RestingOrder> opposite) {
  std::erase_if(opposite, [&](const RestingOrder& r) {
    return r.remaining <= 0 || !Crosses(in.side, in.price, r.price);
  });
  // Best price first (lowest ask for a buyer, highest bid for a seller), then time.
  std::sort(opposite.begin(), opposite.end(), [&](const RestingOrder& a, const RestingOrder& b) {
    if (a.price != b.price) return in.side == Side::kBuy ? a.price < b.price : a.price > b.price;
    return a.seq < b.seq;
  });
  MatchResult result;
  result.remaining = in.qty;
  for (const RestingOrder& maker : opposite) {
    if (result.remaining == 0) break;
    const int64_t qty = std::min(result.remaining, maker.remaining);
    result.fills.push_back({maker.order_id, maker.price, qty, maker.remaining - qty});
    result.remaining -= qty;
  }
  return result;
}

CancelDecision DecideCancel(OrderStatus status) {
  switch (status) {
    case OrderStatus::kNew:
    case OrderStatus::kPartiallyFilled:
      return CancelDecision::kCancel;
    case OrderStatus::kCancelled:
      return CancelDecision::kAlreadyCancelled;
    case OrderStatus::kFilled:
      return CancelDecision::kAlreadyFilled;
  }
  return CancelDecision::kAlreadyFilled;
}

MatchResult OrderBook::Submit(int64_t order_id, const IncomingOrder& order) {
  MatchResult r = Match(order, RestingOn(Opposite(order.side)));
  for (const Fill& f : r.fills) {
    if (f.maker_remaining == 0) {
      resting_.erase(f.maker_order_id);
    } else {
      resting_[f.maker_order_id].order.remaining = f.maker_remaining;
    }
  }
  if (r.remaining > 0) {
    resting_[order_id] = Entry{order.side, {order_id, order.price, r.remaining, order_id}};
  }
  return r;
}

std::optional<int64_t> OrderBook::Cancel(int64_t order_id) {
  auto it = resting_.find(order_id);
  if (it == resting_.end()) return std::nullopt;
  const int64_t left = it->second.order.remaining;
  resting_.erase(it);
  return left;
}

std::vector<RestingOrder> OrderBook::RestingOn(Side side) const {
  std::vector<RestingOrder> out;
  for (const auto& [id, e] : resting_) {
    if (e.side == side) out.push_back(e.order);
  }
  return out;
}

namespace {

std::vector<Level> Levels(std::vector<RestingOrder> orders, bool descending) {
  std::map<int64_t, Level> by_price;
  for (const RestingOrder& o : orders) {
    Level& l = by_price[o.price];
    l.price = o.price;
    l.qty += o.remaining;
    l.orders += 1;
  }
  std::vector<Level> out;
  for (const auto& [p, l] : by_price) out.push_back(l);
  if (descending) std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<Level> OrderBook::Bids() const { return Levels(RestingOn(Side::kBuy), true); }
std::vector<Level> OrderBook::Asks() const { return Levels(RestingOn(Side::kSell), false); }

bool OrderBook::Crossed() const {
  std::vector<Level> bids = Bids();
  std::vector<Level> asks = Asks();
  return !bids.empty() && !asks.empty() && bids.front().price >= asks.front().price;
}

std::string FormatPrice(int64_t price) {
  std::string sign = price < 0 ? "-" : "";
  const uint64_t abs = price < 0 ? -static_cast<uint64_t>(price) : price;
  std::string out = sign + std::to_string(abs / kPriceScale);
  uint64_t frac = abs % kPriceScale;
  if (frac == 0) return out;
  std::string digits = std::to_string(frac + kPriceScale).substr(1);  // zero-padded
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

std::optional<int64_t> ParsePrice(std::string_view text) {
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  const size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 14) return std::nullopt;
  if (dot != std::string_view::npos && frac.empty()) return std::nullopt;
  auto all_digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!all_digits(whole) || !all_digits(frac)) return std::nullopt;
  while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
  if (frac.size() > 4) return std::nullopt;  // finer than kPriceScale
  int64_t w = 0;
  std::from_chars(whole.data(), whole.data() + whole.size(), w);
  int64_t f = 0;
  std::string padded(frac);
  padded.append(4 - frac.size(), '0');
  std::from_chars(padded.data(), padded.data() + padded.size(), f);
  const int64_t v = w * kPriceScale + f;
  return negative ? -v : v;
}

}  // namespace pilotlight::trader
