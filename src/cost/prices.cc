// The price file's schema: a PriceReader walks the parsed YAML along it
// (config/schema_reader.h, the loader's walk), recording an error (with the
// field path and file:line:col) for every problem and carrying on. Reading and
// parsing the file, with its bounds, is config/yaml_reader.h's; yaml-cpp stays
// there.
#include "cost/prices.h"

#include <algorithm>
#include <exception>
#include <span>
#include <utility>

#include "config/schema_reader.h"
#include "config/yaml_reader.h"

namespace pilotlight::cost {
namespace {

using config::ConfigError;
using config::Field;
using config::JoinKeys;
using config::Mapping;
using config::ParseInteger;
using config::Quote;
using config::SourceLocation;
using config::YamlNode;

constexpr std::string_view kTopKeys[] = {"source",    "currency",         "hours_per_month",
                                         "instances", "storage_gb_month", "transfer_gb",
                                         "dns_month"};
constexpr std::string_view kInstanceKeys[] = {"on_demand_hourly", "reserved_hourly"};
constexpr std::string_view kStorageKeys[] = {"database", "objects", "backups"};
constexpr std::string_view kTransferKeys[] = {"inter_region"};
constexpr std::string_view kDnsKeys[] = {"hosted_zone", "health_check"};

constexpr Micros kMaxPrice = 10'000 * kMicrosPerUnit;
constexpr int kMaxDecimals = 6;
constexpr char kPriceExpected[] = "a price such as 0.096 (0 to 10000, at most 6 decimals)";
constexpr char kInstanceTypeExpected[] =
    "an instance type such as m5.large, matching [A-Za-z0-9][A-Za-z0-9._-]{0,63}";

// ---------------------------------------------------------------------------
// Pure helpers.

bool IsInstanceType(std::string_view s) {
  constexpr config::NamePattern kInstanceType{"a-zA-Z0-9", "a-zA-Z0-9._-", 63,
                                              kInstanceTypeExpected};
  return config::Matches(s, kInstanceType);
}

// "0.096" -> 96'000. Plain decimals only: no sign, exponent or leading '.'.
std::optional<Micros> ParsePrice(std::string_view s) {
  const size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  const auto digits = [](std::string_view d) {
    return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || whole.size() > 6 || !digits(whole)) return std::nullopt;
  if (dot != std::string_view::npos && (fraction.empty() || !digits(fraction))) return std::nullopt;
  if (fraction.size() > static_cast<size_t>(kMaxDecimals)) return std::nullopt;
  Micros value = 0;
  for (char c : whole) value = value * 10 + (c - '0');
  value *= kMicrosPerUnit;
  Micros scale = kMicrosPerUnit;
  for (char c : fraction) {
    scale /= 10;
    value += (c - '0') * scale;
  }
  if (value > kMaxPrice) return std::nullopt;
  return value;
}

// 96'000 -> "0.096": exact, without trailing zeros.
std::string FormatPrice(Micros price) {
  std::string fraction = std::to_string(price % kMicrosPerUnit);
  fraction.insert(0, 6 - fraction.size(), '0');
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  return std::to_string(price / kMicrosPerUnit) + (fraction.empty() ? "" : "." + fraction);
}

// ---------------------------------------------------------------------------
// The schema walk.

// Walks one price document, filling Prices and recording errors. Single use.
class PriceReader : public config::SchemaReader {
 public:
  explicit PriceReader(const std::string& file) : SchemaReader(file) {}

  Prices Read(const YamlNode& root);

 private:
  // A mapping whose keys are all in `allowed` (when given) and unique; with no
  // `allowed`, any key is accepted (instance types), still once each.
  std::optional<Mapping> RatesMapping(const Field& f, std::span<const std::string_view> allowed) {
    const std::string what = "a mapping with the keys " + JoinKeys(allowed);
    return AsMapping(f.value, At(f), f.path, what, allowed);
  }
  std::optional<Micros> ReadPrice(const Field& f);
  // Reads each of `keys` from `m` as a required price into its target.
  void ReadPrices(const Mapping& m, std::span<const std::pair<std::string_view, Micros*>> keys);
  void ReadInstances(const Field& f, Prices& out);
};

std::optional<Micros> PriceReader::ReadPrice(const Field& f) {
  const std::optional<std::string> text = ReadScalar(f, kPriceExpected);
  if (!text) return std::nullopt;
  const std::optional<Micros> price = ParsePrice(*text);
  if (!price) Report(At(f), f.path, kPriceExpected, Quote(*text));
  return price;
}

void PriceReader::ReadPrices(const Mapping& m,
                             std::span<const std::pair<std::string_view, Micros*>> keys) {
  for (const auto& [key, target] : keys) {
    if (const Field* f = Require(m, key, kPriceExpected)) {
      if (std::optional<Micros> price = ReadPrice(*f)) *target = *price;
    }
  }
}

void PriceReader::ReadInstances(const Field& f, Prices& out) {
  const std::optional<Mapping> m = AsMapping(
      f.value, At(f), f.path, "a mapping from instance type to {on_demand_hourly, reserved_hourly}",
      {}, kInstanceTypeExpected);
  if (!m) return;
  for (const Field& entry : m->fields) {
    const std::string& type = entry.key.Scalar();
    if (!IsInstanceType(type)) {
      Report(entry.key.Mark(), entry.path, kInstanceTypeExpected, Quote(type));
      continue;
    }
    const std::optional<Mapping> rates = RatesMapping(entry, kInstanceKeys);
    if (!rates) continue;
    InstancePrice price;
    price.where = Where(entry.key.Mark());
    bool on_demand_ok = false;
    if (const Field* o = Require(*rates, "on_demand_hourly", kPriceExpected)) {
      if (std::optional<Micros> p = ReadPrice(*o)) {
        price.on_demand_hourly = *p;
        on_demand_ok = true;
      }
    }
    price.reserved_hourly = price.on_demand_hourly;
    if (const Field* r = rates->Find("reserved_hourly")) {
      if (std::optional<Micros> p = ReadPrice(*r)) {
        // A reservation dearer than on demand is a typo, not a deal.
        if (on_demand_ok && *p > price.on_demand_hourly) {
          Report(At(*r), r->path,
                 "at most on_demand_hourly (" + FormatPrice(price.on_demand_hourly) + ")",
                 Quote(r->value.Scalar()));
        } else {
          price.reserved_hourly = *p;
        }
      }
    }
    out.instances.emplace(type, price);
  }
}

Prices PriceReader::Read(const YamlNode& root) {
  Prices prices;
  prices.file = file_;
  const std::optional<Mapping> top =
      AsMapping(root, root.Mark(), "", "a mapping with the keys " + JoinKeys(kTopKeys), kTopKeys);
  if (!top) return prices;

  constexpr char kSource[] = "a non-empty note saying where these prices come from";
  if (const Field* f = Require(*top, "source", kSource)) {
    if (std::optional<std::string> s = ReadScalar(*f, kSource)) {
      if (s->empty()) {
        Report(At(*f), f->path, kSource, "''");
      } else {
        prices.source = std::move(*s);
      }
    }
  }
  constexpr char kCurrency[] = "a currency code of three capital letters such as USD";
  if (const Field* f = Require(*top, "currency", kCurrency)) {
    if (std::optional<std::string> c = ReadScalar(*f, kCurrency)) {
      if (c->size() == 3 &&
          std::all_of(c->begin(), c->end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
        prices.currency = std::move(*c);
      } else {
        Report(At(*f), f->path, kCurrency, Quote(*c));
      }
    }
  }
  if (const Field* f = top->Find("hours_per_month")) {
    constexpr char kHours[] = "an integer 672-744 (hours in a month; 730 on average)";
    if (std::optional<std::string> text = ReadScalar(*f, kHours)) {
      const std::optional<int64_t> hours = ParseInteger(*text);
      if (hours && *hours >= 672 && *hours <= 744) {
        prices.hours_per_month = static_cast<int>(*hours);
      } else {
        Report(At(*f), f->path, kHours, Quote(*text));
      }
    }
  }
  if (const Field* f = Require(*top, "instances", "a mapping from instance type to rates")) {
    ReadInstances(*f, prices);
  }
  if (const Field* f =
          Require(*top, "storage_gb_month", "a mapping with the keys " + JoinKeys(kStorageKeys))) {
    if (const std::optional<Mapping> m = RatesMapping(*f, kStorageKeys)) {
      const std::pair<std::string_view, Micros*> keys[] = {
          {"database", &prices.database_storage_gb_month},
          {"objects", &prices.object_storage_gb_month},
          {"backups", &prices.backup_storage_gb_month},
      };
      ReadPrices(*m, keys);
    }
  }
  if (const Field* f =
          Require(*top, "transfer_gb", "a mapping with the key " + JoinKeys(kTransferKeys))) {
    if (const std::optional<Mapping> m = RatesMapping(*f, kTransferKeys)) {
      const std::pair<std::string_view, Micros*> keys[] = {
          {"inter_region", &prices.inter_region_transfer_gb}};
      ReadPrices(*m, keys);
    }
  }
  if (const Field* f =
          Require(*top, "dns_month", "a mapping with the keys " + JoinKeys(kDnsKeys))) {
    if (const std::optional<Mapping> m = RatesMapping(*f, kDnsKeys)) {
      const std::pair<std::string_view, Micros*> keys[] = {
          {"hosted_zone", &prices.hosted_zone_month},
          {"health_check", &prices.health_check_month},
      };
      ReadPrices(*m, keys);
    }
  }
  return prices;
}

PricesResult Failure(ConfigError error) {
  PricesResult result;
  result.errors.push_back(std::move(error));
  return result;
}

}  // namespace

PricesResult ParsePrices(std::string_view yaml_text, const std::string& file) {
  PriceReader reader(file);
  Prices prices;
  PricesResult result;
  result.errors = config::WalkYaml(yaml_text, file,
                                   "a price file with the keys " + JoinKeys(kTopKeys),
                                   "a price file the reader can read", reader,
                                   [&](const YamlNode& root) { prices = reader.Read(root); });
  if (result.errors.empty()) result.prices = std::move(prices);
  return result;
}

PricesResult LoadPricesFile(const std::string& path) {
  Result<std::string> text = config::ReadYamlFile(path);
  if (!text.ok()) {
    return Failure({{path, 0, 0}, "", "a readable price file", text.status().message()});
  }
  return ParsePrices(*text, path);
}

std::string FormatMoney(Micros amount) {
  const bool negative = amount < 0;
  // Magnitudes stay far below INT64_MAX (prices and quantities are bounded).
  const int64_t magnitude = negative ? -amount : amount;
  const int64_t cents = (magnitude + kMicrosPerUnit / 200) / (kMicrosPerUnit / 100);
  std::string whole = std::to_string(cents / 100);
  for (int i = static_cast<int>(whole.size()) - 3; i > 0; i -= 3) whole.insert(i, ",");
  const int64_t rest = cents % 100;
  std::string out = negative && cents != 0 ? "-" : "";
  out += whole + "." + (rest < 10 ? "0" : "") + std::to_string(rest);
  return out;
}

double ToUnits(Micros amount) {
  return static_cast<double>(amount) / static_cast<double>(kMicrosPerUnit);
}

}  // namespace pilotlight::cost
