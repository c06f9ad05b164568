// The threshold transition, table-driven: a sequence of probe results and the
// status and outcome after each one.
#include "health/thresholds.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pilotlight::health {
namespace {

using O = ThresholdOutcome;
using S = HealthStatus;

struct Case {
  const char* name;
  Thresholds thresholds;
  HealthStatus start;
  std::string probes;  // 'o' success, 'x' failure
  std::vector<S> statuses;
  std::vector<O> outcomes;
};

const S U = S::kUnknown, H = S::kHealthy, D = S::kUnhealthy;
const O Same = O::kUnchanged, Chg = O::kChanged, Pend = O::kChangePending;

const Case kCases[] = {
    {"unknown needs success threshold", {3, 2}, U, "oo", {U, H}, {Pend, Chg}},
    {"unknown needs failure threshold", {3, 2}, U, "xxx", {U, U, D}, {Pend, Pend, Chg}},
    {"thresholds of one decide at once", {1, 1}, U, "xo", {D, H}, {Chg, Chg}},
    {"one lost probe does not flap", {3, 2}, H, "xoxxo", {H, H, H, H, H},
     {Pend, Same, Pend, Pend, Same}},
    {"three consecutive failures", {3, 2}, H, "xxxx", {H, H, D, D}, {Pend, Pend, Chg, Same}},
    {"a success resets the failure count", {3, 2}, H, "xxoxx", {H, H, H, H, H},
     {Pend, Pend, Same, Pend, Pend}},
    {"recovery needs consecutive successes", {3, 2}, D, "oxoo", {D, D, D, H},
     {Pend, Same, Pend, Chg}},
    {"steady healthy is unchanged", {3, 2}, H, "ooo", {H, H, H}, {Same, Same, Same}},
    {"steady unhealthy is unchanged", {3, 2}, D, "xx", {D, D}, {Same, Same}},
};

TEST(ThresholdsTest, Table) {
  for (const Case& c : kCases) {
    ThresholdState st;
    st.status = c.start;
    ASSERT_EQ(c.probes.size(), c.statuses.size()) << c.name;
    for (size_t i = 0; i < c.probes.size(); ++i) {
      const O got = ApplyProbe(st, c.probes[i] == 'o', c.thresholds);
      EXPECT_EQ(st.status, c.statuses[i]) << c.name << " after probe " << i;
      EXPECT_EQ(got, c.outcomes[i]) << c.name << " after probe " << i << ": "
                                    << ThresholdOutcomeName(got);
    }
  }
}

}  // namespace
}  // namespace pilotlight::health
