// What each disaster-recovery strategy costs, and the recovery it buys.
//
// EstimateCosts() prices the platform described by a Config with a Prices file
// under five strategies: no DR, backup & restore, pilot light, warm standby and
// active-active. For each it gives the monthly cost at on-demand and reserved
// rates, the extra over no DR, the cost of one failover event (DR running at
// production size for N hours) and the RTO and RPO the strategy can expect
// under the config's recovery model. What runs in the DR region under each
// strategy is written out beside the code in estimate.cc. Pure (no I/O, no
// clock): thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/model.h"
#include "core/clock.h"
#include "cost/prices.h"

namespace pilotlight::cost {

enum class Strategy { kNoDr, kBackupRestore, kPilotLight, kWarmStandby, kActiveActive };

const char* StrategyName(Strategy s);  // "no DR", "backup & restore", "pilot light", ...
const char* StrategyId(Strategy s);    // "no_dr", "backup_restore", "pilot_light", ... (JSON)

// One strategy's money, whole platform (both regions), per month unless said.
struct StrategyCost {
  Strategy strategy = Strategy::kNoDr;
  std::string dr_runs;         // what the DR region runs, e.g. "database + 1 trader (m5.large)"
  Micros on_demand = 0;        // every instance-hour at on-demand rates
  Micros reserved = 0;         // every always-on instance-hour at reserved rates
  Micros extra_on_demand = 0;  // on_demand minus no DR's on_demand
  Micros extra_reserved = 0;   // reserved minus no DR's reserved
  Micros reserved_saving = 0;  // on_demand minus reserved
  // Extra cost of one failover: what DR adds, on demand, to reach production
  // size for the failover hours. Absent for no DR (there is nothing to fail over to).
  std::optional<Micros> failover_event;

  // Expected recovery; absent for no DR (recovery waits for the region's repair).
  std::optional<Duration> rto;
  std::optional<Duration> rpo;
  std::string rto_model;  // "detection 30s + scale-up 5m + promote 1m + DNS 30s"
  std::string
      rpo_model;  // "replication lag allowed at promotion (replication.max_lag_on_failover)"
  bool meets_objectives = false;  // rto <= objectives.rto and rpo <= objectives.rpo.database
};

struct Estimate {
  std::string currency;
  int hours_per_month = 730;
  int failover_hours = 24;
  Duration rto_objective{};
  Duration rpo_objective{};              // objectives.rpo.database
  std::vector<StrategyCost> strategies;  // in Strategy order, no DR first
  std::vector<std::string> notes;        // what the model leaves out for this config
};

struct EstimateOptions {
  int failover_hours = 24;  // REQUIRES: 0 <= failover_hours <= 8760
};

struct EstimateResult {
  std::optional<Estimate> estimate;  // set only when errors is empty
  // A node group without an instance type, or an instance type the price file
  // does not list: located in the config file.
  std::vector<config::ConfigError> errors;
  bool ok() const { return estimate.has_value() && errors.empty(); }
};

// REQUIRES: a validated Config (one primary and one DR region).
EstimateResult EstimateCosts(const config::Config& config, const Prices& prices,
                             const EstimateOptions& options);

}  // namespace pilotlight::cost
