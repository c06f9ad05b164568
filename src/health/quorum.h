// Combining statuses: vantage-point quorum and calculated checks. Pure functions,
// thread-safe.
//
// Quorum (safety rule 3, "never fail over on the word of one vantage point"): a
// check is unhealthy when at least `unhealthy_quorum` vantage points see it
// unhealthy, healthy when enough see it healthy that the quorum can no longer be
// reached (n - quorum + 1), and unknown in between.
//
// Calculated (Route 53 calculated checks): healthy when at least `min_healthy`
// children are healthy, unhealthy when even counting every unknown child as
// healthy would fall short, unknown otherwise; inverted swaps healthy and
// unhealthy.
#pragma once

#include <string>
#include <vector>

#include "health/check.h"

namespace pilotlight::health {

struct Combined {
  HealthStatus status = HealthStatus::kUnknown;
  std::string reason;  // "unhealthy from 2 of 3 vantage points (quorum 2)"
};

// REQUIRES: 1 <= unhealthy_quorum <= statuses.size().
Combined QuorumStatus(const std::vector<HealthStatus>& statuses, int unhealthy_quorum);

// REQUIRES: 1 <= min_healthy <= children.size().
Combined CalculatedStatus(const std::vector<HealthStatus>& children, int min_healthy,
                          bool inverted);

}  // namespace pilotlight::health
