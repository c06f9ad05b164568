#include "cost/report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "config/loader.h"

namespace pilotlight::cost {
namespace {

// The shipped example (examples/lab.yaml) priced with the shipped sample prices
// (examples/prices.yaml): the README's Cost table.
CostReport ExampleReport() {
  const std::string dir = std::string(PILOTLIGHT_SOURCE_DIR) + "/examples/";
  const config::LoadResult config = config::LoadConfigFile(dir + "lab.yaml");
  EXPECT_TRUE(config.ok());
  const PricesResult prices = LoadPricesFile(dir + "prices.yaml");
  EXPECT_TRUE(prices.ok());
  if (!config.ok() || !prices.ok()) return {};
  const EstimateResult estimate = EstimateCosts(*config.config, *prices.prices, {});
  EXPECT_TRUE(estimate.ok()) << (estimate.errors.empty() ? "" : estimate.errors[0].ToString());
  if (!estimate.ok()) return {};
  CostReport r;
  r.platform = config.config->platform;
  r.config_file = "examples/lab.yaml";
  r.prices_file = "examples/prices.yaml";
  r.prices_source = prices.prices->source;
  r.estimate = *estimate.estimate;
  return r;
}

// The first line of `text` that starts with `prefix`.
std::string LineStarting(const std::string& text, const std::string& prefix) {
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    if (text.compare(at, prefix.size(), prefix) == 0) return text.substr(at, end - at);
    at = end + 1;
  }
  return "";
}

// Hand computation for the example, pilot light (H = 730 h):
//   primary: trader 3 x 0.096 x 730 = 210.24 (reserved 3 x 0.06 x 730 = 131.40);
//            database 0.25 x 730 = 182.50 (reserved 0.16 x 730 = 116.80);
//            storage 100 x 0.115 + 500 x 0.023 + 300 x 0.095 = 11.50 + 11.50 + 28.50 = 51.50;
//            hosted zone 0.50.                 no DR: 444.74 on demand, 300.20 reserved.
//   every DR strategy: 2 checks x 0.75 = 1.50; 200 GB x 0.02 = 4.00; DR buckets 11.50;
//            DR backups 28.50.                 + 45.50
//   pilot light: DR database 182.50 (116.80) + its storage 11.50 + trader 1 x 0.096 x 730 =
//            70.08 (43.80).
//   on demand 444.74 + 45.50 + 182.50 + 11.50 + 70.08 = 754.32
//   reserved  300.20 + 45.50 + 116.80 + 11.50 + 43.80 = 517.80; extra over no DR 217.60
//   failover event: 2 more traders x 0.096 x 24 h = 4.608 -> 4.61
TEST(ReportTest, ExampleTableShowsHandComputedPilotLight) {
  const std::string text = FormatText(ExampleReport());
  const std::string money = LineStarting(text, "| pilot light ");
  EXPECT_NE(money.find(" 754.32 |"), std::string::npos) << text;
  EXPECT_NE(money.find(" 517.80 |"), std::string::npos) << money;
  EXPECT_NE(money.find(" 217.60 |"), std::string::npos) << money;
  EXPECT_NE(money.find("database 1 x db.r5.large + trader 1 x m5.large"), std::string::npos);
  const std::string none = LineStarting(text, "| no DR ");
  EXPECT_NE(none.find(" 444.74 |"), std::string::npos) << none;
  EXPECT_NE(none.find(" 300.20 |"), std::string::npos) << none;
  // The recovery table: 30s detection + 5m scale-up + 1m promote + 30s DNS = 7m; 10s lag gate.
  const std::string recovery = LineStarting(text.substr(text.find("Recovery")), "| pilot light ");
  EXPECT_NE(recovery.find(" 7m |"), std::string::npos) << recovery;
  EXPECT_NE(recovery.find(" 10s |"), std::string::npos) << recovery;
  EXPECT_NE(recovery.find(" 4.61 |"), std::string::npos) << recovery;
  EXPECT_NE(text.find("SAMPLE prices"), std::string::npos);
  EXPECT_NE(text.find("no drill history yet"), std::string::npos);
}

TEST(ReportTest, ColumnsLineUp) {
  const std::string text = FormatText(ExampleReport());
  const std::string header = LineStarting(text, "| strategy ");
  ASSERT_FALSE(header.empty());
  for (const char* row : {"| no DR ", "| backup & restore ", "| pilot light ", "| warm standby ",
                          "| active-active "}) {
    EXPECT_EQ(LineStarting(text, row).size(), header.size()) << row;
  }
}

TEST(ReportTest, JsonCarriesEveryStrategyForScripts) {
  const nlohmann::json j = nlohmann::json::parse(FormatJson(ExampleReport()));
  EXPECT_EQ(j["platform"], "trading-lab");
  EXPECT_EQ(j["prices"]["currency"], "USD");
  EXPECT_EQ(j["failover_hours"], 24);
  ASSERT_EQ(j["strategies"].size(), 5u);
  const nlohmann::json& none = j["strategies"][0];
  EXPECT_EQ(none["id"], "no_dr");
  EXPECT_TRUE(none["rto_seconds"].is_null());
  EXPECT_TRUE(none["failover_event"].is_null());
  const nlohmann::json& pilot = j["strategies"][2];
  EXPECT_EQ(pilot["id"], "pilot_light");
  EXPECT_DOUBLE_EQ(pilot["monthly"]["on_demand"].get<double>(), 754.32);  // see above
  EXPECT_DOUBLE_EQ(pilot["monthly"]["reserved"].get<double>(), 517.80);
  EXPECT_DOUBLE_EQ(pilot["extra_over_no_dr"]["reserved"].get<double>(), 217.60);
  EXPECT_DOUBLE_EQ(pilot["failover_event"].get<double>(), 4.608);  // unrounded in JSON
  EXPECT_EQ(pilot["rto_seconds"], 420);                            // 7m
  EXPECT_EQ(pilot["rpo_seconds"], 10);
  EXPECT_TRUE(j["measured"].is_null());
}

TEST(ReportTest, MeasuredDrillsAppearWhenThereIsHistory) {
  CostReport r = ExampleReport();
  r.history_file = "drills.jsonl";
  r.measured = MeasuredRecovery{3, {41.5, 0.3, "2026-03-01T00:00:00Z", 3}, 3, 55, 1.5};
  const std::string text = FormatText(r);
  EXPECT_EQ(text.find("no drill history yet"), std::string::npos);
  EXPECT_NE(text.find("3 in drills.jsonl"), std::string::npos) << text;
  EXPECT_NE(text.find("latest (2026-03-01T00:00:00Z): RTO 41.5s, RPO 0.3s"), std::string::npos)
      << text;
  EXPECT_NE(text.find("worst of the last 3: RTO 55.0s, RPO 1.5s"), std::string::npos) << text;
  const nlohmann::json j = nlohmann::json::parse(FormatJson(r));
  EXPECT_EQ(j["measured"]["drills"], 3);
  EXPECT_DOUBLE_EQ(j["measured"]["latest"]["rto_seconds"].get<double>(), 41.5);
}

}  // namespace
}  // namespace pilotlight::cost
