#include "compute/autoscale.h"

#include <gtest/gtest.h>

#include <vector>

namespace pilotlight::compute {
namespace {

using namespace std::chrono_literals;

ScalingPolicy Policy() {
  ScalingPolicy p;
  p.min_size = 1;
  p.max_size = 5;
  p.target_requests_per_instance = 100;
  p.scale_down_stabilization = 60s;
  return p;
}

ScaleInput Serving(int current, double rps) {
  ScaleInput in;
  in.region = "dr";
  in.group = "trader";
  in.serving = true;
  in.current = current;
  in.requests_per_second = rps;
  return in;
}

// One decision from an empty memory.
struct Row {
  const char* name;
  ScaleInput input;
  ScaleAction action;
  int to;
  const char* words;  // must appear in the reason
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

ScaleInput NotServing() {
  ScaleInput in = Serving(1, 900);
  in.serving = false;
  in.not_serving = "DR in pilot light";
  return in;
}

ScaleInput DuringRun() {
  ScaleInput in = Serving(3, 0);
  in.runbook_running = "failback run 7";
  return in;
}

ScaleInput Unknown() {
  ScaleInput in = Serving(2, 0);
  in.requests_per_second.reset();
  in.load_problem = "no counters";
  return in;
}

const Row kRows[] = {
    {"load over target: scale up at once, the issue's example", Serving(2, 412),
     ScaleAction::kScaleUp, 5,
     "scale trader in dr 2 -> 5: 412 req/s over 2 instances, target "
     "100/instance"},
    {"ceil of rate over target", Serving(2, 301), ScaleAction::kScaleUp, 4, "2 -> 4"},
    {"clamped to the maximum", Serving(2, 10'000), ScaleAction::kScaleUp, 5, "2 -> 5"},
    {"within +10% of target: no change", Serving(2, 219), ScaleAction::kNone, 2, "steady"},
    {"within -10% of target: no change, no scale-down pending", Serving(2, 181), ScaleAction::kNone,
     2, "steady trader in dr at 2"},
    {"just over +10%: scale up", Serving(2, 221), ScaleAction::kScaleUp, 3, "2 -> 3"},
    {"below the minimum: scale up to it", Serving(0, 0), ScaleAction::kScaleUp, 1,
     "below the minimum 1"},
    {"above the maximum: scale down at once", Serving(7, 900), ScaleAction::kScaleDown, 5,
     "above the maximum 5"},
    {"lower load: scale-down waits for the stabilization window", Serving(3, 40),
     ScaleAction::kNone, 3, "wants 1; scale-down once that holds for 60.0 s (60.0 s more)"},
    {"not serving traffic: never scaled", NotServing(), ScaleAction::kNone, 1,
     "not auto-scaled: trader in dr does not serve traffic (DR in pilot light)"},
    {"a runbook runs: the size it set stands", DuringRun(), ScaleAction::kNone, 3,
     "failback run 7 is running; the size it set stands"},
    {"unknown load: no change", Unknown(), ScaleAction::kNone, 2, "load unknown (no counters)"},
};

class ScaleTable : public ::testing::TestWithParam<Row> {};

TEST_P(ScaleTable, Row) {
  const Row& row = GetParam();
  const WallTime now = FakeClock().Now();
  ScaleStep s = DecideScale(Policy(), row.input, {}, now);
  EXPECT_EQ(ScaleActionName(s.decision.action), std::string(ScaleActionName(row.action)))
      << s.decision.reason;
  EXPECT_EQ(s.decision.to, row.to) << s.decision.reason;
  EXPECT_NE(s.decision.reason.find(row.words), std::string::npos) << s.decision.reason;
}

INSTANTIATE_TEST_SUITE_P(Rules, ScaleTable, ::testing::ValuesIn(kRows),
                         [](const ::testing::TestParamInfo<Row>& info) {
                           return "row" + std::to_string(info.index);
                         });

// Over time: each step is (advance, load, size now) → expected action and size.
struct Tick {
  Duration advance;
  double rps;
  int current;
  ScaleAction action;
  int to;
};

std::vector<ScaleDecision> Replay(const ScalingPolicy& p, const std::vector<Tick>& ticks,
                                  FakeClock& clock) {
  ScaleMemory memory;
  std::vector<ScaleDecision> out;
  for (const Tick& t : ticks) {
    clock.Advance(t.advance);
    ScaleStep s = DecideScale(p, Serving(t.current, t.rps), memory, clock.Now());
    memory = s.memory;
    out.push_back(s.decision);
  }
  return out;
}

void ExpectReplay(const ScalingPolicy& p, const std::vector<Tick>& ticks) {
  FakeClock clock;
  const std::vector<ScaleDecision> got = Replay(p, ticks, clock);
  for (size_t i = 0; i < ticks.size(); ++i) {
    EXPECT_EQ(ScaleActionName(got[i].action), std::string(ScaleActionName(ticks[i].action)))
        << "tick " << i << ": " << got[i].reason;
    EXPECT_EQ(got[i].to, ticks[i].to) << "tick " << i << ": " << got[i].reason;
  }
}

TEST(DecideScale, ScaleDownOnlyAfterTheLowerRecommendationHeldForTheWindow) {
  ExpectReplay(Policy(), {
                             {0s, 40, 3, ScaleAction::kNone, 3},       // wants 1, window starts
                             {30s, 40, 3, ScaleAction::kNone, 3},      // 30 s of 60
                             {29s, 40, 3, ScaleAction::kNone, 3},      // 59 s
                             {1s, 40, 3, ScaleAction::kScaleDown, 1},  // held 60 s
                         });
}

TEST(DecideScale, ABurstInTheWindowHoldsTheSizeUntilItAgesOut) {
  ExpectReplay(Policy(),
               {
                   {0s, 300, 3, ScaleAction::kNone, 3},       // steady at 3
                   {20s, 40, 3, ScaleAction::kNone, 3},       // lull
                   {20s, 300, 3, ScaleAction::kNone, 3},      // burst back: wants 3
                   {20s, 40, 3, ScaleAction::kNone, 3},       // 60 s since start, burst in window
                   {30s, 40, 3, ScaleAction::kNone, 3},       // burst 50 s ago
                   {11s, 40, 3, ScaleAction::kScaleDown, 1},  // burst 61 s ago: aged out
               });
}

TEST(DecideScale, ScaleDownGoesToTheHighestRecommendationInTheWindow) {
  ExpectReplay(Policy(), {
                             {0s, 450, 5, ScaleAction::kNone, 5},   // 450 over 5 at 100: within 10%
                             {10s, 190, 5, ScaleAction::kNone, 5},  // wants 2
                             {10s, 90, 5, ScaleAction::kNone, 5},   // wants 1
                             {45s, 90, 5, ScaleAction::kScaleDown, 2},  // 2 still in the window
                         });
}

TEST(DecideScale, ScaleUpIsImmediateEvenInsideAScaleDownWait) {
  ExpectReplay(Policy(), {
                             {0s, 40, 3, ScaleAction::kNone, 3},
                             {30s, 40, 3, ScaleAction::kNone, 3},
                             {1s, 480, 3, ScaleAction::kScaleUp, 5},
                         });
}

TEST(DecideScale, ARunbookRunOrNotServingRestartsTheWindow) {
  FakeClock clock;
  ScalingPolicy p = Policy();
  ScaleStep s = DecideScale(p, Serving(3, 40), {}, clock.Now());
  clock.Advance(50s);
  ScaleInput run = Serving(3, 40);
  run.runbook_running = "failover run 3";
  s = DecideScale(p, run, s.memory, clock.Now());
  EXPECT_FALSE(s.decision.active);
  clock.Advance(20s);  // 70 s after the first lower recommendation, but the run broke the series
  s = DecideScale(p, Serving(3, 40), s.memory, clock.Now());
  EXPECT_EQ(s.decision.action, ScaleAction::kNone) << s.decision.reason;
  clock.Advance(60s);
  s = DecideScale(p, Serving(3, 40), s.memory, clock.Now());
  EXPECT_EQ(s.decision.action, ScaleAction::kScaleDown) << s.decision.reason;
  EXPECT_EQ(s.decision.to, 1);
}

TEST(DecideScale, AShortStabilizationWindowScalesInSooner) {
  ScalingPolicy p = Policy();
  p.scale_down_stabilization = 3s;
  ExpectReplay(p, {
                      {0s, 0, 3, ScaleAction::kNone, 3},
                      {2s, 0, 3, ScaleAction::kNone, 3},
                      {1s, 0, 3, ScaleAction::kScaleDown, 1},
                  });
}

}  // namespace
}  // namespace pilotlight::compute
