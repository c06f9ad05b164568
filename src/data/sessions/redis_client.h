// A small synchronous Redis client over hiredis, for the session store and its
// replicator. Every failure is a Status naming the server; nothing throws.
// hiredis stays inside redis_client.cc. One RedisClient is used by one thread at
// a time; separate clients are independent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::sessions {

// Where a Redis listens and as whom to log in: with a password file, Connect
// sends AUTH [user] <password> (the file's first line, read at each connect, so a
// rotated password is picked up by the next connection).
struct RedisEndpoint {
  std::string host;
  uint16_t port = 6379;
  Duration timeout = std::chrono::seconds(2);
  std::string user;           // ACL user; empty: the default user
  std::string password_file;  // empty: no AUTH
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

// A reply, as a plain tree.
struct RedisReply {
  enum class Type { kNil, kInteger, kString, kStatus, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString and kStatus
  std::vector<RedisReply> elements;

  bool nil() const { return type == Type::kNil; }
};

class RedisClient {
 public:
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  static Result<std::unique_ptr<RedisClient>> Connect(const RedisEndpoint& endpoint);

  // Runs one command; a Redis error reply is returned as a non-OK Status. After a
  // connection failure the client is broken: reconnect.
  Result<RedisReply> Command(const std::vector<std::string>& argv);

  const RedisEndpoint& endpoint() const { return endpoint_; }
  bool broken() const { return broken_; }

 private:
  RedisClient(RedisEndpoint endpoint, void* ctx) : endpoint_(std::move(endpoint)), ctx_(ctx) {}

  RedisEndpoint endpoint_;
  void* ctx_;  // redisContext*
  bool broken_ = false;
};

}  // namespace pilotlight::sessions
