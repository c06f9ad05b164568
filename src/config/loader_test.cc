#include "config/loader.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace pilotlight::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// The smallest valid config; rows below are edits of it, so their line
// numbers can be read off this listing.
//   1 platform: lab
//   2 regions:
//   3   - name: east
//   4     role: primary
//   5     address: 127.0.1.1
//   6   - name: west
//   7     role: dr
//   8     address: 127.0.2.1
constexpr char kHead[] = "platform: lab\nregions:\n";
constexpr char kEast[] = "  - name: east\n    role: primary\n    address: 127.0.1.1\n";
constexpr char kWest[] = "  - name: west\n    role: dr\n    address: 127.0.2.1\n";

std::string Minimal() { return std::string(kHead) + kEast + kWest; }
// `lines` are added to the east region: its first line is line 6.
std::string East(const std::string& lines) { return std::string(kHead) + kEast + lines + kWest; }
// `lines` follow the regions: its first line is line 9.
std::string Tail(const std::string& lines) { return Minimal() + lines; }

// `lines` are the health checks: their first line is line 10.
std::string Checks(const std::string& lines) { return Tail("health_checks:\n" + lines); }
// A valid TCP check named a, lines 10-13; a row's extra keys start at line 14.
constexpr char kTcpCheck[] = "  - name: a\n    type: tcp\n    host: 127.0.0.1\n    port: 80\n";
// `records` follow a zone whose first record is line 14; they start at line 15.
std::string Zone(const std::string& records) {
  return Tail(
      "dns:\n  zones:\n    - origin: lab.test.\n      ns: [ns1]\n      records:\n"
      "        - {name: ns1, type: A, values: [127.0.3.1]}\n" +
      records);
}

// `lines` are the controller section: its first line is line 10.
std::string Ctl(const std::string& lines) { return Tail("controller:\n" + lines); }
// `lines` are the steps of runbooks.failover: the first one is line 11.
std::string Rb(const std::string& lines) { return Tail("runbooks:\n  failover:\n" + lines); }

std::string AllErrors(const LoadResult& r) {
  std::string out;
  for (const ConfigError& e : r.errors) out += "\n  " + e.ToString();
  return out;
}

// A copy of examples/lab.yaml, so the test documents the shape of a full config.
constexpr char kLabConfig[] = R"(platform: trading-lab
regions:
  - name: primary
    role: primary
    address: 127.0.1.1
    postgres:
      port: 5432
      database: trading
    redis:
      port: 6379
    buckets:
      - name: confirmations
      - name: artifacts
        path: /var/lib/pilotlight/artifacts
    node_groups:
      - name: trader
        pilot_light_size: 1
        production_size: 3
        port: 8080
  - name: dr
    role: dr
    address: 127.0.2.1
    postgres: {port: 5433, database: trading}
    redis:
      port: 6379
    buckets:
      - name: confirmations
      - name: artifacts
    node_groups:
      - name: trader
        pilot_light_size: 0
        production_size: 3
        port: 8080
objectives:
  rto: 1h
  rpo:
    database: 60s
    objects: 15m
    sessions: 5s
    artifacts: 1m30s
replication:
  slot: pilotlight_dr
  heartbeat_interval: 250ms
  max_lag_on_failover: 10s
health_checks: []
alarms: []
topics:
dns: {}
runbooks: {}
)";

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

// Inputs of `pilotlight cost`: instance types, region resources and the cost section.
TEST(LoaderTest, LoadsCostInputs) {
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

TEST(LoaderTest, CostInputsDefaultWhenAbsent) {
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

TEST(LoaderTest, ReservedSectionsMayBeEmpty) {
  const LoadResult r =
      ParseConfig(Tail("health_checks:\nalarms: []\ntopics: {}\ndns: ~\nrunbooks: []\n"), "r.yaml");
  EXPECT_TRUE(r.ok()) << AllErrors(r);
}

// Every detection and DNS key in use; line numbers are read off this listing.
constexpr char kDetectionAndDns[] = R"(platform: lab
regions:
  - name: east
    role: primary
    address: 127.0.1.1
    postgres: {port: 5433, database: orders}
    node_groups: [{name: web, port: 9090}]
  - name: west
    role: dr
    address: 127.0.2.1
health_checks:
  - name: east-postgres
    type: postgres
    region: east
    must_be_writable: true
    interval: 500ms
    jitter: 50ms
    failure_threshold: 4
    success_threshold: 2
    vantages: [{name: witness, source_address: 127.0.3.1, site: witness}, {name: dr, host: 127.0.1.2, port: 6000}, {name: primary}]
    unhealthy_quorum: 2
    topics: [ops]
  - {name: east-web, type: http, region: east, path: /readyz, status: 200-299, body_contains: ready}
  - {name: west-web, type: http, host: 127.0.2.1, port: 8080}
  - {name: resolver, type: dns, host: 127.0.3.1, query: trade.lab.}
  - {name: east-down, type: calculated, children: [east-postgres, east-web], min_healthy: 1, inverted: true, topics: [ops]}
alarms:
  - name: east-postgres-down
    check: east-postgres
    period: 1s
    evaluation_periods: 3
    datapoints_to_alarm: 2
    treat_missing_data: breaching
    topics: [ops]
  - {name: lag, metric: 'pilotlight_lag_seconds{type="database"}', statistic: max, comparison: '>=', threshold: 2.5}
topics:
  - name: ops
    subscribers:
      - {name: pager, type: webhook, url: "http://127.0.0.1:9000/hook", secret_env: PL_TEST_SECRET, timeout: 2s, backoff: {initial: 100ms, max: 5s}, deadline: 1m}
      - {name: log, type: file, path: events/detection.jsonl}
      - {name: script, type: exec, command: [/usr/local/bin/page-oncall, --team, trading]}
detection:
  alarm_evaluation_interval: 100ms
dns:
  listen: 127.0.3.1:5353
  reload_interval: 100ms
  zones:
    - origin: lab.test
      ttl: 30
      ns: [ns1]
      soa: {rname: hostmaster, minimum: 10}
      records:
        - {name: ns1, type: A, values: [127.0.3.1]}
        - name: api
          type: A
          ttl: 5
          failover:
            primary: {values: [127.0.1.1], health_check: east-web}
            secondary: {values: [127.0.2.1], health_check: west-web}
        - name: trade
          type: a
          weighted:
            - {id: east, weight: 100, values: [127.0.1.1], health_check: east-web}
            - {id: west, weight: 0, value: 127.0.2.1}
  publishers:
    - server: 10.0.0.53
      zone: trading.example
      tsig: {name: pilotlight-key, secret_file: tsig.key}
      attempts: 5
)";

TEST(LoaderTest, LoadsDetectionAndDns) {
  const LoadResult r = ParseConfig(kDetectionAndDns, "conf/lab.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  const health::DetectionSpec& d = r.config->detection;
  EXPECT_TRUE(health::ValidateDetection(d).ok());
  ASSERT_EQ(d.checks.size(), 5u);
  const health::CheckSpec& pg = d.checks[0];
  EXPECT_EQ(pg.kind, health::ProbeKind::kPostgres);
  EXPECT_EQ(pg.host, "127.0.1.1");  // the region's address, port and database
  EXPECT_EQ(pg.port, 5433);
  EXPECT_EQ(pg.pg_database, "orders");
  EXPECT_TRUE(pg.must_be_writable);
  EXPECT_EQ(pg.interval, milliseconds(500));
  EXPECT_EQ(pg.timeout, milliseconds(500));  // defaults fit the interval
  EXPECT_EQ(pg.connect_timeout, milliseconds(500));
  EXPECT_EQ(pg.jitter, milliseconds(50));
  EXPECT_EQ(pg.failure_threshold, 4);
  ASSERT_EQ(pg.vantages.size(), 3u);
  EXPECT_EQ(pg.vantages[0].source_address, "127.0.3.1");
  EXPECT_EQ(pg.vantages[0].site, "witness");
  EXPECT_EQ(pg.vantages[1].site, "");
  EXPECT_EQ(pg.vantages[1].host, "127.0.1.2");
  EXPECT_EQ(pg.vantages[1].port, 6000);
  EXPECT_EQ(pg.unhealthy_quorum, 2);
  EXPECT_EQ(pg.topics, std::vector<std::string>{"ops"});
  const health::CheckSpec& web = d.checks[1];
  EXPECT_EQ(web.kind, health::ProbeKind::kHttp);
  EXPECT_EQ(web.port, 9090);  // the region's only node group
  EXPECT_EQ(web.path, "/readyz");
  EXPECT_EQ(web.status_min, 200);
  EXPECT_EQ(web.status_max, 299);
  EXPECT_EQ(web.body_contains, "ready");
  EXPECT_EQ(web.interval, seconds(1));
  EXPECT_EQ(d.checks[2].port, 8080);
  EXPECT_EQ(d.checks[3].port, 53);
  EXPECT_EQ(d.checks[3].dns_name, "trade.lab.");
  const health::CheckSpec& down = d.checks[4];
  EXPECT_EQ(down.kind, health::ProbeKind::kCalculated);
  EXPECT_EQ(down.children, (std::vector<std::string>{"east-postgres", "east-web"}));
  EXPECT_EQ(down.min_healthy_children, 1);
  EXPECT_TRUE(down.inverted);

  ASSERT_EQ(d.alarms.size(), 2u);
  const alarm::AlarmSpec& a = d.alarms[0];
  EXPECT_EQ(a.metric, health::CheckHealthyMetric("east-postgres"));
  EXPECT_EQ(a.statistic, alarm::Statistic::kMinimum);  // a check alarm fires while unhealthy
  EXPECT_EQ(a.comparison, alarm::Comparison::kLess);
  EXPECT_EQ(a.threshold, 1);
  EXPECT_EQ(a.period, seconds(1));
  EXPECT_EQ(a.evaluation_periods, 3);
  EXPECT_EQ(a.datapoints_to_alarm, 2);
  EXPECT_EQ(a.missing_data, alarm::MissingData::kBreaching);
  const alarm::AlarmSpec& lag = d.alarms[1];
  EXPECT_EQ(lag.metric, alarm::MetricKey("pilotlight_lag_seconds", {{"type", "database"}}));
  EXPECT_EQ(lag.statistic, alarm::Statistic::kMaximum);
  EXPECT_EQ(lag.comparison, alarm::Comparison::kGreaterOrEqual);
  EXPECT_EQ(lag.threshold, 2.5);

  ASSERT_EQ(d.topics.size(), 1u);
  ASSERT_EQ(d.topics[0].subscribers.size(), 3u);
  const notify::SubscriberSpec& hook = d.topics[0].subscribers[0];
  EXPECT_EQ(hook.kind, notify::SubscriberKind::kWebhook);
  EXPECT_EQ(hook.url, "http://127.0.0.1:9000/hook");
  EXPECT_EQ(hook.secret, "");  // read from the environment when detection starts
  EXPECT_EQ(hook.timeout, seconds(2));
  EXPECT_EQ(hook.initial_backoff, milliseconds(100));
  EXPECT_EQ(hook.max_backoff, seconds(5));
  EXPECT_EQ(hook.deadline, minutes(1));
  ASSERT_EQ(r.config->webhook_secrets.size(), 1u);
  EXPECT_EQ(r.config->webhook_secrets[0].env, "PL_TEST_SECRET");
  EXPECT_EQ(r.config->webhook_secrets[0].where.line, 39);
  // Relative paths start at the config file's directory.
  EXPECT_EQ(d.topics[0].subscribers[1].path, "conf/events/detection.jsonl");
  EXPECT_EQ(d.topics[0].subscribers[2].command,
            (std::vector<std::string>{"/usr/local/bin/page-oncall", "--team", "trading"}));
  EXPECT_EQ(d.alarm_evaluation_interval, milliseconds(100));

  const DnsSpec& dns = r.config->dns;
  EXPECT_EQ(dns.listen.ToString(), "127.0.3.1:5353");
  EXPECT_EQ(dns.reload_interval, milliseconds(100));
  ASSERT_EQ(dns.zones.size(), 1u);
  const dns::ZoneSpec& z = dns.zones[0];
  EXPECT_EQ(z.origin, "lab.test.");
  EXPECT_EQ(z.default_ttl, 30u);
  EXPECT_EQ(z.soa.minimum, 10u);
  ASSERT_EQ(z.rrsets.size(), 3u);
  EXPECT_EQ(z.rrsets[1].policy, dns::RoutingPolicy::kFailover);
  EXPECT_EQ(z.rrsets[1].ttl, 5u);
  ASSERT_EQ(z.rrsets[1].sets.size(), 2u);
  EXPECT_EQ(z.rrsets[1].sets[1].role, dns::FailoverRole::kSecondary);
  EXPECT_EQ(z.rrsets[1].sets[1].health_check, "west-web");
  EXPECT_EQ(z.rrsets[2].type, "A");
  EXPECT_EQ(z.rrsets[2].policy, dns::RoutingPolicy::kWeighted);
  EXPECT_EQ(z.rrsets[2].sets[1].weight, 0u);
  EXPECT_EQ(z.rrsets[2].sets[1].values, std::vector<std::string>{"127.0.2.1"});
  ASSERT_EQ(dns.publishers.size(), 1u);
  const DnsPublisherSpec& p = dns.publishers[0];
  EXPECT_EQ(p.options.server.host, "10.0.0.53");
  EXPECT_EQ(p.options.server.port, 53);
  EXPECT_EQ(p.options.zone, "trading.example.");
  EXPECT_EQ(p.options.key.name.ToString(), "pilotlight-key.");
  EXPECT_EQ(p.options.attempts, 5);
  EXPECT_EQ(p.secret_file, "conf/tsig.key");
}

TEST(LoaderTest, DetectionAndDnsDefaultWhenAbsent) {
  const LoadResult r = ParseConfig(Minimal(), "min.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  EXPECT_TRUE(r.config->detection.checks.empty());
  EXPECT_TRUE(r.config->detection.topics.empty());
  EXPECT_EQ(r.config->detection.alarm_evaluation_interval, milliseconds(200));
  EXPECT_TRUE(r.config->dns.zones.empty());
  EXPECT_EQ(r.config->dns.where.line, 0);
}

TEST(LoaderTest, WebhookSecretsComeFromTheEnvironment) {
  LoadResult r = ParseConfig(kDetectionAndDns, "lab.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  Config unset = *r.config;
  const std::vector<ConfigError> missing =
      ResolveWebhookSecrets(unset, [](const char*) -> const char* { return nullptr; });
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].ToString(),
            "lab.yaml:39:85: topics[0].subscribers[0].secret_env: expected the environment "
            "variable PL_TEST_SECRET to hold the webhook's HMAC secret (export it, or remove "
            "secret_env to send unsigned messages), found it is not set");
  Config set = *r.config;
  std::string asked;
  EXPECT_TRUE(ResolveWebhookSecrets(set, [&asked](const char* name) -> const char* {
                asked = name;
                return "s3cret";
              }).empty());
  EXPECT_EQ(asked, "PL_TEST_SECRET");
  EXPECT_EQ(set.detection.topics[0].subscribers[0].secret, "s3cret");
}

TEST(LoaderTest, PublisherSecretIsReadFromItsFile) {
  char tmpl[] = "/tmp/pilotlight-config-test-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::ofstream(dir + "/lab.yaml") << kDetectionAndDns;
  const LoadResult r = LoadConfigFile(dir + "/lab.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  const DnsPublisherSpec& spec = r.config->dns.publishers[0];
  EXPECT_EQ(spec.secret_file, dir + "/tsig.key");

  Result<dns::Rfc2136Options> absent = LoadPublisherOptions(spec);
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.status().message().find(dir + "/tsig.key"), std::string::npos)
      << absent.status().ToString();
  EXPECT_NE(absent.status().message().find("lab.yaml:66"), std::string::npos)
      << absent.status().ToString();

  std::ofstream(dir + "/tsig.key") << "  c2VjcmV0LWtleS1ieXRlcw==\n";  // "secret-key-bytes"
  Result<dns::Rfc2136Options> options = LoadPublisherOptions(spec);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->key.secret, "secret-key-bytes");
  EXPECT_EQ(options->key.name.ToString(), "pilotlight-key.");
  EXPECT_EQ(options->server.host, "10.0.0.53");
  EXPECT_EQ(options->attempts, 5);

  std::ofstream(dir + "/tsig.key") << "not base64!\n";
  EXPECT_FALSE(LoadPublisherOptions(spec).ok());
  std::filesystem::remove_all(dir);
}

// The semantic validators agree with the walk on a good config, and the walk
// reports what they would find with a location: a calculated check over a
// missing child, an alarm on a missing topic and a cycle, all at once.
TEST(LoaderTest, CrossReferencesAreReportedTogether) {
  const std::string yaml = Tail(
      "health_checks:\n"                                      // 9
      "  - {name: a, type: calculated, children: [b]}\n"      // 10
      "  - {name: b, type: calculated, children: [a, zz]}\n"  // 11
      "alarms:\n"                                             // 12
      "  - {name: x, check: a, topics: [pager]}\n"            // 13
      "topics:\n"                                             // 14
      "  - {name: ops}\n");                                   // 15
  const LoadResult r = ParseConfig(yaml, "refs.yaml");
  ASSERT_EQ(r.errors.size(), 3u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].field, "health_checks[1].children[0]");  // b -> a closes a -> b -> a
  EXPECT_EQ(r.errors[0].found, "the cycle a -> b -> a");
  EXPECT_EQ(r.errors[1].field, "health_checks[1].children[1]");
  EXPECT_EQ(r.errors[1].where.line, 11);
  EXPECT_EQ(r.errors[2].field, "alarms[0].topics[0]");
  EXPECT_EQ(r.errors[2].where.line, 13);
  EXPECT_NE(r.errors[2].expected.find("(ops)"), std::string::npos) << r.errors[2].ToString();
}

// Every controller and runbooks key in use; line numbers are read off this listing.
constexpr char kControllerAndRunbooks[] = R"(platform: lab
regions:
  - name: east
    role: primary
    address: 127.0.1.1
    buckets: [{name: artifacts}]
    node_groups: [{name: web, port: 9090}]
  - name: west
    role: dr
    address: 127.0.2.1
    buckets: [{name: artifacts}]
    node_groups: [{name: web, port: 9090, production_size: 4}]
health_checks:
  - {name: east-postgres, type: postgres, region: east, must_be_writable: true}
topics:
  - name: ops
    subscribers: [{name: log, type: file, path: events.jsonl}]
dns:
  zones:
    - origin: lab.test.
      ns: [ns1]
      records:
        - {name: ns1, type: A, values: [127.0.3.1]}
        - name: api
          type: A
          failover:
            primary: {values: [127.0.1.1], health_check: east-postgres}
            secondary: {values: [127.0.2.1]}
controller:
  mode: approval
  primary_check: east-postgres
  quorum: 2
  confirm_for: 2s
  hold_down: 15m
  failed_run_backoff: 45s
  cycle_interval: 250ms
  state_dir: state/controller
  events_topic: ops
  lease: {listen: 127.0.3.1:7400, duration: 8s, safety_margin: 2s}
  leader_election: {etcd: "http://10.0.3.5:2379,http://10.0.3.6:2379", key: /pl/east/leader, ttl: 4s}
  gates:
    replica_streaming: false
    replica_lag: true
    release: {name: trader, bucket: artifacts}
    compute: false
    dns: true
  dns: {record: api, zone_file: /etc/pilotlight/zone.yaml, overrides: dns/overrides}
  compute:
    provider: exec
    exec:
      size_command: echo 1
      scale_command: scale {group} {size}
      ready_command: 'true'
      can_scale_command: ''
  scaling:
    web: {min: 1, max: 6, target_requests_per_instance: 200}
  site: witness
  probe_agents: [{site: west, listen: 127.0.2.1:7410}]
  unsafe_single_vantage: true
runbooks:
  failover:
    - {name: scale up, kind: scale, timeout: 2m, retries: 1, params: {region: west, group: web, size: production, until: answering}}
    - {name: fence, kind: fence, timeout: 30s, retries: 3, backoff: 250ms, params: {region: east}}
    - {name: promote, kind: promote, params: {region: west}}
    - {name: ready, kind: wait_healthy, params: {group: web}}
    - {name: dns, kind: dns, params: {record: api, to: secondary}}
    - {name: tell, kind: notify, params: {topic: ops, message: failed over}}
    - {name: ok, kind: approve}
  reverse:
    - {name: reverse, kind: replicate, params: {replicator: sessions, action: reverse, command: rev}}
    - {name: run, kind: exec, params: {command: /bin/true, done_check: /bin/true}}
)";

TEST(LoaderTest, LoadsControllerAndRunbooks) {
  const LoadResult r = ParseConfig(kControllerAndRunbooks, "conf/lab.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  const ControllerConfig& c = r.config->controller;
  EXPECT_TRUE(c.present);
  EXPECT_EQ(c.where.line, 30);
  EXPECT_TRUE(c.has_mode);
  EXPECT_EQ(c.mode, ControllerMode::kApproval);
  EXPECT_EQ(c.primary_check, "east-postgres");
  EXPECT_EQ(c.quorum, 2);
  EXPECT_EQ(c.site, "witness");
  ASSERT_EQ(c.probe_agents.size(), 1u);
  EXPECT_EQ(c.probe_agents[0].site, "west");
  EXPECT_EQ(c.probe_agents[0].listen.ToString(), "127.0.2.1:7410");
  EXPECT_TRUE(c.unsafe_single_vantage);
  EXPECT_EQ(c.confirm_for, seconds(2));
  EXPECT_EQ(c.hold_down, minutes(15));
  EXPECT_EQ(c.failed_run_backoff, seconds(45));
  EXPECT_EQ(c.cycle_interval, milliseconds(250));
  EXPECT_EQ(c.state_dir, "conf/state/controller");
  EXPECT_EQ(c.events_topic, "ops");
  ASSERT_TRUE(c.lease_listen.has_value());
  EXPECT_EQ(c.lease_listen->ToString(), "127.0.3.1:7400");
  EXPECT_EQ(c.lease_duration, seconds(8));
  EXPECT_EQ(c.lease_safety_margin, seconds(2));
  EXPECT_EQ(c.etcd_endpoints,
            (std::vector<std::string>{"http://10.0.3.5:2379", "http://10.0.3.6:2379"}));
  EXPECT_EQ(c.election_key, "/pl/east/leader");
  EXPECT_EQ(c.election_ttl, seconds(4));
  EXPECT_FALSE(c.gate_replica_streaming);
  EXPECT_TRUE(c.gate_replica_lag);
  EXPECT_TRUE(c.gate_release);
  EXPECT_EQ(c.release_name, "trader");
  EXPECT_EQ(c.release_bucket, "artifacts");
  EXPECT_FALSE(c.gate_compute);
  EXPECT_TRUE(c.gate_dns);
  EXPECT_EQ(c.dns_record, "api");
  EXPECT_EQ(c.zone_file, "/etc/pilotlight/zone.yaml");
  EXPECT_EQ(c.overrides_file, "conf/dns/overrides");
  EXPECT_EQ(c.compute_provider, "exec");
  EXPECT_EQ(c.exec.size_command, "echo 1");
  EXPECT_EQ(c.exec.scale_command, "scale {group} {size}");
  EXPECT_EQ(c.exec.ready_command, "true");
  EXPECT_EQ(c.exec.can_scale_command, "");
  ASSERT_EQ(c.scaling.size(), 1u);
  EXPECT_EQ(c.scaling[0].group, "web");
  EXPECT_EQ(c.scaling[0].min, 1);
  EXPECT_EQ(c.scaling[0].max, 6);
  EXPECT_EQ(c.scaling[0].target_requests_per_instance, 200);
  EXPECT_EQ(c.scaling[0].scale_down_stabilization, std::chrono::seconds(60));  // default

  const std::vector<RunbookConfig>& rbs = r.config->runbooks;
  ASSERT_EQ(rbs.size(), 2u);
  const RunbookConfig* f = r.config->FindRunbook("failover");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->where.line, 61);
  ASSERT_EQ(f->steps.size(), 7u);
  const RunbookStepConfig& scale = f->steps[0];
  EXPECT_EQ(scale.name, "scale up");
  EXPECT_EQ(scale.kind, "scale");
  EXPECT_EQ(scale.timeout, minutes(2));
  EXPECT_EQ(scale.retries, 1);
  EXPECT_EQ(scale.backoff, milliseconds(500));  // the default
  const std::vector<std::pair<std::string, std::string>> scale_params = {
      {"region", "west"}, {"group", "web"}, {"size", "production"}, {"until", "answering"}};
  EXPECT_EQ(scale.params, scale_params);
  EXPECT_EQ(scale.where.line, 62);
  EXPECT_EQ(f->steps[1].retries, 3);
  EXPECT_EQ(f->steps[1].backoff, milliseconds(250));
  EXPECT_EQ(f->steps[2].timeout, seconds(60));  // the default
  EXPECT_EQ(f->steps[2].retries, 2);            // the default
  EXPECT_EQ(f->steps[5].kind, "notify");
  EXPECT_EQ(f->steps[6].kind, "approve");
  EXPECT_TRUE(f->steps[6].params.empty());
  const RunbookConfig* rev = r.config->FindRunbook("reverse");
  ASSERT_NE(rev, nullptr);
  ASSERT_EQ(rev->steps.size(), 2u);
  EXPECT_EQ(rev->steps[0].kind, "replicate");
  EXPECT_EQ(rev->steps[1].params.size(), 2u);
}

// Safety rule 3 in the file: the primary check needs two sites outside the
// primary region, and a quorum of 1 is refused, unless the operator says so.
TEST(LoaderTest, PrimaryCheckNeedsTwoIndependentSites) {
  // Lines 10-15: the check; its vantages on line 15.
  auto with = [](const std::string& vantages, const std::string& controller) {
    return Tail("health_checks:\n  - name: east-postgres\n    type: postgres\n"
                "    region: east\n    interval: 500ms\n    timeout: 400ms\n"
                "    vantages: " + vantages + "\ncontroller:\n" + controller);
  };
  struct Case {
    const char* name;
    std::string text;
    const char* error;  // nullptr: valid
  };
  const Case cases[] = {
      {"witness and DR", with("[{name: w, site: witness}, {name: dr, site: west}]",
                              "  probe_agents: [{site: west, listen: 127.0.2.1:7410}]\n"),
       nullptr},
      {"no sites at all: the controller's site and DR's agent", with("[{name: a}, {name: b}]",
                                                                     "  mode: automatic\n"),
       nullptr},
      {"one site only",
       with("[{name: a, site: witness}, {name: b, site: witness}]", "  mode: automatic\n"),
       "m.yaml:15:15: health_checks[0].vantages: expected the primary check 'east-postgres' "
       "probed from at least two sites outside the primary region"},
      {"the primary region's own view does not count",
       with("[{name: w, site: witness}, {name: self, site: east}]", "  mode: automatic\n"),
       "found 1 site (witness)"},
      {"an unsited vantage point is the controller's site",
       with("[{name: w}, {name: w2, site: witness}]", "  site: witness\n"),
       "found 1 site (witness)"},
      {"quorum 1", with("[{name: a}]", "  quorum: 1\n"),
       "m.yaml:17:11: controller.quorum: expected 0 (a majority of the sites outside the primary "
       "region) or at least 2"},
      {"the operator accepts one site",
       with("[{name: a, site: witness}]", "  quorum: 1\n  unsafe_single_vantage: true\n"),
       nullptr},
  };
  for (const Case& c : cases) {
    const LoadResult r = ParseConfig(c.text, "m.yaml");
    if (c.error == nullptr) {
      EXPECT_TRUE(r.ok()) << c.name << ": " << AllErrors(r);
      continue;
    }
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_NE(AllErrors(r).find(c.error), std::string::npos) << c.name << ": " << AllErrors(r);
    EXPECT_NE(AllErrors(r).find("unsafe_single_vantage: true"), std::string::npos) << c.name;
  }
}

TEST(LoaderTest, ControllerAndRunbooksDefaultWhenAbsent) {
  const LoadResult r = ParseConfig(Minimal(), "m.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  EXPECT_FALSE(r.config->controller.present);
  EXPECT_FALSE(r.config->controller.has_mode);
  EXPECT_FALSE(r.config->controller.lease_listen.has_value());
  EXPECT_TRUE(r.config->controller.gate_release);
  EXPECT_EQ(r.config->controller.compute_provider, "lab");
  EXPECT_TRUE(r.config->runbooks.empty());
  // Votes come from the controller's site and a probe agent in DR by default.
  EXPECT_EQ(r.config->ControllerSite(), "witness");
  const std::vector<ProbeAgentConfig> agents = r.config->ProbeAgents();
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_EQ(agents[0].site, r.config->Dr().name);
  EXPECT_EQ(agents[0].listen.address, r.config->Dr().address);
  EXPECT_EQ(agents[0].listen.port, kDefaultProbeAgentPort);
}

// The built-in events topic and the regions' default of each kind need no definition.
TEST(LoaderTest, RunbookStepsMayLeaveDefaultsOut) {
  const LoadResult r =
      ParseConfig(Rb("    - {name: a, kind: fence}\n    - {name: b, kind: promote}\n"
                     "    - {name: c, kind: notify, params: {topic: controller}}\n"
                     "    - {name: d, kind: dns}\n    - {name: e, kind: approve, params: {}}\n"),
                  "d.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  ASSERT_EQ(r.config->runbooks.size(), 1u);
  EXPECT_EQ(r.config->runbooks[0].steps.size(), 5u);
}

// A failback runbook written out with every failback step kind.
TEST(LoaderTest, FailbackStepKindsLoad) {
  const LoadResult r = ParseConfig(
      Tail("runbooks:\n  failback:\n"
           "    - {name: a, kind: rejoin, params: {region: east, from: west}}\n"
           "    - {name: b, kind: sync_objects, params: {from: west, to: east}}\n"
           "    - {name: c, kind: validate_standby, params: {region: east}}\n"
           "    - {name: d, kind: switchover, params: {from: west, to: east}}\n"
           "    - {name: e, kind: dns_shift, params: {steps: '25,50,100', pause: 30s}}\n"),
      "f.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  ASSERT_EQ(r.config->runbooks.size(), 1u);
  ASSERT_EQ(r.config->runbooks[0].steps.size(), 5u);
  EXPECT_EQ(r.config->runbooks[0].steps[4].kind, "dns_shift");
  const auto& params = r.config->runbooks[0].steps[4].params;
  ASSERT_FALSE(params.empty());
  EXPECT_EQ(params[0], (std::pair<std::string, std::string>("steps", "25,50,100")));
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
      // The controller's policy and its runbooks.
      {"unknown controller mode", Ctl("  mode: manual\n"), "controller.mode", 10, 9,
       "automatic, approval, observe-only"},
      {"misspelt controller key", Ctl("  hold_dwon: 1m\n"), "controller.hold_dwon", 10, 3,
       "did you mean 'hold_down'?"},
      {"primary check unknown",
       Checks(std::string(kTcpCheck) + "controller:\n  primary_check: b\n"),
       "controller.primary_check", 15, 18, "a check defined under health_checks (a)"},
      {"events topic unknown", Ctl("  events_topic: pager\n"), "controller.events_topic", 10, 17,
       "'pager'"},
      {"lease listen not host:port", Ctl("  lease:\n    listen: localhost\n"),
       "controller.lease.listen", 11, 13, "HOST:PORT"},
      {"leader election without etcd", Ctl("  leader_election: {ttl: 5s}\n"),
       "controller.leader_election.etcd", 10, 20, "etcd endpoints"},
      {"leader election etcd over https", Ctl("  leader_election: {etcd: https://a:2379}\n"),
       "controller.leader_election.etcd", 10, 27, "no TLS"},
      {"leader election etcd without port", Ctl("  leader_election: {etcd: 'http://a:2379,http://b'}\n"),
       "controller.leader_election.etcd", 10, 27, "http://HOST:PORT"},
      {"leader election key not absolute", Ctl("  leader_election: {etcd: http://a:2379, key: leader}\n"),
       "controller.leader_election.key", 10, 47, "starting with /"},
      {"leader election ttl under 2s", Ctl("  leader_election: {etcd: http://a:2379, ttl: 1s}\n"),
       "controller.leader_election.ttl", 10, 47, "from 2s to 1h"},
      {"leader election ttl not whole seconds",
       Ctl("  leader_election: {etcd: http://a:2379, ttl: 2500ms}\n"),
       "controller.leader_election.ttl", 10, 47, "whole seconds"},
      {"lease margin over duration", Ctl("  lease: {duration: 2s, safety_margin: 3s}\n"),
       "controller.lease.safety_margin", 10, 40, "shorter than the lease duration"},
      {"release gate bucket absent", Ctl("  gates: {release: {name: trader, bucket: artifacts}}\n"),
       "controller.gates.release.bucket", 10, 43, "has no bucket 'artifacts'"},
      {"gate not a bool", Ctl("  gates: {dns: maybe}\n"), "controller.gates.dns", 10, 16,
       "true or false"},
      {"controller dns record unknown", Zone("controller:\n  dns: {record: www}\n"),
       "controller.dns.record", 16, 17, "a record of the zones"},
      {"exec provider without commands", Ctl("  compute: {provider: exec}\n"),
       "controller.compute.exec", 10, 12, "no 'exec' key"},
      {"scaling unknown group", Ctl("  scaling:\n    web: {min: 1, max: 2}\n"),
       "controller.scaling.web", 11, 5, "a node group of some region"},
      {"unknown step kind", Rb("    - {name: s, kind: scael}\n"), "runbooks.failover[0].kind", 11,
       23, "did you mean 'scale'?"},
      {"scale step names an unknown group",
       Rb("    - {name: s, kind: scale, params: {group: web}}\n"),
       "runbooks.failover[0].params.group", 11, 46, "a node group of region west"},
      {"scale step without group", Rb("    - {name: s, kind: scale, params: {size: 3}}\n"),
       "runbooks.failover[0].params.group", 11, 38, "no 'group' parameter"},
      {"promote step names an unknown region",
       Rb("    - {name: s, kind: promote, params: {region: north}}\n"),
       "runbooks.failover[0].params.region", 11, 49, "a region name (east, west)"},
      {"dns step names an unknown record",
       Zone("runbooks:\n  failover:\n    - {name: s, kind: dns, params: {record: www, to: "
            "secondary}}\n"),
       "runbooks.failover[0].params.record", 17, 45, "a record of the zones under dns.zones (ns1)"},
      {"dns step with a bad target", Rb("    - {name: s, kind: dns, params: {to: sideways}}\n"),
       "runbooks.failover[0].params.to", 11, 41, "weights:ID=N"},
      {"notify step names an unknown topic",
       Rb("    - {name: s, kind: notify, params: {topic: pager}}\n"),
       "runbooks.failover[0].params.topic", 11, 47, "a topic defined under topics"},
      {"notify names the built-in topic after a rename",
       Tail("topics:\n  - {name: ops, subscribers: []}\ncontroller: {events_topic: "
            "ops}\nrunbooks:\n  failover:\n    - {name: s, kind: notify, params: {topic: "
            "controller}}\n"),
       "runbooks.failover[0].params.topic", 14, 47, "'controller'"},
      {"step timeout without unit", Rb("    - {name: s, kind: fence, timeout: 5}\n"),
       "runbooks.failover[0].timeout", 11, 39, "needs a unit"},
      {"negative step retries", Rb("    - {name: s, kind: fence, retries: -1}\n"),
       "runbooks.failover[0].retries", 11, 39, "an integer 0-100"},
      {"duplicate step names", Rb("    - {name: s, kind: fence}\n    - {name: s, kind: promote}\n"),
       "runbooks.failover[1].name", 12, 14, "a step name used once"},
      {"misspelt step parameter", Rb("    - {name: s, kind: fence, params: {regoin: west}}\n"),
       "runbooks.failover[0].params.regoin", 11, 39, "did you mean 'region'?"},
      {"exec step without command",
       Rb("    - {name: s, kind: exec, params: {done_check: 'true'}}\n"),
       "runbooks.failover[0].params.command", 11, 37, "no 'command' parameter"},
      {"replicate step with a bad action",
       Rb("    - {name: s, kind: replicate, params: {action: flip, command: x}}\n"),
       "runbooks.failover[0].params.action", 11, 51, "reverse, pause or resume"},
      {"switchover names an unknown region",
       Rb("    - {name: s, kind: switchover, params: {from: west, to: south}}\n"),
       "runbooks.failover[0].params.to", 11, 60, "a region name (east, west)"},
      {"dns_shift steps that do not end at 100",
       Rb("    - {name: s, kind: dns_shift, params: {steps: '25,50'}}\n"),
       "runbooks.failover[0].params.steps", 11, 50, "ending at 100"},
      {"dns_shift steps that fall",
       Rb("    - {name: s, kind: dns_shift, params: {steps: '50,25,100'}}\n"),
       "runbooks.failover[0].params.steps", 11, 50, "rising percentages"},
      {"rejoin with a misspelt parameter",
       Rb("    - {name: s, kind: rejoin, params: {form: east}}\n"),
       "runbooks.failover[0].params.form", 11, 40, "did you mean 'from'?"},
      {"step parameter is a sequence",
       Rb("    - {name: s, kind: fence, params: {region: [west]}}\n"),
       "runbooks.failover[0].params.region", 11, 47, "a sequence"},
      {"approve step with params", Rb("    - {name: s, kind: approve, params: {by: ops}}\n"),
       "runbooks.failover[0].params", 11, 40, "takes none"},
      {"empty runbook", Tail("runbooks:\n  failover: []\n"), "runbooks.failover", 10, 13,
       "a non-empty sequence of steps"},
      {"runbooks is a sequence", Tail("runbooks:\n  - name: x\n"), "runbooks", 10, 3,
       "a mapping from runbook names"},

      {"dns section as scalar", Tail("dns: example.com\n"), "dns", 9, 6, "'example.com'"},
      // Health checks.
      {"unknown check type",
       Checks("  - name: a\n    type: htp\n    host: 127.0.0.1\n    port: 80\n"),
       "health_checks[0].type", 11, 11, "did you mean 'http'?"},
      {"interval below 100ms", Checks(kTcpCheck + std::string("    interval: 50ms\n")),
       "health_checks[0].interval", 14, 15, "from 100ms to 1h"},
      {"timeout above interval",
       Checks(kTcpCheck + std::string("    interval: 500ms\n    timeout: 1s\n")),
       "health_checks[0].timeout", 15, 14, "at most the interval (500ms)"},
      {"connect timeout above timeout",
       Checks(kTcpCheck + std::string("    timeout: 300ms\n    connect_timeout: 400ms\n")),
       "health_checks[0].connect_timeout", 15, 22, "at most the timeout (300ms)"},
      {"key of another check type", Checks(kTcpCheck + std::string("    path: /healthz\n")),
       "health_checks[0].path", 14, 5, "does not apply to a tcp check"},
      {"check without target", Checks("  - name: a\n    type: tcp\n    port: 80\n"),
       "health_checks[0].host", 10, 5, "neither host nor region"},
      {"tcp check without port", Checks("  - name: a\n    type: tcp\n    host: 127.0.0.1\n"),
       "health_checks[0].port", 10, 5, "a tcp check has no default port"},
      {"check names an unknown region",
       Checks("  - name: a\n    type: postgres\n    region: east2\n"), "health_checks[0].region",
       12, 13, "did you mean 'east'?"},
      {"bad check name", Checks("  - name: Primary DB\n    type: tcp\n    host: x\n    port: 1\n"),
       "health_checks[0].name", 10, 11, "[a-z][a-z0-9_.-]{0,62}"},
      {"host is no host",
       Checks("  - name: a\n    type: tcp\n    host: 127.0.1.300\n    port: 1\n"),
       "health_checks[0].host", 12, 11, "'127.0.1.300'"},
      {"duplicate check name", Checks(std::string(kTcpCheck) + kTcpCheck), "health_checks[1].name",
       14, 11, "a check name used once (health_checks[0] at line 10"},
      {"unhealthy quorum above vantages",
       Checks(kTcpCheck + std::string("    vantages: [{name: a}, {name: b}]\n"
                                      "    unhealthy_quorum: 3\n")),
       "health_checks[0].unhealthy_quorum", 15, 23, "an integer 1-2"},
      {"duplicate vantage point",
       Checks(kTcpCheck + std::string("    vantages: [{name: dr}, {name: dr}]\n")),
       "health_checks[0].vantages[1].name", 14, 35, "a vantage point name used once"},
      {"bad status range",
       Checks("  - name: a\n    type: http\n    host: 127.0.0.1\n    status: 399-200\n"),
       "health_checks[0].status", 13, 13, "within 100-599"},
      {"dns check without query", Checks("  - name: a\n    type: dns\n    host: 127.0.0.1\n"),
       "health_checks[0].query", 10, 5, "no 'query' key"},
      {"unknown child",
       Checks(kTcpCheck + std::string("  - name: b\n    type: calculated\n    children: [a, c]\n")),
       "health_checks[1].children[1]", 16, 19, "a check defined under health_checks (a, b)"},
      {"cyclic children",
       Checks(kTcpCheck + std::string("  - name: b\n    type: calculated\n    children: [c]\n"
                                      "  - name: c\n    type: calculated\n    children: [b, a]\n")),
       "health_checks[2].children[0]", 19, 16, "the cycle b -> c -> b"},
      {"min healthy above children",
       Checks(kTcpCheck + std::string("  - name: b\n    type: calculated\n    children: [a]\n"
                                      "    min_healthy: 2\n")),
       "health_checks[1].min_healthy", 17, 18, "an integer 0-1"},
      {"check publishes to an unknown topic",
       Checks(kTcpCheck + std::string("    topics: [ops]\n")), "health_checks[0].topics[0]", 14, 14,
       "(none is defined)"},
      // Alarms.
      {"alarm on an unknown topic",
       Tail("alarms:\n  - name: x\n    metric: up\n    topics: [ops]\n"), "alarms[0].topics[0]", 12,
       14, "a topic defined under topics"},
      {"alarm on an unknown check", Tail("alarms:\n  - {name: x, check: ghost}\n"),
       "alarms[0].check", 10, 22, "a check defined under health_checks"},
      {"alarm metric names an unknown check",
       Checks(kTcpCheck + std::string("alarms:\n  - name: x\n"
                                      "    metric: 'pilotlight_check_healthy{check=\"b\"}'\n")),
       "alarms[0].metric", 16, 13, "a check defined under health_checks (a)"},
      {"bad comparison", Tail("alarms:\n  - name: x\n    metric: up\n    comparison: '=<'\n"),
       "alarms[0].comparison", 12, 17, "one of >=, >, <, <="},
      {"datapoints above evaluation periods",
       Tail("alarms:\n  - name: x\n    metric: up\n    evaluation_periods: 3\n"
            "    datapoints_to_alarm: 4\n"),
       "alarms[0].datapoints_to_alarm", 13, 26, "at most evaluation_periods (3)"},
      {"bad metric", Tail("alarms:\n  - name: x\n    metric: 'up{job=1}'\n"), "alarms[0].metric",
       11, 13, "name{label=\"value\"}"},
      {"misspelt missing-data treatment",
       Tail("alarms:\n  - name: x\n    metric: up\n    treat_missing_data: notbreaching\n"),
       "alarms[0].treat_missing_data", 12, 25, "did you mean 'notBreaching'?"},
      {"alarm without metric", Tail("alarms:\n  - name: x\n    period: 1s\n"), "alarms[0].metric",
       10, 5, "neither metric nor check"},
      {"infinite threshold", Tail("alarms:\n  - {name: x, metric: up, threshold: .inf}\n"),
       "alarms[0].threshold", 10, 38, "a finite number"},
      // Topics.
      {"webhook without url",
       Tail("topics:\n  - name: ops\n    subscribers:\n      - {name: hook, type: webhook}\n"),
       "topics[0].subscribers[0].url", 12, 9, "no 'url' key"},
      {"webhook over ftp",
       Tail("topics:\n  - name: ops\n    subscribers:\n"
            "      - {name: hook, type: webhook, url: 'ftp://x/'}\n"),
       "topics[0].subscribers[0].url", 12, 42, "an http:// or https:// URL"},
      {"ca_file on an http webhook",
       Tail("topics:\n  - name: ops\n    subscribers:\n"
            "      - {name: hook, type: webhook, url: 'http://x/', ca_file: ca.pem}\n"),
       "topics[0].subscribers[0].ca_file", 12, 64, "https"},
      {"exec command is a string",
       Tail("topics:\n  - name: ops\n    subscribers:\n"
            "      - {name: run, type: exec, command: page-oncall}\n"),
       "topics[0].subscribers[0].command", 12, 42, "a command as a non-empty sequence"},
      {"backoff max below initial",
       Tail("topics:\n  - name: ops\n    subscribers:\n      - name: log\n        type: file\n"
            "        path: e.jsonl\n        backoff: {initial: 1s, max: 100ms}\n"),
       "topics[0].subscribers[0].backoff.max", 15, 37, "at least the initial backoff (1s)"},
      {"duplicate topic", Tail("topics:\n  - name: ops\n  - name: ops\n"), "topics[1].name", 11, 11,
       "a topic name used once"},
      {"alarm evaluation too often", Tail("detection:\n  alarm_evaluation_interval: 1ms\n"),
       "detection.alarm_evaluation_interval", 10, 30, "from 10ms to 1m"},
      // DNS.
      {"bad dns record type", Zone("        - {name: api, type: AAA, values: ['::1']}\n"),
       "dns.zones[0].records[1].type", 15, 29, "did you mean 'AAAA'?"},
      {"NS record in the records", Zone("        - {name: sub, type: NS, values: [ns1]}\n"),
       "dns.zones[0].records[1].type", 15, 29, "come from the zone's ns"},
      {"failover names an unknown health check",
       Zone("        - name: api\n          type: A\n          failover:\n"
            "            primary: {values: [127.0.1.1], health_check: primary-api}\n"
            "            secondary: {values: [127.0.2.1]}\n"),
       "dns.zones[0].records[1].failover.primary.health_check", 18, 58, "(none is defined)"},
      {"failover without secondary",
       Zone("        - name: api\n          type: A\n          failover:\n"
            "            primary: {values: [127.0.1.1]}\n"),
       "dns.zones[0].records[1].failover.secondary", 18, 13, "no 'secondary' key"},
      {"A record with a bad address", Zone("        - {name: api, type: A, values: [300.1.1.1]}\n"),
       "dns.zones[0].records[1].values[0]", 15, 41, "record data of type A"},
      {"duplicate record set", Zone("        - {name: ns1, type: A, values: [127.0.3.2]}\n"),
       "dns.zones[0].records[1].name", 15, 18, "a name and type used once"},
      {"CNAME beside other data", Zone("        - {name: ns1, type: CNAME, values: [x]}\n"),
       "dns.zones[0].records[1].type", 15, 29, "no other record at a CNAME's name"},
      {"record with two forms",
       Zone("        - {name: api, type: A, values: [127.0.0.1], weighted: []}\n"),
       "dns.zones[0].records[1].weighted", 15, 53, "exactly one of values"},
      {"duplicate weighted id",
       Zone("        - name: api\n          type: A\n          weighted:\n"
            "            - {id: p, weight: 1, values: [127.0.1.1]}\n"
            "            - {id: p, weight: 1, values: [127.0.2.1]}\n"),
       "dns.zones[0].records[1].weighted[1].id", 19, 20, "a set id in the record used once"},
      {"zone without ns", Tail("dns:\n  zones:\n    - origin: lab.test.\n"), "dns.zones[0].ns", 11,
       7, "no 'ns' key"},
      {"record outside the zone",
       Zone("        - {name: api.other., type: A, values: [127.0.0.1]}\n"),
       "dns.zones[0].records[1].name", 15, 18, "a name inside the zone lab.test."},
      {"bad listen address", Tail("dns:\n  listen: 127.0.3.1\n"), "dns.listen", 10, 11,
       "ADDRESS:PORT"},
      {"dns listens on a region's port", Tail("dns:\n  listen: 127.0.1.1:5432\n"), "dns.listen", 10,
       11, "no other listener uses (regions[0].postgres.port (default) at line 3"},
      {"bad reload interval", Tail("dns:\n  reload_interval: 0\n"), "dns.reload_interval", 10, 20,
       "from 10ms to 1h"},
      {"unsupported tsig algorithm",
       Tail("dns:\n  publishers:\n    - server: 10.0.0.53\n      zone: x.test.\n"
            "      tsig: {name: k, algorithm: hmac-md5, secret_file: k.key}\n"),
       "dns.publishers[0].tsig.algorithm", 13, 34, "one of hmac-sha256"},
      {"publisher server without address",
       Tail("dns:\n  publishers:\n    - server: ns.example:53\n      zone: x.test.\n"
            "      tsig: {name: k, secret_file: k.key}\n"),
       "dns.publishers[0].server", 11, 15, "ADDRESS[:PORT]"},
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
      // The responsibility matrix (`pilotlight calendar`).
      {"misspelt frequency",
       Tail("responsibilities:\n  - {task: x, owner: y, frequency: quartely}\n"),
       "responsibilities[0].frequency", 10, 36, "did you mean 'quarterly'?"},
      {"unknown task kind",
       Tail("responsibilities:\n  - {task: x, owner: y, frequency: daily, kind: region-outag}\n"),
       "responsibilities[0].kind", 10, 49, "did you mean 'region-outage'?"},
      {"responsibility without owner",
       Tail("responsibilities:\n  - {task: x, frequency: daily}\n"),
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
      {"responsibilities is a scalar", Tail("responsibilities: quarterly\n"), "responsibilities",
       9, 19, "'quarterly'"},
      {"frequency is a sequence",
       Tail("responsibilities:\n  - {task: x, owner: y, frequency: [daily]}\n"),
       "responsibilities[0].frequency", 10, 36, "a sequence"},
  };
  return cases;
}

TEST(LoaderTest, LoadsResponsibilities) {
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

// Auto-scaling: the exec provider's requests_command and a group's
// scale_down_stabilization (lines 11-12 below).
TEST(LoaderTest, AutoscalingFields) {
  const std::string groups = East("    node_groups:\n      - {name: web, port: 8080}\n");
  const LoadResult ok = ParseConfig(
      groups +
          "controller:\n  compute:\n    exec: {requests_command: 'rps {region} {group}'}\n"
          "  scaling:\n    web: {min: 1, max: 3, scale_down_stabilization: 5s}\n",
      "lab.yaml");
  ASSERT_TRUE(ok.ok()) << AllErrors(ok);
  EXPECT_EQ(ok.config->controller.exec.requests_command, "rps {region} {group}");
  ASSERT_EQ(ok.config->controller.scaling.size(), 1u);
  EXPECT_EQ(ok.config->controller.scaling[0].scale_down_stabilization, seconds(5));

  const LoadResult bad = ParseConfig(
      groups + "controller:\n  scaling:\n    web: {min: 1, max: 3, scale_down_stabilization: 2h}\n",
      "lab.yaml");
  ASSERT_EQ(bad.errors.size(), 1u) << AllErrors(bad);
  EXPECT_EQ(bad.errors[0].field, "controller.scaling.web.scale_down_stabilization");
  EXPECT_EQ(bad.errors[0].where.line, 13);
  EXPECT_NE(bad.errors[0].expected.find("a duration from 0 to 1h"), std::string::npos);
}

TEST(LoaderTest, ReportsEachKindOfBadInputWithItsLocation) {
  ASSERT_GE(BadCases().size(), 100u);
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.name);
    const LoadResult r = ParseConfig(c.yaml, "bad.yaml");
    EXPECT_FALSE(r.ok());
    EXPECT_FALSE(r.config.has_value());
    ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
    const ConfigError& e = r.errors[0];
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

}  // namespace
}  // namespace pilotlight::config
