// SessionStore: trading sessions in the region's Redis, through the two-region
// session global table (data/sessions), so a session made in one region is
// replicated to the other and a client keeps its token across a failover.
//
// A session is the global-table record with id = token and value = account, with
// a TTL. One SessionStore owns one connection and reopens it after a failure; it
// is not thread-safe (one per thread).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::sessions {
class SessionStore;
class RedisClient;
}  // namespace pilotlight::sessions

namespace pilotlight::trader {

class SessionStore {
 public:
  // `password_file` (with `user`, an ACL user) logs in with AUTH; empty: none.
  SessionStore(std::string region, std::string host, uint16_t port, Duration ttl,
               std::string user = "", std::string password_file = "");
  ~SessionStore();
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // Creates a session for `account` and returns its token (32 hex digits).
  Result<std::string> Create(const std::string& account);
  // The account of a live session, nullopt when the token is unknown or expired.
  Result<std::optional<std::string>> Lookup(const std::string& token);
  // True when Redis answers PING.
  bool Ping();

  Duration ttl() const { return ttl_; }

 private:
  Status Connect();

  std::string region_;
  std::string host_;
  std::string user_;
  std::string password_file_;
  uint16_t port_;
  Duration ttl_;
  std::unique_ptr<sessions::SessionStore> store_;
  std::unique_ptr<sessions::RedisClient> ping_;
};

// 32 random hex digits from the kernel's CSPRNG.
std::string NewToken();

}  // namespace pilotlight::trader
