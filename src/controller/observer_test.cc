// ObserveVotes against real probe agents' HTTP endpoints (an alarm::MetricsServer
// serving a SiteReport, as `pilotlight probe run` does): a site's vote comes
// from its agent, and an agent that is gone, silent or confused is no vote.
#include "controller/observer.h"

#include <gtest/gtest.h>

#include "alarm/metrics_server.h"
#include "health/test_servers.h"
#include "testing/ports.h"

namespace pilotlight::controller {
namespace {

using namespace std::chrono_literals;
using health::HealthStatus;

ControllerSpec TwoSites() {
  ControllerSpec s;
  s.site = "witness";
  s.primary_region = "primary";
  s.primary_check = "pg";
  s.agent_timeout = 300ms;
  health::CheckSpec c;
  c.name = "pg";
  c.kind = health::ProbeKind::kPostgres;
  c.vantages = {{"witness", "", 0, "", "witness"}, {"dr", "", 0, "127.0.2.1", "dr"}};
  s.checks = {c};
  return s;
}

std::string Report(const std::string& site) {
  health::SiteReport r;
  r.site = site;
  health::SiteObservation o;
  o.check = "pg";
  o.vantage = "dr";
  o.site = site;
  o.status = HealthStatus::kUnhealthy;
  o.verdict = health::ProbeVerdict::kFailed;
  o.detail = "connection refused";
  o.age = 100ms;
  r.observations = {o};
  return health::SiteReportJson(r);
}

std::unique_ptr<alarm::MetricsServer> Agent(std::string body) {
  alarm::MetricsServerOptions options;
  options.routes.push_back({"/observations", "application/json", [body] { return body; }});
  auto server = alarm::MetricsServer::Start("127.0.0.1", 0, {}, options);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(*server) : nullptr;
}

TEST(ObserveVotesTest, ASiteVotesThroughItsAgent) {
  auto agent = Agent(Report("dr"));
  ASSERT_NE(agent, nullptr);
  ControllerSpec spec = TwoSites();
  spec.probe_agents = {{"dr", "127.0.0.1", agent->port()}};
  const std::vector<VantageObservation> v =
      ObserveVotes(spec, SystemClock::Instance(), nullptr, SystemClock::Instance().Now());
  ASSERT_EQ(v.size(), 2u);
  // Without a detector (one-shot status) the controller's own site is no vote,
  // but it is there: the quorum still counts it.
  EXPECT_EQ(v[0].site, "witness");
  EXPECT_EQ(v[0].status, HealthStatus::kUnknown);
  EXPECT_EQ(v[1].site, "dr");
  EXPECT_EQ(v[1].status, HealthStatus::kUnhealthy);
  ASSERT_TRUE(v[1].age);
  EXPECT_GE(*v[1].age, 100ms) << "the fetch's time is added to the agent's age";
  EXPECT_EQ(v[1].detail, "connection refused");
  EXPECT_EQ(v[1].source, "agent 127.0.0.1:" + std::to_string(agent->port()));
}

TEST(ObserveVotesTest, AnAgentThatIsGoneSilentOrConfusedIsNoVote) {
  ControllerSpec spec = TwoSites();
  auto expect_no_vote = [&](const std::string& what, const std::string& detail) {
    const std::vector<VantageObservation> v =
        ObserveVotes(spec, SystemClock::Instance(), nullptr, SystemClock::Instance().Now());
    ASSERT_EQ(v.size(), 2u) << what;
    EXPECT_EQ(v[1].status, HealthStatus::kUnknown) << what;
    EXPECT_FALSE(v[1].age) << what;
    EXPECT_EQ(VoteOf(v[1], decide::Policy{}), decide::Vote::kUnknown) << what;
    EXPECT_NE(v[1].detail.find(detail), std::string::npos) << what << ": " << v[1].detail;
  };

  const pilotlight::testing::ClosedPort closed;
  spec.probe_agents = {{"dr", "127.0.0.1", closed.port()}};
  expect_no_vote("nothing listens", "probe agent of site dr at http://127.0.0.1:");

  // Accepts connections (the kernel does) but never answers: the deadline ends it.
  uint16_t port;
  const int silent = health::testing::ListenTcp(&port);
  spec.probe_agents = {{"dr", "127.0.0.1", port}};
  expect_no_vote("silent", "probe agent of site dr");
  close(silent);

  auto wrong = Agent(Report("west"));
  ASSERT_NE(wrong, nullptr);
  spec.probe_agents = {{"dr", "127.0.0.1", wrong->port()}};
  expect_no_vote("another site's agent", "reports for site 'west', not 'dr'");

  auto garbage = Agent("<html>hello</html>");
  ASSERT_NE(garbage, nullptr);
  spec.probe_agents = {{"dr", "127.0.0.1", garbage->port()}};
  expect_no_vote("not a report", "not a probe agent's report");

  spec.probe_agents.clear();
  expect_no_vote("no agent configured", "site dr has no probe agent");
}

}  // namespace
}  // namespace pilotlight::controller
