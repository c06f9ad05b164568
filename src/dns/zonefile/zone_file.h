// The files an operator (or a test) gives `pilotlight dns`: the YAML zone file, the
// health-state file and the routing-override file that `dns set` writes.
//
// Zone file (YAML; JSON is YAML too):
//   zones:
//     - origin: pilotlight.test.
//       ttl: 60                      # default TTL
//       ns: [ns1]                    # apex NS; relative names end in the origin
//       soa: {rname: hostmaster, minimum: 30}   # all fields optional
//       records:
//         - {name: ns1, type: A, values: [127.0.3.1]}
//         - name: api
//           type: A
//           ttl: 30
//           failover:
//             primary:   {values: [127.0.1.10], health_check: primary-api}
//             secondary: {values: [127.0.2.10], health_check: dr-api}
//         - name: trade
//           type: A
//           weighted:
//             - {id: primary, weight: 100, values: [127.0.1.20], health_check: primary-api}
//             - {id: dr, weight: 0, values: [127.0.2.20], health_check: dr-api}
// Health file: one "CHECK=healthy|unhealthy" per line, # comments.
// Override file: one "NAME secondary|primary" or "NAME weights ID=N,ID=N" per line.
// Errors carry file:line. Functions are thread-compatible (they read and write files).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "dns/zone/health_view.h"
#include "dns/zone/zone.h"
#include "dns/zone/zone_spec.h"

namespace pilotlight::dns {

// Parses zone-file text; `file` only names the source in error messages.
Result<std::vector<ZoneSpec>> ParseZoneFile(std::string_view text, const std::string& file);
Result<std::vector<ZoneSpec>> LoadZoneFile(const std::string& path);

// Health file. A missing file means no verdicts (every check unknown).
Result<StaticHealthView> ParseHealthFile(std::string_view text, const std::string& file);
Result<StaticHealthView> LoadHealthFile(const std::string& path);
// "CHECK=healthy" -> (CHECK, true). For --health flags.
Result<std::pair<std::string, bool>> ParseHealthAssignment(std::string_view text);

// Override file. A missing file means no overrides.
Result<Overrides> ParseOverrides(std::string_view text, const std::string& file);
Result<Overrides> LoadOverrides(const std::string& path);
std::string FormatOverrides(const Overrides& overrides);
// Writes atomically (temporary file + rename), so a server never reads half a file.
Status SaveOverrides(const std::string& path, const Overrides& overrides);
// "secondary", "primary", "auto" (clears) or "weights:ID=N,ID=N" as given to `dns set --to`.
// Returns nullopt for "auto".
Result<std::optional<RoutingOverride>> ParseRoutingTarget(std::string_view text);
std::string FormatRoutingOverride(const RoutingOverride& o);

}  // namespace pilotlight::dns
