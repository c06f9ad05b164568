// The controller section: mode, timing, lease, leader election, gates, DNS,
// compute and scaling.
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

TEST(ControllerSchemaTest, LoadsControllerAndRunbooks) {
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
TEST(ControllerSchemaTest, PrimaryCheckNeedsTwoIndependentSites) {
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

TEST(ControllerSchemaTest, ControllerAndRunbooksDefaultWhenAbsent) {
  const LoadResult r = ParseConfig(Minimal(), "m.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  EXPECT_FALSE(r.config->controller.present);
  EXPECT_FALSE(r.config->controller.has_mode);
  EXPECT_FALSE(r.config->controller.lease_listen.has_value());
  EXPECT_TRUE(r.config->controller.gate_release);
  EXPECT_EQ(r.config->controller.compute_provider, "lab");
  // Votes come from the controller's site and a probe agent in DR by default.
  EXPECT_EQ(r.config->ControllerSite(), "witness");
  const std::vector<ProbeAgentConfig> agents = r.config->ProbeAgents();
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_EQ(agents[0].site, r.config->Dr().name);
  EXPECT_EQ(agents[0].listen.address, r.config->Dr().address);
  EXPECT_EQ(agents[0].listen.port, kDefaultProbeAgentPort);
  EXPECT_TRUE(r.config->runbooks.empty());
}

// Auto-scaling: the exec provider's requests_command and a group's
// scale_down_stabilization (lines 11-12 below).
TEST(ControllerSchemaTest, AutoscalingFields) {
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

// Each row holds exactly one mistake and must yield exactly one error.
const std::vector<BadCase>& BadCases() {
  static const std::vector<BadCase> cases = {
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
      {"etcd user without a password file",
       Ctl("  leader_election: {etcd: http://a:2379, user: pilotlight}\n"),
       "controller.leader_election", 10, 20, "user and password_file together"},
      {"etcd password given inline", Ctl("  leader_election: {etcd: http://a:2379, password: x}\n"),
       "controller.leader_election.password", 10, 42, "password_file"},
      {"leader election etcd over https", Ctl("  leader_election: {etcd: https://a:2379}\n"),
       "controller.leader_election.etcd", 10, 27, "no TLS"},
      {"leader election etcd without port",
       Ctl("  leader_election: {etcd: 'http://a:2379,http://b'}\n"),
       "controller.leader_election.etcd", 10, 27, "http://HOST:PORT"},
      {"leader election key not absolute",
       Ctl("  leader_election: {etcd: http://a:2379, key: leader}\n"),
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
  };
  return cases;
}

TEST(ControllerSchemaTest, ReportsEachKindOfBadInputWithItsLocation) {
  ASSERT_GE(BadCases().size(), 15u);
  ExpectOneErrorEach(BadCases());
}

}  // namespace
}  // namespace pilotlight::config
