#include "alarm/prometheus.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace pilotlight::alarm {
namespace {

std::string EscapeHelp(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// Metric and label names may only hold [a-zA-Z0-9_:] and not start with a digit.
std::string SanitizeName(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == ':';
    out += ok ? c : '_';
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out = "_" + out;
  return out;
}

std::string Line(const MetricKey& key, double v) {
  MetricKey k = key;
  k.name = SanitizeName(k.name);
  for (auto& [name, value] : k.labels) name = SanitizeName(name);
  return k.ToString() + " " + PrometheusValue(v) + "\n";
}

void Family(std::string& out, const std::string& name, const std::string& help,
            const std::string& type) {
  out += "# HELP " + SanitizeName(name) + " " + EscapeHelp(help) + "\n";
  out += "# TYPE " + SanitizeName(name) + " " + type + "\n";
}

}  // namespace

std::string PrometheusValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  // Prefer the shortest form that reads back the same.
  for (int precision = 1; precision <= 17; ++precision) {
    char shorter[64];
    std::snprintf(shorter, sizeof shorter, "%.*g", precision, v);
    if (std::strtod(shorter, nullptr) == v) return shorter;
  }
  return buf;
}

std::string PrometheusText(const MetricRegistry& registry, const std::vector<AlarmStatus>& alarms,
                           const std::vector<ExpositionFamily>& extra) {
  std::string out;
  const std::map<std::string, MetricInfo> info = registry.Descriptions();
  std::string current;
  for (const auto& [key, sample] : registry.Latest()) {
    if (key.name != current) {
      current = key.name;
      auto it = info.find(key.name);
      Family(out, key.name, it == info.end() ? "pilotlight metric " + key.name : it->second.help,
             it == info.end() ? "gauge" : it->second.type);
    }
    out += Line(key, sample.value);
  }
  for (const ExpositionFamily& f : extra) {
    Family(out, f.name, f.help, f.type);
    for (const auto& [key, value] : f.samples) out += Line(key, value);
  }
  if (!alarms.empty()) {
    Family(out, "pilotlight_alarm_state",
           "1 for the state each alarm is in (OK, ALARM, INSUFFICIENT_DATA), 0 for the others",
           "gauge");
    for (const AlarmStatus& a : alarms) {
      for (AlarmState s : {AlarmState::kOk, AlarmState::kAlarm, AlarmState::kInsufficientData}) {
        out += Line(MetricKey("pilotlight_alarm_state", {{"alarm", a.name},
                                                         {"state", AlarmStateName(s)}}),
                    a.state == s ? 1 : 0);
      }
    }
  }
  return out;
}

}  // namespace pilotlight::alarm
