#include "controller/observer.h"

#include "controller/dns_switch.h"
#include "controller/lease_http.h"
#include "data/postgres/failover.h"
#include "health/detector.h"
#ifdef PL_HAVE_RELEASES
#include "data/releases/releases.h"
#endif

namespace pilotlight::controller {

DatabaseObservation ObserveDatabase(const pg::Endpoint& endpoint) {
  DatabaseObservation d;
  Result<std::unique_ptr<pg::Connection>> conn = pg::Connection::Open(endpoint);
  if (!conn.ok()) {
    d.detail = conn.status().message();
    return d;
  }
  Result<pg::ServerRole> role = pg::ReadServerRole(**conn);
  if (!role.ok()) {
    d.detail = role.status().message();
    return d;
  }
  d.reachable = true;
  d.in_recovery = role->in_recovery;
  d.read_only_default = role->read_only_default;
  d.detail = d.in_recovery ? "standby (read-only)"
                           : (d.read_only_default ? "primary, fenced read-only" : "primary, writable");
  return d;
}

LiveObserver::LiveObserver(const ControllerSpec& spec, const Clock& clock,
                           compute::NodeGroups* groups, const LeaseService* lease,
                           const health::Detector* detector)
    : spec_(spec), clock_(clock), groups_(groups), lease_(lease), detector_(detector) {}

Observation LiveObserver::Observe() {
  Observation o;
  o.at = clock_.Now();
  if (detector_ != nullptr) {
    for (const health::CheckState& c : detector_->Checks()) {
      if (c.name != spec_.primary_check) continue;
      for (const health::VantageState& v : c.vantages) {
        o.vantage.push_back({v.name, v.threshold.status, v.last.detail});
      }
    }
  }
  o.replication = pg::ReadReplicationStatus(spec_.primary_db, spec_.dr_db, spec_.standby_name);
  o.old_primary = ObserveDatabase(spec_.primary_db);
  o.dr = ObserveDatabase(spec_.dr_db);

  if (spec_.release.name.empty()) {
    o.dr_holds_primary_release = {false, "not checked: the primary records no running release"};
  } else {
#ifdef PL_HAVE_RELEASES
    releases::ReleaseReadiness r = releases::DrHoldsRunningRelease(
        spec_.release.primary_bucket, spec_.release.dr_bucket, spec_.release.name);
    o.dr_holds_primary_release = {r.ready, r.fact};
#else
    o.dr_holds_primary_release = {false, "this build has no release library (pl_data_releases)"};
#endif
  }

  o.dr_compute_can_scale = {true, "no DR node group to scale"};
  for (const compute::NodeGroupSpec& g : spec_.node_groups) {
    if (g.region != spec_.dr_region) continue;
    if (groups_ == nullptr) {
      o.dr_compute_can_scale = {false, "no node group provider"};
      break;
    }
    Status st = groups_->CanScale(g.region, g.name);
    if (!st.ok()) {
      o.dr_compute_can_scale = {false, g.name + ": " + st.message()};
      break;
    }
    o.dr_compute_can_scale = {true, "DR " + g.name + " can scale to " +
                                        std::to_string(g.production_size)};
  }
  o.dns_secondary_exists = DnsSecondaryExists(spec_.dns, o.at);
  if (lease_ != nullptr) o.primary_lease_expires_at = lease_->ExpiresAt();
  return o;
}

}  // namespace pilotlight::controller
