#include "data/postgres/promotion_gate.h"

#include <algorithm>
#include <cstdio>

namespace pilotlight::pg {
namespace {

std::string Secs(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fs", s);
  return buf;
}

}  // namespace

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
  if (st.primary_reachable && st.replay_lag_seconds) {
    v.at_risk_seconds = *st.replay_lag_seconds;
    v.at_risk_bytes = st.replay_lag_bytes;
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

  const std::string lag = how + " " + Secs(*v.at_risk_seconds) +
                          (v.at_risk_bytes ? " (" + std::to_string(*v.at_risk_bytes) + " bytes of WAL)"
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
