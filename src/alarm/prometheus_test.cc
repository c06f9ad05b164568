#include "alarm/prometheus.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace pilotlight::alarm {
namespace {

TEST(PrometheusTest, ExposesMetricsExtraFamiliesAndAlarms) {
  FakeClock clock;
  MetricRegistry r;
  r.Describe("pilotlight_probe_latency_seconds", {"Latency of the last probe", "gauge"});
  r.Record(MetricKey("pilotlight_probe_latency_seconds", {{"check", "pg"}, {"vantage", "a"}}),
           0.25, clock.Now());
  r.Record(MetricKey("pilotlight_probe_latency_seconds", {{"check", "pg"}, {"vantage", "b"}}),
           0.5, clock.Now());
  r.Record(MetricKey("weird-name", {{"bad label", "x\"y"}}), 1, clock.Now());
  ExpositionFamily checks{"pilotlight_check_healthy", "1 healthy, 0 unhealthy", "gauge",
                          {{MetricKey("pilotlight_check_healthy", {{"check", "pg"}}), 0}}};
  AlarmStatus alarm{"pg-down", AlarmState::kAlarm, "threshold crossed", clock.Now()};
  const std::string text = PrometheusText(r, {alarm}, {checks});
  EXPECT_EQ(text,
            "# HELP pilotlight_probe_latency_seconds Latency of the last probe\n"
            "# TYPE pilotlight_probe_latency_seconds gauge\n"
            "pilotlight_probe_latency_seconds{check=\"pg\",vantage=\"a\"} 0.25\n"
            "pilotlight_probe_latency_seconds{check=\"pg\",vantage=\"b\"} 0.5\n"
            "# HELP weird_name pilotlight metric weird-name\n"
            "# TYPE weird_name gauge\n"
            "weird_name{bad_label=\"x\\\"y\"} 1\n"
            "# HELP pilotlight_check_healthy 1 healthy, 0 unhealthy\n"
            "# TYPE pilotlight_check_healthy gauge\n"
            "pilotlight_check_healthy{check=\"pg\"} 0\n"
            "# HELP pilotlight_alarm_state 1 for the state each alarm is in (OK, ALARM, "
            "INSUFFICIENT_DATA), 0 for the others\n"
            "# TYPE pilotlight_alarm_state gauge\n"
            "pilotlight_alarm_state{alarm=\"pg-down\",state=\"OK\"} 0\n"
            "pilotlight_alarm_state{alarm=\"pg-down\",state=\"ALARM\"} 1\n"
            "pilotlight_alarm_state{alarm=\"pg-down\",state=\"INSUFFICIENT_DATA\"} 0\n");
}

TEST(PrometheusTest, Values) {
  EXPECT_EQ(PrometheusValue(1), "1");
  EXPECT_EQ(PrometheusValue(0.1), "0.1");
  EXPECT_EQ(PrometheusValue(1e-9), "1e-09");
  EXPECT_EQ(PrometheusValue(std::nan("")), "NaN");
  EXPECT_EQ(PrometheusValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(PrometheusValue(-std::numeric_limits<double>::infinity()), "-Inf");
}

}  // namespace
}  // namespace pilotlight::alarm
