#include "health/thresholds.h"

namespace pilotlight::health {

const char* ThresholdOutcomeName(ThresholdOutcome outcome) {
  switch (outcome) {
    case ThresholdOutcome::kUnchanged:
      return "unchanged";
    case ThresholdOutcome::kChanged:
      return "changed";
    case ThresholdOutcome::kChangePending:
      return "change pending";
  }
  return "?";
}

ThresholdOutcome ApplyProbe(ThresholdState& state, bool success, const Thresholds& thresholds) {
  if (success) {
    state.consecutive_failures = 0;
    ++state.consecutive_successes;
    if (state.status == HealthStatus::kHealthy) return ThresholdOutcome::kUnchanged;
    if (state.consecutive_successes >= thresholds.success_threshold) {
      state.status = HealthStatus::kHealthy;
      return ThresholdOutcome::kChanged;
    }
    return ThresholdOutcome::kChangePending;
  }
  state.consecutive_successes = 0;
  ++state.consecutive_failures;
  if (state.status == HealthStatus::kUnhealthy) return ThresholdOutcome::kUnchanged;
  if (state.consecutive_failures >= thresholds.failure_threshold) {
    state.status = HealthStatus::kUnhealthy;
    return ThresholdOutcome::kChanged;
  }
  return ThresholdOutcome::kChangePending;
}

}  // namespace pilotlight::health
