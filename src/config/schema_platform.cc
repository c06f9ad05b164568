// The platform: its name, regions (data stores, buckets, node groups), recovery
// objectives, replication settings and the responsibility matrix; and the
// address:port collision check over every listener of the file.
#include <algorithm>
#include <map>
#include <optional>
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

constexpr std::string_view kResponsibilityKeys[] = {"task", "owner", "frequency", "kind"};
constexpr std::string_view kFrequencies[] = {"daily",      "weekly",   "monthly",   "quarterly",
                                             "biannually", "annually", "continuous"};
// The drill scenarios a responsibility may be done by (issue 8), and "manual".
constexpr std::string_view kTaskKinds[] = {"manual",     "region-outage",     "db-crash",
                                           "app-crash",  "network-partition", "gray-failure",
                                           "replica-lag"};
constexpr size_t kMaxTaskChars = 100;
constexpr std::string_view kRegionKeys[] = {"name",  "role",    "address",     "postgres",
                                            "redis", "buckets", "node_groups", "resources"};
constexpr std::string_view kPostgresKeys[] = {
    "port",     "database",          "user",
    "password_file", "app_user",     "app_password_file",
    "replication_user", "replication_password_file", "sslmode",
    "sslrootcert"};
constexpr std::string_view kRedisKeys[] = {"port", "user", "password_file", "tls"};
constexpr std::string_view kSslModes[] = {"disable", "allow", "prefer",
                                          "require", "verify-ca", "verify-full"};
constexpr std::string_view kPasswordFile =
    "the path of a file holding the password (relative to the config file; mode 0600)";
constexpr std::string_view kBucketKeys[] = {"name", "path"};
constexpr std::string_view kNodeGroupKeys[] = {"name", "pilot_light_size", "production_size",
                                               "port", "instance"};
constexpr std::string_view kObjectivesKeys[] = {"rto", "rpo"};
constexpr std::string_view kRpoKeys[] = {"database", "objects", "sessions", "artifacts"};
constexpr std::string_view kReplicationKeys[] = {"slot", "heartbeat_interval",
                                                 "max_lag_on_failover"};
constexpr std::string_view kRoleNames[] = {"primary", "dr"};
constexpr NamePattern kNodeGroupName{"a-z", "a-z0-9-", 31,
                                     "a node group name matching [a-z][a-z0-9-]{0,31}"};
constexpr NamePattern kSlotName{"a-z0-9_", "a-z0-9_", 62,
                                "a replication slot name matching [a-z0-9_]{1,63}"};

}  // namespace

std::optional<std::string> ConfigReader::ReadText(const Field& f, std::string_view expected) {
  std::optional<std::string> text = ReadScalar(f, expected);
  if (!text) return std::nullopt;
  const bool printable = std::all_of(text->begin(), text->end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  });
  if (text->empty() || text->size() > kMaxTaskChars || !printable ||
      text->find_first_not_of(' ') == std::string::npos) {
    Report(At(f), f.path, std::string(expected), Quote(*text));
    return std::nullopt;
  }
  return text;
}

void ConfigReader::ReadResponsibilities(const Field& f, Config& config) {
  if (IsEmptySection(f.value)) return;
  const std::optional<std::vector<Field>> items =
      Elements(f, "a sequence of responsibilities {task, owner, frequency, kind}");
  if (!items) return;
  std::map<std::string, std::string> tasks;
  for (const Field& item : *items) {
    const std::optional<Mapping> m = FieldMapping(
        item, "a responsibility mapping with task, owner, frequency and kind", kResponsibilityKeys);
    if (!m) continue;
    Responsibility r;
    r.where = Where(m->mark);
    bool ok = true;
    constexpr std::string_view kTaskText = "a task name of 1-100 printable characters";
    if (const Field* t = Require(*m, "task", kTaskText)) {
      if (std::optional<std::string> task = ReadText(*t, kTaskText)) {
        Define(tasks, *task, item.path, *t, "a task name");
        r.task = std::move(*task);
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    constexpr std::string_view kOwnerText =
        "an owner (a team or person) of 1-100 printable "
        "characters";
    if (const Field* o = Require(*m, "owner", kOwnerText)) {
      if (std::optional<std::string> owner = ReadText(*o, kOwnerText)) {
        r.owner = std::move(*owner);
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (const Field* q = Require(*m, "frequency", "how often: one of " + JoinKeys(kFrequencies))) {
      if (std::optional<size_t> i = ReadChoice(*q, kFrequencies, "a frequency")) {
        r.frequency = std::string(kFrequencies[*i]);
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (const Field* k = m->Find("kind")) {
      if (std::optional<size_t> i =
              ReadChoice(*k, kTaskKinds, "what does the task: a drill scenario or manual")) {
        r.kind = std::string(kTaskKinds[*i]);
      } else {
        ok = false;
      }
    } else {
      r.kind = "manual";
    }
    if (ok) config.responsibilities.push_back(std::move(r));
  }
}

void ConfigReader::ReadRegions(const Field& f, Config& config) {
  if (!f.value.IsSequence()) {
    Report(At(f), f.path, "a sequence of regions", Describe(f.value));
    return;
  }
  size_t i = 0;
  for (const YamlNode& item : f.value.Items()) ReadRegion(item, Index(f.path, i++), config);
  CheckRoles(f);
}

void ConfigReader::ReadRegion(const YamlNode& node, const std::string& path, Config& config) {
  RegionSpec region;
  region.where = Where(node.Mark());
  region_address_.reset();
  const std::optional<Mapping> m = AsMapping(
      node, node.Mark(), path, "a region mapping with name, role and address", kRegionKeys);
  if (!m) {
    roles_complete_ = false;
    config.regions.push_back(std::move(region));
    return;
  }

  if (const Field* f = Require(*m, "name", kRegionName.what)) {
    if (std::optional<std::string> name = ReadName(*f, kRegionName)) {
      auto [first, inserted] = region_names_.emplace(*name, FirstHolder(path, Where(At(*f))));
      if (!inserted) {
        Report(At(*f), f->path,
               "a region name used once (" + first->second + " is '" + *name + "')", Quote(*name));
      }
      region.name = std::move(*name);
    }
  }

  bool role_ok = false;
  if (const Field* f = Require(*m, "role", "primary or dr")) {
    if (std::optional<std::string> role = ReadScalar(*f, "primary or dr")) {
      if (*role == "primary" || *role == "dr") {
        region.role = *role == "primary" ? RegionRole::kPrimary : RegionRole::kDr;
        roles_.push_back({region.role, f->path, Where(At(*f))});
        role_ok = true;
      } else {
        std::string expected = "primary or dr";
        const std::string_view hint = Suggest(*role, kRoleNames);
        if (!hint.empty()) expected += " (did you mean '" + std::string(hint) + "'?)";
        Report(At(*f), f->path, std::move(expected), Quote(*role));
      }
    }
  }
  if (!role_ok) roles_complete_ = false;

  constexpr std::string_view kAddress = "an IPv4 address such as 127.0.1.1";
  if (const Field* f = Require(*m, "address", kAddress)) {
    if (std::optional<std::string> address = ReadScalar(*f, kAddress)) {
      if (IsIpv4(*address)) {
        region.address = *address;
        region_address_ = std::move(*address);
      } else {
        Report(At(*f), f->path, std::string(kAddress), Quote(*address));
      }
    }
  }

  // Absent sections still listen, on their default ports.
  if (const Field* f = m->Find("postgres")) {
    ReadPostgres(*f, region.postgres);
  } else {
    Listen(Child(path, "postgres.port"), region.where, region.postgres.port, true);
  }
  if (const Field* f = m->Find("redis")) {
    ReadRedis(*f, region.redis);
  } else {
    Listen(Child(path, "redis.port"), region.where, region.redis.port, true);
  }
  if (const Field* f = m->Find("buckets")) ReadBuckets(*f, region);
  if (const Field* f = m->Find("node_groups")) ReadNodeGroups(*f, region);
  if (const Field* f = m->Find("resources")) ReadResources(*f, region.resources);
  config.regions.push_back(std::move(region));
}

void ConfigReader::ReadPostgres(const Field& f, PostgresSpec& out) {
  const std::optional<Mapping> m =
      FieldMapping(f, "a mapping with the keys " + JoinKeys(kPostgresKeys), kPostgresKeys);
  if (!m) return;
  std::optional<uint16_t> port;
  if (const Field* p = m->Find("port")) {
    port = ReadPort(*p);
    if (port) out.port = *port;
  }
  ListenOn(*m, port, out.port);
  if (const Field* d = m->Find("database")) {
    if (std::optional<std::string> name = ReadName(*d, kDatabaseName)) out.database = *name;
  }
  for (const auto& [key, role] : {std::pair<const char*, std::string*>{"user", &out.user},
                                  {"app_user", &out.app_user},
                                  {"replication_user", &out.replication_user}}) {
    if (const Field* u = m->Find(key)) {
      if (std::optional<std::string> name = ReadName(*u, kPostgresUser)) *role = *name;
    }
  }
  for (const auto& [key, file] :
       {std::pair<const char*, std::string*>{"password_file", &out.password_file},
        {"app_password_file", &out.app_password_file},
        {"replication_password_file", &out.replication_password_file}}) {
    if (const Field* pf = m->Find(key)) ReadFilePath(*pf, kPasswordFile, *file);
  }
  if (const Field* f = m->Find("sslmode")) {
    const std::string want = "one of " + JoinKeys(kSslModes) + " (libpq's sslmode)";
    if (std::optional<std::string> mode = ReadScalar(*f, want)) {
      bool known = false;
      for (std::string_view k : kSslModes) known = known || *mode == k;
      if (known) {
        out.sslmode = *mode;
      } else {
        Report(At(*f), f->path, want, Quote(*mode));
      }
    }
  }
  if (const Field* f = m->Find("sslrootcert")) {
    ReadFilePath(*f, "the path of the CA certificate (PEM) the server's certificate is checked against",
                 out.sslrootcert);
  }
  if (!out.sslrootcert.empty() && out.sslmode != "verify-ca" && out.sslmode != "verify-full") {
    if (const Field* f = m->Find("sslrootcert")) {
      Report(At(*f), f->path,
             "sslrootcert only with sslmode verify-ca or verify-full (else libpq does not check "
             "the certificate)",
             "sslmode " + (out.sslmode.empty() ? std::string("unset") : out.sslmode));
    }
  }
}

void ConfigReader::ReadFilePath(const Field& f, std::string_view what, std::string& out) {
  if (std::optional<std::string> path = ReadScalar(f, what)) {
    if (path->empty()) {
      Report(At(f), f.path, std::string(what), "''");
    } else {
      out = ResolvePath(*path);
    }
  }
}

void ConfigReader::ReadRedis(const Field& f, RedisSpec& out) {
  const std::optional<Mapping> m =
      FieldMapping(f, "a mapping with the keys " + JoinKeys(kRedisKeys), kRedisKeys);
  if (!m) return;
  std::optional<uint16_t> port;
  if (const Field* p = m->Find("port")) {
    port = ReadPort(*p);
    if (port) out.port = *port;
  }
  ListenOn(*m, port, out.port);
  if (const Field* u = m->Find("user")) {
    if (std::optional<std::string> name = ReadName(*u, kRedisUser)) out.user = *name;
  }
  if (const Field* pf = m->Find("password_file")) ReadFilePath(*pf, kPasswordFile, out.password_file);
  if (const Field* t = m->Find("tls")) {
    // hiredis 0.14 (Debian 12) has no TLS: say so rather than send the
    // password in clear to a server the operator believes is TLS-only.
    if (std::optional<bool> on = ReadBool(*t); on && *on) {
      Report(At(*t), t->path,
             "false: this build's Redis client (hiredis 0.14, Debian 12) has no TLS; carry Redis "
             "over a TLS tunnel (stunnel, spiped or a WireGuard link) and point the region at its "
             "local end",
             "true");
    }
  }
}

void ConfigReader::ReadBuckets(const Field& f, RegionSpec& region) {
  if (!f.value.IsSequence()) {
    Report(At(f), f.path, "a sequence of buckets", Describe(f.value));
    return;
  }
  std::map<std::string, std::string> names;  // name -> first holder
  size_t i = 0;
  for (const YamlNode& item : f.value.Items()) {
    const std::string path = Index(f.path, i++);
    const std::optional<Mapping> m =
        AsMapping(item, item.Mark(), path, "a bucket mapping with a name", kBucketKeys);
    if (!m) continue;
    BucketSpec bucket;
    bucket.where = Where(item.Mark());
    if (const Field* n = Require(*m, "name", kBucketName.what)) {
      if (std::optional<std::string> name = ReadName(*n, kBucketName)) {
        auto [first, inserted] = names.emplace(*name, FirstHolder(path, Where(At(*n))));
        if (!inserted) {
          Report(At(*n), n->path,
                 "a bucket name used once in the region (" + first->second + " is '" + *name + "')",
                 Quote(*name));
        }
        bucket.name = std::move(*name);
      }
    }
    if (const Field* p = m->Find("path")) {
      if (std::optional<std::string> dir = ReadScalar(*p, "a directory path")) bucket.path = *dir;
    }
    region.buckets.push_back(std::move(bucket));
  }
}

void ConfigReader::ReadNodeGroups(const Field& f, RegionSpec& region) {
  if (!f.value.IsSequence()) {
    Report(At(f), f.path, "a sequence of node groups", Describe(f.value));
    return;
  }
  const std::string kPilotSize = "an integer 0-" + std::to_string(kMaxGroupSize);
  const std::string kProductionSize = "an integer 1-" + std::to_string(kMaxGroupSize);
  std::map<std::string, std::string> names;  // name -> first holder
  size_t i = 0;
  for (const YamlNode& item : f.value.Items()) {
    const std::string path = Index(f.path, i++);
    const std::optional<Mapping> m =
        AsMapping(item, item.Mark(), path, "a node group mapping with a name", kNodeGroupKeys);
    if (!m) continue;
    NodeGroupSpec group;
    group.where = Where(item.Mark());
    if (const Field* n = Require(*m, "name", kNodeGroupName.what)) {
      if (std::optional<std::string> name = ReadName(*n, kNodeGroupName)) {
        auto [first, inserted] = names.emplace(*name, FirstHolder(path, Where(At(*n))));
        if (!inserted) {
          Report(At(*n), n->path,
                 "a node group name used once in the region (" + first->second + " is '" + *name +
                     "')",
                 Quote(*name));
        }
        group.name = std::move(*name);
      }
    }
    // The size comparison runs only on sizes that were read without error.
    bool sizes_ok = true;
    const Field* pilot = m->Find("pilot_light_size");
    if (pilot != nullptr) {
      const std::optional<int64_t> n = ReadInteger(*pilot, 0, kMaxGroupSize, kPilotSize);
      if (n) group.pilot_light_size = static_cast<int>(*n);
      sizes_ok = sizes_ok && n.has_value();
    }
    if (const Field* p = m->Find("production_size")) {
      const std::optional<int64_t> n = ReadInteger(*p, 1, kMaxGroupSize, kProductionSize);
      if (n) group.production_size = static_cast<int>(*n);
      sizes_ok = sizes_ok && n.has_value();
    }
    if (sizes_ok && group.pilot_light_size > group.production_size) {
      Report(pilot != nullptr ? Where(At(*pilot)) : group.where, Child(path, "pilot_light_size"),
             "at most production_size (" + std::to_string(group.production_size) + ")",
             std::to_string(group.pilot_light_size));
    }
    std::optional<uint16_t> port;
    if (const Field* p = m->Find("port")) {
      port = ReadPort(*p);
      if (port) group.port = *port;
    }
    ListenOn(*m, port, group.port);
    if (const Field* t = m->Find("instance")) {
      if (std::optional<std::string> type = ReadName(*t, kInstanceType)) {
        group.instance = std::move(*type);
        group.instance_where = Where(At(*t));
      }
    }
    region.node_groups.push_back(std::move(group));
  }
}

void ConfigReader::ReadObjectives(const Field& f, Objectives& out) {
  const std::optional<Mapping> m =
      FieldMapping(f, "a mapping with the keys " + JoinKeys(kObjectivesKeys), kObjectivesKeys);
  if (!m) return;
  if (const Field* r = m->Find("rto")) {
    if (std::optional<Duration> d = ReadPositiveDuration(*r)) out.rto = *d;
  }
  const Field* rpo_field = m->Find("rpo");
  if (rpo_field == nullptr) return;
  const std::optional<Mapping> rpo =
      FieldMapping(*rpo_field, "a mapping with the optional keys " + JoinKeys(kRpoKeys), kRpoKeys);
  if (!rpo) return;
  const std::pair<std::string_view, Duration*> targets[] = {
      {"database", &out.rpo.database},
      {"objects", &out.rpo.objects},
      {"sessions", &out.rpo.sessions},
      {"artifacts", &out.rpo.artifacts},
  };
  for (const auto& [key, target] : targets) {
    if (const Field* r = rpo->Find(key)) {
      if (std::optional<Duration> d = ReadPositiveDuration(*r)) *target = *d;
    }
  }
}

void ConfigReader::ReadReplication(const Field& f, ReplicationSpec& out) {
  const std::optional<Mapping> m =
      FieldMapping(f, "a mapping with the keys " + JoinKeys(kReplicationKeys), kReplicationKeys);
  if (!m) return;
  if (const Field* s = m->Find("slot")) {
    if (std::optional<std::string> slot = ReadName(*s, kSlotName)) out.slot = *slot;
  }
  if (const Field* h = m->Find("heartbeat_interval")) {
    if (std::optional<Duration> d =
            ReadDuration(*h, milliseconds(100), seconds(60), "a duration from 100ms to 60s")) {
      out.heartbeat_interval = *d;
    }
  }
  if (const Field* l = m->Find("max_lag_on_failover")) {
    if (std::optional<Duration> d = ReadPositiveDuration(*l)) out.max_lag_on_failover = *d;
  }
}

void ConfigReader::Listen(std::string field, SourceLocation where, uint16_t port, bool defaulted) {
  if (!region_address_) return;
  listeners_.push_back({std::move(field), std::move(where), *region_address_, port, defaulted});
}

void ConfigReader::ListenOn(const Mapping& section, std::optional<uint16_t> port,
                            uint16_t default_port) {
  const Field* p = section.Find("port");
  if (p == nullptr) {
    Listen(Child(section.path, "port"), Where(section.mark), default_port, true);
  } else if (port) {
    Listen(p->path, Where(At(*p)), *port, false);
  }
}

void ConfigReader::CheckRoles(const Field& regions) {
  for (const RegionRole role : {RegionRole::kPrimary, RegionRole::kDr}) {
    const std::string expected = std::string("exactly one region with role ") + RoleName(role);
    const RoleSite* first = nullptr;
    for (const RoleSite& site : roles_) {
      if (site.role != role) continue;
      if (first == nullptr) {
        first = &site;
        continue;
      }
      Report(site.where, site.field, expected,
             std::string("a second ") + RoleName(role) + " region (" +
                 FirstHolder(first->field, first->where) + " is " + RoleName(role) + " too)");
    }
    if (first == nullptr && roles_complete_) {
      Report(At(regions), regions.path, expected,
             std::string("no region with role ") + RoleName(role));
    }
  }
}

void ConfigReader::CheckListeners() {
  std::map<std::pair<std::string, uint16_t>, const Listener*> taken;
  for (const Listener& l : listeners_) {
    auto [first, inserted] = taken.emplace(std::make_pair(l.address, l.port), &l);
    if (inserted) continue;
    const Listener& holder = *first->second;
    Report(l.where, l.field,
           "an address:port no other listener uses (" + holder.field +
               (holder.defaulted ? " (default)" : "") + " at line " +
               std::to_string(holder.where.line) + " listens there)",
           l.address + ":" + std::to_string(l.port) + (l.defaulted ? " (the default port)" : ""));
  }
}

}  // namespace pilotlight::config
