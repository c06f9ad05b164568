#include "core/poll.h"

#include <gtest/gtest.h>

namespace pilotlight {
namespace {

using namespace std::chrono_literals;

// A condition that never holds by itself, but gives in after `limit` questions
// (more than a PollUntil that waits on the clock asks) so that one that spins, or
// sleeps without advancing the FakeClock, fails the test instead of hanging it.
struct NeverTrue {
  int limit = 1'000;
  int asked = 0;
  bool operator()() { return ++asked > limit; }
};

TEST(PollUntilTest, OnAFakeClockItGivesUpAtTheDeadline) {
  FakeClock clock;
  const MonoTime deadline = clock.Monotonic() + 30s;
  NeverTrue never;
  EXPECT_FALSE(PollUntil(clock, deadline, 50ms, std::ref(never)));
  EXPECT_LE(never.asked, never.limit) << "it kept asking past the deadline";
  EXPECT_EQ(clock.Monotonic(), deadline);  // waited out the deadline, and no further
  EXPECT_EQ(never.asked, 30s / 50ms + 1);  // asked on every pause, and once at the deadline
}

TEST(PollUntilTest, ADeadlineAlreadyPastStillAsksOnce) {
  FakeClock clock;
  const MonoTime deadline = clock.Monotonic() - 1s;
  NeverTrue never;
  EXPECT_FALSE(PollUntil(clock, deadline, 50ms, std::ref(never)));
  EXPECT_EQ(never.asked, 1);
  int asked = 0;
  EXPECT_TRUE(PollUntil(clock, deadline, 50ms, [&] { return ++asked == 1; }));
}

TEST(PollUntilTest, AZeroIntervalStillEndsOnAFakeClock) {
  FakeClock clock;
  const MonoTime deadline = clock.Monotonic() + 1s;
  NeverTrue never{.limit = 10'000};  // 1 ms pauses: 1,001 questions
  EXPECT_FALSE(PollUntil(clock, deadline, 0ms, std::ref(never)));
  EXPECT_LE(never.asked, never.limit);
  EXPECT_EQ(clock.Monotonic(), deadline);
}

TEST(PollUntilTest, ItReturnsAsSoonAsTheConditionHolds) {
  FakeClock clock;
  const MonoTime start = clock.Monotonic();
  const MonoTime ready_at = start + 2s;
  EXPECT_TRUE(PollUntil(clock, start + 30s, 100ms, [&] { return clock.Monotonic() >= ready_at; }));
  EXPECT_EQ(clock.Monotonic(), ready_at);
}

TEST(PollUntilTest, AConditionThatHoldsAtTheDeadlineIsSeen) {
  FakeClock clock;
  const MonoTime deadline = clock.Monotonic() + 1s;
  // The interval does not divide the time left: the last pause is shortened.
  EXPECT_TRUE(PollUntil(clock, deadline, 300ms, [&] { return clock.Monotonic() >= deadline; }));
  EXPECT_EQ(clock.Monotonic(), deadline);
}

}  // namespace
}  // namespace pilotlight
