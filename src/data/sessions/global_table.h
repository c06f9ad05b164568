// Sessions as a two-region global table (DynamoDB global tables in the seed):
// a Redis in each region, either region may write, and a replicator copies
// writes and deletes both ways, last writer wins.
//
// Layout in each region's Redis:
//   sess:<id>                    hash {v: value, h: HLC stamp, o: origin, d: 0|1}
//                                with the session's TTL (PEXPIREAT)
//   pilotlight:sessions:changes  stream of local changes {id, v, h, d, x: expire-at ms}
//   pilotlight:sessions:hlc      the region's hybrid logical clock
//   pilotlight:sessions:cursor:<region>  last change applied from that region
// A local write (SessionStore) stamps the value with the region's HLC and appends
// it to the change stream in one script, so no change is written without being
// published. The replicator of a direction tails the source stream (XREAD after
// its cursor) and applies each change with a script that compares stamps and
// writes only a newer one, keeping its absolute expiry, advances the
// destination's clock, and moves the cursor, atomically: a change is applied
// exactly once, and applied changes are not published again, so nothing loops.
// Deletes are tombstones (d=1) that live `tombstone_ttl`, so a delete wins over
// older writes that arrive later. The lag of a direction is the age of the
// oldest change not yet applied, by the source Redis's clock.
//
// SessionStore and SessionReplicator are used by one thread each; separate
// objects are independent. ReadSessionLag is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "data/sessions/redis_client.h"

namespace pilotlight::sessions {

inline constexpr char kSessionKeyPrefix[] = "sess:";
inline constexpr char kChangeStream[] = "pilotlight:sessions:changes";
inline constexpr char kHlcKey[] = "pilotlight:sessions:hlc";
std::string CursorKey(const std::string& from_region);

struct Session {
  std::string value;
  std::string hlc;     // the stamp of the write that set it
  std::string origin;  // the region that wrote it
  bool deleted = false;
  std::optional<int64_t> ttl_ms;  // remaining time to live; nullopt = no expiry
};

class SessionStore {
 public:
  static Result<std::unique_ptr<SessionStore>> Open(const RedisEndpoint& endpoint,
                                                    std::string region,
                                                    Duration tombstone_ttl = std::chrono::hours(24));

  // Writes a session, with an expiry when `ttl` is set; returns its HLC stamp.
  Result<std::string> Put(const std::string& id, const std::string& value,
                          std::optional<Duration> ttl);
  // Deletes a session (a tombstone that replicates); returns its HLC stamp.
  Result<std::string> Delete(const std::string& id);
  // The live session, or nullopt when absent, expired or deleted.
  Result<std::optional<Session>> Get(const std::string& id);
  // Including tombstones.
  Result<std::optional<Session>> GetRecord(const std::string& id);

 private:
  SessionStore(std::unique_ptr<RedisClient> client, std::string region, Duration tombstone_ttl)
      : client_(std::move(client)), region_(std::move(region)), tombstone_ttl_(tombstone_ttl) {}
  Result<std::string> Write(const std::string& id, const std::string& value, bool deleted,
                            int64_t ttl_ms);

  std::unique_ptr<RedisClient> client_;
  std::string region_;
  Duration tombstone_ttl_;
};

struct SessionEndpoint {
  std::string region;
  RedisEndpoint redis;
};

struct ApplyStats {
  int64_t consumed = 0;  // changes read from the source
  int64_t applied = 0;   // of which newer than the destination's and written
};

// One direction of replication: from -> to.
class SessionReplicator {
 public:
  SessionReplicator(SessionEndpoint from, SessionEndpoint to)
      : from_(std::move(from)), to_(std::move(to)) {}

  // Applies up to `max_changes` pending changes; reconnects as needed.
  Result<ApplyStats> RunOnce(size_t max_changes = 1000);

  const SessionEndpoint& from() const { return from_; }
  const SessionEndpoint& to() const { return to_; }

 private:
  Status EnsureConnected();

  SessionEndpoint from_;
  SessionEndpoint to_;
  std::unique_ptr<RedisClient> source_;
  std::unique_ptr<RedisClient> dest_;
  int64_t applied_since_trim_ = 0;
};

struct SessionLag {
  std::string from;
  std::string to;
  bool known = false;   // false when either Redis cannot be asked
  Duration lag{};       // age of the oldest change not yet applied
  int64_t pending = 0;  // changes not yet applied (capped at 100000)
  std::string problem;
};

SessionLag ReadSessionLag(const SessionEndpoint& from, const SessionEndpoint& to);

}  // namespace pilotlight::sessions
