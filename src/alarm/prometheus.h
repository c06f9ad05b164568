// Prometheus text exposition (format 0.0.4) of pilotlight's metrics, alarm
// states and any other state a caller adds (check states).
//
// One function, returning the text a /metrics endpoint serves: for every metric
// name a # HELP and a # TYPE line, then one line per series with its latest
// value. Alarm states are exposed one-hot as pilotlight_alarm_state{alarm,state}.
// Thread-safe (reads the registry under its lock; everything else is values).
#pragma once

#include <string>
#include <vector>

#include "alarm/alarm.h"
#include "alarm/metrics.h"

namespace pilotlight::alarm {

// A family of series computed by the caller (e.g. check states).
struct ExpositionFamily {
  std::string name;
  std::string help;
  std::string type = "gauge";
  std::vector<std::pair<MetricKey, double>> samples;  // keys named `name`
};

std::string PrometheusText(const MetricRegistry& registry, const std::vector<AlarmStatus>& alarms,
                           const std::vector<ExpositionFamily>& extra = {});

// "1", "0.25", "NaN", "+Inf", "-Inf" as the format wants them.
std::string PrometheusValue(double v);

}  // namespace pilotlight::alarm
