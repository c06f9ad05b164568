// `pilotlight failback` on a real lab (its DNS server on the third site, the
// controller running): the round trip primary -> DR -> primary with orders
// acknowledged on both sides, and automatic failover armed again afterwards.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "controller_fixture.h"
#include "data/postgres/failover.h"
#include "data/postgres/rejoin.h"
#include "dns/dns_test_util.h"

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::RunPilotlight;
using testing::WaitFor;

class FailbackLabTest : public testing::ControllerLabFixture {
 protected:
  void SetUp() override {
    stop_signal_ = SIGTERM;
    BringUp(testing::MakeTestLab("replication:\n  heartbeat_interval: 200ms\n",
                                 /*trader_production_size=*/2, /*trader_pilot_light_size=*/1,
                                 /*with_dns=*/true));
  }

  void StartController() {
    testing::ControllerLabFixture::StartController({"--interval", "200ms", "--lease-duration", "3s",
                                                    "--confirm-for", "500ms", "--hold-down", "1s"});
  }
  void WaitUntilSteady() {
    testing::ControllerLabFixture::WaitUntilSteady("no action: primary healthy", 60s, 20s);
  }
  // `n` failover runs, the newest succeeded.
  bool FailedOver(size_t n) const {
    std::vector<json> runs = Runs("failover");
    return runs.size() == n && runs[0]["outcome"] == "succeeded";
  }
  std::unique_ptr<pg::Connection> Connect(bool primary) const {
    Result<std::unique_ptr<pg::Connection>> c = pg::Connection::Open(lab_.Pg(primary));
    return c.ok() ? std::move(*c) : nullptr;
  }
  bool Writable(bool primary) const {
    std::unique_ptr<pg::Connection> c = Connect(primary);
    return c != nullptr && pg::ProbeWrite(*c, "failback-test").ok();
  }
  // Sends `n` orders to a region's trader instances with `pilotlight load` (the
  // way clients place them); returns the client order ids it acknowledged.
  std::vector<std::string> PlaceOrders(bool primary, const std::string& tag, int n) {
    const std::string journal = lab_.dir + "/acks-" + tag + ".jsonl";
    const std::string target = "http://" + (primary ? lab_.primary_address : lab_.dr_address) +
                               ":" + std::to_string(lab_.trader_port);
    testing::CommandResult r = RunPilotlight(
        {"load", "--target", target, "--count", std::to_string(n), "--concurrency", "2",
         "--journal", journal, "--retry-deadline", "10s", "--api-keys",
         lab_.dir + "/secrets/api-keys"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    std::vector<std::string> acked;
    std::ifstream in(journal);
    std::string line;
    while (std::getline(in, line)) {
      json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j["client_order_id"].is_string()) acked.push_back(j["client_order_id"]);
    }
    return acked;
  }
  int CountOrders(bool primary, const std::vector<std::string>& ids) const {
    std::unique_ptr<pg::Connection> c = Connect(primary);
    if (c == nullptr) return -1;
    std::string list = "{";
    for (size_t i = 0; i < ids.size(); ++i) list += (i ? "," : "") + ids[i];
    list += "}";
    Result<pg::Rows> r = c->Query(
        "SELECT count(DISTINCT client_order_id)::text AS n FROM orders "
        "WHERE client_order_id = ANY($1::text[])",
        {list});
    return r.ok() && !r->empty() ? std::stoi(r->Get(0, "n").value_or("-1")) : -1;
  }
  std::vector<std::string> DnsAnswers() const {
    return testing::LastFields(testing::DigSection(
        testing::Dig(lab_.dns_address, lab_.dns_port, {lab_.service_name, "A"}), "ANSWER"));
  }

  int Timeline(bool primary) const {
    std::unique_ptr<pg::Connection> c = Connect(primary);
    if (c == nullptr) return -1;
    Result<pg::ServerRole> role = pg::ReadServerRole(*c);
    return role.ok() ? role->timeline : -1;
  }
  // Steady controller, orders on the primary (replicated), the region lost, the
  // automated failover, the old primary started again (fenced).
  std::vector<std::string> FailOverAndBringThePrimaryBack() {
    StartController();
    WaitUntilSteady();
    std::vector<std::string> acked = PlaceOrders(true, "before", 25);
    EXPECT_EQ(acked.size(), 25u);
    EXPECT_TRUE(WaitFor(15s, [&] { return CountOrders(false, acked) == 25; }));
    EXPECT_EQ(RunPilotlight(lab_.Args({"kill-region", "primary"})).exit_code, 0);
    EXPECT_TRUE(WaitFor(120s, [&] { return FailedOver(1); })) << ControllerLog();
    testing::CommandResult start = RunPilotlight(lab_.Args({"start-region", "primary"}));
    EXPECT_EQ(start.exit_code, 0) << start.err;
    EXPECT_TRUE(WaitFor(30s, [&] { return Connect(true) != nullptr; }));
    return acked;
  }
};

TEST_F(FailbackLabTest, FailoverThenFailbackLosesNoOrderAndRearmsTheController) {
  StartController();
  WaitUntilSteady();
  ASSERT_EQ(DnsAnswers(), std::vector<std::string>{lab_.primary_address});
  // Nothing to fail back from yet: --plan says so, the command refuses.
  testing::CommandResult early = RunPilotlight(Common({"failback", "--plan"}));
  EXPECT_EQ(early.exit_code, 0) << early.err;
  EXPECT_NE(early.out.find("blocked: the platform is failed over"), std::string::npos) << early.out;
  EXPECT_NE(RunPilotlight(Common({"failback"})).exit_code, 0);

  const std::vector<std::string> before = PlaceOrders(true, "before", 25);
  ASSERT_EQ(before.size(), 25u);
  // Replication is asynchronous: what the failover itself may lose is not the
  // failback's to find, so let DR have them first.
  ASSERT_TRUE(WaitFor(15s, [&] { return CountOrders(false, before) == 25; }));

  // The outage and the automated failover.
  ASSERT_EQ(RunPilotlight(lab_.Args({"kill-region", "primary"})).exit_code, 0);
  ASSERT_TRUE(WaitFor(120s, [&] { return FailedOver(1); })) << ControllerLog();
  ASSERT_TRUE(
      WaitFor(15s, [&] { return DnsAnswers() == std::vector<std::string>{lab_.dr_address}; }));
  // The old primary comes back fenced; DR takes the writes.
  testing::CommandResult start = RunPilotlight(lab_.Args({"start-region", "primary"}));
  ASSERT_EQ(start.exit_code, 0) << start.err;
  ASSERT_TRUE(WaitFor(30s, [&] { return Connect(true) != nullptr; }));
  EXPECT_FALSE(Writable(true));
  const std::vector<std::string> during = PlaceOrders(false, "during", 25);
  ASSERT_EQ(during.size(), 25u);

  testing::CommandResult plan = RunPilotlight(Common({"failback", "--plan"}));
  EXPECT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("ready: `pilotlight failback` would run these steps"), std::string::npos)
      << plan.out;
  EXPECT_NE(plan.out.find("[switchover]"), std::string::npos) << plan.out;

  const auto t0 = std::chrono::steady_clock::now();
  testing::CommandResult back = RunPilotlight(Common({"failback"}));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(back.exit_code, 0) << back.out << back.err << ControllerLog();
  std::cerr << "[ measured ] pilotlight failback: " << took << " s\n" << back.out;
  EXPECT_NE(back.out.find("succeeded"), std::string::npos) << back.out;

  // The primary writes again, with every order acknowledged on either side.
  ASSERT_TRUE(WaitFor(20s, [&] { return Writable(true); }));
  EXPECT_EQ(CountOrders(true, before), 25);
  EXPECT_EQ(CountOrders(true, during), 25);
  // DR is a standby streaming from the primary again: the pilot light.
  EXPECT_FALSE(Writable(false));
  Result<bool> streaming = pg::IsStreamingTo(lab_.Pg(true), "dr");
  ASSERT_TRUE(streaming.ok()) << streaming.status().ToString();
  EXPECT_TRUE(*streaming);
  const std::vector<std::string> after = PlaceOrders(true, "after", 5);
  ASSERT_EQ(after.size(), 5u);
  EXPECT_TRUE(WaitFor(15s, [&] { return CountOrders(false, after) == 5; }));
  // DNS answers the primary; DR's trader is back at pilot-light size.
  EXPECT_TRUE(
      WaitFor(10s, [&] { return DnsAnswers() == std::vector<std::string>{lab_.primary_address}; }));
  EXPECT_EQ(testing::ReadAll(lab_.dir + "/dr/trader.size").substr(0, 1), "1");
  // The controller re-arms: phase normal, the lease granted to the primary again.
  ASSERT_TRUE(WaitFor(20s, [&] {
    json s = Status();
    return s.is_object() && s["phase"] == "normal" && s["lease"]["revoked"] == false &&
           s["lease"]["granting"] == true;
  })) << Status().dump(2);
  EXPECT_NE(ControllerLog().find("write lease re-armed"), std::string::npos);
  // ...and the primary's agent holds it: every renewal moves the expiry on.
  const json granted = Status()["lease"]["expires_at"];
  EXPECT_TRUE(WaitFor(15s,
                      [&] {
                        json s = Status();
                        return s.is_object() && s["lease"]["expires_at"].is_string() &&
                               s["lease"]["expires_at"] != granted;
                      }))
      << Status().dump(2) << testing::ReadAll(lab_.dir + "/primary/agent.log");
  WaitUntilSteady();
  // The failback is done: a second one has nothing to do.
  testing::CommandResult again = RunPilotlight(Common({"failback"}));
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("nothing to do"), std::string::npos) << again.out;

  // Automatic failover works again.
  ASSERT_EQ(RunPilotlight(lab_.Args({"kill-region", "primary"})).exit_code, 0);
  ASSERT_TRUE(WaitFor(120s, [&] { return FailedOver(2); })) << ControllerLog();
  EXPECT_TRUE(Writable(false));
  EXPECT_EQ(CountOrders(false, after), 5);
}

// The failback process dies (SIGKILL) right after its switchover acted, before
// the outcome reached the journal; `pilotlight failback` run again resumes the
// same run, finds the switchover done, and finishes with one promotion only.
TEST_F(FailbackLabTest, SigkillRightAfterTheSwitchoverIsResumedByRunningItAgain) {
  const std::vector<std::string> before = FailOverAndBringThePrimaryBack();
  ASSERT_FALSE(HasFailure());
  const std::vector<std::string> during = PlaceOrders(false, "during", 10);
  ASSERT_EQ(during.size(), 10u);
  const int dr_timeline = Timeline(false);
  ASSERT_GT(dr_timeline, 1);

  const std::string marker = lab_.dir + "/blocked";
  const pid_t first = Spawn(Common({"failback"}), lab_.dir + "/failback-1.log",
                            {{"PILOTLIGHT_TEST_BLOCK_STEP", "after:switchover"},
                             {"PILOTLIGHT_TEST_BLOCK_MARKER", marker}});
  ASSERT_TRUE(WaitFor(180s, [&] { return access(marker.c_str(), F_OK) == 0; }))
      << testing::ReadAll(lab_.dir + "/failback-1.log");
  Kill(first, SIGKILL);
  // The switchover acted: the primary writes, DR refuses; the run is unfinished.
  EXPECT_TRUE(Writable(true));
  EXPECT_FALSE(Writable(false));
  std::vector<json> runs = Runs("failback");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["outcome"], "unfinished") << runs[0].dump(2);

  testing::CommandResult again = RunPilotlight(Common({"failback"}));
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("resumed and succeeded"), std::string::npos) << again.out;
  runs = Runs("failback");
  ASSERT_EQ(runs.size(), 1u);  // the same run, finished
  EXPECT_EQ(runs[0]["outcome"], "succeeded");
  // One promotion of the primary: one timeline past DR's.
  EXPECT_EQ(Timeline(true), dr_timeline + 1);
  EXPECT_EQ(CountOrders(true, before), 25);
  EXPECT_EQ(CountOrders(true, during), 10);
  Result<bool> streaming = pg::IsStreamingTo(lab_.Pg(true), "dr");
  ASSERT_TRUE(streaming.ok()) << streaming.status().ToString();
  EXPECT_TRUE(*streaming);
}

}  // namespace
}  // namespace pilotlight
