#include "core/duration.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <ctime>

namespace pilotlight {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t nanos;
};

// Longest suffixes first so "ms" is not read as "m" followed by "s".
constexpr Unit kUnits[] = {
    {"ms", 1'000'000},         {"us", 1'000},        {"ns", 1},
    {"h", 3'600'000'000'000},  {"m", 60'000'000'000}, {"s", 1'000'000'000},
};

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  const std::string shown = "'" + std::string(text) + "'";
  if (text.empty()) {
    return Status::InvalidArgument("expected a duration such as 500ms, 5s, 15m or 1h, found an empty value");
  }
  if (text == "0") return Duration(0);
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      return Status::InvalidArgument("expected a duration such as 500ms, 5s, 15m or 1h, found " + shown);
    }
    int64_t number = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      number = number * 10 + (text[i] - '0');
      if (number > 1'000'000'000) {
        return Status::InvalidArgument("duration " + shown + " is too large");
      }
      ++i;
    }
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(i, u.suffix.size()) == u.suffix) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) {
      return Status::InvalidArgument("duration " + shown +
                                     " needs a unit after each number (ms, s, m or h), e.g. 60s");
    }
    i += unit->suffix.size();
    if (number > INT64_MAX / unit->nanos || total > INT64_MAX - number * unit->nanos) {
      return Status::InvalidArgument("duration " + shown + " is too large");
    }
    total += number * unit->nanos;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  int64_t ns = d.count();
  std::string out;
  if (ns < 0) {
    out = "-";
    ns = -ns;
  }
  if (ns == 0) return "0s";
  if (ns % 1'000'000'000 != 0) {
    if (ns < 1'000'000'000 && ns % 1'000'000 == 0) return out + std::to_string(ns / 1'000'000) + "ms";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3fs", static_cast<double>(ns) / 1e9);
    return out + buf;
  }
  int64_t s = ns / 1'000'000'000;
  const int64_t h = s / 3600;
  const int64_t m = (s % 3600) / 60;
  s %= 60;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (s) out += std::to_string(s) + "s";
  return out;
}

double ToSeconds(Duration d) { return static_cast<double>(d.count()) / 1e9; }

std::string FormatTime(WallTime t) {
  const int64_t ns = t.time_since_epoch().count();
  std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  int64_t millis = (ns % 1'000'000'000) / 1'000'000;
  if (millis < 0) {
    millis += 1000;
    secs -= 1;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

}  // namespace pilotlight
