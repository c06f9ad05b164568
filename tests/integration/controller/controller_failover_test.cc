// The controller on a real lab. `pilotlight controller run` watches the lab; the
// primary region's agent keeps the write lease; `lab kill-region primary` (which
// SIGKILLs the agent too) is the outage. The automated failover
// must complete: DR PostgreSQL promoted and writable, the DNS override pointing
// api at DR, every step in the journal once. Then, for every step of the
// runbook, the controller is SIGKILLed while that step runs (a test hook blocks
// it there), restarted, and must finish with exactly one promotion.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "controller_fixture.h"
#include "data/postgres/failover.h"

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::RunPilotlight;
using testing::WaitFor;

class ControllerLabTest : public testing::ControllerLabFixture {
 protected:
  void SetUp() override {
    BringUp(testing::MakeTestLab("replication:\n  heartbeat_interval: 200ms\n",
                                 /*trader_production_size=*/2, /*trader_pilot_light_size=*/1));
  }

  pid_t StartController(const std::map<std::string, std::string>& env = {}) {
    return testing::ControllerLabFixture::StartController(
        {"--interval", "200ms", "--lease-duration", "3s", "--confirm-for", "500ms"}, env);
  }
  // The controller sees the primary healthy, DR ready, and the agent holds the lease.
  void WaitUntilSteady() {
    testing::ControllerLabFixture::WaitUntilSteady("no action: primary healthy (0 of 2 sites", 30s, 15s);
  }
  // The primary region dies with its agent.
  void KillPrimaryRegion() {
    testing::CommandResult k = RunPilotlight(lab_.Args({"kill-region", "primary"}));
    ASSERT_EQ(k.exit_code, 0) << k.err;
  }
  std::vector<json> FailoverRuns() const { return Runs("failover"); }
  bool FailoverSucceeded() const {
    std::vector<json> runs = FailoverRuns();
    return runs.size() == 1 && runs[0]["outcome"] == "succeeded";
  }
  int DrTimeline() const {
    Result<std::unique_ptr<pg::Connection>> c = pg::Connection::Open(lab_.Pg(false));
    if (!c.ok()) return -1;
    Result<pg::ServerRole> role = pg::ReadServerRole(**c);
    return role.ok() ? role->timeline : -1;
  }
  // What must hold after any completed failover of this lab.
  void ExpectFailedOverOnce(int expected_attempts_total) {
    std::vector<json> runs = FailoverRuns();
    ASSERT_EQ(runs.size(), 1u) << History().dump(2);
    const json& run = runs[0];
    EXPECT_EQ(run["outcome"], "succeeded");
    // Every step finished exactly once (succeeded or skipped); attempts cut short
    // by a SIGKILL stay "pending" in the journal.
    std::map<int, int> finished;
    int rows = 0;
    int promotions = 0;
    for (const json& s : run["steps"]) {
      ++rows;
      const std::string outcome = s["outcome"];
      if (outcome == "succeeded" || outcome == "skipped") ++finished[s["index"].get<int>()];
      if (s["name"].get<std::string>().find("promote") != std::string::npos &&
          outcome == "succeeded") {
        ++promotions;
      }
    }
    EXPECT_EQ(finished.size(), 6u) << run.dump(2);
    for (const auto& [index, n] : finished) EXPECT_EQ(n, 1) << "step " << index;
    EXPECT_EQ(rows, expected_attempts_total) << run.dump(2);
    EXPECT_LE(promotions, 1);
    // DR PostgreSQL promoted exactly once (timeline 1 -> 2) and writable.
    EXPECT_EQ(DrTimeline(), 2);
    Result<std::unique_ptr<pg::Connection>> dr = pg::Connection::Open(lab_.Pg(false));
    ASSERT_TRUE(dr.ok()) << dr.status().ToString();
    EXPECT_TRUE(pg::ProbeWrite(**dr, "controller-test").ok());
    // DNS: the override points api at DR.
    const std::string overrides = testing::ReadAll(lab_.dir + "/dns/overrides");
    EXPECT_NE(overrides.find("api.lab-test.test. secondary"), std::string::npos) << overrides;
    testing::CommandResult verify = RunPilotlight(Common({"verify", "--json"}));
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  }
};

TEST_F(ControllerLabTest, RegionLossFailsOverAutomaticallyOnce) {
  const pid_t controller = StartController();
  WaitUntilSteady();
  // A manual look before the outage: the plan is ready.
  testing::CommandResult plan = RunPilotlight(Common({"failover", "--plan"}));
  EXPECT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("ready: `pilotlight failover` would run these steps"), std::string::npos)
      << plan.out;

  const auto killed_at = std::chrono::steady_clock::now();
  KillPrimaryRegion();
  ASSERT_TRUE(WaitFor(90s, [&] { return FailoverSucceeded(); }))
      << History().dump(2) << ControllerLog();
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  std::cerr << "[ measured ] region loss to failover complete: " << took << " s\n";
  ExpectFailedOverOnce(6);

  // The decisions the controller printed, with their reasons.
  const std::string log = ControllerLog();
  EXPECT_NE(log.find("wait-for-lease: waiting: primary unhealthy from 2 of 2 sites"),
            std::string::npos) << log;
  EXPECT_NE(log.find("failover: failover: primary unhealthy from 2 of 2 sites"),
            std::string::npos) << log;
  EXPECT_NE(log.find("old primary unreachable and its write lease expired"), std::string::npos);
  // It stays failed over: more cycles, no second run; status says so.
  ASSERT_TRUE(WaitFor(10s, [&] { return Status()["phase"] == "failed-over"; }));
  testing::CommandResult status = RunPilotlight(Common({"status"}));
  EXPECT_NE(status.out.find("phase failed-over"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("failback is deliberate"), std::string::npos) << status.out;
  EXPECT_EQ(FailoverRuns().size(), 1u);
  Kill(controller, SIGTERM);
}

// For each step kind: block the controller right after that step acted (its
// outcome not yet journaled), SIGKILL it, restart it without the hook.
class ControllerCrashTest : public ControllerLabTest,
                            public ::testing::WithParamInterface<const char*> {};

TEST_P(ControllerCrashTest, SigkillDuringStepResumesToOnePromotion) {
  const std::string marker = lab_.dir + "/blocked";
  const std::string hook = GetParam();
  const pid_t first = StartController(
      {{"PILOTLIGHT_TEST_BLOCK_STEP", hook}, {"PILOTLIGHT_TEST_BLOCK_MARKER", marker}});
  WaitUntilSteady();
  KillPrimaryRegion();
  ASSERT_TRUE(WaitFor(90s, [&] { return access(marker.c_str(), F_OK) == 0; }))
      << History().dump(2) << ControllerLog();
  Kill(first, SIGKILL);
  std::vector<json> runs = FailoverRuns();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["outcome"], "unfinished");

  StartController();
  ASSERT_TRUE(WaitFor(90s, [&] { return FailoverSucceeded(); }))
      << History().dump(2) << ControllerLog();
  // 6 steps, plus the attempt the SIGKILL cut short.
  ExpectFailedOverOnce(7);
  const std::string log = ControllerLog();
  EXPECT_NE(log.find("resumed and succeeded"), std::string::npos) << log;
}

INSTANTIATE_TEST_SUITE_P(Steps, ControllerCrashTest,
                         ::testing::Values("after:scale", "before:promote", "after:promote",
                                           "after:wait_healthy", "after:dns", "after:notify"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string n = info.param;
                           for (char& c : n) c = isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

// The fence step only acts on a reachable old primary: an operator's failover of
// a healthy primary. SIGKILL the manual `pilotlight failover` right after it
// fenced; the controller started next resumes the run and finishes it.
TEST_F(ControllerLabTest, SigkillDuringFenceOfManualFailoverIsResumedByTheController) {
  const std::string marker = lab_.dir + "/blocked";
  const pid_t manual = Spawn(Common({"failover"}), lab_.dir + "/failover.log",
                             {{"PILOTLIGHT_TEST_BLOCK_STEP", "after:fence"},
                              {"PILOTLIGHT_TEST_BLOCK_MARKER", marker}});
  ASSERT_TRUE(WaitFor(90s, [&] { return access(marker.c_str(), F_OK) == 0; }))
      << testing::ReadAll(lab_.dir + "/failover.log");
  Kill(manual, SIGKILL);
  // The old primary is fenced (it refuses writes) and nothing is promoted yet.
  pg::FenceState fence = pg::ReadFenceState(lab_.Pg(true));
  EXPECT_TRUE(fence.fenced()) << fence.detail;
  EXPECT_EQ(DrTimeline(), 1);

  StartController();
  ASSERT_TRUE(WaitFor(90s, [&] { return FailoverSucceeded(); }))
      << History().dump(2) << ControllerLog();
  ExpectFailedOverOnce(7);
  EXPECT_FALSE(pg::ReadFenceState(lab_.Pg(true)).reachable && !pg::ReadFenceState(lab_.Pg(true)).fenced());
}

// The operator's commands, one step at a time, on a healthy lab without a
// controller: unsafe steps are refused with the reason, each step is journaled.
TEST_F(ControllerLabTest, ManualStepsRefuseUnsafeActionsAndAreJournaled) {
  testing::CommandResult promote = RunPilotlight(Common({"promote"}));
  EXPECT_EQ(promote.exit_code, 1);
  EXPECT_NE(promote.out.find("still accepts writes; fence it first"), std::string::npos)
      << promote.out << promote.err;
  EXPECT_EQ(DrTimeline(), 1);

  testing::CommandResult scale = RunPilotlight(Common({"scale", "trader", "2"}));
  EXPECT_EQ(scale.exit_code, 0) << scale.out << scale.err;
  testing::CommandResult fence = RunPilotlight(Common({"fence"}));
  EXPECT_EQ(fence.exit_code, 0) << fence.out << fence.err;
  EXPECT_TRUE(pg::ReadFenceState(lab_.Pg(true)).fenced());

  testing::CommandResult status = RunPilotlight(Common({"status", "--json"}));
  json st = json::parse(status.out, nullptr, false);
  ASSERT_TRUE(st.is_object()) << status.out << status.err;
  EXPECT_EQ(st["controller_running"], false);
  EXPECT_EQ(st["databases"]["primary"]["detail"], "primary, fenced read-only");

  promote = RunPilotlight(Common({"promote"}));
  EXPECT_EQ(promote.exit_code, 0) << promote.out << promote.err;
  EXPECT_EQ(DrTimeline(), 2);

  // DNS not switched yet: verify says so.
  testing::CommandResult verify = RunPilotlight(Common({"verify"}));
  EXPECT_EQ(verify.exit_code, 3) << verify.out;
  EXPECT_NE(verify.out.find("FAIL DNS api answers DR"), std::string::npos) << verify.out;
  testing::CommandResult dns = RunPilotlight(
      {"dns", "set", "--zone-file", lab_.dir + "/dns/zone.yaml", "--overrides",
       lab_.dir + "/dns/overrides", "api", "--to", "secondary"});
  ASSERT_EQ(dns.exit_code, 0) << dns.err;
  verify = RunPilotlight(Common({"verify"}));
  EXPECT_EQ(verify.exit_code, 0) << verify.out;

  json h = History();
  ASSERT_TRUE(h.is_array());
  std::vector<std::string> runs;
  for (const json& run : h) runs.push_back(run["runbook"].get<std::string>() + " " +
                                           run["outcome"].get<std::string>());
  EXPECT_EQ(runs, (std::vector<std::string>{"manual-promote succeeded", "manual-fence succeeded",
                                            "manual-scale succeeded", "manual-promote failed"}));
}

}  // namespace
}  // namespace pilotlight
