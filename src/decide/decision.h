// The failover decision: one pure function from what the controller observed
// (a Snapshot), what it remembers (ControllerState) and `now` to what it should
// do (a Decision: a plan and a typed, printable reason).
//
// No I/O, no clock reads, no randomness: every failover rule is a row in a
// table-driven test with a fake clock. The CLI, the API, the log and the journal
// all print Reason::ToString(), so operators see the same words everywhere.
// Thread-safe (pure).
//
// Safety rules it enforces (../shared/DESIGN.md):
//  1. never two writable primaries: fence the old primary before promoting when
//     it is reachable; when it is not, wait until its write lease has provably
//     expired (the primary's agent stops accepting writes when it cannot renew);
//  2. never promote a replica whose lag exceeds the limit unless forced, and then
//     report the data at risk;
//  3. never fail over on the word of one vantage point: one vote per site, a
//     quorum of a majority of the sites outside the primary region and never
//     fewer than two of them (unless the operator allowed a single site); a late
//     or stale observation is no vote, never a vote against the primary;
//  4. never flap: hold-down after a failover and after a failback; failback is
//     deliberate.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"

namespace pilotlight::decide {

enum class Mode {
  kAutomatic,    // run the failover plan as soon as it is safe
  kApproval,     // publish the plan and wait for `pilotlight approve`
  kObserveOnly,  // say what would be done, do nothing
};

const char* ModeName(Mode mode);

// The controller's policy, from the config.
struct Policy {
  Mode mode = Mode::kAutomatic;
  // Sites (outside the primary region) that must see the primary unhealthy; 0 =
  // a strict majority of them. Never fewer than 2 unless allow_single_site.
  int quorum = 0;
  // controller.unsafe_single_vantage: one site's word is enough (a quorum of 1).
  bool allow_single_site = false;
  // An observation older than this is no vote (stale), never a vote against.
  Duration max_observation_age = std::chrono::seconds(2);
  // How long the quorum must hold before acting (on top of each check's own
  // failure threshold); absorbs a single bad evaluation round.
  Duration confirm_for = std::chrono::seconds(0);
  // No automatic failover within this long after the last failover or the last
  // failback, whichever finished later (a primary that flaps right after a
  // failback does not send traffic straight back to DR).
  Duration hold_down = std::chrono::minutes(10);
  Duration max_lag_on_failover = std::chrono::seconds(60);
  // Margin added to the old primary's lease expiry for clock error between sites.
  Duration lease_safety_margin = std::chrono::milliseconds(500);
  // Readiness gates (each may be turned off).
  bool gate_replica_streaming = true;
  bool gate_replica_lag = true;
  bool gate_release = true;
  bool gate_compute = true;
  bool gate_dns = true;
};

// One site's vote on the primary: one per site, however many vantage points it
// probes from. Only kDown counts against the primary; kLate (the site's checker
// was starved when it last probed), kStale (its newest observation is older than
// Policy::max_observation_age, or its probe agent did not answer) and kUnknown
// (no verdict yet) are no vote at all.
enum class Vote { kUp, kDown, kLate, kStale, kUnknown };
const char* VoteName(Vote vote);  // "up" | "down" | "late" | "stale" | "unknown"

struct SiteVote {
  std::string site;         // e.g. "dr", "witness"
  Vote vote = Vote::kUp;
  std::string detail;       // the observation behind it
  // The primary region's own view of itself: shown, never counted (a primary cut
  // off from everyone still sees itself up; a dead one cannot report).
  bool in_primary_region = false;
};

// The votes of the sites outside the primary region, and the quorum they need.
struct VoteTally {
  int sites = 0;  // counted sites (outside the primary region)
  int down = 0;
  int up = 0;
  int late = 0;
  int stale = 0;
  int unknown = 0;
  int quorum = 0;  // a majority of `sites` or Policy::quorum, at least 2 unless allowed
  bool quorum_down() const { return sites > 0 && down >= quorum; }
};
VoteTally TallyVotes(const std::vector<SiteVote>& sites, const Policy& policy);

// What a promotion would lose, measured in WAL (data/postgres/wal_at_risk.h):
// the bytes the standby has not received of the newest primary position the
// controller knows (received WAL is replayed at promotion), and when they were
// written. Unknown bytes: no primary position or no standby position known.
struct WalAtRisk {
  std::optional<int64_t> bytes;
  std::optional<WallTime> from;     // written after (unknown: older than the memory)
  std::optional<WallTime> to;       // ... and by: the newest primary position known
  std::optional<WallTime> lost_by;  // the primary may have written more until then
  std::string detail;               // the sentence, with the LSNs
};

// Everything observed in one control cycle, immutable once built.
struct Snapshot {
  WallTime taken_at;
  std::vector<SiteVote> sites;  // one per site, the primary region's own included
  // The first instant a quorum of sites saw the primary unhealthy in
  // the current run of unhealthy observations (unset while healthy).
  std::optional<WallTime> primary_unhealthy_since;

  // DR readiness facts.
  bool replica_streaming = false;
  // Why it is (not) streaming: "no WAL receiver on the standby (...)", "streaming;
  // replay paused (...)"; shown with the failed gate.
  std::string replica_streaming_detail;
  bool replica_replay_paused = false;  // receiving, not replaying: no data at risk by itself
  // The span of writes a promotion would lose (from the WAL when a primary
  // position is known, else the replay lag / heartbeat bound); unknown when
  // unreadable. The lag gate compares it with max_lag_on_failover.
  std::optional<Duration> replica_lag;
  WalAtRisk wal_at_risk;
  bool dr_holds_primary_release = false;
  bool dr_compute_can_scale = false;
  bool dns_secondary_exists = false;

  // Split-brain facts.
  bool old_primary_reachable = false;  // the controller can reach the old primary's database
  bool old_primary_writable = false;   // ... and it accepts writes
  bool dr_writable = false;            // the DR database has been promoted
  // When the old primary's write lease expires (its agent stops writes then);
  // unset when the controller has never seen a lease.
  std::optional<WallTime> primary_lease_expires_at;
};

// What the controller remembers between cycles (durable: in the journal).
struct ControllerState {
  enum class Phase { kNormal, kFailingOver, kFailedOver };
  Phase phase = Phase::kNormal;
  std::optional<WallTime> last_failover_at;
  // When the newest successful failback finished (the primary region serves again).
  std::optional<WallTime> last_failback_at;
  bool approval_granted = false;  // an operator approved the pending plan
  bool force_requested = false;   // an operator forced failover past failed gates
};

const char* PhaseName(ControllerState::Phase phase);

enum class PlanKind {
  kNone,             // nothing to do
  kFailover,         // run the failover runbook (fence step included when needed)
  kResumeFailover,   // a failover runbook was interrupted: resume it from the journal
  kAwaitApproval,    // publish the failover plan; wait for an operator
  kWaitForLease,     // the old primary is unreachable and its lease not yet expired
  kFenceOldPrimary,  // both databases writable: fence the old primary now
};

const char* PlanKindName(PlanKind kind);

struct Plan {
  PlanKind kind = PlanKind::kNone;
  // For kFailover: fence the old primary first (it is reachable) or rely on its
  // expired lease (it is not).
  bool fence_first = false;
  bool forced = false;  // gates failed and an operator forced it
};

// Why: a code for programs, fields for the words. ToString() is what people read.
struct Reason {
  enum class Code {
    kPrimaryHealthy,
    kNoVantageReports,
    kNoQuorum,           // some sites see it down, not enough
    kConfirming,         // quorum holds, but not yet for confirm_for
    kFailedOverAlready,  // failback is deliberate
    kFailoverInProgress,
    kHoldDown,
    kNotReady,           // readiness gates failed
    kObserveOnly,
    kAwaitingApproval,
    kLeaseNotExpired,
    kFailover,
    kSplitBrain,
  };
  Code code = Code::kPrimaryHealthy;
  int unhealthy_votes = 0;  // sites that see the primary down
  int total_votes = 0;      // sites outside the primary region
  int quorum = 0;
  int no_votes = 0;         // counted sites without a vote (late, stale or unknown)
  std::string no_vote_detail;  // "dr late" ...
  Duration unhealthy_for{0};
  Duration wait{0};                    // time left (hold-down, lease, confirmation)
  std::vector<std::string> failed_gates;
  std::optional<Duration> replica_lag;
  std::optional<Duration> data_at_risk;  // when forced past a lag gate, or lag unknown
  // The WAL a promotion would lose, when gates failed (kNotReady or forced).
  std::optional<WalAtRisk> wal_at_risk;
  bool forced = false;
  bool fence_first = false;
  bool lease_seen = false;  // the unreachable old primary's lease was known (and expired)
  bool hold_down_from_failback = false;  // kHoldDown counts from the last failback

  std::string ToString() const;
};

struct Decision {
  Plan plan;
  Reason reason;
};

Decision Decide(const Snapshot& snapshot, const ControllerState& state, const Policy& policy,
                WallTime now);

// The readiness gates that fail for this snapshot under this policy, in words.
std::vector<std::string> FailedGates(const Snapshot& snapshot, const Policy& policy);

}  // namespace pilotlight::decide
