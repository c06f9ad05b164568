#include "core/clock.h"

#include <thread>

namespace pilotlight {

void Clock::SleepFor(Duration d) {
  if (d.count() > 0) std::this_thread::sleep_for(d);
}

WallTime SystemClock::Now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

MonoTime SystemClock::Monotonic() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
}

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

FakeClock::FakeClock(WallTime start) : wall_(start), mono_(Duration(0)) {}

WallTime FakeClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_;
}

MonoTime FakeClock::Monotonic() const {
  std::lock_guard<std::mutex> lock(mu_);
  return mono_;
}

void FakeClock::Advance(Duration d) {
  std::lock_guard<std::mutex> lock(mu_);
  wall_ += d;
  mono_ += d;
}

}  // namespace pilotlight
