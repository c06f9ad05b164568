#include "controller/snapshot.h"

#include <algorithm>
#include <cmath>

namespace pilotlight::controller {

namespace {

std::optional<Duration> Seconds(std::optional<double> s) {
  if (!s || !std::isfinite(*s) || *s < 0) return std::nullopt;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*s));
}

}  // namespace

decide::Vote VoteOf(const VantageObservation& v, const decide::Policy& policy) {
  if (!v.age || v.status == health::HealthStatus::kUnknown) return decide::Vote::kUnknown;
  if (*v.age > policy.max_observation_age) return decide::Vote::kStale;
  if (v.late) return decide::Vote::kLate;
  return v.status == health::HealthStatus::kUnhealthy ? decide::Vote::kDown : decide::Vote::kUp;
}

namespace {

std::string Millis(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

// "witness: down (connection refused; 120 ms old)".
std::string Describe(const VantageObservation& v, decide::Vote vote) {
  std::string out = v.vantage + ": " + decide::VoteName(vote);
  std::string what = v.detail;
  if (v.age) what += (what.empty() ? "" : "; ") + Millis(*v.age) + " old";
  if (v.late) what += "; started " + Millis(v.lateness) + " late";
  return what.empty() ? out : out + " (" + what + ")";
}

int Rank(decide::Vote v) {  // which vantage point speaks for its site
  switch (v) {
    case decide::Vote::kUp: return 0;
    case decide::Vote::kDown: return 1;
    case decide::Vote::kLate: return 2;
    case decide::Vote::kStale: return 3;
    case decide::Vote::kUnknown: return 4;
  }
  return 5;
}

}  // namespace

std::vector<decide::SiteVote> SiteVotes(const std::vector<VantageObservation>& vantage,
                                        const decide::Policy& policy) {
  std::vector<decide::SiteVote> sites;
  for (const VantageObservation& v : vantage) {
    const decide::Vote vote = VoteOf(v, policy);
    auto it = std::find_if(sites.begin(), sites.end(),
                           [&](const decide::SiteVote& s) { return s.site == v.site; });
    if (it == sites.end()) {
      sites.push_back({v.site, vote, Describe(v, vote), v.in_primary_region});
      continue;
    }
    it->detail += "; " + Describe(v, vote);
    if (Rank(vote) < Rank(it->vote)) it->vote = vote;
    it->in_primary_region = it->in_primary_region && v.in_primary_region;
  }
  return sites;
}

SnapshotStep BuildSnapshot(const Observation& o, const ObserverMemory& memory,
                           const decide::Policy& policy) {
  SnapshotStep out;
  out.memory = memory;
  decide::Snapshot& s = out.snapshot;
  s.taken_at = o.at;
  s.sites = SiteVotes(o.vantage, policy);
  const decide::VoteTally tally = decide::TallyVotes(s.sites, policy);
  if (tally.quorum_down()) {
    if (!out.memory.unhealthy_since) out.memory.unhealthy_since = o.at;
  } else {
    out.memory.unhealthy_since.reset();
  }
  s.primary_unhealthy_since = out.memory.unhealthy_since;

  // The primary counts as healthy for the replication memory only when some site
  // sees it up, none doubts it and the controller itself reaches it.
  const bool primary_healthy =
      tally.up > 0 && tally.down == 0 && o.replication.primary_reachable;
  const std::optional<Duration> live_lag = Seconds(o.replication.replay_lag_seconds);
  if (primary_healthy) {
    out.memory.primary_last_healthy_at = o.at;
    out.memory.was_streaming = o.replication.streaming;
    out.memory.lag_while_healthy = o.replication.streaming ? live_lag : std::nullopt;
  }

  if (o.replication.primary_reachable) {
    // The primary answers: what is true now is what counts.
    s.replica_streaming = o.replication.streaming;
    s.replica_lag = o.replication.streaming ? live_lag : std::nullopt;
    out.lag_source = s.replica_lag ? "replay lag (heartbeat gap)" : "unknown: not streaming";
  } else {
    s.replica_streaming = out.memory.was_streaming;
    // Upper bound: writes older than the last heartbeat the standby replayed are
    // on it; none can exist after the primary was lost.
    std::optional<Duration> bound = Seconds(o.replication.heartbeat_age_seconds);
    if (bound && out.memory.primary_last_healthy_at) {
      const Duration lost_for = o.at - *out.memory.primary_last_healthy_at;
      *bound = *bound > lost_for ? *bound - lost_for : Duration(0);
      out.lag_source = "at most: last replayed heartbeat to the primary's loss";
    } else if (bound) {
      out.lag_source = "at most: age of the last replayed heartbeat";
    }
    if (bound && out.memory.lag_while_healthy) bound = std::max(*bound, *out.memory.lag_while_healthy);
    s.replica_lag = bound;
    if (!bound) out.lag_source = "unknown: primary unreachable and no heartbeat on the standby";
  }

  s.dr_holds_primary_release = o.dr_holds_primary_release.holds;
  s.dr_compute_can_scale = o.dr_compute_can_scale.holds;
  s.dns_secondary_exists = o.dns_secondary_exists.holds;
  s.old_primary_reachable = o.old_primary.reachable;
  s.old_primary_writable = o.old_primary.writable();
  s.dr_writable = o.dr.writable();
  s.primary_lease_expires_at = o.primary_lease_expires_at;
  return out;
}

}  // namespace pilotlight::controller
