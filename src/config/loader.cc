// The YAML adapter of the config loader: the only file that includes yaml-cpp.
//
// yaml-cpp parses the text into a node tree; a ConfigReader then walks that tree
// along the schema, recording a ConfigError (with the current field path) for
// every problem and carrying on, so one run reports everything. Every yaml-cpp
// exception stops here. The walk only descends as deep as the schema, so
// self-referencing aliases (`&a [*a]`) cannot make it loop.
#include "config/loader.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "core/duration.h"

namespace pilotlight::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kTopKeys[] = {
    "platform", "regions", "objectives", "replication", "health_checks",
    "alarms",   "topics",  "dns",        "runbooks",    "cost",
};
// Sections later versions will define; today they must be absent or empty.
constexpr std::string_view kReservedKeys[] = {"health_checks", "alarms", "topics", "dns",
                                              "runbooks"};
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
  void ReadReserved(const Field& f);

  // Records that `field` listens on `port` of the region being read. `where` is
  // the port's own position, or its section's when the port is defaulted.
  void Listen(std::string field, SourceLocation where, uint16_t port, bool defaulted);
  // For a section with a port key: listens on the key's value when it is a
  // valid port, on `default_port` when the key is absent.
  void ListenOn(const Mapping& section, std::optional<uint16_t> port, uint16_t default_port);

  void CheckRoles(const Field& regions);
  void CheckListeners();

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
  for (std::string_view key : kReservedKeys) {
    if (const Field* f = top->Find(key)) ReadReserved(*f);
  }
  CheckListeners();
  return config;
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

void ConfigReader::ReadReserved(const Field& f) {
  const YAML::Node& v = f.value;
  if (v.IsNull() || ((v.IsSequence() || v.IsMap()) && v.size() == 0)) return;
  Report(At(f), f.path,
         "nothing: '" + f.path +
             "' is not supported by this version of pilotlight yet (remove it or leave it empty)",
         Describe(v));
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
  const auto os_error = [&path](int err) {
    return Failure({{path, 0, 0}, "", "a readable config file", std::strerror(err)});
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error(errno);
  std::string text;
  char buffer[16 * 1024];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      text.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int err = errno;
      ::close(fd);
      return os_error(err);
    }
  }
  ::close(fd);
  return ParseConfig(text, path);  // Config.file is `path`, as given
}

}  // namespace pilotlight::config
