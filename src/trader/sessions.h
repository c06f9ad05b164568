// SessionStore: trading sessions in the region's Redis (the seed's DynamoDB
// global table; pilotlight's replicator copies them between regions).
//
// A session is the key "session:<token>" holding the account, with a TTL. One
// SessionStore owns one hiredis connection and reconnects after a failure; it is
// not thread-safe (one per thread). hiredis stays inside sessions.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::trader {

inline constexpr char kSessionKeyPrefix[] = "session:";

class SessionStore {
 public:
  SessionStore(std::string host, uint16_t port, Duration ttl);
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
  void Drop();

  std::string host_;
  uint16_t port_;
  Duration ttl_;
  void* ctx_ = nullptr;  // redisContext*
};

// 32 random hex digits from the kernel's CSPRNG.
std::string NewToken();

}  // namespace pilotlight::trader
