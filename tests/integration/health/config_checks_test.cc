// Detection driven by the config's own sections, through the pilotlight binary:
// `checks` and `watch` run the config's health_checks, alarms and topics (not
// the checks derived from the regions), against real local servers; a file
// subscriber's relative path starts at the config file's directory; a webhook
// secret named by an unset environment variable stops detection with its line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "health/test_servers.h"
#include "test_util.h"
#include "testing/scratch_dir.h"

namespace pilotlight {
namespace {

using pilotlight::testing::ScratchDir;

using testing::CommandResult;
using testing::RunPilotlight;

class ConfigChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
    config_ = dir_ + "/platform.yaml";
  }

  // Regions nobody probes here; the checks below name their own targets.
  void WriteConfig(const std::string& sections) {
    std::ofstream(config_) << "platform: config-checks\n"
                              "regions:\n"
                              "  - {name: primary, role: primary, address: 127.0.1.1}\n"
                              "  - {name: dr, role: dr, address: 127.0.2.1}\n"
                           << sections;
  }

  std::string Sections(uint16_t http_port, uint16_t closed_port) const {
    const std::string http = std::to_string(http_port);
    const std::string closed = std::to_string(closed_port);
    return "health_checks:\n"
           "  - {name: web, type: http, host: 127.0.0.1, port: " +
           http +
           ", path: /ok, body_contains: ready, interval: 100ms}\n"
           "  - {name: socket, type: tcp, host: 127.0.0.1, port: " +
           http +
           ", interval: 100ms}\n"
           "  - {name: gone, type: tcp, host: 127.0.0.1, port: " +
           closed +
           ", interval: 100ms, failure_threshold: 1}\n"
           "  - {name: site, type: calculated, children: [web, socket], topics: [ops]}\n"
           "alarms:\n"
           "  - {name: gone-down, check: gone, period: 200ms, topics: [ops]}\n"
           "topics:\n"
           "  - name: ops\n"
           "    subscribers:\n"
           "      - {name: log, type: file, path: out/events.jsonl}\n"
           "detection:\n"
           "  alarm_evaluation_interval: 50ms\n";
  }

  ScratchDir scratch_{"config-checks"};
  std::string dir_;
  std::string config_;
};

TEST_F(ConfigChecksTest, ChecksRunsTheConfiguredChecksAndAlarms) {
  health::testing::HttpTestServer server;
  const testing::ClosedPort closed;
  WriteConfig(Sections(server.port(), closed.port()));
  CommandResult r = RunPilotlight({"checks", "--json", "--config", config_, "--wait", "10s"});
  EXPECT_EQ(r.exit_code, 3) << r.err;  // one check is down
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out << r.err;
  std::map<std::string, std::string> status;
  for (const auto& c : j["checks"]) status[c["name"]] = c["status"];
  // Exactly the configured checks: none derived from the regions.
  EXPECT_EQ(
      status,
      (std::map<std::string, std::string>{
          {"web", "healthy"}, {"socket", "healthy"}, {"gone", "unhealthy"}, {"site", "healthy"}}))
      << r.out;
  ASSERT_EQ(j["alarms"].size(), 1u) << r.out;
  EXPECT_EQ(j["alarms"][0]["name"], "gone-down");
  EXPECT_EQ(j["alarms"][0]["state"], "ALARM") << r.out;
  EXPECT_GT(server.connections(), 0);
}

TEST_F(ConfigChecksTest, WatchPublishesToTheConfiguredFileBesideTheConfig) {
  health::testing::HttpTestServer server;
  const testing::ClosedPort closed;
  WriteConfig(Sections(server.port(), closed.port()));
  ASSERT_NE(std::filesystem::current_path(), std::filesystem::path(dir_));
  CommandResult r = RunPilotlight({"watch", "--json", "--config", config_, "--duration", "3s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Relative to the config file, not to the working directory.
  const std::string events = dir_ + "/out/events.jsonl";
  ASSERT_TRUE(std::filesystem::exists(events)) << r.err;
  bool site_healthy = false, alarm_fired = false;
  std::istringstream lines(testing::ReadAll(events));
  std::string line;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    if (j["type"] == "check") {
      EXPECT_EQ(j["check"], "site") << "only site publishes to ops: " << line;
      site_healthy = site_healthy || j["to"] == "healthy";
    }
    if (j["type"] == "alarm" && j["alarm"] == "gone-down" && j["to"] == "ALARM") alarm_fired = true;
  }
  EXPECT_TRUE(site_healthy) << testing::ReadAll(events);
  EXPECT_TRUE(alarm_fired) << testing::ReadAll(events);
  // stdout carries every transition, including checks that publish nowhere.
  EXPECT_NE(r.out.find("\"gone\""), std::string::npos) << r.out;
}

TEST_F(ConfigChecksTest, UnsetWebhookSecretIsAnErrorWithItsLine) {
  WriteConfig(
      "health_checks:\n"                                                       // 5
      "  - {name: web, type: tcp, host: 127.0.0.1, port: 1, topics: [ops]}\n"  // 6
      "topics:\n"                                                              // 7
      "  - name: ops\n"                                                        // 8
      "    subscribers:\n"                                                     // 9
      "      - name: hook\n"                                                   // 10
      "        type: webhook\n"                                                // 11
      "        url: http://127.0.0.1:9/hook\n"                                 // 12
      "        secret_env: PILOTLIGHT_TEST_SECRET_NEVER_SET\n");               // 13
  unsetenv("PILOTLIGHT_TEST_SECRET_NEVER_SET");
  CommandResult r = RunPilotlight({"checks", "--config", config_, "--wait", "1s"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(config_ + ":13:21: topics[0].subscribers[0].secret_env"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("PILOTLIGHT_TEST_SECRET_NEVER_SET"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pilotlight
