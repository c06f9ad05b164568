// Order and session requests: the strict validation of what clients send.
//
// Every byte a client sends goes through here before anything touches the
// database, so bad input is answered with a 400 naming the field and never leads
// to a partial write. Pure (nlohmann stays in the .cc); thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "trader/matching.h"

namespace pilotlight::trader {

// Why a request was refused: the field at fault ("body" for the whole request)
// and what is wrong with it, in words a client developer can act on.
struct RequestError {
  std::string field;
  std::string message;
};

template <typename T>
using Parsed = std::variant<T, RequestError>;

struct OrderRequest {
  std::string client_order_id;
  std::string symbol;
  Side side = Side::kBuy;
  int64_t price = 0;  // fixed point, see kPriceScale
  int64_t qty = 0;
  bool operator==(const OrderRequest&) const = default;
};

inline constexpr int64_t kMaxQty = 1'000'000'000;
inline constexpr int64_t kMaxPrice = 1'000'000'000 * kPriceScale;
inline constexpr size_t kMaxClientOrderIdLength = 64;
inline constexpr size_t kMaxAccountLength = 64;

// `ticks` maps each tradable symbol to its tick size (fixed point).
// Body: {"client_order_id": "...", "symbol": "AAPL", "side": "buy"|"sell",
//        "price": 101.25 (or "101.25"), "qty": 10}; no other fields.
Parsed<OrderRequest> ParseOrderRequest(std::string_view body,
                                       const std::map<std::string, int64_t>& ticks);

// A session request: the account and the API key it presents (api_keys.h).
struct SessionRequest {
  std::string account;
  std::string api_key;  // "" when the body has none (the service answers 401)
};

// Body: {"account": "...", "api_key": "plk_..."}; no other fields. A missing
// api_key is not a parse error (it is a missing credential: 401, not 400); an
// api_key that is not a string of at most 256 characters is.
Parsed<SessionRequest> ParseSessionRequest(std::string_view body);

// True for identifiers made of [A-Za-z0-9_.:-], 1 to max_length characters.
bool ValidIdentifier(std::string_view text, size_t max_length);

}  // namespace pilotlight::trader
