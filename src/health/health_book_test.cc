// HealthBook: thresholds per vantage point, quorum over vantage points and
// calculated checks together, driven by a FakeClock.
#include "health/health_book.h"

#include <gtest/gtest.h>

namespace pilotlight::health {
namespace {

using namespace std::chrono_literals;

CheckSpec Pg(const std::string& name, int vantages) {
  CheckSpec s;
  s.name = name;
  s.kind = ProbeKind::kPostgres;
  s.host = "127.0.1.1";
  s.port = 5432;
  s.interval = 500ms;
  s.timeout = 400ms;
  s.connect_timeout = 300ms;
  s.failure_threshold = 3;
  s.success_threshold = 2;
  for (int i = 0; i < vantages; ++i) s.vantages.push_back({"v" + std::to_string(i), "", 0, "", ""});
  return s;
}

ProbeResult Probe(bool ok, FakeClock& clock) {
  ProbeResult r;
  r.ok = ok;
  r.detail = ok ? "SELECT 1 ok" : "connection refused";
  r.at = clock.Now();
  return r;
}

TEST(HealthBookTest, RejectsBadSpecsWithEveryError) {
  CheckSpec a = Pg("a", 1);
  a.interval = 50ms;
  a.failure_threshold = 0;
  CheckSpec calc;
  calc.name = "calc";
  calc.kind = ProbeKind::kCalculated;
  calc.children = {"a", "missing"};
  auto book = HealthBook::Create({a, calc});
  ASSERT_FALSE(book.ok());
  const std::string& msg = book.status().message();
  EXPECT_NE(msg.find("interval: expected at least 100ms, found 50ms"), std::string::npos) << msg;
  EXPECT_NE(msg.find("failure_threshold"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no check named 'missing'"), std::string::npos) << msg;
}

TEST(HealthBookTest, RejectsCycles) {
  CheckSpec x, y;
  x.name = "x";
  x.kind = ProbeKind::kCalculated;
  x.children = {"y"};
  y = x;
  y.name = "y";
  y.children = {"x"};
  auto book = HealthBook::Create({x, y});
  ASSERT_FALSE(book.ok());
  EXPECT_NE(book.status().message().find("cycle"), std::string::npos);
}

// Three vantage points, majority quorum: the check is unhealthy only once two
// of them have each seen `failure_threshold` consecutive failures.
TEST(HealthBookTest, QuorumOfVantagePointsWithThresholds) {
  FakeClock clock;
  auto made = HealthBook::Create({Pg("primary-pg", 3)});
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  HealthBook& book = *made;

  // Two successes from each: healthy.
  for (int round = 0; round < 2; ++round) {
    for (size_t v = 0; v < 3; ++v) book.Record(0, v, Probe(true, clock), clock.Now());
    clock.Advance(500ms);
  }
  EXPECT_EQ(book.states()[0].status, HealthStatus::kHealthy);

  // Vantage 0 loses the target for good: never enough on its own.
  for (int round = 0; round < 10; ++round) {
    auto t = book.Record(0, 0, Probe(false, clock), clock.Now());
    for (const auto& tr : t) EXPECT_FALSE(tr.vantage.empty()) << "whole check changed";
    book.Record(0, 1, Probe(true, clock), clock.Now());
    book.Record(0, 2, Probe(true, clock), clock.Now());
    clock.Advance(500ms);
  }
  EXPECT_EQ(book.states()[0].status, HealthStatus::kHealthy) << book.states()[0].reason;
  EXPECT_EQ(book.states()[0].vantages[0].threshold.status, HealthStatus::kUnhealthy);

  // Vantage 1 fails too: the third failure from it tips the quorum.
  const WallTime t0 = clock.Now();
  std::vector<CheckTransition> got;
  for (int round = 0; round < 3; ++round) {
    book.Record(0, 0, Probe(false, clock), clock.Now());
    got = book.Record(0, 1, Probe(false, clock), clock.Now());
    book.Record(0, 2, Probe(true, clock), clock.Now());
    if (round < 2) {
      EXPECT_TRUE(got.empty()) << "changed after only " << round + 1 << " failures";
      clock.Advance(500ms);
    }
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].vantage, "v1");
  EXPECT_EQ(got[0].to, HealthStatus::kUnhealthy);
  EXPECT_EQ(got[0].evidence.size(), 3u);
  EXPECT_EQ(got[1].vantage, "");
  EXPECT_EQ(got[1].from, HealthStatus::kHealthy);
  EXPECT_EQ(got[1].to, HealthStatus::kUnhealthy);
  EXPECT_EQ(got[1].at, t0 + 1s);
  EXPECT_NE(got[1].reason.find("unhealthy from 2 of 3 vantage points (quorum 2)"),
            std::string::npos)
      << got[1].reason;
  EXPECT_NE(got[1].reason.find("connection refused"), std::string::npos) << got[1].reason;
  EXPECT_EQ(book.states()[0].since, t0 + 1s);
  // Every transition went to the history, in order.
  ASSERT_GE(book.history().size(), 4u);
  EXPECT_EQ(book.history().back().vantage, "");
  EXPECT_EQ(book.history().back().to, HealthStatus::kUnhealthy);
}

// A timeout our own checker was too late to judge (ProbeResult::late).
ProbeResult LateTimeout(FakeClock& clock) {
  ProbeResult r;
  r.ok = false;
  r.detail = "timed out after 400ms; late";
  r.timed_out_after = 400ms;
  r.late = true;
  r.at = clock.Now();
  return r;
}

TEST(HealthBookTest, LateProbesNeverFailTheTarget) {
  FakeClock clock;
  auto made = HealthBook::Create({Pg("primary-pg", 0)});
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  HealthBook& book = *made;
  for (int i = 0; i < 2; ++i) book.Record(0, 0, Probe(true, clock), clock.Now());
  ASSERT_EQ(book.states()[0].status, HealthStatus::kHealthy);

  // Ten late timeouts in a row (the checker starved for seconds): still healthy.
  for (int i = 0; i < 10; ++i) {
    clock.Advance(500ms);
    EXPECT_TRUE(book.Record(0, 0, LateTimeout(clock), clock.Now()).empty());
  }
  EXPECT_EQ(book.states()[0].status, HealthStatus::kHealthy);
  EXPECT_EQ(book.states()[0].vantages[0].late_probes, 10u);
  EXPECT_TRUE(book.states()[0].vantages[0].last.late);

  // They do not reset the failures seen either: 2 definitive failures, late ones
  // in between, and the third definitive failure tips the threshold.
  book.Record(0, 0, Probe(false, clock), clock.Now());
  book.Record(0, 0, LateTimeout(clock), clock.Now());
  book.Record(0, 0, Probe(false, clock), clock.Now());
  book.Record(0, 0, LateTimeout(clock), clock.Now());
  EXPECT_EQ(book.states()[0].status, HealthStatus::kHealthy);
  book.Record(0, 0, Probe(false, clock), clock.Now());
  EXPECT_EQ(book.states()[0].status, HealthStatus::kUnhealthy) << book.states()[0].reason;
}

TEST(HealthBookTest, VantageStatesCarryTheirSite) {
  CheckSpec s = Pg("primary-pg", 0);
  s.vantages = {{"witness", "", 0, "127.0.3.1", "witness"}, {"dr", "", 0, "127.0.2.1", "dr"}};
  auto made = HealthBook::Create({s});
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(made->states()[0].vantages[0].site, "witness");
  EXPECT_EQ(made->states()[0].vantages[1].site, "dr");
}

TEST(HealthBookTest, CalculatedChecksFollowChildren) {
  FakeClock clock;
  CheckSpec a = Pg("a", 0), b = Pg("b", 0);
  a.failure_threshold = b.failure_threshold = 1;
  a.success_threshold = b.success_threshold = 1;
  CheckSpec any;
  any.name = "any";
  any.kind = ProbeKind::kCalculated;
  any.children = {"a", "b"};
  any.min_healthy_children = 1;
  CheckSpec all_down = any;  // healthy only when both are down (inverted OR)
  all_down.name = "region-dead";
  all_down.inverted = true;
  CheckSpec both = any;  // AND of a calculated child and a plain one
  both.name = "both";
  both.children = {"any", "a"};
  both.min_healthy_children = 0;
  auto made = HealthBook::Create({a, b, any, all_down, both});
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  HealthBook& book = *made;
  auto status = [&](const char* name) { return book.states()[book.Find(name)].status; };

  book.Record(0, 0, Probe(true, clock), clock.Now());
  EXPECT_EQ(status("any"), HealthStatus::kHealthy);
  EXPECT_EQ(status("region-dead"), HealthStatus::kUnhealthy);
  EXPECT_EQ(status("both"), HealthStatus::kHealthy);

  book.Record(1, 0, Probe(false, clock), clock.Now());
  EXPECT_EQ(status("any"), HealthStatus::kHealthy);

  clock.Advance(1s);
  auto t = book.Record(0, 0, Probe(false, clock), clock.Now());
  EXPECT_EQ(status("any"), HealthStatus::kUnhealthy);
  EXPECT_EQ(status("region-dead"), HealthStatus::kHealthy);
  EXPECT_EQ(status("both"), HealthStatus::kUnhealthy);
  // a (vantage), a, any, region-dead, both: in dependency order.
  std::vector<std::string> order;
  for (const auto& tr : t) order.push_back(tr.check + (tr.vantage.empty() ? "" : "/" + tr.vantage));
  EXPECT_EQ(order, (std::vector<std::string>{"a/local", "a", "any", "region-dead", "both"}));
  EXPECT_NE(t[2].reason.find("only 0 of 2 children healthy (need 1)"), std::string::npos)
      << t[2].reason;
}

}  // namespace
}  // namespace pilotlight::health
