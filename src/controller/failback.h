// Failback: returning the platform to its primary region after a failover, on
// an operator's word (`pilotlight failback`); the controller never does it by
// itself (decide::Reason::Code::kFailedOverAlready).
//
// FailbackReadiness reads the preconditions of the failback runbook
// (spec.failback_runbook, DefaultFailbackRunbook unless the config declares one)
// as they are now, for `pilotlight failback --plan` and before a run. RunFailback
// runs that runbook through the journaled executor under the runbook lock (so it
// never runs beside the controller's or a manual failover), or resumes its
// unfinished run. Once its run succeeded the journal says "failed back": the
// controller's durable state is normal again, the controller re-arms the
// primary's write lease (controller.cc SteerLease) and automatic failover works
// again (after the policy's hold-down, counted from the last failover).
//
// Used by one thread; touches the journal, the lock file and the servers.
#pragma once

#include <string>
#include <vector>

#include "compute/node_group.h"
#include "controller/spec.h"
#include "controller/state.h"
#include "core/clock.h"
#include "core/status.h"
#include "runbook/executor.h"
#include "runbook/journal.h"

namespace pilotlight::controller {

struct FailbackPrecondition {
  std::string name;  // "the platform is failed over"
  bool ok = false;
  bool required = true;  // a failed required one blocks the run
  std::string detail;
};

struct FailbackReadinessReport {
  std::vector<FailbackPrecondition> preconditions;
  bool ready() const;
  // "ready: ..." or "blocked: <the failed required ones>".
  std::string Verdict() const;
};

// `groups` may be null (node groups then not checked). Waits at most
// `probe_budget` for the node groups to answer.
FailbackReadinessReport FailbackReadiness(const ControllerSpec& spec, const DurableState& durable,
                                          compute::NodeGroups* groups, const Clock& clock,
                                          Duration probe_budget);

// Resumes the unfinished failback run of the journal, else starts one.
// FailedPrecondition when the lock is held or the journal's unfinished run is
// another runbook's.
Result<runbook::RunReport> RunFailback(const ControllerSpec& spec, runbook::Journal& journal,
                                       Clock& clock, runbook::Executor::ActionLookup actions,
                                       runbook::Executor::Observer observer,
                                       const std::string& reason);

}  // namespace pilotlight::controller
