// The inputs of `pilotlight cost`: instance types, region resources, the cost section.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "config/loader_test_util.h"

namespace pilotlight::config {
namespace {

using namespace loader_test;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// Inputs of `pilotlight cost`: instance types, region resources and the cost section.
TEST(CostSchemaTest, LoadsCostInputs) {
  const LoadResult r =
      ParseConfig(East("    node_groups:\n"
                       "      - {name: web, instance: m5.large}\n"
                       "    resources:\n"
                       "      database: {instance: db.r5.large, count: 2, storage_gb: 100}\n"
                       "      object_storage_gb: 500\n"
                       "      backup_storage_gb: 300\n"
                       "      replicated_gb_per_month: 200\n") +
                      "cost:\n"
                      "  dns: {hosted_zones: 2, health_checks: 4}\n"
                      "  warm_standby_percent: 25\n"
                      "  recovery_model:\n"
                      "    detection: 30s\n"
                      "    dns_switch: 0\n"
                      "    backup_interval: 1h\n"
                      "    provision: 20m\n"
                      "    restore: 90m\n"
                      "    scale_up: 4m\n"
                      "    promote: 45s\n",
                  "cost.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  const Config& c = *r.config;
  const NodeGroupSpec& web = c.regions[0].node_groups[0];
  EXPECT_EQ(web.instance, "m5.large");
  EXPECT_EQ(web.instance_where.line, 7);
  EXPECT_EQ(web.instance_where.column, 31);
  const RegionResources& res = c.regions[0].resources;
  EXPECT_EQ(res.where.line, 9);
  EXPECT_TRUE(res.database_present);
  EXPECT_EQ(res.database.instance, "db.r5.large");
  EXPECT_EQ(res.database.instance_where.line, 9);
  EXPECT_EQ(res.database.count, 2);
  EXPECT_EQ(res.database.storage_gb, 100);
  EXPECT_EQ(res.object_storage_gb, 500);
  EXPECT_EQ(res.backup_storage_gb, 300);
  EXPECT_EQ(res.replicated_gb_per_month, 200);
  EXPECT_FALSE(c.regions[1].resources.database_present);
  EXPECT_EQ(c.regions[1].resources.where.line, 0);
  EXPECT_EQ(c.cost.hosted_zones, 2);
  EXPECT_EQ(c.cost.health_checks, 4);
  EXPECT_EQ(c.cost.warm_standby_percent, 25);
  EXPECT_EQ(c.cost.recovery.detection, seconds(30));
  EXPECT_EQ(c.cost.recovery.dns_switch, seconds(0));
  EXPECT_EQ(c.cost.recovery.backup_interval, minutes(60));
  EXPECT_EQ(c.cost.recovery.provision, minutes(20));
  EXPECT_EQ(c.cost.recovery.restore, minutes(90));
  EXPECT_EQ(c.cost.recovery.scale_up, minutes(4));
  EXPECT_EQ(c.cost.recovery.promote, seconds(45));
}

TEST(CostSchemaTest, CostInputsDefaultWhenAbsent) {
  const LoadResult r = ParseConfig(Minimal(), "min.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  const Config& c = *r.config;
  EXPECT_FALSE(c.regions[0].resources.database_present);
  EXPECT_EQ(c.regions[0].resources.object_storage_gb, 0);
  EXPECT_EQ(c.cost.hosted_zones, 1);
  EXPECT_EQ(c.cost.health_checks, 2);
  EXPECT_EQ(c.cost.warm_standby_percent, 50);
  EXPECT_EQ(c.cost.recovery.backup_interval, minutes(24 * 60));
  EXPECT_EQ(c.cost.recovery.scale_up, minutes(10));
}

// Each row holds exactly one mistake and must yield exactly one error.
const std::vector<BadCase>& BadCases() {
  static const std::vector<BadCase> cases = {
      // Cost inputs: instance types, region resources, the cost section.
      {"bad instance type", East("    node_groups:\n      - {name: web, instance: 'm5 large'}\n"),
       "regions[0].node_groups[0].instance", 7, 31, "such as m5.large"},
      {"resources is a sequence", East("    resources: [1]\n"), "regions[0].resources", 6, 16,
       "a sequence"},
      {"misspelt resources key", East("    resources:\n      objet_storage_gb: 5\n"),
       "regions[0].resources.objet_storage_gb", 7, 7, "did you mean 'object_storage_gb'?"},
      {"database without instance", East("    resources:\n      database: {count: 2}\n"),
       "regions[0].resources.database.instance", 7, 17, "no 'instance' key"},
      {"database count zero",
       East("    resources:\n      database: {instance: db.r5.large, count: 0}\n"),
       "regions[0].resources.database.count", 7, 48, "an integer 1-100"},
      {"database is a scalar", East("    resources:\n      database: db.r5.large\n"),
       "regions[0].resources.database", 7, 17, "'db.r5.large'"},
      {"negative storage", East("    resources:\n      object_storage_gb: -5\n"),
       "regions[0].resources.object_storage_gb", 7, 26, "'-5'"},
      {"fractional replication volume",
       East("    resources:\n      replicated_gb_per_month: 2.5\n"),
       "regions[0].resources.replicated_gb_per_month", 7, 32, "a whole number of GB"},
      {"cost is a sequence", Tail("cost: [1]\n"), "cost", 9, 7, "a sequence"},
      {"misspelt recovery step", Tail("cost:\n  recovery_model:\n    promte: 1m\n"),
       "cost.recovery_model.promte", 11, 5, "did you mean 'promote'?"},
      {"zero backup interval", Tail("cost:\n  recovery_model:\n    backup_interval: 0\n"),
       "cost.recovery_model.backup_interval", 11, 22, "greater than 0"},
      {"recovery step without unit", Tail("cost:\n  recovery_model:\n    restore: 2\n"),
       "cost.recovery_model.restore", 11, 14, "needs a unit"},
      {"warm standby over 100", Tail("cost:\n  warm_standby_percent: 150\n"),
       "cost.warm_standby_percent", 10, 25, "1-100"},
      {"health checks is a word", Tail("cost:\n  dns: {health_checks: many}\n"),
       "cost.dns.health_checks", 10, 24, "'many'"},
  };
  return cases;
}

TEST(CostSchemaTest, ReportsEachKindOfBadInputWithItsLocation) {
  ASSERT_GE(BadCases().size(), 8u);
  ExpectOneErrorEach(BadCases());
}

}  // namespace
}  // namespace pilotlight::config
