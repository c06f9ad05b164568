// The monitor end to end on one event loop, against local servers: statuses
// move through the thresholds, a blackholed vantage point is outvoted, a silent
// server does not stop other checks, calculated checks follow. How late probes
// start beside a silent server is a timing claim: bench/health measures it
// (health_bench --silent), no unit test asserts it.
#include "health/monitor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "health/test_servers.h"
#include "testing/ports.h"
#include "testing/wait.h"

namespace pilotlight::health {
namespace {

using namespace std::chrono_literals;
using pilotlight::testing::WaitFor;

class Recorder : public HealthListener {
 public:
  void OnProbe(const CheckSpec& check, const VantageSpec& vantage, const ProbeResult& r,
               HealthStatus) override {
    std::lock_guard<std::mutex> lock(mu);
    ++probes[check.name];
  }
  void OnTransitions(const std::vector<CheckTransition>& t) override {
    std::lock_guard<std::mutex> lock(mu);
    transitions.insert(transitions.end(), t.begin(), t.end());
  }
  std::mutex mu;
  std::map<std::string, int> probes;
  std::vector<CheckTransition> transitions;
};

CheckSpec Tcp(const std::string& name, uint16_t port) {
  CheckSpec s;
  s.name = name;
  s.kind = ProbeKind::kTcp;
  s.host = "127.0.0.1";
  s.port = port;
  s.interval = 100ms;
  s.timeout = 100ms;
  s.connect_timeout = 100ms;
  s.failure_threshold = 2;
  s.success_threshold = 2;
  return s;
}

TEST(HealthMonitorTest, ChecksMoveThroughThresholdsOnOneLoop) {
  testing::HttpTestServer server;
  const pilotlight::testing::ClosedPort closed_port;
  const uint16_t closed = closed_port.port();

  CheckSpec up = Tcp("up", server.port());
  CheckSpec down = Tcp("down", closed);
  CheckSpec voted = Tcp("voted", server.port());
  voted.vantages = {{"blackholed", "", closed, "", ""}, {"b", "", 0, "", ""}, {"c", "", 0, "", ""}};
  CheckSpec silent = Tcp("silent", server.port());
  silent.kind = ProbeKind::kHttp;
  silent.path = "/silent";
  CheckSpec both;
  both.name = "both";
  both.kind = ProbeKind::kCalculated;
  both.children = {"up", "voted"};

  auto made = HealthMonitor::Create(SystemClock::Instance(), {up, down, voted, silent, both});
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  HealthMonitor& monitor = **made;
  Recorder rec;
  monitor.SetListener(&rec);
  std::atomic<int> ticks{0};
  monitor.AddPeriodicTask(50ms, [&] { ++ticks; });
  ASSERT_TRUE(monitor.Start().ok());

  auto status = [&](size_t i) { return monitor.Statuses()[i]; };
  EXPECT_TRUE(WaitFor(2s, [&] {
    return status(0) == HealthStatus::kHealthy && status(1) == HealthStatus::kUnhealthy &&
           status(2) == HealthStatus::kHealthy && status(3) == HealthStatus::kUnhealthy &&
           status(4) == HealthStatus::kHealthy;
  })) << "up " << HealthStatusName(status(0)) << ", down " << HealthStatusName(status(1))
      << ", voted " << HealthStatusName(status(2)) << ", silent " << HealthStatusName(status(3))
      << ", both " << HealthStatusName(status(4));

  // Let it run a while longer, counted in probes rather than time: the
  // blackholed vantage point stays outvoted, and the silent server (every probe
  // of it times out) holds nobody up: the others and the periodic task go on.
  auto count = [&](const std::string& check) {
    std::lock_guard<std::mutex> lock(rec.mu);
    return rec.probes[check];
  };
  const int up_before = count("up"), voted_before = count("voted"), ticks_before = ticks.load();
  EXPECT_TRUE(WaitFor(10s, [&] {
    return count("up") >= up_before + 5 && count("voted") >= voted_before + 5 &&
           count("silent") >= 5 && ticks.load() >= ticks_before + 10;
  })) << "up " << count("up") << ", voted " << count("voted") << ", silent " << count("silent")
      << ", ticks " << ticks.load();
  monitor.Stop();

  std::vector<CheckState> snap = monitor.Snapshot();
  EXPECT_EQ(snap[2].status, HealthStatus::kHealthy) << snap[2].reason;
  EXPECT_EQ(snap[2].vantages[0].threshold.status, HealthStatus::kUnhealthy);
  EXPECT_NE(snap[2].vantages[0].last.detail.find("refused"), std::string::npos);
  EXPECT_NE(snap[3].vantages[0].last.detail.find("timed out after 100ms"), std::string::npos)
      << snap[3].vantages[0].last.detail;

  std::lock_guard<std::mutex> lock(rec.mu);
  // The whole-check transitions are there with their reasons.
  bool saw_down = false;
  for (const CheckTransition& t : rec.transitions) {
    if (t.check == "voted" && t.vantage.empty()) {
      EXPECT_NE(t.to, HealthStatus::kUnhealthy) << "one vantage point decided: " << t.reason;
    }
    if (t.check == "down" && t.vantage.empty()) {
      saw_down = true;
      EXPECT_EQ(t.to, HealthStatus::kUnhealthy);
      EXPECT_EQ(t.evidence.size(), 1u);
      EXPECT_NE(t.reason.find("refused"), std::string::npos) << t.reason;
    }
  }
  EXPECT_TRUE(saw_down);
  EXPECT_FALSE(monitor.History().empty());
}

TEST(HealthMonitorTest, RejectsInvalidSpecs) {
  CheckSpec s = Tcp("x", 1);
  s.timeout = 1s;  // longer than the interval
  auto made = HealthMonitor::Create(SystemClock::Instance(), {s});
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("timeout: expected more than 0 and at most the interval"),
            std::string::npos)
      << made.status().message();
}

}  // namespace
}  // namespace pilotlight::health
