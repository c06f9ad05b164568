#include "data/postgres/promotion_gate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pilotlight::pg {
namespace {

std::string Secs(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fs", s);
  return buf;
}

}  // namespace

StandbyWalPosition StandbyPosition(const ReplicationStatus& st) {
  StandbyWalPosition p;
  p.received = st.standby_receive_lsn;
  p.replayed = st.standby_replay_lsn;
  if (st.standby_heartbeat_epoch && std::isfinite(*st.standby_heartbeat_epoch)) {
    p.heartbeat_at = WallTime(std::chrono::duration_cast<Duration>(
        std::chrono::duration<double>(*st.standby_heartbeat_epoch)));
  }
  return p;
}

const char* PromotionDecisionName(PromotionDecision d) {
  switch (d) {
    case PromotionDecision::kAllowed:
      return "allowed";
    case PromotionDecision::kAlreadyPrimary:
      return "already primary";
    case PromotionDecision::kForced:
      return "forced";
    case PromotionDecision::kRefused:
      return "refused";
  }
  return "refused";
}

PromotionVerdict CheckPromotionLag(const PromotionGateInput& in) {
  const ReplicationStatus& st = in.status;
  PromotionVerdict v;
  const double limit = std::chrono::duration<double>(in.max_lag).count();

  if (!st.standby_reachable) {
    v.reason = "the DR replica cannot be reached, so it cannot be promoted; bring it up first" +
               (st.problem.empty() ? std::string() : " (" + st.problem + ")");
    return v;  // forcing cannot promote what does not answer
  }
  if (!st.standby_in_recovery) {
    v.decision = PromotionDecision::kAlreadyPrimary;
    v.at_risk_seconds = 0.0;
    v.reason = "the DR database is already a writable primary: nothing to promote";
    return v;
  }

  std::string how;
  PrimaryWalHistory history = in.primary_wal;
  const bool live = st.primary_reachable && st.primary_lsn.has_value();
  if (live) history.Add({*st.primary_lsn, in.now});
  if (!live && !st.primary_reachable) history.MarkUnreachable(in.now);
  WalAtRisk wal = EstimateWalAtRisk(history, live, StandbyPosition(st));
  if (wal.known()) {
    v.wal = wal;
    v.at_risk_bytes = wal.bytes;
    v.at_risk_is_upper_bound = !live;
    if (std::optional<Duration> span = wal.Seconds()) {
      double secs = std::chrono::duration<double>(*span).count();
      if (live && st.replay_lag_seconds) secs = std::min(secs, *st.replay_lag_seconds);
      v.at_risk_seconds = secs;
      how = "data at risk";
    }
  }
  if (v.at_risk_seconds) {
    // measured from the WAL above
  } else if (st.primary_reachable && st.replay_lag_seconds) {
    v.at_risk_seconds = *st.replay_lag_seconds;
    if (!v.wal) v.at_risk_bytes = st.replay_lag_bytes;
    how = "replay lag";
  } else if (!st.primary_reachable && st.heartbeat_age_seconds) {
    double bound = *st.heartbeat_age_seconds;
    if (in.primary_lost_for) {
      bound -= std::chrono::duration<double>(*in.primary_lost_for).count();
    }
    v.at_risk_seconds = std::max(0.0, bound);
    v.at_risk_is_upper_bound = true;
    how = in.primary_lost_for ? "at most (last replayed heartbeat to primary loss)"
                              : "at most (age of the last replayed heartbeat)";
  }

  if (!v.at_risk_seconds) {
    if (v.wal) {
      // Bytes known, their window not: the bytes still tell the operator the loss.
      const std::string what = "data at risk " + v.wal->ToString();
      if (in.force) {
        v.decision = PromotionDecision::kForced;
        v.reason = "forced by an operator: " + what + "; those writes are at risk";
      } else {
        v.reason = "refused: " + what + " and how long a span of writes that is is unknown; "
                   "wait for the replica to catch up, or force it and accept the loss";
      }
      return v;
    }
    const std::string unknown =
        "the replica's lag is unknown (no heartbeat on " +
        std::string(st.primary_reachable ? "the standby" : "either side") +
        (st.problem.empty() ? std::string() : "; " + st.problem) + ")";
    if (in.force) {
      v.decision = PromotionDecision::kForced;
      v.reason = "forced by an operator although " + unknown + ": the data at risk is unknown";
    } else {
      v.reason = "refused: " + unknown + "; check the heartbeat agent, or force the promotion";
    }
    return v;
  }

  const std::string lag =
      how + " " + Secs(*v.at_risk_seconds) +
      (v.wal ? " (" + v.wal->ToString() + ")"
             : v.at_risk_bytes ? " (" + std::to_string(*v.at_risk_bytes) + " bytes of WAL)"
                               : std::string());
  if (*v.at_risk_seconds <= limit) {
    v.decision = PromotionDecision::kAllowed;
    v.reason = "allowed: " + lag + " is within max_lag_on_failover " + Secs(limit);
  } else if (in.force) {
    v.decision = PromotionDecision::kForced;
    v.reason = "forced by an operator: " + lag + " exceeds max_lag_on_failover " + Secs(limit) +
               "; those writes are at risk";
  } else {
    v.reason = "refused: " + lag + " exceeds max_lag_on_failover " + Secs(limit) +
               "; wait for the replica to catch up, or force it and accept the loss";
  }
  return v;
}

}  // namespace pilotlight::pg
