#include "cost/estimate.h"

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"

namespace pilotlight::cost {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

// Round prices so every expected number below can be checked by hand.
// H = 730 hours per month.
Prices RoundPrices() {
  Prices p;
  p.file = "round.yaml";
  p.source = "test";
  p.currency = "USD";
  p.hours_per_month = 730;
  p.instances["app.small"] = {1'000'000, 500'000, {}};  // 1.00 on demand, 0.50 reserved per hour
  p.instances["db.big"] = {2'000'000, 1'500'000, {}};   // 2.00 on demand, 1.50 reserved per hour
  p.database_storage_gb_month = 100'000;                // 0.10 per GB-month
  p.object_storage_gb_month = 20'000;                   // 0.02
  p.backup_storage_gb_month = 50'000;                   // 0.05
  p.inter_region_transfer_gb = 10'000;                  // 0.01 per GB
  p.hosted_zone_month = 500'000;                        // 0.50
  p.health_check_month = 1'000'000;                     // 1.00
  return p;
}

// Both regions alike: web 1 (pilot light) / 4 (production) x app.small, one
// db.big with 100 GB, 1000 GB of buckets, 200 GB of backups; the primary sends
// 500 GB a month to DR. One hosted zone, two health checks, warm standby 50%.
constexpr char kRegions[] = R"(platform: t
regions:
  - name: east
    role: primary
    address: 127.0.1.1
    node_groups:
      - {name: web, pilot_light_size: 1, production_size: 4, instance: app.small}
    resources:
      database: {instance: db.big, count: 1, storage_gb: 100}
      object_storage_gb: 1000
      backup_storage_gb: 200
      replicated_gb_per_month: 500
  - name: west
    role: dr
    address: 127.0.2.1
    node_groups:
      - {name: web, pilot_light_size: 1, production_size: 4, instance: app.small}
    resources:
      database: {instance: db.big, count: 1, storage_gb: 100}
      object_storage_gb: 1000
      backup_storage_gb: 200
)";

constexpr char kCostSection[] = R"(objectives:
  rto: 15m
  rpo: {database: 60s}
replication:
  max_lag_on_failover: 30s
cost:
  dns: {hosted_zones: 1, health_checks: 2}
  warm_standby_percent: 50
  recovery_model:
    detection: 1m
    dns_switch: 1m
    backup_interval: 1h
    provision: 30m
    restore: 2h
    scale_up: 10m
    promote: 2m
)";

config::Config Load(const std::string& yaml) {
  config::LoadResult r = config::ParseConfig(yaml, "t.yaml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  return r.ok() ? *r.config : config::Config{};
}

// Micros from a hand-computed amount in cents, so expectations read like money.
constexpr Micros Cents(int64_t cents) { return cents * 10'000; }

const StrategyCost& Find(const Estimate& e, Strategy s) {
  for (const StrategyCost& c : e.strategies) {
    if (c.strategy == s) return c;
  }
  ADD_FAILURE() << "no " << StrategyName(s);
  return e.strategies.front();
}

TEST(EstimateTest, MonthlyCostOfEachStrategyByHand) {
  const EstimateResult r =
      EstimateCosts(Load(std::string(kRegions) + kCostSection), RoundPrices(), {});
  ASSERT_TRUE(r.ok()) << r.errors[0].ToString();
  const Estimate& e = *r.estimate;
  ASSERT_EQ(e.strategies.size(), 5u);

  // No DR, on demand: primary compute 4 x 1.00 x 730 = 2920; database 1 x 2.00 x 730 = 1460;
  // database storage 100 x 0.10 = 10; buckets 1000 x 0.02 = 20; backups 200 x 0.05 = 10;
  // hosted zone 0.50.  2920 + 1460 + 10 + 20 + 10 + 0.50 = 4420.50
  const StrategyCost& none = Find(e, Strategy::kNoDr);
  EXPECT_EQ(none.on_demand, Cents(4420'50));
  // Reserved: 4 x 0.50 x 730 = 1460; 1 x 1.50 x 730 = 1095; + 10 + 20 + 10 + 0.50 = 2595.50
  EXPECT_EQ(none.reserved, Cents(2595'50));
  EXPECT_EQ(none.reserved_saving, Cents(1825'00));  // 4420.50 - 2595.50
  EXPECT_EQ(none.extra_on_demand, 0);
  EXPECT_EQ(none.extra_reserved, 0);
  EXPECT_EQ(none.dr_runs, "nothing");

  // Every DR strategy adds: health checks 2 x 1.00 = 2; transfer 500 x 0.01 = 5;
  // DR buckets 1000 x 0.02 = 20; DR backups 200 x 0.05 = 10.  2 + 5 + 20 + 10 = 37
  const StrategyCost& backup = Find(e, Strategy::kBackupRestore);
  EXPECT_EQ(backup.on_demand, Cents(4457'50));  // 4420.50 + 37
  EXPECT_EQ(backup.reserved, Cents(2632'50));   // 2595.50 + 37
  EXPECT_EQ(backup.extra_on_demand, Cents(37'00));
  EXPECT_EQ(backup.extra_reserved, Cents(37'00));
  EXPECT_EQ(backup.dr_runs, "backups 200 GB + bucket copies 1000 GB");

  // Pilot light adds the data layer, database 1 x 2.00 x 730 = 1460 (reserved 1 x 1.50 x 730 =
  // 1095) and its storage 100 x 0.10 = 10, and web at 1: 1 x 1.00 x 730 = 730 (reserved 365).
  const StrategyCost& pilot = Find(e, Strategy::kPilotLight);
  EXPECT_EQ(pilot.on_demand, Cents(6657'50));        // 4457.50 + 1460 + 10 + 730
  EXPECT_EQ(pilot.reserved, Cents(4102'50));         // 2632.50 + 1095 + 10 + 365
  EXPECT_EQ(pilot.extra_on_demand, Cents(2237'00));  // 6657.50 - 4420.50
  EXPECT_EQ(pilot.extra_reserved, Cents(1507'00));   // 4102.50 - 2595.50
  EXPECT_EQ(pilot.reserved_saving, Cents(2555'00));  // 6657.50 - 4102.50
  EXPECT_EQ(pilot.dr_runs, "database 1 x db.big + web 1 x app.small");

  // Warm standby: web at max(1, ceil(4 x 50%)) = 2: 2 x 1.00 x 730 = 1460 (reserved 730).
  const StrategyCost& warm = Find(e, Strategy::kWarmStandby);
  EXPECT_EQ(warm.on_demand, Cents(7387'50));  // 4457.50 + 1460 + 10 + 1460
  EXPECT_EQ(warm.reserved, Cents(4467'50));   // 2632.50 + 1095 + 10 + 730
  EXPECT_EQ(warm.dr_runs, "database 1 x db.big + web 2 x app.small");

  // Active-active: web at 4: 4 x 1.00 x 730 = 2920 (reserved 1460).
  const StrategyCost& active = Find(e, Strategy::kActiveActive);
  EXPECT_EQ(active.on_demand, Cents(8847'50));       // 4457.50 + 1460 + 10 + 2920
  EXPECT_EQ(active.reserved, Cents(5197'50));        // 2632.50 + 1095 + 10 + 1460
  EXPECT_EQ(active.extra_reserved, Cents(2602'00));  // 5197.50 - 2595.50
}

TEST(EstimateTest, FailoverEventByHand) {
  const config::Config config = Load(std::string(kRegions) + kCostSection);
  const EstimateResult day = EstimateCosts(config, RoundPrices(), {});  // default 24 h
  ASSERT_TRUE(day.ok());
  EXPECT_EQ(day.estimate->failover_hours, 24);
  EXPECT_FALSE(Find(*day.estimate, Strategy::kNoDr).failover_event.has_value());
  // Backup & restore starts everything: database 1 x 2.00 x 24 = 48, web 4 x 1.00 x 24 = 96.
  EXPECT_EQ(Find(*day.estimate, Strategy::kBackupRestore).failover_event, Cents(144'00));
  // Pilot light adds 4 - 1 = 3 web instances: 3 x 1.00 x 24 = 72.
  EXPECT_EQ(Find(*day.estimate, Strategy::kPilotLight).failover_event, Cents(72'00));
  // Warm standby adds 4 - 2 = 2: 2 x 1.00 x 24 = 48.
  EXPECT_EQ(Find(*day.estimate, Strategy::kWarmStandby).failover_event, Cents(48'00));
  EXPECT_EQ(Find(*day.estimate, Strategy::kActiveActive).failover_event, 0);

  const EstimateResult ten = EstimateCosts(config, RoundPrices(), {.failover_hours = 10});
  ASSERT_TRUE(ten.ok());
  // 3 x 1.00 x 10 = 30.
  EXPECT_EQ(Find(*ten.estimate, Strategy::kPilotLight).failover_event, Cents(30'00));
  // 1 x 2.00 x 10 + 4 x 1.00 x 10 = 60.
  EXPECT_EQ(Find(*ten.estimate, Strategy::kBackupRestore).failover_event, Cents(60'00));
}

TEST(EstimateTest, ExpectedRecoveryFollowsTheModel) {
  const EstimateResult r =
      EstimateCosts(Load(std::string(kRegions) + kCostSection), RoundPrices(), {});
  ASSERT_TRUE(r.ok());
  const Estimate& e = *r.estimate;
  EXPECT_EQ(e.rto_objective, minutes(15));
  EXPECT_EQ(e.rpo_objective, seconds(60));

  const StrategyCost& none = Find(e, Strategy::kNoDr);
  EXPECT_FALSE(none.rto.has_value());
  EXPECT_FALSE(none.rpo.has_value());
  EXPECT_FALSE(none.meets_objectives);

  // 1m detection + 30m provision + 2h restore + 1m DNS = 2h32m; RPO one backup interval.
  const StrategyCost& backup = Find(e, Strategy::kBackupRestore);
  EXPECT_EQ(backup.rto, minutes(152));
  EXPECT_EQ(backup.rpo, minutes(60));
  EXPECT_FALSE(backup.meets_objectives);
  EXPECT_EQ(backup.rto_model, "detection 1m + provision 30m + restore 2h + DNS 1m");

  // 1m + 10m scale-up + 2m promote + 1m = 14m <= 15m; RPO the 30s lag gate <= 60s.
  const StrategyCost& pilot = Find(e, Strategy::kPilotLight);
  EXPECT_EQ(pilot.rto, minutes(14));
  EXPECT_EQ(pilot.rpo, seconds(30));
  EXPECT_TRUE(pilot.meets_objectives);

  // 1m + 2m promote + 1m = 4m: it serves before scaling up.
  const StrategyCost& warm = Find(e, Strategy::kWarmStandby);
  EXPECT_EQ(warm.rto, minutes(4));
  EXPECT_EQ(warm.rpo, seconds(30));

  // 1m + 1m = 2m; RPO 0 under synchronous commit.
  const StrategyCost& active = Find(e, Strategy::kActiveActive);
  EXPECT_EQ(active.rto, minutes(2));
  EXPECT_EQ(active.rpo, seconds(0));
  EXPECT_TRUE(active.meets_objectives);
}

TEST(EstimateTest, PilotLightMissesATighterObjective) {
  std::string yaml = std::string(kRegions) + kCostSection;
  yaml.replace(yaml.find("rto: 15m"), 8, "rto: 10m");
  const EstimateResult r = EstimateCosts(Load(yaml), RoundPrices(), {});
  ASSERT_TRUE(r.ok());
  // 14m > 10m; warm standby's 4m still fits.
  EXPECT_FALSE(Find(*r.estimate, Strategy::kPilotLight).meets_objectives);
  EXPECT_TRUE(Find(*r.estimate, Strategy::kWarmStandby).meets_objectives);
}

TEST(EstimateTest, WarmStandbyShareRoundsUpAndNeverFallsBelowPilotLight) {
  struct Case {
    int pilot_light;
    int production;
    int percent;
    int warm;  // hand-computed max(pilot_light, ceil(production x percent / 100))
  };
  const Case cases[] = {
      {1, 4, 50, 2},   // ceil(2.0) = 2
      {0, 3, 50, 2},   // ceil(1.5) = 2
      {0, 5, 10, 1},   // ceil(0.5) = 1
      {2, 5, 10, 2},   // ceil(0.5) = 1 < pilot light 2
      {0, 4, 100, 4},  // all of production
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.pilot_light) + "/" + std::to_string(c.production) + " at " +
                 std::to_string(c.percent) + "%");
    const std::string group = "{name: web, pilot_light_size: " + std::to_string(c.pilot_light) +
                              ", production_size: " + std::to_string(c.production) +
                              ", instance: app.small}";
    const std::string yaml =
        "platform: t\nregions:\n"
        "  - {name: east, role: primary, address: 127.0.1.1}\n"
        "  - {name: west, role: dr, address: 127.0.2.1, node_groups: [" +
        group + "]}\ncost: {warm_standby_percent: " + std::to_string(c.percent) +
        ", dns: {hosted_zones: 0, " + "health_checks: 0}}\n";
    const EstimateResult r = EstimateCosts(Load(yaml), RoundPrices(), {});
    ASSERT_TRUE(r.ok());
    // Only the DR web group costs anything: warm x 1.00 x 730.
    EXPECT_EQ(Find(*r.estimate, Strategy::kWarmStandby).on_demand, Cents(c.warm * 730'00));
    EXPECT_EQ(Find(*r.estimate, Strategy::kWarmStandby).dr_runs,
              "web " + std::to_string(c.warm) + " x app.small");
  }
}

TEST(EstimateTest, DrWithoutDatabaseIsNotedAndNotPriced) {
  const std::string yaml =
      "platform: t\nregions:\n"
      "  - {name: east, role: primary, address: 127.0.1.1}\n"
      "  - name: west\n    role: dr\n    address: 127.0.2.1\n"
      "    resources: {object_storage_gb: 100}\n";
  const EstimateResult r = EstimateCosts(Load(yaml), RoundPrices(), {});
  ASSERT_TRUE(r.ok());
  const Estimate& e = *r.estimate;
  ASSERT_EQ(e.notes.size(), 2u);  // neither region lists a database
  EXPECT_NE(e.notes[1].find("regions[1] (west)"), std::string::npos) << e.notes[1];
  // Defaults: 1 hosted zone 0.50; 2 health checks 2 x 1.00 = 2; DR buckets 100 x 0.02 = 2.
  EXPECT_EQ(Find(e, Strategy::kNoDr).on_demand, Cents(50));
  EXPECT_EQ(Find(e, Strategy::kPilotLight).on_demand, Cents(4'50));  // 0.50 + 2 + 2
  EXPECT_EQ(Find(e, Strategy::kPilotLight).dr_runs, "nothing priced");
}

TEST(EstimateTest, UnpricedInstancesAreErrorsAtTheirConfigLocation) {
  std::string yaml = std::string(kRegions) + kCostSection;
  // Line 7 (east's group) loses its instance; line 17 (west's group) names an unknown one.
  yaml.replace(yaml.find(", instance: app.small}"), 22, "}");
  yaml.replace(yaml.find("instance: app.small}"), 19, "instance: app.large");
  yaml.replace(yaml.find("instance: db.big"), 16, "instance: db.huge");  // line 9 (east's)
  const EstimateResult r = EstimateCosts(Load(yaml), RoundPrices(), {});
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0].field, "regions[0].node_groups[0].instance");
  EXPECT_EQ(r.errors[0].where.line, 7);
  EXPECT_EQ(r.errors[0].where.column, 9);
  EXPECT_EQ(r.errors[0].found, "no 'instance' key");
  EXPECT_EQ(r.errors[1].field, "regions[0].resources.database.instance");
  EXPECT_EQ(r.errors[1].where.line, 9);
  EXPECT_EQ(r.errors[1].where.column, 28);
  EXPECT_EQ(r.errors[1].found, "'db.huge'");
  EXPECT_EQ(r.errors[2].ToString(),
            "t.yaml:17:72: regions[1].node_groups[0].instance: expected an instance type priced "
            "under instances in round.yaml (app.small, db.big), found 'app.large'");
}

TEST(EstimateTest, OverflowIsAnErrorNotAWrappedNumber) {
  Prices prices = RoundPrices();
  prices.instances["app.small"].on_demand_hourly = 4'000'000'000'000'000'000;  // 4e18 micros
  const EstimateResult r = EstimateCosts(Load(std::string(kRegions) + kCostSection), prices, {});
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].found.find("too large"), std::string::npos);
}

}  // namespace
}  // namespace pilotlight::cost
