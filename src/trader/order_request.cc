#include "trader/order_request.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace pilotlight::trader {
namespace {

using nlohmann::json;

RequestError Err(std::string field, std::string message) {
  return RequestError{std::move(field), std::move(message)};
}

// Parses `body` as one JSON object, or says why it is not one.
std::variant<json, RequestError> ParseObject(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Err("body", "is not valid JSON");
  if (!j.is_object()) return Err("body", "must be a JSON object");
  return j;
}

std::string Known(const std::map<std::string, int64_t>& ticks) {
  std::string out;
  for (const auto& [symbol, tick] : ticks) out += (out.empty() ? "" : ", ") + symbol;
  return out.empty() ? "none loaded" : out;
}

}  // namespace

bool ValidIdentifier(std::string_view text, size_t max_length) {
  if (text.empty() || text.size() > max_length) return false;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Parsed<OrderRequest> ParseOrderRequest(std::string_view body,
                                       const std::map<std::string, int64_t>& ticks) {
  auto parsed = ParseObject(body);
  if (auto* e = std::get_if<RequestError>(&parsed)) return *e;
  const json& j = std::get<json>(parsed);
  static const char* kFields[] = {"client_order_id", "symbol", "side", "price", "qty"};
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (const char* f : kFields) known = known || key == f;
    if (!known) return Err(key, "is not a field of an order (expected " +
                                    std::string("client_order_id, symbol, side, price, qty)"));
  }
  for (const char* f : kFields) {
    if (!j.contains(f)) return Err(f, "is required");
  }
  OrderRequest r;

  const json& id = j["client_order_id"];
  if (!id.is_string() || !ValidIdentifier(id.get_ref<const std::string&>(),
                                          kMaxClientOrderIdLength)) {
    return Err("client_order_id", "must be a string of 1-64 characters from [A-Za-z0-9_.:-]");
  }
  r.client_order_id = id.get<std::string>();

  const json& symbol = j["symbol"];
  if (!symbol.is_string()) return Err("symbol", "must be a string");
  r.symbol = symbol.get<std::string>();
  auto tick = ticks.find(r.symbol);
  if (tick == ticks.end()) {
    std::string shown = r.symbol.size() > 16 ? r.symbol.substr(0, 16) + "..." : r.symbol;
    for (char& c : shown) c = (c < 0x20 || c == '"' || c == '\\' || c > 0x7e) ? '?' : c;
    return Err("symbol", "unknown symbol '" + shown + "' (tradable: " + Known(ticks) + ")");
  }

  const json& side = j["side"];
  std::optional<Side> s = side.is_string() ? ParseSide(side.get<std::string>()) : std::nullopt;
  if (!s) return Err("side", "must be \"buy\" or \"sell\"");
  r.side = *s;

  const json& price = j["price"];
  std::optional<int64_t> p;
  if (price.is_string()) {
    p = ParsePrice(price.get<std::string>());
  } else if (price.is_number_integer()) {
    const double v = price.get<double>();
    if (std::abs(v) < 1e12) p = price.get<int64_t>() * kPriceScale;
  } else if (price.is_number_float()) {
    const double scaled = price.get<double>() * kPriceScale;
    if (std::isfinite(scaled) && std::abs(scaled) < 9e18) {
      const double rounded = std::round(scaled);
      if (std::abs(scaled - rounded) <= 1e-3) {  // doubles hold 1e13 to within 0.002
        p = static_cast<int64_t>(rounded);
      }
    }
  }
  if (!p) return Err("price", "must be a decimal number with at most 4 decimals");
  if (*p <= 0) return Err("price", "must be positive");
  if (*p > kMaxPrice) return Err("price", "must be at most " + FormatPrice(kMaxPrice));
  if (*p % tick->second != 0) {
    return Err("price", FormatPrice(*p) + " is not on the tick of " + r.symbol + " (" +
                            FormatPrice(tick->second) + ")");
  }
  r.price = *p;

  const json& qty = j["qty"];
  if (qty.is_number_float() && qty.get<double>() > static_cast<double>(kMaxQty)) {
    return Err("qty", "must be at most " + std::to_string(kMaxQty));
  }
  if (!qty.is_number_integer()) return Err("qty", "must be a whole number");
  if (qty.is_number_unsigned() ? qty.get<uint64_t>() > static_cast<uint64_t>(kMaxQty)
                               : qty.get<int64_t>() > kMaxQty) {
    return Err("qty", "must be at most " + std::to_string(kMaxQty));
  }
  if (!qty.is_number_unsigned() && qty.get<int64_t>() <= 0) return Err("qty", "must be positive");
  r.qty = qty.get<int64_t>();
  if (r.qty <= 0) return Err("qty", "must be positive");
  return r;
}

Parsed<SessionRequest> ParseSessionRequest(std::string_view body) {
  auto parsed = ParseObject(body);
  if (auto* e = std::get_if<RequestError>(&parsed)) return *e;
  const json& j = std::get<json>(parsed);
  for (const auto& [key, value] : j.items()) {
    if (key != "account" && key != "api_key") {
      return Err(key, "is not a field of a session request (expected account, api_key)");
    }
  }
  if (!j.contains("account")) return Err("account", "is required");
  const json& a = j["account"];
  if (!a.is_string() || !ValidIdentifier(a.get_ref<const std::string&>(), kMaxAccountLength)) {
    return Err("account", "must be a string of 1-64 characters from [A-Za-z0-9_.:-]");
  }
  SessionRequest r;
  r.account = a.get<std::string>();
  if (j.contains("api_key")) {
    const json& k = j["api_key"];
    if (!k.is_string() || k.get_ref<const std::string&>().size() > 256) {
      return Err("api_key", "must be a string (the key `pilotlight trader accounts add` printed)");
    }
    r.api_key = k.get<std::string>();
  }
  return r;
}

}  // namespace pilotlight::trader
