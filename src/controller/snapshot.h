// Observing: the raw facts one control cycle gathers (Observation) and the pure
// step that turns them, with what earlier cycles remembered (ObserverMemory),
// into the immutable decide::Snapshot the decision reads.
//
// What the step remembers, and why:
//  * when a quorum of vantage points started seeing the primary unhealthy
//    (primary_unhealthy_since: the confirmation window counts from it);
//  * whether the replica was streaming, and its lag, while the primary was
//    healthy: once the primary dies the standby's WAL receiver stops, so "is it
//    streaming now" would always fail the readiness gate at the very moment it
//    matters. What counts is that it streamed, within the lag limit, up to the loss;
//  * when the primary was last healthy, to bound the data at risk from the
//    standby's last replayed heartbeat (pg::CheckPromotionLag).
// Pure and thread-safe: no I/O, no clock reads; `observation.at` is "now".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "data/postgres/replication.h"
#include "decide/decision.h"
#include "health/check.h"

namespace pilotlight::controller {

// One vantage point's verdict on the primary's check (from health::CheckState).
struct VantageObservation {
  std::string vantage;
  health::HealthStatus status = health::HealthStatus::kUnknown;
  std::string detail;  // the last probe result
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
  std::vector<VantageObservation> vantage;  // the primary check, per vantage point
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
  std::optional<Duration> lag_while_healthy;
};

struct SnapshotStep {
  decide::Snapshot snapshot;
  ObserverMemory memory;  // for the next cycle
  std::string lag_source;  // how replica_lag was obtained, for the status page
};

// A vantage point that has not decided (unknown) is not a vote against the primary.
decide::VantageReport ToVantageReport(const VantageObservation& v);

// The quorum Decide will use for `votes` reports under `policy`.
int QuorumFor(const decide::Policy& policy, int votes);

SnapshotStep BuildSnapshot(const Observation& observation, const ObserverMemory& memory,
                           const decide::Policy& policy);

}  // namespace pilotlight::controller
