// Observers: where a control cycle's Observation comes from.
//
// LiveObserver gathers it from the real world: the votes on the primary check
// (its vantage points of the controller's own site from the Detector, the others
// from their site's probe agent over HTTP, each fetch under spec.agent_timeout;
// an agent that does not answer leaves its site without a vote), both databases (role, fence), replication, the release in
// the DR bucket, the DR node groups, the DNS zone, and the controller's own
// lease bookkeeping. Without a Detector (the CLI's one-shot `status`, `failover
// --plan`) the vantage list is empty. Each call is bounded by the databases'
// connect timeouts and the agents' deadline. Used by one thread at a time.
#pragma once

#include "compute/node_group.h"
#include "controller/snapshot.h"
#include "controller/spec.h"
#include "core/clock.h"
#include "health/site_report.h"

namespace pilotlight::health {
class Detector;
}

namespace pilotlight::controller {

class LeaseService;

class Observer {
 public:
  virtual ~Observer() = default;
  virtual Observation Observe() = 0;
};

class LiveObserver final : public Observer {
 public:
  // Every pointer may be null (not observed).
  LiveObserver(const ControllerSpec& spec, const Clock& clock, compute::NodeGroups* groups,
               const LeaseService* lease, const health::Detector* detector);
  Observation Observe() override;

 private:
  const ControllerSpec& spec_;
  const Clock& clock_;
  compute::NodeGroups* groups_;
  const LeaseService* lease_;
  const health::Detector* detector_;
};

// The latest report of a site's probe agent (GET /observations), or why not.
Result<health::SiteReport> FetchSiteReport(const ProbeAgentTarget& agent, Duration timeout);

// Every vantage point of the primary check, in the spec's order: those of
// spec.site from `detector` (unknown when it is null), the others from their
// agents. `at` is the observation's time.
std::vector<VantageObservation> ObserveVotes(const ControllerSpec& spec, const Clock& clock,
                                             const health::Detector* detector, WallTime at);

// One database's role and fence, over a fresh connection.
DatabaseObservation ObserveDatabase(const pg::Endpoint& endpoint);

}  // namespace pilotlight::controller
