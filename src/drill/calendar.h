// The DR calendar's arithmetic: from a responsibility's frequency, when it
// was last done and `now`, when it is next due and whether it is overdue.
//
// Calendar frequencies add calendar months (quarterly: 3 months, so a task
// done on 31 January is next due on 30 April; the day clamps to the month's
// last), daily and weekly add 24 h and 7 days. A task never done is due at
// once, so it is overdue; a continuous task (24/7 monitoring) is never due.
// Pure: `now` is a parameter. Thread-safe.
#pragma once

#include <optional>
#include <string>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::drill {

enum class Frequency { kDaily, kWeekly, kMonthly, kQuarterly, kBiannually, kAnnually, kContinuous };

// "daily" | "weekly" | "monthly" | "quarterly" | "biannually" | "annually" | "continuous".
Result<Frequency> ParseFrequency(const std::string& name);
const char* FrequencyName(Frequency f);

// `months` calendar months after `t` (UTC), the day of the month clamped to the
// target month's last day, the time of day kept.
WallTime AddMonths(WallTime t, int months);

struct DueState {
  std::optional<WallTime> next_due;  // nullopt: never due (continuous), or due now (never done)
  bool never_done = false;
  bool overdue = false;
  // "continuous" | "never done" | "overdue" | "ok"
  std::string status;
};

DueState Due(Frequency f, const std::optional<WallTime>& last_done, WallTime now);

}  // namespace pilotlight::drill
