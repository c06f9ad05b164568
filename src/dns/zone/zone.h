// Zone: one authoritative zone, compiled and validated from a ZoneSpec, and the pure
// function that answers a question from it.
//
// A Zone is immutable once built. Which alternative of a failover or weighted record
// set answers depends on health and operator overrides: Resolve() turns those into a
// Selection per record set, and a ZoneState bundles a zone, its selections and the SOA
// serial they were published under. AnswerQuestion() reads a ZoneState and a random
// number (for weighted choice) and fills a response: no I/O, no clock. All const
// methods are thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "dns/wire/message.h"
#include "dns/zone/health_view.h"
#include "dns/zone/zone_spec.h"

namespace pilotlight::dns {

// What an operator forced with `pilotlight dns set`: a failover role, or new weights.
struct RoutingOverride {
  std::optional<FailoverRole> force;        // failover record sets
  std::map<std::string, uint32_t> weights;  // weighted record sets: set id -> weight
  bool operator==(const RoutingOverride&) const = default;
};
// Keyed by the absolute name in lower case with its trailing dot: "api.pilotlight.test.".
using Overrides = std::map<std::string, RoutingOverride>;

struct RecordSet {
  std::string id;
  FailoverRole role = FailoverRole::kNone;
  uint32_t weight = 1;
  std::string health_check;
  std::vector<std::string> values;  // presentation form, as declared
  std::vector<std::string> rdatas;  // wire form
};

struct Rrset {
  Name name;
  uint16_t type = rrtype::kA;
  uint32_t ttl = 0;
  RoutingPolicy policy = RoutingPolicy::kSimple;
  std::vector<RecordSet> sets;
};

// The alternatives of one record set that may answer now, with their weights (one
// alternative for simple and failover record sets).
struct Selection {
  std::vector<uint16_t> sets;
  std::vector<uint32_t> weights;
  bool operator==(const Selection&) const = default;
};

// True when `set` has no health check, or its check is healthy or unknown.
bool SetHealthy(const RecordSet& set, const HealthView& health);

class Zone {
 public:
  // Validates `spec`; errors name the zone, the record set and what to fix.
  // `now` supplies the SOA serial when the spec gives none.
  static Result<std::shared_ptr<const Zone>> Build(const ZoneSpec& spec, WallTime now);

  const Name& origin() const { return origin_; }
  const SoaData& soa() const { return soa_; }  // serial: the initial one
  uint32_t soa_ttl() const { return soa_ttl_; }
  uint32_t ns_ttl() const { return ns_ttl_; }
  const std::vector<std::string>& ns_rdatas() const { return ns_rdatas_; }
  const std::vector<Rrset>& rrsets() const { return rrsets_; }

  // Indices into rrsets() of the record sets owned by `name`, or nullptr when the
  // name owns none (it may still be an empty non-terminal).
  const std::vector<size_t>* Find(const Name& name) const;
  // True when some name of the zone lies strictly below `name`.
  bool HasDescendants(const Name& name) const;

  // One Selection per record set (same order as rrsets()).
  std::vector<Selection> Resolve(const HealthView& health, const Overrides& overrides) const;
  // Checks that `o` fits the record sets of `name` (e.g. weights only on weighted
  // ones, set ids that exist). NotFound when the zone has no routed record set there.
  Status CheckOverride(const Name& name, const RoutingOverride& o) const;

 private:
  Zone() = default;
  Name origin_;
  SoaData soa_;
  uint32_t soa_ttl_ = 0;
  uint32_t ns_ttl_ = 0;
  std::vector<std::string> ns_rdatas_;
  std::vector<Rrset> rrsets_;
  std::unordered_map<std::string, std::vector<size_t>> nodes_;  // Name::CanonicalKey()
  std::unordered_set<std::string> interior_;                    // keys of names with descendants
};

// A zone as published: its data, the current selections and the SOA serial.
struct ZoneState {
  std::shared_ptr<const Zone> zone;
  std::vector<Selection> selections;
  uint32_t serial = 0;
};

// Fills `response` (answer, authority, additional, rcode, AA) for question `q`,
// whose name lies in `state`'s zone and whose class is IN. `random` picks among
// weighted alternatives.
void AnswerQuestion(const Question& q, const ZoneState& state, uint64_t random, Message& response);

// The SOA record of the zone as published (serial included), TTL as given.
ResourceRecord SoaRecord(const ZoneState& state, uint32_t ttl);

}  // namespace pilotlight::dns
