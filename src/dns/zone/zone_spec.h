// What an operator declares about a zone: plain structs, no parsing, no I/O.
//
// Route 53 vocabulary: a record set (name + type) has a routing policy.
//  * simple:   one set of values;
//  * failover: a primary and a secondary set, each usually tied to a health check;
//              the secondary answers while the primary's check is unhealthy and the
//              secondary's is not; when both are unhealthy the primary answers;
//  * weighted: several sets with weights; one is chosen per query in proportion to
//              its weight among the healthy ones (all of them when none is healthy);
//              weights move traffic back gradually after a failover.
// The YAML zone file (dns/zonefile) and, later, the `dns:` section of the main config
// fill these structs; Zone::Build validates them. Plain values: thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pilotlight::dns {

enum class RoutingPolicy { kSimple, kFailover, kWeighted };
enum class FailoverRole { kNone, kPrimary, kSecondary };

std::string PolicyName(RoutingPolicy policy);  // "simple", "failover", "weighted"

// One alternative of a record set: the values served when it is chosen.
struct RecordSetSpec {
  std::string id;                           // "primary", "dr", ...: unique within the record set
  FailoverRole role = FailoverRole::kNone;  // failover policy only
  uint32_t weight = 1;                      // weighted policy only
  std::string health_check;                 // empty: always healthy
  std::vector<std::string> values;  // presentation form: "192.0.2.1", "target.example.", ...
};

struct RrsetSpec {
  std::string name;             // relative to the origin ("api", "@") or absolute ("api.x.")
  std::string type;             // A, AAAA, CNAME, TXT, NS, MX, PTR
  std::optional<uint32_t> ttl;  // default: the zone's default TTL
  RoutingPolicy policy = RoutingPolicy::kSimple;
  std::vector<RecordSetSpec> sets;  // simple: exactly one
};

struct SoaSpec {
  std::string mname;               // primary name server; default: the first NS
  std::string rname;               // mailbox as a name; default: hostmaster.<origin>
  std::optional<uint32_t> serial;  // default: the Unix time when the zone is built
  uint32_t refresh = 3600;
  uint32_t retry = 600;
  uint32_t expire = 604800;
  uint32_t minimum = 30;  // negative-caching TTL (RFC 2308)
  std::optional<uint32_t> ttl;
};

struct ZoneSpec {
  std::string origin;  // "pilotlight.test."
  uint32_t default_ttl = 60;
  SoaSpec soa;
  std::vector<std::string> nameservers;  // NS records at the apex; at least one
  std::vector<RrsetSpec> rrsets;
};

}  // namespace pilotlight::dns
