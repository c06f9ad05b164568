// The zone the zone and responder tests answer from (test helper, not a library header).
#pragma once

#include "dns/zone/zone_spec.h"

namespace pilotlight::dns::testing {

inline RecordSetSpec Set(std::string id, std::vector<std::string> values, std::string check = "",
                         FailoverRole role = FailoverRole::kNone, uint32_t weight = 1) {
  return RecordSetSpec{std::move(id), role, weight, std::move(check), std::move(values)};
}

inline RrsetSpec Simple(std::string name, std::string type, std::vector<std::string> values,
                        std::optional<uint32_t> ttl = std::nullopt) {
  return RrsetSpec{
      std::move(name), std::move(type), ttl, RoutingPolicy::kSimple, {Set("", std::move(values))}};
}

// pilotlight.test.: api is failover (primary-api / dr-api), trade is weighted 100/0.
inline ZoneSpec TestZone() {
  ZoneSpec z;
  z.origin = "pilotlight.test.";
  z.default_ttl = 60;
  z.soa.serial = 100;
  z.soa.minimum = 30;
  z.soa.ttl = 3600;
  z.nameservers = {"ns1"};
  z.rrsets.push_back(Simple("ns1", "A", {"127.0.3.1"}));
  z.rrsets.push_back(
      RrsetSpec{"api",
                "A",
                30,
                RoutingPolicy::kFailover,
                {Set("dr", {"127.0.2.10"}, "dr-api", FailoverRole::kSecondary),
                 Set("primary", {"127.0.1.10"}, "primary-api", FailoverRole::kPrimary)}});
  z.rrsets.push_back(
      RrsetSpec{"trade",
                "A",
                std::nullopt,
                RoutingPolicy::kWeighted,
                {Set("primary", {"127.0.1.20"}, "primary-api", FailoverRole::kNone, 100),
                 Set("dr", {"127.0.2.20"}, "dr-api", FailoverRole::kNone, 0)}});
  z.rrsets.push_back(Simple("www", "CNAME", {"api"}));
  z.rrsets.push_back(Simple("ext", "CNAME", {"target.example.org."}));
  z.rrsets.push_back(Simple("dangling", "CNAME", {"missing"}));
  z.rrsets.push_back(Simple("txt", "TXT", {"\"hello world\""}));
  z.rrsets.push_back(Simple("v6", "AAAA", {"2001:db8::1"}));
  z.rrsets.push_back(Simple("a.b.deep", "A", {"10.0.0.1"}));
  std::vector<std::string> many;
  for (int i = 0; i < 40; ++i) many.push_back("10.1.0." + std::to_string(i));
  z.rrsets.push_back(Simple("big", "A", many));
  return z;
}

}  // namespace pilotlight::dns::testing
