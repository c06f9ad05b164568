// The endpoint of a region's Redis (the session store) as the config describes
// it: its address, port, ACL user and password file. Header-only; pure.
#pragma once

#include "config/model.h"
#include "data/sessions/redis_client.h"

namespace pilotlight::sessions {

inline RedisEndpoint RegionRedis(const config::RegionSpec& region,
                                 Duration timeout = std::chrono::seconds(2)) {
  RedisEndpoint e;
  e.host = region.address;
  e.port = region.redis.port;
  e.timeout = timeout;
  e.user = region.redis.user;
  e.password_file = region.redis.password_file;
  return e;
}

}  // namespace pilotlight::sessions
