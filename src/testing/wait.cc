#include "testing/wait.h"

#include "core/duration.h"

namespace pilotlight::testing {

::testing::AssertionResult WaitFor(Clock& clock, Duration deadline,
                                   const std::function<bool()>& condition, Duration poll) {
  const MonoTime start = clock.Monotonic();
  const MonoTime until = start + deadline;
  int polls = 0;
  for (;;) {
    ++polls;
    if (condition()) return ::testing::AssertionSuccess();
    if (clock.Monotonic() >= until) break;
    clock.SleepFor(poll);
  }
  return ::testing::AssertionFailure()
         << "the condition did not hold within " << FormatDuration(deadline) << " ("
         << polls << " polls over " << FormatDuration(clock.Monotonic() - start) << ")";
}

::testing::AssertionResult WaitFor(Duration deadline, const std::function<bool()>& condition,
                                   Duration poll) {
  return WaitFor(SystemClock::Instance(), deadline, condition, poll);
}

}  // namespace pilotlight::testing
