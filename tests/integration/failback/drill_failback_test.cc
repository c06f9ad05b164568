// `pilotlight drill run --failback`: after the region-outage drill's failover has
// passed, the drill runs `pilotlight failback` against its lab, times it, and
// checks that no acknowledged order is lost and that the primary takes orders
// through the DNS name again.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "lab_fixture.h"

namespace pilotlight {
namespace {

using json = nlohmann::json;
using testing::RunPilotlight;

TEST(DrillFailbackTest, RegionOutageDrillFailsBackWithNoAcknowledgedOrderLost) {
  testing::TestLab lab = testing::MakeTestLab("replication:\n  heartbeat_interval: 200ms\n",
                                              /*trader_production_size=*/2,
                                              /*trader_pilot_light_size=*/1, /*with_dns=*/true);
  const std::string out = lab.dir + "/drill";
  testing::CommandResult r = RunPilotlight(
      {"drill", "run", "--scenario", "region-outage", "--failback", "--config", lab.config, "--out",
       out, "--load-seconds", "3", "--history", lab.dir + "/history.db", "--json"});
  std::cerr << r.err;
  const json report = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(report.is_object()) << r.out << r.err;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(report["passed"], true) << report.dump(2);
  std::map<std::string, json> checks;
  for (const json& c : report["checks"]) checks[c["name"].get<std::string>()] = c;
  for (const std::string& name :
       std::vector<std::string>{"failback succeeded", "failback: 0 acknowledged orders lost",
                                "failback: DNS answers the primary",
                                "failback: the primary takes orders through " + lab.service_name}) {
    ASSERT_EQ(checks.count(name), 1u) << name << "\n" << report["checks"].dump(2);
    EXPECT_EQ(checks[name]["passed"], true) << checks[name].dump();
    std::cerr << "[ measured ] " << name << ": " << checks[name]["detail"].get<std::string>()
              << "\n";
  }
  EXPECT_TRUE(std::filesystem::exists(out + "/failback.txt"));
  // The lab is down afterwards, as after every drill.
  RunPilotlight(lab.Args({"down", "--purge"}));
  std::filesystem::remove(lab.config);
}

}  // namespace
}  // namespace pilotlight
