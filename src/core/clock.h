// Clock: the only source of "now" in pilotlight.
//
// Everything that needs the time takes a Clock& (or, in pure code, a `now`
// parameter). SystemClock reads the OS; FakeClock is advanced by tests, so no
// test depends on wall time. SystemClock is thread-safe; FakeClock is
// thread-safe too (its time is guarded), so a test may advance it while a
// component under test reads it.
#pragma once

#include <chrono>
#include <mutex>

namespace pilotlight {

using Duration = std::chrono::nanoseconds;
// Wall-clock instants (UTC) for journals and reports, monotonic instants for timeouts.
using WallTime = std::chrono::time_point<std::chrono::system_clock, Duration>;
using MonoTime = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime Now() const = 0;
  virtual MonoTime Monotonic() const = 0;
  // Waits `d`. FakeClock advances itself instead, so code that waits between
  // retries runs instantly under test.
  virtual void SleepFor(Duration d);
};

class SystemClock final : public Clock {
 public:
  WallTime Now() const override;
  MonoTime Monotonic() const override;
  // A process-wide instance, for main() and adapters that own real I/O.
  static SystemClock& Instance();
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(WallTime start = WallTime(std::chrono::seconds(1'700'000'000)));
  WallTime Now() const override;
  MonoTime Monotonic() const override;
  void Advance(Duration d);
  void SleepFor(Duration d) override { Advance(d); }

 private:
  mutable std::mutex mu_;
  WallTime wall_;
  MonoTime mono_;
};

}  // namespace pilotlight
