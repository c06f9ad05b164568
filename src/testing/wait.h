// WaitFor: the one way a test waits for something another thread or process
// does. It polls `condition` every `poll` of `clock` (Clock::SleepFor) until it
// holds or `deadline` of that clock has passed, and tells which (never sleep as
// synchronization; wait for a condition with a deadline).
//
// On a FakeClock each poll advances the fake time, so a deadline passes without
// wall time passing (the condition must then be met by something other than
// the fake clock's own passage, or by it: code under test that reads the same
// FakeClock sees the time move). The overload without a clock uses the system
// clock, for integration tests against real processes. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>

#include "core/clock.h"

namespace pilotlight::testing {

// Success if `condition` held within `deadline`; otherwise a failure whose
// message says how long it waited, so `ASSERT_TRUE(WaitFor(...)) << "what"`
// prints both. (Contextually convertible to bool: `if (!WaitFor(...))`.)
::testing::AssertionResult WaitFor(Clock& clock, Duration deadline,
                                   const std::function<bool()>& condition,
                                   Duration poll = std::chrono::milliseconds(10));

// The same on SystemClock::Instance().
::testing::AssertionResult WaitFor(Duration deadline, const std::function<bool()>& condition,
                                   Duration poll = std::chrono::milliseconds(10));

}  // namespace pilotlight::testing
