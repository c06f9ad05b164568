#include "health/detector.h"

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "alarm/prometheus.h"
#include "core/duration.h"
#include "core/log.h"

namespace pilotlight::health {
namespace {

using json = nlohmann::json;

json ProbeJson(const ProbeResult& r) {
  return {{"ok", r.ok},
          {"detail", r.detail},
          {"latency_ms", std::chrono::duration<double, std::milli>(r.latency).count()},
          {"at", FormatTime(r.at)}};
}

}  // namespace

alarm::MetricKey CheckHealthyMetric(const std::string& check) {
  return alarm::MetricKey("pilotlight_check_healthy", {{"check", check}});
}

Status ValidateDetection(const DetectionSpec& spec) {
  std::vector<std::string> errors;
  for (const Status& st : {ValidateChecks(spec.checks), alarm::ValidateAlarms(spec.alarms),
                           notify::ValidateTopics(spec.topics)}) {
    if (!st.ok()) errors.push_back(st.message());
  }
  std::set<std::string> topics;
  for (const notify::TopicSpec& t : spec.topics) topics.insert(t.name);
  for (const CheckSpec& c : spec.checks) {
    for (const std::string& t : c.topics) {
      if (topics.count(t) == 0) {
        errors.push_back("health check '" + c.name + "' publishes to topic '" + t +
                         "', which is not defined under topics");
      }
    }
  }
  for (const alarm::AlarmSpec& a : spec.alarms) {
    for (const std::string& t : a.topics) {
      if (topics.count(t) == 0) {
        errors.push_back("alarm '" + a.name + "' publishes to topic '" + t +
                         "', which is not defined under topics");
      }
    }
  }
  if (spec.alarm_evaluation_interval < std::chrono::milliseconds(10)) {
    errors.push_back("alarm_evaluation_interval: expected at least 10ms");
  }
  if (errors.empty()) return Status::OK();
  std::string msg;
  for (const std::string& e : errors) msg += (msg.empty() ? "" : "\n") + e;
  return Status::InvalidArgument(msg);
}

struct Detector::Impl : public HealthListener {
  Impl(const Clock& c, DetectionSpec s) : clock(c), spec(std::move(s)) {}

  void OnProbe(const CheckSpec& check, const VantageSpec& vantage, const ProbeResult& r,
               HealthStatus) override {
    const std::vector<std::pair<std::string, std::string>> labels = {{"check", check.name},
                                                                     {"vantage", vantage.name}};
    metrics.Record({"pilotlight_probe_latency_seconds", labels},
                   std::chrono::duration<double>(r.latency).count(), r.at);
    metrics.Record({"pilotlight_probe_success", labels}, r.ok ? 1 : 0, r.at);
    // How late the checker itself started the probe (CPU starvation shows here
    // first), and whether the result was inconclusive because of it.
    metrics.Record({"pilotlight_probe_lateness_seconds", labels},
                   std::chrono::duration<double>(r.lateness).count(), r.at);
    metrics.Record({"pilotlight_probe_late", labels}, r.late ? 1 : 0, r.at);
  }

  void OnTransitions(const std::vector<CheckTransition>& transitions) override {
    for (const CheckTransition& t : transitions) {
      DetectionEvent e;
      e.whole_check = t.vantage.empty();
      json j = {{"type", "check"},
                {"check", t.check},
                {"from", HealthStatusName(t.from)},
                {"to", HealthStatusName(t.to)},
                {"at", FormatTime(t.at)},
                {"reason", t.reason},
                {"evidence", json::array()}};
      if (!t.vantage.empty()) j["vantage"] = t.vantage;
      for (const ProbeResult& r : t.evidence) j["evidence"].push_back(ProbeJson(r));
      e.json = j.dump();
      e.line = FormatTime(t.at) + " check " + t.check +
               (t.vantage.empty() ? "" : " (from " + t.vantage + ")") + ": " +
               HealthStatusName(t.from) + " -> " + HealthStatusName(t.to) + ": " + t.reason;
      if (e.whole_check) {
        const CheckSpec& c = monitor->specs()[check_index.at(t.check)];
        for (const std::string& topic : c.topics) Publish(topic, e.json);
      }
      if (callback) callback(e);
    }
  }

  void Publish(const std::string& topic, const std::string& message) {
    Status st = notifier->Publish(topic, message);
    if (!st.ok()) LogWarn("cannot publish to topic '" + topic + "': " + st.message());
  }

  // Runs on the loop: check statuses into metrics, then every alarm.
  void Tick() {
    const WallTime now = clock.Now();
    const std::vector<HealthStatus> statuses = monitor->Statuses();
    const auto& checks = monitor->specs();
    for (size_t i = 0; i < checks.size(); ++i) {
      if (statuses[i] == HealthStatus::kUnknown) continue;
      metrics.Record(CheckHealthyMetric(checks[i].name),
                     statuses[i] == HealthStatus::kHealthy ? 1 : 0, now);
    }
    std::vector<alarm::AlarmTransition> fired;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (alarm::AlarmTracker& a : alarms) {
        const alarm::AlarmSpec& s = a.spec();
        auto samples = metrics.Between(s.metric, now - s.period * s.evaluation_periods, now);
        if (auto t = a.Evaluate(samples, now)) fired.push_back(std::move(*t));
      }
    }
    for (const alarm::AlarmTransition& t : fired) {
      const alarm::AlarmSpec& s = alarms[alarm_index.at(t.alarm)].spec();
      DetectionEvent e;
      e.is_alarm = true;
      json j = {{"type", "alarm"},
                {"alarm", t.alarm},
                {"description", s.description},
                {"metric", s.metric.ToString()},
                {"from", alarm::AlarmStateName(t.from)},
                {"to", alarm::AlarmStateName(t.to)},
                {"at", FormatTime(t.at)},
                {"reason", t.reason},
                {"datapoints", json::array()}};
      for (const alarm::Datapoint& d : t.datapoints) {
        json dp = {{"start", FormatTime(d.start)}, {"breaching", d.breaching}};
        dp["value"] = d.present ? json(d.value) : json(nullptr);
        j["datapoints"].push_back(dp);
      }
      e.json = j.dump();
      e.line = FormatTime(t.at) + " alarm " + t.alarm + ": " + alarm::AlarmStateName(t.from) +
               " -> " + alarm::AlarmStateName(t.to) + ": " + t.reason;
      if (t.to == alarm::AlarmState::kAlarm) LogWarn(e.line);
      else LogInfo(e.line);
      for (const std::string& topic : s.topics) Publish(topic, e.json);
      if (callback) callback(e);
    }
  }

  const Clock& clock;
  DetectionSpec spec;
  alarm::MetricRegistry metrics{2048};
  std::unique_ptr<notify::Notifier> notifier;
  std::unique_ptr<HealthMonitor> monitor;
  mutable std::mutex mu;  // guards alarms' state
  std::vector<alarm::AlarmTracker> alarms;
  std::map<std::string, size_t> alarm_index;
  std::map<std::string, size_t> check_index;
  std::function<void(const DetectionEvent&)> callback;
};

Result<std::unique_ptr<Detector>> Detector::Create(const Clock& clock, DetectionSpec spec,
                                                   MonitorOptions options) {
  PL_RETURN_IF_ERROR(ValidateDetection(spec));
  auto impl = std::make_unique<Impl>(clock, std::move(spec));
  auto notifier = notify::Notifier::Create(clock, impl->spec.topics);
  if (!notifier.ok()) return notifier.status();
  impl->notifier = std::move(*notifier);
  auto monitor = HealthMonitor::Create(clock, impl->spec.checks, options);
  if (!monitor.ok()) return monitor.status();
  impl->monitor = std::move(*monitor);
  for (size_t i = 0; i < impl->spec.checks.size(); ++i) {
    impl->check_index[impl->spec.checks[i].name] = i;
  }
  for (const alarm::AlarmSpec& a : impl->spec.alarms) {
    impl->alarm_index[a.name] = impl->alarms.size();
    impl->alarms.emplace_back(a);
  }
  impl->metrics.Describe("pilotlight_probe_latency_seconds",
                         {"Duration of the last probe of a check from a vantage point", "gauge"});
  impl->metrics.Describe("pilotlight_probe_success",
                         {"1 when the last probe of a check from a vantage point succeeded",
                          "gauge"});
  impl->metrics.Describe("pilotlight_check_healthy",
                         {"1 when the check is healthy, 0 when unhealthy (absent while unknown)",
                          "gauge"});
  Impl* raw = impl.get();
  impl->monitor->SetListener(raw);
  impl->monitor->AddPeriodicTask(impl->spec.alarm_evaluation_interval, [raw] { raw->Tick(); });
  return std::unique_ptr<Detector>(new Detector(std::move(impl)));
}

Detector::Detector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Detector::~Detector() { Stop(); }

void Detector::OnEvent(std::function<void(const DetectionEvent&)> callback) {
  impl_->callback = std::move(callback);
}

Status Detector::Start() { return impl_->monitor->Start(); }

void Detector::Stop() {
  impl_->monitor->Stop();
  impl_->notifier->Stop();
}

std::vector<CheckState> Detector::Checks() const { return impl_->monitor->Snapshot(); }

std::vector<CheckTransition> Detector::CheckHistory() const { return impl_->monitor->History(); }

std::vector<alarm::AlarmStatus> Detector::Alarms() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<alarm::AlarmStatus> out;
  for (const alarm::AlarmTracker& a : impl_->alarms) out.push_back(a.status());
  return out;
}

std::vector<alarm::AlarmTransition> Detector::AlarmHistory() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<alarm::AlarmTransition> out;
  for (const alarm::AlarmTracker& a : impl_->alarms) {
    out.insert(out.end(), a.history().begin(), a.history().end());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  return out;
}

std::string Detector::Prometheus() const {
  alarm::ExpositionFamily states{"pilotlight_check_state",
                                 "1 for the state each health check is in, 0 for the others",
                                 "gauge",
                                 {}};
  for (const CheckState& c : Checks()) {
    for (HealthStatus s :
         {HealthStatus::kHealthy, HealthStatus::kUnhealthy, HealthStatus::kUnknown}) {
      states.samples.push_back(
          {alarm::MetricKey("pilotlight_check_state", {{"check", c.name},
                                                       {"state", HealthStatusName(s)}}),
           c.status == s ? 1 : 0});
    }
  }
  return alarm::PrometheusText(impl_->metrics, Alarms(), {states});
}

alarm::MetricRegistry& Detector::metrics() { return impl_->metrics; }
notify::Notifier& Detector::notifier() { return *impl_->notifier; }
const DetectionSpec& Detector::spec() const { return impl_->spec; }

}  // namespace pilotlight::health
