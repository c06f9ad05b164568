// Unit prices for `pilotlight cost`, read from a YAML price file.
//
// A price file gives, per instance type, an on-demand and a reserved hourly
// rate, and per-GB and per-item monthly rates for storage, cross-region
// transfer and DNS. Amounts are held as Micros (millionths of the currency
// unit) so that every sum the cost model makes is exact and a reviewer can
// check it by hand. LoadPricesFile() reports every problem at once, each with
// file:line:column, the field, what was expected and what was found, exactly as
// the config loader does; unknown keys are errors. Values are plain data and
// the functions keep no state: thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace pilotlight::cost {

// Money in millionths of the currency unit: 0.096 USD is 96'000.
using Micros = int64_t;
constexpr Micros kMicrosPerUnit = 1'000'000;

struct InstancePrice {
  Micros on_demand_hourly = 0;
  Micros reserved_hourly = 0;  // equals on_demand_hourly when the file gives no reserved rate
  config::SourceLocation where;
};

struct Prices {
  std::string file;      // path the prices were read from, as given
  std::string source;    // where the prices come from; printed with every estimate
  std::string currency;  // e.g. "USD"
  int hours_per_month = 730;
  std::map<std::string, InstancePrice> instances;  // by instance type, e.g. "m5.large"
  // Per GB-month.
  Micros database_storage_gb_month = 0;
  Micros object_storage_gb_month = 0;
  Micros backup_storage_gb_month = 0;
  // Per GB sent from one region to the other.
  Micros inter_region_transfer_gb = 0;
  // Per item-month.
  Micros hosted_zone_month = 0;
  Micros health_check_month = 0;
};

struct PricesResult {
  std::optional<Prices> prices;  // set only when errors is empty
  std::vector<config::ConfigError> errors;
  bool ok() const { return prices.has_value() && errors.empty(); }
};

// Parses YAML text; `file` is used in error locations.
PricesResult ParsePrices(std::string_view yaml_text, const std::string& file);

// Reads and parses a file; an unreadable file is one error naming it.
PricesResult LoadPricesFile(const std::string& path);

// "1,234.57": rounded half away from zero to cents, with thousands separators.
std::string FormatMoney(Micros amount);

// Currency units as a double, for JSON.
double ToUnits(Micros amount);

}  // namespace pilotlight::cost
