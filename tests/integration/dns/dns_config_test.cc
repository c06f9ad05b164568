// The embedded DNS server driven by the platform config: `pilotlight dns serve
// --config F --probe` takes its zones, listen address and reload interval from
// the config's dns section and runs the config's health checks in-process, so
// the failover record follows a real server going away. `dns show` and `dns set`
// take the same --config.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "dns_test_util.h"
#include "health/test_servers.h"
#include "sys/process.h"
#include "testing/scratch_dir.h"

namespace pilotlight {
namespace {

using pilotlight::testing::ScratchDir;

using namespace std::chrono_literals;
using testing::CommandResult;
using testing::DigSection;
using testing::LastFields;
using testing::RunPilotlight;
using testing::WaitFor;

class DnsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
    config_ = dir_ + "/platform.yaml";
    overrides_ = dir_ + "/overrides";
    primary_.emplace();
    dr_.emplace();
    port_ = testing::PickPort("127.0.0.1");
    const auto check = [](const std::string& name, uint16_t port) {
      return "  - {name: " + name + ", type: http, host: 127.0.0.1, port: " + std::to_string(port) +
             ", path: /ok, interval: 100ms, failure_threshold: 2, success_threshold: 1}\n";
    };
    std::ofstream(config_)
        << "platform: dns-config\n"
           "regions:\n"
           "  - {name: primary, role: primary, address: 127.0.1.1}\n"
           "  - {name: dr, role: dr, address: 127.0.2.1}\n"
           "health_checks:\n"
        << check("primary-api", primary_->port()) << check("dr-api", dr_->port())
        << "dns:\n"
           "  listen: 127.0.0.1:"
        << port_
        << "\n"
           "  reload_interval: 50ms\n"
           "  zones:\n"
           "    - origin: pilotlight.test.\n"
           "      ns: [ns1]\n"
           "      records:\n"
           "        - {name: ns1, type: A, values: [127.0.3.1]}\n"
           "        - name: api\n"
           "          type: A\n"
           "          ttl: 5\n"
           "          failover:\n"
           "            primary: {values: [127.0.1.10], health_check: primary-api}\n"
           "            secondary: {values: [127.0.2.10], health_check: dr-api}\n";
  }

  void TearDown() override {
    if (pid_ > 0) {
      sys::SignalGroup(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "dns serve did not stop cleanly: " << testing::ReadAll(dir_ + "/serve.log");
    }
    std::filesystem::remove_all(dir_);
  }

  // `dns serve --config F --probe`: no --listen, the config says where.
  void Serve() {
    sys::SpawnSpec spec;
    spec.argv = {PILOTLIGHT_BIN, "dns",         "serve",    "--config",      config_,
                 "--probe",      "--overrides", overrides_, "--udp-workers", "1"};
    spec.log_file = dir_ + "/serve.log";
    Result<pid_t> pid = sys::SpawnDaemon(spec);
    ASSERT_TRUE(pid.ok()) << pid.status().ToString();
    pid_ = *pid;
  }

  std::vector<std::string> Api() const {
    return LastFields(
        DigSection(testing::Dig("127.0.0.1", port_, {"api.pilotlight.test.", "A"}), "ANSWER"));
  }
  CommandResult Set(const std::string& to) {
    return RunPilotlight(
        {"dns", "set", "api", "--to", to, "--config", config_, "--overrides", overrides_});
  }

  ScratchDir scratch_{"dns-config"};
  std::string dir_, config_, overrides_;
  std::optional<health::testing::HttpTestServer> primary_, dr_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(DnsConfigTest, ProbedChecksMoveTheFailoverRecord) {
  Serve();
  const std::vector<std::string> kPrimary = {"127.0.1.10"}, kSecondary = {"127.0.2.10"};
  ASSERT_TRUE(WaitFor(10s, [&] { return Api() == kPrimary; }))
      << testing::ReadAll(dir_ + "/serve.log");
  EXPECT_NE(testing::ReadAll(dir_ + "/serve.log").find("probing 2 health check(s)"),
            std::string::npos);

  // The operator's override, through the same config.
  CommandResult set = Set("secondary");
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_TRUE(WaitFor(5s, [&] { return Api() == kSecondary; }));
  ASSERT_EQ(Set("auto").exit_code, 0);
  EXPECT_TRUE(WaitFor(5s, [&] { return Api() == kPrimary; }));
  EXPECT_NE(Set("weights:primary=1").exit_code, 0) << "api fails over; it has no weights";

  // The primary's server goes away: two failed probes 100 ms apart, then a reload.
  primary_.reset();
  const auto gone = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor(5s, [&] { return Api() == kSecondary; }))
      << testing::ReadAll(dir_ + "/serve.log");
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - gone);
  std::cerr << "api answered the secondary " << took.count()
            << " ms after the primary's server stopped\n";
  EXPECT_LT(took, 2000ms);

  // Both down: the primary answers again (Route 53 semantics).
  dr_.reset();
  EXPECT_TRUE(WaitFor(5s, [&] { return Api() == kPrimary; }));
}

TEST_F(DnsConfigTest, ShowReadsTheConfigsZones) {
  CommandResult r = RunPilotlight({"dns", "show", "--config", config_, "--overrides", overrides_,
                                   "--health", "primary-api=unhealthy", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["origin"], "pilotlight.test.");
  bool found = false;
  for (const auto& rec : j[0]["records"]) {
    if (rec["name"] != "api.pilotlight.test.") continue;
    found = true;
    EXPECT_EQ(rec["policy"], "failover");
    EXPECT_EQ(rec["sets"][0]["answering"], false);
    EXPECT_EQ(rec["sets"][1]["answering"], true);
  }
  EXPECT_TRUE(found) << r.out;
}

TEST_F(DnsConfigTest, BadCombinationsAreRefused) {
  CommandResult both =
      RunPilotlight({"dns", "show", "--config", config_, "--zone-file", DNS_TEST_ZONE});
  EXPECT_NE(both.exit_code, 0);
  CommandResult neither = RunPilotlight({"dns", "show"});
  EXPECT_NE(neither.exit_code, 0);
  EXPECT_NE(neither.err.find("--zone-file FILE or --config FILE"), std::string::npos)
      << neither.err;
  CommandResult probe = RunPilotlight({"dns", "serve", "--zone-file", DNS_TEST_ZONE, "--probe",
                                       "--listen", "127.0.0.1:" + std::to_string(port_)});
  EXPECT_NE(probe.exit_code, 0);
  EXPECT_NE(probe.err.find("--probe needs --config"), std::string::npos) << probe.err;
  // A config whose dns section is wrong is refused with its line.
  std::ofstream(config_, std::ios::app) << "        - {name: www, type: CNAME, values: [a, b]}\n";
  CommandResult bad = RunPilotlight({"dns", "show", "--config", config_});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find(config_ + ":22:"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("exactly one CNAME target"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace pilotlight
