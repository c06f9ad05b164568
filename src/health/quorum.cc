#include "health/quorum.h"

#include <string>

namespace pilotlight::health {
namespace {

struct Counts {
  int healthy = 0;
  int unhealthy = 0;
  int unknown = 0;
};

Counts Count(const std::vector<HealthStatus>& statuses) {
  Counts c;
  for (HealthStatus s : statuses) {
    if (s == HealthStatus::kHealthy) ++c.healthy;
    else if (s == HealthStatus::kUnhealthy) ++c.unhealthy;
    else ++c.unknown;
  }
  return c;
}

std::string Tally(const Counts& c, int n) {
  return std::to_string(c.healthy) + " healthy, " + std::to_string(c.unhealthy) +
         " unhealthy, " + std::to_string(c.unknown) + " unknown of " + std::to_string(n);
}

}  // namespace

Combined QuorumStatus(const std::vector<HealthStatus>& statuses, int unhealthy_quorum) {
  const int n = static_cast<int>(statuses.size());
  const Counts c = Count(statuses);
  const std::string quorum = " (quorum " + std::to_string(unhealthy_quorum) + ")";
  if (c.unhealthy >= unhealthy_quorum) {
    return {HealthStatus::kUnhealthy, "unhealthy from " + std::to_string(c.unhealthy) + " of " +
                                          std::to_string(n) + " vantage points" + quorum};
  }
  if (c.healthy >= n - unhealthy_quorum + 1) {
    return {HealthStatus::kHealthy, "healthy from " + std::to_string(c.healthy) + " of " +
                                        std::to_string(n) + " vantage points" + quorum};
  }
  return {HealthStatus::kUnknown, "undecided: " + Tally(c, n) + " vantage points" + quorum};
}

Combined CalculatedStatus(const std::vector<HealthStatus>& children, int min_healthy,
                          bool inverted) {
  const int n = static_cast<int>(children.size());
  const Counts c = Count(children);
  const std::string need = " (need " + std::to_string(min_healthy) + ")";
  Combined r;
  if (c.healthy >= min_healthy) {
    r = {HealthStatus::kHealthy, std::to_string(c.healthy) + " of " + std::to_string(n) +
                                     " children healthy" + need};
  } else if (c.healthy + c.unknown < min_healthy) {
    r = {HealthStatus::kUnhealthy, "only " + std::to_string(c.healthy) + " of " +
                                       std::to_string(n) + " children healthy" + need};
  } else {
    r = {HealthStatus::kUnknown, "undecided: " + Tally(c, n) + " children" + need};
  }
  if (inverted && r.status != HealthStatus::kUnknown) {
    r.status = r.status == HealthStatus::kHealthy ? HealthStatus::kUnhealthy
                                                  : HealthStatus::kHealthy;
    r.reason = "inverted: " + r.reason;
  }
  return r;
}

}  // namespace pilotlight::health
