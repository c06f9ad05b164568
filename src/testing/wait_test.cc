#include "testing/wait.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace pilotlight::testing {
namespace {

using namespace std::chrono_literals;

TEST(WaitForTest, OnAFakeClockTheDeadlinePassesInFakeTime) {
  FakeClock clock;
  const MonoTime start = clock.Monotonic();
  EXPECT_FALSE(WaitFor(clock, 1h, [] { return false; }, 1s));
  // Polled until the deadline, not past it by more than one poll.
  EXPECT_GT(clock.Monotonic() - start, 1h);
  EXPECT_LE(clock.Monotonic() - start, 1h + 1s);
}

TEST(WaitForTest, ReturnsWhenTheConditionHolds) {
  FakeClock clock;
  const MonoTime start = clock.Monotonic();
  int calls = 0;
  EXPECT_TRUE(WaitFor(clock, 1h, [&] { return clock.Monotonic() - start >= 2min; }, 1s));
  EXPECT_EQ(clock.Monotonic() - start, 2min);  // no poll after it held
  EXPECT_TRUE(WaitFor(clock, 1h, [&] { return ++calls == 1; }));
  EXPECT_EQ(calls, 1);  // a condition that already holds is not waited on
}

TEST(WaitForTest, SeesAnotherThreadOnTheSystemClock) {
  std::atomic<bool> done{false};
  std::thread t([&] { done = true; });
  EXPECT_TRUE(WaitFor(10s, [&] { return done.load(); }));
  t.join();
  EXPECT_FALSE(WaitFor(SystemClock::Instance(), 30ms, [] { return false; }));
}

}  // namespace
}  // namespace pilotlight::testing
