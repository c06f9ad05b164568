#include "dns/zone/zone.h"

#include <algorithm>
#include <set>

namespace pilotlight::dns {

std::string PolicyName(RoutingPolicy policy) {
  switch (policy) {
    case RoutingPolicy::kSimple:
      return "simple";
    case RoutingPolicy::kFailover:
      return "failover";
    case RoutingPolicy::kWeighted:
      return "weighted";
  }
  return "?";
}

bool SetHealthy(const RecordSet& set, const HealthView& health) {
  if (set.health_check.empty()) return true;
  return health.Healthy(set.health_check).value_or(true);
}

namespace {

constexpr uint32_t kMaxTtl = 0x7FFFFFFF;
constexpr int kMaxCnameChain = 8;

Status CheckTtl(uint32_t ttl, const std::string& where) {
  if (ttl > kMaxTtl) return Status::InvalidArgument(where + ": TTL above 2147483647");
  return Status::OK();
}

}  // namespace

Result<std::shared_ptr<const Zone>> Zone::Build(const ZoneSpec& spec, WallTime now) {
  std::shared_ptr<Zone> z(new Zone());
  const std::string zone_where = "zone \"" + spec.origin + "\"";
  std::string origin_text = spec.origin;
  if (origin_text.empty()) return Status::InvalidArgument("zone without an origin: set `origin`");
  if (origin_text.back() != '.') origin_text += '.';
  Result<Name> origin = Name::FromString(origin_text);
  if (!origin.ok()) return origin.status().Annotate(zone_where + " origin");
  z->origin_ = *origin;
  PL_RETURN_IF_ERROR(CheckTtl(spec.default_ttl, zone_where + " default_ttl"));

  if (spec.nameservers.empty()) {
    return Status::InvalidArgument(zone_where + ": no name servers; list at least one under `ns`");
  }
  for (const std::string& ns : spec.nameservers) {
    Result<Name> n = Name::FromString(ns, &z->origin_);
    if (!n.ok()) return n.status().Annotate(zone_where + " ns");
    z->ns_rdatas_.push_back(n->wire());
  }
  z->ns_ttl_ = spec.default_ttl;

  // SOA.
  const SoaSpec& s = spec.soa;
  Result<Name> mname = s.mname.empty() ? Name::FromWire(z->ns_rdatas_.front())
                                       : Name::FromString(s.mname, &z->origin_);
  if (!mname.ok()) return mname.status().Annotate(zone_where + " soa.mname");
  Result<Name> rname = s.rname.empty() ? Name::FromString("hostmaster", &z->origin_)
                                       : Name::FromString(s.rname, &z->origin_);
  if (!rname.ok()) return rname.status().Annotate(zone_where + " soa.rname");
  z->soa_.mname = *mname;
  z->soa_.rname = *rname;
  const int64_t unix_now =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  z->soa_.serial = s.serial ? *s.serial : static_cast<uint32_t>(unix_now);
  z->soa_.refresh = s.refresh;
  z->soa_.retry = s.retry;
  z->soa_.expire = s.expire;
  z->soa_.minimum = s.minimum;
  z->soa_ttl_ = s.ttl.value_or(spec.default_ttl);
  PL_RETURN_IF_ERROR(CheckTtl(z->soa_ttl_, zone_where + " soa.ttl"));

  // Record sets.
  std::set<std::pair<std::string, uint16_t>> seen;
  for (const RrsetSpec& rs : spec.rrsets) {
    std::string where = zone_where + " record set \"" + rs.name + " " + rs.type + "\"";
    Result<Name> name = Name::FromString(rs.name, &z->origin_);
    if (!name.ok()) return name.status().Annotate(where);
    if (!name->IsSubdomainOf(z->origin_)) {
      return Status::InvalidArgument(where + ": " + name->ToString() + " is outside the zone " +
                                     z->origin_.ToString());
    }
    std::optional<uint16_t> type = TypeFromName(rs.type);
    if (!type || *type == rrtype::kSoa || *type == rrtype::kOpt || *type == rrtype::kTsig ||
        *type == rrtype::kAny || *type == rrtype::kAxfr || *type == rrtype::kIxfr) {
      return Status::InvalidArgument(where + ": type \"" + rs.type +
                                     "\" cannot be declared; use A, AAAA, CNAME, TXT, MX or PTR "
                                     "(SOA and apex NS come from `soa` and `ns`)");
    }
    if (*type == rrtype::kNs) {
      return Status::InvalidArgument(where +
                                     ": NS records are declared with the zone's `ns` list "
                                     "(delegations are not supported)");
    }
    if (*type == rrtype::kCname && *name == z->origin_) {
      return Status::InvalidArgument(where + ": a CNAME cannot sit at the zone apex");
    }
    if (!seen.insert({name->CanonicalKey(), *type}).second) {
      return Status::InvalidArgument(where +
                                     ": declared twice; give each name and type one "
                                     "record set (alternatives go under failover/weighted)");
    }
    Rrset r;
    r.name = *name;
    r.type = *type;
    r.ttl = rs.ttl.value_or(spec.default_ttl);
    PL_RETURN_IF_ERROR(CheckTtl(r.ttl, where));
    r.policy = rs.policy;
    if (rs.sets.empty()) return Status::InvalidArgument(where + ": no values");
    switch (rs.policy) {
      case RoutingPolicy::kSimple:
        if (rs.sets.size() != 1) {
          return Status::InvalidArgument(where + ": a simple record set has one set of values");
        }
        break;
      case RoutingPolicy::kFailover: {
        int primaries = 0, secondaries = 0;
        for (const RecordSetSpec& set : rs.sets) {
          primaries += set.role == FailoverRole::kPrimary;
          secondaries += set.role == FailoverRole::kSecondary;
        }
        if (rs.sets.size() != 2 || primaries != 1 || secondaries != 1) {
          return Status::InvalidArgument(where +
                                         ": a failover record set needs exactly one "
                                         "primary and one secondary");
        }
        break;
      }
      case RoutingPolicy::kWeighted:
        break;
    }
    std::set<std::string> ids;
    for (const RecordSetSpec& set : rs.sets) {
      const std::string set_where = where + " set \"" + set.id + "\"";
      if (rs.policy != RoutingPolicy::kSimple && !ids.insert(set.id).second) {
        return Status::InvalidArgument(where + ": set id \"" + set.id + "\" used twice");
      }
      if (set.values.empty()) return Status::InvalidArgument(set_where + ": no values");
      if (*type == rrtype::kCname && set.values.size() != 1) {
        return Status::InvalidArgument(set_where + ": a CNAME has exactly one target");
      }
      RecordSet out;
      out.id = set.id;
      out.role = set.role;
      out.weight = set.weight;
      out.health_check = set.health_check;
      out.values = set.values;
      std::set<std::string> unique;
      for (const std::string& v : set.values) {
        Result<std::string> rdata = RdataFromString(*type, v, z->origin_);
        if (!rdata.ok()) return rdata.status().Annotate(set_where);
        if (unique.insert(*rdata).second) out.rdatas.push_back(*rdata);
      }
      r.sets.push_back(std::move(out));
    }
    // Failover: primary first, so index 0 is always the primary.
    if (r.policy == RoutingPolicy::kFailover && r.sets[0].role != FailoverRole::kPrimary) {
      std::swap(r.sets[0], r.sets[1]);
    }
    z->nodes_[name->CanonicalKey()].push_back(z->rrsets_.size());
    z->rrsets_.push_back(std::move(r));
  }
  // CNAME exclusivity (RFC 1034 3.6.2).
  for (const auto& [key, indices] : z->nodes_) {
    const bool has_cname = std::any_of(indices.begin(), indices.end(), [&](size_t i) {
      return z->rrsets_[i].type == rrtype::kCname;
    });
    if (has_cname && indices.size() > 1) {
      return Status::InvalidArgument(zone_where + ": " + z->rrsets_[indices[0]].name.ToString() +
                                     " has a CNAME and other records; a CNAME must stand alone");
    }
  }
  // Interior names (empty non-terminals answer NODATA, not NXDOMAIN).
  const size_t origin_labels = z->origin_.LabelCount();
  for (const Rrset& r : z->rrsets_) {
    Name n = r.name;
    while (n.LabelCount() > origin_labels) {
      n = n.Parent();
      z->interior_.insert(n.CanonicalKey());
    }
  }
  return std::shared_ptr<const Zone>(std::move(z));
}

const std::vector<size_t>* Zone::Find(const Name& name) const {
  auto it = nodes_.find(name.CanonicalKey());
  return it == nodes_.end() ? nullptr : &it->second;
}

bool Zone::HasDescendants(const Name& name) const {
  return interior_.count(name.CanonicalKey()) > 0;
}

namespace {

std::string OverrideKey(const Name& name) {
  std::string s = name.ToString();
  for (char& c : s) c = AsciiLower(c);
  return s;
}

}  // namespace

std::vector<Selection> Zone::Resolve(const HealthView& health, const Overrides& overrides) const {
  std::vector<Selection> out;
  out.reserve(rrsets_.size());
  for (const Rrset& r : rrsets_) {
    Selection sel;
    const RoutingOverride* o = nullptr;
    if (r.policy != RoutingPolicy::kSimple && !overrides.empty()) {
      auto it = overrides.find(OverrideKey(r.name));
      if (it != overrides.end()) o = &it->second;
    }
    switch (r.policy) {
      case RoutingPolicy::kSimple:
        sel.sets = {0};
        sel.weights = {1};
        break;
      case RoutingPolicy::kFailover: {
        uint16_t chosen = 0;  // the primary
        if (o != nullptr && o->force) {
          chosen = *o->force == FailoverRole::kSecondary ? 1 : 0;
        } else if (!SetHealthy(r.sets[0], health) && SetHealthy(r.sets[1], health)) {
          chosen = 1;
        }
        sel.sets = {chosen};
        sel.weights = {1};
        break;
      }
      case RoutingPolicy::kWeighted: {
        std::vector<uint16_t> candidates;
        for (uint16_t i = 0; i < r.sets.size(); ++i) {
          if (SetHealthy(r.sets[i], health)) candidates.push_back(i);
        }
        if (candidates.empty()) {  // Route 53: when none is healthy, all are candidates
          for (uint16_t i = 0; i < r.sets.size(); ++i) candidates.push_back(i);
        }
        auto weight = [&](uint16_t i) {
          if (o != nullptr) {
            auto it = o->weights.find(r.sets[i].id);
            if (it != o->weights.end()) return it->second;
          }
          return r.sets[i].weight;
        };
        for (uint16_t i : candidates) {
          if (weight(i) > 0) {
            sel.sets.push_back(i);
            sel.weights.push_back(weight(i));
          }
        }
        if (sel.sets.empty()) {  // all weights zero: equal shares
          sel.sets = candidates;
          sel.weights.assign(candidates.size(), 1);
        }
        break;
      }
    }
    out.push_back(std::move(sel));
  }
  return out;
}

Status Zone::CheckOverride(const Name& name, const RoutingOverride& o) const {
  const std::vector<size_t>* node = Find(name);
  bool routed = false;
  if (node != nullptr) {
    for (size_t i : *node) {
      const Rrset& r = rrsets_[i];
      if (r.policy == RoutingPolicy::kSimple) continue;
      routed = true;
      const std::string where = name.ToString() + " " + TypeName(r.type);
      if (o.force && r.policy != RoutingPolicy::kFailover) {
        return Status::InvalidArgument(where +
                                       " is weighted: set weights (weights:ID=N,...), "
                                       "not primary/secondary");
      }
      if (!o.weights.empty()) {
        if (r.policy != RoutingPolicy::kWeighted) {
          return Status::InvalidArgument(where +
                                         " is a failover record set: use --to primary "
                                         "or --to secondary");
        }
        for (const auto& weight : o.weights) {
          const std::string& id = weight.first;
          const bool known = std::any_of(r.sets.begin(), r.sets.end(),
                                         [&](const RecordSet& s) { return s.id == id; });
          if (!known) {
            std::string ids;
            for (const RecordSet& s : r.sets) ids += (ids.empty() ? "" : ", ") + s.id;
            return Status::InvalidArgument(where + " has no set \"" + id + "\" (sets: " + ids +
                                           ")");
          }
        }
      }
    }
  }
  if (!routed) {
    return Status::NotFound(name.ToString() + " has no failover or weighted record set in zone " +
                            origin_.ToString());
  }
  return Status::OK();
}

ResourceRecord SoaRecord(const ZoneState& state, uint32_t ttl) {
  SoaData soa = state.zone->soa();
  soa.serial = state.serial;
  ResourceRecord rr;
  rr.name = state.zone->origin();
  rr.type = rrtype::kSoa;
  rr.ttl = ttl;
  rr.rdata = EncodeSoa(soa);
  return rr;
}

namespace {

const RecordSet& Pick(const Rrset& r, const Selection& sel, uint64_t random) {
  if (sel.sets.size() == 1) return r.sets[sel.sets[0]];
  uint64_t total = 0;
  for (uint32_t w : sel.weights) total += w;
  uint64_t x = total == 0 ? 0 : random % total;
  for (size_t i = 0; i < sel.sets.size(); ++i) {
    if (x < sel.weights[i]) return r.sets[sel.sets[i]];
    x -= sel.weights[i];
  }
  return r.sets[sel.sets.back()];
}

void AppendRrset(const Name& owner, const Rrset& r, const RecordSet& set,
                 std::vector<ResourceRecord>& out) {
  for (const std::string& rdata : set.rdatas) {
    out.push_back(ResourceRecord{owner, r.type, rrclass::kIn, r.ttl, rdata});
  }
}

void AppendNs(const ZoneState& state, std::vector<ResourceRecord>& out) {
  const Zone& z = *state.zone;
  for (const std::string& rdata : z.ns_rdatas()) {
    out.push_back(ResourceRecord{z.origin(), rrtype::kNs, rrclass::kIn, z.ns_ttl(), rdata});
  }
}

// Addresses of in-zone name servers, for the additional section.
void AppendGlue(const ZoneState& state, uint64_t random, std::vector<ResourceRecord>& out) {
  const Zone& z = *state.zone;
  for (const std::string& rdata : z.ns_rdatas()) {
    Result<Name> ns = Name::FromWire(rdata);
    if (!ns.ok() || !ns->IsSubdomainOf(z.origin())) continue;
    const std::vector<size_t>* node = z.Find(*ns);
    if (node == nullptr) continue;
    for (size_t i : *node) {
      const Rrset& r = z.rrsets()[i];
      if (r.type != rrtype::kA && r.type != rrtype::kAaaa) continue;
      AppendRrset(*ns, r, Pick(r, state.selections[i], random), out);
    }
  }
}

}  // namespace

void AnswerQuestion(const Question& q, const ZoneState& state, uint64_t random, Message& response) {
  const Zone& z = *state.zone;
  response.header.aa = true;
  const uint32_t negative_ttl = std::min(z.soa_ttl(), z.soa().minimum);
  Name name = q.name;
  bool first = true;
  for (int hop = 0; hop <= kMaxCnameChain; ++hop) {
    if (!name.IsSubdomainOf(z.origin())) return;  // CNAME left the zone: the client goes on
    const bool apex = name == z.origin();
    const std::vector<size_t>* node = z.Find(name);
    // The owner keeps the case the client used for the first name.
    const Name& owner = first ? q.name : name;
    bool any = false;
    if (apex && (q.type == rrtype::kSoa || q.type == rrtype::kAny)) {
      response.answers.push_back(SoaRecord(state, z.soa_ttl()));
      any = true;
    }
    if (apex && (q.type == rrtype::kNs || q.type == rrtype::kAny)) {
      AppendNs(state, response.answers);
      if (q.type == rrtype::kNs) AppendGlue(state, random, response.additional);
      any = true;
    }
    const Rrset* cname = nullptr;
    const Selection* cname_sel = nullptr;
    if (node != nullptr) {
      for (size_t i : *node) {
        const Rrset& r = z.rrsets()[i];
        if (r.type == rrtype::kCname) {
          cname = &r;
          cname_sel = &state.selections[i];
        }
        if (r.type == q.type || q.type == rrtype::kAny) {
          AppendRrset(owner, r, Pick(r, state.selections[i], random), response.answers);
          any = true;
        }
      }
    }
    if (any) return;
    if (cname != nullptr) {
      const RecordSet& set = Pick(*cname, *cname_sel, random);
      AppendRrset(owner, *cname, set, response.answers);
      Result<Name> target = Name::FromWire(set.rdatas.front());
      if (!target.ok()) return;
      name = *target;
      first = false;
      continue;
    }
    // Nothing of this type here: NODATA when the name exists, else NXDOMAIN.
    const bool exists = apex || node != nullptr || z.HasDescendants(name);
    response.set_rcode(exists ? Rcode::kNoError : Rcode::kNxDomain);
    response.authority.push_back(SoaRecord(state, negative_ttl));
    return;
  }
  // A CNAME chain longer than we follow: return what we have (RFC 1034 lets the
  // client continue).
}

}  // namespace pilotlight::dns
