// Auto-scaling: the decision to resize a node group that serves traffic, from
// its request rate (compute/group_load.h), in the manner of the Kubernetes
// HorizontalPodAutoscaler:
//   * recommended = ceil(rate / target_requests_per_instance) (DesiredSize),
//     clamped to [min_size, max_size];
//   * no change while rate / (size × target) is within ±tolerance of 1;
//   * scale-up at once; scale-down only to the highest size recommended over the
//     last scale_down_stabilization, and only once recommendations have been
//     collected for that long (a short lull does not shed capacity);
//   * a group whose region does not serve traffic (DR in pilot light, the
//     primary after a failover) is not auto-scaled, nor any group while a
//     runbook (failover, failback) runs: the size the run set stands;
//   * an unknown load changes nothing.
// DecideScale is pure: the caller passes `now` and carries the memory from one
// cycle to the next. Thread-safe (pure).
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "compute/node_group.h"
#include "core/clock.h"

namespace pilotlight::compute {

struct ScaleInput {
  std::string region;
  std::string group;
  bool serving = false;                       // the group's region serves traffic now
  std::string not_serving;                    // why not, e.g. "DR in pilot light"
  std::string runbook_running;                // non-empty ("failback run 7"): hold, change nothing
  int current = 0;                            // the group's size now
  std::optional<double> requests_per_second;  // unset: unknown
  std::string load_problem;                   // why it is unknown
};

// What DecideScale remembers between cycles: the recommendations of the last
// stabilization window and when the current series of them began.
struct ScaleMemory {
  std::optional<WallTime> since;
  std::deque<std::pair<WallTime, int>> recommendations;
};

enum class ScaleAction { kNone, kScaleUp, kScaleDown };
const char* ScaleActionName(ScaleAction action);  // "none" | "scale-up" | "scale-down"

struct ScaleDecision {
  ScaleAction action = ScaleAction::kNone;
  int from = 0;
  int to = 0;           // == from unless scaling
  int recommended = 0;  // this cycle's recommendation (before stabilization)
  bool active = false;  // the policy applies to the group now (serving, no runbook)
  // "scale trader in dr 2 -> 3: 412 req/s over 2 instances, target 100/instance"
  std::string reason;
};

struct ScaleStep {
  ScaleDecision decision;
  ScaleMemory memory;  // pass to the next call
};

ScaleStep DecideScale(const ScalingPolicy& policy, const ScaleInput& input,
                      const ScaleMemory& memory, WallTime now);

}  // namespace pilotlight::compute
