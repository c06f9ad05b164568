#include "controller/spec.h"

#include <filesystem>

namespace pilotlight::controller {

using namespace std::chrono_literals;

const runbook::RunbookSpec* ControllerSpec::FindRunbook(const std::string& name) const {
  for (const runbook::RunbookSpec& r : runbooks) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const compute::NodeGroupSpec* ControllerSpec::FindNodeGroup(const std::string& region,
                                                            const std::string& group) const {
  for (const compute::NodeGroupSpec& g : node_groups) {
    if (g.region == region && g.name == group) return &g;
  }
  return nullptr;
}

runbook::RunbookSpec DefaultFailoverRunbook(const config::Config& config,
                                            const std::string& dns_record,
                                            const std::string& events_topic) {
  const config::RegionSpec& primary = config.Primary();
  const config::RegionSpec& dr = config.Dr();
  runbook::RunbookSpec r;
  r.name = "failover";
  for (const config::NodeGroupSpec& g : dr.node_groups) {
    r.steps.push_back({"scale up DR " + g.name + " to production size (" +
                           std::to_string(g.production_size) + ")",
                       "scale",
                       {{"region", dr.name}, {"group", g.name}, {"size", "production"},
                        {"until", "answering"}},
                       120s, 1, 1s});
  }
  r.steps.push_back({"fence the old primary database (" + primary.name + ")",
                     "fence",
                     {{"region", primary.name}},
                     30s, 2, 500ms});
  r.steps.push_back({"promote the DR replica (" + dr.name + ")", "promote",
                     {{"region", dr.name}}, 60s, 2, 1s});
  for (const config::NodeGroupSpec& g : dr.node_groups) {
    r.steps.push_back({"wait until DR " + g.name + " is ready", "wait_healthy",
                       {{"region", dr.name}, {"group", g.name}}, 60s, 1, 1s});
  }
  r.steps.push_back({"point DNS " + dns_record + " at DR", "dns",
                     {{"record", dns_record}, {"to", "secondary"}}, 15s, 2, 500ms});
  r.steps.push_back({"notify: failed over to " + dr.name, "notify",
                     {{"topic", events_topic},
                      {"message", "failed over from " + primary.name + " to " + dr.name}},
                     15s, 1, 500ms});
  return r;
}

std::string DefaultLabZone(const config::Config& config, const std::string& record) {
  const std::string origin = config.platform.empty() ? "pilotlight.test." : config.platform + ".test.";
  return "# Written by the pilotlight controller for the lab: " + record +
         " fails over from the primary region to DR.\n"
         "zones:\n"
         "  - origin: " + origin + "\n"
         "    ttl: 30\n"
         "    ns: [ns1]\n"
         "    records:\n"
         "      - {name: ns1, type: A, values: [127.0.0.1]}\n"
         "      - name: " + record + "\n"
         "        type: A\n"
         "        ttl: 5\n"
         "        failover:\n"
         "          primary: {values: [" + config.Primary().address + "], health_check: " +
         config.Primary().name + "-postgres}\n"
         "          secondary: {values: [" + config.Dr().address + "], health_check: " +
         config.Dr().name + "-postgres}\n";
}

Result<ControllerSpec> DefaultLabSpec(const config::Config& config, const std::string& lab_dir,
                                      const LabSpecOptions& o) {
  if (config.regions.size() != 2) {
    return Status::InvalidArgument(config.file + ": the controller needs exactly one primary and "
                                   "one DR region");
  }
  if (o.vantages < 1 || o.probe_interval < health::kMinInterval) {
    return Status::InvalidArgument("need at least one vantage point and a probe interval of at "
                                   "least 100ms");
  }
  const config::RegionSpec& primary = config.Primary();
  const config::RegionSpec& dr = config.Dr();
  ControllerSpec s;
  s.platform = config.platform;
  s.state_dir = lab_dir + "/controller";
  s.policy.mode = o.mode;
  s.policy.confirm_for = o.confirm_for;
  s.policy.hold_down = o.hold_down;
  s.policy.max_lag_on_failover = config.replication.max_lag_on_failover;
  s.primary_region = primary.name;
  s.dr_region = dr.name;
  s.standby_name = dr.name;
  auto db = [](const config::RegionSpec& r) {
    pg::Endpoint e;
    e.host = r.address;
    e.port = r.postgres.port;
    e.database = r.postgres.database;
    e.connect_timeout = 1s;
    return e;
  };
  s.primary_db = db(primary);
  s.dr_db = db(dr);

  notify::TopicSpec topic{s.events_topic, {}};
  notify::SubscriberSpec file;
  file.name = "events-file";
  file.kind = notify::SubscriberKind::kFile;
  file.path = s.EventsPath();
  topic.subscribers.push_back(file);
  if (!o.webhook.empty()) {
    notify::SubscriberSpec hook;
    hook.name = "webhook";
    hook.kind = notify::SubscriberKind::kWebhook;
    hook.url = o.webhook;
    topic.subscribers.push_back(hook);
  }
  s.topics.push_back(topic);

  for (const config::RegionSpec* r : {&primary, &dr}) {
    health::CheckSpec c;
    c.name = r->name + "-postgres";
    c.kind = health::ProbeKind::kPostgres;
    c.host = r->address;
    c.port = r->postgres.port;
    c.pg_database = r->postgres.database;
    c.must_be_writable = r == &primary;
    c.interval = o.probe_interval;
    c.timeout = o.probe_interval * 8 / 10;
    c.connect_timeout = c.timeout;
    c.failure_threshold = o.failure_threshold;
    c.success_threshold = o.success_threshold;
    for (int v = 1; v <= o.vantages && o.vantages > 1; ++v) {
      c.vantages.push_back({"vantage-" + std::to_string(v), "", 0, ""});
    }
    s.checks.push_back(c);
  }
  s.primary_check = primary.name + "-postgres";

  s.dns.zone_file = lab_dir + "/dns/zone.yaml";
  s.dns.overrides_file = lab_dir + "/dns/overrides";
  s.dns.record = "api";
  s.node_groups = compute::NodeGroupsOf(config);

  auto bucket = [&](const config::RegionSpec& r, const std::string& name) -> std::string {
    for (const config::BucketSpec& b : r.buckets) {
      if (b.name == name) return b.path.empty() ? lab_dir + "/" + r.name + "/buckets/" + name : b.path;
    }
    return "";
  };
  s.release.primary_bucket = bucket(primary, "artifacts");
  s.release.dr_bucket = bucket(dr, "artifacts");
  // The release gate is on when both regions have an artifacts bucket and the
  // primary's deployer recorded what it runs (releases.h layout); otherwise there
  // is nothing DR could be checked against.
  if (!s.release.primary_bucket.empty() && !s.release.dr_bucket.empty() &&
      std::filesystem::exists(s.release.primary_bucket + "/.pilotlight/running/trader")) {
    s.release.name = "trader";
  } else {
    s.policy.gate_release = false;  // nothing to check: no artifacts bucket in both regions
  }
  if (dr.node_groups.empty()) s.policy.gate_compute = false;

  s.runbooks.push_back(DefaultFailoverRunbook(config, s.dns.record, s.events_topic));
  s.lease_listen = o.lease_listen;
  s.lease_duration = o.lease_duration;
  s.policy.lease_safety_margin = std::max<Duration>(500ms, o.lease_duration / 6);
  return s;
}

}  // namespace pilotlight::controller
