// Alarm evaluation, table-driven with a fake clock: M out of N, every
// missing-data treatment, statistics and period boundaries.
#include "alarm/alarm.h"

#include <gtest/gtest.h>

namespace pilotlight::alarm {
namespace {

using namespace std::chrono_literals;

const AlarmState I = AlarmState::kInsufficientData, K = AlarmState::kOk, A = AlarmState::kAlarm;

AlarmSpec Spec(int n, int m, MissingData missing) {
  AlarmSpec s;
  s.name = "error-rate";
  s.metric = MetricKey("errors", {{"service", "trader"}});
  s.statistic = Statistic::kMaximum;
  s.period = 1s;
  s.comparison = Comparison::kGreaterOrEqual;
  s.threshold = 10;
  s.evaluation_periods = n;
  s.datapoints_to_alarm = m;
  s.missing_data = missing;
  return s;
}

// One sample in the middle of each period, oldest first: 'X' breaches (20),
// '0' does not (1), '-' is a period without samples.
std::vector<Sample> Periods(const std::string& pattern, WallTime now) {
  std::vector<Sample> out;
  const int n = static_cast<int>(pattern.size());
  for (int i = 0; i < n; ++i) {
    const WallTime mid = now - 1s * (n - i) + 500ms;
    if (pattern[i] == 'X') out.push_back({mid, 20});
    if (pattern[i] == '0') out.push_back({mid, 1});
  }
  return out;
}

struct Case {
  const char* pattern;
  int m;
  MissingData missing;
  AlarmState current;
  AlarmState want;
};

TEST(AlarmEvaluationTest, MOutOfNAndMissingData) {
  const MissingData Mi = MissingData::kMissing, Ig = MissingData::kIgnore,
                    Br = MissingData::kBreaching, Nb = MissingData::kNotBreaching;
  const Case cases[] = {
      // Full data: M out of N, whatever the treatment.
      {"XXX", 3, Mi, K, A},
      {"0XX", 3, Mi, A, K},
      {"0XX", 2, Mi, K, A},
      {"X0X", 2, Ig, K, A},
      {"00X", 2, Br, A, K},
      {"000", 1, Nb, A, K},
      {"XXX", 3, Nb, I, A},
      // missing: all missing -> INSUFFICIENT_DATA; otherwise judged on those present.
      {"---", 1, Mi, A, I},
      {"---", 3, Mi, K, I},
      {"-X-", 1, Mi, K, A},
      {"-X-", 2, Mi, A, K},
      {"X-X", 2, Mi, K, A},
      {"0--", 1, Mi, I, K},
      // ignore: the state is kept unless the datapoints present decide it.
      {"---", 1, Ig, A, A},
      {"---", 1, Ig, K, K},
      {"---", 1, Ig, I, I},
      {"-X-", 2, Ig, K, K},
      {"-X-", 2, Ig, A, A},
      {"XX-", 2, Ig, K, A},
      {"00-", 2, Ig, A, K},  // even a breaching third could not reach 2
      {"0-0", 2, Ig, A, K},
      {"0--", 2, Ig, A, A},
      // breaching: missing counts as breaching.
      {"---", 3, Br, K, A},
      {"0--", 2, Br, K, A},
      {"00-", 2, Br, A, K},
      {"-0-", 3, Br, A, K},
      // notBreaching: missing counts as fine.
      {"---", 1, Nb, A, K},
      {"X--", 2, Nb, A, K},
      {"X-X", 2, Nb, K, A},
      {"---", 1, Nb, I, K},
  };
  FakeClock clock;
  for (const Case& c : cases) {
    const int n = static_cast<int>(std::string(c.pattern).size());
    AlarmSpec spec = Spec(n, c.m, c.missing);
    AlarmEvaluation ev = EvaluateAlarm(spec, Periods(c.pattern, clock.Now()), c.current,
                                       clock.Now());
    EXPECT_EQ(ev.state, c.want) << c.pattern << " M=" << c.m << " "
                                << MissingDataName(c.missing) << " from "
                                << AlarmStateName(c.current) << ": got "
                                << AlarmStateName(ev.state) << " (" << ev.reason << ")";
    EXPECT_EQ(ev.datapoints.size(), static_cast<size_t>(n));
    EXPECT_FALSE(ev.reason.empty());
  }
}

TEST(AlarmEvaluationTest, ReasonNamesTheDatapoints) {
  FakeClock clock;
  AlarmEvaluation ev =
      EvaluateAlarm(Spec(3, 2, MissingData::kMissing), Periods("X0X", clock.Now()),
                    AlarmState::kOk, clock.Now());
  EXPECT_EQ(ev.state, AlarmState::kAlarm);
  EXPECT_EQ(ev.reason,
            "threshold crossed: 2 of the last 3 datapoints [20, 1, 20] breached >= 10 (max of "
            "errors{service=\"trader\"} per 1s; 2 needed for ALARM)");
}

TEST(AlarmEvaluationTest, SamplesOutsideTheWindowAreIgnored) {
  FakeClock clock;
  const WallTime now = clock.Now();
  AlarmSpec spec = Spec(2, 1, MissingData::kMissing);
  // Just before the window, and exactly at now (periods are half-open).
  std::vector<Sample> s = {{now - 2s - 1ms, 99}, {now, 99}};
  EXPECT_EQ(EvaluateAlarm(spec, s, K, now).state, I);
  s.push_back({now - 2s, 99});  // the first instant of the oldest period counts
  EXPECT_EQ(EvaluateAlarm(spec, s, K, now).state, A);
}

TEST(AlarmEvaluationTest, Statistics) {
  struct StatCase {
    Statistic stat;
    std::vector<double> values;
    double want;
  };
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  std::vector<double> thousand;
  for (int i = 1000; i >= 1; --i) thousand.push_back(i);
  const StatCase cases[] = {
      {Statistic::kAverage, {1, 2, 3, 6}, 3},
      {Statistic::kMinimum, {4, -1, 3}, -1},
      {Statistic::kMaximum, {4, -1, 3}, 4},
      {Statistic::kSum, {4, -1, 3}, 6},
      {Statistic::kSampleCount, {4, -1, 3}, 3},
      {Statistic::kP99, {7}, 7},
      {Statistic::kP99, hundred, 99},
      {Statistic::kP99, thousand, 990},
      {Statistic::kP99, {1, 2, 3, 1000}, 1000},
  };
  for (const StatCase& c : cases) {
    EXPECT_DOUBLE_EQ(ComputeStatistic(c.stat, c.values), c.want) << StatisticName(c.stat);
  }
}

TEST(AlarmEvaluationTest, StatisticAppliesPerPeriod) {
  FakeClock clock;
  const WallTime now = clock.Now();
  AlarmSpec spec = Spec(1, 1, MissingData::kMissing);
  spec.statistic = Statistic::kAverage;
  std::vector<Sample> s = {{now - 900ms, 5}, {now - 500ms, 14}, {now - 100ms, 2}};  // avg 7
  EXPECT_EQ(EvaluateAlarm(spec, s, K, now).state, K);
  spec.statistic = Statistic::kMaximum;
  EXPECT_EQ(EvaluateAlarm(spec, s, K, now).state, A);
  spec.statistic = Statistic::kSampleCount;
  spec.threshold = 3;
  EXPECT_EQ(EvaluateAlarm(spec, s, K, now).state, A);
  spec.comparison = Comparison::kGreater;
  EXPECT_EQ(EvaluateAlarm(spec, s, K, now).state, K);
}

TEST(AlarmTrackerTest, RecordsTransitionsWithReasons) {
  FakeClock clock;
  AlarmSpec spec = Spec(1, 1, MissingData::kMissing);
  spec.statistic = Statistic::kMinimum;
  spec.comparison = Comparison::kLess;
  spec.threshold = 1;  // check status: 1 healthy, 0 unhealthy
  AlarmTracker tracker(spec);
  EXPECT_EQ(tracker.status().state, I);

  MetricSeries series(8);
  auto eval = [&] {
    return tracker.Evaluate(series.Between(clock.Now() - 1s, clock.Now()), clock.Now());
  };
  EXPECT_FALSE(eval().has_value());  // still no data

  series.Add({clock.Now(), 1});
  clock.Advance(200ms);
  auto t = eval();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->from, I);
  EXPECT_EQ(t->to, K);
  EXPECT_FALSE(eval().has_value());

  series.Add({clock.Now(), 0});
  clock.Advance(200ms);
  t = eval();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->to, A);
  EXPECT_EQ(t->at, clock.Now());
  EXPECT_NE(t->reason.find("threshold crossed"), std::string::npos) << t->reason;

  clock.Advance(5s);  // no samples since: missing -> INSUFFICIENT_DATA
  t = eval();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->to, I);
  ASSERT_EQ(tracker.history().size(), 3u);
  EXPECT_EQ(tracker.history()[1].to, A);
  EXPECT_EQ(tracker.status().since, clock.Now());
}

TEST(AlarmValidationTest, ReportsEveryError) {
  AlarmSpec a = Spec(3, 4, MissingData::kMissing);
  a.period = 10ms;
  AlarmSpec b = Spec(1, 1, MissingData::kMissing);
  b.name = a.name;
  b.metric.name.clear();
  Status st = ValidateAlarms({a, b});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("datapoints_to_alarm: expected 1..evaluation_periods (3), found 4"),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("period: expected at least 100ms, found 10ms"), std::string::npos);
  EXPECT_NE(st.message().find("duplicate alarm name"), std::string::npos);
  EXPECT_NE(st.message().find("metric: expected a metric name"), std::string::npos);
  EXPECT_TRUE(ValidateAlarms({Spec(3, 2, MissingData::kIgnore)}).ok());
}

}  // namespace
}  // namespace pilotlight::alarm
