#include "controller/dns_switch.h"

#include <algorithm>
#include <filesystem>

#include "dns/zone/catalog.h"
#include "dns/zonefile/zone_file.h"

namespace pilotlight::controller {

namespace {

struct Located {
  std::unique_ptr<dns::Catalog> catalog;
  std::shared_ptr<const dns::CatalogSnapshot> snapshot;
  const dns::ZoneState* zone = nullptr;
  dns::Name name;
  std::string key;  // the override key: absolute, lower case
};

Result<Located> Locate(const DnsTarget& t, WallTime now) {
  Result<std::vector<dns::ZoneSpec>> specs = dns::LoadZoneFile(t.zone_file);
  if (!specs.ok()) return specs.status();
  Result<std::unique_ptr<dns::Catalog>> catalog = dns::Catalog::Build(*specs, now);
  if (!catalog.ok()) return catalog.status().Annotate(t.zone_file);
  Located l;
  l.catalog = std::move(*catalog);
  l.snapshot = l.catalog->Snapshot();
  Result<dns::Name> name = dns::Name::FromString(t.record);
  if (!name.ok()) return name.status().Annotate("DNS record \"" + t.record + "\"");
  const dns::ZoneState* zone = l.snapshot->FindZone(*name);
  if (zone == nullptr && t.record.back() != '.' && l.snapshot->zones.size() == 1) {
    name = dns::Name::FromString(t.record, &l.snapshot->zones[0].zone->origin());
    if (!name.ok()) return name.status();
    zone = l.snapshot->FindZone(*name);
  }
  if (zone == nullptr) {
    return Status::NotFound("DNS record " + t.record + " is in none of the zones of " +
                            t.zone_file);
  }
  l.zone = zone;
  l.name = *name;
  l.key = name->ToString();
  for (char& c : l.key) c = dns::AsciiLower(c);
  return l;
}

}  // namespace

Status SwitchRecord(const DnsTarget& t, const std::string& to, WallTime now) {
  Result<Located> l = Locate(t, now);
  if (!l.ok()) return l.status();
  Result<std::optional<dns::RoutingOverride>> target = dns::ParseRoutingTarget(to);
  if (!target.ok()) return target.status();
  if (*target) PL_RETURN_IF_ERROR(l->zone->zone->CheckOverride(l->name, **target));
  Result<dns::Overrides> overrides = dns::LoadOverrides(t.overrides_file);
  if (!overrides.ok()) return overrides.status();
  if (*target) {
    (*overrides)[l->key] = **target;
  } else {
    overrides->erase(l->key);
  }
  std::error_code ec;
  const auto dir = std::filesystem::path(t.overrides_file).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  return dns::SaveOverrides(t.overrides_file, *overrides);
}

Result<bool> RecordRoutedAs(const DnsTarget& t, const std::string& to, WallTime now) {
  Result<Located> l = Locate(t, now);
  if (!l.ok()) return l.status();
  Result<std::optional<dns::RoutingOverride>> target = dns::ParseRoutingTarget(to);
  if (!target.ok()) return target.status();
  Result<dns::Overrides> overrides = dns::LoadOverrides(t.overrides_file);
  if (!overrides.ok()) return overrides.status();
  auto it = overrides->find(l->key);
  if (!*target) return it == overrides->end();
  return it != overrides->end() && it->second == **target;
}

Fact DnsSecondaryExists(const DnsTarget& t, WallTime now) {
  Fact f;
  Result<Located> l = Locate(t, now);
  if (!l.ok()) {
    f.detail = l.status().message();
    return f;
  }
  const std::vector<size_t>* sets = l->zone->zone->Find(l->name);
  if (sets != nullptr) {
    for (size_t i : *sets) {
      const dns::Rrset& r = l->zone->zone->rrsets()[i];
      if (r.policy == dns::RoutingPolicy::kFailover) {
        for (const dns::RecordSet& s : r.sets) {
          if (s.role == dns::FailoverRole::kSecondary && !s.values.empty()) {
            f.holds = true;
            f.detail = l->key + " fails over to " + s.values.front();
            return f;
          }
        }
      }
      if (r.policy == dns::RoutingPolicy::kWeighted && r.sets.size() > 1) {
        f.holds = true;
        f.detail = l->key + " is weighted over " + std::to_string(r.sets.size()) + " sets";
        return f;
      }
    }
  }
  f.detail = l->key + " has no failover or weighted record set to switch in " + t.zone_file;
  return f;
}

Result<RecordShape> DescribeRecord(const DnsTarget& t, WallTime now) {
  Result<Located> l = Locate(t, now);
  if (!l.ok()) return l.status();
  RecordShape shape;
  shape.policy = "simple";
  const std::vector<size_t>* sets = l->zone->zone->Find(l->name);
  if (sets == nullptr) return Status::NotFound("DNS record " + l->key + " has no records");
  for (size_t i : *sets) {
    const dns::Rrset& r = l->zone->zone->rrsets()[i];
    if (r.policy == dns::RoutingPolicy::kFailover) shape.policy = "failover";
    if (r.policy == dns::RoutingPolicy::kWeighted) shape.policy = "weighted";
    for (const dns::RecordSet& set : r.sets) {
      RecordSetShape out;
      out.id = set.id;
      if (set.role == dns::FailoverRole::kPrimary) out.role = "primary";
      if (set.role == dns::FailoverRole::kSecondary) out.role = "secondary";
      out.values = set.values;
      shape.sets.push_back(std::move(out));
    }
  }
  return shape;
}

namespace {

// What the zone serves for the located record with `overrides` applied (no
// health file: every check unknown, i.e. healthy), one change per record set.
std::vector<dns::RecordSetChange> Served(Located& l, const dns::Overrides& overrides,
                                         WallTime now) {
  l.catalog->Refresh(dns::StaticHealthView(), overrides, now);
  auto snapshot = l.catalog->Snapshot();
  const dns::ZoneState* zone = snapshot->FindZone(l.name);
  std::vector<dns::RecordSetChange> out;
  const std::vector<size_t>* sets = zone->zone->Find(l.name);
  if (sets == nullptr) return out;
  for (size_t i : *sets) {
    const dns::Rrset& rrset = zone->zone->rrsets()[i];
    if (rrset.type == dns::rrtype::kSoa || rrset.type == dns::rrtype::kNs) continue;
    dns::RecordSetChange change;
    change.name = l.key;
    change.type = rrset.type;
    change.ttl = rrset.ttl;
    const dns::Selection& sel = zone->selections[i];
    for (size_t k = 0; k < sel.sets.size(); ++k) {
      if (sel.weights[k] == 0) continue;
      for (const std::string& v : rrset.sets[sel.sets[k]].values) {
        if (std::find(change.values.begin(), change.values.end(), v) == change.values.end()) {
          change.values.push_back(v);
        }
      }
    }
    out.push_back(std::move(change));
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> CurrentAnswers(const DnsTarget& t, WallTime now) {
  Result<Located> l = Locate(t, now);
  if (!l.ok()) return l.status();
  Result<dns::Overrides> overrides = dns::LoadOverrides(t.overrides_file);
  if (!overrides.ok()) return overrides.status();
  std::vector<std::string> out;
  for (const dns::RecordSetChange& c : Served(*l, *overrides, now)) {
    out.insert(out.end(), c.values.begin(), c.values.end());
  }
  return out;
}

Result<std::vector<dns::RecordSetChange>> RecordChanges(const DnsTarget& t, const std::string& to,
                                                        WallTime now) {
  Result<Located> l = Locate(t, now);
  if (!l.ok()) return l.status();
  Result<std::optional<dns::RoutingOverride>> target = dns::ParseRoutingTarget(to);
  if (!target.ok()) return target.status();
  dns::Overrides overrides;
  if (*target) {
    PL_RETURN_IF_ERROR(l->zone->zone->CheckOverride(l->name, **target));
    overrides[l->key] = **target;
  }
  std::vector<dns::RecordSetChange> changes = Served(*l, overrides, now);
  if (changes.empty()) return Status::NotFound("DNS record " + l->key + " has no records");
  for (dns::RecordSetChange& c : changes) c.routing = to;
  return changes;
}

}  // namespace pilotlight::controller
