#include "trader/session_limiter.h"

#include <algorithm>

namespace pilotlight::trader {

SessionLimiter::SessionLimiter(SessionLimits limits) : limits_(limits) {
  overflow_.tokens = limits_.burst;
}

bool SessionLimiter::Take(Bucket& b, MonoTime now) const {
  if (now > b.last) {
    const double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(limits_.burst, b.tokens + elapsed * limits_.rate);
    b.last = now;
  }
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

void SessionLimiter::Forget(MonoTime now) {
  // A bucket untouched since the previous sweep has refilled by now, so sweeping
  // more often than once per refill time would find nothing new: this keeps a
  // full table of busy addresses from costing a scan per request.
  const Duration refill = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(limits_.rate > 0 ? limits_.burst / limits_.rate : 1e9));
  if (swept_ && now - last_sweep_ < refill) return;
  swept_ = true;
  last_sweep_ = now;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const double elapsed = std::chrono::duration<double>(now - it->second.last).count();
    if (it->second.tokens + elapsed * limits_.rate >= limits_.burst) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
}

bool SessionLimiter::Allow(const std::string& client, MonoTime now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= limits_.max_clients) Forget(now);
    if (buckets_.size() >= limits_.max_clients) return Take(overflow_, now);
    it = buckets_.emplace(client, Bucket{limits_.burst, now}).first;
  }
  return Take(it->second, now);
}

size_t SessionLimiter::tracked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

}  // namespace pilotlight::trader
