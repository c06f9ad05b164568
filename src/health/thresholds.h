// The threshold transition: how consecutive probe results move a status.
//
// Modelled on Envoy's health checker: a status changes only when
// failure_threshold consecutive failures (or success_threshold consecutive
// successes) have been seen; anything short of that is ChangePending, so one lost
// probe never flips a check. From kUnknown, either threshold decides. Pure and
// thread-compatible.
#pragma once

#include "health/check.h"

namespace pilotlight::health {

enum class ThresholdOutcome { kUnchanged, kChanged, kChangePending };
const char* ThresholdOutcomeName(ThresholdOutcome outcome);

struct ThresholdState {
  HealthStatus status = HealthStatus::kUnknown;
  int consecutive_successes = 0;
  int consecutive_failures = 0;
};

struct Thresholds {
  int failure_threshold = 3;
  int success_threshold = 2;
};

// Applies one probe result to `state`. REQUIRES: both thresholds >= 1.
ThresholdOutcome ApplyProbe(ThresholdState& state, bool success, const Thresholds& thresholds);

}  // namespace pilotlight::health
