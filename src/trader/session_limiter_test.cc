#include "trader/session_limiter.h"

#include <gtest/gtest.h>

namespace pilotlight::trader {
namespace {

using namespace std::chrono_literals;

const MonoTime kT0 = MonoTime(100s);

int Allowed(SessionLimiter& l, const std::string& client, int tries, MonoTime now) {
  int n = 0;
  for (int i = 0; i < tries; ++i) n += l.Allow(client, now);
  return n;
}

TEST(SessionLimiterTest, AnAddressGetsItsBurstThenItsRate) {
  SessionLimiter l({/*rate=*/20, /*burst=*/40, /*max_clients=*/16});
  EXPECT_EQ(Allowed(l, "10.0.0.1", 100, kT0), 40);
  EXPECT_FALSE(l.Allow("10.0.0.1", kT0 + 10ms)) << "a fifth of a token";
  EXPECT_EQ(Allowed(l, "10.0.0.1", 100, kT0 + 500ms), 10);  // 20/s for half a second
  EXPECT_EQ(Allowed(l, "10.0.0.1", 100, kT0 + 1h), 40) << "refills to the burst, not beyond";
}

TEST(SessionLimiterTest, OneAddressFloodingLeavesAnotherItsOwnBucket) {
  SessionLimiter l({20, 40, 16});
  EXPECT_EQ(Allowed(l, "10.0.0.1", 1000, kT0), 40);
  EXPECT_EQ(Allowed(l, "10.0.0.2", 1000, kT0), 40);
  EXPECT_FALSE(l.Allow("10.0.0.1", kT0));
}

TEST(SessionLimiterTest, ClockGoingBackwardsGrantsNothing) {
  SessionLimiter l({20, 40, 16});
  EXPECT_EQ(Allowed(l, "a", 100, kT0), 40);
  EXPECT_EQ(Allowed(l, "a", 100, kT0 - 10s), 0);
  EXPECT_EQ(Allowed(l, "a", 100, kT0 + 100ms), 2);
}

TEST(SessionLimiterTest, TheTableIsBoundedAndNewcomersShareOneBucketWhenItIsFull) {
  SessionLimiter l({/*rate=*/1, /*burst=*/2, /*max_clients=*/4});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Allowed(l, "busy-" + std::to_string(i), 10, kT0), 2);
  EXPECT_EQ(l.tracked(), 4u);
  // A thousand more addresses: none gets a bucket of its own, all share one.
  int newcomers = 0;
  for (int i = 0; i < 1000; ++i) newcomers += l.Allow("new-" + std::to_string(i), kT0);
  EXPECT_EQ(newcomers, 2);
  EXPECT_EQ(l.tracked(), 4u);
  // The tracked addresses kept their own buckets through it.
  EXPECT_EQ(Allowed(l, "busy-0", 10, kT0 + 1s), 1);
}

TEST(SessionLimiterTest, IdleAddressesAreForgottenWhenTheTableIsFull) {
  SessionLimiter l({1, 2, 4});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Allowed(l, "old-" + std::to_string(i), 10, kT0), 2);
  // After burst / rate, every old bucket is full again: forgetting them changes nothing,
  // and a new address gets its own bucket.
  EXPECT_EQ(Allowed(l, "fresh", 10, kT0 + 2s), 2);
  EXPECT_EQ(l.tracked(), 1u);
  // A forgotten address starts with the burst it would have had anyway.
  EXPECT_EQ(Allowed(l, "old-0", 10, kT0 + 2s), 2);
}

TEST(SessionLimiterTest, ForgettingIsTriedAtMostOncePerRefillTime) {
  SessionLimiter l({/*rate=*/1, /*burst=*/2, /*max_clients=*/2});
  EXPECT_EQ(Allowed(l, "a", 10, kT0), 2);
  EXPECT_EQ(Allowed(l, "b", 10, kT0), 2);
  // A sweep at kT0 + 1s finds a and b half refilled: both kept, c shares the overflow.
  EXPECT_EQ(Allowed(l, "c", 10, kT0 + 1s), 2);
  EXPECT_EQ(l.tracked(), 2u);
  // a and b are full again at kT0 + 2s, but the last sweep is younger than a
  // refill time (2s): no scan yet, d shares the overflow bucket (1 token back).
  EXPECT_EQ(Allowed(l, "d", 10, kT0 + 2s + 1ms), 1);
  EXPECT_EQ(l.tracked(), 2u);
  // Once it is older, the next newcomer's sweep forgets them.
  EXPECT_EQ(Allowed(l, "e", 10, kT0 + 3s + 1ms), 2);
  EXPECT_EQ(l.tracked(), 1u);
}

}  // namespace
}  // namespace pilotlight::trader
