// WaitFor: the one way a test waits for what another thread or process does
// (never a sleep as synchronization). It checks `condition` every `poll` of
// `clock`, waiting through Clock::SleepFor, until the condition holds or
// `deadline` of that clock has passed.
//
// On a FakeClock each poll advances the fake time instead of sleeping, so a
// deadline passes without wall time passing, and code under test that reads
// the same FakeClock sees the time move. Without a clock it is the system
// clock, for threads and processes that run in real time. Test-only; any
// thread.
#pragma once

#include <chrono>
#include <functional>

#include "core/clock.h"

namespace pilotlight::testing {

// Whether `condition` held within `deadline` (it is checked once more after
// the deadline has passed). Say what was awaited where it is asserted:
// `ASSERT_TRUE(WaitFor(clock, 5s, ...)) << "the replica never caught up"`.
bool WaitFor(Clock& clock, Duration deadline, const std::function<bool()>& condition,
             Duration poll = std::chrono::milliseconds(20));

// The same on SystemClock::Instance().
bool WaitFor(Duration deadline, const std::function<bool()>& condition,
             Duration poll = std::chrono::milliseconds(20));

}  // namespace pilotlight::testing
