// The YAML adapter of the config loader: the only file that includes yaml-cpp.
//
// yaml-cpp parses the text into a node tree; a ConfigReader then walks that tree
// along the schema, recording a ConfigError (with the current field path) for
// every problem and carrying on, so one run reports everything. Every yaml-cpp
// exception stops here. The walk only descends as deep as the schema, so
// self-referencing aliases (`&a [*a]`) cannot make it loop. Names one section
// gives another (topics, checks, children) are resolved once all are read;
// then the detection's and the DNS zone compiler's own validators run, and what
// they refuse is reported at the item it concerns.
#include "config/loader.h"
#include "sys/whole_file.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "core/duration.h"
#include "dns/update/tsig.h"
#include "dns/wire/message.h"
#include "dns/wire/name.h"
#include "dns/zone/zone.h"
#include "dns/zonefile/zone_file.h"

namespace pilotlight::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kTopKeys[] = {
    "platform", "regions",   "objectives", "replication", "health_checks", "alarms",
    "topics",   "detection", "dns",        "runbooks",    "cost",          "controller",
    "responsibilities",
};
constexpr std::string_view kResponsibilityKeys[] = {"task", "owner", "frequency", "kind"};
constexpr std::string_view kFrequencies[] = {"daily",      "weekly",   "monthly",   "quarterly",
                                             "biannually", "annually", "continuous"};
// The drill scenarios a responsibility may be done by (issue 8), and "manual".
constexpr std::string_view kTaskKinds[] = {"manual",       "region-outage",     "db-crash",
                                           "app-crash",    "network-partition", "gray-failure",
                                           "replica-lag"};
constexpr size_t kMaxTaskChars = 100;
constexpr std::string_view kRegionKeys[] = {"name",  "role",    "address",     "postgres",
                                            "redis", "buckets", "node_groups", "resources"};
constexpr std::string_view kPostgresKeys[] = {"port", "database"};
constexpr std::string_view kRedisKeys[] = {"port"};
constexpr std::string_view kBucketKeys[] = {"name", "path"};
constexpr std::string_view kNodeGroupKeys[] = {"name", "pilot_light_size", "production_size",
                                               "port", "instance"};
constexpr std::string_view kResourcesKeys[] = {"database", "object_storage_gb", "backup_storage_gb",
                                               "replicated_gb_per_month"};
constexpr std::string_view kDatabaseResourceKeys[] = {"instance", "count", "storage_gb"};
constexpr std::string_view kCostKeys[] = {"dns", "warm_standby_percent", "recovery_model"};
constexpr std::string_view kCostDnsKeys[] = {"hosted_zones", "health_checks"};
constexpr std::string_view kRecoveryModelKeys[] = {
    "detection", "dns_switch", "backup_interval", "provision", "restore", "scale_up", "promote"};
constexpr std::string_view kObjectivesKeys[] = {"rto", "rpo"};
constexpr std::string_view kRpoKeys[] = {"database", "objects", "sessions", "artifacts"};
constexpr std::string_view kReplicationKeys[] = {"slot", "heartbeat_interval",
                                                 "max_lag_on_failover"};
constexpr std::string_view kRoleNames[] = {"primary", "dr"};
constexpr std::string_view kDetectionKeys[] = {"alarm_evaluation_interval"};
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
constexpr std::string_view kAlarmKeys[] = {
    "name",
    "description",
    "metric",
    "check",
    "statistic",
    "period",
    "comparison",
    "threshold",
    "evaluation_periods",
    "datapoints_to_alarm",
    "treat_missing_data",
    "topics",
};
// In the order of the alarm enums.
constexpr std::string_view kStatistics[] = {"avg", "min", "max", "sum", "count", "p99"};
constexpr std::string_view kComparisons[] = {">=", ">", "<", "<="};
constexpr std::string_view kMissingData[] = {"missing", "ignore", "breaching", "notBreaching"};
constexpr std::string_view kTopicKeys[] = {"name", "subscribers"};
constexpr std::string_view kSubscriberKeys[] = {"name",     "type",        "url",     "secret_env",
                                                "ca_file",  "command",     "path",    "timeout",
                                                "backoff",  "deadline",    "queue_limit"};
constexpr std::string_view kSubscriberCommonKeys[] = {"name",    "type",     "timeout",
                                                      "backoff", "deadline", "queue_limit"};
constexpr std::string_view kSubscriberTypes[] = {"webhook", "exec", "file"};
constexpr notify::SubscriberKind kSubscriberKinds[] = {
    notify::SubscriberKind::kWebhook, notify::SubscriberKind::kExec, notify::SubscriberKind::kFile};
constexpr std::string_view kBackoffKeys[] = {"initial", "max"};
constexpr std::string_view kDnsKeys[] = {"listen", "reload_interval", "zones", "publishers"};
constexpr std::string_view kZoneKeys[] = {"origin", "ttl", "ns", "soa", "records"};
constexpr std::string_view kSoaKeys[] = {"mname", "rname",  "serial",  "refresh",
                                         "retry", "expire", "minimum", "ttl"};
constexpr std::string_view kRecordKeys[] = {"name",   "type",     "ttl",     "value",
                                            "values", "failover", "weighted"};
constexpr std::string_view kRecordTypes[] = {"A", "AAAA", "CNAME", "TXT", "MX", "PTR"};
constexpr std::string_view kFailoverKeys[] = {"primary", "secondary"};
constexpr std::string_view kFailoverSetKeys[] = {"health_check", "value", "values"};
constexpr std::string_view kWeightedSetKeys[] = {"id", "weight", "health_check", "value", "values"};
constexpr std::string_view kPublisherKeys[] = {"server",  "zone",     "tsig",
                                               "timeout", "attempts", "backoff"};
constexpr std::string_view kTsigKeys[] = {"name", "algorithm", "secret_file"};
constexpr std::string_view kTsigAlgorithms[] = {"hmac-sha256"};

constexpr std::string_view kControllerKeys[] = {
    "mode",           "primary_check", "quorum",
    "confirm_for",    "hold_down",     "failed_run_backoff",
    "cycle_interval", "state_dir",     "events_topic",
    "lease",          "gates",         "dns",
    "compute",        "scaling",       "leader_election",
    "site",           "probe_agents",  "unsafe_single_vantage"};
constexpr std::string_view kProbeAgentKeys[] = {"site", "listen"};
// In the order of ControllerMode.
constexpr std::string_view kControllerModes[] = {"automatic", "approval", "observe-only"};
constexpr std::string_view kLeaseKeys[] = {"listen", "duration", "safety_margin"};
constexpr std::string_view kLeaderElectionKeys[] = {"etcd", "key", "ttl"};
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
constexpr std::string_view kStepKeys[] = {"name",    "kind",    "timeout",
                                          "retries", "backoff", "params"};
constexpr std::string_view kStepKinds[] = {
    "scale",  "fence",    "promote",          "dns",        "replicate", "notify",
    "exec",   "wait_healthy", "approve",
    // failback (controller/failback_actions.cc)
    "rejoin", "sync_objects", "validate_standby", "switchover", "dns_shift"};
// The parameters each step kind reads (controller/actions.cc).
constexpr std::string_view kScaleParams[] = {"region", "group", "size", "until"};
constexpr std::string_view kRegionParams[] = {"region"};
constexpr std::string_view kDnsParams[] = {"record", "to"};
constexpr std::string_view kReplicateParams[] = {"replicator", "action", "command", "done_check"};
constexpr std::string_view kNotifyParams[] = {"topic", "message"};
constexpr std::string_view kExecParams[] = {"command", "done_check"};
constexpr std::string_view kWaitHealthyParams[] = {"region", "group", "url"};
constexpr std::string_view kRegionFromParams[] = {"region", "from"};
constexpr std::string_view kFromToParams[] = {"from", "to"};
constexpr std::string_view kDnsShiftParams[] = {"record", "steps", "pause"};
// The topic the controller always publishes its events to (with an events file).
constexpr std::string_view kBuiltInEventsTopic = "controller";

constexpr int64_t kMaxThreshold = 100;  // consecutive probe results
constexpr int64_t kMaxEvaluationPeriods = 1000;
constexpr int64_t kMaxQueueLimit = 1'000'000;
constexpr int64_t kMaxTtl = 2147483647;  // RFC 2181
constexpr int64_t kMaxU32 = 4294967295;
constexpr int64_t kMaxPublishAttempts = 10;

constexpr int64_t kMaxGroupSize = 10'000;
// Bounds that keep every cost estimate far from integer overflow.
constexpr int64_t kMaxGigabytes = 100'000'000;  // 100 PB
constexpr int64_t kMaxDatabaseInstances = 100;
constexpr int64_t kMaxCountedItems = 10'000;  // DNS zones, health checks
constexpr size_t kMaxShownChars = 40;
// Only the first document is used; the scan for more stops after this many.
constexpr int kMaxScannedDocuments = 16;

// ---------------------------------------------------------------------------
// Pure helpers: no YAML here.

// A name rule such as [a-z][a-z0-9-]{0,31}: a first character from `first`,
// then at most `max_rest` characters from `rest`. Classes are written like
// regex brackets without the brackets ("a-z0-9-"; a trailing '-' is literal).
struct NamePattern {
  std::string_view first;
  std::string_view rest;
  size_t max_rest;
  std::string_view what;  // "a region name matching [a-z][a-z0-9-]{0,31}"
};

constexpr NamePattern kRegionName{"a-z", "a-z0-9-", 31,
                                  "a region name matching [a-z][a-z0-9-]{0,31}"};
constexpr NamePattern kNodeGroupName{"a-z", "a-z0-9-", 31,
                                     "a node group name matching [a-z][a-z0-9-]{0,31}"};
constexpr NamePattern kDatabaseName{"a-z_", "a-z0-9_", 62,
                                    "a database name matching [a-z_][a-z0-9_]{0,62}"};
constexpr NamePattern kBucketName{"a-z0-9", "a-z0-9.-", 62,
                                  "a bucket name matching [a-z0-9][a-z0-9.-]{0,62}"};
constexpr NamePattern kSlotName{"a-z0-9_", "a-z0-9_", 62,
                                "a replication slot name matching [a-z0-9_]{1,63}"};
constexpr NamePattern kInstanceType{
    "a-zA-Z0-9", "a-zA-Z0-9._-", 63,
    "an instance type such as m5.large, matching [A-Za-z0-9][A-Za-z0-9._-]{0,63}"};
constexpr NamePattern kCheckName{"a-z", "a-z0-9_.-", 62,
                                 "a check name matching [a-z][a-z0-9_.-]{0,62}"};
constexpr NamePattern kVantageName{"a-z0-9", "a-z0-9_.-", 31,
                                   "a vantage point name matching [a-z0-9][a-z0-9_.-]{0,31}"};
constexpr NamePattern kAlarmName{"a-z", "a-z0-9_.-", 62,
                                 "an alarm name matching [a-z][a-z0-9_.-]{0,62}"};
constexpr NamePattern kTopicName{"a-z", "a-z0-9_.-", 62,
                                 "a topic name matching [a-z][a-z0-9_.-]{0,62}"};
constexpr NamePattern kSubscriberName{"a-z", "a-z0-9_.-", 62,
                                      "a subscriber name matching [a-z][a-z0-9_.-]{0,62}"};
constexpr NamePattern kSetId{"a-zA-Z0-9", "a-zA-Z0-9_-", 31,
                             "a set id matching [A-Za-z0-9][A-Za-z0-9_-]{0,31}"};
constexpr NamePattern kEnvName{"A-Za-z_", "A-Za-z0-9_", 127,
                               "an environment variable name matching [A-Za-z_][A-Za-z0-9_]*"};
constexpr NamePattern kRunbookName{"a-z", "a-z0-9_.-", 62,
                                   "a runbook name matching [a-z][a-z0-9_.-]{0,62}"};
constexpr NamePattern kReleaseName{"a-z", "a-z0-9_.-", 62,
                                   "a release name matching [a-z][a-z0-9_.-]{0,62}"};
constexpr NamePattern kPostgresUser{"a-z_", "a-z0-9_", 62,
                                    "a PostgreSQL user matching [a-z_][a-z0-9_]{0,62}"};

bool InClass(char c, std::string_view cls) {
  for (size_t i = 0; i < cls.size(); ++i) {
    if (i + 2 < cls.size() && cls[i + 1] == '-') {
      if (c >= cls[i] && c <= cls[i + 2]) return true;
      i += 2;
    } else if (c == cls[i]) {
      return true;
    }
  }
  return false;
}

bool Matches(std::string_view s, const NamePattern& p) {
  if (s.empty() || s.size() > p.max_rest + 1 || !InClass(s[0], p.first)) return false;
  return std::all_of(s.begin() + 1, s.end(), [&](char c) { return InClass(c, p.rest); });
}

// Dotted-quad IPv4, each part 0-255 written in decimal without leading zeros.
bool IsIpv4(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (true) {
    const size_t start = i;
    int value = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3) {
      value = value * 10 + (s[i] - '0');
      ++i;
    }
    const size_t len = i - start;
    if (len == 0 || value > 255 || (len > 1 && s[start] == '0')) return false;
    ++parts;
    if (i == s.size()) return parts == 4;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
}

// A plain decimal integer, optionally negative; nullopt for anything else
// (including 1.5, 0x10, 1e3) and for values beyond +-10^18.
std::optional<int64_t> ParseInteger(std::string_view s) {
  const bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return negative ? -value : value;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The closest of `known` within edit distance 2 of `word`, or "".
std::string_view Suggest(std::string_view word, std::span<const std::string_view> known) {
  std::string_view best;
  size_t best_distance = 3;
  for (std::string_view k : known) {
    const size_t gap = word.size() > k.size() ? word.size() - k.size() : k.size() - word.size();
    if (gap >= best_distance) continue;  // also keeps the work small for huge keys
    const size_t d = EditDistance(word, k);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  return best;
}

std::string JoinKeys(std::span<const std::string_view> keys) {
  std::string out;
  for (std::string_view k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

// `text` shortened, with control bytes escaped so a hostile file cannot drive
// the operator's terminal.
std::string Escape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == kMaxShownChars) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string Quote(std::string_view text) { return "'" + Escape(text) + "'"; }

// "expected a duration such as 5s, found 'x'" -> "a duration such as 5s".
std::string DurationExpectation(const Status& status) {
  std::string_view message = status.message();
  constexpr std::string_view kExpected = "expected ";
  if (message.substr(0, kExpected.size()) == kExpected) {
    message.remove_prefix(kExpected.size());
    const size_t found = message.rfind(", found ");
    if (found != std::string_view::npos) message = message.substr(0, found);
    return std::string(message);
  }
  // "duration '60' needs a unit ..." -> "'60' needs a unit ...".
  constexpr std::string_view kSubject = "duration ";
  if (message.substr(0, kSubject.size()) == kSubject) message.remove_prefix(kSubject.size());
  return "a valid duration (" + std::string(message) + ")";
}

bool IsIpv6(std::string_view s) {
  if (s.find(':') == std::string_view::npos || s.size() > 45) return false;
  in6_addr a;
  return inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

bool IsIpAddress(std::string_view s) { return IsIpv4(s) || IsIpv6(s); }

// An IP literal, or a host name of letters, digits and hyphens in dot-separated
// labels (RFC 1123). Digits and dots alone must form an IPv4 address.
bool IsHost(std::string_view s) {
  if (IsIpAddress(s)) return true;
  if (s.empty() || s.size() > 253) return false;
  if (s.find_first_not_of("0123456789.") == std::string_view::npos) return false;
  size_t label = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && label > 0)) return false;
    if (++label > 63) return false;
  }
  return label == 0 || s.back() != '-';
}

// "ADDRESS:PORT" with an IPv4 address or a bracketed IPv6 one; with
// `default_port`, the port may be left out. nullopt when malformed.
std::optional<ListenAddress> ParseHostPort(std::string_view text,
                                           std::optional<uint16_t> default_port) {
  ListenAddress out;
  std::string_view address = text;
  std::string_view port;
  bool has_port = false;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    address = text.substr(1, close - 1);
    if (!IsIpv6(address)) return std::nullopt;
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return std::nullopt;
      port = rest.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      address = text.substr(0, colon);
      port = text.substr(colon + 1);
      has_port = true;
    }
    if (!IsIpv4(address)) return std::nullopt;
  }
  out.address = std::string(address);
  if (!has_port) {
    if (!default_port) return std::nullopt;
    out.port = *default_port;
    return out;
  }
  const std::optional<int64_t> p = ParseInteger(port);
  if (!p || *p < 1 || *p > 65535 || port[0] == '-') return std::nullopt;
  out.port = static_cast<uint16_t>(*p);
  return out;
}

// Why `url` is no webhook URL the notifier can post to ("" when it is one):
// http://HOST[:PORT][/PATH], as notify::Notifier accepts.
std::string WebhookUrlProblem(std::string_view url) {
  const bool https = url.substr(0, 8) == "https://";
  const std::string_view kScheme = https ? "https://" : "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return "an http:// or https:// URL";
  std::string_view rest = url.substr(kScheme.size());
  rest = rest.substr(0, rest.find('/'));
  if (rest.empty()) return "an http:// URL with a host";
  if (rest.find_first_of(" \t\r\n") != std::string_view::npos)
    return "an http:// URL without spaces";
  std::optional<ListenAddress> hp;
  if (rest[0] == '[') {
    hp = ParseHostPort(rest, 80);
  } else {
    const size_t colon = rest.rfind(':');
    const std::string_view host = rest.substr(0, colon);
    if (!IsHost(host)) return "an http:// URL with a valid host";
    if (colon != std::string_view::npos) {
      const std::optional<int64_t> p = ParseInteger(rest.substr(colon + 1));
      if (!p || *p < 1 || *p > 65535 || rest[colon + 1] == '-') {
        return "an http:// URL with a port 1-65535";
      }
    }
    return "";
  }
  return hp ? "" : "an http:// URL with a valid host and port";
}

// A finite decimal number such as 1, -0.5 or 2.5e3; nullopt otherwise.
std::optional<double> ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 64 ||
      s.find_first_not_of("0123456789+-.eE") != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string text(s);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

bool IsMetricNameChar(char c, bool first) {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return letter || c == ':' || (!first && c >= '0' && c <= '9');
}

// A metric in Prometheus notation: name{label="value",...}. Why it is not one
// goes to `problem`.
std::optional<alarm::MetricKey> ParseMetric(std::string_view text, std::string& problem) {
  size_t i = 0;
  while (i < text.size() && IsMetricNameChar(text[i], i == 0)) ++i;
  if (i == 0) {
    problem = "a metric name matching [a-zA-Z_:][a-zA-Z0-9_:]*";
    return std::nullopt;
  }
  const std::string name(text.substr(0, i));
  std::vector<std::pair<std::string, std::string>> labels;
  if (i == text.size()) return alarm::MetricKey(name, {});
  problem = "a metric such as name{label=\"value\"}";
  if (text[i] != '{' || text.back() != '}') return std::nullopt;
  ++i;
  while (i < text.size() && text[i] != '}') {
    const size_t start = i;
    while (i < text.size() && (text[i] == '_' || (text[i] >= 'a' && text[i] <= 'z') ||
                               (text[i] >= 'A' && text[i] <= 'Z') ||
                               (i > start && text[i] >= '0' && text[i] <= '9'))) {
      ++i;
    }
    if (i == start || i + 1 >= text.size() || text[i] != '=' || text[i + 1] != '"') {
      return std::nullopt;
    }
    const std::string label(text.substr(start, i - start));
    i += 2;
    std::string value;
    while (i < text.size() && text[i] != '"') {
      if (text[i] == '\\' && i + 1 < text.size()) {
        ++i;
        value += text[i] == 'n' ? '\n' : text[i];
      } else {
        value += text[i];
      }
      ++i;
    }
    if (i >= text.size()) return std::nullopt;
    ++i;  // the closing quote
    for (const auto& [k, v] : labels) {
      if (k == label) return std::nullopt;
    }
    labels.emplace_back(label, std::move(value));
    if (i < text.size() && text[i] == ',') ++i;
  }
  if (i + 1 != text.size()) return std::nullopt;
  problem.clear();
  return alarm::MetricKey(name, std::move(labels));
}

// "200-399" or "200": an HTTP status range within 100-599.
std::optional<std::pair<int, int>> ParseStatusRange(std::string_view s) {
  const size_t dash = s.find('-');
  const std::optional<int64_t> lo = ParseInteger(s.substr(0, dash));
  const std::optional<int64_t> hi =
      dash == std::string_view::npos ? lo : ParseInteger(s.substr(dash + 1));
  if (!lo || !hi || *lo < 100 || *hi > 599 || *lo > *hi || (dash == 0)) return std::nullopt;
  return std::make_pair(static_cast<int>(*lo), static_cast<int>(*hi));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = dns::AsciiLower(c);
  return out;
}

// "the names under topics (ops, pager)", or that there are none, for a failed lookup.
std::string Known(std::string_view what, const std::map<std::string, std::string>& names) {
  if (names.empty()) return std::string(what) + " (none is defined)";
  std::string out = std::string(what) + " (";
  size_t n = 0;
  for (const auto& [name, holder] : names) {
    if (n++ == 5) {
      out += ", ...";
      break;
    }
    out += (n > 1 ? ", " : "") + name;
  }
  return out + ")";
}

// `expected`, with a did-you-mean for `word` among `names` when one is close.
std::string WithHint(std::string expected, std::string_view word,
                     const std::map<std::string, std::string>& names) {
  std::vector<std::string_view> known;
  for (const auto& [name, holder] : names) known.push_back(name);
  const std::string_view hint = Suggest(word, known);
  if (!hint.empty()) expected += " (did you mean '" + std::string(hint) + "'?)";
  return expected;
}

// ---------------------------------------------------------------------------
// The schema walk.

// One entry of a mapping: the key, its value and the path naming it.
struct Field {
  std::string path;  // "regions[1].postgres.port"
  YAML::Node key;
  YAML::Node value;
};

// A mapping whose keys were checked: each entry is an allowed key, seen once.
struct Mapping {
  std::string path;
  YAML::Mark mark;
  std::vector<Field> fields;

  const Field* Find(std::string_view key) const {
    for (const Field& f : fields) {
      if (f.key.Scalar() == key) return &f;
    }
    return nullptr;
  }
};

// A port somebody listens on, for the address:port collision check.
struct Listener {
  std::string field;
  SourceLocation where;
  std::string address;
  uint16_t port;
  bool defaulted;  // the port key is absent: the model's default applies
};

std::string Child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// yaml-cpp marks are 0-based; ours are 1-based, 0 meaning unknown.
SourceLocation WhereIn(const std::string& file, const YAML::Mark& m) {
  if (m.line < 0 || m.column < 0) return {file, 0, 0};
  return {file, m.line + 1, m.column + 1};
}

bool IsEmptySection(const YAML::Node& v) {
  return v.IsNull() || ((v.IsSequence() || v.IsMap()) && v.size() == 0);
}

// What a node is, for `found`: 'abc', null, a sequence, a mapping.
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// Walks one document along the schema, filling a Config and recording errors.
// Single use: construct, call Read(), take the errors.
class ConfigReader {
 public:
  explicit ConfigReader(const std::string& file) : file_(file) {}

  Config Read(const YAML::Node& root);
  std::vector<ConfigError> TakeErrors() { return std::move(errors_); }

  SourceLocation Where(const YAML::Mark& mark) const { return WhereIn(file_, mark); }

  void Report(const YAML::Mark& at, std::string field, std::string expected, std::string found) {
    Report(Where(at), std::move(field), std::move(expected), std::move(found));
  }
  void Report(SourceLocation where, std::string field, std::string expected, std::string found) {
    errors_.push_back({std::move(where), std::move(field), std::move(expected), std::move(found)});
  }

 private:
  // An empty value (`key:`) gets its mark from the next token, often on the
  // next line; the key's own position is where the operator should look.
  static YAML::Mark At(const Field& f) { return f.value.IsNull() ? f.key.Mark() : f.value.Mark(); }

  // Checks that `node` is a mapping of allowed, unique, scalar keys. Bad
  // entries are reported and left out; nullopt when `node` is no mapping.
  std::optional<Mapping> AsMapping(const YAML::Node& node, const YAML::Mark& at,
                                   const std::string& path, std::string_view what,
                                   std::span<const std::string_view> allowed);
  // As AsMapping, for the value of a field.
  std::optional<Mapping> FieldMapping(const Field& f, std::string_view what,
                                      std::span<const std::string_view> allowed) {
    return AsMapping(f.value, At(f), f.path, what, allowed);
  }
  // Reports a missing required key; returns the field when present.
  const Field* Require(const Mapping& m, std::string_view key, std::string_view expected);

  std::optional<std::string> ReadScalar(const Field& f, std::string_view expected);
  std::optional<std::string> ReadName(const Field& f, const NamePattern& pattern);
  std::optional<int64_t> ReadInteger(const Field& f, int64_t min, int64_t max,
                                     std::string_view expected);
  std::optional<uint16_t> ReadPort(const Field& f);
  // A duration in [min, max]; `expected` describes that range.
  std::optional<Duration> ReadDuration(const Field& f, Duration min, Duration max,
                                       std::string_view expected);
  std::optional<Duration> ReadPositiveDuration(const Field& f) {
    return ReadDuration(f, Duration(1), Duration::max(), "a duration greater than 0, e.g. 60s");
  }

  void ReadRegions(const Field& f, Config& config);
  void ReadRegion(const YAML::Node& node, const std::string& path, Config& config);
  void ReadPostgres(const Field& f, PostgresSpec& out);
  void ReadRedis(const Field& f, RedisSpec& out);
  void ReadBuckets(const Field& f, RegionSpec& region);
  void ReadNodeGroups(const Field& f, RegionSpec& region);
  void ReadObjectives(const Field& f, Objectives& out);
  void ReadReplication(const Field& f, ReplicationSpec& out);
  void ReadResources(const Field& f, RegionResources& out);
  void ReadCost(const Field& f, CostSpec& out);
  // The controller's policy and runbooks; read after every other section.
  void ReadController(const Field& f, Config& config);
  void ReadControllerLease(const Field& f, ControllerConfig& c);
  void ReadControllerLeaderElection(const Field& f, ControllerConfig& c);
  void ReadControllerGates(const Field& f, Config& config);
  void ReadControllerCompute(const Field& f, ControllerConfig& c);
  void ReadControllerScaling(const Field& f, Config& config);
  // A DNS record name; one of the config's zones when it has some.
  void ReadControllerRecord(const Field& f, const Config& config, std::string& out);
  void ReadRunbooks(const Field& f, Config& config);
  void ReadResponsibilities(const Field& f, Config& config);
  // A non-empty line of printable text of at most kMaxTaskChars characters.
  std::optional<std::string> ReadText(const Field& f, std::string_view expected);
  std::optional<RunbookStepConfig> ReadStep(const Field& item, const Config& config,
                                            std::map<std::string, std::string>& names);
  static std::span<const std::string_view> StepParamKeys(const std::string& kind);
  // Checks the parameters of a step whose params mapping is well formed.
  void CheckStepParams(const RunbookStepConfig& step, const Mapping& params, const Config& config);
  bool KnownTopic(const std::string& name, const Config& config) const;
  std::string TopicExpectation(const std::string& name) const;

  // Records that `field` listens on `port` of the region being read. `where` is
  // the port's own position, or its section's when the port is defaulted.
  void Listen(std::string field, SourceLocation where, uint16_t port, bool defaulted);
  // For a section with a port key: listens on the key's value when it is a
  // valid port, on `default_port` when the key is absent.
  void ListenOn(const Mapping& section, std::optional<uint16_t> port, uint16_t default_port);

  void CheckRoles(const Field& regions);
  void CheckListeners();
  // Safety rule 3: the controller's primary check is voted on by two sites
  // outside the primary region, and the quorum is not 1, unless the operator
  // wrote controller.unsafe_single_vantage: true.
  void CheckVantageSites(const Config& config);

  // Detection and DNS. Read after the regions (a check may name a region);
  // names they refer to are resolved by CheckReferences once all are read.
  void ReadChecks(const Field& f, Config& config);
  void ReadCheck(const Field& item, Config& config);
  void ReadProbeTarget(const Mapping& m, const Config& config, health::CheckSpec& check);
  void ReadSchedule(const Mapping& m, health::CheckSpec& check);
  void ReadVantages(const Field& f, health::CheckSpec& check);
  void ReadCalculated(const Mapping& m, health::CheckSpec& check);
  void ReadAlarms(const Field& f, Config& config);
  void ReadAlarm(const Field& item, Config& config);
  void ReadTopics(const Field& f, Config& config);
  void ReadTopic(const Field& item, Config& config);
  void ReadSubscriber(const Field& item, size_t topic, size_t index,
                      std::map<std::string, std::string>& names, Config& config,
                      notify::SubscriberSpec& out);
  void ReadDetection(const Field& f, health::DetectionSpec& out);
  void ReadDns(const Field& f, DnsSpec& out);
  void ReadZone(const Field& item, std::map<std::string, std::string>& origins, DnsSpec& out);
  std::optional<dns::RrsetSpec> ReadRecord(const Field& item,
                                           const std::optional<dns::Name>& origin,
                                           std::map<std::string, std::string>& owners);
  // One alternative of a record set: `weighted` ones carry an id and a weight.
  std::optional<dns::RecordSetSpec> ReadRecordSet(const Field& f, bool weighted,
                                                  std::optional<uint16_t> type,
                                                  const std::optional<dns::Name>& origin);
  // `value` or `values` of `m`, each valid record data of `type`.
  std::vector<std::string> ReadValues(const Mapping& m, std::optional<uint16_t> type,
                                      const std::optional<dns::Name>& origin);
  void ReadPublishers(const Field& f, DnsSpec& out);
  void CheckReferences(Config& config);
  // Runs the detection's own validator and reports what it finds that the
  // walk did not, at the item it names.
  void ValidateDetectionSemantics(const Config& config);

  std::optional<bool> ReadBool(const Field& f);
  // The index of the value among `choices`; `what` names them ("a check type").
  std::optional<size_t> ReadChoice(const Field& f, std::span<const std::string_view> choices,
                                   std::string_view what);
  // The elements of a sequence field, each as a Field named path[i]; reports a
  // value that is no sequence.
  std::optional<std::vector<Field>> Elements(const Field& f, std::string_view what);
  // A non-empty sequence of names, or reports why not.
  std::vector<std::pair<std::string, Field>> ReadNames(const Field& f, const NamePattern& pattern,
                                                       std::string_view what);
  // Records `name` (of the item at `item_path`) in `holders`; reports a second use.
  void Define(std::map<std::string, std::string>& holders, const std::string& name,
              const std::string& item_path, const Field& f, std::string_view what);
  // Resolves a relative path against the config file's directory.
  std::string ResolvePath(const std::string& path) const;
  // Keys of `m` outside `allowed` do not apply to the item's `kind`.
  void RejectKeys(const Mapping& m, std::span<const std::string_view> allowed,
                  std::span<const std::string_view> also, const std::string& kind);

  // A name an item refers to, checked once every section has been read.
  struct Reference {
    std::string name;
    std::string field;
    SourceLocation where;
    size_t owner = 0;  // children: index of the calculated check
  };
  std::map<std::string, std::string> check_names_;  // name -> first holder
  struct Located {
    SourceLocation where;
    std::string field;
  };
  std::map<std::string, Located> vantages_at_;  // check name -> its vantages field
  std::optional<Located> quorum_at_;            // controller.quorum
  std::map<std::string, std::string> topic_names_;
  std::map<std::string, std::string> alarm_names_;
  std::vector<Reference> topic_refs_;
  std::vector<Reference> check_refs_;  // alarms' checks, DNS health checks
  std::vector<Reference> child_refs_;
  // Where each item of config.detection's vectors starts, index for index.
  std::vector<SourceLocation> check_where_;
  std::vector<SourceLocation> alarm_where_;
  std::vector<SourceLocation> topic_where_;
  SourceLocation checks_where_, alarms_where_, topics_where_, detection_where_;

  // A region's role, kept for the exactly-one-of-each check.
  struct RoleSite {
    RegionRole role;
    std::string field;
    SourceLocation where;
  };

  std::string file_;
  std::vector<ConfigError> errors_;
  std::vector<RoleSite> roles_;
  // False when some region's role is missing or invalid: counting roles would
  // then add a misleading second error.
  bool roles_complete_ = true;
  // The region being read; no address when it was missing or invalid, so its
  // listeners are not checked against others.
  std::optional<std::string> region_address_;
  std::vector<Listener> listeners_;
  std::map<std::string, std::string> region_names_;  // name -> "regions[0] at line 6"
};

std::optional<Mapping> ConfigReader::AsMapping(const YAML::Node& node, const YAML::Mark& at,
                                               const std::string& path, std::string_view what,
                                               std::span<const std::string_view> allowed) {
  if (!node.IsMap()) {
    Report(at, path, std::string(what), Describe(node));
    return std::nullopt;
  }
  Mapping m{path, node.Mark(), {}};
  for (auto it = node.begin(); it != node.end(); ++it) {
    // Copies: the iterator hands out a temporary pair (Node is a cheap handle).
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) {
      Report(key.Mark(), path, "a plain key such as '" + std::string(allowed.front()) + "'",
             Describe(key) + " as a key");
      continue;
    }
    const std::string& name = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string expected = "one of the keys " + JoinKeys(allowed);
      const std::string_view hint = Suggest(name, allowed);
      if (!hint.empty()) expected += " (did you mean '" + std::string(hint) + "'?)";
      Report(key.Mark(), Child(path, Escape(name)), std::move(expected),
             "unknown key " + Quote(name));
      continue;
    }
    const std::string field_path = Child(path, name);
    if (const Field* first = m.Find(name)) {
      Report(key.Mark(), field_path,
             "each key at most once (first '" + name + "' at line " +
                 std::to_string(Where(first->key.Mark()).line) + ")",
             "a second '" + name + "'");
      continue;
    }
    m.fields.push_back({field_path, key, value});
  }
  return m;
}

const Field* ConfigReader::Require(const Mapping& m, std::string_view key,
                                   std::string_view expected) {
  const Field* f = m.Find(key);
  if (f == nullptr) {
    Report(m.mark, Child(m.path, key), std::string(expected), "no '" + std::string(key) + "' key");
  }
  return f;
}

std::optional<std::string> ConfigReader::ReadScalar(const Field& f, std::string_view expected) {
  if (!f.value.IsScalar()) {
    Report(At(f), f.path, std::string(expected), Describe(f.value));
    return std::nullopt;
  }
  return f.value.Scalar();
}

std::optional<std::string> ConfigReader::ReadName(const Field& f, const NamePattern& pattern) {
  std::optional<std::string> text = ReadScalar(f, pattern.what);
  if (text && !Matches(*text, pattern)) {
    Report(At(f), f.path, std::string(pattern.what), Quote(*text));
    return std::nullopt;
  }
  return text;
}

std::optional<int64_t> ConfigReader::ReadInteger(const Field& f, int64_t min, int64_t max,
                                                 std::string_view expected) {
  std::optional<std::string> text = ReadScalar(f, expected);
  if (!text) return std::nullopt;
  const std::optional<int64_t> value = ParseInteger(*text);
  if (!value || *value < min || *value > max) {
    Report(At(f), f.path, std::string(expected), Quote(*text));
    return std::nullopt;
  }
  return value;
}

std::optional<uint16_t> ConfigReader::ReadPort(const Field& f) {
  const std::optional<int64_t> port = ReadInteger(f, 1, 65535, "an integer port 1-65535");
  if (!port) return std::nullopt;
  return static_cast<uint16_t>(*port);
}

std::optional<Duration> ConfigReader::ReadDuration(const Field& f, Duration min, Duration max,
                                                   std::string_view expected) {
  std::optional<std::string> text = ReadScalar(f, "a duration such as 500ms, 5s, 15m or 1h");
  if (!text) return std::nullopt;
  Result<Duration> d = ParseDuration(*text);
  if (!d.ok()) {
    Report(At(f), f.path, DurationExpectation(d.status()), Quote(*text));
    return std::nullopt;
  }
  if (*d < min || *d > max) {
    Report(At(f), f.path, std::string(expected), Quote(*text));
    return std::nullopt;
  }
  return *d;
}

Config ConfigReader::Read(const YAML::Node& root) {
  Config config;
  config.file = file_;
  const std::optional<Mapping> top =
      AsMapping(root, root.Mark(), "", "a mapping with the keys platform and regions", kTopKeys);
  if (!top) return config;

  if (const Field* f = Require(*top, "platform", "a non-empty platform name")) {
    if (std::optional<std::string> name = ReadScalar(*f, "a non-empty platform name")) {
      if (name->empty()) {
        Report(At(*f), f->path, "a non-empty platform name", "''");
      } else {
        config.platform = std::move(*name);
      }
    }
  }
  if (const Field* f = Require(*top, "regions", "a sequence of regions")) {
    ReadRegions(*f, config);
  }
  if (const Field* f = top->Find("objectives")) ReadObjectives(*f, config.objectives);
  if (const Field* f = top->Find("replication")) ReadReplication(*f, config.replication);
  if (const Field* f = top->Find("cost")) ReadCost(*f, config.cost);
  if (const Field* f = top->Find("health_checks")) ReadChecks(*f, config);
  if (const Field* f = top->Find("alarms")) ReadAlarms(*f, config);
  if (const Field* f = top->Find("topics")) ReadTopics(*f, config);
  if (const Field* f = top->Find("detection")) ReadDetection(*f, config.detection);
  if (const Field* f = top->Find("dns")) ReadDns(*f, config.dns);
  if (const Field* f = top->Find("controller")) ReadController(*f, config);
  if (const Field* f = top->Find("runbooks")) ReadRunbooks(*f, config);
  if (const Field* f = top->Find("responsibilities")) ReadResponsibilities(*f, config);
  CheckReferences(config);
  CheckListeners();
  CheckVantageSites(config);
  if (errors_.empty()) ValidateDetectionSemantics(config);
  return config;
}

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
    constexpr std::string_view kOwnerText = "an owner (a team or person) of 1-100 printable "
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
  for (auto it = f.value.begin(); it != f.value.end(); ++it, ++i) {
    const YAML::Node item = *it;
    ReadRegion(item, Index(f.path, i), config);
  }
  CheckRoles(f);
}

// "regions[0] at line 6": how a later duplicate names the first holder.
std::string FirstHolder(const std::string& path, const SourceLocation& where) {
  return path + " at line " + std::to_string(where.line);
}

void ConfigReader::ReadRegion(const YAML::Node& node, const std::string& path, Config& config) {
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
}

void ConfigReader::ReadRedis(const Field& f, RedisSpec& out) {
  const std::optional<Mapping> m =
      FieldMapping(f, "a mapping with the key " + JoinKeys(kRedisKeys), kRedisKeys);
  if (!m) return;
  std::optional<uint16_t> port;
  if (const Field* p = m->Find("port")) {
    port = ReadPort(*p);
    if (port) out.port = *port;
  }
  ListenOn(*m, port, out.port);
}

void ConfigReader::ReadBuckets(const Field& f, RegionSpec& region) {
  if (!f.value.IsSequence()) {
    Report(At(f), f.path, "a sequence of buckets", Describe(f.value));
    return;
  }
  std::map<std::string, std::string> names;  // name -> first holder
  size_t i = 0;
  for (auto it = f.value.begin(); it != f.value.end(); ++it, ++i) {
    const YAML::Node item = *it;
    const std::string path = Index(f.path, i);
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
  for (auto it = f.value.begin(); it != f.value.end(); ++it, ++i) {
    const YAML::Node item = *it;
    const std::string path = Index(f.path, i);
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

void ConfigReader::ReadResources(const Field& f, RegionResources& out) {
  const std::optional<Mapping> m = FieldMapping(
      f, "a mapping with the optional keys " + JoinKeys(kResourcesKeys), kResourcesKeys);
  if (!m) return;
  out.where = Where(m->mark);
  const std::string kGigabytes = "a whole number of GB 0-" + std::to_string(kMaxGigabytes);
  if (const Field* d = m->Find("database")) {
    const std::optional<Mapping> db =
        FieldMapping(*d,
                     "a database mapping with an instance class and the optional keys count, "
                     "storage_gb",
                     kDatabaseResourceKeys);
    if (db) {
      out.database_present = true;
      if (const Field* t = Require(*db, "instance", kInstanceType.what)) {
        if (std::optional<std::string> type = ReadName(*t, kInstanceType)) {
          out.database.instance = std::move(*type);
          out.database.instance_where = Where(At(*t));
        }
      }
      if (const Field* c = db->Find("count")) {
        const std::optional<int64_t> n = ReadInteger(
            *c, 1, kMaxDatabaseInstances, "an integer 1-" + std::to_string(kMaxDatabaseInstances));
        if (n) out.database.count = static_cast<int>(*n);
      }
      if (const Field* g = db->Find("storage_gb")) {
        if (std::optional<int64_t> n = ReadInteger(*g, 0, kMaxGigabytes, kGigabytes)) {
          out.database.storage_gb = *n;
        }
      }
    }
  }
  const std::pair<std::string_view, int64_t*> sizes[] = {
      {"object_storage_gb", &out.object_storage_gb},
      {"backup_storage_gb", &out.backup_storage_gb},
      {"replicated_gb_per_month", &out.replicated_gb_per_month},
  };
  for (const auto& [key, target] : sizes) {
    if (const Field* g = m->Find(key)) {
      if (std::optional<int64_t> n = ReadInteger(*g, 0, kMaxGigabytes, kGigabytes)) *target = *n;
    }
  }
}

void ConfigReader::ReadCost(const Field& f, CostSpec& out) {
  const std::optional<Mapping> m =
      FieldMapping(f, "a mapping with the optional keys " + JoinKeys(kCostKeys), kCostKeys);
  if (!m) return;
  const std::string kCount = "an integer 0-" + std::to_string(kMaxCountedItems);
  if (const Field* d = m->Find("dns")) {
    const std::optional<Mapping> dns = FieldMapping(
        *d, "a mapping with the optional keys " + JoinKeys(kCostDnsKeys), kCostDnsKeys);
    if (dns) {
      if (const Field* z = dns->Find("hosted_zones")) {
        if (std::optional<int64_t> n = ReadInteger(*z, 0, kMaxCountedItems, kCount)) {
          out.hosted_zones = static_cast<int>(*n);
        }
      }
      if (const Field* h = dns->Find("health_checks")) {
        if (std::optional<int64_t> n = ReadInteger(*h, 0, kMaxCountedItems, kCount)) {
          out.health_checks = static_cast<int>(*n);
        }
      }
    }
  }
  if (const Field* w = m->Find("warm_standby_percent")) {
    if (std::optional<int64_t> n = ReadInteger(*w, 1, 100, "an integer percentage 1-100")) {
      out.warm_standby_percent = static_cast<int>(*n);
    }
  }
  const Field* model_field = m->Find("recovery_model");
  if (model_field == nullptr) return;
  const std::optional<Mapping> model =
      FieldMapping(*model_field, "a mapping with the optional keys " + JoinKeys(kRecoveryModelKeys),
                   kRecoveryModelKeys);
  if (!model) return;
  RecoveryModel& r = out.recovery;
  // Every step may take no time at all (an operator who measured it), but
  // backups must happen at some interval.
  const std::pair<std::string_view, Duration*> steps[] = {
      {"detection", &r.detection}, {"dns_switch", &r.dns_switch}, {"provision", &r.provision},
      {"restore", &r.restore},     {"scale_up", &r.scale_up},     {"promote", &r.promote},
  };
  const Duration kMaxStep = std::chrono::hours(24 * 365);
  for (const auto& [key, target] : steps) {
    if (const Field* s = model->Find(key)) {
      if (std::optional<Duration> d =
              ReadDuration(*s, Duration(0), kMaxStep, "a duration from 0 to 8760h")) {
        *target = *d;
      }
    }
  }
  if (const Field* b = model->Find("backup_interval")) {
    if (std::optional<Duration> d =
            ReadDuration(*b, Duration(1), kMaxStep, "a duration greater than 0, up to 8760h")) {
      r.backup_interval = *d;
    }
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

// ---------------------------------------------------------------------------
// Detection: health checks, alarms, topics.

std::optional<bool> ConfigReader::ReadBool(const Field& f) {
  std::optional<std::string> text = ReadScalar(f, "true or false");
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  Report(At(f), f.path, "true or false", Quote(*text));
  return std::nullopt;
}

std::optional<size_t> ConfigReader::ReadChoice(const Field& f,
                                               std::span<const std::string_view> choices,
                                               std::string_view what) {
  const std::string expected = std::string(what) + ": one of " + JoinKeys(choices);
  std::optional<std::string> text = ReadScalar(f, expected);
  if (!text) return std::nullopt;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i] == *text) return i;
  }
  std::string with_hint = expected;
  const std::string_view hint = Suggest(*text, choices);
  if (!hint.empty()) with_hint += " (did you mean '" + std::string(hint) + "'?)";
  Report(At(f), f.path, std::move(with_hint), Quote(*text));
  return std::nullopt;
}

std::optional<std::vector<Field>> ConfigReader::Elements(const Field& f, std::string_view what) {
  if (!f.value.IsSequence()) {
    Report(At(f), f.path, std::string(what), Describe(f.value));
    return std::nullopt;
  }
  std::vector<Field> out;
  size_t i = 0;
  for (auto it = f.value.begin(); it != f.value.end(); ++it, ++i) {
    const YAML::Node item = *it;
    // A null element (`- `) is reported at the sequence, like an empty value at its key.
    out.push_back({Index(f.path, i), item.IsNull() ? f.value : item, item});
  }
  return out;
}

std::vector<std::pair<std::string, Field>> ConfigReader::ReadNames(const Field& f,
                                                                   const NamePattern& pattern,
                                                                   std::string_view what) {
  std::vector<std::pair<std::string, Field>> out;
  const std::optional<std::vector<Field>> items = Elements(f, what);
  if (!items) return out;
  for (const Field& item : *items) {
    if (std::optional<std::string> name = ReadName(item, pattern)) out.emplace_back(*name, item);
  }
  return out;
}

void ConfigReader::Define(std::map<std::string, std::string>& holders, const std::string& name,
                          const std::string& item_path, const Field& f, std::string_view what) {
  auto [first, inserted] = holders.emplace(name, FirstHolder(item_path, Where(At(f))));
  if (!inserted) {
    Report(At(f), f.path,
           std::string(what) + " used once (" + first->second + " is '" + name + "')", Quote(name));
  }
}

std::string ConfigReader::ResolvePath(const std::string& path) const {
  const std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  const std::filesystem::path dir = std::filesystem::path(file_).parent_path();
  return dir.empty() ? path : (dir / p).lexically_normal().string();
}

void ConfigReader::RejectKeys(const Mapping& m, std::span<const std::string_view> allowed,
                              std::span<const std::string_view> also, const std::string& kind) {
  for (const Field& f : m.fields) {
    const std::string& key = f.key.Scalar();
    const auto in = [&key](std::span<const std::string_view> keys) {
      return std::find(keys.begin(), keys.end(), key) != keys.end();
    };
    if (in(allowed) || in(also)) continue;
    std::string keys = JoinKeys(allowed);
    if (!also.empty()) keys += ", " + JoinKeys(also);
    Report(f.key.Mark(), f.path, "a key of " + kind + ": " + keys,
           Quote(key) + ", which does not apply to " + kind);
  }
}

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

void ConfigReader::ReadAlarms(const Field& f, Config& config) {
  alarms_where_ = Where(At(f));
  if (IsEmptySection(f.value)) return;
  const std::optional<std::vector<Field>> items = Elements(f, "a sequence of alarms");
  if (!items) return;
  for (const Field& item : *items) ReadAlarm(item, config);
}

void ConfigReader::ReadAlarm(const Field& item, Config& config) {
  const std::optional<Mapping> m =
      FieldMapping(item, "an alarm mapping with a name and a metric or a check", kAlarmKeys);
  if (!m) return;
  alarm::AlarmSpec a;
  const size_t index = config.detection.alarms.size();
  if (const Field* n = Require(*m, "name", kAlarmName.what)) {
    if (std::optional<std::string> name = ReadName(*n, kAlarmName)) {
      Define(alarm_names_, *name, item.path, *n, "an alarm name");
      a.name = std::move(*name);
    }
  }
  if (const Field* d = m->Find("description")) {
    if (std::optional<std::string> text = ReadScalar(*d, "a description")) a.description = *text;
  }
  const Field* metric = m->Find("metric");
  const Field* check = m->Find("check");
  if (metric != nullptr && check != nullptr) {
    Report(check->key.Mark(), check->path, "either metric or check, not both",
           "both metric and check");
  } else if (metric == nullptr && check == nullptr) {
    Report(m->mark, Child(m->path, "metric"),
           "a metric (metric: name{label=\"value\"}) or a check (check: NAME)",
           "neither metric nor check");
  }
  if (check != nullptr) {
    // An alarm on a check fires while the check is unhealthy, unless told otherwise.
    a.statistic = alarm::Statistic::kMinimum;
    a.comparison = alarm::Comparison::kLess;
    a.threshold = 1;
    if (std::optional<std::string> name = ReadName(*check, kCheckName)) {
      check_refs_.push_back({*name, check->path, Where(At(*check)), index});
      a.metric = health::CheckHealthyMetric(*name);
    }
  }
  if (metric != nullptr) {
    constexpr std::string_view kMetric = "a metric such as name{label=\"value\"}";
    if (std::optional<std::string> text = ReadScalar(*metric, kMetric)) {
      std::string problem;
      if (std::optional<alarm::MetricKey> key = ParseMetric(*text, problem)) {
        // A check's status metric must name a check that exists.
        const alarm::MetricKey probe = health::CheckHealthyMetric("x");
        if (key->name == probe.name) {
          for (const auto& [label, value] : key->labels) {
            if (label == "check") {
              check_refs_.push_back({value, metric->path, Where(At(*metric)), index});
            }
          }
        }
        a.metric = std::move(*key);
      } else {
        Report(At(*metric), metric->path, problem, Quote(*text));
      }
    }
  }
  if (const Field* s = m->Find("statistic")) {
    if (std::optional<size_t> i = ReadChoice(*s, kStatistics, "a statistic")) {
      a.statistic = static_cast<alarm::Statistic>(*i);
    }
  }
  if (const Field* c = m->Find("comparison")) {
    if (std::optional<size_t> i = ReadChoice(*c, kComparisons, "a comparison")) {
      a.comparison = static_cast<alarm::Comparison>(*i);
    }
  }
  if (const Field* t = m->Find("treat_missing_data")) {
    if (std::optional<size_t> i = ReadChoice(*t, kMissingData, "a missing-data treatment")) {
      a.missing_data = static_cast<alarm::MissingData>(*i);
    }
  }
  if (const Field* p = m->Find("period")) {
    const std::optional<Duration> d = ReadDuration(
        *p, std::chrono::milliseconds(100), std::chrono::hours(24), "a duration from 100ms to 24h");
    if (d) a.period = *d;
  }
  if (const Field* t = m->Find("threshold")) {
    constexpr std::string_view kNumber = "a finite number such as 1 or 0.5";
    if (std::optional<std::string> text = ReadScalar(*t, kNumber)) {
      if (std::optional<double> v = ParseNumber(*text)) {
        a.threshold = *v;
      } else {
        Report(At(*t), t->path, std::string(kNumber), Quote(*text));
      }
    }
  }
  const std::string kPeriods = "an integer 1-" + std::to_string(kMaxEvaluationPeriods);
  bool periods_ok = true;
  if (const Field* e = m->Find("evaluation_periods")) {
    const std::optional<int64_t> n = ReadInteger(*e, 1, kMaxEvaluationPeriods, kPeriods);
    if (n) a.evaluation_periods = static_cast<int>(*n);
    periods_ok = n.has_value();
  }
  if (const Field* d = m->Find("datapoints_to_alarm")) {
    const std::optional<int64_t> n = ReadInteger(*d, 1, kMaxEvaluationPeriods, kPeriods);
    if (n && periods_ok && *n > a.evaluation_periods) {
      Report(At(*d), d->path,
             "at most evaluation_periods (" + std::to_string(a.evaluation_periods) + ")",
             Quote(d->value.Scalar()));
    } else if (n) {
      a.datapoints_to_alarm = static_cast<int>(*n);
    }
  }
  if (const Field* t = m->Find("topics")) {
    for (auto& [name, field] : ReadNames(*t, kTopicName, "a sequence of topic names")) {
      topic_refs_.push_back({name, field.path, Where(At(field)), index});
      a.topics.push_back(std::move(name));
    }
  }
  config.detection.alarms.push_back(std::move(a));
  alarm_where_.push_back(Where(m->mark));
}

void ConfigReader::ReadTopics(const Field& f, Config& config) {
  topics_where_ = Where(At(f));
  if (IsEmptySection(f.value)) return;
  const std::optional<std::vector<Field>> items = Elements(f, "a sequence of topics");
  if (!items) return;
  for (const Field& item : *items) ReadTopic(item, config);
}

void ConfigReader::ReadTopic(const Field& item, Config& config) {
  const std::optional<Mapping> m =
      FieldMapping(item, "a topic mapping with a name and subscribers", kTopicKeys);
  if (!m) return;
  notify::TopicSpec topic;
  const size_t index = config.detection.topics.size();
  if (const Field* n = Require(*m, "name", kTopicName.what)) {
    if (std::optional<std::string> name = ReadName(*n, kTopicName)) {
      Define(topic_names_, *name, item.path, *n, "a topic name");
      topic.name = std::move(*name);
    }
  }
  if (const Field* s = m->Find("subscribers")) {
    if (!IsEmptySection(s->value)) {
      if (std::optional<std::vector<Field>> subs = Elements(*s, "a sequence of subscribers")) {
        std::map<std::string, std::string> names;
        for (const Field& sub : *subs) {
          notify::SubscriberSpec spec;
          ReadSubscriber(sub, index, topic.subscribers.size(), names, config, spec);
          topic.subscribers.push_back(std::move(spec));
        }
      }
    }
  }
  config.detection.topics.push_back(std::move(topic));
  topic_where_.push_back(Where(m->mark));
}

void ConfigReader::ReadSubscriber(const Field& item, size_t topic, size_t index,
                                  std::map<std::string, std::string>& names, Config& config,
                                  notify::SubscriberSpec& out) {
  const std::optional<Mapping> m = FieldMapping(
      item, "a subscriber mapping with a name and a type (webhook, exec or file)", kSubscriberKeys);
  if (!m) return;
  if (const Field* n = Require(*m, "name", kSubscriberName.what)) {
    if (std::optional<std::string> name = ReadName(*n, kSubscriberName)) {
      Define(names, *name, item.path, *n, "a subscriber name in the topic");
      out.name = std::move(*name);
    }
  }
  std::optional<size_t> type;
  if (const Field* t =
          Require(*m, "type", "a subscriber type: one of " + JoinKeys(kSubscriberTypes))) {
    type = ReadChoice(*t, kSubscriberTypes, "a subscriber type");
  }
  if (type) {
    out.kind = kSubscriberKinds[*type];
    const std::string kind = "a " + std::string(kSubscriberTypes[*type]) + " subscriber";
    switch (out.kind) {
      case notify::SubscriberKind::kWebhook: {
        constexpr std::string_view kKeys[] = {"url", "secret_env", "ca_file"};
        RejectKeys(*m, kSubscriberCommonKeys, kKeys, kind);
        if (const Field* u = Require(*m, "url", "an http:// URL")) {
          if (std::optional<std::string> url = ReadScalar(*u, "an http:// URL")) {
            const std::string problem = WebhookUrlProblem(*url);
            if (problem.empty()) {
              out.url = std::move(*url);
            } else {
              Report(At(*u), u->path, problem, Quote(*url));
            }
          }
        }
        if (const Field* f = m->Find("ca_file")) {
          constexpr std::string_view kCa = "a PEM file of CA certificates (https:// URLs only)";
          if (std::optional<std::string> path = ReadScalar(*f, kCa)) {
            if (path->empty() || out.url.rfind("https://", 0) != 0) {
              Report(At(*f), f->path, std::string(kCa), Quote(*path));
            } else {
              out.ca_file = ResolvePath(*path);
            }
          }
        }
        if (const Field* e = m->Find("secret_env")) {
          if (std::optional<std::string> env = ReadName(*e, kEnvName)) {
            config.webhook_secrets.push_back({topic, index, *env, e->path, Where(At(*e))});
          }
        }
        break;
      }
      case notify::SubscriberKind::kExec: {
        constexpr std::string_view kKeys[] = {"command"};
        RejectKeys(*m, kSubscriberCommonKeys, kKeys, kind);
        constexpr std::string_view kCommand =
            "a command as a non-empty sequence: program, then arguments";
        if (const Field* c = Require(*m, "command", kCommand)) {
          if (std::optional<std::vector<Field>> args = Elements(*c, kCommand)) {
            if (args->empty()) Report(At(*c), c->path, std::string(kCommand), "an empty sequence");
            for (const Field& arg : *args) {
              std::optional<std::string> text = ReadScalar(arg, "a program or argument");
              if (!text) continue;
              if (out.command.empty() && text->empty()) {
                Report(At(arg), arg.path, "a program name or path", "''");
              }
              out.command.push_back(std::move(*text));
            }
          }
        }
        break;
      }
      case notify::SubscriberKind::kFile: {
        constexpr std::string_view kKeys[] = {"path"};
        RejectKeys(*m, kSubscriberCommonKeys, kKeys, kind);
        constexpr std::string_view kPath =
            "a file path (relative paths start at the config file's directory)";
        if (const Field* p = Require(*m, "path", kPath)) {
          if (std::optional<std::string> path = ReadScalar(*p, kPath)) {
            if (path->empty() || path->back() == '/') {
              Report(At(*p), p->path, std::string(kPath), Quote(*path));
            } else {
              out.path = ResolvePath(*path);
            }
          }
        }
        break;
      }
    }
  }
  const Duration kHour = std::chrono::hours(1);
  if (const Field* t = m->Find("timeout")) {
    if (auto d =
            ReadDuration(*t, std::chrono::milliseconds(1), kHour, "a duration from 1ms to 1h")) {
      out.timeout = *d;
    }
  }
  if (const Field* d = m->Find("deadline")) {
    if (auto v = ReadDuration(*d, std::chrono::milliseconds(1), std::chrono::hours(24 * 7),
                              "a duration from 1ms to 168h")) {
      out.deadline = *v;
    }
  }
  if (const Field* q = m->Find("queue_limit")) {
    if (auto n =
            ReadInteger(*q, 1, kMaxQueueLimit, "an integer 1-" + std::to_string(kMaxQueueLimit))) {
      out.queue_limit = static_cast<size_t>(*n);
    }
  }
  if (const Field* b = m->Find("backoff")) {
    const std::optional<Mapping> backoff = FieldMapping(
        *b, "a mapping with the optional keys " + JoinKeys(kBackoffKeys), kBackoffKeys);
    if (backoff) {
      bool initial_ok = true;
      if (const Field* i = backoff->Find("initial")) {
        auto d = ReadDuration(*i, std::chrono::milliseconds(1), kHour, "a duration from 1ms to 1h");
        if (d) out.initial_backoff = *d;
        initial_ok = d.has_value();
      }
      if (const Field* x = backoff->Find("max")) {
        auto d = ReadDuration(*x, std::chrono::milliseconds(1), kHour, "a duration from 1ms to 1h");
        if (d && initial_ok && *d < out.initial_backoff) {
          Report(At(*x), x->path,
                 "at least the initial backoff (" + FormatDuration(out.initial_backoff) + ")",
                 Quote(x->value.Scalar()));
        } else if (d) {
          out.max_backoff = *d;
        }
      } else if (out.max_backoff < out.initial_backoff) {
        out.max_backoff = out.initial_backoff;
      }
    }
  }
}

void ConfigReader::ReadDetection(const Field& f, health::DetectionSpec& out) {
  detection_where_ = Where(At(f));
  if (f.value.IsNull()) return;
  const std::optional<Mapping> m = FieldMapping(
      f, "a mapping with the optional key " + JoinKeys(kDetectionKeys), kDetectionKeys);
  if (!m) return;
  if (const Field* i = m->Find("alarm_evaluation_interval")) {
    if (auto d = ReadDuration(*i, std::chrono::milliseconds(10), std::chrono::minutes(1),
                              "a duration from 10ms to 1m")) {
      out.alarm_evaluation_interval = *d;
    }
  }
}

void ConfigReader::CheckReferences(Config& config) {
  health::DetectionSpec& d = config.detection;
  for (const Reference& r : topic_refs_) {
    if (topic_names_.count(r.name) > 0) continue;
    Report(r.where, r.field,
           WithHint(Known("a topic defined under topics", topic_names_), r.name, topic_names_),
           Quote(r.name));
  }
  for (const Reference& r : check_refs_) {
    if (check_names_.count(r.name) > 0) continue;
    Report(
        r.where, r.field,
        WithHint(Known("a check defined under health_checks", check_names_), r.name, check_names_),
        Quote(r.name));
  }
  // Children: each names a check, and calculated checks form no cycle.
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < d.checks.size(); ++i) index.emplace(d.checks[i].name, i);
  std::vector<std::vector<const Reference*>> edges(d.checks.size());
  for (const Reference& r : child_refs_) {
    auto it = index.find(r.name);
    if (it == index.end()) {
      Report(r.where, r.field,
             WithHint(Known("a check defined under health_checks", check_names_), r.name,
                      check_names_),
             Quote(r.name));
      continue;
    }
    if (r.owner < edges.size()) edges[r.owner].push_back(&r);
  }
  // Depth-first: 1 = on the current path, 2 = done. The first edge back into
  // the path closes a cycle; one report names it.
  std::vector<int> mark(d.checks.size(), 0);
  std::vector<size_t> path;
  bool reported = false;
  std::function<void(size_t)> visit = [&](size_t i) {
    mark[i] = 1;
    path.push_back(i);
    for (const Reference* r : edges[i]) {
      const size_t child = index.at(r->name);
      if (mark[child] == 1 && !reported) {
        std::string cycle;
        const auto from = std::find(path.begin(), path.end(), child);
        for (auto it = from; it != path.end(); ++it) cycle += d.checks[*it].name + " -> ";
        cycle += d.checks[child].name;
        Report(r->where, r->field, "children that form no cycle of calculated checks",
               "the cycle " + cycle);
        reported = true;
      } else if (mark[child] == 0) {
        visit(child);
      }
    }
    path.pop_back();
    mark[i] = 2;
  };
  for (size_t i = 0; i < d.checks.size(); ++i) {
    if (mark[i] == 0) visit(i);
  }
}

void ConfigReader::ValidateDetectionSemantics(const Config& config) {
  const Status st = health::ValidateDetection(config.detection);
  if (st.ok()) return;
  // Lines look like "health_checks[2] (name).timeout: expected ..." or a sentence.
  std::istringstream lines(st.message());
  std::string line;
  while (std::getline(lines, line)) {
    const size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos) continue;
    line = line.substr(start);
    if (line.find(" error(s) in ") != std::string::npos && line.back() == ':') continue;
    const std::pair<std::string_view, const std::vector<SourceLocation>*> sections[] = {
        {"health_checks[", &check_where_}, {"alarms[", &alarm_where_}, {"topics[", &topic_where_}};
    SourceLocation where = detection_where_.line > 0 ? detection_where_ : checks_where_;
    std::string field;
    std::string message = line;
    for (const auto& [prefix, locations] : sections) {
      if (line.rfind(prefix, 0) != 0) continue;
      const size_t close = line.find(']');
      const std::optional<int64_t> i =
          ParseInteger(std::string_view(line).substr(prefix.size(), close - prefix.size()));
      if (i && *i >= 0 && static_cast<size_t>(*i) < locations->size()) where = (*locations)[*i];
      const size_t colon = line.find(": ");
      if (colon != std::string::npos) {
        field = line.substr(0, colon);
        message = line.substr(colon + 2);
        const size_t name = field.find(" (");
        const size_t name_end = field.find(')', name);
        if (name != std::string::npos && name_end != std::string::npos) {
          field.erase(name, name_end - name + 1);
        }
      }
    }
    constexpr std::string_view kExpected = "expected ";
    if (message.rfind(kExpected, 0) == 0) message.erase(0, kExpected.size());
    Report(where, field, message, "a value the detection validator refuses");
  }
}

// ---------------------------------------------------------------------------
// DNS: the embedded server's zones and listen address, and RFC 2136 publishers.

void ConfigReader::ReadDns(const Field& f, DnsSpec& out) {
  out.where = Where(At(f));
  if (f.value.IsNull()) return;
  const std::optional<Mapping> m =
      FieldMapping(f, "a mapping with the optional keys " + JoinKeys(kDnsKeys), kDnsKeys);
  if (!m) return;
  if (const Field* l = m->Find("listen")) {
    constexpr std::string_view kListen = "ADDRESS:PORT, e.g. 127.0.3.1:53 or [::1]:53";
    if (std::optional<std::string> text = ReadScalar(*l, kListen)) {
      if (std::optional<ListenAddress> a = ParseHostPort(*text, std::nullopt)) {
        out.listen = *a;
        listeners_.push_back({l->path, Where(At(*l)), a->address, a->port, false});
      } else {
        Report(At(*l), l->path, std::string(kListen), Quote(*text));
      }
    }
  }
  if (const Field* r = m->Find("reload_interval")) {
    if (auto d = ReadDuration(*r, std::chrono::milliseconds(10), std::chrono::hours(1),
                              "a duration from 10ms to 1h")) {
      out.reload_interval = *d;
    }
  }
  if (const Field* z = m->Find("zones")) {
    if (!IsEmptySection(z->value)) {
      if (std::optional<std::vector<Field>> zones = Elements(*z, "a sequence of zones")) {
        std::map<std::string, std::string> origins;
        for (const Field& item : *zones) ReadZone(item, origins, out);
      }
    }
  }
  if (const Field* p = m->Find("publishers")) ReadPublishers(*p, out);
}

void ConfigReader::ReadZone(const Field& item, std::map<std::string, std::string>& origins,
                            DnsSpec& out) {
  const std::optional<Mapping> m =
      FieldMapping(item, "a zone mapping with an origin and name servers (ns)", kZoneKeys);
  if (!m) return;
  const size_t errors_before = errors_.size();
  dns::ZoneSpec zone;
  std::optional<dns::Name> origin;
  constexpr std::string_view kOrigin = "a zone name such as pilotlight.test.";
  if (const Field* o = Require(*m, "origin", kOrigin)) {
    if (std::optional<std::string> text = ReadScalar(*o, kOrigin)) {
      std::string absolute = *text;
      if (!absolute.empty() && absolute.back() != '.') absolute += '.';
      Result<dns::Name> name = dns::Name::FromString(absolute);
      if (text->empty() || !name.ok()) {
        Report(At(*o), o->path,
               std::string(kOrigin) + (name.ok() ? "" : " (" + name.status().message() + ")"),
               Quote(*text));
      } else {
        origin = *name;
        zone.origin = absolute;
        Define(origins, Lower(name->ToString()), item.path, *o, "a zone origin");
      }
    }
  }
  const std::string kTtl = "a TTL in seconds, 0-" + std::to_string(kMaxTtl);
  if (const Field* t = m->Find("ttl")) {
    if (auto n = ReadInteger(*t, 0, kMaxTtl, kTtl)) zone.default_ttl = static_cast<uint32_t>(*n);
  }
  // A name relative to the origin, or absolute; `field` is where it was written.
  const auto read_name = [&](const Field& field,
                             std::string_view what) -> std::optional<std::string> {
    std::optional<std::string> text = ReadScalar(field, what);
    if (!text || !origin) return std::nullopt;
    Result<dns::Name> name = dns::Name::FromString(*text, &*origin);
    if (text->empty() || !name.ok()) {
      Report(At(field), field.path,
             std::string(what) + (name.ok() ? "" : " (" + name.status().message() + ")"),
             Quote(*text));
      return std::nullopt;
    }
    return text;
  };
  constexpr std::string_view kNs = "a name server's name, e.g. ns1";
  if (const Field* ns = Require(*m, "ns", "the zone's name servers, e.g. [ns1]")) {
    if (ns->value.IsScalar()) {
      if (std::optional<std::string> name = read_name(*ns, kNs)) zone.nameservers.push_back(*name);
    } else if (std::optional<std::vector<Field>> names =
                   Elements(*ns, "a name server or a sequence of them, e.g. [ns1]")) {
      if (names->empty())
        Report(At(*ns), ns->path, "at least one name server", "an empty sequence");
      for (const Field& n : *names) {
        if (std::optional<std::string> name = read_name(n, kNs)) zone.nameservers.push_back(*name);
      }
    }
  }
  if (const Field* s = m->Find("soa")) {
    const std::optional<Mapping> soa =
        FieldMapping(*s, "a mapping with the optional keys " + JoinKeys(kSoaKeys), kSoaKeys);
    if (soa) {
      if (const Field* n = soa->Find("mname")) {
        if (auto name = read_name(*n, "the primary name server's name")) zone.soa.mname = *name;
      }
      if (const Field* n = soa->Find("rname")) {
        if (auto name = read_name(*n, "a mailbox as a name, e.g. hostmaster"))
          zone.soa.rname = *name;
      }
      if (const Field* n = soa->Find("serial")) {
        if (auto v = ReadInteger(*n, 0, kMaxU32, "an integer 0-" + std::to_string(kMaxU32))) {
          zone.soa.serial = static_cast<uint32_t>(*v);
        }
      }
      const std::pair<std::string_view, uint32_t*> times[] = {
          {"refresh", &zone.soa.refresh},
          {"retry", &zone.soa.retry},
          {"expire", &zone.soa.expire},
          {"minimum", &zone.soa.minimum},
      };
      for (const auto& [key, target] : times) {
        if (const Field* n = soa->Find(key)) {
          if (auto v = ReadInteger(*n, 0, kMaxTtl, "seconds, 0-" + std::to_string(kMaxTtl))) {
            *target = static_cast<uint32_t>(*v);
          }
        }
      }
      if (const Field* n = soa->Find("ttl")) {
        if (auto v = ReadInteger(*n, 0, kMaxTtl, kTtl)) zone.soa.ttl = static_cast<uint32_t>(*v);
      }
    }
  }
  if (const Field* r = m->Find("records")) {
    if (!IsEmptySection(r->value)) {
      if (std::optional<std::vector<Field>> records = Elements(*r, "a sequence of records")) {
        std::map<std::string, std::string> owners;  // "name TYPE" -> first holder
        for (const Field& record : *records) {
          if (std::optional<dns::RrsetSpec> rs = ReadRecord(record, origin, owners)) {
            zone.rrsets.push_back(std::move(*rs));
          }
        }
      }
    }
  }
  // What the walk did not catch, the zone compiler does; its first complaint is
  // reported at the zone.
  if (errors_.size() == errors_before) {
    Result<std::shared_ptr<const dns::Zone>> built = dns::Zone::Build(zone, WallTime{});
    if (!built.ok()) {
      Report(Where(m->mark), item.path, "a zone the DNS server can serve",
             Quote(built.status().message()));
    }
  }
  out.zones.push_back(std::move(zone));
}

std::optional<dns::RrsetSpec> ConfigReader::ReadRecord(const Field& item,
                                                       const std::optional<dns::Name>& origin,
                                                       std::map<std::string, std::string>& owners) {
  const std::optional<Mapping> m =
      FieldMapping(item, "a record mapping with a name, a type and values", kRecordKeys);
  if (!m) return std::nullopt;
  const size_t errors_before = errors_.size();
  dns::RrsetSpec rs;
  std::optional<dns::Name> owner;
  constexpr std::string_view kName = "a name in the zone: relative (api, @) or absolute (api.x.)";
  const Field* name_field = Require(*m, "name", kName);
  if (name_field != nullptr) {
    if (std::optional<std::string> text = ReadScalar(*name_field, kName)) {
      rs.name = *text;
      if (origin) {
        Result<dns::Name> name = dns::Name::FromString(*text, &*origin);
        if (text->empty() || !name.ok()) {
          Report(At(*name_field), name_field->path,
                 std::string(kName) + (name.ok() ? "" : " (" + name.status().message() + ")"),
                 Quote(*text));
        } else if (!name->IsSubdomainOf(*origin)) {
          Report(At(*name_field), name_field->path, "a name inside the zone " + origin->ToString(),
                 Quote(*text));
        } else {
          owner = *name;
        }
      }
    }
  }
  std::optional<uint16_t> type;
  const Field* type_field = Require(*m, "type", "a record type: one of " + JoinKeys(kRecordTypes));
  if (type_field != nullptr) {
    if (std::optional<std::string> text = ReadScalar(*type_field, "a record type")) {
      std::string upper = *text;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (std::find(std::begin(kRecordTypes), std::end(kRecordTypes), upper) !=
          std::end(kRecordTypes)) {
        type = dns::TypeFromName(upper);
        rs.type = upper;
      } else {
        std::string expected = "a record type: one of " + JoinKeys(kRecordTypes);
        if (upper == "NS") {
          expected += " (the apex NS records come from the zone's ns)";
        } else if (upper == "SOA") {
          expected += " (the SOA record comes from the zone's soa)";
        } else {
          const std::string_view hint = Suggest(upper, kRecordTypes);
          if (!hint.empty()) expected += " (did you mean '" + std::string(hint) + "'?)";
        }
        Report(At(*type_field), type_field->path, std::move(expected), Quote(*text));
      }
    }
  }
  if (const Field* t = m->Find("ttl")) {
    if (auto n = ReadInteger(*t, 0, kMaxTtl, "a TTL in seconds, 0-" + std::to_string(kMaxTtl))) {
      rs.ttl = static_cast<uint32_t>(*n);
    }
  }
  // One name and type, one record set; a CNAME stands alone (RFC 1034 3.6.2).
  if (owner && type) {
    const std::string key = Lower(owner->ToString());
    Define(owners, key + " " + rs.type, item.path, *name_field, "a name and type");
    const bool cname = *type == dns::rrtype::kCname;
    for (const auto& [other, holder] : owners) {
      if (other.rfind(key + " ", 0) != 0 || other == key + " " + rs.type) continue;
      if (cname || other == key + " CNAME") {
        Report(At(*type_field), type_field->path,
               "no other record at a CNAME's name (" + holder + " is '" + other + "')",
               Quote(rs.type));
        break;
      }
    }
  }

  const Field* simple = m->Find("values") != nullptr ? m->Find("values") : m->Find("value");
  const Field* failover = m->Find("failover");
  const Field* weighted = m->Find("weighted");
  const int forms = (simple != nullptr) + (failover != nullptr) + (weighted != nullptr);
  constexpr std::string_view kForms =
      "exactly one of values (simple), failover (primary and secondary) or weighted";
  if (forms == 0) {
    Report(m->mark, Child(m->path, "values"), std::string(kForms), "none of them");
  } else if (forms > 1) {
    const Field* second = weighted != nullptr ? weighted : failover;
    Report(second->key.Mark(), second->path, std::string(kForms), "more than one");
  } else if (simple != nullptr) {
    rs.policy = dns::RoutingPolicy::kSimple;
    dns::RecordSetSpec set;
    set.values = ReadValues(*m, type, origin);
    rs.sets.push_back(std::move(set));
  } else if (failover != nullptr) {
    rs.policy = dns::RoutingPolicy::kFailover;
    const std::optional<Mapping> f = FieldMapping(
        *failover, "a mapping with a primary and a secondary set of values", kFailoverKeys);
    if (f) {
      const std::pair<std::string_view, dns::FailoverRole> roles[] = {
          {"primary", dns::FailoverRole::kPrimary}, {"secondary", dns::FailoverRole::kSecondary}};
      for (const auto& [key, role] : roles) {
        const Field* s = Require(*f, key, "a set mapping with values and a health_check");
        if (s == nullptr) continue;
        if (std::optional<dns::RecordSetSpec> set = ReadRecordSet(*s, false, type, origin)) {
          set->id = std::string(key);
          set->role = role;
          rs.sets.push_back(std::move(*set));
        }
      }
    }
  } else {
    rs.policy = dns::RoutingPolicy::kWeighted;
    constexpr std::string_view kSets =
        "a non-empty sequence of sets with an id, a weight and values";
    if (std::optional<std::vector<Field>> sets = Elements(*weighted, kSets)) {
      if (sets->empty())
        Report(At(*weighted), weighted->path, std::string(kSets), "an empty sequence");
      std::map<std::string, std::string> ids;
      for (const Field& s : *sets) {
        if (std::optional<dns::RecordSetSpec> set = ReadRecordSet(s, true, type, origin)) {
          if (!set->id.empty()) {
            const YAML::Node id = s.value["id"];
            Define(ids, set->id, s.path, {Child(s.path, "id"), id, id}, "a set id in the record");
          }
          rs.sets.push_back(std::move(*set));
        }
      }
    }
  }
  // Anything else the zone compiler refuses about this record alone.
  if (errors_.size() == errors_before && origin) {
    dns::ZoneSpec alone;
    alone.origin = origin->ToString();
    alone.nameservers = {origin->ToString()};
    alone.rrsets = {rs};
    Result<std::shared_ptr<const dns::Zone>> built = dns::Zone::Build(alone, WallTime{});
    if (!built.ok()) {
      Report(Where(m->mark), item.path, "a record the DNS server can serve",
             Quote(built.status().message()));
    }
  }
  return rs;
}

std::optional<dns::RecordSetSpec> ConfigReader::ReadRecordSet(
    const Field& f, bool weighted, std::optional<uint16_t> type,
    const std::optional<dns::Name>& origin) {
  const std::optional<Mapping> m =
      weighted ? FieldMapping(f, "a weighted set mapping with an id, a weight and values",
                              kWeightedSetKeys)
               : FieldMapping(f, "a set mapping with values and an optional health_check",
                              kFailoverSetKeys);
  if (!m) return std::nullopt;
  dns::RecordSetSpec set;
  if (weighted) {
    if (const Field* i = Require(*m, "id", kSetId.what)) {
      if (std::optional<std::string> id = ReadName(*i, kSetId)) set.id = std::move(*id);
    }
    if (const Field* w = m->Find("weight")) {
      if (auto n = ReadInteger(*w, 0, kMaxU32, "an integer weight 0-" + std::to_string(kMaxU32))) {
        set.weight = static_cast<uint32_t>(*n);
      }
    }
  }
  if (const Field* h = m->Find("health_check")) {
    if (std::optional<std::string> name = ReadName(*h, kCheckName)) {
      check_refs_.push_back({*name, h->path, Where(At(*h)), 0});
      set.health_check = std::move(*name);
    }
  }
  if (m->Find("value") == nullptr && m->Find("values") == nullptr) {
    Report(m->mark, Child(m->path, "values"), "values: the record data this set answers",
           "no 'values' key");
  } else {
    set.values = ReadValues(*m, type, origin);
  }
  return set;
}

std::vector<std::string> ConfigReader::ReadValues(const Mapping& m, std::optional<uint16_t> type,
                                                  const std::optional<dns::Name>& origin) {
  std::vector<std::string> values;
  const Field* one = m.Find("value");
  const Field* many = m.Find("values");
  if (one != nullptr && many != nullptr) {
    Report(many->key.Mark(), many->path, "either value or values, not both", "both");
    return values;
  }
  std::vector<Field> items;
  if (one != nullptr) {
    items.push_back(*one);
  } else if (many != nullptr) {
    constexpr std::string_view kValues = "a non-empty sequence of record data, e.g. [192.0.2.1]";
    if (std::optional<std::vector<Field>> list = Elements(*many, kValues)) items = std::move(*list);
    if (items.empty() && many->value.IsSequence()) {
      Report(At(*many), many->path, std::string(kValues), "an empty sequence");
    }
  }
  for (const Field& v : items) {
    std::optional<std::string> text = ReadScalar(v, "record data such as 192.0.2.1");
    if (!text) continue;
    if (type && origin) {
      Result<std::string> rdata = dns::RdataFromString(*type, *text, *origin);
      if (!rdata.ok()) {
        Report(
            At(v), v.path,
            "record data of type " + dns::TypeName(*type) + " (" + rdata.status().message() + ")",
            Quote(*text));
        continue;
      }
    }
    values.push_back(std::move(*text));
  }
  if (type && *type == dns::rrtype::kCname && values.size() > 1) {
    const Field& second = items[1];
    Report(At(second), second.path, "exactly one CNAME target",
           std::to_string(values.size()) + " targets");
  }
  return values;
}

void ConfigReader::ReadPublishers(const Field& f, DnsSpec& out) {
  if (IsEmptySection(f.value)) return;
  const std::optional<std::vector<Field>> items =
      Elements(f, "a sequence of RFC 2136 publishers (server, zone, tsig)");
  if (!items) return;
  for (const Field& item : *items) {
    const std::optional<Mapping> m = FieldMapping(
        item, "a publisher mapping with a server, a zone and a tsig key", kPublisherKeys);
    if (!m) continue;
    DnsPublisherSpec p;
    p.where = Where(m->mark);
    constexpr std::string_view kServer = "ADDRESS[:PORT] of the DNS server, e.g. 10.0.0.53:53";
    if (const Field* s = Require(*m, "server", kServer)) {
      if (std::optional<std::string> text = ReadScalar(*s, kServer)) {
        if (std::optional<ListenAddress> a = ParseHostPort(*text, 53)) {
          p.options.server.host = a->address;
          p.options.server.port = a->port;
        } else {
          Report(At(*s), s->path, std::string(kServer), Quote(*text));
        }
      }
    }
    constexpr std::string_view kZone = "the zone to update, e.g. trading.example.";
    if (const Field* z = Require(*m, "zone", kZone)) {
      if (std::optional<std::string> text = ReadScalar(*z, kZone)) {
        std::string absolute = *text;
        if (!absolute.empty() && absolute.back() != '.') absolute += '.';
        Result<dns::Name> name = dns::Name::FromString(absolute);
        if (text->empty() || !name.ok()) {
          Report(At(*z), z->path, std::string(kZone), Quote(*text));
        } else {
          p.options.zone = absolute;
        }
      }
    }
    if (const Field* t = Require(*m, "tsig", "a tsig mapping with a name and a secret_file")) {
      const std::optional<Mapping> tsig =
          FieldMapping(*t, "a mapping with the keys " + JoinKeys(kTsigKeys), kTsigKeys);
      if (tsig) {
        constexpr std::string_view kKey = "a TSIG key name, e.g. pilotlight-key";
        if (const Field* n = Require(*tsig, "name", kKey)) {
          if (std::optional<std::string> text = ReadScalar(*n, kKey)) {
            Result<dns::Name> name = dns::Name::FromString(*text);
            if (text->empty() || !name.ok()) {
              Report(At(*n), n->path, std::string(kKey), Quote(*text));
            } else {
              p.options.key.name = *name;
            }
          }
        }
        if (const Field* a = tsig->Find("algorithm")) {
          ReadChoice(*a, kTsigAlgorithms, "a TSIG algorithm");
        }
        constexpr std::string_view kSecret =
            "the path of a file holding the base64 secret (relative to the config file)";
        if (const Field* s = Require(*tsig, "secret_file", kSecret)) {
          if (std::optional<std::string> path = ReadScalar(*s, kSecret)) {
            if (path->empty()) {
              Report(At(*s), s->path, std::string(kSecret), "''");
            } else {
              p.secret_file = ResolvePath(*path);
            }
          }
        }
      }
    }
    if (const Field* t = m->Find("timeout")) {
      if (auto d = ReadDuration(*t, std::chrono::milliseconds(1), std::chrono::minutes(1),
                                "a duration from 1ms to 1m")) {
        p.options.timeout = *d;
      }
    }
    if (const Field* a = m->Find("attempts")) {
      if (auto n = ReadInteger(*a, 1, kMaxPublishAttempts,
                               "an integer 1-" + std::to_string(kMaxPublishAttempts))) {
        p.options.attempts = static_cast<int>(*n);
      }
    }
    if (const Field* b = m->Find("backoff")) {
      if (auto d =
              ReadDuration(*b, Duration(0), std::chrono::minutes(1), "a duration from 0 to 1m")) {
        p.options.backoff = *d;
      }
    }
    out.publishers.push_back(std::move(p));
  }
}

// ---------------------------------------------------------------------------
// The controller's policy and its runbooks. Read last: they name regions, node
// groups, checks, topics and DNS records the other sections define.

// Whether `record` (relative to a zone's origin, or absolute) names a record
// set of one of `zones`.
bool RecordInZones(const std::string& record, const std::vector<dns::ZoneSpec>& zones) {
  for (const dns::ZoneSpec& z : zones) {
    Result<dns::Name> origin = dns::Name::FromString(z.origin);
    if (!origin.ok()) continue;
    Result<dns::Name> want = dns::Name::FromString(record, &*origin);
    if (!want.ok()) continue;
    for (const dns::RrsetSpec& r : z.rrsets) {
      Result<dns::Name> have = dns::Name::FromString(r.name, &*origin);
      if (have.ok() && Lower(have->ToString()) == Lower(want->ToString())) return true;
    }
  }
  return false;
}

std::string ZoneRecordNames(const std::vector<dns::ZoneSpec>& zones) {
  std::string out;
  size_t n = 0;
  for (const dns::ZoneSpec& z : zones) {
    for (const dns::RrsetSpec& r : z.rrsets) {
      if (n++ == 5) return out + ", ...";
      out += (n > 1 ? ", " : "") + r.name;
    }
  }
  return out;
}

void ConfigReader::ReadControllerRecord(const Field& f, const Config& config, std::string& out) {
  std::optional<std::string> text = ReadScalar(f, "a DNS record name such as api");
  if (!text) return;
  Result<dns::Name> name = dns::Name::FromString(*text);
  if (text->empty() || !name.ok()) {
    Report(At(f), f.path, "a DNS record name such as api", Quote(*text));
    return;
  }
  if (!config.dns.zones.empty() && !RecordInZones(*text, config.dns.zones)) {
    Report(At(f), f.path,
           "a record of the zones under dns.zones (" + ZoneRecordNames(config.dns.zones) + ")",
           Quote(*text));
    return;
  }
  out = *text;
}

bool ConfigReader::KnownTopic(const std::string& name, const Config& config) const {
  if (topic_names_.count(name) > 0) return true;
  const std::string events = config.controller.events_topic.empty()
                                 ? std::string(kBuiltInEventsTopic)
                                 : config.controller.events_topic;
  // The controller creates only its events topic: "controller" unless renamed.
  return name == events;
}

std::string ConfigReader::TopicExpectation(const std::string& name) const {
  return WithHint(Known("a topic defined under topics", topic_names_) + " or the controller's " +
                      std::string(kBuiltInEventsTopic) + " topic",
                  name, topic_names_);
}

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
    if (std::optional<std::string> site = ReadName(*x, kVantageName)) c.site = *site;
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
      if (const Field* n = Require(*a, "site", kVantageName.what)) {
        if (std::optional<std::string> site = ReadName(*n, kVantageName)) {
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

namespace {

// "http://HOST:PORT" (no path, no TLS): one etcd endpoint of leader_election.etcd.
bool IsEtcdUrl(const std::string& url) {
  const std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0) return false;
  const std::string rest = url.substr(prefix.size());
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || rest.find('/') != std::string::npos) return false;
  const std::string port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const int n = std::stoi(port);
  return n > 0 && n <= 65535;
}

}  // namespace

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
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    const Field item{Child(f.path, it->first.IsScalar() ? Escape(it->first.Scalar()) : "?"),
                     it->first, it->second};
    const std::string group = it->first.IsScalar() ? it->first.Scalar() : "";
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

void ConfigReader::ReadRunbooks(const Field& f, Config& config) {
  if (IsEmptySection(f.value)) return;
  if (!f.value.IsMap()) {
    Report(At(f), f.path, "a mapping from runbook names to sequences of steps", Describe(f.value));
    return;
  }
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    const YAML::Node key = it->first;
    const Field item{Child(f.path, key.IsScalar() ? Escape(key.Scalar()) : "?"), key, it->second};
    if (!key.IsScalar() || !Matches(key.Scalar(), kRunbookName)) {
      Report(key.Mark(), item.path, std::string(kRunbookName.what), Describe(key));
      continue;
    }
    if (config.FindRunbook(key.Scalar()) != nullptr) {
      Report(key.Mark(), item.path, "each runbook name once", "a second " + Quote(key.Scalar()));
      continue;
    }
    RunbookConfig rb;
    rb.name = key.Scalar();
    rb.where = Where(key.Mark());
    const std::optional<std::vector<Field>> steps =
        Elements(item, "a non-empty sequence of steps {name, kind, params, ...}");
    if (!steps) continue;
    if (steps->empty()) {
      Report(At(item), item.path, "a non-empty sequence of steps", "an empty sequence");
      continue;
    }
    std::map<std::string, std::string> names;
    for (const Field& s : *steps) {
      if (std::optional<RunbookStepConfig> step = ReadStep(s, config, names)) {
        rb.steps.push_back(std::move(*step));
      }
    }
    config.runbooks.push_back(std::move(rb));
  }
}

std::optional<RunbookStepConfig> ConfigReader::ReadStep(const Field& item, const Config& config,
                                                        std::map<std::string, std::string>& names) {
  const std::optional<Mapping> m =
      FieldMapping(item, "a step mapping with name and kind", kStepKeys);
  if (!m) return std::nullopt;
  RunbookStepConfig step;
  step.where = Where(At(item));
  bool ok = true;
  if (const Field* n = Require(*m, "name", "a non-empty step name")) {
    if (auto name = ReadScalar(*n, "a non-empty step name")) {
      if (name->empty()) {
        Report(At(*n), n->path, "a non-empty step name", "''");
        ok = false;
      } else {
        const size_t before = errors_.size();
        Define(names, *name, item.path, *n, "a step name");
        ok = ok && errors_.size() == before;
        step.name = *name;
      }
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }
  std::optional<size_t> kind;
  if (const Field* k = Require(*m, "kind", "a step kind: one of " + JoinKeys(kStepKinds))) {
    kind = ReadChoice(*k, kStepKinds, "a step kind");
  }
  if (!kind) ok = false;
  if (const Field* t = m->Find("timeout")) {
    if (auto d = ReadDuration(*t, std::chrono::milliseconds(100), std::chrono::hours(24),
                              "a duration from 100ms to 24h")) {
      step.timeout = *d;
    } else {
      ok = false;
    }
  }
  if (const Field* r = m->Find("retries")) {
    if (auto n = ReadInteger(*r, 0, 100, "an integer 0-100")) {
      step.retries = static_cast<int>(*n);
    } else {
      ok = false;
    }
  }
  if (const Field* b = m->Find("backoff")) {
    if (auto d = ReadDuration(*b, Duration(0), std::chrono::hours(1), "a duration from 0 to 1h")) {
      step.backoff = *d;
    } else {
      ok = false;
    }
  }
  if (!kind) {
    return std::nullopt;
  }
  step.kind = std::string(kStepKinds[*kind]);
  std::optional<Mapping> params;
  const std::span<const std::string_view> allowed = StepParamKeys(step.kind);
  if (const Field* p = m->Find("params")) {
    if (p->value.IsNull() || (p->value.IsMap() && p->value.size() == 0)) {
      params = Mapping{p->path, p->key.Mark(), {}};
    } else if (allowed.empty()) {
      Report(At(*p), p->path, "no params: an " + step.kind + " step takes none",
             Describe(p->value));
      return std::nullopt;
    } else {
      params = FieldMapping(
          *p, "a mapping of the " + step.kind + " step's parameters: " + JoinKeys(allowed),
          allowed);
    }
  } else {
    params = Mapping{Child(item.path, "params"), m->mark, {}};
  }
  if (!params) return std::nullopt;
  const size_t before = errors_.size();
  for (const Field& p : params->fields) {
    if (!p.value.IsScalar()) {
      Report(At(p), p.path, "a scalar value", Describe(p.value));
      continue;
    }
    step.params.emplace_back(p.key.Scalar(), p.value.Scalar());
  }
  if (errors_.size() == before) CheckStepParams(step, *params, config);
  if (errors_.size() != before) ok = false;
  return ok ? std::optional<RunbookStepConfig>(std::move(step)) : std::nullopt;
}

std::span<const std::string_view> ConfigReader::StepParamKeys(const std::string& kind) {
  if (kind == "scale") return kScaleParams;
  if (kind == "fence" || kind == "promote") return kRegionParams;
  if (kind == "dns") return kDnsParams;
  if (kind == "replicate") return kReplicateParams;
  if (kind == "notify") return kNotifyParams;
  if (kind == "exec") return kExecParams;
  if (kind == "wait_healthy") return kWaitHealthyParams;
  if (kind == "rejoin" || kind == "validate_standby") return kRegionFromParams;
  if (kind == "sync_objects" || kind == "switchover") return kFromToParams;
  if (kind == "dns_shift") return kDnsShiftParams;
  return {};
}

void ConfigReader::CheckStepParams(const RunbookStepConfig& step, const Mapping& params,
                                   const Config& config) {
  auto text = [&](std::string_view key) -> std::optional<std::string> {
    const Field* f = params.Find(key);
    if (f == nullptr) return std::nullopt;
    return f->value.Scalar();
  };
  auto required = [&](std::string_view key, std::string_view expected) -> const Field* {
    const Field* f = params.Find(key);
    if (f == nullptr) {
      Report(params.mark, Child(params.path, key), std::string(expected),
             "no '" + std::string(key) + "' parameter");
    } else if (f->value.Scalar().empty()) {
      Report(At(*f), f->path, std::string(expected), "''");
      return nullptr;
    }
    return f;
  };
  // The region a step acts on: `region`, else the kind's default.
  const RegionSpec* region = nullptr;
  const bool dr_default = step.kind != "fence";
  if (const Field* r = params.Find("region")) {
    std::map<std::string, std::string> regions;
    for (const RegionSpec& s : config.regions) regions.emplace(s.name, "");
    region = config.FindRegion(r->value.Scalar());
    if (region == nullptr) {
      Report(At(*r), r->path, WithHint(Known("a region name", regions), r->value.Scalar(), regions),
             Quote(r->value.Scalar()));
      return;
    }
  } else {
    for (const RegionSpec& s : config.regions) {
      if ((s.role == RegionRole::kDr) == dr_default) region = &s;
    }
  }
  auto check_group = [&](const Field& g) {
    if (region == nullptr) return;
    std::map<std::string, std::string> groups;
    for (const NodeGroupSpec& s : region->node_groups) groups.emplace(s.name, "");
    if (groups.count(g.value.Scalar()) == 0) {
      Report(At(g), g.path,
             WithHint(Known("a node group of region " + region->name, groups), g.value.Scalar(),
                      groups),
             Quote(g.value.Scalar()));
    }
  };
  if (step.kind == "scale") {
    if (const Field* g = required("group", "a node group name")) check_group(*g);
    if (const Field* s = params.Find("size")) {
      const std::string& v = s->value.Scalar();
      const std::optional<int64_t> n = ParseInteger(v);
      if (v != "production" && v != "pilot_light" && v != "pilot-light" &&
          !(n && *n >= 0 && *n <= kMaxGroupSize && v[0] != '-')) {
        Report(At(*s), s->path, "production, pilot_light or a whole number 0-10000", Quote(v));
      }
    }
    if (auto u = text("until"); u && *u != "ready" && *u != "answering") {
      const Field* f = params.Find("until");
      Report(At(*f), f->path, "ready or answering", Quote(*u));
    }
  } else if (step.kind == "wait_healthy") {
    const Field* url = params.Find("url");
    const Field* group = params.Find("group");
    if (url == nullptr && group == nullptr) {
      Report(params.mark, Child(params.path, "group"), "a node group (or a url)",
             "neither 'group' nor 'url'");
    }
    if (group != nullptr) check_group(*group);
    if (url != nullptr) {
      const std::string problem = WebhookUrlProblem(url->value.Scalar());
      if (!problem.empty() || url->value.Scalar().find(':', 7) == std::string::npos) {
        Report(At(*url), url->path, "an http://HOST:PORT/PATH URL", Quote(url->value.Scalar()));
      }
    }
  } else if (step.kind == "dns") {
    if (const Field* r = params.Find("record")) {
      std::string record;
      ReadControllerRecord(*r, config, record);
    }
    if (const Field* t = params.Find("to")) {
      Result<std::optional<dns::RoutingOverride>> target =
          dns::ParseRoutingTarget(t->value.Scalar());
      if (!target.ok()) {
        Report(At(*t), t->path, "primary, secondary, auto or weights:ID=N,...",
               Quote(t->value.Scalar()));
      }
    }
  } else if (step.kind == "rejoin" || step.kind == "validate_standby" ||
             step.kind == "sync_objects" || step.kind == "switchover") {
    std::map<std::string, std::string> regions;
    for (const RegionSpec& s : config.regions) regions.emplace(s.name, "");
    for (std::string_view key : {"from", "to"}) {
      const Field* f = params.Find(key);
      if (f != nullptr && config.FindRegion(f->value.Scalar()) == nullptr) {
        Report(At(*f), f->path,
               WithHint(Known("a region name", regions), f->value.Scalar(), regions),
               Quote(f->value.Scalar()));
      }
    }
  } else if (step.kind == "dns_shift") {
    if (const Field* r = params.Find("record")) {
      std::string record;
      ReadControllerRecord(*r, config, record);
    }
    if (const Field* st = params.Find("steps")) {
      // Percentages for the primary, rising, ending at 100: "25,50,100".
      int last = 0;
      bool good = !st->value.Scalar().empty();
      std::stringstream in(st->value.Scalar());
      for (std::string part; good && std::getline(in, part, ',');) {
        const std::optional<int64_t> n = ParseInteger(part);
        good = n && *n > last && *n <= 100;
        if (good) last = static_cast<int>(*n);
      }
      if (!good || last != 100) {
        Report(At(*st), st->path, "rising percentages ending at 100, such as 25,50,100",
               Quote(st->value.Scalar()));
      }
    }
    if (const Field* pa = params.Find("pause")) {
      Result<Duration> d = ParseDuration(pa->value.Scalar());
      if (!d.ok() || *d < Duration::zero()) {
        Report(At(*pa), pa->path, "a duration such as 30s", Quote(pa->value.Scalar()));
      }
    }
  } else if (step.kind == "replicate") {
    if (const Field* a = required("action", "reverse, pause or resume")) {
      const std::string& v = a->value.Scalar();
      if (v != "reverse" && v != "pause" && v != "resume") {
        Report(At(*a), a->path, "reverse, pause or resume", Quote(v));
      }
    }
    required("command", "the shell command that controls the replicator");
  } else if (step.kind == "exec") {
    required("command", "a shell command");
  } else if (step.kind == "notify") {
    if (const Field* t = params.Find("topic")) {
      if (!KnownTopic(t->value.Scalar(), config)) {
        Report(At(*t), t->path, TopicExpectation(t->value.Scalar()), Quote(t->value.Scalar()));
      }
    }
  }
}

LoadResult Failure(ConfigError error) {
  LoadResult result;
  result.errors.push_back(std::move(error));
  return result;
}

// Records where each document starts and ignores everything else.
class DocumentStarts final : public YAML::EventHandler {
 public:
  YAML::Mark start;

  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// How the text splits into documents, looking at no more than kMaxScannedDocuments.
struct DocumentScan {
  int documents = 0;
  YAML::Mark second;                // start of the second document, if any
  std::optional<YAML::Mark> stuck;  // a token the parser cannot consume
};

// YAML::Load reads the first document and silently drops the rest, and
// yaml-cpp 0.7 cannot consume some stray tokens at a document start (a lone
// ',' line): YAML::LoadAll then loops forever, allocating empty documents.
// So documents are counted here with a bound, and a document that starts
// where the previous one did marks a stuck parser. Throws YAML::Exception.
DocumentScan ScanDocuments(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentScan scan;
  std::optional<int> previous_start;
  for (int i = 0; i < kMaxScannedDocuments; ++i) {
    DocumentStarts handler;
    if (!parser.HandleNextDocument(handler)) break;
    if (previous_start == handler.start.pos) {
      scan.stuck = handler.start;
      break;
    }
    previous_start = handler.start.pos;
    if (++scan.documents == 2) scan.second = handler.start;
  }
  return scan;
}

}  // namespace

LoadResult ParseConfig(std::string_view yaml_text, const std::string& file) {
  const std::string text(yaml_text);
  DocumentScan scan;
  YAML::Node root;
  try {
    scan = ScanDocuments(text);
    if (scan.stuck) {
      const size_t pos = static_cast<size_t>(std::max(scan.stuck->pos, 0));
      const std::string token = pos < text.size() ? Quote(text.substr(pos, 1)) : "a token";
      return Failure(
          {WhereIn(file, *scan.stuck), "", "valid YAML", "a syntax error: unexpected " + token});
    }
    if (scan.documents == 0) {
      return Failure(
          {{file, 1, 1}, "", "a mapping with the keys platform and regions", "an empty file"});
    }
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Failure({WhereIn(file, e.mark), "", "valid YAML", "a syntax error: " + e.msg});
  } catch (const std::exception& e) {
    return Failure({{file, 1, 1}, "", "valid YAML", std::string("a parser failure: ") + e.what()});
  }

  LoadResult result;
  try {
    ConfigReader reader(file);
    if (scan.documents > 1) {
      reader.Report(scan.second, "", "a single YAML document", "a second document");
    }
    Config config = reader.Read(root);
    result.errors = reader.TakeErrors();
    if (result.errors.empty()) result.config = std::move(config);
  } catch (const std::exception& e) {
    // Only a bug in the walk (or memory exhaustion) gets here; fail closed.
    result.config.reset();
    ConfigError internal{{file, 0, 0}, "", "a config the loader can read", "an internal error"};
    internal.found += std::string(": ") + e.what();
    result.errors.push_back(std::move(internal));
  }
  std::stable_sort(
      result.errors.begin(), result.errors.end(), [](const ConfigError& a, const ConfigError& b) {
        return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
      });
  return result;
}

LoadResult LoadConfigFile(const std::string& path) {
  Result<std::string> text = sys::ReadWholeFile(path);
  if (!text.ok()) {
    return Failure({{path, 0, 0}, "", "a readable config file", text.status().message()});
  }
  return ParseConfig(*text, path);  // Config.file is `path`, as given
}

Result<Config> LoadConfigOrError(const std::string& path) {
  LoadResult r = LoadConfigFile(path);
  if (!r.ok()) {
    std::string msg = std::to_string(r.errors.size()) + " error(s) in " + path +
                      " (run pilotlight config validate " + path + "):";
    for (const ConfigError& e : r.errors) msg += "\n  " + e.ToString();
    return Status::InvalidArgument(msg);
  }
  return std::move(*r.config);
}

std::vector<ConfigError> ResolveWebhookSecrets(
    Config& config, const std::function<const char*(const char*)>& lookup) {
  std::vector<ConfigError> errors;
  for (const SecretReference& ref : config.webhook_secrets) {
    const char* value = lookup ? lookup(ref.env.c_str()) : std::getenv(ref.env.c_str());
    if (value == nullptr || *value == '\0') {
      errors.push_back({ref.where, ref.field,
                        "the environment variable " + ref.env +
                            " to hold the webhook's HMAC secret (export it, or remove "
                            "secret_env to send unsigned messages)",
                        value == nullptr ? "it is not set" : "it is empty"});
      continue;
    }
    if (ref.topic < config.detection.topics.size() &&
        ref.subscriber < config.detection.topics[ref.topic].subscribers.size()) {
      config.detection.topics[ref.topic].subscribers[ref.subscriber].secret = value;
    }
  }
  return errors;
}

Result<dns::Rfc2136Options> LoadPublisherOptions(const DnsPublisherSpec& spec) {
  const std::string where = spec.where.file + ":" + std::to_string(spec.where.line) + ": ";
  const int fd = ::open(spec.secret_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::IOError(where + "cannot read the TSIG secret file " + spec.secret_file + ": " +
                           std::strerror(errno));
  }
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || text.size() > 64 * 1024) {
      ::close(fd);
      return Status::IOError(where + "cannot read the TSIG secret file " + spec.secret_file);
    }
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  const size_t begin = text.find_first_not_of(" \t\r\n");
  const size_t end = text.find_last_not_of(" \t\r\n");
  const std::string secret = begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
  Result<dns::TsigKey> key = dns::TsigKey::FromBase64(spec.options.key.name.ToString(), secret);
  if (!key.ok()) {
    return key.status().Annotate(where + "TSIG secret file " + spec.secret_file);
  }
  dns::Rfc2136Options options = spec.options;
  options.key = std::move(*key);
  return options;
}

}  // namespace pilotlight::config
