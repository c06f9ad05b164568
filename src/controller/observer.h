// Observers: where a control cycle's Observation comes from.
//
// LiveObserver gathers it from the real world: the Detector's vantage points on
// the primary check, both databases (role, fence), replication, the release in
// the DR bucket, the DR node groups, the DNS zone, and the controller's own
// lease bookkeeping. Without a Detector (the CLI's one-shot `status`, `failover
// --plan`) the vantage list is empty. Each call is bounded by the databases'
// connect timeouts. Used by one thread at a time.
#pragma once

#include "compute/node_group.h"
#include "controller/snapshot.h"
#include "controller/spec.h"
#include "core/clock.h"

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

// One database's role and fence, over a fresh connection.
DatabaseObservation ObserveDatabase(const pg::Endpoint& endpoint);

}  // namespace pilotlight::controller
