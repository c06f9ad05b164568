// The runbook's step kinds over the real adapters: compute (scale,
// wait_healthy), data (fence, promote), DNS (dns), notify (notify), the shell
// (exec, replicate) and the operator (approve).
//
// Every action is idempotent: AlreadyDone looks for its effect first (a fenced
// or unreachable-and-lease-expired old primary, a promoted replica, the DNS
// record answered by every publisher's server), and Run converges to the effect
// when run again. Notify is at-least-once: a notification whose outcome was lost
// in a crash is sent again.
//
// Safety rules enforced again at the point of action, whatever the decision
// said: promote refuses while the old primary accepts writes, or while it is
// unreachable and not provably stopped (its lease has not expired); fence
// refuses to call an unreachable primary fenced unless its lease has expired or
// an operator forced the failover.
//
// Parameters (StepSpec::params): the step table, config/runbook_steps.h, says
// which each kind reads, which are required and their defaults; the loader
// checked them against it, and an absent parameter takes the table's default.
// ActionSet has an action for exactly the table's kinds (it aborts otherwise).
// Used by the controller's thread only.
#pragma once

#include "data/postgres/wal_at_risk.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "compute/node_group.h"
#include "controller/spec.h"
#include "core/clock.h"
#include "core/status.h"
#include "notify/notify.h"
#include "runbook/executor.h"

namespace pilotlight::controller {

// What the controller knows about the run in progress, read by the actions.
struct RunContext {
  bool forced = false;  // an operator forced the failover past failed gates
  // When the primary was last seen healthy (bounds the data at risk); unset after
  // a restart.
  std::optional<WallTime> primary_last_healthy_at;
  // The primary's WAL positions the controller saw: the promote step measures
  // the WAL the standby lacks against them (pg::CheckPromotionLag).
  pg::PrimaryWalHistory primary_wal;
  // OK (with how it is known) when an unreachable old primary is provably not
  // taking writes: its lease plus the safety margin has passed, or an operator
  // forced the failover. The controller sets it.
  std::function<Result<std::string>()> old_primary_stopped;
};

struct Adapters {
  const ControllerSpec* spec = nullptr;
  Clock* clock = nullptr;  // every wait of an action goes through it (SleepFor)
  compute::NodeGroups* groups = nullptr;  // null: scale / wait_healthy on groups fail
  std::function<Status(const std::string& topic, const std::string& json)> publish;
  RunContext* context = nullptr;
};

class ActionSet {
 public:
  explicit ActionSet(Adapters adapters);
  ~ActionSet();
  // nullptr for an unknown kind.
  runbook::StepAction* Find(const std::string& kind);
  runbook::Executor::ActionLookup Lookup() {
    return [this](const std::string& kind) { return Find(kind); };
  }

 private:
  Adapters adapters_;
  std::map<std::string, std::unique_ptr<runbook::StepAction>> actions_;
};

// Test hook for crash tests: with PILOTLIGHT_TEST_BLOCK_STEP=before:KIND or
// after:KIND, the first step of that kind blocks forever just before (or just
// after) acting, after creating the file named by PILOTLIGHT_TEST_BLOCK_MARKER,
// so a test can SIGKILL the controller at that instant. Never set in production.
runbook::Executor::ActionLookup WithTestHook(runbook::Executor::ActionLookup inner);

}  // namespace pilotlight::controller
