// Durations and instants as operators write and read them.
//
// ParseDuration accepts "250ms", "5s", "15m", "1h", "1m30s" and "0"; a bare
// number is rejected so that "60" never silently means 60 ns or 60 min.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight {

Result<Duration> ParseDuration(std::string_view text);

// Shortest exact form: "1m30s", "250ms", "0s".
std::string FormatDuration(Duration d);

// Seconds with millisecond precision, for reports: 1.25
double ToSeconds(Duration d);

// RFC 3339 UTC with milliseconds: 2026-11-26T00:17:34.123Z
std::string FormatTime(WallTime t);

}  // namespace pilotlight
