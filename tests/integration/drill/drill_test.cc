// `pilotlight drill run --scenario ...` on a config of the test's own (127.N.x
// addresses, free ports, a DNS server on 127.N.3.1): the drill brings its lab
// up and down itself, sends its load through the DNS name, and its report must
// show what the scenario expects, measured and passed.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <vector>

#include "lab_fixture.h"
#include "sys/process.h"

namespace pilotlight {
namespace {

using json = nlohmann::json;
using testing::RunPilotlight;

// Runs one drill on a fresh test lab (with its DNS server) and returns the
// parsed report (a discarded JSON when there is none).
struct DrillRun {
  testing::CommandResult result;
  json report;
  std::string out;
  std::string history;
};

DrillRun RunDrill(const std::string& scenario, const std::string& replication_yaml = "",
                  const std::string& extra_yaml = "",
                  const std::vector<std::string>& flags = {}) {
  testing::TestLab lab = testing::MakeTestLab(
      "replication:\n  heartbeat_interval: 200ms\n" + replication_yaml + extra_yaml,
      /*trader_production_size=*/2, /*trader_pilot_light_size=*/1, /*with_dns=*/true);
  DrillRun run;
  run.out = lab.dir + "/drill";
  run.history = lab.dir + "/history.db";
  std::vector<std::string> args = {"drill",          "run",   "--scenario", scenario,
                                   "--config",       lab.config, "--out",  run.out,
                                   "--load-seconds", "3",     "--history", run.history,
                                   "--json"};
  args.insert(args.end(), flags.begin(), flags.end());
  run.result = RunPilotlight(args);
  std::cerr << run.result.err;
  run.report = json::parse(run.result.out, nullptr, /*allow_exceptions=*/false);
  std::cerr << "[ measured ] " << run.report.dump(2) << "\n";
  // The lab is down: nothing listens on its PostgreSQL ports or its DNS port.
  EXPECT_FALSE(std::filesystem::exists(run.out + "/lab"));
  EXPECT_TRUE(sys::CheckPortFree(lab.primary_address, lab.primary_pg).ok());
  EXPECT_TRUE(sys::CheckPortFree(lab.dr_address, lab.dr_pg).ok());
  EXPECT_TRUE(sys::CheckPortFree(lab.dns_address, lab.dns_port).ok());
  std::filesystem::remove(lab.config);
  return run;
}

// Every figure a failover drill reports, and the files it leaves.
void ExpectMeasuredFailover(const DrillRun& run, const std::string& scenario, size_t steps) {
  const json& report = run.report;
  ASSERT_TRUE(report.is_object()) << run.result.out << run.result.err;
  EXPECT_EQ(report["scenario"], scenario);
  EXPECT_EQ(run.result.exit_code, 0) << run.result.err;
  EXPECT_EQ(report["passed"], true) << report.dump(2);
  EXPECT_EQ(report["expect"], "failover");
  ASSERT_TRUE(report["rto_seconds"].is_number()) << report.dump(2);
  EXPECT_GT(report["rto_seconds"].get<double>(), 0);
  EXPECT_LT(report["rto_seconds"].get<double>(), 60);
  ASSERT_TRUE(report["detection_seconds"].is_number());
  EXPECT_LE(report["detection_seconds"].get<double>(), report["rto_seconds"].get<double>());
  EXPECT_LE(report["rpo"]["database"]["seconds"].get<double>(), 1.0) << report.dump(2);
  EXPECT_EQ(report["rpo"]["objects"]["items_lost"], 0) << report.dump(2);
  EXPECT_EQ(report["duplicates"], 0);
  EXPECT_EQ(report["split_brain_writes"], 0);
  EXPECT_GT(report["acks_before_fault"].get<int>(), 0);
  EXPECT_GT(report["acks_after_fault"].get<int>(), 0);
  // DR at the baseline's rate, through the DNS name.
  ASSERT_TRUE(report["capacity_ratio"].is_number()) << report.dump(2);
  EXPECT_GE(report["capacity_ratio"].get<double>(), 0.95);
  ASSERT_EQ(report["steps"].size(), steps) << report.dump(2);
  for (const json& s : report["steps"]) {
    // A fence of an unreachable old primary is skipped (its lease expired).
    EXPECT_TRUE(s["outcome"] == "succeeded" || s["outcome"] == "skipped") << s.dump();
    EXPECT_TRUE(s["duration_seconds"].is_number()) << s.dump();
  }
  // The old primary came back refusing writes, and DNS kept answering DR.
  std::set<std::string> passed;
  for (const json& c : report["checks"]) {
    if (c["passed"] == true) passed.insert(c["name"].get<std::string>());
  }
  EXPECT_EQ(passed.count("old primary back: refuses writes"), 1u) << report.dump(2);
  EXPECT_EQ(passed.count("DNS answers DR with the old primary back"), 1u) << report.dump(2);
  EXPECT_EQ(json::parse(testing::ReadAll(run.out + "/report.json")), report);
  EXPECT_NE(testing::ReadAll(run.out + "/report.md").find("PASSED"), std::string::npos);
  EXPECT_NE(testing::ReadAll(run.out + "/report.html").find("<svg"), std::string::npos);
}

TEST(DrillTest, RegionOutageThroughDnsIsMeasuredAndRecorded) {
  DrillRun run = RunDrill("region-outage");
  ExpectMeasuredFailover(run, "region-outage", 6);
  // The drill history has it.
  testing::CommandResult h =
      RunPilotlight({"drill", "history", "--db", run.history, "--json"});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  EXPECT_NE(h.out.find("region-outage"), std::string::npos) << h.out;
  std::filesystem::remove_all(std::filesystem::path(run.out).parent_path());
}

TEST(DrillTest, SynchronousReplicationLosesNoAcknowledgedOrder) {
  DrillRun run = RunDrill("region-outage", "", "", {"--synchronous"});
  ExpectMeasuredFailover(run, "region-outage", 6);
  ASSERT_TRUE(run.report.is_object());
  EXPECT_EQ(run.report["rpo"]["database"]["items_lost"], 0) << run.report.dump(2);
  EXPECT_EQ(run.report["rpo"]["database"]["seconds"], 0) << run.report.dump(2);
  bool checked = false;
  for (const json& c : run.report["checks"]) {
    if (c["name"] == "synchronous: no acknowledged order lost") checked = c["passed"] == true;
  }
  EXPECT_TRUE(checked) << run.report.dump(2);
  std::filesystem::remove_all(std::filesystem::path(run.out).parent_path());
}

TEST(DrillTest, DbCrashFailsOverOnceTheLeaseRunsOut) {
  DrillRun run = RunDrill("db-crash");
  ExpectMeasuredFailover(run, "db-crash", 6);
  std::filesystem::remove_all(std::filesystem::path(run.out).parent_path());
}

TEST(DrillTest, GrayFailureFailsOverAndTheResumedPrimaryRefusesWrites) {
  DrillRun run = RunDrill("gray-failure");
  ExpectMeasuredFailover(run, "gray-failure", 6);
  std::filesystem::remove_all(std::filesystem::path(run.out).parent_path());
}

TEST(DrillTest, NetworkPartitionedPrimaryFencesItselfAndDrFailsOver) {
  // The lease on the third site, which the partition cuts the primary off from.
  DrillRun run = RunDrill("network-partition", "",
                          "controller:\n  lease:\n    listen: {site}:{site_port}\n");
  ExpectMeasuredFailover(run, "network-partition", 6);
  bool fenced = false;
  for (const json& c : run.report["checks"]) {
    if (c["name"] == "old primary fenced itself") fenced = c["passed"] == true;
  }
  EXPECT_TRUE(fenced) << run.report.dump(2);
  std::filesystem::remove_all(std::filesystem::path(run.out).parent_path());
}

TEST(DrillTest, AppCrashRecoversInPlaceWithoutFailover) {
  DrillRun run = RunDrill("app-crash");
  const json& report = run.report;
  ASSERT_TRUE(report.is_object()) << run.result.out << run.result.err;
  EXPECT_EQ(run.result.exit_code, 0) << run.result.err;
  EXPECT_EQ(report["passed"], true) << report.dump(2);
  EXPECT_EQ(report["expect"], "no-failover");
  EXPECT_TRUE(report["steps"].empty()) << report.dump(2);
  ASSERT_TRUE(report["rto_seconds"].is_number()) << report.dump(2);
  EXPECT_GT(report["acks_after_fault"].get<int>(), 0);
  EXPECT_EQ(report["rpo"]["database"]["items_lost"], 0) << report.dump(2);
  EXPECT_EQ(report["duplicates"], 0);
  std::filesystem::remove_all(std::filesystem::path(run.out).parent_path());
}

TEST(DrillTest, ReplicaLagRefusesFailoverAndSaysWhy) {
  DrillRun run = RunDrill("replica-lag", "  max_lag_on_failover: 2s\n");
  const json& report = run.report;
  ASSERT_TRUE(report.is_object()) << run.result.out << run.result.err;
  EXPECT_EQ(run.result.exit_code, 0) << run.result.err;
  EXPECT_EQ(report["passed"], true) << report.dump(2);
  EXPECT_EQ(report["expect"], "refused");
  EXPECT_TRUE(report["steps"].empty()) << report.dump(2);
  bool refused = false;
  for (const json& c : report["checks"]) {
    const std::string detail = c["detail"].get<std::string>();
    // Blocked, and saying what DR lacks: its lag, or the WAL at risk in bytes.
    if (c["passed"] == true && detail.find("blocked:") != std::string::npos &&
        (detail.find("lag") != std::string::npos ||
         detail.find("bytes of WAL not received") != std::string::npos)) {
      refused = true;
    }
  }
  EXPECT_TRUE(refused) << report.dump(2);
  std::filesystem::remove_all(std::filesystem::path(run.out).parent_path());
}

TEST(DrillTest, UnknownScenarioIsRefused) {
  testing::CommandResult r = RunPilotlight({"drill", "run", "--scenario", "meteor"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("the scenarios are region-outage, db-crash"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pilotlight
