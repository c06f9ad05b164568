// The embedded DNS server end to end: `pilotlight dns serve` on a free loopback port,
// queried with dig (UDP and TCP), with health flipped through the health file and
// routing changed with `pilotlight dns set`, the way an operator or the controller
// would.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "dns_test_util.h"
#include "sys/process.h"
#include "testing/scratch_dir.h"

namespace pilotlight {
namespace {

using pilotlight::testing::ScratchDir;

using namespace std::chrono_literals;
using testing::Dig;
using testing::DigSection;
using testing::DigStatus;
using testing::LastFields;
using testing::WaitFor;

// The health checks' probe interval in the lab: a DNS answer must follow a health
// change within one such interval.
constexpr auto kProbeInterval = 1000ms;

class DnsServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
    health_file_ = dir_ + "/health";
    overrides_ = dir_ + "/overrides";
    port_ = testing::PickPort("127.0.0.1");
    WriteHealth("primary-api=healthy\ndr-api=healthy\n");
    sys::SpawnSpec spec;
    spec.argv = {PILOTLIGHT_BIN,
                 "dns",
                 "serve",
                 "--zone-file",
                 DNS_TEST_ZONE,
                 "--listen",
                 "127.0.0.1:" + std::to_string(port_),
                 "--health-file",
                 health_file_,
                 "--overrides",
                 overrides_,
                 "--reload-interval",
                 "100ms",
                 "--udp-workers",
                 "2"};
    spec.log_file = dir_ + "/serve.log";
    Result<pid_t> pid = sys::SpawnDaemon(spec);
    ASSERT_TRUE(pid.ok()) << pid.status().ToString();
    pid_ = *pid;
    ASSERT_TRUE(WaitFor(10s, [&] {
      return DigStatus(Dig("api.pilotlight.test.", "A")) == "NOERROR";
    })) << testing::ReadAll(spec.log_file);
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

  std::string Dig(const std::string& name, const std::string& type,
                  std::vector<std::string> extra = {}) const {
    extra.insert(extra.begin(), {name, type});
    return testing::Dig("127.0.0.1", port_, extra);
  }
  std::vector<std::string> Addresses(const std::string& name, std::vector<std::string> extra = {}) {
    return LastFields(DigSection(Dig(name, "A", std::move(extra)), "ANSWER"));
  }
  void WriteHealth(const std::string& text) {
    std::ofstream(health_file_ + ".tmp") << text;
    std::filesystem::rename(health_file_ + ".tmp", health_file_);
  }
  testing::CommandResult Set(const std::string& name, const std::string& to) {
    return testing::RunPilotlight(
        {"dns", "set", name, "--to", to, "--zone-file", DNS_TEST_ZONE, "--overrides", overrides_});
  }
  uint32_t Serial() {
    std::vector<std::string> soa = DigSection(Dig("pilotlight.test.", "SOA"), "ANSWER");
    if (soa.size() != 1) return 0;
    std::istringstream in(soa[0]);
    std::string f;
    std::vector<std::string> fields;
    while (in >> f) fields.push_back(f);
    return fields.size() == 11 ? static_cast<uint32_t>(std::stoul(fields[6])) : 0;
  }

  ScratchDir scratch_{"dns-test"};
  std::string dir_;
  std::string health_file_;
  std::string overrides_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(DnsServeTest, FailsOverToDrWithinOneProbeInterval) {
  const std::string out = Dig("api.pilotlight.test.", "A");
  EXPECT_EQ(DigStatus(out), "NOERROR");
  EXPECT_NE(out.find(" aa"), std::string::npos) << out;  // authoritative
  EXPECT_EQ(Addresses("api.pilotlight.test."), std::vector<std::string>{"127.0.1.10"});
  const uint32_t serial_before = Serial();
  ASSERT_NE(serial_before, 0u);

  WriteHealth("primary-api=unhealthy\ndr-api=healthy\n");
  const auto changed = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor(5s, [&] {
    return Addresses("api.pilotlight.test.") == std::vector<std::string>{"127.0.2.10"};
  }));
  const auto took = std::chrono::steady_clock::now() - changed;
  EXPECT_LT(took, kProbeInterval)
      << "DR answer took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
      << " ms";
  EXPECT_GT(Serial(), serial_before);
  // The CNAME follows, and both unhealthy answers the primary (Route 53 semantics).
  EXPECT_EQ(Addresses("www.pilotlight.test.").back(), "127.0.2.10");
  WriteHealth("primary-api=unhealthy\ndr-api=unhealthy\n");
  EXPECT_TRUE(WaitFor(5s, [&] {
    return Addresses("api.pilotlight.test.") == std::vector<std::string>{"127.0.1.10"};
  }));
}

TEST_F(DnsServeTest, NegativeAnswers) {
  const std::string nx = Dig("nonexistent.pilotlight.test.", "A");
  EXPECT_EQ(DigStatus(nx), "NXDOMAIN") << nx;
  const std::vector<std::string> authority = DigSection(nx, "AUTHORITY");
  ASSERT_EQ(authority.size(), 1u) << nx;
  EXPECT_NE(authority[0].find("SOA"), std::string::npos) << nx;
  EXPECT_EQ(authority[0].rfind("pilotlight.test.", 0), 0u) << nx;

  const std::string nodata = Dig("info.pilotlight.test.", "A");
  EXPECT_EQ(DigStatus(nodata), "NOERROR");
  EXPECT_TRUE(DigSection(nodata, "ANSWER").empty());
  EXPECT_EQ(DigSection(nodata, "AUTHORITY").size(), 1u) << nodata;

  const std::string refused = Dig("example.org.", "A");
  EXPECT_EQ(DigStatus(refused), "REFUSED") << refused;
  EXPECT_TRUE(DigSection(refused, "ANSWER").empty());
  EXPECT_EQ(refused.find(" ra"), std::string::npos);  // no recursion offered
}

TEST_F(DnsServeTest, TcpAndTruncation) {
  EXPECT_EQ(Addresses("api.pilotlight.test.", {"+tcp"}), std::vector<std::string>{"127.0.1.10"});
  // Without EDNS a UDP answer holds 512 bytes: 40 addresses do not fit.
  const std::string truncated = Dig("many.pilotlight.test.", "A", {"+noedns", "+ignore"});
  EXPECT_NE(truncated.find(" tc"), std::string::npos) << truncated;
  EXPECT_TRUE(DigSection(truncated, "ANSWER").empty());
  // dig retries over TCP by itself and gets all of them.
  const std::string retried = Dig("many.pilotlight.test.", "A", {"+noedns"});
  EXPECT_NE(retried.find("Truncated, retrying in TCP mode"), std::string::npos) << retried;
  EXPECT_EQ(DigSection(retried, "ANSWER").size(), 40u);
  // With EDNS (dig's default 1232 bytes) it fits in UDP.
  EXPECT_EQ(DigSection(Dig("many.pilotlight.test.", "A"), "ANSWER").size(), 40u);
}

TEST_F(DnsServeTest, OperatorOverridesFailoverAndWeights) {
  testing::CommandResult r = Set("api", "secondary");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(WaitFor(5s, [&] {
    return Addresses("api.pilotlight.test.") == std::vector<std::string>{"127.0.2.10"};
  }));
  ASSERT_EQ(Set("api.pilotlight.test.", "auto").exit_code, 0);
  EXPECT_TRUE(WaitFor(5s, [&] {
    return Addresses("api.pilotlight.test.") == std::vector<std::string>{"127.0.1.10"};
  }));

  EXPECT_EQ(Addresses("trade.pilotlight.test."), std::vector<std::string>{"127.0.1.20"});
  ASSERT_EQ(Set("trade", "weights:primary=0,dr=100").exit_code, 0);
  EXPECT_TRUE(WaitFor(5s, [&] {
    return Addresses("trade.pilotlight.test.") == std::vector<std::string>{"127.0.2.20"};
  }));
  // Half and half: both addresses show up over a few queries.
  ASSERT_EQ(Set("trade", "weights:primary=50,dr=50").exit_code, 0);
  std::set<std::string> seen;
  EXPECT_TRUE(WaitFor(5s, [&] {
    for (const std::string& a : Addresses("trade.pilotlight.test.")) seen.insert(a);
    return seen.size() == 2;
  }));

  // Mistakes are refused with a reason, and change nothing.
  testing::CommandResult wrong = Set("trade", "secondary");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("weighted"), std::string::npos) << wrong.err;
  EXPECT_NE(Set("info", "secondary").exit_code, 0);
  EXPECT_NE(Set("example.org.", "secondary").exit_code, 0);
}

TEST_F(DnsServeTest, ShowReportsWhatIsAnswered) {
  WriteHealth("primary-api=unhealthy\n");
  testing::CommandResult r =
      testing::RunPilotlight({"dns", "show", "--zone-file", DNS_TEST_ZONE, "--health-file",
                              health_file_, "--overrides", overrides_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  bool found = false;
  for (const auto& rec : j[0]["records"]) {
    if (rec["name"] != "api.pilotlight.test." || rec["type"] != "A") continue;
    found = true;
    EXPECT_EQ(rec["policy"], "failover");
    EXPECT_EQ(rec["sets"][0]["answering"], false);
    EXPECT_EQ(rec["sets"][1]["answering"], true);
    EXPECT_EQ(rec["sets"][0]["health"], "primary-api unhealthy");
  }
  EXPECT_TRUE(found) << r.out;
}

}  // namespace
}  // namespace pilotlight
