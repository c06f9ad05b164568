#include "testing/wait.h"

namespace pilotlight::testing {

bool WaitFor(Clock& clock, Duration deadline, const std::function<bool()>& condition,
             Duration poll) {
  const MonoTime until = clock.Monotonic() + deadline;
  for (;;) {
    if (condition()) return true;
    if (clock.Monotonic() > until) return false;
    clock.SleepFor(poll);
  }
}

bool WaitFor(Duration deadline, const std::function<bool()>& condition, Duration poll) {
  return WaitFor(SystemClock::Instance(), deadline, condition, poll);
}

}  // namespace pilotlight::testing
