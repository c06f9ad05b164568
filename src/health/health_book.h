// HealthBook: the state of every health check, driven by probe results.
//
// The pure core of detection. Feed it each probe result with the time it came;
// it applies the check's thresholds per vantage point, the quorum over vantage
// points, and re-evaluates every calculated check that depends on the check,
// returning each status transition with the probe results that caused it. No
// I/O, no clock reads: tests drive it with a FakeClock. Thread-compatible: the
// HealthMonitor calls it from its event loop only and copies snapshots out.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "core/status.h"
#include "health/check.h"
#include "health/thresholds.h"

namespace pilotlight::health {

struct VantageState {
  std::string name;
  std::string site;           // the vantage point's site (VantageSpec::site)
  ThresholdState threshold;   // late probes leave it as it was
  ProbeResult last;           // the most recent probe result (late ones too)
  std::deque<ProbeResult> recent;  // up to max(failure, success) threshold results
  uint64_t late_probes = 0;   // inconclusive results so far (ProbeResult::late)
};

struct CheckState {
  std::string name;
  ProbeKind kind = ProbeKind::kTcp;
  HealthStatus status = HealthStatus::kUnknown;
  std::string reason;  // why it has this status
  WallTime since{};    // when it took this status (epoch 0: never changed)
  std::vector<VantageState> vantages;
};

// One status change of a check as a whole (vantage empty) or as seen from one
// vantage point.
struct CheckTransition {
  std::string check;
  std::string vantage;
  HealthStatus from = HealthStatus::kUnknown;
  HealthStatus to = HealthStatus::kUnknown;
  WallTime at{};
  std::string reason;
  std::vector<ProbeResult> evidence;  // the probe results that caused it
};

class HealthBook {
 public:
  // Validates the specs (ValidateChecks) and starts every check as unknown.
  static Result<HealthBook> Create(std::vector<CheckSpec> specs, size_t history_limit = 1000);

  // Applies one probe result of check `check` from its vantage point `vantage`
  // (indexes into specs() and EffectiveVantages). Returns the transitions it
  // caused, vantage first, then the check, then calculated checks in dependency
  // order. A late result (ProbeResult::late) is kept as the vantage point's last
  // one but moves no threshold: it neither counts as a failure nor resets the
  // failures seen so far. REQUIRES: valid indexes of a non-calculated check.
  std::vector<CheckTransition> Record(size_t check, size_t vantage, const ProbeResult& result,
                                      WallTime now);

  const std::vector<CheckSpec>& specs() const { return specs_; }
  const std::vector<CheckState>& states() const { return states_; }
  // Index of the check named `name`, or -1.
  int Find(const std::string& name) const;
  // Most recent transitions, oldest first, at most history_limit.
  const std::deque<CheckTransition>& history() const { return history_; }

 private:
  HealthBook() = default;
  void Emit(CheckTransition t, std::vector<CheckTransition>& out);
  // Re-evaluates, children before parents, every calculated check that depends
  // (transitively) on `changed`, so a diamond never shows a half-updated state.
  void Recalculate(size_t changed, WallTime now, std::vector<CheckTransition>& out);

  std::vector<CheckSpec> specs_;
  std::vector<CheckState> states_;
  std::vector<int> quorum_;                    // per check
  std::vector<std::vector<size_t>> children_;  // per calculated check
  std::vector<std::vector<size_t>> parents_;   // calculated checks depending on a check
  std::vector<size_t> calculated_order_;       // calculated checks, children first
  std::deque<CheckTransition> history_;
  size_t history_limit_ = 1000;
};

}  // namespace pilotlight::health
