// The controller: one loop of observe → decide → act.
//
// Each cycle takes a fresh Observation, folds it into an immutable Snapshot
// (snapshot.h), derives the durable state from the journal (state.h), asks the
// pure decide::Decide what to do and why, and acts: runs the failover runbook
// (or resumes the interrupted one) through the journaled executor, fences an old
// primary found writable beside a promoted DR, publishes a plan that awaits
// approval, and steers the primary's write lease (stops granting once it commits
// to a failover, revokes for good once a failover run began). Every change of
// decision and every step's start and end is published to the events topic and
// handed to the caller; the status of the last cycle is written as JSON for
// `pilotlight status`.
//
// With an Autoscaler (SetAutoscaler), each cycle that ran no runbook then
// applies `controller.scaling` to the node groups of the region that serves
// traffic, under the runbook lock (autoscaler.h); the outcome is in the cycle
// report and in status.json's "autoscaling".
//
// Runbooks run under the runbook lock (state.h), so a manual `pilotlight
// failover` and the controller never run one at the same time; the cycle that
// finds the lock taken only reports it. A cycle that runs a runbook lasts as
// long as the runbook. Used by one thread (the loop's); the lease server's
// thread only touches the LeaseService.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "controller/actions.h"
#include "controller/autoscaler.h"
#include "controller/observer.h"
#include "controller/snapshot.h"
#include "controller/spec.h"
#include "controller/state.h"
#include "core/clock.h"
#include "decide/decision.h"
#include "runbook/executor.h"
#include "runbook/journal.h"

namespace pilotlight::controller {

class LeaseService;
class Leadership;

struct CycleReport {
  Observation observation;
  decide::Snapshot snapshot;
  std::string lag_source;
  DurableState durable;
  decide::Decision decision;
  bool changed = false;  // the plan or the reason's code differs from the last cycle's
  std::string line;      // "<time> [<mode>] <plan>: <reason>"
  std::optional<runbook::RunReport> run;  // the runbook run in this cycle, if any
  std::string note;      // what stopped it acting (lock taken, retry backoff, journal error)
  bool following = false;  // another controller leads (leader.h): observed, nothing done
  std::vector<GroupScaling> scaling;  // auto-scaling this cycle (empty: none configured/run)
};

class Controller {
 public:
  using Publish = std::function<void(const std::string& topic, const std::string& json)>;

  // `lease` may be null (no lease server: an unreachable primary is then never
  // provably stopped, and only a forced failover proceeds).
  Controller(const ControllerSpec& spec, Clock& clock, Observer& observer,
             runbook::Journal& journal, runbook::Executor::ActionLookup actions,
             RunContext& context, LeaseService* lease, Publish publish);

  // Observe, derive and decide: no lease steering, no action, nothing published
  // (for one-shot `pilotlight status` and `failover --plan`).
  Result<CycleReport> Evaluate();
  // Evaluate, publish a changed decision, steer the lease, act.
  Result<CycleReport> Cycle();
  // Cycles every spec.cycle_interval until `stop`; `on_cycle` sees every report.
  void Run(const std::atomic<bool>& stop, const std::function<void(const CycleReport&)>& on_cycle);

  // Manual operations (the CLI), under the runbook lock: run the failover runbook
  // now (or resume its unfinished run), whatever the health checks say; and run
  // a one-step runbook named `runbook` (manual scale, fence, promote), journaled
  // like any other. The caller checked the readiness gates (or was forced).
  Result<runbook::RunReport> RunFailoverNow(bool forced, const std::string& reason);
  Result<runbook::RunReport> RunStepNow(const std::string& runbook, const runbook::StepSpec& step,
                                        bool forced, const std::string& reason);

  // What `pilotlight status` reads.
  std::string StatusJson(const CycleReport& report) const;

  // Several controllers (leader.h): this one publishes decisions, steers the
  // write lease and acts only while `leadership` says it leads; a follower only
  // observes and writes its status. Leadership is asked again before every
  // runbook step: once it is lost no new step starts (a step already running
  // finishes, it cannot be interrupted), the run stays unfinished in the journal
  // and the next leader resumes it. `on_change(leading)` runs on the loop's
  // thread when this controller starts or stops leading. Without a call (or
  // with null) the controller always acts, as a single controller does.
  void SetLeadership(Leadership* leadership, std::function<void(bool leading)> on_change);

  // Auto-scales the serving region's node groups after each cycle's decision
  // (null: not at all, the default). Not owned; outlives the controller's loop.
  void SetAutoscaler(Autoscaler* autoscaler) { autoscaler_ = autoscaler; }

 private:
  Result<std::string> OldPrimaryStopped() const;
  void SteerLease(const CycleReport& r);
  void Act(CycleReport& r);
  void Autoscale(CycleReport& r);
  void PublishEvent(const std::string& json);
  // Leadership (see SetLeadership): false when this controller must not act now.
  bool FollowLeadership(CycleReport& r);
  runbook::Executor::ActionLookup GateActions(runbook::Executor::ActionLookup inner);
  Status WriteStatus(const CycleReport& r) const;
  // Keeps memory_ in spec.ObserverMemoryPath() when it changed.
  void SaveMemory();

  const ControllerSpec& spec_;
  Clock& clock_;
  Observer& observer_;
  runbook::Journal& journal_;
  RunContext& context_;
  LeaseService* lease_;
  Publish publish_;
  runbook::Executor executor_;
  ObserverMemory memory_;
  std::string saved_memory_;  // the text last written by SaveMemory
  std::optional<std::pair<decide::PlanKind, decide::Reason::Code>> last_;
  Leadership* leadership_ = nullptr;
  Autoscaler* autoscaler_ = nullptr;
  std::function<void(bool)> on_leadership_;
  std::optional<bool> was_leading_;
  std::map<runbook::StepAction*, std::unique_ptr<runbook::StepAction>> gates_;
};

// A step's start or end as the JSON event the controller publishes (for other
// runners of runbooks, e.g. `pilotlight failback`).
std::string StepEventText(const runbook::StepEvent& e, const std::string& runbook);

}  // namespace pilotlight::controller
