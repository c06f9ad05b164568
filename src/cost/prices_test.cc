#include "cost/prices.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pilotlight::cost {
namespace {

// The smallest valid price file; rows below are edits of it, so their line
// numbers can be read off this listing.
//   1 source: test prices
//   2 currency: USD
//   3 storage_gb_month: {database: 0.115, objects: 0.023, backups: 0.095}
//   4 transfer_gb: {inter_region: 0.02}
//   5 dns_month: {hosted_zone: 0.5, health_check: 0.75}
//   6 instances:
//   7   m5.large: {on_demand_hourly: 0.096, reserved_hourly: 0.06}
//   8   db.r5.large: {on_demand_hourly: 0.25}
const std::vector<std::string>& Lines() {
  static const std::vector<std::string> lines = {
      "source: test prices",
      "currency: USD",
      "storage_gb_month: {database: 0.115, objects: 0.023, backups: 0.095}",
      "transfer_gb: {inter_region: 0.02}",
      "dns_month: {hosted_zone: 0.5, health_check: 0.75}",
      "instances:",
      "  m5.large: {on_demand_hourly: 0.096, reserved_hourly: 0.06}",
      "  db.r5.large: {on_demand_hourly: 0.25}",
  };
  return lines;
}

// The listing with line `n` (1-based) replaced by `text`; "" drops the line.
std::string With(int n, const std::string& text) {
  std::string out;
  for (size_t i = 0; i < Lines().size(); ++i) {
    const std::string& line = static_cast<int>(i) + 1 == n ? text : Lines()[i];
    if (!line.empty()) out += line + "\n";
  }
  return out;
}

std::string Valid() { return With(0, ""); }
// `lines` follow the listing: its first line is line 9.
std::string Tail(const std::string& lines) { return Valid() + lines; }
// Lines 1-5, then `lines` from line 6.
std::string Head(const std::string& lines) {
  std::string out;
  for (int i = 0; i < 5; ++i) out += Lines()[i] + "\n";
  return out + lines;
}

std::string AllErrors(const PricesResult& r) {
  std::string out;
  for (const config::ConfigError& e : r.errors) out += "\n  " + e.ToString();
  return out;
}

TEST(PricesTest, ParsesExactAmounts) {
  const PricesResult r = ParsePrices(Valid(), "p.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  const Prices& p = *r.prices;
  EXPECT_EQ(p.file, "p.yaml");
  EXPECT_EQ(p.source, "test prices");
  EXPECT_EQ(p.currency, "USD");
  EXPECT_EQ(p.hours_per_month, 730);  // default
  ASSERT_EQ(p.instances.size(), 2u);
  EXPECT_EQ(p.instances.at("m5.large").on_demand_hourly, 96'000);
  EXPECT_EQ(p.instances.at("m5.large").reserved_hourly, 60'000);
  EXPECT_EQ(p.instances.at("m5.large").where.line, 7);
  // No reserved rate: reserving saves nothing.
  EXPECT_EQ(p.instances.at("db.r5.large").on_demand_hourly, 250'000);
  EXPECT_EQ(p.instances.at("db.r5.large").reserved_hourly, 250'000);
  EXPECT_EQ(p.database_storage_gb_month, 115'000);
  EXPECT_EQ(p.object_storage_gb_month, 23'000);
  EXPECT_EQ(p.backup_storage_gb_month, 95'000);
  EXPECT_EQ(p.inter_region_transfer_gb, 20'000);
  EXPECT_EQ(p.hosted_zone_month, 500'000);
  EXPECT_EQ(p.health_check_month, 750'000);
}

TEST(PricesTest, AcceptsWholeNumbersSixDecimalsAndHours) {
  const PricesResult r = ParsePrices(
      With(4, "transfer_gb: {inter_region: 0.000001}") + "hours_per_month: 744\n" + "  # comment\n",
      "p.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  EXPECT_EQ(r.prices->inter_region_transfer_gb, 1);
  EXPECT_EQ(r.prices->hours_per_month, 744);
  const PricesResult whole =
      ParsePrices(With(5, "dns_month: {hosted_zone: 1, health_check: 10000}"), "p.yaml");
  ASSERT_TRUE(whole.ok()) << AllErrors(whole);
  EXPECT_EQ(whole.prices->hosted_zone_month, 1'000'000);
  EXPECT_EQ(whole.prices->health_check_month, 10'000'000'000);
}

TEST(PricesTest, ShippedSamplePricesLoadAndSayTheyAreSamples) {
  const std::string path = std::string(PILOTLIGHT_SOURCE_DIR) + "/examples/prices.yaml";
  const PricesResult r = LoadPricesFile(path);
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  EXPECT_NE(r.prices->source.find("SAMPLE"), std::string::npos) << r.prices->source;
  EXPECT_TRUE(r.prices->instances.count("m5.large"));
  EXPECT_TRUE(r.prices->instances.count("db.r5.large"));
}

struct BadCase {
  const char* name;
  std::string yaml;
  std::string field;  // "" for errors about the whole document
  int line;
  int column;
  std::string mentions;  // a substring of expected or found
};

// Each row holds exactly one mistake and must yield exactly one error.
const std::vector<BadCase>& BadCases() {
  static const std::vector<BadCase> cases = {
      // Document shape.
      {"empty file", "# prices to come\n", "", 1, 1, "an empty file"},
      {"root is a sequence", "- source: x\n", "", 1, 1, "a sequence"},
      {"stray comma", ",\n" + Valid(), "", 1, 1, "unexpected ','"},
      {"two documents", Tail("---\nsource: other\n"), "", 9, 1, "a second document"},
      {"unknown top-level key", Tail("dns_months: {}\n"), "dns_months", 9, 1,
       "did you mean 'dns_month'?"},
      {"duplicate top-level key", Tail("currency: EUR\n"), "currency", 9, 1, "a second 'currency'"},
      // Labels.
      {"missing source", With(1, ""), "source", 1, 1, "no 'source' key"},
      {"empty source", With(1, "source: ''"), "source", 1, 9, "where these prices come from"},
      {"source is a mapping", With(1, "source: {a: 1}"), "source", 1, 9, "a mapping"},
      {"lower-case currency", With(2, "currency: usd"), "currency", 2, 11, "'usd'"},
      {"hours out of range", Tail("hours_per_month: 800\n"), "hours_per_month", 9, 18, "672-744"},
      {"hours is a word", Tail("hours_per_month: many\n"), "hours_per_month", 9, 18, "'many'"},
      // Prices.
      {"exponent", With(3, "storage_gb_month: {database: 1e-3, objects: 0.023, backups: 0.095}"),
       "storage_gb_month.database", 3, 30, "'1e-3'"},
      {"missing price", With(3, "storage_gb_month: {database: 0.115, objects: 0.023}"),
       "storage_gb_month.backups", 3, 19, "no 'backups' key"},
      {"seven decimals", With(4, "transfer_gb: {inter_region: 0.0000001}"),
       "transfer_gb.inter_region", 4, 29, "at most 6 decimals"},
      {"negative price", With(5, "dns_month: {hosted_zone: -1, health_check: 0.75}"),
       "dns_month.hosted_zone", 5, 26, "'-1'"},
      {"price too large", With(5, "dns_month: {hosted_zone: 10000.01, health_check: 0.75}"),
       "dns_month.hosted_zone", 5, 26, "0 to 10000"},
      {"price with a currency sign", With(4, "transfer_gb: {inter_region: $0.02}"),
       "transfer_gb.inter_region", 4, 29, "'$0.02'"},
      {"empty price", With(4, "transfer_gb:\n  inter_region:"), "transfer_gb.inter_region", 5, 3,
       "null"},
      {"section is a scalar", With(4, "transfer_gb: 0.02"), "transfer_gb", 4, 14, "'0.02'"},
      // Instances.
      {"instances is a sequence", Head("instances: [m5.large]\n"), "instances", 6, 12,
       "a sequence"},
      {"bad instance type", With(7, "  'm5 large': {on_demand_hourly: 0.096}"),
       "instances.m5 large", 7, 3, "such as m5.large"},
      {"duplicate instance type", With(8, "  m5.large: {on_demand_hourly: 0.25}"),
       "instances.m5.large", 8, 3, "first 'm5.large' at line 7"},
      {"instance without rates", With(8, "  db.r5.large:"), "instances.db.r5.large", 8, 3, "null"},
      {"misspelt rate", With(8, "  db.r5.large: {on_demand_hourly: 0.25, reserve_hourly: 0.2}"),
       "instances.db.r5.large.reserve_hourly", 8, 41, "did you mean 'reserved_hourly'?"},
      {"missing on-demand rate", With(8, "  db.r5.large: {reserved_hourly: 0.2}"),
       "instances.db.r5.large.on_demand_hourly", 8, 16, "no 'on_demand_hourly' key"},
      {"reserved above on demand",
       With(7, "  m5.large: {on_demand_hourly: 0.096, reserved_hourly: 0.1}"),
       "instances.m5.large.reserved_hourly", 7, 56, "at most on_demand_hourly (0.096)"},
  };
  return cases;
}

TEST(PricesTest, ReportsEachKindOfBadInputWithItsLocation) {
  ASSERT_GE(BadCases().size(), 25u);
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.name);
    const PricesResult r = ParsePrices(c.yaml, "bad.yaml");
    EXPECT_FALSE(r.ok());
    EXPECT_FALSE(r.prices.has_value());
    ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
    const config::ConfigError& e = r.errors[0];
    EXPECT_EQ(e.where.file, "bad.yaml");
    EXPECT_EQ(e.field, c.field) << e.ToString();
    EXPECT_EQ(e.where.line, c.line) << e.ToString();
    EXPECT_EQ(e.where.column, c.column) << e.ToString();
    EXPECT_FALSE(e.expected.empty()) << e.ToString();
    EXPECT_FALSE(e.found.empty()) << e.ToString();
    EXPECT_TRUE(e.expected.find(c.mentions) != std::string::npos ||
                e.found.find(c.mentions) != std::string::npos)
        << "'" << c.mentions << "' not in: " << e.ToString();
  }
}

TEST(PricesTest, ReportsEveryMistakeInOneRun) {
  std::string yaml = With(2, "currency: dollars");                           // line 2
  yaml.replace(yaml.find("0.02}"), 4, "two");                                // line 4
  yaml.replace(yaml.find("on_demand_hourly: 0.25"), 16, "on_demand_hourl");  // line 8, twice
  const PricesResult r = ParsePrices(yaml, "three.yaml");
  ASSERT_EQ(r.errors.size(), 4u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].ToString(),
            "three.yaml:2:11: currency: expected a currency code of three capital letters such as "
            "USD, found 'dollars'");
  EXPECT_EQ(r.errors[1].ToString(),
            "three.yaml:4:29: transfer_gb.inter_region: expected a price such as 0.096 (0 to "
            "10000, at most 6 decimals), found 'two'");
  // The typo is one mistake but two findings: the missing key at the mapping,
  // the unknown one at its own column.
  EXPECT_EQ(r.errors[2].field, "instances.db.r5.large.on_demand_hourly");
  EXPECT_EQ(r.errors[2].where.column, 16);
  EXPECT_EQ(r.errors[3].field, "instances.db.r5.large.on_demand_hourl");
  EXPECT_EQ(r.errors[3].where.column, 17);
  EXPECT_NE(r.errors[3].expected.find("did you mean 'on_demand_hourly'?"), std::string::npos);
}

TEST(PricesTest, MissingFileIsOneErrorNamingIt) {
  const PricesResult r = LoadPricesFile("/nonexistent/prices.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(),
            "/nonexistent/prices.yaml: expected a readable price file, found No such file or "
            "directory");
}

// The price list is read through the config's YAML reader, with its bounds.
TEST(PricesTest, InputLimitsAreTheConfigLoaders) {
  const PricesResult device = LoadPricesFile("/dev/zero");
  ASSERT_EQ(device.errors.size(), 1u) << AllErrors(device);
  EXPECT_NE(device.errors[0].found.find("a character device, not a regular file"),
            std::string::npos)
      << device.errors[0].ToString();

  const PricesResult utf8 = ParsePrices(With(1, "source: caf\xff"), "p.yaml");
  ASSERT_EQ(utf8.errors.size(), 1u) << AllErrors(utf8);
  EXPECT_EQ(utf8.errors[0].where.line, 1);
  EXPECT_EQ(utf8.errors[0].where.column, 12);
  EXPECT_EQ(utf8.errors[0].expected, "UTF-8 text");

  const PricesResult big =
      ParsePrices(With(1, "source: " + std::string(64 * 1024 + 1, 's')), "p.yaml");
  ASSERT_EQ(big.errors.size(), 1u) << AllErrors(big);
  EXPECT_EQ(big.errors[0].field, "source");
  EXPECT_EQ(big.errors[0].found, "65537 bytes");
}

TEST(PricesTest, SurvivesHostileInput) {
  const std::string inputs[] = {
      "&a [*a]\n",
      ", x\n",
      "a: 1\n--- ,\n--- ,\n",
      "instances: &i {m5.large: *i}\n",
      std::string(5000, '['),
      "{",
      "\xff\xfe\x00\x01",
      "instances: {? [a]: 1}\n",
      "instances: {" + std::string(5000, 'x') + ": {on_demand_hourly: 1}}\n",
      "source: x\ncurrency: USD\ninstances: {m: {on_demand_hourly: 99999999999999999999}}\n",
  };
  for (const std::string& input : inputs) {
    const PricesResult r = ParsePrices(input, "hostile.yaml");
    EXPECT_FALSE(r.ok()) << input.substr(0, 60);
    EXPECT_FALSE(r.errors.empty());
    for (const config::ConfigError& e : r.errors) {
      EXPECT_EQ(e.where.file, "hostile.yaml");
      EXPECT_LT(e.ToString().size(), 1000u);
    }
  }
}

TEST(PricesTest, EveryTruncationIsHandled) {
  const std::string text = Valid();
  for (size_t n = 0; n < text.size(); ++n) {
    const PricesResult r = ParsePrices(text.substr(0, n), "cut.yaml");
    ASSERT_NE(r.ok(), !r.errors.empty()) << n;
    for (const config::ConfigError& e : r.errors) EXPECT_GT(e.where.line, 0) << e.ToString();
  }
}

TEST(PricesTest, FormatMoneyRoundsToCents) {
  struct Case {
    Micros amount;
    const char* shown;
  };
  const Case cases[] = {
      {0, "0.00"},
      {4'999, "0.00"},        // 0.004999
      {5'000, "0.01"},        // 0.005 rounds half up
      {96'000, "0.10"},       // 0.096
      {70'080'000, "70.08"},  // 0.096 x 730
      {1'234'567'890, "1,234.57"},
      {1'000'000'000'000, "1,000,000.00"},
      {-2'555'000'000, "-2,555.00"},
      {-4'000, "0.00"},  // rounds to zero: no "-0.00"
  };
  for (const Case& c : cases) EXPECT_EQ(FormatMoney(c.amount), c.shown) << c.amount;
}

}  // namespace
}  // namespace pilotlight::cost
