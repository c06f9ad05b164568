#include "controller/autoscaler.h"

#include <gtest/gtest.h>

#include <map>

namespace pilotlight::controller {
namespace {

using namespace std::chrono_literals;
using Phase = decide::ControllerState::Phase;

// Node groups as sizes in a map; every SetSize is recorded.
class FakeGroups : public compute::NodeGroups {
 public:
  Result<int> Size(const std::string& region, const std::string& group) override {
    return sizes[region + "/" + group];
  }
  Status SetSize(const std::string& region, const std::string& group, int size) override {
    sets.push_back(region + "/" + group + "=" + std::to_string(size));
    if (fail_set) return Status::Unavailable("cannot start instances");
    sizes[region + "/" + group] = size;
    return Status::OK();
  }
  Result<compute::GroupReadiness> Readiness(const std::string&, const std::string&,
                                            compute::ReadyWhen, MonoTime) override {
    return compute::GroupReadiness{};
  }
  Status CanScale(const std::string&, const std::string&) override { return Status::OK(); }

  std::map<std::string, int> sizes;
  std::vector<std::string> sets;
  bool fail_set = false;
};

class FakeLoad : public compute::GroupLoadSource {
 public:
  Result<compute::GroupLoad> Load(const std::string& region, const std::string& group,
                                  WallTime) override {
    asked.push_back(region + "/" + group);
    compute::GroupLoad g;
    g.requests_per_second = rps[region + "/" + group];
    g.instances_reporting = 1;
    g.source = "fake";
    return g;
  }
  std::map<std::string, double> rps;
  std::vector<std::string> asked;
};

ControllerSpec Spec() {
  ControllerSpec s;
  s.primary_region = "primary";
  s.dr_region = "dr";
  for (const char* region : {"primary", "dr"}) {
    compute::NodeGroupSpec g;
    g.region = region;
    g.name = "trader";
    s.node_groups.push_back(g);
  }
  config::ScalingConfig sc;
  sc.group = "trader";
  sc.min = 1;
  sc.max = 3;
  sc.target_requests_per_instance = 20;
  sc.scale_down_stabilization = 5s;
  s.compute.scaling = {sc};
  return s;
}

DurableState In(Phase phase) {
  DurableState d;
  d.state.phase = phase;
  return d;
}

const GroupScaling& Of(const std::vector<GroupScaling>& all, const std::string& region) {
  for (const GroupScaling& g : all) {
    if (g.region == region) return g;
  }
  static const GroupScaling none;
  ADD_FAILURE() << "no scaling entry for region " << region;
  return none;
}

class AutoscalerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    groups_.sizes = {{"primary/trader", 1}, {"dr/trader", 1}};
    load_.rps = {{"primary/trader", 50}, {"dr/trader", 50}};
  }
  ControllerSpec spec_ = Spec();
  FakeGroups groups_;
  FakeLoad load_;
  FakeClock clock_;
};

TEST_F(AutoscalerTest, NormalPhaseScalesThePrimaryOnlyAndSaysWhy) {
  Autoscaler a(spec_, groups_, load_);
  ASSERT_TRUE(a.Enabled());
  const std::vector<GroupScaling> out = a.Step(In(Phase::kNormal), "", false, clock_.Now());
  ASSERT_EQ(out.size(), 2u);
  const GroupScaling& p = Of(out, "primary");
  EXPECT_TRUE(p.applied);
  EXPECT_EQ(p.decision.reason,
            "scale trader in primary 1 -> 3: 50 req/s over 1 instance, target 20/instance");
  const GroupScaling& d = Of(out, "dr");
  EXPECT_FALSE(d.decision.active);
  EXPECT_NE(d.decision.reason.find("DR in pilot light"), std::string::npos) << d.decision.reason;
  EXPECT_EQ(groups_.sets, std::vector<std::string>{"primary/trader=3"});
  EXPECT_EQ(load_.asked, std::vector<std::string>{"primary/trader"});
}

TEST_F(AutoscalerTest, FailedOverScalesDrAndLeavesTheOldPrimary) {
  Autoscaler a(spec_, groups_, load_);
  const std::vector<GroupScaling> out = a.Step(In(Phase::kFailedOver), "", false, clock_.Now());
  EXPECT_EQ(groups_.sets, std::vector<std::string>{"dr/trader=3"});
  EXPECT_NE(Of(out, "primary").decision.reason.find("failed over to dr"), std::string::npos);
}

TEST_F(AutoscalerTest, NothingScaledWhileARunbookRuns) {
  Autoscaler a(spec_, groups_, load_);
  std::vector<GroupScaling> out =
      a.Step(In(Phase::kNormal), "a runbook of pilotlight failback (pid 7)", false, clock_.Now());
  EXPECT_TRUE(groups_.sets.empty());
  EXPECT_NE(Of(out, "primary").decision.reason.find("pilotlight failback (pid 7) is running"),
            std::string::npos)
      << Of(out, "primary").decision.reason;
  // An interrupted failover (phase failing-over) holds too, even with no lock holder.
  out = a.Step(In(Phase::kFailingOver), "", false, clock_.Now());
  EXPECT_TRUE(groups_.sets.empty());
  EXPECT_TRUE(load_.asked.empty());
}

TEST_F(AutoscalerTest, ObserveOnlySaysWhatItWouldDoOnce) {
  Autoscaler a(spec_, groups_, load_);
  std::vector<GroupScaling> out = a.Step(In(Phase::kNormal), "", true, clock_.Now());
  const GroupScaling& p = Of(out, "primary");
  EXPECT_FALSE(p.applied);
  EXPECT_TRUE(p.changed);
  EXPECT_EQ(p.decision.reason.rfind("observe-only: would scale trader in primary 1 -> 3", 0), 0u)
      << p.decision.reason;
  clock_.Advance(500ms);
  out = a.Step(In(Phase::kNormal), "", true, clock_.Now());
  EXPECT_FALSE(Of(out, "primary").changed);  // the same proposal is not announced again
  EXPECT_TRUE(groups_.sets.empty());
}

TEST_F(AutoscalerTest, ScalesInAfterTheStabilizationWindow) {
  Autoscaler a(spec_, groups_, load_);
  a.Step(In(Phase::kNormal), "", false, clock_.Now());
  ASSERT_EQ(groups_.sizes["primary/trader"], 3);
  load_.rps["primary/trader"] = 0;
  for (int i = 0; i < 9; ++i) {  // 4.5 s of the 5 s window
    clock_.Advance(500ms);
    a.Step(In(Phase::kNormal), "", false, clock_.Now());
  }
  EXPECT_EQ(groups_.sizes["primary/trader"], 3);
  clock_.Advance(1s);
  const std::vector<GroupScaling> out = a.Step(In(Phase::kNormal), "", false, clock_.Now());
  EXPECT_EQ(groups_.sizes["primary/trader"], 1) << Of(out, "primary").decision.reason;
  ASSERT_TRUE(Of(out, "primary").last_change_at.has_value());
  EXPECT_NE(Of(out, "primary").last_change.find("3 -> 1"), std::string::npos);
}

TEST_F(AutoscalerTest, AFailedChangeIsReportedNotApplied) {
  groups_.fail_set = true;
  Autoscaler a(spec_, groups_, load_);
  const std::vector<GroupScaling> out = a.Step(In(Phase::kNormal), "", false, clock_.Now());
  EXPECT_FALSE(Of(out, "primary").applied);
  EXPECT_EQ(Of(out, "primary").error, "cannot start instances");
}

TEST_F(AutoscalerTest, BeforeChangeRunsOnlyForAChangeAndCanStopIt) {
  Autoscaler a(spec_, groups_, load_);
  int asked = 0;
  auto refuse = [&] {
    ++asked;
    return Status::Unavailable("not applied: a runbook of pilotlight failback (pid 9) started");
  };
  std::vector<GroupScaling> out = a.Step(In(Phase::kNormal), "", false, clock_.Now(), refuse);
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(groups_.sets.empty());
  EXPECT_FALSE(Of(out, "primary").applied);
  EXPECT_NE(Of(out, "primary").error.find("pilotlight failback (pid 9) started"),
            std::string::npos);
  // Steady load at the right size: nothing to change, the hook is not called.
  groups_.sizes["primary/trader"] = 3;
  load_.rps["primary/trader"] = 60;
  clock_.Advance(500ms);
  out = a.Step(In(Phase::kNormal), "", false, clock_.Now(), refuse);
  EXPECT_EQ(asked, 1) << Of(out, "primary").decision.reason;
}

TEST(AutoscalerDisabled, NoScalingConfigNoWork) {
  ControllerSpec spec = Spec();
  spec.compute.scaling.clear();
  FakeGroups groups;
  FakeLoad load;
  Autoscaler a(spec, groups, load);
  EXPECT_FALSE(a.Enabled());
  EXPECT_TRUE(a.Step(In(Phase::kNormal), "", false, FakeClock().Now()).empty());
}

}  // namespace
}  // namespace pilotlight::controller
