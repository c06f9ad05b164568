// The platform section: regions, data stores, buckets, node groups, objectives,
// replication and the responsibility matrix.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/loader.h"
#include "config/loader_test_util.h"
#include "testing/scratch_dir.h"

namespace pilotlight::config {
namespace {

using namespace loader_test;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(PlatformSchemaTest, LoadsResponsibilities) {
  const LoadResult r = ParseConfig(
      Tail("responsibilities:\n"
           "  - {task: DR testing, owner: DevOps, frequency: quarterly, kind: region-outage}\n"
           "  - task: Failover procedure review\n"
           "    owner: Architecture\n"
           "    frequency: biannually\n"),
      "lab.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  ASSERT_EQ(r.config->responsibilities.size(), 2u);
  const Responsibility& drill = r.config->responsibilities[0];
  EXPECT_EQ(drill.task, "DR testing");
  EXPECT_EQ(drill.owner, "DevOps");
  EXPECT_EQ(drill.frequency, "quarterly");
  EXPECT_EQ(drill.kind, "region-outage");
  EXPECT_EQ(drill.where.line, 10);
  const Responsibility& review = r.config->responsibilities[1];
  EXPECT_EQ(review.task, "Failover procedure review");
  EXPECT_EQ(review.kind, "manual");  // the default
  EXPECT_EQ(review.where.line, 11);
  EXPECT_TRUE(ParseConfig(Tail("responsibilities: []\n"), "lab.yaml").ok());
  EXPECT_TRUE(ParseConfig(Minimal(), "lab.yaml").config->responsibilities.empty());
}

// Each row holds exactly one mistake and must yield exactly one error.
const std::vector<BadCase>& BadCases() {
  static const std::vector<BadCase> cases = {
      // Regions.
      {"region is a scalar", std::string(kHead) + "  - east\n" + kWest, "regions[0]", 3, 5,
       "'east'"},
      {"unknown region key", East("    postgress: {}\n"), "regions[0].postgress", 6, 5,
       "did you mean 'postgres'?"},
      {"duplicate region key", East("    name: north\n"), "regions[0].name", 6, 5,
       "first 'name' at line 3"},
      {"bad region name",
       std::string(kHead) + "  - name: East\n    role: primary\n" + "    address: 127.0.1.1\n" +
           kWest,
       "regions[0].name", 3, 11, "[a-z][a-z0-9-]{0,31}"},
      {"control bytes are escaped",
       std::string(kHead) + "  - name: \"a\\tb\"\n" +
           "    role: primary\n    address: 127.0.1.1\n" + kWest,
       "regions[0].name", 3, 11, "'a\\x09b'"},
      {"missing region name",
       std::string(kHead) + "  - role: primary\n    address: 127.0.1.1\n" + kWest,
       "regions[0].name", 3, 5, "no 'name' key"},
      {"misspelt role",
       std::string(kHead) + "  - name: east\n    role: primery\n" + "    address: 127.0.1.1\n" +
           kWest,
       "regions[0].role", 4, 11, "did you mean 'primary'?"},
      {"missing role", std::string(kHead) + "  - name: east\n    address: 127.0.1.1\n" + kWest,
       "regions[0].role", 3, 5, "no 'role' key"},
      {"second primary", Minimal() + "  - name: north\n    role: primary\n    address: 127.0.3.1\n",
       "regions[2].role", 10, 11, "regions[0].role at line 4 is primary too"},
      {"no dr region", std::string(kHead) + kEast, "regions", 3, 3, "no region with role dr"},
      {"duplicate region name",
       std::string(kHead) + kEast + "  - name: east\n    role: dr\n    address: 127.0.2.1\n",
       "regions[1].name", 6, 11, "regions[0] at line 3 is 'east'"},
      {"address out of range",
       std::string(kHead) + "  - name: east\n    role: primary\n" + "    address: 127.0.1.256\n" +
           kWest,
       "regions[0].address", 5, 14, "'127.0.1.256'"},
      {"address is a hostname",
       std::string(kHead) + "  - name: east\n    role: primary\n" + "    address: localhost\n" +
           kWest,
       "regions[0].address", 5, 14, "IPv4"},
      // Data stores.
      {"port is a word", East("    postgres:\n      port: abc\n"), "regions[0].postgres.port", 7,
       13, "'abc'"},
      {"port is a fraction", East("    postgres:\n      port: 1.5\n"), "regions[0].postgres.port",
       7, 13, "'1.5'"},
      {"port too large", East("    redis:\n      port: 70000\n"), "regions[0].redis.port", 7, 13,
       "'70000'"},
      {"port negative", East("    redis: {port: -1}\n"), "regions[0].redis.port", 6, 19,
       "an integer port 1-65535"},
      {"port overflows", East("    redis: {port: 99999999999999999999999}\n"),
       "regions[0].redis.port", 6, 19, "'99999999999999999999999'"},
      {"port is empty", East("    redis:\n      port:\n"), "regions[0].redis.port", 7, 7, "null"},
      {"postgres is a sequence", East("    postgres: [5432]\n"), "regions[0].postgres", 6, 15,
       "a sequence"},
      {"bad database name", East("    postgres:\n      database: Trading\n"),
       "regions[0].postgres.database", 7, 17, "[a-z_][a-z0-9_]{0,62}"},
      {"unknown sslmode", East("    postgres:\n      sslmode: verify\n"),
       "regions[0].postgres.sslmode", 7, 16, "verify-full"},
      {"sslrootcert that nothing checks",
       East("    postgres:\n      sslmode: require\n      sslrootcert: ca.pem\n"),
       "regions[0].postgres.sslrootcert", 8, 20, "verify-ca or verify-full"},
      {"empty replication password file",
       East("    postgres:\n      replication_password_file: ''\n"),
       "regions[0].postgres.replication_password_file", 7, 34, "mode 0600"},
      {"redis over TLS", East("    redis:\n      tls: true\n"), "regions[0].redis.tls", 7, 12,
       "hiredis 0.14"},
      {"bad redis user", East("    redis:\n      user: Sessions\n"), "regions[0].redis.user", 7,
       13, "Redis ACL user"},
      {"listeners collide", East("    redis: {port: 5432}\n"), "regions[0].redis.port", 6, 19,
       "regions[0].postgres.port (default) at line 3"},
      {"regions share an address",
       std::string(kHead) + kEast + "  - name: west\n    role: dr\n    address: 127.0.1.1\n" +
           "    postgres: {port: 5433}\n    redis: {port: 6380}\n" +
           "    node_groups: [{name: web, port: 6379}]\n",
       "regions[1].node_groups[0].port", 11, 37, "127.0.1.1:6379"},
      // Buckets and node groups.
      {"buckets is a mapping", East("    buckets: {name: a}\n"), "regions[0].buckets", 6, 14,
       "a mapping"},
      {"bad bucket name", East("    buckets:\n      - name: Bad_Name\n"),
       "regions[0].buckets[0].name", 7, 15, "[a-z0-9][a-z0-9.-]{0,62}"},
      {"bucket without name", East("    buckets:\n      - path: /tmp/b\n"),
       "regions[0].buckets[0].name", 7, 9, "no 'name' key"},
      {"duplicate bucket name", East("    buckets:\n      - name: b\n      - name: b\n"),
       "regions[0].buckets[1].name", 8, 15, "regions[0].buckets[0] at line 7"},
      {"bucket path is a sequence", East("    buckets:\n      - name: b\n        path: [x]\n"),
       "regions[0].buckets[0].path", 8, 15, "a sequence"},
      {"pilot light above production",
       East("    node_groups:\n      - name: web\n        pilot_light_size: 3\n"
            "        production_size: 2\n"),
       "regions[0].node_groups[0].pilot_light_size", 8, 27, "at most production_size (2)"},
      {"production size zero",
       East("    node_groups:\n      - name: web\n        pilot_light_size: 0\n"
            "        production_size: 0\n"),
       "regions[0].node_groups[0].production_size", 9, 26, "an integer 1-"},
      {"negative pilot light",
       East("    node_groups:\n      - {name: web, pilot_light_size: -1}\n"),
       "regions[0].node_groups[0].pilot_light_size", 7, 39, "'-1'"},
      {"duplicate node group",
       East("    node_groups:\n      - {name: web, port: 8080}\n"
            "      - {name: web, port: 8081}\n"),
       "regions[0].node_groups[1].name", 8, 16, "regions[0].node_groups[0] at line 7"},
      {"node groups share a default port",
       East("    node_groups:\n      - name: web\n      - name: api\n"),
       "regions[0].node_groups[1].port", 8, 9, "127.0.1.1:8080"},
      {"node group without name", East("    node_groups:\n      - port: 9000\n"),
       "regions[0].node_groups[0].name", 7, 9, "no 'name' key"},
      // Objectives and replication.
      {"objectives is a sequence", Tail("objectives: [rto]\n"), "objectives", 9, 13, "a sequence"},
      {"duration without unit", Tail("objectives:\n  rto: 60\n"), "objectives.rto", 10, 8,
       "needs a unit"},
      {"zero rto", Tail("objectives:\n  rto: 0\n"), "objectives.rto", 10, 8, "greater than 0"},
      {"misspelt rpo key", Tail("objectives:\n  rpo:\n    databse: 1m\n"), "objectives.rpo.databse",
       11, 5, "did you mean 'database'?"},
      {"bad rpo duration", Tail("objectives:\n  rpo:\n    sessions: 5x\n"),
       "objectives.rpo.sessions", 11, 15, "'5x'"},
      {"bad slot", Tail("replication:\n  slot: Bad-Slot\n"), "replication.slot", 10, 9,
       "[a-z0-9_]{1,63}"},
      {"heartbeat too fast", Tail("replication:\n  heartbeat_interval: 50ms\n"),
       "replication.heartbeat_interval", 10, 23, "from 100ms to 60s"},
      {"heartbeat too slow", Tail("replication:\n  heartbeat_interval: 2m\n"),
       "replication.heartbeat_interval", 10, 23, "'2m'"},
      {"zero lag allowance", Tail("replication:\n  max_lag_on_failover: 0\n"),
       "replication.max_lag_on_failover", 10, 24, "greater than 0"},
      // The responsibility matrix (`pilotlight calendar`).
      {"misspelt frequency",
       Tail("responsibilities:\n  - {task: x, owner: y, frequency: quartely}\n"),
       "responsibilities[0].frequency", 10, 36, "did you mean 'quarterly'?"},
      {"unknown task kind",
       Tail("responsibilities:\n  - {task: x, owner: y, frequency: daily, kind: region-outag}\n"),
       "responsibilities[0].kind", 10, 49, "did you mean 'region-outage'?"},
      {"responsibility without owner", Tail("responsibilities:\n  - {task: x, frequency: daily}\n"),
       "responsibilities[0].owner", 10, 5, "no 'owner' key"},
      {"responsibility key misspelt",
       Tail("responsibilities:\n  - {task: x, ownr: y, owner: y, frequency: daily}\n"),
       "responsibilities[0].ownr", 10, 15, "did you mean 'owner'?"},
      {"task named twice",
       Tail("responsibilities:\n  - {task: x, owner: y, frequency: daily}\n"
            "  - {task: x, owner: z, frequency: weekly}\n"),
       "responsibilities[1].task", 11, 12, "a task name used once"},
      {"empty task name", Tail("responsibilities:\n  - {task: '', owner: y, frequency: daily}\n"),
       "responsibilities[0].task", 10, 12, "1-100 printable characters"},
      {"responsibilities is a scalar", Tail("responsibilities: quarterly\n"), "responsibilities", 9,
       19, "'quarterly'"},
      {"frequency is a sequence",
       Tail("responsibilities:\n  - {task: x, owner: y, frequency: [daily]}\n"),
       "responsibilities[0].frequency", 10, 36, "a sequence"},
  };
  return cases;
}

// Credentials: file paths (relative to the config file), never inline
// secrets; secrets_dir fills what the config leaves empty, by name, and a
// PostgreSQL health check gets the password of the role it logs in as.
TEST(PlatformSchemaTest, LoadsCredentialsAndFillsThemFromSecretsDir) {
  pilotlight::testing::ScratchDir dir;
  const std::string secrets = dir.path() + "/secrets";
  ASSERT_TRUE(std::filesystem::create_directory(secrets));
  for (const char* name : {"east.postgres.postgres.password", "east.postgres.trader.password",
                           "west.postgres.replicator.password", "west.redis.password"}) {
    std::ofstream(secrets + "/" + name) << "x\n";
  }
  const std::string yaml =
      std::string(kHead) + kEast +
      "    postgres:\n"
      "      sslmode: verify-full\n"
      "      sslrootcert: certs/ca.pem\n"
      "      app_password_file: app.password\n"
      "    redis: {user: sessions, password_file: /etc/pl/redis.password}\n" +
      kWest +
      "secrets_dir: secrets\n"
      "health_checks:\n"
      "  - {name: east-pg, type: postgres, host: 127.0.1.1, port: 5432}\n"
      "  - {name: east-app, type: postgres, host: 127.0.1.1, port: 5432, user: trader}\n";
  const LoadResult r = ParseConfig(yaml, dir.path() + "/platform.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  const RegionSpec& east = r.config->regions[0];
  const RegionSpec& west = r.config->regions[1];
  EXPECT_EQ(east.postgres.sslmode, "verify-full");
  EXPECT_EQ(east.postgres.sslrootcert, dir.path() + "/certs/ca.pem");
  EXPECT_EQ(east.postgres.password_file, secrets + "/east.postgres.postgres.password");
  EXPECT_EQ(east.postgres.app_password_file, dir.path() + "/app.password");  // named: kept
  EXPECT_EQ(east.postgres.replication_password_file, "");  // no such file
  EXPECT_EQ(east.redis.user, "sessions");
  EXPECT_EQ(east.redis.password_file, "/etc/pl/redis.password");
  EXPECT_EQ(west.postgres.password_file, "");
  EXPECT_EQ(west.postgres.replication_password_file, secrets + "/west.postgres.replicator.password");
  EXPECT_EQ(west.redis.password_file, secrets + "/west.redis.password");
  ASSERT_EQ(r.config->detection.checks.size(), 2u);
  EXPECT_EQ(r.config->detection.checks[0].pg_password_file, east.postgres.password_file);
  EXPECT_EQ(r.config->detection.checks[0].pg_sslmode, "verify-full");
  EXPECT_EQ(r.config->detection.checks[1].pg_password_file, east.postgres.app_password_file);
}

TEST(PlatformSchemaTest, ReportsEachKindOfBadInputWithItsLocation) {
  ASSERT_GE(BadCases().size(), 40u);
  ExpectOneErrorEach(BadCases());
}

}  // namespace
}  // namespace pilotlight::config
