#include "alarm/alarm.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "core/duration.h"

namespace pilotlight::alarm {
namespace {

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

bool Breaches(Comparison c, double value, double threshold) {
  switch (c) {
    case Comparison::kGreaterOrEqual:
      return value >= threshold;
    case Comparison::kGreater:
      return value > threshold;
    case Comparison::kLess:
      return value < threshold;
    case Comparison::kLessOrEqual:
      return value <= threshold;
  }
  return false;
}

}  // namespace

const char* StatisticName(Statistic s) {
  switch (s) {
    case Statistic::kAverage:
      return "avg";
    case Statistic::kMinimum:
      return "min";
    case Statistic::kMaximum:
      return "max";
    case Statistic::kSum:
      return "sum";
    case Statistic::kSampleCount:
      return "count";
    case Statistic::kP99:
      return "p99";
  }
  return "?";
}

const char* ComparisonSymbol(Comparison c) {
  switch (c) {
    case Comparison::kGreaterOrEqual:
      return ">=";
    case Comparison::kGreater:
      return ">";
    case Comparison::kLess:
      return "<";
    case Comparison::kLessOrEqual:
      return "<=";
  }
  return "?";
}

const char* MissingDataName(MissingData m) {
  switch (m) {
    case MissingData::kMissing:
      return "missing";
    case MissingData::kIgnore:
      return "ignore";
    case MissingData::kBreaching:
      return "breaching";
    case MissingData::kNotBreaching:
      return "notBreaching";
  }
  return "?";
}

const char* AlarmStateName(AlarmState s) {
  switch (s) {
    case AlarmState::kInsufficientData:
      return "INSUFFICIENT_DATA";
    case AlarmState::kOk:
      return "OK";
    case AlarmState::kAlarm:
      return "ALARM";
  }
  return "?";
}

Status ValidateAlarms(const std::vector<AlarmSpec>& specs) {
  std::vector<std::string> errors;
  std::set<std::string> names;
  for (size_t i = 0; i < specs.size(); ++i) {
    const AlarmSpec& s = specs[i];
    const std::string where =
        "alarms[" + std::to_string(i) + "]" + (s.name.empty() ? "" : " (" + s.name + ")");
    auto bad = [&](const std::string& field, const std::string& what) {
      errors.push_back(where + "." + field + ": " + what);
    };
    if (s.name.empty()) bad("name", "expected a non-empty name");
    if (!names.insert(s.name).second) bad("name", "duplicate alarm name '" + s.name + "'");
    if (s.metric.name.empty()) bad("metric", "expected a metric name");
    if (s.period < std::chrono::milliseconds(100)) {
      bad("period", "expected at least 100ms, found " + FormatDuration(s.period));
    }
    if (s.evaluation_periods < 1 || s.evaluation_periods > 1000) {
      bad("evaluation_periods", "expected 1..1000, found " + std::to_string(s.evaluation_periods));
    }
    if (s.datapoints_to_alarm < 0 || s.datapoints_to_alarm > s.evaluation_periods) {
      bad("datapoints_to_alarm", "expected 1..evaluation_periods (" +
                                     std::to_string(s.evaluation_periods) + "), found " +
                                     std::to_string(s.datapoints_to_alarm));
    }
    if (!std::isfinite(s.threshold)) bad("threshold", "expected a finite number");
  }
  if (errors.empty()) return Status::OK();
  std::string msg = std::to_string(errors.size()) + " error(s) in alarms:";
  for (const std::string& e : errors) msg += "\n  " + e;
  return Status::InvalidArgument(msg);
}

double ComputeStatistic(Statistic s, std::vector<double> values) {
  switch (s) {
    case Statistic::kAverage: {
      double sum = 0;
      for (double v : values) sum += v;
      return sum / static_cast<double>(values.size());
    }
    case Statistic::kMinimum:
      return *std::min_element(values.begin(), values.end());
    case Statistic::kMaximum:
      return *std::max_element(values.begin(), values.end());
    case Statistic::kSum: {
      double sum = 0;
      for (double v : values) sum += v;
      return sum;
    }
    case Statistic::kSampleCount:
      return static_cast<double>(values.size());
    case Statistic::kP99: {
      // Nearest rank: the smallest value with at least 99% of values at or below it.
      std::sort(values.begin(), values.end());
      const size_t rank = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(values.size())));
      return values[std::max<size_t>(rank, 1) - 1];
    }
  }
  return 0;
}

AlarmEvaluation EvaluateAlarm(const AlarmSpec& spec, const std::vector<Sample>& samples,
                              AlarmState current, WallTime now) {
  const int n = spec.evaluation_periods;
  const int m = spec.M();
  AlarmEvaluation ev;
  std::vector<std::vector<double>> buckets(n);  // index 0 = oldest
  const WallTime first = now - spec.period * n;
  for (const Sample& s : samples) {
    if (s.at < first || s.at >= now) continue;
    const auto idx = static_cast<size_t>((s.at - first) / spec.period);
    if (idx < buckets.size()) buckets[idx].push_back(s.value);
  }
  int breaching = 0, present = 0, missing = 0;
  std::string listed;
  for (int i = 0; i < n; ++i) {
    Datapoint d;
    d.start = first + spec.period * i;
    if (!buckets[i].empty()) {
      d.present = true;
      d.value = ComputeStatistic(spec.statistic, buckets[i]);
      d.breaching = Breaches(spec.comparison, d.value, spec.threshold);
      ++present;
      listed += (listed.empty() ? "" : ", ") + Num(d.value);
    } else {
      ++missing;
      d.breaching = spec.missing_data == MissingData::kBreaching;
      listed += listed.empty() ? "missing" : ", missing";
    }
    if (d.breaching) ++breaching;
    ev.datapoints.push_back(d);
  }
  const std::string what = std::string(StatisticName(spec.statistic)) + " of " +
                           spec.metric.ToString() + " per " + FormatDuration(spec.period);
  const std::string tally = std::to_string(breaching) + " of the last " + std::to_string(n) +
                            " datapoints [" + listed + "] " +
                            (missing > 0 && (spec.missing_data == MissingData::kBreaching ||
                                             spec.missing_data == MissingData::kNotBreaching)
                                 ? "(missing treated as " +
                                       std::string(MissingDataName(spec.missing_data)) + ") "
                                 : "") +
                            "breached " + ComparisonSymbol(spec.comparison) + " " +
                            Num(spec.threshold) + " (" + what + "; " + std::to_string(m) +
                            " needed for ALARM)";
  if (present == 0 && spec.missing_data == MissingData::kMissing) {
    ev.state = AlarmState::kInsufficientData;
    ev.reason = "insufficient data: no datapoint in the last " + std::to_string(n) + " period(s) (" +
                what + ")";
    return ev;
  }
  if (breaching >= m) {
    ev.state = AlarmState::kAlarm;
    ev.reason = "threshold crossed: " + tally;
    return ev;
  }
  if (spec.missing_data == MissingData::kIgnore && breaching + missing >= m) {
    ev.state = current;
    ev.reason = "state kept (missing data ignored): " + tally;
    return ev;
  }
  ev.state = AlarmState::kOk;
  ev.reason = "within threshold: " + tally;
  return ev;
}

AlarmTracker::AlarmTracker(AlarmSpec spec, size_t history_limit)
    : spec_(std::move(spec)), history_limit_(history_limit) {
  status_.name = spec_.name;
  status_.reason = "not evaluated yet";
}

std::optional<AlarmTransition> AlarmTracker::Evaluate(const std::vector<Sample>& samples,
                                                      WallTime now) {
  AlarmEvaluation ev = EvaluateAlarm(spec_, samples, status_.state, now);
  status_.reason = ev.reason;
  if (ev.state == status_.state) return std::nullopt;
  AlarmTransition t;
  t.alarm = spec_.name;
  t.from = status_.state;
  t.to = ev.state;
  t.at = now;
  t.reason = std::move(ev.reason);
  t.datapoints = std::move(ev.datapoints);
  status_.state = ev.state;
  status_.since = now;
  history_.push_back(t);
  while (history_.size() > history_limit_) history_.pop_front();
  return t;
}

}  // namespace pilotlight::alarm
