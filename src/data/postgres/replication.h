// Replica status: how far the DR standby is behind the primary, in bytes and in
// seconds, read from both servers.
//
// The time lag is "true" lag: the primary's agent writes a heartbeat row every
// interval, so the lag is the age gap between the heartbeat on the primary and
// the one the standby has replayed, and is zero when the standby has replayed
// everything the primary has written. It does not grow on an idle primary the
// way now() - pg_last_xact_replay_timestamp() does. Thread-safe (no state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"
#include "data/postgres/pg_client.h"

namespace pilotlight::pg {

// The table the primary region's agent keeps fresh.
inline constexpr char kHeartbeatTable[] = "pilotlight_heartbeat";

struct ReplicationStatus {
  bool primary_reachable = false;
  bool primary_in_recovery = false;  // the configured primary is itself a standby (after failover)
  bool standby_reachable = false;
  bool standby_in_recovery = false;  // true while it is a read-only standby
  bool streaming = false;
  std::string state;  // walsender state on the primary, or WAL receiver status on the standby
  std::optional<int64_t> write_lag_bytes;
  std::optional<int64_t> flush_lag_bytes;
  std::optional<int64_t> replay_lag_bytes;
  std::optional<double> replay_lag_seconds;
  // Seconds since the heartbeat the standby last replayed was written; an upper
  // bound on the data at risk when the primary cannot be asked.
  std::optional<double> heartbeat_age_seconds;
  std::optional<int> standby_timeline;
  // WAL positions (wal_at_risk.h): the primary's pg_current_wal_lsn() (unset
  // when it is unreachable or itself in recovery), and the standby's received
  // and replayed positions.
  std::optional<uint64_t> primary_lsn;
  std::optional<uint64_t> standby_receive_lsn;
  std::optional<uint64_t> standby_replay_lsn;
  // The standby's WAL receiver (pg_stat_wal_receiver.status): "" when it has
  // none, i.e. it is not streaming at all (primary_conninfo empty, replication
  // blocked, primary gone).
  std::string receiver_status;
  // Replay paused on the standby (pg_is_wal_replay_paused()): it may still
  // receive, and a promotion replays what it received, so this alone puts no
  // data at risk.
  bool replay_paused = false;
  // Epoch seconds (primary's clock) of the heartbeat the standby last replayed.
  std::optional<double> standby_heartbeat_epoch;
  std::string problem;  // why something above is unknown, for the operator
};

// Creates the heartbeat table on the primary if needed. Idempotent.
Status EnsureHeartbeatTable(Connection& primary);
// Writes one heartbeat (the primary's now()) for `region`.
Status WriteHeartbeat(Connection& primary, const std::string& region);

// Reads the replication state of the standby named `standby_name`
// (its application_name) from both servers; either may be down.
// Whether the standby streams, in words: "streaming", "streaming; replay paused
// (...)", "no WAL receiver on the standby (...)", "WAL receiver waiting", ...
std::string DescribeStandbyStreaming(const ReplicationStatus& st);

ReplicationStatus ReadReplicationStatus(const Endpoint& primary, const Endpoint& standby,
                                        const std::string& standby_name);

}  // namespace pilotlight::pg
