#include "core/poll.h"

#include <algorithm>

namespace pilotlight {

bool PollUntil(Clock& clock, MonoTime deadline, Duration interval,
               const std::function<bool()>& done) {
  const Duration pause = std::max<Duration>(interval, std::chrono::milliseconds(1));
  for (;;) {
    if (done()) return true;
    const Duration left = deadline - clock.Monotonic();
    if (left <= Duration::zero()) return false;
    clock.SleepFor(std::min(pause, left));
  }
}

}  // namespace pilotlight
