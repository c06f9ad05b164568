// Shared by the config loader's tests (one test file per section of the schema,
// as the schema is split): the minimal config the rows edit, the full example
// configs, and the check that each bad row yields exactly its one error.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"

namespace pilotlight::config::loader_test {

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
inline constexpr char kHead[] = "platform: lab\nregions:\n";
inline constexpr char kEast[] = "  - name: east\n    role: primary\n    address: 127.0.1.1\n";
inline constexpr char kWest[] = "  - name: west\n    role: dr\n    address: 127.0.2.1\n";

inline std::string Minimal() { return std::string(kHead) + kEast + kWest; }
// `lines` are added to the east region: its first line is line 6.
inline std::string East(const std::string& lines) {
  return std::string(kHead) + kEast + lines + kWest;
}
// `lines` follow the regions: its first line is line 9.
inline std::string Tail(const std::string& lines) { return Minimal() + lines; }

// `lines` are the health checks: their first line is line 10.
inline std::string Checks(const std::string& lines) { return Tail("health_checks:\n" + lines); }
// A valid TCP check named a, lines 10-13; a row's extra keys start at line 14.
inline constexpr char kTcpCheck[] =
    "  - name: a\n    type: tcp\n    host: 127.0.0.1\n    port: 80\n";
// `records` follow a zone whose first record is line 14; they start at line 15.
inline std::string Zone(const std::string& records) {
  return Tail(
      "dns:\n  zones:\n    - origin: lab.test.\n      ns: [ns1]\n      records:\n"
      "        - {name: ns1, type: A, values: [127.0.3.1]}\n" +
      records);
}

// `lines` are the controller section: its first line is line 10.
inline std::string Ctl(const std::string& lines) { return Tail("controller:\n" + lines); }
// `lines` are the steps of runbooks.failover: the first one is line 11.
inline std::string Rb(const std::string& lines) { return Tail("runbooks:\n  failover:\n" + lines); }

inline std::string AllErrors(const LoadResult& r) {
  std::string out;
  for (const ConfigError& e : r.errors) out += "\n  " + e.ToString();
  return out;
}

// A copy of examples/lab.yaml, so the test documents the shape of a full config.
inline constexpr char kLabConfig[] = R"(platform: trading-lab
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

// Every detection and DNS key in use; line numbers are read off this listing.
inline constexpr char kDetectionAndDns[] = R"(platform: lab
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

struct BadCase {
  const char* name;
  std::string yaml;
  std::string field;  // "" for errors about the whole document
  int line;
  int column;
  std::string mentions;  // a substring of expected or found
};

// Each row holds exactly one mistake and must yield exactly one error, at its
// field, line and column, mentioning `mentions`.
inline void ExpectOneErrorEach(const std::vector<BadCase>& cases) {
  for (const BadCase& c : cases) {
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

}  // namespace pilotlight::config::loader_test
