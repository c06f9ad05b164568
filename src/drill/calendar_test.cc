#include "drill/calendar.h"

#include <gtest/gtest.h>

#include "core/duration.h"
#include "drill/measure.h"

namespace pilotlight::drill {
namespace {

WallTime T(const std::string& s) { return *ParseTime(s); }

TEST(FrequencyTest, NamesRoundTripAndUnknownIsAnError) {
  for (const char* name :
       {"daily", "weekly", "monthly", "quarterly", "biannually", "annually", "continuous"}) {
    Result<Frequency> f = ParseFrequency(name);
    ASSERT_TRUE(f.ok()) << name;
    EXPECT_STREQ(FrequencyName(*f), name);
  }
  EXPECT_FALSE(ParseFrequency("quartely").ok());
  EXPECT_FALSE(ParseFrequency("").ok());
}

TEST(AddMonthsTest, Table) {
  struct Row {
    std::string from;
    int months;
    std::string to;
  } rows[] = {
      {"2026-01-15T10:30:00.250Z", 3, "2026-04-15T10:30:00.250Z"},
      {"2026-01-31T00:00:00Z", 3, "2026-04-30T00:00:00Z"},  // April has 30 days
      {"2026-11-30T08:00:00Z", 3, "2027-02-28T08:00:00Z"},  // over the year, February
      {"2027-11-30T08:00:00Z", 3, "2028-02-29T08:00:00Z"},  // a leap February
      {"2026-08-31T23:59:59Z", 6, "2027-02-28T23:59:59Z"},
      {"2026-12-01T00:00:00Z", 1, "2027-01-01T00:00:00Z"},
      {"2024-02-29T12:00:00Z", 12, "2025-02-28T12:00:00Z"},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(FormatTime(AddMonths(T(r.from), r.months)), FormatTime(T(r.to))) << r.from;
  }
}

TEST(DueTest, Table) {
  struct Row {
    std::string name;
    Frequency f;
    std::optional<std::string> last_done;
    std::string now;
    std::optional<std::string> next_due;
    bool overdue;
    std::string status;
  } rows[] = {
      {"quarterly, done last month", Frequency::kQuarterly, "2026-10-01T00:00:00Z",
       "2026-11-26T00:00:00Z", "2027-01-01T00:00:00Z", false, "ok"},
      {"quarterly, done half a year ago", Frequency::kQuarterly, "2026-05-01T00:00:00Z",
       "2026-11-26T00:00:00Z", "2026-08-01T00:00:00Z", true, "overdue"},
      {"due this very instant is not yet overdue", Frequency::kQuarterly, "2026-08-26T00:00:00Z",
       "2026-11-26T00:00:00Z", "2026-11-26T00:00:00Z", false, "ok"},
      {"a second later it is", Frequency::kQuarterly, "2026-08-26T00:00:00Z",
       "2026-11-26T00:00:01Z", "2026-11-26T00:00:00Z", true, "overdue"},
      {"biannually", Frequency::kBiannually, "2026-06-15T00:00:00Z", "2026-11-26T00:00:00Z",
       "2026-12-15T00:00:00Z", false, "ok"},
      {"annually", Frequency::kAnnually, "2025-11-25T00:00:00Z", "2026-11-26T00:00:00Z",
       "2026-11-25T00:00:00Z", true, "overdue"},
      {"monthly", Frequency::kMonthly, "2026-10-31T00:00:00Z", "2026-11-26T00:00:00Z",
       "2026-11-30T00:00:00Z", false, "ok"},
      {"weekly", Frequency::kWeekly, "2026-11-18T00:00:00Z", "2026-11-26T00:00:00Z",
       "2026-11-25T00:00:00Z", true, "overdue"},
      {"daily", Frequency::kDaily, "2026-11-25T12:00:00Z", "2026-11-26T00:00:00Z",
       "2026-11-26T12:00:00Z", false, "ok"},
      {"never done is overdue", Frequency::kQuarterly, std::nullopt, "2026-11-26T00:00:00Z",
       std::nullopt, true, "never done"},
      {"continuous is never due", Frequency::kContinuous, std::nullopt, "2026-11-26T00:00:00Z",
       std::nullopt, false, "continuous"},
      {"continuous, even done long ago", Frequency::kContinuous, "2020-01-01T00:00:00Z",
       "2026-11-26T00:00:00Z", std::nullopt, false, "continuous"},
  };
  for (const Row& r : rows) {
    std::optional<WallTime> last;
    if (r.last_done) last = T(*r.last_done);
    DueState s = Due(r.f, last, T(r.now));
    EXPECT_EQ(s.overdue, r.overdue) << r.name;
    EXPECT_EQ(s.status, r.status) << r.name;
    EXPECT_EQ(s.never_done, !r.last_done && r.f != Frequency::kContinuous) << r.name;
    ASSERT_EQ(s.next_due.has_value(), r.next_due.has_value()) << r.name;
    if (r.next_due) EXPECT_EQ(FormatTime(*s.next_due), FormatTime(T(*r.next_due))) << r.name;
  }
}

}  // namespace
}  // namespace pilotlight::drill
