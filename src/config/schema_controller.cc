// `controller`: the failover controller's mode and timing, its write lease,
// leader election, readiness gates, DNS, compute provider and scaling bounds.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config_reader.h"
#include "config/values.h"
#include "core/duration.h"

namespace pilotlight::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kControllerKeys[] = {
    "mode",           "primary_check", "quorum",
    "confirm_for",    "hold_down",     "failed_run_backoff",
    "cycle_interval", "state_dir",     "events_topic",
    "lease",          "gates",         "dns",
    "compute",        "scaling",       "leader_election",
    "site",           "probe_agents",  "unsafe_single_vantage"};
constexpr std::string_view kProbeAgentKeys[] = {"site", "listen"};
constexpr NamePattern kSiteName{"a-z0-9", "a-z0-9_.-", 31,
                                "a site name matching [a-z0-9][a-z0-9_.-]{0,31}"};
// In the order of ControllerMode.
constexpr std::string_view kControllerModes[] = {"automatic", "approval", "observe-only"};
constexpr std::string_view kLeaseKeys[] = {"listen", "duration", "safety_margin"};
constexpr std::string_view kLeaderElectionKeys[] = {"etcd", "key", "ttl", "user", "password_file"};
constexpr std::string_view kGateKeys[] = {"replica_streaming", "replica_lag", "release", "compute",
                                          "dns"};
constexpr std::string_view kReleaseGateKeys[] = {"name", "bucket"};
constexpr std::string_view kControllerDnsKeys[] = {"record", "zone_file", "overrides"};
constexpr std::string_view kComputeKeys[] = {"provider", "exec"};
constexpr std::string_view kComputeProviders[] = {"lab", "exec"};
constexpr std::string_view kExecComputeKeys[] = {"size_command", "scale_command", "ready_command",
                                                 "can_scale_command", "requests_command"};
constexpr std::string_view kScalingKeys[] = {"min", "max", "target_requests_per_instance",
                                             "scale_down_stabilization"};
constexpr NamePattern kReleaseName{"a-z", "a-z0-9_.-", 62,
                                   "a release name matching [a-z][a-z0-9_.-]{0,62}"};

}  // namespace

void ConfigReader::CheckVantageSites(const Config& config) {
  const ControllerConfig& c = config.controller;
  if (!c.present || c.unsafe_single_vantage) return;
  const std::string unsafe =
      "; or set controller.unsafe_single_vantage: true to let one site's word fail the primary "
      "over";
  if (quorum_at_ && c.quorum == 1) {
    Report(quorum_at_->where, quorum_at_->field,
           "0 (a majority of the sites outside the primary region) or at least 2: a quorum of 1 "
           "fails over on one vantage point's word" + unsafe,
           "1");
  }
  const RegionSpec* primary = nullptr;
  for (const RegionSpec& r : config.regions) {
    if (r.role == RegionRole::kPrimary) primary = &r;
  }
  if (primary == nullptr || config.detection.checks.empty()) return;
  const std::string name = c.primary_check.empty() ? primary->name + "-postgres" : c.primary_check;
  const health::CheckSpec* check = nullptr;
  for (const health::CheckSpec& ch : config.detection.checks) {
    if (ch.name == name) check = &ch;
  }
  if (check == nullptr) return;
  const bool sited = std::any_of(check->vantages.begin(), check->vantages.end(),
                                 [](const health::VantageSpec& v) { return !v.site.empty(); });
  if (!sited) return;  // the controller's site and DR's probe agent (controller/spec.h)
  std::set<std::string> sites;
  for (const health::VantageSpec& v : check->vantages) {
    const std::string site = v.site.empty() ? config.ControllerSite() : v.site;
    if (site != primary->name) sites.insert(site);
  }
  if (sites.size() >= 2) return;
  std::string found = std::to_string(sites.size()) + (sites.size() == 1 ? " site" : " sites");
  for (const std::string& site : sites) found += " (" + site + ")";
  const auto at = vantages_at_.find(name);
  Report(at != vantages_at_.end() ? at->second.where : c.where,
         at != vantages_at_.end() ? at->second.field : "controller.primary_check",
         "the primary check '" + name + "' probed from at least two sites outside the primary "
         "region, e.g. vantages: [{name: witness, site: witness, source_address: 127.0.3.1}, "
         "{name: dr, site: dr, source_address: 127.0.2.1}] with {site: dr, listen: "
         "127.0.2.1:7410} under controller.probe_agents" + unsafe,
         found);
}

void ConfigReader::ReadController(const Field& f, Config& config) {
  ControllerConfig& c = config.controller;
  c.present = true;
  c.where = Where(At(f));
  if (f.value.IsNull()) return;
  const std::optional<Mapping> m = FieldMapping(
      f, "a mapping with the optional keys " + JoinKeys(kControllerKeys), kControllerKeys);
  if (!m) return;
  if (const Field* x = m->Find("mode")) {
    if (auto i = ReadChoice(*x, kControllerModes, "a controller mode")) {
      c.mode = static_cast<ControllerMode>(*i);
      c.has_mode = true;
    }
  }
  if (const Field* x = m->Find("primary_check")) {
    if (std::optional<std::string> name = ReadName(*x, kCheckName)) {
      if (!config.detection.checks.empty() && check_names_.count(*name) == 0) {
        Report(At(*x), x->path,
               WithHint(Known("a check defined under health_checks", check_names_), *name,
                        check_names_),
               Quote(*name));
      } else {
        c.primary_check = *name;
      }
    }
  }
  if (const Field* x = m->Find("quorum")) {
    if (auto n = ReadInteger(*x, 0, 100, "an integer 0-100 (0: a strict majority)")) {
      c.quorum = static_cast<int>(*n);
      quorum_at_ = Located{Where(At(*x)), x->path};
    }
  }
  const std::pair<std::string_view, std::optional<Duration>*> durations[] = {
      {"confirm_for", &c.confirm_for},
      {"hold_down", &c.hold_down},
      {"failed_run_backoff", &c.failed_run_backoff}};
  for (const auto& [key, slot] : durations) {
    if (const Field* x = m->Find(key)) {
      if (auto d = ReadDuration(*x, Duration(0), std::chrono::hours(24 * 7),
                                "a duration from 0 to 168h")) {
        *slot = *d;
      }
    }
  }
  if (const Field* x = m->Find("cycle_interval")) {
    if (auto d = ReadDuration(*x, std::chrono::milliseconds(50), std::chrono::minutes(1),
                              "a duration from 50ms to 1m")) {
      c.cycle_interval = *d;
    }
  }
  if (const Field* x = m->Find("state_dir")) {
    if (std::optional<std::string> dir = ReadScalar(*x, "a directory path")) {
      if (dir->empty() || dir->find('\0') != std::string::npos) {
        Report(At(*x), x->path, "a non-empty directory path", Quote(*dir));
      } else {
        c.state_dir = ResolvePath(*dir);
      }
    }
  }
  if (const Field* x = m->Find("events_topic")) {
    if (std::optional<std::string> name = ReadName(*x, kTopicName)) {
      if (topic_names_.count(*name) == 0 && *name != kBuiltInEventsTopic) {
        Report(At(*x), x->path, TopicExpectation(*name), Quote(*name));
      } else {
        c.events_topic = *name;
      }
    }
  }
  if (const Field* x = m->Find("lease")) ReadControllerLease(*x, c);
  if (const Field* x = m->Find("leader_election")) ReadControllerLeaderElection(*x, c);
  if (const Field* x = m->Find("gates")) ReadControllerGates(*x, config);
  if (const Field* x = m->Find("dns")) {
    if (auto d =
            FieldMapping(*x, "a mapping with the optional keys " + JoinKeys(kControllerDnsKeys),
                         kControllerDnsKeys)) {
      if (const Field* r = d->Find("record")) ReadControllerRecord(*r, config, c.dns_record);
      const std::pair<std::string_view, std::string*> files[] = {{"zone_file", &c.zone_file},
                                                                 {"overrides", &c.overrides_file}};
      for (const auto& [key, slot] : files) {
        if (const Field* p = d->Find(key)) {
          if (std::optional<std::string> path = ReadScalar(*p, "a file path")) {
            if (path->empty()) {
              Report(At(*p), p->path, "a non-empty file path", "''");
            } else {
              *slot = ResolvePath(*path);
            }
          }
        }
      }
    }
  }
  if (const Field* x = m->Find("compute")) ReadControllerCompute(*x, c);
  if (const Field* x = m->Find("scaling")) ReadControllerScaling(*x, config);
  if (const Field* x = m->Find("site")) {
    if (std::optional<std::string> site = ReadName(*x, kSiteName)) c.site = *site;
  }
  if (const Field* x = m->Find("unsafe_single_vantage")) {
    if (std::optional<bool> b = ReadBool(*x)) c.unsafe_single_vantage = *b;
  }
  if (const Field* x = m->Find("probe_agents")) {
    const std::optional<std::vector<Field>> items =
        Elements(*x, "a sequence of probe agents such as {site: dr, listen: 127.0.2.1:7410}");
    std::map<std::string, std::string> sites;
    for (const Field& item : items.value_or(std::vector<Field>{})) {
      const std::optional<Mapping> a =
          FieldMapping(item, "a probe agent mapping {site, listen}", kProbeAgentKeys);
      if (!a) continue;
      ProbeAgentConfig agent;
      agent.where = Where(At(item));
      if (const Field* n = Require(*a, "site", kSiteName.what)) {
        if (std::optional<std::string> site = ReadName(*n, kSiteName)) {
          Define(sites, *site, item.path, *n, "a probe agent's site");
          agent.site = *site;
        }
      }
      constexpr std::string_view kListen = "HOST:PORT with an IP address, e.g. 127.0.2.1:7410";
      if (const Field* l = Require(*a, "listen", kListen)) {
        if (std::optional<std::string> text = ReadScalar(*l, kListen)) {
          if (std::optional<ListenAddress> addr = ParseHostPort(*text, std::nullopt)) {
            agent.listen = *addr;
            listeners_.push_back({l->path, Where(At(*l)), addr->address, addr->port, false});
          } else {
            Report(At(*l), l->path, std::string(kListen), Quote(*text));
          }
        }
      }
      c.probe_agents.push_back(std::move(agent));
    }
  }
}

void ConfigReader::ReadControllerLeaderElection(const Field& f, ControllerConfig& c) {
  const std::optional<Mapping> m = FieldMapping(
      f, "a mapping with the keys " + JoinKeys(kLeaderElectionKeys) + " (etcd required)",
      kLeaderElectionKeys);
  if (!m) return;
  constexpr std::string_view kEtcd =
      "etcd endpoints, http://HOST:PORT[,http://HOST:PORT...] (no TLS)";
  if (const Field* e = Require(*m, "etcd", kEtcd)) {
    if (std::optional<std::string> text = ReadScalar(*e, kEtcd)) {
      std::vector<std::string> urls;
      bool ok = true;
      size_t start = 0;
      while (start <= text->size()) {
        size_t comma = text->find(',', start);
        if (comma == std::string::npos) comma = text->size();
        const std::string one = text->substr(start, comma - start);
        if (!one.empty()) {
          ok = ok && IsEtcdUrl(one);
          urls.push_back(one);
        }
        start = comma + 1;
      }
      if (!ok || urls.empty()) {
        Report(At(*e), e->path, std::string(kEtcd), Quote(*text));
      } else {
        c.etcd_endpoints = urls;
      }
    }
  }
  if (const Field* k = m->Find("key")) {
    constexpr std::string_view kKey = "an etcd key starting with /, e.g. /pilotlight/lab/leader";
    if (std::optional<std::string> key = ReadScalar(*k, kKey)) {
      if (key->empty() || key->front() != '/' ||
          key->find_first_of(std::string(" \t\n\r\0", 5)) != std::string::npos) {
        Report(At(*k), k->path, std::string(kKey), Quote(*key));
      } else {
        c.election_key = *key;
      }
    }
  }
  if (const Field* u = m->Find("user")) {
    constexpr NamePattern kEtcdUser{"a-z_", "a-z0-9_.-", 62,
                                    "an etcd user matching [a-z_][a-z0-9_.-]{0,62}"};
    if (std::optional<std::string> name = ReadName(*u, kEtcdUser)) c.election_user = *name;
  }
  if (const Field* pf = m->Find("password_file")) {
    ReadFilePath(*pf, "the path of a file holding the etcd user's password (mode 0600)",
                 c.election_password_file);
  }
  if (c.election_user.empty() != c.election_password_file.empty()) {
    Report(m->mark, m->path,
           "user and password_file together (etcd's login needs both), or neither",
           c.election_user.empty() ? "password_file only" : "user only");
  }
  if (const Field* t = m->Find("ttl")) {
    if (auto v = ReadDuration(*t, std::chrono::seconds(2), std::chrono::hours(1),
                              "whole seconds from 2s to 1h")) {
      if (*v % std::chrono::seconds(1) != Duration(0)) {
        Report(At(*t), t->path, "whole seconds from 2s to 1h (etcd leases count seconds)",
               Quote(t->value.Scalar()));
      } else {
        c.election_ttl = *v;
      }
    }
  }
}

void ConfigReader::ReadControllerLease(const Field& f, ControllerConfig& c) {
  const std::optional<Mapping> m =
      FieldMapping(f, "a mapping with the optional keys " + JoinKeys(kLeaseKeys), kLeaseKeys);
  if (!m) return;
  if (const Field* l = m->Find("listen")) {
    constexpr std::string_view kListen = "HOST:PORT with an IP address, e.g. 127.0.3.1:7400";
    if (std::optional<std::string> text = ReadScalar(*l, kListen)) {
      if (std::optional<ListenAddress> a = ParseHostPort(*text, std::nullopt)) {
        c.lease_listen = *a;
        listeners_.push_back({l->path, Where(At(*l)), a->address, a->port, false});
      } else {
        Report(At(*l), l->path, std::string(kListen), Quote(*text));
      }
    }
  }
  if (const Field* d = m->Find("duration")) {
    if (auto v = ReadDuration(*d, std::chrono::seconds(1), std::chrono::minutes(10),
                              "a duration from 1s to 10m")) {
      c.lease_duration = *v;
    }
  }
  if (const Field* s = m->Find("safety_margin")) {
    if (auto v =
            ReadDuration(*s, Duration(0), std::chrono::minutes(10), "a duration from 0 to 10m")) {
      c.lease_safety_margin = *v;
    }
  }
  if (c.lease_duration && c.lease_safety_margin && *c.lease_safety_margin >= *c.lease_duration) {
    const Field* s = m->Find("safety_margin");
    Report(At(*s), s->path, "a safety margin shorter than the lease duration",
           Quote(s->value.Scalar()));
  }
}

void ConfigReader::ReadControllerGates(const Field& f, Config& config) {
  ControllerConfig& c = config.controller;
  const std::optional<Mapping> m =
      FieldMapping(f, "a mapping with the optional keys " + JoinKeys(kGateKeys), kGateKeys);
  if (!m) return;
  const std::pair<std::string_view, bool*> bools[] = {
      {"replica_streaming", &c.gate_replica_streaming},
      {"replica_lag", &c.gate_replica_lag},
      {"compute", &c.gate_compute},
      {"dns", &c.gate_dns}};
  for (const auto& [key, slot] : bools) {
    if (const Field* x = m->Find(key)) {
      if (auto b = ReadBool(*x)) *slot = *b;
    }
  }
  const Field* r = m->Find("release");
  if (r == nullptr) return;
  if (r->value.IsScalar()) {
    if (auto b = ReadBool(*r)) {
      if (*b) {
        Report(At(*r), r->path, "false, or a mapping {name, bucket}", "true");
      } else {
        c.gate_release = false;
      }
    }
    return;
  }
  const std::optional<Mapping> rm = FieldMapping(
      *r, "false, or a mapping with the keys " + JoinKeys(kReleaseGateKeys), kReleaseGateKeys);
  if (!rm) return;
  if (const Field* n = Require(*rm, "name", kReleaseName.what)) {
    if (auto name = ReadName(*n, kReleaseName)) c.release_name = *name;
  }
  if (const Field* b = Require(*rm, "bucket", "a bucket both regions have")) {
    if (auto name = ReadName(*b, kBucketName)) {
      for (const RegionSpec& region : config.regions) {
        const bool has = std::any_of(region.buckets.begin(), region.buckets.end(),
                                     [&](const BucketSpec& s) { return s.name == *name; });
        if (!has && !region.name.empty()) {
          Report(At(*b), b->path,
                 "a bucket both regions have (region " + region.name + " has no bucket '" + *name +
                     "')",
                 Quote(*name));
          return;
        }
      }
      c.release_bucket = *name;
    }
  }
}

void ConfigReader::ReadControllerCompute(const Field& f, ControllerConfig& c) {
  const std::optional<Mapping> m =
      FieldMapping(f, "a mapping with the optional keys " + JoinKeys(kComputeKeys), kComputeKeys);
  if (!m) return;
  if (const Field* p = m->Find("provider")) {
    if (auto i = ReadChoice(*p, kComputeProviders, "a compute provider")) {
      c.compute_provider = std::string(kComputeProviders[*i]);
    }
  }
  const Field* e = m->Find("exec");
  if (e != nullptr) {
    if (auto em = FieldMapping(*e, "a mapping with the keys " + JoinKeys(kExecComputeKeys),
                               kExecComputeKeys)) {
      const std::pair<std::string_view, std::string*> commands[] = {
          {"size_command", &c.exec.size_command},
          {"scale_command", &c.exec.scale_command},
          {"ready_command", &c.exec.ready_command},
          {"can_scale_command", &c.exec.can_scale_command},
          {"requests_command", &c.exec.requests_command}};
      for (const auto& [key, slot] : commands) {
        if (const Field* x = em->Find(key)) {
          if (auto text = ReadScalar(*x, "a shell command")) *slot = *text;
        }
      }
      if (c.compute_provider == "exec") {
        for (std::string_view key : {"size_command", "scale_command", "ready_command"}) {
          const Field* x = em->Find(key);
          if (x == nullptr) {
            Require(*em, key, "a shell command (the exec provider needs it)");
          } else if (x->value.IsScalar() && x->value.Scalar().empty()) {
            Report(At(*x), x->path, "a shell command (the exec provider needs it)", "''");
          }
        }
      }
    }
  } else if (c.compute_provider == "exec") {
    Report(m->mark, Child(m->path, "exec"),
           "the exec provider's commands (size_command, scale_command, ready_command)",
           "no 'exec' key");
  }
}

void ConfigReader::ReadControllerScaling(const Field& f, Config& config) {
  if (IsEmptySection(f.value)) return;
  if (!f.value.IsMap()) {
    Report(At(f), f.path,
           "a mapping from node group names to {min, max, "
           "target_requests_per_instance}",
           Describe(f.value));
    return;
  }
  for (const auto& [key, value] : f.value.Entries()) {
    const Field item{Child(f.path, key.IsScalar() ? Escape(key.Scalar()) : "?"), key, value};
    const std::string group = key.IsScalar() ? key.Scalar() : "";
    bool known = false;
    std::map<std::string, std::string> groups;
    for (const RegionSpec& r : config.regions) {
      for (const NodeGroupSpec& g : r.node_groups) {
        groups.emplace(g.name, r.name);
        known = known || g.name == group;
      }
    }
    if (!known) {
      Report(item.key.Mark(), item.path,
             WithHint(Known("a node group of some region", groups), group, groups),
             Describe(item.key));
      continue;
    }
    const std::optional<Mapping> m =
        FieldMapping(item, "a mapping with the keys " + JoinKeys(kScalingKeys), kScalingKeys);
    if (!m) continue;
    ScalingConfig s;
    s.group = group;
    const Field* mn = Require(*m, "min", "an integer 0-10000");
    const Field* mx = Require(*m, "max", "an integer 1-10000");
    std::optional<int64_t> lo;
    std::optional<int64_t> hi;
    if (mn != nullptr) lo = ReadInteger(*mn, 0, kMaxGroupSize, "an integer 0-10000");
    if (mx != nullptr) hi = ReadInteger(*mx, 1, kMaxGroupSize, "an integer 1-10000");
    if (lo && hi && *lo > *hi) {
      Report(At(*mx), mx->path, "a max of at least min (" + std::to_string(*lo) + ")",
             Quote(mx->value.Scalar()));
    }
    if (lo) s.min = static_cast<int>(*lo);
    if (hi) s.max = static_cast<int>(*hi);
    if (const Field* t = m->Find("target_requests_per_instance")) {
      if (auto n = ReadInteger(*t, 1, 1'000'000, "an integer 1-1000000")) {
        s.target_requests_per_instance = static_cast<int>(*n);
      }
    }
    if (const Field* w = m->Find("scale_down_stabilization")) {
      if (auto d = ReadDuration(*w, Duration(0), std::chrono::hours(1),
                                "a duration from 0 to 1h, e.g. 60s")) {
        s.scale_down_stabilization = *d;
      }
    }
    config.controller.scaling.push_back(s);
  }
}

}  // namespace pilotlight::config
