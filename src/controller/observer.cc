#include "controller/observer.h"

#include <map>

#include "controller/dns_switch.h"
#include "controller/http_call.h"
#include "controller/lease_http.h"
#include "data/postgres/failover.h"
#include "health/detector.h"
#include "health/site_report.h"
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

Result<health::SiteReport> FetchSiteReport(const ProbeAgentTarget& agent, Duration timeout) {
  HttpRequestSpec request;
  request.target = "/observations";
  request.resolve_names = false;
  request.body_limit = 4u << 20;
  request.label = "probe agent of site " + agent.site + " at http://" + agent.ToString();
  Result<HttpReply> reply = HttpCall(agent.address, agent.port, request, timeout);
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    return Status::Unavailable(request.label + " answered HTTP " + std::to_string(reply->status));
  }
  Result<health::SiteReport> report = health::ParseSiteReport(reply->body);
  if (!report.ok()) return report.status().Annotate(request.label);
  if (report->site != agent.site) {
    return Status::FailedPrecondition(request.label + " reports for site '" + report->site +
                                      "', not '" + agent.site + "'");
  }
  return report;
}

std::vector<VantageObservation> ObserveVotes(const ControllerSpec& spec, const Clock& clock,
                                             const health::Detector* detector, WallTime at) {
  std::vector<VantageObservation> out;
  const health::CheckSpec* check = nullptr;
  for (const health::CheckSpec& c : spec.checks) {
    if (c.name == spec.primary_check) check = &c;
  }
  if (check == nullptr) return out;
  std::vector<health::CheckState> local;
  if (detector != nullptr) local = detector->Checks();
  // Each other site's agent is asked once per cycle, under its own deadline.
  std::map<std::string, Result<health::SiteReport>> reports;
  std::map<std::string, Duration> fetch_took;
  for (const health::VantageSpec& v : check->vantages) {
    if (v.site == spec.site || reports.count(v.site) > 0) continue;
    const ProbeAgentTarget* agent = spec.FindProbeAgent(v.site);
    if (agent == nullptr) {
      reports.emplace(v.site, Status::NotFound("site " + v.site + " has no probe agent"));
      continue;
    }
    const MonoTime start = clock.Monotonic();
    reports.emplace(v.site, FetchSiteReport(*agent, spec.agent_timeout));
    fetch_took[v.site] = clock.Monotonic() - start;
  }
  for (const health::VantageSpec& v : check->vantages) {
    VantageObservation o;
    o.vantage = v.name;
    o.site = v.site;
    o.in_primary_region = v.site == spec.primary_region;
    if (v.site == spec.site) {
      o.source = "in process";
      if (detector == nullptr) {
        // One-shot status: this command makes no probes of its own, but the site
        // still counts (as no vote), so the quorum is not understated.
        o.detail = "the controller's own probes: not made by this one-shot command";
        out.push_back(std::move(o));
        continue;
      }
      for (const health::CheckState& c : local) {
        if (c.name != check->name) continue;
        for (const health::VantageState& vs : c.vantages) {
          if (vs.name != v.name) continue;
          o.status = vs.threshold.status;
          o.detail = vs.last.detail;
          if (vs.last.at != WallTime{}) o.age = at > vs.last.at ? at - vs.last.at : Duration(0);
          o.late = vs.last.late;
          o.lateness = vs.last.lateness;
        }
      }
      out.push_back(std::move(o));
      continue;
    }
    const Result<health::SiteReport>& report = reports.at(v.site);
    const ProbeAgentTarget* agent = spec.FindProbeAgent(v.site);
    o.source = agent != nullptr ? "agent " + agent->ToString() : "no agent";
    if (!report.ok()) {
      o.detail = report.status().message();  // no vote from this site
    } else if (const health::SiteObservation* seen = report->Find(check->name, v.name)) {
      o.status = seen->status;
      o.detail = seen->detail;
      if (seen->age) o.age = *seen->age + fetch_took[v.site];
      o.late = seen->late;
      o.lateness = seen->lateness;
    } else {
      o.detail = "the probe agent of site " + v.site + " does not probe " + check->name +
                 " from " + v.name + " (is it running with the same config?)";
    }
    out.push_back(std::move(o));
  }
  return out;
}

Observation LiveObserver::Observe() {
  Observation o;
  o.at = clock_.Now();
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
  // The votes last, and "now" with them: the databases above may have taken
  // seconds (connect timeouts), and a decision must not act on votes that old.
  o.at = clock_.Now();
  o.vantage = ObserveVotes(spec_, clock_, detector_, o.at);
  if (lease_ != nullptr) o.primary_lease_expires_at = lease_->ExpiresAt();
  return o;
}

}  // namespace pilotlight::controller
