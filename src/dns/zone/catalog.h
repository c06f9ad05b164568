// Catalog: the zones a server is authoritative for, as currently published.
//
// The catalog owns one ZoneState per zone. Refresh() re-resolves every routed record
// set against health and overrides; a zone whose selections changed is republished
// with a higher SOA serial (max(serial + 1, Unix time of `now`)), so secondaries and
// caches can tell. Readers take an immutable CatalogSnapshot and answer from it
// without locks; version() tells them cheaply when to take a new one.
// Thread-safe: Refresh() and Snapshot() may be called from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dns/zone/zone.h"

namespace pilotlight::dns {

struct CatalogSnapshot {
  std::vector<ZoneState> zones;
  uint64_t version = 0;
  // The zone with the longest origin containing `name`, or nullptr (not ours).
  const ZoneState* FindZone(const Name& name) const;
};

class Catalog {
 public:
  // Builds every zone (resolved with no health information and no overrides).
  static Result<std::unique_ptr<Catalog>> Build(const std::vector<ZoneSpec>& specs, WallTime now);

  // Returns the origins of the zones whose published data changed.
  std::vector<std::string> Refresh(const HealthView& health, const Overrides& overrides,
                                   WallTime now);

  std::shared_ptr<const CatalogSnapshot> Snapshot() const;
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

 private:
  Catalog() = default;
  mutable std::mutex mu_;
  std::shared_ptr<const CatalogSnapshot> current_;  // guarded by mu_
  std::atomic<uint64_t> version_{0};
};

// The next serial after `serial` at `now` (RFC 1982 arithmetic is not needed before 2106).
uint32_t NextSerial(uint32_t serial, WallTime now);

}  // namespace pilotlight::dns
