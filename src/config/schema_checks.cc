// `health_checks`: probes (http, tcp, postgres, dns) with their targets,
// schedules and vantage points, and calculated checks over other checks.
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
#include "dns/wire/name.h"

namespace pilotlight::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Every key a health check may have; which of them apply depends on its type.
constexpr std::string_view kCheckKeys[] = {
    "name",
    "type",
    "region",
    "host",
    "port",
    "interval",
    "timeout",
    "connect_timeout",
    "jitter",
    "failure_threshold",
    "success_threshold",
    "vantages",
    "unhealthy_quorum",
    "topics",
    "path",
    "https",
    "host_header",
    "status",
    "body_contains",
    "database",
    "user",
    "must_be_writable",
    "query",
    "children",
    "min_healthy",
    "inverted",
};
// The keys of every check that probes a target (all types but calculated).
constexpr std::string_view kProbeCheckKeys[] = {
    "name",
    "type",
    "region",
    "host",
    "port",
    "interval",
    "timeout",
    "connect_timeout",
    "jitter",
    "failure_threshold",
    "success_threshold",
    "vantages",
    "unhealthy_quorum",
    "topics",
};
constexpr std::string_view kHttpCheckKeys[] = {"path", "https", "host_header", "status",
                                               "body_contains"};
constexpr std::string_view kPostgresCheckKeys[] = {"database", "user", "must_be_writable"};
constexpr std::string_view kDnsCheckKeys[] = {"query"};
constexpr std::string_view kCalculatedCheckKeys[] = {"name",        "type",     "children",
                                                     "min_healthy", "inverted", "topics"};
constexpr std::string_view kCheckTypes[] = {"http", "tcp", "postgres", "dns", "calculated"};
constexpr health::ProbeKind kCheckKinds[] = {health::ProbeKind::kHttp, health::ProbeKind::kTcp,
                                             health::ProbeKind::kPostgres, health::ProbeKind::kDns,
                                             health::ProbeKind::kCalculated};
constexpr std::string_view kVantageKeys[] = {"name", "host", "port", "source_address", "site"};
constexpr int64_t kMaxThreshold = 100;  // consecutive probe results
constexpr NamePattern kVantageName{"a-z0-9", "a-z0-9_.-", 31,
                                   "a vantage point name matching [a-z0-9][a-z0-9_.-]{0,31}"};

}  // namespace

void ConfigReader::ReadChecks(const Field& f, Config& config) {
  checks_where_ = Where(At(f));
  if (IsEmptySection(f.value)) return;
  const std::optional<std::vector<Field>> items = Elements(f, "a sequence of health checks");
  if (!items) return;
  for (const Field& item : *items) ReadCheck(item, config);
}

void ConfigReader::ReadCheck(const Field& item, Config& config) {
  const std::optional<Mapping> m =
      FieldMapping(item, "a health check mapping with a name and a type", kCheckKeys);
  if (!m) return;
  health::CheckSpec check;
  const size_t index = config.detection.checks.size();
  if (const Field* n = Require(*m, "name", kCheckName.what)) {
    if (std::optional<std::string> name = ReadName(*n, kCheckName)) {
      Define(check_names_, *name, item.path, *n, "a check name");
      check.name = std::move(*name);
    }
  }
  std::optional<size_t> type;
  if (const Field* t = Require(*m, "type", "a check type: one of " + JoinKeys(kCheckTypes))) {
    type = ReadChoice(*t, kCheckTypes, "a check type");
  }
  if (type) {
    check.kind = kCheckKinds[*type];
    const std::string kind = "a " + std::string(kCheckTypes[*type]) + " check";
    std::span<const std::string_view> specific;
    if (check.kind == health::ProbeKind::kHttp) specific = kHttpCheckKeys;
    if (check.kind == health::ProbeKind::kPostgres) specific = kPostgresCheckKeys;
    if (check.kind == health::ProbeKind::kDns) specific = kDnsCheckKeys;
    if (check.kind == health::ProbeKind::kCalculated) {
      RejectKeys(*m, kCalculatedCheckKeys, {}, kind);
      ReadCalculated(*m, check);
    } else {
      RejectKeys(*m, kProbeCheckKeys, specific, kind);
      ReadProbeTarget(*m, config, check);
      ReadSchedule(*m, check);
    }
  }
  if (const Field* t = m->Find("topics")) {
    for (auto& [name, field] : ReadNames(*t, kTopicName, "a sequence of topic names")) {
      topic_refs_.push_back({name, field.path, Where(At(field)), index});
      check.topics.push_back(std::move(name));
    }
  }
  config.detection.checks.push_back(std::move(check));
  check_where_.push_back(Where(m->mark));
}

void ConfigReader::ReadProbeTarget(const Mapping& m, const Config& config,
                                   health::CheckSpec& check) {
  using health::ProbeKind;
  const RegionSpec* region = nullptr;
  const Field* region_field = m.Find("region");
  const Field* host_field = m.Find("host");
  if (region_field != nullptr && host_field != nullptr) {
    Report(host_field->key.Mark(), host_field->path, "either region or host, not both",
           "both region and host");
  } else if (region_field == nullptr && host_field == nullptr) {
    Report(m.mark, Child(m.path, "host"),
           "a target: host (an address or host name) or region (a region's address)",
           "neither host nor region");
  }
  if (region_field != nullptr) {
    if (std::optional<std::string> name = ReadName(*region_field, kRegionName)) {
      region = config.FindRegion(*name);
      if (region == nullptr) {
        std::map<std::string, std::string> regions;
        for (const RegionSpec& r : config.regions) regions.emplace(r.name, "");
        Report(At(*region_field), region_field->path,
               WithHint(Known("a region defined under regions", regions), *name, regions),
               Quote(*name));
      } else {
        check.host = region->address;
      }
    }
  }
  if (host_field != nullptr) {
    constexpr std::string_view kHost = "an IP address or host name";
    if (std::optional<std::string> host = ReadScalar(*host_field, kHost)) {
      if (IsHost(*host)) {
        check.host = std::move(*host);
      } else {
        Report(At(*host_field), host_field->path, std::string(kHost), Quote(*host));
      }
    }
  }

  if (const Field* p = m.Find("https")) {
    if (std::optional<bool> b = ReadBool(*p)) check.https = *b;
  }
  // The port: given, or the one the target's component listens on.
  if (const Field* p = m.Find("port")) {
    if (std::optional<uint16_t> port = ReadPort(*p)) check.port = *port;
  } else if (check.kind == ProbeKind::kPostgres) {
    check.port = region != nullptr ? region->postgres.port : PostgresSpec().port;
  } else if (check.kind == ProbeKind::kDns) {
    check.port = 53;
  } else if (check.kind == ProbeKind::kHttp && region == nullptr) {
    check.port = check.https ? 443 : 80;
  } else if (check.kind == ProbeKind::kHttp && region->node_groups.size() == 1) {
    check.port = region->node_groups[0].port;
  } else if (region != nullptr || region_field == nullptr) {
    const std::string why = check.kind == ProbeKind::kTcp
                                ? "a port: a tcp check has no default port"
                                : "a port: region " + region->name + " has " +
                                      std::to_string(region->node_groups.size()) +
                                      " node groups, so its HTTP port is ambiguous";
    Report(m.mark, Child(m.path, "port"), why, "no 'port' key");
  }

  switch (check.kind) {
    case ProbeKind::kHttp:
      if (const Field* p = m.Find("path")) {
        if (std::optional<std::string> path = ReadScalar(*p, "a path starting with '/'")) {
          if (path->empty() || (*path)[0] != '/' ||
              path->find_first_of(" \t\r\n") != std::string::npos) {
            Report(At(*p), p->path, "a path starting with '/', without spaces", Quote(*path));
          } else {
            check.path = std::move(*path);
          }
        }
      }
      if (const Field* h = m.Find("host_header")) {
        if (std::optional<std::string> host = ReadScalar(*h, "a host name")) {
          if (IsHost(*host)) {
            check.host_header = std::move(*host);
          } else {
            Report(At(*h), h->path, "a host name", Quote(*host));
          }
        }
      }
      if (const Field* s = m.Find("status")) {
        constexpr std::string_view kStatus = "an HTTP status or range within 100-599, e.g. 200-399";
        if (std::optional<std::string> text = ReadScalar(*s, kStatus)) {
          if (std::optional<std::pair<int, int>> range = ParseStatusRange(*text)) {
            check.status_min = range->first;
            check.status_max = range->second;
          } else {
            Report(At(*s), s->path, std::string(kStatus), Quote(*text));
          }
        }
      }
      if (const Field* b = m.Find("body_contains")) {
        constexpr std::string_view kBody = "a non-empty text of at most 5120 bytes";
        if (std::optional<std::string> text = ReadScalar(*b, kBody)) {
          if (text->empty() || text->size() > health::kHttpBodySearchBytes) {
            Report(At(*b), b->path, std::string(kBody), Quote(*text));
          } else {
            check.body_contains = std::move(*text);
          }
        }
      }
      break;
    case ProbeKind::kPostgres:
      check.pg_database = region != nullptr ? region->postgres.database : "postgres";
      if (const Field* d = m.Find("database")) {
        if (std::optional<std::string> name = ReadName(*d, kDatabaseName)) {
          check.pg_database = std::move(*name);
        }
      }
      if (const Field* u = m.Find("user")) {
        if (std::optional<std::string> user = ReadName(*u, kPostgresUser)) {
          check.pg_user = std::move(*user);
        }
      }
      if (const Field* w = m.Find("must_be_writable")) {
        if (std::optional<bool> b = ReadBool(*w)) check.must_be_writable = *b;
      }
      break;
    case ProbeKind::kDns:
      if (const Field* q = Require(m, "query", "a DNS name to query, e.g. trade.lab.")) {
        constexpr std::string_view kQuery = "a DNS name to query, e.g. trade.lab.";
        if (std::optional<std::string> name = ReadScalar(*q, kQuery)) {
          Result<dns::Name> parsed = dns::Name::FromString(*name);
          if (name->empty() || !parsed.ok()) {
            Report(
                At(*q), q->path,
                std::string(kQuery) + (parsed.ok() ? "" : " (" + parsed.status().message() + ")"),
                Quote(*name));
          } else {
            check.dns_name = std::move(*name);
          }
        }
      }
      break;
    case ProbeKind::kTcp:
    case ProbeKind::kCalculated:
      break;
  }

  if (const Field* v = m.Find("vantages")) {
    ReadVantages(*v, check);
    vantages_at_[check.name] = {Where(At(*v)), v->path};
  }
  if (const Field* q = m.Find("unhealthy_quorum")) {
    const int64_t n = std::max<int64_t>(1, static_cast<int64_t>(check.vantages.size()));
    const std::optional<int64_t> quorum =
        ReadInteger(*q, 1, n,
                    "an integer 1-" + std::to_string(n) + " (the check has " + std::to_string(n) +
                        " vantage point" + (n == 1 ? "" : "s") + ")");
    if (quorum) check.unhealthy_quorum = static_cast<int>(*quorum);
  }
}

void ConfigReader::ReadSchedule(const Mapping& m, health::CheckSpec& check) {
  const Duration kHour = std::chrono::hours(1);
  bool interval_ok = true;
  if (const Field* i = m.Find("interval")) {
    const std::optional<Duration> d =
        ReadDuration(*i, health::kMinInterval, kHour, "a duration from 100ms to 1h");
    if (d) check.interval = *d;
    interval_ok = d.has_value();
  }
  // Absent timeouts fit the interval: timeout min(1s, interval), connect_timeout
  // min(500ms, timeout).
  check.timeout = std::min(check.timeout, check.interval);
  bool timeout_ok = interval_ok;
  if (const Field* t = m.Find("timeout")) {
    const std::optional<Duration> d =
        ReadDuration(*t, Duration(1), kHour, "a duration from 1ns to 1h");
    timeout_ok = timeout_ok && d.has_value();
    if (d && interval_ok && *d > check.interval) {
      Report(At(*t), t->path, "at most the interval (" + FormatDuration(check.interval) + ")",
             Quote(t->value.Scalar()));
      timeout_ok = false;
    } else if (d) {
      check.timeout = *d;
    }
  }
  check.connect_timeout = std::min(check.connect_timeout, check.timeout);
  if (const Field* c = m.Find("connect_timeout")) {
    const std::optional<Duration> d =
        ReadDuration(*c, Duration(1), kHour, "a duration from 1ns to 1h");
    if (d && timeout_ok && *d > check.timeout) {
      Report(At(*c), c->path, "at most the timeout (" + FormatDuration(check.timeout) + ")",
             Quote(c->value.Scalar()));
    } else if (d) {
      check.connect_timeout = *d;
    }
  }
  if (const Field* j = m.Find("jitter")) {
    const std::optional<Duration> d =
        ReadDuration(*j, Duration(0), kHour, "a duration from 0 to 1h");
    if (d && interval_ok && *d > check.interval) {
      Report(At(*j), j->path, "at most the interval (" + FormatDuration(check.interval) + ")",
             Quote(j->value.Scalar()));
    } else if (d) {
      check.jitter = *d;
    }
  }
  const std::string kThreshold = "an integer 1-" + std::to_string(kMaxThreshold);
  if (const Field* f = m.Find("failure_threshold")) {
    if (std::optional<int64_t> n = ReadInteger(*f, 1, kMaxThreshold, kThreshold)) {
      check.failure_threshold = static_cast<int>(*n);
    }
  }
  if (const Field* s = m.Find("success_threshold")) {
    if (std::optional<int64_t> n = ReadInteger(*s, 1, kMaxThreshold, kThreshold)) {
      check.success_threshold = static_cast<int>(*n);
    }
  }
}

void ConfigReader::ReadVantages(const Field& f, health::CheckSpec& check) {
  const std::optional<std::vector<Field>> items = Elements(
      f, "a sequence of vantage points such as {name: witness, source_address: 127.0.3.1}");
  if (!items) return;
  std::map<std::string, std::string> names;
  for (const Field& item : *items) {
    const std::optional<Mapping> m =
        FieldMapping(item, "a vantage point mapping with a name", kVantageKeys);
    if (!m) continue;
    health::VantageSpec v;
    if (const Field* n = Require(*m, "name", kVantageName.what)) {
      if (std::optional<std::string> name = ReadName(*n, kVantageName)) {
        Define(names, *name, item.path, *n, "a vantage point name");
        v.name = std::move(*name);
      }
    }
    if (const Field* h = m->Find("host")) {
      if (std::optional<std::string> host = ReadScalar(*h, "an IP address or host name")) {
        if (IsHost(*host)) {
          v.host = std::move(*host);
        } else {
          Report(At(*h), h->path, "an IP address or host name", Quote(*host));
        }
      }
    }
    if (const Field* p = m->Find("port")) {
      if (std::optional<uint16_t> port = ReadPort(*p)) v.port = *port;
    }
    if (const Field* s = m->Find("site")) {
      if (std::optional<std::string> site = ReadName(*s, kVantageName)) v.site = std::move(*site);
    }
    if (const Field* s = m->Find("source_address")) {
      constexpr std::string_view kSource = "a local IP address to send probes from";
      if (std::optional<std::string> address = ReadScalar(*s, kSource)) {
        if (IsIpAddress(*address)) {
          v.source_address = std::move(*address);
        } else {
          Report(At(*s), s->path, std::string(kSource), Quote(*address));
        }
      }
    }
    check.vantages.push_back(std::move(v));
  }
}

void ConfigReader::ReadCalculated(const Mapping& m, health::CheckSpec& check) {
  const size_t index = check_where_.size();
  if (const Field* c = Require(m, "children", "a non-empty sequence of check names")) {
    if (c->value.IsSequence() && c->value.size() == 0) {
      Report(At(*c), c->path, "a non-empty sequence of check names", "an empty sequence");
    }
    for (auto& [name, field] : ReadNames(*c, kCheckName, "a non-empty sequence of check names")) {
      child_refs_.push_back({name, field.path, Where(At(field)), index});
      check.children.push_back(std::move(name));
    }
  }
  if (const Field* n = m.Find("min_healthy")) {
    const int64_t children = static_cast<int64_t>(check.children.size());
    const std::optional<int64_t> min =
        ReadInteger(*n, 0, children,
                    "an integer 0-" + std::to_string(children) + " (0: all " +
                        std::to_string(children) + " children must be healthy)");
    if (min) check.min_healthy_children = static_cast<int>(*min);
  }
  if (const Field* i = m.Find("inverted")) {
    if (std::optional<bool> b = ReadBool(*i)) check.inverted = *b;
  }
}

}  // namespace pilotlight::config
