// How `pilotlight cost` shows an estimate: aligned Markdown tables for people,
// JSON for scripts. Pure formatting of values already computed; thread-safe.
#pragma once

#include <optional>
#include <string>

#include "cost/estimate.h"
#include "cost/history.h"

namespace pilotlight::cost {

struct CostReport {
  std::string platform;
  std::string config_file;
  std::string prices_file;
  std::string prices_source;
  Estimate estimate;
  std::string history_file;                  // empty: no --history given
  std::optional<MeasuredRecovery> measured;  // pilot light drills; nullopt: none yet
};

// Two Markdown tables (monthly cost; recovery), the model behind each RTO and
// RPO, the measured drills or "no drill history yet", and any notes.
std::string FormatText(const CostReport& report);

// One JSON document; money in currency units, durations in seconds, null where
// a strategy promises nothing (no DR's RTO, RPO and failover event).
std::string FormatJson(const CostReport& report);

}  // namespace pilotlight::cost
