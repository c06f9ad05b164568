// HealthMonitor: runs every check's probes on one event loop and keeps their state.
//
// One thread runs a Boost.Asio loop; each (check, vantage point) pair has a
// timer, so thousands of checks need no more threads. Each probe result goes
// into a HealthBook (thresholds, quorum, calculated checks); a Listener hears
// every probe result and every transition. The first probe of each pair is
// spread over its first interval so thousands of checks do not fire at once;
// each later probe is due `interval` (+ jitter) after the previous was due, and
// how late it actually started is reported in ProbeResult::lateness.
//
// Thread-safety: Create/SetListener/AddPeriodicTask/Start/Stop from one owner
// thread; Snapshot/Statuses/History from any thread. Listener callbacks and
// periodic tasks run on the loop thread and must not block.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "health/check.h"
#include "health/health_book.h"

namespace pilotlight::health {

class HealthListener {
 public:
  virtual ~HealthListener() = default;
  // `status` is the check's status after this result.
  virtual void OnProbe(const CheckSpec& check, const VantageSpec& vantage,
                       const ProbeResult& result, HealthStatus status) {}
  virtual void OnTransitions(const std::vector<CheckTransition>& transitions) {}
};

struct MonitorOptions {
  bool spread_first_probes = true;  // first probe at a random point of the first interval
  uint64_t seed = 0;                // jitter/spread randomness; 0 = random
  size_t history_limit = 1000;
};

class HealthMonitor {
 public:
  // Validates the specs (every error at once).
  static Result<std::unique_ptr<HealthMonitor>> Create(const Clock& clock,
                                                       std::vector<CheckSpec> specs,
                                                       MonitorOptions options = {});
  ~HealthMonitor();  // Stop()s
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // REQUIRES: before Start. `listener` must outlive the monitor's loop.
  void SetListener(HealthListener* listener);
  // Runs `task` on the loop every `every`. REQUIRES: before Start.
  void AddPeriodicTask(Duration every, std::function<void()> task);

  Status Start();
  // Stops the loop and abandons probes in flight. Idempotent.
  void Stop();

  const std::vector<CheckSpec>& specs() const;
  std::vector<CheckState> Snapshot() const;
  std::vector<HealthStatus> Statuses() const;  // by index of specs()
  std::vector<CheckTransition> History() const;

 private:
  struct Impl;
  explicit HealthMonitor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pilotlight::health
