// Detection: health checks, alarms, topics and their cross-references.
#include <gtest/gtest.h>

#include <map>
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

TEST(DetectionSchemaTest, LoadsDetectionAndDns) {
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

TEST(DetectionSchemaTest, DetectionAndDnsDefaultWhenAbsent) {
  const LoadResult r = ParseConfig(Minimal(), "min.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  EXPECT_TRUE(r.config->detection.checks.empty());
  EXPECT_TRUE(r.config->detection.topics.empty());
  EXPECT_EQ(r.config->detection.alarm_evaluation_interval, milliseconds(200));
  EXPECT_TRUE(r.config->dns.zones.empty());
  EXPECT_EQ(r.config->dns.where.line, 0);
}

TEST(DetectionSchemaTest, WebhookSecretsComeFromTheEnvironment) {
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

// The semantic validators agree with the walk on a good config, and the walk
// reports what they would find with a location: a calculated check over a
// missing child, an alarm on a missing topic and a cycle, all at once.
TEST(DetectionSchemaTest, CrossReferencesAreReportedTogether) {
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

// Each row holds exactly one mistake and must yield exactly one error.
const std::vector<BadCase>& BadCases() {
  static const std::vector<BadCase> cases = {
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
  };
  return cases;
}

TEST(DetectionSchemaTest, ReportsEachKindOfBadInputWithItsLocation) {
  ASSERT_GE(BadCases().size(), 30u);
  ExpectOneErrorEach(BadCases());
}

}  // namespace
}  // namespace pilotlight::config
