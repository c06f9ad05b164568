#include "compute/node_group.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace pilotlight::compute {
namespace {

using namespace std::chrono_literals;

struct SizeRow {
  const char* name;
  ScalingPolicy policy;
  double rps;
  int want;
};

void PrintTo(const SizeRow& row, std::ostream* os) { *os << row.name; }

class DesiredSizeTest : public ::testing::TestWithParam<SizeRow> {};

TEST_P(DesiredSizeTest, Row) {
  EXPECT_EQ(DesiredSize(GetParam().policy, GetParam().rps), GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Table, DesiredSizeTest,
    ::testing::Values(SizeRow{"idle keeps the minimum", {1, 10, 100}, 0, 1},
                      SizeRow{"exactly one instance's worth", {1, 10, 100}, 100, 1},
                      SizeRow{"just over one instance rounds up", {1, 10, 100}, 100.5, 2},
                      SizeRow{"950 rps wants 10", {1, 10, 100}, 950, 10},
                      SizeRow{"capped at the maximum", {1, 10, 100}, 5000, 10},
                      SizeRow{"minimum above the load", {3, 10, 100}, 120, 3},
                      SizeRow{"zero target keeps the minimum", {2, 10, 0}, 900, 2},
                      SizeRow{"negative load keeps the minimum", {2, 10, 100}, -5, 2},
                      SizeRow{"max below min acts as min", {4, 2, 100}, 900, 4},
                      SizeRow{"NaN load keeps the minimum", {1, 5, 100}, std::nan(""), 1}));

TEST(ResolveSize, NamedAndNumericSizes) {
  NodeGroupSpec g;
  g.name = "trader";
  g.pilot_light_size = 1;
  g.production_size = 3;
  EXPECT_EQ(*ResolveSize(g, "production"), 3);
  EXPECT_EQ(*ResolveSize(g, "pilot_light"), 1);
  EXPECT_EQ(*ResolveSize(g, "5"), 5);
  for (const char* bad : {"", "-1", "three", "1e3", "99999999"}) {
    Result<int> r = ResolveSize(g, bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("expected production, pilot_light"), std::string::npos);
    }
  }
}

// A node group whose instances come up after a scripted number of looks.
class FakeGroups : public NodeGroups {
 public:
  Result<int> Size(const std::string&, const std::string&) override { return size; }
  Status SetSize(const std::string&, const std::string&, int s) override {
    ++set_calls;
    size = s;
    return Status::OK();
  }
  Result<GroupReadiness> Readiness(const std::string&, const std::string& group, ReadyWhen when,
                                   MonoTime) override {
    last_when = when;
    GroupReadiness r;
    r.desired = size;
    for (int i = 1; i <= std::min(size, up); ++i) r.up.push_back(group + "-" + std::to_string(i));
    if (up < size) r.detail = group + "-" + std::to_string(up + 1) + ": database is a standby";
    return r;
  }
  Status CanScale(const std::string&, const std::string&) override { return Status::OK(); }

  int size = 1;
  int up = 1;
  int set_calls = 0;
  ReadyWhen last_when = ReadyWhen::kReady;
};

TEST(ScaleAndWait, ScalesThenSucceedsWhenAllUp) {
  FakeGroups g;
  g.up = 3;
  ASSERT_TRUE(ScaleAndWait(g, "dr", "trader", 3, ReadyWhen::kAnswering, MonoTime{}).ok());
  EXPECT_EQ(g.size, 3);
  EXPECT_EQ(g.set_calls, 1);
  EXPECT_EQ(g.last_when, ReadyWhen::kAnswering);
}

TEST(ScaleAndWait, AlreadyAtSizeDoesNotScaleAgain) {
  FakeGroups g;
  g.size = 3;
  g.up = 3;
  ASSERT_TRUE(ScaleAndWait(g, "dr", "trader", 3, ReadyWhen::kReady, MonoTime{}).ok());
  EXPECT_EQ(g.set_calls, 0);
}

TEST(ScaleAndWait, LaggardsTimeOutWithTheirWords) {
  FakeGroups g;
  g.up = 2;
  Status st = ScaleAndWait(g, "dr", "trader", 3, ReadyWhen::kReady, MonoTime{});
  EXPECT_EQ(st.code(), Status::Code::kTimeout);
  EXPECT_NE(st.message().find("2 of 3 instances ready by the deadline (trader-3: database is a "
                              "standby)"),
            std::string::npos)
      << st.message();
}

}  // namespace
}  // namespace pilotlight::compute
