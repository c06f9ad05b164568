#include "drill/calendar.h"

#include <time.h>

#include <algorithm>

namespace pilotlight::drill {
namespace {

constexpr struct {
  Frequency f;
  const char* name;
} kNames[] = {
    {Frequency::kDaily, "daily"},           {Frequency::kWeekly, "weekly"},
    {Frequency::kMonthly, "monthly"},       {Frequency::kQuarterly, "quarterly"},
    {Frequency::kBiannually, "biannually"}, {Frequency::kAnnually, "annually"},
    {Frequency::kContinuous, "continuous"},
};

bool Leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysIn(int year, int month0) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month0 == 1 && Leap(year) ? 29 : kDays[month0];
}

}  // namespace

Result<Frequency> ParseFrequency(const std::string& name) {
  for (const auto& n : kNames) {
    if (name == n.name) return n.f;
  }
  return Status::InvalidArgument("frequency '" + name +
                                 "': expected daily, weekly, monthly, quarterly, biannually, "
                                 "annually or continuous");
}

const char* FrequencyName(Frequency f) {
  for (const auto& n : kNames) {
    if (n.f == f) return n.name;
  }
  return "?";
}

WallTime AddMonths(WallTime t, int months) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const Duration fraction = t - secs;
  const time_t tt = static_cast<time_t>(secs.time_since_epoch().count());
  tm u{};
  gmtime_r(&tt, &u);
  const int total = u.tm_year * 12 + u.tm_mon + months;
  u.tm_year = total / 12;
  u.tm_mon = total % 12;
  u.tm_mday = std::min(u.tm_mday, DaysIn(u.tm_year + 1900, u.tm_mon));
  return WallTime(std::chrono::seconds(timegm(&u))) + fraction;
}

DueState Due(Frequency f, const std::optional<WallTime>& last_done, WallTime now) {
  DueState s;
  if (f == Frequency::kContinuous) {
    s.status = "continuous";
    return s;
  }
  if (!last_done) {
    s.never_done = true;
    s.overdue = true;
    s.status = "never done";
    return s;
  }
  using std::chrono::hours;
  switch (f) {
    case Frequency::kDaily:
      s.next_due = *last_done + hours(24);
      break;
    case Frequency::kWeekly:
      s.next_due = *last_done + hours(24 * 7);
      break;
    case Frequency::kMonthly:
      s.next_due = AddMonths(*last_done, 1);
      break;
    case Frequency::kQuarterly:
      s.next_due = AddMonths(*last_done, 3);
      break;
    case Frequency::kBiannually:
      s.next_due = AddMonths(*last_done, 6);
      break;
    case Frequency::kAnnually:
      s.next_due = AddMonths(*last_done, 12);
      break;
    case Frequency::kContinuous:
      break;
  }
  s.overdue = now > *s.next_due;
  s.status = s.overdue ? "overdue" : "ok";
  return s;
}

}  // namespace pilotlight::drill
