// Vantage-point quorum and calculated checks, table-driven.
#include "health/quorum.h"

#include <gtest/gtest.h>

namespace pilotlight::health {
namespace {

const HealthStatus U = HealthStatus::kUnknown, H = HealthStatus::kHealthy,
                   D = HealthStatus::kUnhealthy;

struct QuorumCase {
  std::vector<HealthStatus> vantages;
  int quorum;
  HealthStatus want;
};

TEST(QuorumTest, Table) {
  const QuorumCase cases[] = {
      // One vantage point that cannot reach the target never decides alone.
      {{D, H, H}, 2, H},
      {{D, D, H}, 2, D},
      {{D, D, D}, 2, D},
      {{H, H, H}, 2, H},
      // Not enough information either way.
      {{D, H, U}, 2, U},
      {{U, U, U}, 2, U},
      {{H, U, U}, 2, U},
      {{D, U, U}, 2, U},
      {{D, D, U}, 2, D},
      // A single vantage point.
      {{D}, 1, D},
      {{H}, 1, H},
      {{U}, 1, U},
      // Quorum of all (unanimity to fail) and of one (any failure fails).
      {{D, D, H}, 3, H},
      {{D, D, U}, 3, U},
      {{D, D, D}, 3, D},
      {{D, H, H}, 1, D},
      {{H, H, U}, 1, U},
      // Five vantage points, majority 3.
      {{D, D, H, H, H}, 3, H},
      {{D, D, D, H, H}, 3, D},
      {{D, D, U, H, H}, 3, U},
  };
  for (const QuorumCase& c : cases) {
    Combined got = QuorumStatus(c.vantages, c.quorum);
    std::string in;
    for (HealthStatus s : c.vantages) in += std::string(HealthStatusName(s)) + " ";
    EXPECT_EQ(got.status, c.want) << in << "quorum " << c.quorum << ": " << got.reason;
    EXPECT_FALSE(got.reason.empty());
  }
}

struct CalcCase {
  std::vector<HealthStatus> children;
  int min_healthy;
  bool inverted;
  HealthStatus want;
};

TEST(CalculatedTest, Table) {
  const CalcCase cases[] = {
      // AND (min = all).
      {{H, H, H}, 3, false, H},
      {{H, D, H}, 3, false, D},
      {{H, U, H}, 3, false, U},
      // OR (min = 1).
      {{D, D, H}, 1, false, H},
      {{D, D, D}, 1, false, D},
      {{D, U, D}, 1, false, U},
      {{U, H, D}, 1, false, H},
      // N of M.
      {{H, H, D}, 2, false, H},
      {{H, D, D}, 2, false, D},
      {{H, U, D}, 2, false, U},
      // Inverted.
      {{H, H, H}, 3, true, D},
      {{D, D, D}, 1, true, H},
      {{H, U, H}, 3, true, U},
  };
  for (const CalcCase& c : cases) {
    Combined got = CalculatedStatus(c.children, c.min_healthy, c.inverted);
    std::string in;
    for (HealthStatus s : c.children) in += std::string(HealthStatusName(s)) + " ";
    EXPECT_EQ(got.status, c.want) << in << "min " << c.min_healthy << " inverted "
                                  << c.inverted << ": " << got.reason;
  }
}

}  // namespace
}  // namespace pilotlight::health
