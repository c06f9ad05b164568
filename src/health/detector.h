// Detector: detection as one running assembly — health checks, metrics, alarms
// and notifications on one event loop.
//
// Probe results become metrics per vantage point (latency, success, the
// scheduling lateness pilotlight_probe_lateness_seconds and pilotlight_probe_late
// for an inconclusive result) and every check's status becomes the metric pilotlight_check_healthy{check} (1 healthy, 0
// unhealthy, no sample while unknown) every alarm_evaluation_interval, right
// before the alarms are evaluated, so an alarm can watch a check or any metric a
// component records into metrics(). Whole-check and alarm transitions are
// published as JSON to their topics (never blocking the loop: the Notifier
// queues) and handed to the event callback (for `pilotlight watch`).
//
// Thread-safety: Create/OnEvent/Start/Stop from the owner thread; the accessors
// from any thread. The event callback runs on the loop thread and must not block.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "alarm/alarm.h"
#include "alarm/metrics.h"
#include "core/clock.h"
#include "core/status.h"
#include "health/check.h"
#include "health/health_book.h"
#include "health/monitor.h"
#include "notify/notify.h"

namespace pilotlight::health {

struct DetectionSpec {
  std::vector<CheckSpec> checks;
  std::vector<alarm::AlarmSpec> alarms;
  std::vector<notify::TopicSpec> topics;
  Duration alarm_evaluation_interval = std::chrono::milliseconds(200);
};

// Checks, alarms and topics, and that every topic they name exists.
Status ValidateDetection(const DetectionSpec& spec);

// The metric an alarm watches to follow a check's status.
alarm::MetricKey CheckHealthyMetric(const std::string& check);

struct DetectionEvent {
  bool is_alarm = false;
  bool whole_check = true;  // false: a check's transition as seen from one vantage point
  std::string line;  // "2026-...Z check primary-postgres: healthy -> unhealthy: <reason>"
  std::string json;  // the message published to topics
};

class Detector {
 public:
  static Result<std::unique_ptr<Detector>> Create(const Clock& clock, DetectionSpec spec,
                                                  MonitorOptions options = {});
  ~Detector();

  // REQUIRES: before Start.
  void OnEvent(std::function<void(const DetectionEvent&)> callback);
  Status Start();
  void Stop();  // stops probing and alarms, then the notifier (queued messages dropped)

  std::vector<CheckState> Checks() const;
  std::vector<CheckTransition> CheckHistory() const;
  std::vector<alarm::AlarmStatus> Alarms() const;
  std::vector<alarm::AlarmTransition> AlarmHistory() const;
  // Prometheus text exposition of metrics, check states and alarm states.
  std::string Prometheus() const;

  alarm::MetricRegistry& metrics();
  notify::Notifier& notifier();
  const DetectionSpec& spec() const;

 private:
  struct Impl;
  explicit Detector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pilotlight::health
