#include "trader/load.h"

#include <gtest/gtest.h>

namespace pilotlight::trader {
namespace {

TEST(PercentileTest, NearestRank) {
  struct Case {
    std::vector<double> sorted;
    double q;
    double want;
  };
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  std::vector<double> thousand;
  for (int i = 1; i <= 1000; ++i) thousand.push_back(i);
  const std::vector<Case> cases = {
      {{}, 0.5, 0},          {{7}, 0.5, 7},          {{7}, 0.999, 7},
      {hundred, 0.5, 50},    {hundred, 0.99, 99},    {hundred, 0.999, 100},
      {hundred, 0.0, 1},     {thousand, 0.999, 999}, {thousand, 1.0, 1000},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Percentile(c.sorted, c.q), c.want) << c.sorted.size() << " q=" << c.q;
  }
}

TEST(SummarizeTest, SortsAndReportsMax) {
  LatencySummary s = Summarize({5, 1, 9, 3, 7});
  EXPECT_EQ(s.p50_ms, 5);
  EXPECT_EQ(s.p99_ms, 9);
  EXPECT_EQ(s.max_ms, 9);
}

TEST(RunLoadTest, RefusesIncompleteOptionsBeforeSendingAnything) {
  FakeClock clock;
  LoadOptions o;
  o.count = 1;
  EXPECT_EQ(RunLoad(o, clock, nullptr).status().code(), Status::Code::kInvalidArgument);
  o.dns_server = "127.0.0.1:53";
  EXPECT_EQ(RunLoad(o, clock, nullptr).status().code(), Status::Code::kInvalidArgument);
  o = LoadOptions();
  o.address = "127.0.0.1";
  EXPECT_EQ(RunLoad(o, clock, nullptr).status().code(), Status::Code::kInvalidArgument);
  o.count = 1;
  o.concurrency = 0;
  EXPECT_EQ(RunLoad(o, clock, nullptr).status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace pilotlight::trader
