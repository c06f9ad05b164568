#include "dns/zonefile/zone_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "config/schema_reader.h"  // kMaxScalarBytes
#include "config/yaml_reader.h"
#include "sys/whole_file.h"

namespace pilotlight::dns {
namespace {

class ParseError : public std::exception {
 public:
  explicit ParseError(std::string msg) : msg_(std::move(msg)) {}
  const char* what() const noexcept override { return msg_.c_str(); }

 private:
  std::string msg_;
};

using config::YamlNode;

// "FILE:LINE:COL: message" for a 0-based mark.
std::string At(const std::string& file, const config::YamlMark& m, const std::string& msg) {
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + msg;
}

// Walks the zone file, failing at the first problem.
class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void Fail(const YamlNode& at, const std::string& msg) const {
    throw ParseError(At(file_, at.Mark(), msg));
  }

  static bool Has(const YamlNode& map, std::string_view key) { return map.Get(key).IsDefined(); }

  // A key as text: a scalar, or "null" for an empty one.
  std::string KeyText(const YamlNode& key) const {
    if (key.IsNull()) return "null";
    if (!key.IsScalar()) Fail(key, "bad conversion");
    return key.Scalar();
  }

  void AllowKeys(const YamlNode& map, std::initializer_list<const char*> keys,
                 const std::string& where) const {
    if (!map.IsMap()) Fail(map, where + ": expected a mapping");
    for (const auto& kv : map.Entries()) {
      const std::string key = KeyText(kv.first);
      bool known = false;
      for (const char* k : keys) known = known || key == k;
      if (!known) {
        std::string list;
        for (const char* k : keys) list += (list.empty() ? "" : ", ") + std::string(k);
        Fail(kv.first, where + ": unknown key \"" + key + "\" (expected one of: " + list + ")");
      }
    }
  }

  std::string Str(const YamlNode& n, const std::string& what) const {
    if (!n.IsScalar()) Fail(n, what + ": expected a string");
    if (n.Scalar().size() > config::kMaxScalarBytes) {
      Fail(n, what + ": longer than " + std::to_string(config::kMaxScalarBytes) + " bytes");
    }
    return n.Scalar();
  }

  uint32_t U32(const YamlNode& n, const std::string& what) const {
    if (!n.IsScalar()) Fail(n, what + ": expected a number");
    const std::string s = n.Scalar();
    if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos) {
      Fail(n, what + ": expected a whole number, found \"" + s + "\"");
    }
    const uint64_t v = std::stoull(s);
    if (v > 0xFFFFFFFFull) Fail(n, what + ": " + s + " is out of range");
    return static_cast<uint32_t>(v);
  }

  std::vector<std::string> Values(const YamlNode& set, const std::string& where) const {
    std::vector<std::string> out;
    if (Has(set, "value") && Has(set, "values"))
      Fail(set, where + ": give `value` or `values`, not both");
    if (Has(set, "value")) out.push_back(Str(set.Get("value"), where + " value"));
    if (Has(set, "values")) {
      const YamlNode& vs = set.Get("values");
      if (!vs.IsSequence()) Fail(vs, where + " values: expected a list");
      for (const YamlNode& v : vs.Items()) out.push_back(Str(v, where + " values"));
    }
    if (out.empty()) Fail(set, where + ": no `values`");
    return out;
  }

  RecordSetSpec Set(const YamlNode& n, const std::string& where, bool weighted) const {
    if (weighted) {
      AllowKeys(n, {"id", "weight", "health_check", "value", "values"}, where);
    } else {
      AllowKeys(n, {"health_check", "value", "values"}, where);
    }
    RecordSetSpec s;
    if (Has(n, "health_check"))
      s.health_check = Str(n.Get("health_check"), where + " health_check");
    if (weighted) {
      if (!Has(n, "id")) Fail(n, where + ": each weighted set needs an `id`");
      s.id = Str(n.Get("id"), where + " id");
      s.weight = Has(n, "weight") ? U32(n.Get("weight"), where + " weight") : 1;
    }
    s.values = Values(n, where);
    return s;
  }

  RrsetSpec Record(const YamlNode& n) const {
    AllowKeys(n, {"name", "type", "ttl", "value", "values", "failover", "weighted"}, "record");
    if (!Has(n, "name")) Fail(n, "record: missing `name`");
    if (!Has(n, "type")) Fail(n, "record: missing `type`");
    RrsetSpec r;
    r.name = Str(n.Get("name"), "record name");
    r.type = Str(n.Get("type"), "record type");
    const std::string where = "record " + r.name + " " + r.type;
    if (Has(n, "ttl")) r.ttl = U32(n.Get("ttl"), where + " ttl");
    const int forms =
        (Has(n, "value") || Has(n, "values")) + Has(n, "failover") + Has(n, "weighted");
    if (forms != 1) {
      Fail(n, where + ": give exactly one of `values` (simple), `failover` or `weighted`");
    }
    if (Has(n, "failover")) {
      const YamlNode& f = n.Get("failover");
      AllowKeys(f, {"primary", "secondary"}, where + " failover");
      if (!Has(f, "primary") || !Has(f, "secondary")) {
        Fail(f, where + " failover: needs both `primary` and `secondary`");
      }
      r.policy = RoutingPolicy::kFailover;
      RecordSetSpec p = Set(f.Get("primary"), where + " failover primary", false);
      p.id = "primary";
      p.role = FailoverRole::kPrimary;
      RecordSetSpec s = Set(f.Get("secondary"), where + " failover secondary", false);
      s.id = "secondary";
      s.role = FailoverRole::kSecondary;
      r.sets = {p, s};
    } else if (Has(n, "weighted")) {
      const YamlNode& w = n.Get("weighted");
      if (!w.IsSequence() || w.size() == 0) Fail(w, where + " weighted: expected a list of sets");
      r.policy = RoutingPolicy::kWeighted;
      for (const YamlNode& s : w.Items()) r.sets.push_back(Set(s, where + " weighted set", true));
    } else {
      RecordSetSpec s;
      s.values = Values(n, where);
      r.sets = {s};
    }
    return r;
  }

  ZoneSpec Zone(const YamlNode& n) const {
    AllowKeys(n, {"origin", "ttl", "ns", "soa", "records"}, "zone");
    ZoneSpec z;
    if (!Has(n, "origin")) Fail(n, "zone: missing `origin` (e.g. origin: pilotlight.test.)");
    z.origin = Str(n.Get("origin"), "zone origin");
    if (Has(n, "ttl")) z.default_ttl = U32(n.Get("ttl"), "zone ttl");
    if (!Has(n, "ns")) Fail(n, "zone " + z.origin + ": missing `ns` (its name servers)");
    const YamlNode& ns = n.Get("ns");
    if (ns.IsScalar()) {
      z.nameservers.push_back(Str(ns, "ns"));
    } else if (ns.IsSequence()) {
      for (const YamlNode& s : ns.Items()) z.nameservers.push_back(Str(s, "ns"));
    } else {
      Fail(ns, "ns: expected a name or a list of names");
    }
    if (Has(n, "soa")) {
      const YamlNode& s = n.Get("soa");
      AllowKeys(s, {"mname", "rname", "serial", "refresh", "retry", "expire", "minimum", "ttl"},
                "soa");
      if (Has(s, "mname")) z.soa.mname = Str(s.Get("mname"), "soa mname");
      if (Has(s, "rname")) z.soa.rname = Str(s.Get("rname"), "soa rname");
      if (Has(s, "serial")) z.soa.serial = U32(s.Get("serial"), "soa serial");
      if (Has(s, "refresh")) z.soa.refresh = U32(s.Get("refresh"), "soa refresh");
      if (Has(s, "retry")) z.soa.retry = U32(s.Get("retry"), "soa retry");
      if (Has(s, "expire")) z.soa.expire = U32(s.Get("expire"), "soa expire");
      if (Has(s, "minimum")) z.soa.minimum = U32(s.Get("minimum"), "soa minimum");
      if (Has(s, "ttl")) z.soa.ttl = U32(s.Get("ttl"), "soa ttl");
    }
    if (Has(n, "records")) {
      const YamlNode& rs = n.Get("records");
      if (!rs.IsSequence()) Fail(rs, "records: expected a list");
      for (const YamlNode& r : rs.Items()) z.rrsets.push_back(Record(r));
    }
    return z;
  }

 private:
  std::string file_;
};

Result<std::string> ReadFile(const std::string& path, bool* missing) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (missing != nullptr && errno == ENOENT) {
      *missing = true;
      return std::string();
    }
    return Status::IOError("cannot read " + path + ": " + strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Lines without comments and blanks, with their 1-based numbers.
std::vector<std::pair<int, std::string>> Lines(std::string_view text) {
  std::vector<std::pair<int, std::string>> out;
  int number = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    ++number;
    std::string line(text.substr(pos, end - pos));
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    line = Trim(line);
    if (!line.empty()) out.emplace_back(number, line);
    pos = end + 1;
  }
  return out;
}

std::string OverrideKey(std::string name) {
  for (char& c : name) c = AsciiLower(c);
  if (name.empty() || name.back() != '.') name += '.';
  return name;
}

}  // namespace

Result<std::vector<ZoneSpec>> ParseZoneFile(std::string_view text, const std::string& file) {
  const config::YamlDocument doc = config::ParseYaml(text, file);
  if (doc.error) {
    const config::SourceLocation& w = doc.error->where;
    return Status::InvalidArgument(w.line > 0 ? At(file, {0, w.line - 1, w.column - 1}, doc.message)
                                              : file + ": " + doc.message);
  }
  try {
    const YamlNode& root = doc.root;
    YamlReader reader(file);
    if (!root.IsMap()) return Status::InvalidArgument(file + ": expected a mapping with `zones`");
    reader.AllowKeys(root, {"zones"}, "zone file");
    const YamlNode zones = root.Get("zones");
    if (!zones.IsSequence() || zones.size() == 0) {
      return Status::InvalidArgument(file + ": `zones` must list at least one zone");
    }
    std::vector<ZoneSpec> out;
    for (const YamlNode& z : zones.Items()) out.push_back(reader.Zone(z));
    return out;
  } catch (const ParseError& e) {
    return Status::InvalidArgument(e.what());
  }
}

Result<std::vector<ZoneSpec>> LoadZoneFile(const std::string& path) {
  Result<std::string> text = config::ReadYamlFile(path);
  if (!text.ok()) return Status::IOError("cannot read " + path + ": " + text.status().message());
  return ParseZoneFile(*text, path);
}

Result<std::pair<std::string, bool>> ParseHealthAssignment(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return Status::InvalidArgument("\"" + std::string(text) +
                                   "\": expected CHECK=healthy or CHECK=unhealthy");
  }
  const std::string check = Trim(text.substr(0, eq));
  const std::string state = Trim(text.substr(eq + 1));
  if (check.empty()) return Status::InvalidArgument("\"" + std::string(text) + "\": empty check");
  if (state == "healthy") return std::make_pair(check, true);
  if (state == "unhealthy") return std::make_pair(check, false);
  return Status::InvalidArgument("\"" + std::string(text) +
                                 "\": state must be healthy or "
                                 "unhealthy, not \"" +
                                 state + "\"");
}

Result<StaticHealthView> ParseHealthFile(std::string_view text, const std::string& file) {
  StaticHealthView view;
  for (const auto& [number, line] : Lines(text)) {
    Result<std::pair<std::string, bool>> a = ParseHealthAssignment(line);
    if (!a.ok()) return a.status().Annotate(file + ":" + std::to_string(number));
    view.Set(a->first, a->second);
  }
  return view;
}

Result<StaticHealthView> LoadHealthFile(const std::string& path) {
  bool missing = false;
  Result<std::string> text = ReadFile(path, &missing);
  if (!text.ok()) return text.status();
  return ParseHealthFile(*text, path);
}

Result<std::optional<RoutingOverride>> ParseRoutingTarget(std::string_view text) {
  if (text == "auto") return std::optional<RoutingOverride>();
  RoutingOverride o;
  if (text == "primary") {
    o.force = FailoverRole::kPrimary;
    return std::optional<RoutingOverride>(o);
  }
  if (text == "secondary") {
    o.force = FailoverRole::kSecondary;
    return std::optional<RoutingOverride>(o);
  }
  const std::string_view prefix = "weights:";
  if (text.substr(0, prefix.size()) != prefix) {
    return Status::InvalidArgument("\"" + std::string(text) +
                                   "\": expected primary, secondary, auto or weights:ID=N,ID=N");
  }
  std::string_view rest = text.substr(prefix.size());
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const size_t eq = item.find('=');
    const std::string id = Trim(item.substr(0, eq));
    const std::string w = eq == std::string_view::npos ? "" : Trim(item.substr(eq + 1));
    if (id.empty() || w.empty() || w.size() > 9 ||
        w.find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument("weight \"" + std::string(item) +
                                     "\": expected ID=N with N a whole number");
    }
    o.weights[id] = static_cast<uint32_t>(std::stoul(w));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  if (o.weights.empty()) return Status::InvalidArgument("weights: list at least one ID=N");
  return std::optional<RoutingOverride>(o);
}

std::string FormatRoutingOverride(const RoutingOverride& o) {
  if (o.force) return *o.force == FailoverRole::kSecondary ? "secondary" : "primary";
  std::string s = "weights:";
  bool first = true;
  for (const auto& [id, w] : o.weights) {
    s += (first ? "" : ",") + id + "=" + std::to_string(w);
    first = false;
  }
  return s;
}

Result<Overrides> ParseOverrides(std::string_view text, const std::string& file) {
  Overrides out;
  for (const auto& [number, line] : Lines(text)) {
    const std::string where = file + ":" + std::to_string(number);
    const size_t space = line.find_first_of(" \t");
    if (space == std::string::npos) {
      return Status::InvalidArgument(where + ": expected \"NAME TARGET\"");
    }
    Result<std::optional<RoutingOverride>> target = ParseRoutingTarget(Trim(line.substr(space)));
    if (!target.ok()) return target.status().Annotate(where);
    if (*target) out[OverrideKey(line.substr(0, space))] = **target;
  }
  return out;
}

Result<Overrides> LoadOverrides(const std::string& path) {
  bool missing = false;
  Result<std::string> text = ReadFile(path, &missing);
  if (!text.ok()) return text.status();
  return ParseOverrides(*text, path);
}

std::string FormatOverrides(const Overrides& overrides) {
  std::string s = "# pilotlight dns overrides (written by `pilotlight dns set`)\n";
  for (const auto& [name, o] : overrides) s += name + " " + FormatRoutingOverride(o) + "\n";
  return s;
}

Status SaveOverrides(const std::string& path, const Overrides& overrides) {
  return sys::WriteFileAtomically(path, FormatOverrides(overrides));
}

}  // namespace pilotlight::dns
