// SessionLimiter: how many sessions a client address may create, as a token
// bucket per address (`rate` a second, up to `burst` at once), so that neither
// a brute force of API keys nor a flood of sessions (each kept for hours in both
// regions' Redis) can come from one address faster than that.
//
// The table of addresses is bounded (`max_clients`), so the limiter itself
// cannot be exhausted: when it is full, buckets that have refilled to `burst`
// (an address idle for burst / rate) are forgotten, which changes no decision,
// since a forgotten address starts again with a full bucket. If none has, the
// new address shares one overflow bucket with every other address that found
// the table full: under a flood from more than `max_clients` addresses those
// newcomers together get `rate`, and the addresses already tracked keep theirs.
//
// Decisions are pure given `now` (no clock read here). Thread-safe: Allow takes
// a mutex.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"

namespace pilotlight::trader {

struct SessionLimits {
  double rate = 20;          // sessions per second per address, sustained
  double burst = 40;         // sessions at once per address
  size_t max_clients = 4096;  // addresses tracked at once
};

class SessionLimiter {
 public:
  explicit SessionLimiter(SessionLimits limits);

  // True when `client` may create a session at `now`; takes a token if so.
  bool Allow(const std::string& client, MonoTime now);
  // Addresses tracked now (at most max_clients).
  size_t tracked() const;

 private:
  struct Bucket {
    double tokens = 0;
    MonoTime last{};
  };
  // `b` refilled to `now`, then one token taken if there is one.
  bool Take(Bucket& b, MonoTime now) const;
  // Drops the buckets that are full at `now`; at most once per refill time.
  void Forget(MonoTime now);

  const SessionLimits limits_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  Bucket overflow_;
  bool swept_ = false;
  MonoTime last_sweep_{};
};

}  // namespace pilotlight::trader
