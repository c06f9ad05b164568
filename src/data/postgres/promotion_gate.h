// The promotion gate: may the DR replica be promoted, given how far behind it is?
//
// The analogue of Patroni's maximum_lag_on_failover (config: replication.
// max_lag_on_failover), checked before every promotion. Pure: it reads a
// ReplicationStatus taken by the caller and returns a verdict with a printable
// reason and the data a promotion would put at risk. Thread-safe (no state).
//
// How the data at risk is estimated:
//  * from the WAL, whenever a primary position is known (read now, or the
//    newest the controller saw while the primary was reachable, in
//    `primary_wal`): the bytes the standby has not *received* (received WAL is
//    replayed at promotion, so a paused replay is no risk) and the window they
//    were written in (wal_at_risk.h). The seconds compared with the limit are
//    that window (0 when no byte is missing), never more than the replay lag
//    while the primary answers;
//  * otherwise, with the primary reachable: the standby's true replay lag
//    (heartbeat gap, seconds) and the WAL it has not replayed (bytes);
//  * otherwise, primary unreachable: an upper bound, the age of the last heartbeat the
//    standby replayed minus how long the primary has been lost (writes older
//    than that heartbeat are on the standby; writes after the primary was lost
//    cannot exist). Without `primary_lost_for` the whole heartbeat age counts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.h"
#include "data/postgres/replication.h"
#include "data/postgres/wal_at_risk.h"

namespace pilotlight::pg {

enum class PromotionDecision {
  kAllowed,         // lag within the limit
  kAlreadyPrimary,  // the replica was promoted before: nothing to do (allowed)
  kForced,          // over the limit or unknown, promoted because an operator forced it
  kRefused,         // over the limit, lag unknown, or standby unreachable
};

const char* PromotionDecisionName(PromotionDecision d);  // "allowed", "already primary", ...

struct PromotionVerdict {
  PromotionDecision decision = PromotionDecision::kRefused;
  std::string reason;  // one sentence an operator can act on
  // Writes the promotion would lose, as far as anyone can know now.
  std::optional<double> at_risk_seconds;
  std::optional<int64_t> at_risk_bytes;
  bool at_risk_is_upper_bound = false;  // true when estimated without the primary
  std::optional<WalAtRisk> wal;  // when measured from the WAL (at_risk_bytes is its bytes)

  bool allowed() const { return decision != PromotionDecision::kRefused; }
};

struct PromotionGateInput {
  ReplicationStatus status;
  Duration max_lag{};  // config replication.max_lag_on_failover
  bool force = false;  // an operator accepts the data at risk
  // How long ago the primary was last seen healthy, when it is unreachable now.
  std::optional<Duration> primary_lost_for;
  // The primary WAL positions the controller saw (empty: none known), and now,
  // the time of status.primary_lsn when the primary answers.
  PrimaryWalHistory primary_wal;
  WallTime now{};
};

// The standby's WAL position as wal_at_risk.h reads it.
StandbyWalPosition StandbyPosition(const ReplicationStatus& status);

PromotionVerdict CheckPromotionLag(const PromotionGateInput& input);

}  // namespace pilotlight::pg
