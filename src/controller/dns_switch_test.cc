#include "controller/dns_switch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "testing/scratch_dir.h"

namespace pilotlight::controller {
namespace {

using pilotlight::testing::ScratchDir;

const WallTime kNow = WallTime(std::chrono::seconds(1'800'000'000));

class DnsSwitchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
    config_.platform = "trading";
    config_.regions = {{"primary", config::RegionRole::kPrimary, "127.0.1.1"},
                       {"dr", config::RegionRole::kDr, "127.0.2.1"}};
    std::ofstream(dir_ + "/zone.yaml") << DefaultLabZone(config_, "api");
    target_.zone_file = dir_ + "/zone.yaml";
    target_.overrides_file = dir_ + "/sub/overrides";
    target_.record = "api";
  }
  ScratchDir scratch_{"dns-switch"};
  std::string dir_;
  config::Config config_;
  DnsTarget target_;
};

TEST_F(DnsSwitchTest, TheLabZoneHasASecondaryAndAnswersPrimaryFirst) {
  Fact f = DnsSecondaryExists(target_, kNow);
  EXPECT_TRUE(f.holds) << f.detail;
  EXPECT_EQ(f.detail, "api.trading.test. fails over to 127.0.2.1");
  auto answers = CurrentAnswers(target_, kNow);
  ASSERT_TRUE(answers.ok()) << answers.status().ToString();
  EXPECT_EQ(*answers, std::vector<std::string>{"127.0.1.1"});
}

TEST_F(DnsSwitchTest, SwitchingIsIdempotentAndVisible) {
  EXPECT_FALSE(*RecordRoutedAs(target_, "secondary", kNow));
  ASSERT_TRUE(SwitchRecord(target_, "secondary", kNow).ok());
  EXPECT_TRUE(*RecordRoutedAs(target_, "secondary", kNow));
  ASSERT_TRUE(SwitchRecord(target_, "secondary", kNow).ok());
  EXPECT_EQ(*CurrentAnswers(target_, kNow), std::vector<std::string>{"127.0.2.1"});
  std::ifstream in(target_.overrides_file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("api.trading.test. secondary"), std::string::npos) << text;
  ASSERT_TRUE(SwitchRecord(target_, "auto", kNow).ok());
  EXPECT_TRUE(*RecordRoutedAs(target_, "auto", kNow));
  EXPECT_EQ(*CurrentAnswers(target_, kNow), std::vector<std::string>{"127.0.1.1"});
}

TEST_F(DnsSwitchTest, BadTargetsAreClearErrors) {
  EXPECT_FALSE(SwitchRecord(target_, "sideways", kNow).ok());
  Status weights = SwitchRecord(target_, "weights:primary=1", kNow);
  EXPECT_FALSE(weights.ok());  // a failover record takes no weights
  DnsTarget missing = target_;
  missing.record = "nosuch.example.";
  Status st = SwitchRecord(missing, "secondary", kNow);
  EXPECT_EQ(st.code(), Status::Code::kNotFound) << st.ToString();
  missing.record = "www";
  Fact f = DnsSecondaryExists(missing, kNow);
  EXPECT_FALSE(f.holds);
  EXPECT_NE(f.detail.find("no failover or weighted record set"), std::string::npos) << f.detail;
  DnsTarget broken = target_;
  broken.zone_file = dir_ + "/absent.yaml";
  EXPECT_FALSE(DnsSecondaryExists(broken, kNow).holds);
}

TEST(DefaultFailoverRunbook, TheSeedsStepsInOrder) {
  config::Config c;
  c.platform = "trading";
  config::RegionSpec p{"primary", config::RegionRole::kPrimary, "127.0.1.1"};
  config::RegionSpec d{"dr", config::RegionRole::kDr, "127.0.2.1"};
  config::NodeGroupSpec g;
  g.name = "trader";
  g.production_size = 3;
  d.node_groups = {g};
  c.regions = {p, d};
  runbook::RunbookSpec r = DefaultFailoverRunbook(c, "api", "controller");
  std::vector<std::string> kinds;
  for (const auto& s : r.steps) kinds.push_back(s.kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"scale", "fence", "promote", "wait_healthy", "dns",
                                             "notify"}));
  EXPECT_EQ(r.steps[0].name, "scale up DR trader to production size (3)");
  EXPECT_EQ(r.steps[0].params.at("until"), "answering");  // DR's database is still a standby
  Result<ControllerSpec> spec = DefaultLabSpec(c, "/tmp/lab", {});
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->primary_check, "primary-postgres");
  EXPECT_EQ(spec->checks[0].vantages.size(), 4u);  // three in process (one site) + DR's agent
  EXPECT_TRUE(spec->checks[0].must_be_writable);
  EXPECT_FALSE(spec->policy.gate_release);  // no artifacts bucket: nothing to check
  EXPECT_EQ(spec->state_dir, "/tmp/lab/controller");
}

}  // namespace
}  // namespace pilotlight::controller
