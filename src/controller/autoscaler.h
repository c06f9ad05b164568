// Autoscaler: the controller's application of `controller.scaling.<group>` to
// the node groups that serve traffic.
//
// Which region serves comes from the controller's durable state: the primary
// region while the phase is normal (including after a failback), the DR region
// once failed over. A group of the other region is left at the size the
// runbooks set (DR's pilot light, the old primary's). While any runbook runs or
// is unfinished in the journal (a failover, a manual `pilotlight failback`, a
// manual scale) nothing is scaled: the size the run set stands. Each cycle it
// reads every serving group's request rate (compute::GroupLoadSource), asks the
// pure compute::DecideScale, and applies a change through compute::NodeGroups,
// logging it with its reason ("scale trader in dr 2 -> 3: 412 req/s over 2
// instances, target 100/instance"). In observe-only mode it only says what it
// would do. The controller calls Step from its loop's thread, under the runbook
// lock, after deciding on failover (never while a runbook of its own runs).
// Used by one thread.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "compute/autoscale.h"
#include "compute/group_load.h"
#include "compute/node_group.h"
#include "controller/spec.h"
#include "controller/state.h"
#include "core/clock.h"

namespace pilotlight::controller {

// One group's auto-scaling in one cycle, for the log, the CLI and status.json.
struct GroupScaling {
  std::string region;
  std::string group;
  compute::ScalingPolicy policy;
  compute::ScaleDecision decision;
  std::optional<double> requests_per_second;
  int instances_reporting = 0;
  std::string load_source;
  bool applied = false;  // the size was changed this cycle
  bool changed = false;  // applied, or (observe-only) a change newly proposed: say it
  std::string error;     // reading the size or applying the change failed
  // The last change this controller made to the group (or would have made, in
  // observe-only mode).
  std::optional<WallTime> last_change_at;
  std::string last_change;
};

class Autoscaler {
 public:
  Autoscaler(const ControllerSpec& spec, compute::NodeGroups& groups,
             compute::GroupLoadSource& load);

  // True when the spec scales any group (controller.scaling is not empty).
  bool Enabled() const { return !policies_.empty(); }

  // One pass over the configured groups. `runbook_running` is non-empty when a
  // runbook runs or is unfinished ("the unfinished failback run 7"): hold.
  // `before_change`, when given, runs once before the first size change of the
  // pass (the controller takes the runbook lock there, so it holds it only
  // while it changes something); when it fails nothing is changed and each
  // wanted change reports its message as the error.
  std::vector<GroupScaling> Step(const DurableState& durable, const std::string& runbook_running,
                                 bool observe_only, WallTime now,
                                 const std::function<Status()>& before_change = nullptr);

 private:
  struct Memory {
    compute::ScaleMemory scale;
    std::string last_would;  // observe-only: the change last proposed ("2->3")
    std::optional<WallTime> last_change_at;
    std::string last_change;
  };

  const ControllerSpec& spec_;
  compute::NodeGroups& groups_;
  compute::GroupLoadSource& load_;
  std::vector<std::pair<std::string, compute::ScalingPolicy>> policies_;  // by group name
  std::map<std::pair<std::string, std::string>, Memory> memory_;          // by (region, group)
};

// controller.scaling's bounds as a policy (tolerance 10 %).
compute::ScalingPolicy PolicyOf(const config::ScalingConfig& scaling);

}  // namespace pilotlight::controller
