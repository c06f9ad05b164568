// The loader as a whole: full configs, the document's shape, the top level,
// reporting (every mistake, sorted, with file:line:col), files and hostile input.
// Each section of the schema has its own schema_*_test.cc.
#include <gtest/gtest.h>

#include <cstdlib>
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

TEST(LoaderTest, LoadsFullConfig) {
  const LoadResult r = ParseConfig(kLabConfig, "lab.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.file, "lab.yaml");
  EXPECT_EQ(c.platform, "trading-lab");
  ASSERT_EQ(c.regions.size(), 2u);
  const RegionSpec& p = c.Primary();
  EXPECT_EQ(p.name, "primary");
  EXPECT_EQ(p.address, "127.0.1.1");
  EXPECT_EQ(p.where.line, 3);
  EXPECT_EQ(p.where.column, 5);
  EXPECT_EQ(p.postgres.port, 5432);
  EXPECT_EQ(p.redis.port, 6379);
  ASSERT_EQ(p.buckets.size(), 2u);
  EXPECT_EQ(p.buckets[0].name, "confirmations");
  EXPECT_EQ(p.buckets[0].path, "");
  EXPECT_EQ(p.buckets[1].path, "/var/lib/pilotlight/artifacts");
  EXPECT_EQ(p.buckets[1].where.line, 13);
  ASSERT_EQ(p.node_groups.size(), 1u);
  EXPECT_EQ(p.node_groups[0].name, "trader");
  EXPECT_EQ(p.node_groups[0].pilot_light_size, 1);
  EXPECT_EQ(p.node_groups[0].production_size, 3);
  EXPECT_EQ(p.node_groups[0].port, 8080);
  EXPECT_EQ(p.node_groups[0].where.line, 16);
  EXPECT_EQ(p.node_groups[0].where.column, 9);
  const RegionSpec& d = c.Dr();
  EXPECT_EQ(d.name, "dr");
  EXPECT_EQ(d.role, RegionRole::kDr);
  EXPECT_EQ(d.postgres.port, 5433);
  EXPECT_EQ(d.node_groups[0].pilot_light_size, 0);
  EXPECT_EQ(c.objectives.rto, minutes(60));
  EXPECT_EQ(c.objectives.rpo.artifacts, seconds(90));
  EXPECT_EQ(c.replication.slot, "pilotlight_dr");
  EXPECT_EQ(c.replication.heartbeat_interval, milliseconds(250));
  EXPECT_EQ(c.replication.max_lag_on_failover, seconds(10));
}

TEST(LoaderTest, LoadsShippedExample) {
  const std::string path = std::string(PILOTLIGHT_SOURCE_DIR) + "/examples/lab.yaml";
  const LoadResult r = LoadConfigFile(path);
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  EXPECT_EQ(r.config->file, path);
  EXPECT_EQ(r.config->platform, "trading-lab");
  EXPECT_EQ(r.config->Primary().name, "primary");
  EXPECT_EQ(r.config->Dr().address, "127.0.2.1");
  // `pilotlight cost` prices the example: every node group has an instance type.
  EXPECT_TRUE(r.config->Dr().resources.database_present);
  for (const RegionSpec& region : r.config->regions) {
    for (const NodeGroupSpec& group : region.node_groups) EXPECT_FALSE(group.instance.empty());
  }
  // Detection and DNS for the lab: checks on each region, an alarm, a file
  // topic beside the lab's state, and the failover zone on the third site.
  const Config& c = *r.config;
  std::map<std::string, const health::CheckSpec*> checks;
  for (const health::CheckSpec& check : c.detection.checks) checks[check.name] = &check;
  ASSERT_EQ(checks.count("primary-postgres"), 1u);
  EXPECT_TRUE(checks["primary-postgres"]->must_be_writable);
  EXPECT_EQ(checks["primary-postgres"]->host, "127.0.1.1");
  ASSERT_EQ(checks.count("dr-trader"), 1u);
  EXPECT_EQ(checks["dr-trader"]->path, "/readyz");
  EXPECT_EQ(checks["dr-trader"]->host, "127.0.2.1");
  EXPECT_EQ(checks["dr-trader"]->port, 8080);
  EXPECT_FALSE(c.detection.alarms.empty());
  ASSERT_FALSE(c.detection.topics.empty());
  EXPECT_EQ(c.dns.listen.ToString(), "127.0.3.1:5353");
  ASSERT_EQ(c.dns.zones.size(), 1u);
  EXPECT_EQ(c.dns.zones[0].origin, "lab.pilotlight.");
  // The seed's responsibility matrix.
  ASSERT_EQ(c.responsibilities.size(), 4u);
  EXPECT_EQ(c.responsibilities[0].task, "DR testing");
  EXPECT_EQ(c.responsibilities[0].kind, "region-outage");
  EXPECT_EQ(c.responsibilities[0].frequency, "quarterly");
  EXPECT_EQ(c.responsibilities[2].frequency, "continuous");
}

TEST(LoaderTest, AppliesDefaultsWhenOptionalSectionsAreAbsent) {
  const LoadResult r = ParseConfig(Minimal(), "min.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  const Config& c = *r.config;
  const Config defaults;
  EXPECT_EQ(c.objectives.rto, defaults.objectives.rto);
  EXPECT_EQ(c.objectives.rto, minutes(30));
  EXPECT_EQ(c.objectives.rpo.database, seconds(60));
  EXPECT_EQ(c.objectives.rpo.objects, minutes(15));
  EXPECT_EQ(c.objectives.rpo.sessions, seconds(5));
  EXPECT_EQ(c.objectives.rpo.artifacts, minutes(15));
  EXPECT_EQ(c.replication.slot, "pilotlight_dr");
  EXPECT_EQ(c.replication.heartbeat_interval, seconds(1));
  EXPECT_EQ(c.replication.max_lag_on_failover, seconds(60));
  for (const RegionSpec& region : c.regions) {
    EXPECT_EQ(region.postgres.port, 5432);
    EXPECT_EQ(region.postgres.database, "trading");
    EXPECT_EQ(region.redis.port, 6379);
    EXPECT_TRUE(region.buckets.empty());
    EXPECT_TRUE(region.node_groups.empty());
  }
}

TEST(LoaderTest, PartialSectionsKeepOtherDefaults) {
  const LoadResult r =
      ParseConfig(East("    postgres:\n      port: 6000\n    node_groups:\n      - name: web\n") +
                      "objectives:\n  rpo:\n    sessions: 1s\nreplication: {slot: s1}\n",
                  "p.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.regions[0].postgres.port, 6000);
  EXPECT_EQ(c.regions[0].postgres.database, "trading");
  EXPECT_EQ(c.regions[0].node_groups[0].pilot_light_size, 1);
  EXPECT_EQ(c.regions[0].node_groups[0].production_size, 2);
  EXPECT_EQ(c.regions[0].node_groups[0].port, 8080);
  EXPECT_EQ(c.objectives.rto, minutes(30));
  EXPECT_EQ(c.objectives.rpo.sessions, seconds(1));
  EXPECT_EQ(c.objectives.rpo.database, seconds(60));
  EXPECT_EQ(c.replication.slot, "s1");
  EXPECT_EQ(c.replication.heartbeat_interval, seconds(1));
}
TEST(LoaderTest, ReservedSectionsMayBeEmpty) {
  const LoadResult r =
      ParseConfig(Tail("health_checks:\nalarms: []\ntopics: {}\ndns: ~\nrunbooks: []\n"), "r.yaml");
  EXPECT_TRUE(r.ok()) << AllErrors(r);
}

TEST(LoaderTest, ReportsEveryMistakeInOneRun) {
  const std::string yaml = std::string(kHead) + kEast +     // 1-5
                           "    postgres:\n"                // 6
                           "      port: abc\n"              // 7
                           "  - name: west\n"               // 8
                           "    role: dr\n"                 // 9
                           "    adress: 127.0.2.1\n"        // 10: typo, so address is also missing
                           "replication:\n"                 // 11
                           "  heartbeat_interval: 10ms\n";  // 12
  const LoadResult r = ParseConfig(yaml, "three.yaml");
  ASSERT_FALSE(r.ok());
  // The typo is one mistake but two findings: an unknown key and a missing one.
  ASSERT_EQ(r.errors.size(), 4u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].field, "regions[0].postgres.port");
  EXPECT_EQ(r.errors[0].where.line, 7);
  EXPECT_EQ(r.errors[1].field, "regions[1].address");
  EXPECT_EQ(r.errors[1].where.line, 8);
  EXPECT_EQ(r.errors[2].field, "regions[1].adress");
  EXPECT_EQ(r.errors[2].where.line, 10);
  EXPECT_NE(r.errors[2].expected.find("did you mean 'address'?"), std::string::npos);
  EXPECT_EQ(r.errors[3].field, "replication.heartbeat_interval");
  EXPECT_EQ(r.errors[3].where.line, 12);
}

TEST(LoaderTest, ThreeMistakesGiveThreeErrors) {
  const std::string yaml = std::string(kHead) + kEast +             // 1-5
                           "    redis: {port: 0}\n"                 // 6
                           "  - name: west\n"                       // 7
                           "    role: dr\n"                         // 8
                           "    address: 127.0.2.1\n"               // 9
                           "    buckets: [{name: b}, {name: b}]\n"  // 10
                           "objectives:\n"                          // 11
                           "  rto: soon\n";                         // 12
  const LoadResult r = ParseConfig(yaml, "three.yaml");
  ASSERT_EQ(r.errors.size(), 3u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].ToString(),
            "three.yaml:6:19: regions[0].redis.port: expected an integer port 1-65535, found '0'");
  EXPECT_EQ(r.errors[1].field, "regions[1].buckets[1].name");
  EXPECT_EQ(r.errors[1].where.line, 10);
  EXPECT_EQ(r.errors[1].where.column, 33);
  EXPECT_EQ(r.errors[2].field, "objectives.rto");
  EXPECT_EQ(r.errors[2].where.line, 12);
  EXPECT_EQ(r.errors[2].found, "'soon'");
}

TEST(LoaderTest, ErrorToStringFormat) {
  const ConfigError e{
      {"lab.yaml", 12, 7}, "regions[1].postgres.port", "an integer port 1-65535", "'abc'"};
  EXPECT_EQ(e.ToString(),
            "lab.yaml:12:7: regions[1].postgres.port: expected an integer port 1-65535, found "
            "'abc'");

  const LoadResult r = ParseConfig(East("    postgres:\n      port: abc\n"), "lab.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].ToString(),
            "lab.yaml:7:13: regions[0].postgres.port: expected an integer port 1-65535, found "
            "'abc'");
}

TEST(LoaderTest, MissingFileIsOneErrorNamingIt) {
  const std::string path = "/nonexistent/pilotlight/lab.yaml";
  const LoadResult r = LoadConfigFile(path);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].where.file, path);
  EXPECT_EQ(r.errors[0].found, "No such file or directory");
  EXPECT_EQ(r.errors[0].ToString(),
            path + ": expected a readable config file, found No such file or directory");
}

TEST(LoaderTest, DirectoryIsOneErrorNamingIt) {
  const LoadResult r = LoadConfigFile(PILOTLIGHT_SOURCE_DIR);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].where.file, PILOTLIGHT_SOURCE_DIR);
  EXPECT_EQ(r.errors[0].found, "Is a directory");
}

// Hostile inputs must come back as errors, never as a crash or a hang.
TEST(LoaderTest, SurvivesHostileInput) {
  const std::string deep(5000, '[');
  const std::string inputs[] = {
      "&a [*a]\n",
      ", x\n",
      "- a\n, b\n",
      "a: 1\n--- ,\n--- ,\n",
      "platform: &p [*p]\nregions: &r [*r]\n",
      "regions:\n  - &r {name: a, role: primary, address: 1.2.3.4, postgres: *r}\n",
      deep,
      "{",
      "\xff\xfe\x00\x01",
      std::string("platform: a\0b\n", 14),
      "platform: !!binary aGVsbG8=\nregions: !custom []\n",
      "<<: {platform: lab}\n",
      "? \n: \n",
      "~: 1\n",
      "platform: " + std::string(100000, 'x') + "\n",
      "regions: [" + std::string(2000, ' ') + "]\n",
      std::string(5000, 'k') + ": 1\n",
      "regions:\n  - {\"name\\e\\a\": 1}\n",
      // Self-referencing aliases in the detection and DNS sections.
      Minimal() + "health_checks: &a [*a]\n",
      Minimal() + "health_checks:\n  - &c {name: a, type: calculated, children: [*c]}\n",
      Minimal() + "alarms: [&x {name: a, metric: up, topics: *x}]\n",
      Minimal() + "topics: [{name: t, subscribers: &s [*s]}]\n",
      Minimal() + "dns: &d {zones: [*d]}\n",
      Minimal() +
          "dns:\n  zones: [{origin: x., ns: [n], records: &r [{name: a, type: A, "
          "weighted: *r}]}]\n",
  };
  for (const std::string& input : inputs) {
    const LoadResult r = ParseConfig(input, "hostile.yaml");
    EXPECT_FALSE(r.ok()) << input.substr(0, 60);
    EXPECT_FALSE(r.errors.empty());
    for (const ConfigError& e : r.errors) {
      EXPECT_EQ(e.where.file, "hostile.yaml");
      EXPECT_LT(e.ToString().size(), 1000u) << "messages quote at most a short excerpt";
    }
  }
}

// Every prefix of a valid file either loads or explains itself: no crash, and
// no error without a line.
TEST(LoaderTest, EveryTruncationIsHandled) {
  for (const std::string& text : {std::string(kLabConfig), std::string(kDetectionAndDns)}) {
    for (size_t n = 0; n < text.size(); ++n) {
      const LoadResult r = ParseConfig(text.substr(0, n), "cut.yaml");
      ASSERT_NE(r.ok(), !r.errors.empty()) << n;
      for (const ConfigError& e : r.errors) {
        EXPECT_GT(e.where.line, 0) << "cut at " << n << ": " << e.ToString();
      }
    }
  }
}

// Each row holds exactly one mistake and must yield exactly one error.
const std::vector<BadCase>& BadCases() {
  static const std::vector<BadCase> cases = {
      // Document shape.
      {"syntax error", "platform: [lab\nregions: []\n", "", 2, 8, "syntax error"},
      {"bad indentation", "platform: lab\n  regions: []\n", "", 2, 10, "syntax error"},
      {"empty file", "# nothing yet\n", "", 1, 1, "an empty file"},
      {"root is a sequence", "- platform: lab\n", "", 1, 1, "a sequence"},
      {"root is a scalar", "lab\n", "", 1, 1, "'lab'"},
      // yaml-cpp 0.7 neither consumes nor rejects a lone ',' at a document start.
      {"stray comma", ",\n" + Minimal(), "", 1, 1, "unexpected ','"},
      {"stray comma after a document", Minimal() + "---\n, x\n", "", 10, 1, "unexpected ','"},
      {"two documents", Minimal() + "---\nplatform: other\n", "", 9, 1, "a second document"},
      {"non-scalar key", Tail("? [a, b]\n: 1\n"), "", 9, 3, "a sequence as a key"},
      // Top level.
      {"missing platform", std::string("regions:\n") + kEast + kWest, "platform", 1, 1,
       "no 'platform' key"},
      {"empty platform", "platform: ''\nregions:\n" + std::string(kEast) + kWest, "platform", 1, 11,
       "non-empty platform name"},
      {"platform is a mapping", "platform: {name: lab}\nregions:\n" + std::string(kEast) + kWest,
       "platform", 1, 11, "a mapping"},
      {"missing regions", "platform: lab\n", "regions", 1, 1, "no 'regions' key"},
      {"regions is a scalar", "platform: lab\nregions: east\n", "regions", 2, 10, "'east'"},
      {"regions is null", "platform: lab\nregions:\n", "regions", 2, 1, "null"},
      {"regions is a mapping", "platform: lab\nregions: {east: 1}\n", "regions", 2, 10,
       "a mapping"},
      {"unknown top-level key", Tail("replicaton:\n  slot: x\n"), "replicaton", 9, 1,
       "did you mean 'replication'?"},
      {"unknown key lists allowed ones", Tail("zzz: 1\n"), "zzz", 9, 1,
       "one of the keys platform, regions, objectives"},
      {"duplicate top-level key", Tail("platform: again\n"), "platform", 9, 1,
       "a second 'platform'"},
  };
  return cases;
}

TEST(LoaderTest, ReportsEachKindOfBadInputWithItsLocation) {
  ASSERT_GE(BadCases().size(), 15u);
  ExpectOneErrorEach(BadCases());
}

}  // namespace
}  // namespace pilotlight::config
