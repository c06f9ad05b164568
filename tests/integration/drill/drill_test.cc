// `pilotlight drill run --scenario region-outage` on a config of the test's own
// (127.N.x addresses, free ports): the drill brings its lab up and down itself,
// and its report must show a measured, passed failover.
#include <gtest/gtest.h>

#include <filesystem>

#include "lab_fixture.h"
#include "sys/process.h"

namespace pilotlight {
namespace {

using json = nlohmann::json;
using testing::RunPilotlight;

TEST(DrillTest, RegionOutageIsMeasuredAndPasses) {
  // The lab fixture writes the config; the drill makes the lab from it.
  testing::TestLab lab = testing::MakeTestLab("replication:\n  heartbeat_interval: 200ms\n",
                                              /*trader_production_size=*/2,
                                              /*trader_pilot_light_size=*/1);
  const std::string out = lab.dir + "/drill";
  testing::CommandResult r = RunPilotlight({"drill", "run", "--scenario", "region-outage",
                                            "--config", lab.config, "--out", out,
                                            "--load-seconds", "3", "--json"});
  std::cerr << r.err;
  json report = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(report.is_object()) << r.out << r.err;
  std::cerr << "[ measured ] " << report.dump(2) << "\n";
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(report["scenario"], "region-outage");
  EXPECT_EQ(report["passed"], true) << report.dump(2);
  ASSERT_TRUE(report["rto_seconds"].is_number()) << report.dump(2);
  EXPECT_GT(report["rto_seconds"].get<double>(), 0);
  EXPECT_LT(report["rto_seconds"].get<double>(), 60);
  ASSERT_TRUE(report["detection_seconds"].is_number());
  EXPECT_LE(report["detection_seconds"].get<double>(), report["rto_seconds"].get<double>());
  EXPECT_EQ(report["rpo"]["database"]["items_lost"], 0) << report.dump(2);
  EXPECT_EQ(report["duplicates"], 0);
  EXPECT_EQ(report["split_brain_writes"], 0);
  EXPECT_GT(report["acks_before_fault"].get<int>(), 0);
  EXPECT_GT(report["acks_after_fault"].get<int>(), 0);
  EXPECT_TRUE(report["capacity_ratio"].is_null());
  // Every step of the failover runbook, timed.
  ASSERT_EQ(report["steps"].size(), 6u) << report.dump(2);
  for (const json& s : report["steps"]) {
    // A fence of an unreachable old primary is skipped (its lease expired).
    EXPECT_TRUE(s["outcome"] == "succeeded" || s["outcome"] == "skipped") << s.dump();
    EXPECT_TRUE(s["duration_seconds"].is_number()) << s.dump();
  }
  // The report files, and the lab down: nothing listens on its PostgreSQL ports.
  EXPECT_EQ(json::parse(testing::ReadAll(out + "/report.json")), report);
  EXPECT_NE(testing::ReadAll(out + "/report.md").find("PASSED"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(out + "/lab"));
  EXPECT_TRUE(sys::CheckPortFree(lab.primary_address, lab.primary_pg).ok());
  EXPECT_TRUE(sys::CheckPortFree(lab.dr_address, lab.dr_pg).ok());
  std::filesystem::remove_all(lab.dir);
  std::filesystem::remove(lab.config);
}

TEST(DrillTest, UnknownScenarioIsRefused) {
  testing::CommandResult r = RunPilotlight({"drill", "run", "--scenario", "meteor"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("the only scenario is region-outage"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pilotlight
