// Observing: the raw facts one control cycle gathers (Observation) and the pure
// step that turns them, with what earlier cycles remembered (ObserverMemory),
// into the immutable decide::Snapshot the decision reads.
//
// Votes are counted per site, not per probe: the vantage points of one site (one
// checker, one source address) are one vote, decide::SiteVote. A site votes
// down only with a fresh, on-time verdict: a vantage point whose newest result is
// older than Policy::max_observation_age is stale, one whose last probe was late
// (its checker starved) is late, and neither is a vote against the primary.
//
// What the step remembers, and why:
//  * when a quorum of sites started seeing the primary unhealthy
//    (primary_unhealthy_since: the confirmation window counts from it);
//  * whether the replica was streaming, and its lag, while the primary was
//    healthy: once the primary dies the standby's WAL receiver stops, so "is it
//    streaming now" would always fail the readiness gate at the very moment it
//    matters. What counts is that it streamed, within the lag limit, up to the loss;
//  * when the primary was last healthy, to bound the data at risk from the
//    standby's last replayed heartbeat (pg::CheckPromotionLag);
//  * the primary's WAL positions while the controller reached it, and when it
//    stopped answering: what a promotion would lose is measured against them in
//    bytes (pg::EstimateWalAtRisk), the standby's received position being what
//    it keeps. The controller keeps this memory in its state directory
//    (ObserverMemoryToJson), so `pilotlight failover --force` run after the
//    primary died still knows the primary's last position.
// Pure and thread-safe: no I/O, no clock reads; `observation.at` is "now".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "data/postgres/replication.h"
#include "data/postgres/wal_at_risk.h"
#include "decide/decision.h"
#include "health/check.h"

namespace pilotlight::controller {

// One vantage point's verdict on the primary's check (from health::CheckState,
// in process or fetched from the site's probe agent).
struct VantageObservation {
  std::string vantage;
  std::string site;                // where its checker runs
  bool in_primary_region = false;  // the primary's own view of itself: never counted
  health::HealthStatus status = health::HealthStatus::kUnknown;  // after thresholds
  std::string detail;  // the last probe result, or why there is none
  // Age of the last probe result as of Observation::at; unset: no result (yet,
  // or the site's agent did not answer).
  std::optional<Duration> age;
  bool late = false;      // the last probe was late: inconclusive
  Duration lateness{};    // the last probe's scheduling lateness
  std::string source;     // "in process" or the agent's address
};

// A database as the controller sees it over one connection.
struct DatabaseObservation {
  bool reachable = false;
  bool in_recovery = false;        // a standby
  bool read_only_default = false;  // fenced read-only
  std::string detail;
  bool writable() const { return reachable && !in_recovery && !read_only_default; }
};

// A readiness fact and the sentence behind it.
struct Fact {
  bool holds = false;
  std::string detail;
};

struct Observation {
  WallTime at;
  std::vector<VantageObservation> vantage;  // the primary check, every vantage point
  pg::ReplicationStatus replication;
  DatabaseObservation old_primary;  // the configured primary region's database
  DatabaseObservation dr;           // the DR region's database
  Fact dr_holds_primary_release;
  Fact dr_compute_can_scale;
  Fact dns_secondary_exists;
  std::optional<WallTime> primary_lease_expires_at;  // the controller's own grant bookkeeping
};

struct ObserverMemory {
  std::optional<WallTime> unhealthy_since;
  std::optional<WallTime> primary_last_healthy_at;
  bool was_streaming = false;
  std::string streaming_detail;  // DescribeStandbyStreaming while the primary was healthy
  std::optional<Duration> lag_while_healthy;
  pg::PrimaryWalHistory primary_wal;
};

// The memory worth keeping across processes (all of it but unhealthy_since,
// which belongs to one run of observations), as JSON; and back. Unreadable
// text gives an empty memory and `error` says why.
std::string ObserverMemoryToJson(const ObserverMemory& memory);
ObserverMemory ObserverMemoryFromJson(const std::string& text, std::string* error);

struct SnapshotStep {
  decide::Snapshot snapshot;
  ObserverMemory memory;  // for the next cycle
  std::string lag_source;  // how replica_lag was obtained, for the status page
};

// One vantage point's vote under `policy`: stale, then late, then its status
// (unknown is no vote).
decide::Vote VoteOf(const VantageObservation& v, const decide::Policy& policy);

// One vote per site, in the order sites first appear: up when any of its
// vantage points is up, else down when any is down, else late, stale or unknown.
std::vector<decide::SiteVote> SiteVotes(const std::vector<VantageObservation>& vantage,
                                        const decide::Policy& policy);

SnapshotStep BuildSnapshot(const Observation& observation, const ObserverMemory& memory,
                           const decide::Policy& policy);

}  // namespace pilotlight::controller
