// Verdicts of probe results: which failures are the target's and which are our
// own checker's lateness (IsLateProbe). Pure.
#include "health/check.h"

#include <gtest/gtest.h>

namespace pilotlight::health {
namespace {

using namespace std::chrono_literals;

struct LateCase {
  const char* name;
  bool ok;
  std::optional<Duration> timed_out_after;
  Duration lateness;
  Duration latency;
  ProbeVerdict want;
};

TEST(CheckTest, OnlyTimeoutsOfALateCheckerAreLate) {
  CheckSpec spec;
  spec.timeout = 400ms;  // tolerance max(100ms, 400ms / 4) = 100ms
  const LateCase cases[] = {
      {"answer on time", true, std::nullopt, 0ms, 5ms, ProbeVerdict::kHealthy},
      {"answer from a late probe: the target spoke", true, std::nullopt, 900ms, 5ms,
       ProbeVerdict::kHealthy},
      {"refused on time", false, std::nullopt, 0ms, 1ms, ProbeVerdict::kFailed},
      {"refused by a late probe: still definitive", false, std::nullopt, 900ms, 1ms,
       ProbeVerdict::kFailed},
      {"timeout on time", false, 400ms, 10ms, 410ms, ProbeVerdict::kTimedOut},
      {"connect timeout on time", false, 300ms, 0ms, 350ms, ProbeVerdict::kTimedOut},
      {"timeout of a probe that started 150 ms late", false, 400ms, 150ms, 400ms,
       ProbeVerdict::kLate},
      {"timeout whose timer fired 600 ms late (starved)", false, 400ms, 0ms, 1000ms,
       ProbeVerdict::kLate},
      {"connect timeout of a stopped process (5 s)", false, 300ms, 0ms, 5s, ProbeVerdict::kLate},
  };
  for (const LateCase& c : cases) {
    ProbeResult r;
    r.ok = c.ok;
    r.timed_out_after = c.timed_out_after;
    r.lateness = c.lateness;
    r.latency = c.latency;
    r.late = IsLateProbe(spec, r);
    EXPECT_EQ(VerdictOf(r), c.want) << c.name << ": got " << ProbeVerdictName(VerdictOf(r));
  }
}

TEST(CheckTest, ToleranceGrowsWithTheTimeout) {
  CheckSpec spec;
  spec.timeout = 200ms;
  EXPECT_EQ(LateTolerance(spec), 100ms);
  spec.timeout = 2s;
  EXPECT_EQ(LateTolerance(spec), 500ms);
}

}  // namespace
}  // namespace pilotlight::health
