#include "core/duration.h"

#include <gtest/gtest.h>

namespace pilotlight {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(DurationTest, ParsesOperatorForms) {
  struct Case {
    const char* text;
    Duration want;
  } cases[] = {
      {"0", Duration(0)},          {"250ms", milliseconds(250)}, {"5s", seconds(5)},
      {"15m", minutes(15)},        {"1h", minutes(60)},          {"1m30s", seconds(90)},
      {"2h15m", minutes(135)},     {"100us", std::chrono::microseconds(100)},
  };
  for (const Case& c : cases) {
    Result<Duration> d = ParseDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status().ToString();
    EXPECT_EQ(*d, c.want) << c.text;
  }
}

TEST(DurationTest, RejectsAmbiguousOrMalformed) {
  for (const char* text : {"", "60", "5 s", "s", "-5s", "5x", "1.5s", "99999999999h"}) {
    Result<Duration> d = ParseDuration(text);
    EXPECT_FALSE(d.ok()) << "'" << text << "' was accepted";
  }
}

TEST(DurationTest, FormatsShortestForm) {
  EXPECT_EQ(FormatDuration(seconds(90)), "1m30s");
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(Duration(0)), "0s");
  EXPECT_EQ(FormatDuration(minutes(15)), "15m");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1.500s");
}

TEST(DurationTest, FormatTimeIsRfc3339Utc) {
  WallTime t(seconds(1'700'000'000) + milliseconds(42));
  EXPECT_EQ(FormatTime(t), "2023-11-14T22:13:20.042Z");
}

TEST(FakeClockTest, AdvancesBothClocks) {
  FakeClock clock;
  WallTime w = clock.Now();
  MonoTime m = clock.Monotonic();
  clock.Advance(seconds(3));
  EXPECT_EQ(clock.Now() - w, seconds(3));
  EXPECT_EQ(clock.Monotonic() - m, seconds(3));
}

}  // namespace
}  // namespace pilotlight
