#include "dns/zone/catalog.h"

namespace pilotlight::dns {

const ZoneState* CatalogSnapshot::FindZone(const Name& name) const {
  const ZoneState* best = nullptr;
  for (const ZoneState& z : zones) {
    if (name.IsSubdomainOf(z.zone->origin()) &&
        (best == nullptr || z.zone->origin().wire().size() > best->zone->origin().wire().size())) {
      best = &z;
    }
  }
  return best;
}

uint32_t NextSerial(uint32_t serial, WallTime now) {
  const int64_t unix_now =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const uint32_t bumped = serial + 1;
  return unix_now > bumped && unix_now <= 0xFFFFFFFFll ? static_cast<uint32_t>(unix_now) : bumped;
}

Result<std::unique_ptr<Catalog>> Catalog::Build(const std::vector<ZoneSpec>& specs, WallTime now) {
  auto snapshot = std::make_shared<CatalogSnapshot>();
  StaticHealthView no_health;
  for (const ZoneSpec& spec : specs) {
    Result<std::shared_ptr<const Zone>> zone = Zone::Build(spec, now);
    if (!zone.ok()) return zone.status();
    for (const ZoneState& other : snapshot->zones) {
      if (other.zone->origin() == (*zone)->origin()) {
        return Status::InvalidArgument("zone " + (*zone)->origin().ToString() +
                                       " is declared twice");
      }
    }
    ZoneState state;
    state.zone = *zone;
    state.selections = state.zone->Resolve(no_health, {});
    state.serial = state.zone->soa().serial;
    snapshot->zones.push_back(std::move(state));
  }
  snapshot->version = 1;
  std::unique_ptr<Catalog> catalog(new Catalog());
  catalog->current_ = std::move(snapshot);
  catalog->version_.store(1);
  return catalog;
}

std::vector<std::string> Catalog::Refresh(const HealthView& health, const Overrides& overrides,
                                          WallTime now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> changed;
  auto next = std::make_shared<CatalogSnapshot>(*current_);
  for (ZoneState& z : next->zones) {
    std::vector<Selection> selections = z.zone->Resolve(health, overrides);
    if (selections == z.selections) continue;
    z.selections = std::move(selections);
    z.serial = NextSerial(z.serial, now);
    changed.push_back(z.zone->origin().ToString());
  }
  if (!changed.empty()) {
    next->version = current_->version + 1;
    current_ = std::move(next);
    version_.store(current_->version, std::memory_order_release);
  }
  return changed;
}

std::shared_ptr<const CatalogSnapshot> Catalog::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

}  // namespace pilotlight::dns
