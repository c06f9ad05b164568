// `dns`: where the embedded server listens, its zones and their records
// (simple, failover, weighted), and the RFC 2136 publishers; and DNS record
// names other sections give (controller.dns.record, dns steps).
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
#include "dns/wire/message.h"
#include "dns/wire/name.h"
#include "dns/zone/zone.h"

namespace pilotlight::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

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
constexpr int64_t kMaxTtl = 2147483647;  // RFC 2181
constexpr int64_t kMaxU32 = 4294967295;
constexpr int64_t kMaxPublishAttempts = 10;
constexpr NamePattern kSetId{"a-zA-Z0-9", "a-zA-Z0-9_-", 31,
                             "a set id matching [A-Za-z0-9][A-Za-z0-9_-]{0,31}"};

}  // namespace

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
            const YamlNode id = s.value.Get("id");
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

}  // namespace pilotlight::config
