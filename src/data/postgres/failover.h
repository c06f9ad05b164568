// The database operations a failover and a failback need, against a running
// PostgreSQL server over libpq: promote the DR replica, fence the old primary
// (and verify it refuses writes), lift a fence, and switch synchronous
// replication on or off. Stopping, rewinding and re-cloning a server need its
// data directory: they live in local_server.h and rejoin.h.
//
// Every operation is idempotent (promoting a primary, fencing a fenced server
// are no-ops that say so), bounded by a deadline, and verifies its effect from a
// fresh connection before reporting success. Thread-safe: no shared state; each
// call opens its own connections.
//
// The fence, and its limits:
//  * With an application role (Endpoint::application_user, not a superuser),
//    every mode first revokes that role's LOGIN (recorded in a table of the
//    admin database, so Unfence and a promotion of the replica, which receives
//    the revocation by replication, restore exactly it) and ends its sessions,
//    then sets the read-only default. The fence is verified by the
//    application's own attempt, BEGIN READ WRITE and a write, which must not
//    commit. This is the fence a client cannot talk past.
//  * kReadOnly: ALTER SYSTEM SET default_transaction_read_only = on (persisted
//    in postgresql.auto.conf, so it holds across restarts until lifted or the
//    server is rewound), reload, then terminate every client backend so no
//    session opened before the fence keeps writing. Replication connections
//    (walsenders) are kept, so the DR replica can catch up to the last write.
//    LIMIT: it is a default, not a permission. Any client can still write with
//    `SET default_transaction_read_only = off` or `BEGIN READ WRITE`, and a
//    per-database or per-role setting overrides it. It stops well-behaved
//    applications (whose writes then fail fast), not a determined client.
//  * kNoConnections: kReadOnly, plus pg_hba.conf rules (prepended, reloaded)
//    that reject every client connection to the application databases, from any
//    user, superuser or not; the "postgres" admin database (for verification and
//    lifting) and replication connections stay open. It needs the data directory
//    (a LocalServer). The rules are a local file, not a catalog change, so they
//    do not replicate to the DR replica that is about to be promoted. LIMITS: a
//    client can still connect to "postgres" and write there; and whoever rewrites
//    pg_hba.conf (the lab does on every start) removes them, leaving kReadOnly.
//  * Stopping the server (local_server.h StopServer) is the strongest fence;
//    combine it with kReadOnly so that a restart does not bring writes back.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "data/postgres/local_server.h"
#include "data/postgres/pg_client.h"

namespace pilotlight::pg {

// The table pilotlight writes to prove that a server accepts (or refuses) writes.
inline constexpr char kWriteProbeTable[] = "pilotlight_write_probe";

// What a server is right now, as seen over one connection.
struct ServerRole {
  bool in_recovery = false;  // a standby
  int timeline = 0;          // current timeline (0 when unknown)
  bool read_only_default = false;  // default_transaction_read_only is on
};
Result<ServerRole> ReadServerRole(Connection& conn);

// Writes one row to kWriteProbeTable through `conn`, in the session's default
// transaction mode (the way an application writes). A refusal because of the
// fence leaves conn.last_sqlstate() == kSqlStateReadOnlyTransaction.
Status ProbeWrite(Connection& conn, const std::string& writer);

struct PromoteOutcome {
  bool already_primary = false;  // nothing was done
  int timeline_before = 0;
  int timeline_after = 0;
  bool lifted_fence = false;  // the promoted server carried a fence and it was lifted
  // Application roles whose LOGIN the old primary's fence revoked (the
  // revocation replicated here) and the promotion gave back.
  std::vector<std::string> restored_logins;
  // Bigint sequences of the database moved to the new timeline's id range
  // (timeline * 2^40), so no id the old primary issued is issued again.
  int sequences_moved = 0;
  Duration took{};
  std::string ToString() const;
};

// Promotes the standby at `standby` (pg_promote(wait => true)) and verifies the
// new primary is on a new timeline and takes writes from a fresh connection. A
// fence left on the server (from an earlier life as a fenced primary) is lifted,
// the application's LOGIN a fence of the old primary revoked is given back, and
// every bigint sequence of `standby.database` jumps to the new timeline's id
// range, so an id the old primary issued (and lost) is never issued again.
// Promoting a primary is a no-op reported as already_primary (its writability is
// still verified). Fails with Timeout when not done by `timeout`.
Result<PromoteOutcome> Promote(const Endpoint& standby, Duration timeout, Clock& clock);

enum class FenceMode { kReadOnly, kNoConnections };
const char* FenceModeName(FenceMode mode);  // "read-only" | "no-connections"
Result<FenceMode> ParseFenceMode(const std::string& name);

struct FenceOutcome {
  bool already_fenced = false;
  bool standby = false;          // the server is a standby: it refuses writes anyway
  int terminated_sessions = 0;   // client backends ended
  std::string revoked_login;     // the application role that lost LOGIN, if any
  std::vector<std::string> closed_databases;  // kNoConnections: rejected in pg_hba.conf
  std::string verified;          // how the refusal was observed
  std::string ToString() const;
};

// Fences the server at `server` (its database is the application database the
// verification writes to). Verifies from a fresh connection that a write is
// refused (kReadOnly) or the database refuses connections (kNoConnections).
// REQUIRES: `local` (the server's data directory) for kNoConnections.
Result<FenceOutcome> Fence(const Endpoint& server, FenceMode mode, Duration timeout,
                           Clock& clock, const LocalServer* local = nullptr);

// What the fence of a server looks like, observed without changing it.
struct FenceState {
  bool reachable = false;
  bool in_recovery = false;
  bool read_only_default = false;
  bool app_database_accepts_connections = true;
  bool write_refused = false;  // a probe write in the default mode failed as read-only
  // With an application role (Endpoint::application_user):
  std::string application_role;
  bool application_login_revoked = false;  // the role has NOLOGIN
  int application_sessions = 0;            // its sessions still open
  // A write committed: as the application (BEGIN READ WRITE) when it has a
  // role of its own, else in the default transaction mode.
  bool application_write_accepted = false;
  std::string detail;
  // No application client can commit a write: a standby; or, with an
  // application role, that role can neither log in (or reach the database) nor
  // has a session left, and its BEGIN READ WRITE attempt did not commit;
  // without one, a write in the default mode is refused.
  bool fenced() const;
};
FenceState ReadFenceState(const Endpoint& server);

// The application's attempt to commit a write past any default: it connects as
// the application role (Endpoint::AsApplication) and runs BEGIN READ WRITE, a
// write to a temporary table and COMMIT. `refused` is true only when the server
// said no (it is in recovery or read-only, the role may not log in, pg_hba
// rejects it); an unreachable server is neither committed nor refused.
struct WriteAttempt {
  bool committed = false;
  bool refused = false;
  std::string detail;
};
WriteAttempt AttemptApplicationWrite(const Endpoint& server);

// Lifts a fence: default_transaction_read_only reset and, given `local`, the
// pg_hba.conf rules removed. Verifies a write succeeds. Idempotent.
Status Unfence(const Endpoint& server, Duration timeout, Clock& clock,
               const LocalServer* local = nullptr);

// Synchronous replication on the primary: with a standby name, commits wait
// until that standby has applied them (remote_apply: zero data loss, and reads
// on the standby see every acknowledged commit); with "" commits are
// asynchronous again. While synchronous, commits stall if the standby is down:
// the operator trades availability for zero RPO.
Status SetSynchronousStandby(const Endpoint& primary, const std::string& standby_name);

}  // namespace pilotlight::pg
