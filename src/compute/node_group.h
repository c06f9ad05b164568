// Compute: node groups (EKS node groups in the seed) that a failover scales from
// their pilot-light size to production size, and the readiness wait that tells
// when the new instances can take traffic.
//
// NodeGroups is the one interface the runbook's `scale` step and the readiness
// gate "DR compute can scale" use. Two implementations: LabNodeGroups (the lab's
// supervisor of `pilotlight trader serve` instances, lab_node_groups.h) and
// ExecNodeGroups (configured commands: kubectl scale, a cloud CLI;
// exec_node_groups.h). The sizing arithmetic (DesiredSize) is pure.
//
// Thread-safety: implementations are used by one thread at a time (the
// controller's); the pure functions are thread-safe.
#pragma once

#include <string>
#include <vector>

#include "config/model.h"
#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::compute {

// Auto-scaling: keep about `target_requests_per_instance` requests per second on
// each instance, never fewer than min_size nor more than max_size instances.
// Applied by the controller with DecideScale (compute/autoscale.h).
struct ScalingPolicy {
  int min_size = 1;
  int max_size = 10;
  double target_requests_per_instance = 100;
  // No change while the load per instance is within ±tolerance of the target.
  double tolerance = 0.1;
  // Scale down only to the highest size recommended over this long.
  Duration scale_down_stabilization = std::chrono::seconds(60);
};

// A node group of one region: its pilot-light size (standby), its production
// size (carrying load) and its auto-scaling policy.
struct NodeGroupSpec {
  std::string region;
  std::string name;
  int pilot_light_size = 1;
  int production_size = 2;
  ScalingPolicy scaling;
};

// Instances the policy wants for a load of `requests_per_second`: the ceiling of
// load / target, clamped to [min_size, max_size]. A non-positive target or a
// negative load yields min_size.
int DesiredSize(const ScalingPolicy& policy, double requests_per_second);

// The node groups of a config as compute specs (auto-scaling: min pilot_light_size,
// max production_size).
std::vector<NodeGroupSpec> NodeGroupsOf(const config::Config& config);

// "production" | "pilot_light" | a non-negative integer, against a group spec.
Result<int> ResolveSize(const NodeGroupSpec& group, const std::string& size);

// When an instance counts as up: it serves and says it is ready (its /readyz
// answers 200), or merely answers (any /readyz reply: it runs, but e.g. its
// database is still a read-only standby, as in DR before promotion).
enum class ReadyWhen { kReady, kAnswering };
const char* ReadyWhenName(ReadyWhen when);  // "ready" | "answering"
Result<ReadyWhen> ParseReadyWhen(const std::string& text);

// One look at a group: how many instances it should have and which are up.
struct GroupReadiness {
  int desired = 0;
  std::vector<std::string> up;  // instance names that met the ReadyWhen bar
  std::string detail;           // what the not-yet-up instances said, for the operator
  bool AllUp() const { return static_cast<int>(up.size()) >= desired; }
};

class NodeGroups {
 public:
  virtual ~NodeGroups() = default;
  // The size the group is set to (not how many are up).
  virtual Result<int> Size(const std::string& region, const std::string& group) = 0;
  // Sets the size and starts or stops instances; does not wait for readiness.
  virtual Status SetSize(const std::string& region, const std::string& group, int size) = 0;
  // Looks at the instances until every one of them is up or `deadline` passes,
  // and returns what it saw (not an error when some are not up).
  virtual Result<GroupReadiness> Readiness(const std::string& region, const std::string& group,
                                           ReadyWhen when, MonoTime deadline) = 0;
  // OK when the group can be scaled right now (the readiness gate
  // "DR compute can scale"), else why not.
  virtual Status CanScale(const std::string& region, const std::string& group) = 0;
};

// Sets the size, then waits until that many instances are up; Timeout (with
// what the laggards said) when they are not by `deadline`. Idempotent.
Status ScaleAndWait(NodeGroups& groups, const std::string& region, const std::string& group,
                    int size, ReadyWhen when, MonoTime deadline);

}  // namespace pilotlight::compute
