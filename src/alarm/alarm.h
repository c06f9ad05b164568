// Alarms: CloudWatch-style thresholds over metric series.
//
// An alarm watches one metric: every `period` it reduces the samples of the
// period to one datapoint with a statistic, compares it with a threshold, and
// goes to ALARM when at least M of the last N datapoints breach ("M out of N"),
// to OK when fewer do, and to INSUFFICIENT_DATA when it cannot tell. Missing
// datapoints (periods with no samples) are treated as CloudWatch does:
//   missing       all N missing -> INSUFFICIENT_DATA; else judged on those present
//   ignore        the current state is kept unless the datapoints present decide
//                 it whatever the missing ones would have been
//   breaching     missing datapoints count as breaching
//   notBreaching  missing datapoints count as within the threshold
// Periods are aligned to the evaluation time: period i covers
// [now - (i+1)*period, now - i*period). EvaluateAlarm is pure (no clock reads);
// AlarmTracker keeps an alarm's state and transition history and is
// thread-compatible.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "alarm/metrics.h"
#include "core/status.h"

namespace pilotlight::alarm {

enum class Statistic { kAverage, kMinimum, kMaximum, kSum, kSampleCount, kP99 };
enum class Comparison { kGreaterOrEqual, kGreater, kLess, kLessOrEqual };
enum class MissingData { kMissing, kIgnore, kBreaching, kNotBreaching };
enum class AlarmState { kInsufficientData, kOk, kAlarm };

const char* StatisticName(Statistic s);      // "avg" | "min" | "max" | "sum" | "count" | "p99"
const char* ComparisonSymbol(Comparison c);  // ">=" | ">" | "<" | "<="
const char* MissingDataName(MissingData m);  // "missing" | "ignore" | "breaching" | "notBreaching"
const char* AlarmStateName(AlarmState s);    // "INSUFFICIENT_DATA" | "OK" | "ALARM"

struct AlarmSpec {
  std::string name;
  std::string description;
  MetricKey metric;
  Statistic statistic = Statistic::kAverage;
  Duration period = std::chrono::seconds(1);
  Comparison comparison = Comparison::kGreaterOrEqual;
  double threshold = 0;
  int evaluation_periods = 1;   // N
  int datapoints_to_alarm = 0;  // M; 0 means N
  MissingData missing_data = MissingData::kMissing;
  std::vector<std::string> topics;  // every transition is published to these

  int M() const { return datapoints_to_alarm > 0 ? datapoints_to_alarm : evaluation_periods; }
};

// Every problem at once, naming the alarm and the field.
Status ValidateAlarms(const std::vector<AlarmSpec>& specs);

// One period's datapoint. Period 0 is the most recent.
struct Datapoint {
  WallTime start;
  bool present = false;
  double value = 0;
  bool breaching = false;  // after the missing-data treatment
};

struct AlarmEvaluation {
  AlarmState state = AlarmState::kInsufficientData;
  std::string reason;
  std::vector<Datapoint> datapoints;  // oldest first, N of them
};

// The statistic of `values`. REQUIRES: values not empty.
double ComputeStatistic(Statistic s, std::vector<double> values);

// Evaluates `spec` at `now` over `samples` (any order; those outside the N
// periods are ignored), given the alarm's current state.
AlarmEvaluation EvaluateAlarm(const AlarmSpec& spec, const std::vector<Sample>& samples,
                              AlarmState current, WallTime now);

struct AlarmTransition {
  std::string alarm;
  AlarmState from = AlarmState::kInsufficientData;
  AlarmState to = AlarmState::kInsufficientData;
  WallTime at{};
  std::string reason;
  std::vector<Datapoint> datapoints;
};

struct AlarmStatus {
  std::string name;
  AlarmState state = AlarmState::kInsufficientData;
  std::string reason;
  WallTime since{};
};

// One alarm's state over time. Starts in INSUFFICIENT_DATA.
class AlarmTracker {
 public:
  explicit AlarmTracker(AlarmSpec spec, size_t history_limit = 100);

  // Evaluates at `now`; returns the transition when the state changed.
  std::optional<AlarmTransition> Evaluate(const std::vector<Sample>& samples, WallTime now);

  const AlarmSpec& spec() const { return spec_; }
  AlarmStatus status() const { return status_; }
  const std::deque<AlarmTransition>& history() const { return history_; }

 private:
  AlarmSpec spec_;
  AlarmStatus status_;
  std::deque<AlarmTransition> history_;
  size_t history_limit_;
};

}  // namespace pilotlight::alarm
