// Failback, step one: turn an old primary into a streaming standby of the new
// primary, so no write made since the failover is lost and the old region can
// later be promoted back.
//
// Rejoin stops the old server cleanly (finishing crash recovery first when it
// was killed), rewinds it onto the new primary's timeline with pg_rewind (which
// discards whatever the old primary wrote after the two diverged), falling back
// to a fresh pg_basebackup when rewind fails; then it writes the standby
// configuration (standby.signal and an include file of its own, last in
// postgresql.conf, so it wins over the lab's pilotlight.conf and the config files
// pg_rewind copied from the new primary), creates a physical slot on the new
// primary, starts the server and verifies that it streams. Idempotent: a server
// already streaming from the new primary is left alone. Thread-compatible.
#pragma once

#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "data/postgres/local_server.h"
#include "data/postgres/pg_client.h"

namespace pilotlight::pg {

// The include file Rejoin writes into the data directory.
inline constexpr char kStandbyConfFile[] = "pilotlight_standby.conf";

struct RejoinSpec {
  LocalServer server;             // the old primary
  Endpoint new_primary;           // how the old primary reaches the new one
  std::string application_name;   // how the new primary sees it (the region's name)
  std::string slot;               // physical slot created on the new primary
  Duration timeout = std::chrono::minutes(5);
  bool force_basebackup = false;  // skip pg_rewind (a re-clone)
};

struct RejoinOutcome {
  std::string method;        // "pg_rewind" | "pg_basebackup" | "already streaming"
  std::string rewind_error;  // why pg_rewind failed, when the fallback ran
  int timeline = 0;          // the timeline it streams on
  Duration took{};
  std::string ToString() const;
};

Result<RejoinOutcome> Rejoin(const RejoinSpec& spec, Clock& clock);

// The standby include file's content (pure; exposed for tests).
std::string StandbyConf(const RejoinSpec& spec);

// True once the new primary's pg_stat_replication shows `application_name` streaming.
Result<bool> IsStreamingTo(const Endpoint& primary, const std::string& application_name);

}  // namespace pilotlight::pg
