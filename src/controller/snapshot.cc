#include "controller/snapshot.h"

#include <cmath>

namespace pilotlight::controller {

namespace {

std::optional<Duration> Seconds(std::optional<double> s) {
  if (!s || !std::isfinite(*s) || *s < 0) return std::nullopt;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*s));
}

}  // namespace

decide::VantageReport ToVantageReport(const VantageObservation& v) {
  decide::VantageReport r;
  r.vantage = v.vantage;
  r.primary_healthy = v.status != health::HealthStatus::kUnhealthy;
  r.detail = std::string(health::HealthStatusName(v.status)) +
             (v.detail.empty() ? "" : ": " + v.detail);
  return r;
}

int QuorumFor(const decide::Policy& policy, int votes) {
  return policy.quorum > 0 ? policy.quorum : votes / 2 + 1;
}

SnapshotStep BuildSnapshot(const Observation& o, const ObserverMemory& memory,
                           const decide::Policy& policy) {
  SnapshotStep out;
  out.memory = memory;
  decide::Snapshot& s = out.snapshot;
  s.taken_at = o.at;
  int down = 0;
  for (const VantageObservation& v : o.vantage) {
    s.vantage.push_back(ToVantageReport(v));
    down += s.vantage.back().primary_healthy ? 0 : 1;
  }
  const int votes = static_cast<int>(s.vantage.size());
  const bool quorum_down = votes > 0 && down >= QuorumFor(policy, votes);
  if (quorum_down) {
    if (!out.memory.unhealthy_since) out.memory.unhealthy_since = o.at;
  } else {
    out.memory.unhealthy_since.reset();
  }
  s.primary_unhealthy_since = out.memory.unhealthy_since;

  // The primary counts as healthy for the replication memory only when no vantage
  // point doubts it and the controller itself reaches it.
  const bool primary_healthy = votes > 0 && down == 0 && o.replication.primary_reachable;
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
