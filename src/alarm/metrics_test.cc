#include "alarm/metrics.h"

#include <gtest/gtest.h>

namespace pilotlight::alarm {
namespace {

using namespace std::chrono_literals;

TEST(MetricSeriesTest, RingKeepsTheNewestInOrder) {
  FakeClock clock;
  MetricSeries s(3);
  for (int i = 0; i < 5; ++i) {
    s.Add({clock.Now(), static_cast<double>(i)});
    clock.Advance(1s);
  }
  EXPECT_EQ(s.size(), 3u);
  std::vector<double> got;
  for (const Sample& x : s.Samples()) got.push_back(x.value);
  EXPECT_EQ(got, (std::vector<double>{2, 3, 4}));
  EXPECT_EQ(s.Last().value, 4);
  auto between = s.Between(clock.Now() - 3s, clock.Now() - 1s);  // samples 2 and 3
  ASSERT_EQ(between.size(), 2u);
  EXPECT_EQ(between[0].value, 2);
}

TEST(MetricRegistryTest, KeysSortLabelsAndEscape) {
  FakeClock clock;
  MetricRegistry r(4);
  MetricKey a("lag_seconds", {{"region", "dr"}, {"kind", "db"}});
  MetricKey b("lag_seconds", {{"kind", "db"}, {"region", "dr"}});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.ToString(), "lag_seconds{kind=\"db\",region=\"dr\"}");
  r.Record(a, 1, clock.Now());
  r.Record(b, 2, clock.Now());
  EXPECT_EQ(r.SeriesCount(), 1u);
  EXPECT_EQ(r.Latest().at(a).value, 2);
  EXPECT_EQ(MetricKey("m", {{"v", "a\"b\\c\nd"}}).ToString(), "m{v=\"a\\\"b\\\\c\\nd\"}");
  for (int i = 0; i < 100; ++i) r.Record(a, i, clock.Now());
  EXPECT_EQ(r.Between(a, clock.Now() - 1s, clock.Now() + 1s).size(), 4u);  // bounded
}

}  // namespace
}  // namespace pilotlight::alarm
