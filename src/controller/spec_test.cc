#include "controller/spec.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config/loader.h"
#include "dns/zonefile/zone_file.h"

namespace pilotlight::controller {
namespace {

using namespace std::chrono_literals;

constexpr char kRegions[] = R"(platform: lab
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
)";

constexpr char kSections[] = R"(health_checks:
  - {name: east-db, type: postgres, region: east, must_be_writable: true}
  - {name: west-db, type: postgres, region: west}
topics:
  - name: ops
    subscribers: [{name: log, type: file, path: /tmp/ops.jsonl}]
dns:
  zones:
    - origin: lab.test.
      ns: [ns1]
      records:
        - {name: ns1, type: A, values: [127.0.3.1]}
        - name: trade
          type: A
          ttl: 5
          failover:
            primary: {values: [127.0.1.1], health_check: east-db}
            secondary: {values: [127.0.2.1], health_check: west-db}
controller:
  mode: observe-only
  primary_check: east-db
  quorum: 2
  confirm_for: 3s
  hold_down: 20m
  failed_run_backoff: 40s
  cycle_interval: 300ms
  state_dir: /var/lib/pl/ctl
  events_topic: ops
  lease: {listen: 127.0.3.1:7400, duration: 9s, safety_margin: 2s}
  gates: {replica_streaming: false, release: false, dns: false}
  dns: {record: trade}
  compute:
    provider: exec
    exec: {size_command: a, scale_command: b, ready_command: c}
)";

constexpr char kRunbooks[] = R"(runbooks:
  failover:
    - {name: only promote, kind: promote, timeout: 5s, retries: 0, params: {region: west}}
    - {name: tell, kind: notify, params: {topic: ops, message: done}}
  drill:
    - {name: ok, kind: approve}
)";

config::Config Load(const std::string& text) {
  config::LoadResult r = config::ParseConfig(text, "/etc/pl/lab.yaml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  return r.ok() ? *r.config : config::Config{};
}

TEST(SpecTest, WithoutControllerSectionsTheSpecIsDerived) {
  const config::Config c = Load(kRegions);
  Result<ControllerSpec> s = DefaultLabSpec(c, "/tmp/lab", {});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->policy.mode, decide::Mode::kAutomatic);
  EXPECT_EQ(s->policy.quorum, 0);
  EXPECT_EQ(s->state_dir, "/tmp/lab/controller");
  ASSERT_EQ(s->checks.size(), 2u);
  EXPECT_EQ(s->checks[0].name, "east-postgres");
  // Three in-process vantage points are one site's vote; DR's probe agent adds the
  // second site, so the primary is never declared dead from one process.
  ASSERT_EQ(s->checks[0].vantages.size(), 4u);
  EXPECT_EQ(s->checks[0].vantages[0].site, "witness");
  EXPECT_EQ(s->checks[0].vantages[3].name, "west");
  EXPECT_EQ(s->checks[0].vantages[3].site, "west");
  EXPECT_EQ(s->checks[0].vantages[3].source_address, "127.0.2.1");
  EXPECT_EQ(s->site, "witness");
  ASSERT_EQ(s->probe_agents.size(), 1u);
  EXPECT_EQ(s->probe_agents[0].ToString(), "127.0.2.1:7410");
  EXPECT_FALSE(s->policy.allow_single_site);
  // Probed here: the witness's three; by the agent of west: its one.
  EXPECT_EQ(s->LocalChecks()[0].vantages.size(), 3u);
  const std::vector<health::CheckSpec> west = ChecksProbedFrom(s->checks, "west", s->site);
  ASSERT_EQ(west.size(), 1u);
  EXPECT_EQ(west[0].name, "east-postgres");
  ASSERT_EQ(west[0].vantages.size(), 1u);
  EXPECT_EQ(west[0].vantages[0].name, "west");
  EXPECT_EQ(s->primary_check, "east-postgres");
  EXPECT_EQ(s->events_topic, "controller");
  EXPECT_EQ(s->dns.record, "api");
  EXPECT_EQ(s->dns.zone_file, "/tmp/lab/dns/zone.yaml");
  EXPECT_EQ(s->lease_listen, "127.0.0.1:0");
  EXPECT_EQ(s->compute.provider, "lab");
  const runbook::RunbookSpec* f = s->FindRunbook("failover");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(s->runbooks.size(), 2u);  // failover and failback
  // The seed's: scale, fence, promote, wait, dns, notify.
  ASSERT_EQ(f->steps.size(), 6u);
  EXPECT_EQ(f->steps[0].kind, "scale");
  EXPECT_EQ(f->steps[5].kind, "notify");
}

TEST(SpecTest, VantageSitesNeedAProbeAgentEach) {
  const std::string checks = R"(health_checks:
  - name: east-db
    type: postgres
    region: east
    interval: 500ms
    timeout: 400ms
    vantages:
      - {name: witness, site: witness, source_address: 127.0.3.1}
      - {name: west, site: west, source_address: 127.0.2.1}
      - {name: third, site: elsewhere}
      - {name: self, site: east}
controller:
  primary_check: east-db
  unsafe_single_vantage: true
)";
  config::Config c = Load(std::string(kRegions) + checks);
  Result<ControllerSpec> s = DefaultLabSpec(c, "/tmp/lab", {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("vantage point 'third' of the primary check 'east-db' is "
                                      "in site 'elsewhere', which has no probe agent"),
            std::string::npos)
      << s.status().ToString();

  c.controller.probe_agents = {{"west", {"127.0.2.1", 7410}, {}},
                               {"elsewhere", {"127.0.4.1", 7410}, {}},
                               {"east", {"127.0.1.1", 7410}, {}}};
  s = DefaultLabSpec(c, "/tmp/lab", {});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->policy.allow_single_site);
  EXPECT_EQ(s->policy.max_observation_age, 2s);  // max(2 s, 3 x 500ms + 400ms)
  ASSERT_EQ(s->checks[0].vantages.size(), 4u) << "sited vantage points are taken as written";
  ASSERT_EQ(s->LocalChecks()[0].vantages.size(), 1u);
  EXPECT_EQ(s->LocalChecks()[0].vantages[0].name, "witness");
  EXPECT_EQ(ChecksProbedFrom(s->checks, "elsewhere", s->site)[0].vantages[0].name, "third");
  EXPECT_TRUE(ChecksProbedFrom(s->checks, "nowhere", s->site).empty());
  // A check probed only here keeps its own vantage quorum.
  health::CheckSpec local_only = s->checks[0];
  local_only.name = "local-only";
  local_only.vantages = {{"a", "", 0, "", ""}, {"b", "", 0, "", ""}, {"c", "", 0, "", ""}};
  local_only.unhealthy_quorum = 3;
  s->checks.push_back(local_only);
  EXPECT_EQ(s->LocalChecks().back().unhealthy_quorum, 3);
  EXPECT_EQ(s->LocalChecks().back().vantages.size(), 3u);
}

TEST(SpecTest, ControllerSectionSetsPolicyChecksDnsAndLease) {
  const config::Config c = Load(std::string(kRegions) + kSections);
  Result<ControllerSpec> s = DefaultLabSpec(c, "/tmp/lab", {});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->policy.mode, decide::Mode::kObserveOnly);
  EXPECT_EQ(s->policy.quorum, 2);
  EXPECT_EQ(s->policy.confirm_for, 3s);
  EXPECT_EQ(s->policy.hold_down, 20min);
  EXPECT_EQ(s->failed_run_backoff, 40s);
  EXPECT_EQ(s->cycle_interval, 300ms);
  EXPECT_EQ(s->state_dir, "/var/lib/pl/ctl");
  EXPECT_FALSE(s->policy.gate_replica_streaming);
  EXPECT_TRUE(s->policy.gate_replica_lag);
  EXPECT_FALSE(s->policy.gate_release);
  EXPECT_FALSE(s->policy.gate_dns);
  EXPECT_EQ(s->lease_listen, "127.0.3.1:7400");
  EXPECT_EQ(s->lease_duration, 9s);
  EXPECT_EQ(s->policy.lease_safety_margin, 2s);
  // The config's checks, not derived ones.
  ASSERT_EQ(s->checks.size(), 2u);
  EXPECT_EQ(s->checks[0].name, "east-db");
  EXPECT_EQ(s->primary_check, "east-db");
  EXPECT_EQ(s->dns.record, "trade");
  EXPECT_EQ(s->compute.provider, "exec");
  EXPECT_EQ(s->compute.exec.scale_command, "b");
  // Events go to the config's ops topic, which keeps its own subscriber.
  EXPECT_EQ(s->events_topic, "ops");
  ASSERT_EQ(s->topics.size(), 1u);
  ASSERT_EQ(s->topics[0].subscribers.size(), 2u);
  EXPECT_EQ(s->topics[0].subscribers[1].path, "/var/lib/pl/ctl/events.jsonl");
  // No runbooks section: the built-in failover, switching the configured record.
  const runbook::RunbookSpec* f = s->FindRunbook("failover");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->steps[f->steps.size() - 2].params.at("record"), "trade");
  EXPECT_EQ(f->steps.back().params.at("topic"), "ops");
}

TEST(SpecTest, RunbooksSectionReplacesTheBuiltInFailover) {
  const config::Config c = Load(std::string(kRegions) + kSections + kRunbooks);
  Result<ControllerSpec> s = DefaultLabSpec(c, "/tmp/lab", {});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->runbooks.size(), 3u);  // failover, drill and the built-in failback
  const runbook::RunbookSpec* f = s->FindRunbook("failover");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->steps.size(), 2u);
  EXPECT_EQ(f->steps[0].name, "only promote");
  EXPECT_EQ(f->steps[0].kind, "promote");
  EXPECT_EQ(f->steps[0].timeout, 5s);
  EXPECT_EQ(f->steps[0].retries, 0);
  EXPECT_EQ(f->steps[0].params.at("region"), "west");
  EXPECT_EQ(f->steps[1].params.at("message"), "done");
  ASSERT_NE(s->FindRunbook("drill"), nullptr);
}

TEST(SpecTest, DefaultFailbackRunbookReversesThenSwitchesOverThenRestoresThePilotLight) {
  const config::Config c = Load(std::string(kRegions) + kSections);
  Result<ControllerSpec> s = DefaultLabSpec(c, "/tmp/lab", {});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const runbook::RunbookSpec* f = s->FindRunbook("failback");
  ASSERT_NE(f, nullptr);
  std::vector<std::string> kinds;
  for (const runbook::StepSpec& st : f->steps) kinds.push_back(st.kind);
  const std::vector<std::string> want = {"rejoin",     "sync_objects", "validate_standby",
                                         "scale",      "switchover",   "sync_objects",
                                         "wait_healthy", "dns_shift",  "rejoin",
                                         "scale",      "notify"};
  EXPECT_EQ(kinds, want);
  EXPECT_EQ(f->steps[0].params.at("region"), "east");  // the old primary streams from DR
  EXPECT_EQ(f->steps[0].params.at("from"), "west");
  EXPECT_EQ(f->steps[3].params.at("size"), "production");
  EXPECT_EQ(f->steps[4].params.at("from"), "west");  // DR fenced, east promoted
  EXPECT_EQ(f->steps[4].params.at("to"), "east");
  EXPECT_EQ(f->steps[7].params.at("record"), "trade");
  EXPECT_EQ(f->steps[7].params.at("to"), "east");
  EXPECT_EQ(f->steps[8].params.at("region"), "west");  // DR streams from east again
  EXPECT_EQ(f->steps[9].params.at("region"), "west");
  EXPECT_EQ(f->steps[9].params.at("size"), "pilot_light");
  // Both regions hold "artifacts": one shared bucket, state in the data/rpo layout.
  ASSERT_EQ(s->shared_buckets.size(), 1u);
  EXPECT_EQ(s->shared_buckets[0].dir_by_region.at("west"), "/tmp/lab/west/buckets/artifacts");
  EXPECT_EQ(s->shared_buckets[0].state_root, "/tmp/lab/replication/objects");
}

TEST(SpecTest, RunbooksSectionReplacesTheBuiltInFailback) {
  const config::Config c = Load(std::string(kRegions) + kSections + R"(runbooks:
  failback:
    - {name: just tell, kind: notify, params: {topic: ops, message: back}}
)");
  Result<ControllerSpec> s = DefaultLabSpec(c, "/tmp/lab", {});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const runbook::RunbookSpec* f = s->FindRunbook("failback");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->steps.size(), 1u);
  EXPECT_EQ(f->steps[0].name, "just tell");
  EXPECT_EQ(s->runbooks.size(), 2u);  // the config's failback and the built-in failover
}

TEST(SpecTest, GivenFlagsOverrideTheConfig) {
  const config::Config c = Load(std::string(kRegions) + kSections);
  LabSpecOptions o;
  o.mode = decide::Mode::kAutomatic;  // the default value, but given
  o.hold_down = 1min;                 // not given: the config's holds
  o.lease_listen = "127.0.0.1:0";
  o.given = std::set<std::string>{"--mode", "--lease-listen"};
  Result<ControllerSpec> s = DefaultLabSpec(c, "/tmp/lab", o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->policy.mode, decide::Mode::kAutomatic);
  EXPECT_EQ(s->lease_listen, "127.0.0.1:0");
  EXPECT_EQ(s->policy.hold_down, 20min);
}

TEST(SpecTest, WithoutGivenFlagsAnOptionOffItsDefaultCountsAsGiven) {
  const config::Config c = Load(std::string(kRegions) + kSections);
  LabSpecOptions o;
  o.confirm_for = 250ms;              // off the default: overrides
  o.mode = decide::Mode::kAutomatic;  // the default: the config's observe-only holds
  Result<ControllerSpec> s = DefaultLabSpec(c, "/tmp/lab", o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->policy.confirm_for, 250ms);
  EXPECT_EQ(s->policy.mode, decide::Mode::kObserveOnly);
  EXPECT_EQ(s->policy.hold_down, 20min);
}

TEST(SpecTest, LabZoneIsWrittenFromTheConfigZones) {
  const config::Config c = Load(std::string(kRegions) + kSections);
  const std::string dir = ::testing::TempDir() + "spec_test_zone";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/zone.yaml";
  std::ofstream(path) << DefaultLabZone(c, "trade");
  Result<std::vector<dns::ZoneSpec>> zones = dns::LoadZoneFile(path);
  ASSERT_TRUE(zones.ok()) << zones.status().ToString() << "\n" << DefaultLabZone(c, "trade");
  ASSERT_EQ(zones->size(), 1u);
  EXPECT_EQ((*zones)[0].origin, "lab.test.");
  ASSERT_EQ((*zones)[0].rrsets.size(), 2u);
  const dns::RrsetSpec& r = (*zones)[0].rrsets[1];
  EXPECT_EQ(r.name, "trade");
  EXPECT_EQ(r.policy, dns::RoutingPolicy::kFailover);
  ASSERT_EQ(r.sets.size(), 2u);
  EXPECT_EQ(r.sets[1].values, std::vector<std::string>{"127.0.2.1"});
  EXPECT_EQ(r.sets[1].health_check, "west-db");
  std::filesystem::remove_all(dir);
}

TEST(SpecTest, PrimaryCheckMustBeAmongTheChecks) {
  config::Config c = Load(kRegions);
  c.controller.primary_check = "nope";
  Result<ControllerSpec> s = DefaultLabSpec(c, "/tmp/lab", {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("'nope'"), std::string::npos);
}

}  // namespace
}  // namespace pilotlight::controller
