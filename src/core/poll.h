// PollUntil: waits for a condition that nothing can signal (a remote server's
// state, a file another process writes), by asking it again every `interval`
// until it holds or a deadline passes. The waiting goes through Clock::SleepFor,
// so on a FakeClock the wait costs no wall time and still ends at the deadline.
// Thread-safe if `done` is; the Clock is the caller's.
#pragma once

#include <functional>

#include "core/clock.h"

namespace pilotlight {

// True as soon as `done()` returns true; false once `clock.Monotonic()` has
// reached `deadline` with `done()` still false. `done` is asked at least once,
// and once more at (or after) the deadline, so a condition that comes true at
// the last moment is seen. Each pause is `interval`, shortened so as not to
// overshoot the deadline; an interval under 1 ms is taken as 1 ms, so every
// pause advances the clock (a FakeClock too) and the loop always ends.
bool PollUntil(Clock& clock, MonoTime deadline, Duration interval,
               const std::function<bool()>& done);

}  // namespace pilotlight
