#include "controller/spec.h"

#include <algorithm>
#include <filesystem>

#include "data/postgres/region_database.h"

namespace pilotlight::controller {

using namespace std::chrono_literals;

const runbook::RunbookSpec* ControllerSpec::FindRunbook(const std::string& name) const {
  for (const runbook::RunbookSpec& r : runbooks) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::string ProbeAgentTarget::ToString() const {
  return (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" +
         std::to_string(port);
}

const ProbeAgentTarget* ControllerSpec::FindProbeAgent(const std::string& name) const {
  for (const ProbeAgentTarget& a : probe_agents) {
    if (a.site == name) return &a;
  }
  return nullptr;
}

std::vector<health::CheckSpec> ControllerSpec::LocalChecks() const {
  std::vector<health::CheckSpec> out = checks;
  for (health::CheckSpec& c : out) {
    if (c.vantages.empty()) continue;
    std::vector<health::VantageSpec> local;
    for (const health::VantageSpec& v : c.vantages) {
      if (v.site.empty() || v.site == site) local.push_back(v);
    }
    if (local.size() == c.vantages.size()) continue;
    if (local.empty()) local.push_back({"local", "", 0, "", site});
    c.vantages = std::move(local);
    c.unhealthy_quorum = 0;  // the config's counted the vantage points left out too
  }
  return out;
}

std::vector<health::CheckSpec> ChecksProbedFrom(const std::vector<health::CheckSpec>& checks,
                                                const std::string& site,
                                                const std::string& controller_site) {
  std::vector<health::CheckSpec> out;
  for (const health::CheckSpec& c : checks) {
    if (c.kind == health::ProbeKind::kCalculated) continue;
    health::CheckSpec mine = c;
    mine.vantages.clear();
    mine.topics.clear();
    mine.unhealthy_quorum = 0;
    for (const health::VantageSpec& v : health::EffectiveVantages(c)) {
      const std::string& at = v.site.empty() ? controller_site : v.site;
      if (at != site) continue;
      mine.vantages.push_back(v);
      mine.vantages.back().site = site;
    }
    if (!mine.vantages.empty()) out.push_back(std::move(mine));
  }
  return out;
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

runbook::RunbookSpec DefaultFailbackRunbook(const config::Config& config,
                                            const std::string& dns_record,
                                            const std::string& events_topic) {
  const config::RegionSpec& primary = config.Primary();
  const config::RegionSpec& dr = config.Dr();
  runbook::RunbookSpec r;
  r.name = "failback";
  // 1. Reverse replication.
  r.steps.push_back({"rejoin the " + primary.name + " PostgreSQL as a standby of " + dr.name,
                     "rejoin",
                     {{"region", primary.name}, {"from", dr.name}},
                     300s, 1, 2s});
  r.steps.push_back({"copy " + dr.name + "'s objects back to " + primary.name, "sync_objects",
                     {{"from", dr.name}, {"to", primary.name}}, 300s, 2, 1s});
  // 2. Validate the primary.
  r.steps.push_back({"wait until " + primary.name + " streams from " + dr.name +
                         " with lag under the limit",
                     "validate_standby",
                     {{"region", primary.name}, {"from", dr.name}},
                     120s, 0, 1s});
  for (const config::NodeGroupSpec& g : primary.node_groups) {
    r.steps.push_back({"scale " + primary.name + " " + g.name + " to production size (" +
                           std::to_string(g.production_size) + ")",
                       "scale",
                       {{"region", primary.name}, {"group", g.name}, {"size", "production"},
                        {"until", "answering"}},
                       120s, 1, 1s});
  }
  // 3. Planned switchover.
  r.steps.push_back({"switch writes over: fence " + dr.name + ", wait for " + primary.name +
                         " to replay its last write, promote " + primary.name,
                     "switchover",
                     {{"from", dr.name}, {"to", primary.name}},
                     120s, 1, 1s});
  r.steps.push_back({"copy the objects " + dr.name + " took until fenced", "sync_objects",
                     {{"from", dr.name}, {"to", primary.name}}, 120s, 2, 1s});
  for (const config::NodeGroupSpec& g : primary.node_groups) {
    r.steps.push_back({"wait until " + primary.name + " " + g.name + " is ready", "wait_healthy",
                       {{"region", primary.name}, {"group", g.name}}, 60s, 1, 1s});
  }
  // 4. Traffic back.
  r.steps.push_back({"shift DNS " + dns_record + " back to " + primary.name, "dns_shift",
                     {{"record", dns_record}, {"to", primary.name}, {"steps", "25,50,100"},
                      {"pause", "2s"}},
                     60s, 1, 500ms});
  // 5. Pilot light restored.
  r.steps.push_back({"rejoin the " + dr.name + " PostgreSQL as a standby of " + primary.name,
                     "rejoin",
                     {{"region", dr.name}, {"from", primary.name}},
                     300s, 1, 2s});
  for (const config::NodeGroupSpec& g : dr.node_groups) {
    r.steps.push_back({"scale " + dr.name + " " + g.name + " back to pilot-light size (" +
                           std::to_string(g.pilot_light_size) + ")",
                       "scale",
                       {{"region", dr.name}, {"group", g.name}, {"size", "pilot_light"},
                        {"until", "answering"}},
                       120s, 1, 1s});
  }
  r.steps.push_back({"notify: failed back to " + primary.name, "notify",
                     {{"topic", events_topic},
                      {"message", "failed back from " + dr.name + " to " + primary.name +
                                      "; " + dr.name + " is the pilot light again"}},
                     15s, 1, 500ms});
  return r;
}

namespace {

// A YAML double-quoted scalar.
std::string YamlQuote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string YamlList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + YamlQuote(items[i]);
  return out + "]";
}

std::string SetYaml(const dns::RecordSetSpec& set, bool weighted) {
  std::string out = "{";
  if (weighted) out += "id: " + YamlQuote(set.id) + ", weight: " + std::to_string(set.weight) + ", ";
  if (!set.health_check.empty()) out += "health_check: " + YamlQuote(set.health_check) + ", ";
  return out + "values: " + YamlList(set.values) + "}";
}

// The config's zones as a zone file (dns/zonefile) `dns serve` and the DNS
// switch read.
std::string ZonesYaml(const config::Config& config) {
  std::string out = "# Written by the pilotlight controller from the dns.zones of " + config.file +
                    "\nzones:\n";
  for (const dns::ZoneSpec& z : config.dns.zones) {
    out += "  - origin: " + YamlQuote(z.origin) + "\n    ttl: " + std::to_string(z.default_ttl) +
           "\n    ns: " + YamlList(z.nameservers) + "\n    soa: {";
    if (!z.soa.mname.empty()) out += "mname: " + YamlQuote(z.soa.mname) + ", ";
    if (!z.soa.rname.empty()) out += "rname: " + YamlQuote(z.soa.rname) + ", ";
    if (z.soa.serial) out += "serial: " + std::to_string(*z.soa.serial) + ", ";
    out += "refresh: " + std::to_string(z.soa.refresh) + ", retry: " + std::to_string(z.soa.retry) +
           ", expire: " + std::to_string(z.soa.expire) + ", minimum: " +
           std::to_string(z.soa.minimum) + "}\n    records:\n";
    for (const dns::RrsetSpec& r : z.rrsets) {
      out += "      - name: " + YamlQuote(r.name) + "\n        type: " + r.type + "\n";
      if (r.ttl) out += "        ttl: " + std::to_string(*r.ttl) + "\n";
      if (r.policy == dns::RoutingPolicy::kFailover) {
        out += "        failover:\n";
        for (const dns::RecordSetSpec& set : r.sets) {
          out += std::string("          ") +
                 (set.role == dns::FailoverRole::kPrimary ? "primary: " : "secondary: ") +
                 SetYaml(set, false) + "\n";
        }
      } else if (r.policy == dns::RoutingPolicy::kWeighted) {
        out += "        weighted:\n";
        for (const dns::RecordSetSpec& set : r.sets) out += "          - " + SetYaml(set, true) + "\n";
      } else if (!r.sets.empty()) {
        out += "        values: " + YamlList(r.sets.front().values) + "\n";
      }
    }
  }
  return out;
}

decide::Mode ModeOf(config::ControllerMode m) {
  switch (m) {
    case config::ControllerMode::kApproval:
      return decide::Mode::kApproval;
    case config::ControllerMode::kObserveOnly:
      return decide::Mode::kObserveOnly;
    case config::ControllerMode::kAutomatic:
      break;
  }
  return decide::Mode::kAutomatic;
}

runbook::RunbookSpec RunbookOf(const config::RunbookConfig& r) {
  runbook::RunbookSpec out;
  out.name = r.name;
  for (const config::RunbookStepConfig& st : r.steps) {
    runbook::StepSpec step;
    step.name = st.name;
    step.kind = st.kind;
    for (const auto& [k, v] : st.params) step.params[k] = v;
    step.timeout = st.timeout;
    step.retries = st.retries;
    step.backoff = st.backoff;
    out.steps.push_back(std::move(step));
  }
  return out;
}

}  // namespace

std::string DefaultLabZone(const config::Config& config, const std::string& record) {
  if (!config.dns.zones.empty()) return ZonesYaml(config);
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
  const config::ControllerConfig& c = config.controller;
  // A flag overrides the config when the operator gave it.
  const LabSpecOptions defaults;
  auto given = [&](const std::string& flag, bool differs) {
    return o.given ? o.given->count(flag) > 0 : differs;
  };
  const config::RegionSpec& primary = config.Primary();
  const config::RegionSpec& dr = config.Dr();
  ControllerSpec s;
  s.platform = config.platform;
  s.state_dir = c.state_dir.empty() ? lab_dir + "/controller" : c.state_dir;
  s.policy.mode = given("--mode", o.mode != defaults.mode) || !c.has_mode ? o.mode : ModeOf(c.mode);
  s.policy.confirm_for = given("--confirm-for", o.confirm_for != defaults.confirm_for)
                             ? o.confirm_for
                             : c.confirm_for.value_or(o.confirm_for);
  s.policy.hold_down = given("--hold-down", o.hold_down != defaults.hold_down)
                           ? o.hold_down
                           : c.hold_down.value_or(o.hold_down);
  s.policy.quorum = c.quorum;
  s.policy.max_lag_on_failover = config.replication.max_lag_on_failover;
  s.policy.gate_replica_streaming = c.gate_replica_streaming;
  s.policy.gate_replica_lag = c.gate_replica_lag;
  s.policy.gate_compute = c.gate_compute;
  s.policy.gate_dns = c.gate_dns;
  if (c.failed_run_backoff) s.failed_run_backoff = *c.failed_run_backoff;
  if (c.cycle_interval) s.cycle_interval = *c.cycle_interval;
  if (!c.events_topic.empty()) s.events_topic = c.events_topic;
  s.primary_region = primary.name;
  s.dr_region = dr.name;
  s.standby_name = dr.name;
  auto db = [](const config::RegionSpec& r) {
    pg::Endpoint e = pg::RegionDatabase(r);
    e.connect_timeout = 1s;
    return e;
  };
  s.primary_db = db(primary);
  s.dr_db = db(dr);

  // The config's topics (notify steps may name them), and the events topic with
  // the events file (and the --webhook) among its subscribers.
  s.topics = config.detection.topics;
  notify::TopicSpec* events = nullptr;
  for (notify::TopicSpec& t : s.topics) {
    if (t.name == s.events_topic) events = &t;
  }
  if (events == nullptr) {
    s.topics.push_back({s.events_topic, {}});
    events = &s.topics.back();
  }
  notify::SubscriberSpec file;
  file.name = "events-file";
  file.kind = notify::SubscriberKind::kFile;
  file.path = s.EventsPath();
  events->subscribers.push_back(file);
  if (!o.webhook.empty()) {
    notify::SubscriberSpec hook;
    hook.name = "webhook";
    hook.kind = notify::SubscriberKind::kWebhook;
    hook.url = o.webhook;
    events->subscribers.push_back(hook);
  }

  if (!config.detection.checks.empty()) {
    // The config's checks; the primary check is named or the primary's PostgreSQL one.
    s.checks = config.detection.checks;
    s.primary_check = c.primary_check.empty() ? primary.name + "-postgres" : c.primary_check;
  } else {
    for (const config::RegionSpec* r : {&primary, &dr}) {
      health::CheckSpec ch;
      ch.name = r->name + "-postgres";
      ch.kind = health::ProbeKind::kPostgres;
      ch.host = r->address;
      ch.port = r->postgres.port;
      ch.pg_database = r->postgres.database;
      ch.must_be_writable = r == &primary;
      config::PostgresCheckCredentials(config, ch);
      ch.interval = o.probe_interval;
      ch.timeout = o.probe_interval * 8 / 10;
      ch.connect_timeout = ch.timeout;
      ch.failure_threshold = o.failure_threshold;
      ch.success_threshold = o.success_threshold;
      for (int v = 1; v <= o.vantages && o.vantages > 1; ++v) {
        ch.vantages.push_back({"vantage-" + std::to_string(v), "", 0, "", ""});
      }
      s.checks.push_back(ch);
    }
    s.primary_check = c.primary_check.empty() ? primary.name + "-postgres" : c.primary_check;
  }
  auto voting = std::find_if(s.checks.begin(), s.checks.end(),
                             [&](const health::CheckSpec& ch) { return ch.name == s.primary_check; });
  if (voting == s.checks.end()) {
    return Status::InvalidArgument(
        config.file + ": the controller's primary check '" + s.primary_check +
        "' is not among its health checks; set controller.primary_check to one of them");
  }
  // Votes per site (safety rule 3). A primary check that names no site is probed
  // from here and from DR's probe agent: never from one process alone.
  s.site = config.ControllerSite();
  for (const config::ProbeAgentConfig& a : config.ProbeAgents()) {
    s.probe_agents.push_back({a.site, a.listen.address, a.listen.port});
  }
  health::CheckSpec& primary_check = *voting;
  const bool sited = std::any_of(primary_check.vantages.begin(), primary_check.vantages.end(),
                                 [](const health::VantageSpec& v) { return !v.site.empty(); });
  primary_check.vantages = health::EffectiveVantages(primary_check);
  if (!sited) {
    primary_check.vantages.push_back({dr.name, "", 0, dr.address, dr.name});
  }
  for (health::VantageSpec& v : primary_check.vantages) {
    if (v.site.empty()) v.site = s.site;
    if (v.site != s.site && s.FindProbeAgent(v.site) == nullptr) {
      return Status::InvalidArgument(
          config.file + ": vantage point '" + v.name + "' of the primary check '" +
          s.primary_check + "' is in site '" + v.site + "', which has no probe agent; add {site: " +
          v.site + ", listen: ADDRESS:PORT} under controller.probe_agents and run `pilotlight "
          "probe run --site " + v.site + "` there");
    }
  }
  // Votes are counted by the controller per site; the check's own vantage quorum
  // only matters to `watch` and the DNS server.
  primary_check.unhealthy_quorum = 0;
  s.policy.allow_single_site = c.unsafe_single_vantage;
  // An observation older than three probe intervals and a timeout is no vote.
  s.policy.max_observation_age =
      std::max<Duration>(2s, 3 * primary_check.interval + primary_check.timeout);

  s.dns.zone_file = c.zone_file.empty() ? lab_dir + "/dns/zone.yaml" : c.zone_file;
  s.dns.overrides_file = c.overrides_file.empty() ? lab_dir + "/dns/overrides" : c.overrides_file;
  s.dns.record = c.dns_record.empty() ? "api" : c.dns_record;
  s.dns.publishers = config.dns.publishers;
  s.node_groups = compute::NodeGroupsOf(config);
  s.compute.provider = c.compute_provider;
  s.compute.exec = c.exec;
  s.compute.scaling = c.scaling;

  auto bucket = [&](const config::RegionSpec& r, const std::string& name) -> std::string {
    for (const config::BucketSpec& b : r.buckets) {
      if (b.name == name) return b.path.empty() ? lab_dir + "/" + r.name + "/buckets/" + name : b.path;
    }
    return "";
  };
  const std::string release_bucket = c.release_bucket.empty() ? "artifacts" : c.release_bucket;
  s.release.primary_bucket = bucket(primary, release_bucket);
  s.release.dr_bucket = bucket(dr, release_bucket);
  if (!c.gate_release) {
    s.policy.gate_release = false;
    s.release.name.clear();
  } else if (!c.release_name.empty()) {
    // Named in the config: checked whether or not the deployer recorded it yet.
    s.release.name = c.release_name;
  } else if (!s.release.primary_bucket.empty() && !s.release.dr_bucket.empty() &&
             std::filesystem::exists(s.release.primary_bucket + "/.pilotlight/running/trader")) {
    // The release gate is on when both regions have an artifacts bucket and the
    // primary's deployer recorded what it runs (releases.h layout); otherwise
    // there is nothing DR could be checked against.
    s.release.name = "trader";
  } else {
    s.policy.gate_release = false;  // nothing to check: no artifacts bucket in both regions
  }
  if (dr.node_groups.empty()) s.policy.gate_compute = false;

  for (const config::RunbookConfig& r : config.runbooks) s.runbooks.push_back(RunbookOf(r));
  if (s.FindRunbook(s.failover_runbook) == nullptr) {
    s.runbooks.push_back(DefaultFailoverRunbook(config, s.dns.record, s.events_topic));
  }
  if (s.FindRunbook(s.failback_runbook) == nullptr) {
    s.runbooks.push_back(DefaultFailbackRunbook(config, s.dns.record, s.events_topic));
  }
  for (const config::BucketSpec& b : primary.buckets) {
    const std::string dr_dir = bucket(dr, b.name);
    if (dr_dir.empty()) continue;
    SharedBucket sb;
    sb.name = b.name;
    sb.dir_by_region[primary.name] = bucket(primary, b.name);
    sb.dir_by_region[dr.name] = dr_dir;
    sb.state_root = lab_dir + "/replication/objects";
    s.shared_buckets.push_back(std::move(sb));
  }
  s.lease_listen = given("--lease-listen", o.lease_listen != defaults.lease_listen) || !c.lease_listen
                       ? o.lease_listen
                       : c.lease_listen->ToString();
  s.lease_duration = given("--lease-duration", o.lease_duration != defaults.lease_duration)
                         ? o.lease_duration
                         : c.lease_duration.value_or(o.lease_duration);
  s.policy.lease_safety_margin =
      c.lease_safety_margin.value_or(std::max<Duration>(500ms, s.lease_duration / 6));
  return s;
}

}  // namespace pilotlight::controller
