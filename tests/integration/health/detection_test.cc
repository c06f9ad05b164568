// Detection end to end on a real lab: a PostgreSQL check on the primary from
// three vantage points (one of them blackholed) every 500 ms with failure
// threshold 3. The blackholed vantage point alone never fails the check; killing
// the primary region fails it within 2.5 s, fires its alarm, and a webhook
// receives both, signed with HMAC-SHA256.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "health/detector.h"
#include "lab_fixture.h"
#include "notify/webhook_test_server.h"

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using testing::CommandResult;
using testing::RunPilotlight;
using testing::WaitFor;

constexpr char kSecret[] = "integration-secret";

class DetectionTest : public ::testing::Test {
 protected:
  void SetUp() override { lab_ = testing::MakeTestLab(); }
  void TearDown() override { lab_.Destroy(); }
  testing::TestLab lab_;
};

// `closed_port`: a port on the primary's address where nothing listens (a
// testing::ClosedPort the caller holds while the checks run).
health::DetectionSpec Spec(const testing::TestLab& lab, const std::string& webhook_url,
                           uint16_t closed_port) {
  health::DetectionSpec spec;
  health::CheckSpec pg;
  pg.name = "primary-postgres";
  pg.kind = health::ProbeKind::kPostgres;
  pg.host = lab.primary_address;
  pg.port = lab.primary_pg;
  pg.pg_database = "trading";
  pg.pg_password_file = lab.Pg(true).password_file;  // the lab's admin password
  pg.must_be_writable = true;
  pg.interval = 500ms;
  pg.timeout = 400ms;
  pg.connect_timeout = 300ms;
  pg.failure_threshold = 3;
  pg.success_threshold = 2;
  // The third checker cannot reach the primary: it probes a closed port.
  pg.vantages = {{"site-a", "", 0, ""},
                 {"site-b", "", 0, ""},
                 {"blackholed", "", closed_port, ""}};
  pg.topics = {"ops"};
  spec.checks = {pg};

  alarm::AlarmSpec a;
  a.name = "primary-postgres-down";
  a.metric = health::CheckHealthyMetric(pg.name);
  a.statistic = alarm::Statistic::kMinimum;
  a.period = 500ms;
  a.comparison = alarm::Comparison::kLess;
  a.threshold = 1;
  a.topics = {"ops"};
  spec.alarms = {a};

  notify::SubscriberSpec hook;
  hook.name = "ops-webhook";
  hook.kind = notify::SubscriberKind::kWebhook;
  hook.url = webhook_url;
  hook.secret = kSecret;
  hook.initial_backoff = 100ms;
  spec.topics = {{"ops", {hook}}};
  spec.alarm_evaluation_interval = 100ms;
  return spec;
}

TEST_F(DetectionTest, PrimaryLossIsDetectedAlarmedAndNotifiedButOneVantageIsNotEnough) {
  CommandResult up = RunPilotlight(lab_.Args({"up"}));
  ASSERT_EQ(up.exit_code, 0) << up.err;

  notify::testing::WebhookTestServer webhook;
  const testing::ClosedPort closed(lab_.primary_address);
  auto made = health::Detector::Create(SystemClock::Instance(),
                                       Spec(lab_, webhook.Url("/pl"), closed.port()));
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  health::Detector& d = **made;
  ASSERT_TRUE(d.Start().ok());

  auto check = [&] { return d.Checks()[0]; };
  ASSERT_TRUE(WaitFor(5s, [&] { return check().status == health::HealthStatus::kHealthy; }))
      << check().reason;
  ASSERT_TRUE(WaitFor(3s, [&] { return d.Alarms()[0].state == alarm::AlarmState::kOk; }))
      << d.Alarms()[0].reason;
  // One vantage point sees the primary down; the quorum keeps the check healthy.
  ASSERT_TRUE(WaitFor(3s, [&] {
    return check().vantages[2].threshold.status == health::HealthStatus::kUnhealthy;
  }));
  std::this_thread::sleep_for(1500ms);  // observation window: three more probe rounds
  EXPECT_EQ(check().status, health::HealthStatus::kHealthy) << check().reason;
  EXPECT_EQ(d.Alarms()[0].state, alarm::AlarmState::kOk) << d.Alarms()[0].reason;

  // The whole primary region dies.
  const auto killed = std::chrono::steady_clock::now();
  CommandResult kill = RunPilotlight(lab_.Args({"kill-region", "primary"}));
  ASSERT_EQ(kill.exit_code, 0) << kill.err;
  ASSERT_TRUE(WaitFor(2500ms, [&] { return check().status == health::HealthStatus::kUnhealthy; }))
      << "not unhealthy 2.5 s after kill-region: " << check().reason;
  const auto detected = std::chrono::steady_clock::now() - killed;
  std::cerr << "primary-postgres unhealthy "
            << std::chrono::duration_cast<std::chrono::milliseconds>(detected).count()
            << " ms after kill-region started\n";
  // The quorum was reached with a vantage point that does reach the primary.
  EXPECT_NE(check().reason.find("(quorum 2)"), std::string::npos) << check().reason;
  EXPECT_TRUE(check().vantages[0].threshold.status == health::HealthStatus::kUnhealthy ||
              check().vantages[1].threshold.status == health::HealthStatus::kUnhealthy);
  ASSERT_TRUE(WaitFor(2s, [&] { return d.Alarms()[0].state == alarm::AlarmState::kAlarm; }))
      << d.Alarms()[0].reason;

  // The webhook got the check's and the alarm's transitions, each validly signed.
  bool got_check = false, got_alarm = false;
  ASSERT_TRUE(WaitFor(5s, [&] {
    got_check = got_alarm = false;
    for (const auto& r : webhook.Requests()) {
      auto j = nlohmann::json::parse(r.body, nullptr, false);
      if (j.is_discarded()) continue;
      if (j["type"] == "check" && j["to"] == "unhealthy") got_check = true;
      if (j["type"] == "alarm" && j["to"] == "ALARM") got_alarm = true;
    }
    return got_check && got_alarm;
  })) << "check message " << got_check << ", alarm message " << got_alarm;
  for (const auto& r : webhook.Requests()) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.path, "/pl");
    auto it = r.headers.find("x-pilotlight-signature");
    ASSERT_NE(it, r.headers.end()) << r.body;
    EXPECT_EQ(it->second, "sha256=" + notify::HmacSha256Hex(kSecret, r.body)) << r.body;
    EXPECT_NE(it->second, "sha256=" + notify::HmacSha256Hex("another-secret", r.body));
  }
  for (const auto& r : webhook.Requests()) {
    auto j = nlohmann::json::parse(r.body);
    if (j["type"] == "alarm" && j["to"] == "ALARM") {
      EXPECT_EQ(j["alarm"], "primary-postgres-down");
      EXPECT_EQ(j["from"], "OK");
    }
    if (j["type"] == "check" && j["to"] == "unhealthy") {
      EXPECT_EQ(j["check"], "primary-postgres");
      EXPECT_EQ(j["evidence"].size(), 3u);
    }
  }
  // The whole check never went unhealthy before the kill.
  int unhealthy = 0;
  for (const auto& t : d.CheckHistory()) {
    if (t.vantage.empty() && t.to == health::HealthStatus::kUnhealthy) ++unhealthy;
  }
  EXPECT_EQ(unhealthy, 1);
  d.Stop();

  // The CLI sees the same: the DR standby healthy, the primary not (exit 3).
  CommandResult checks = RunPilotlight({"checks", "--json", "--config", lab_.config, "--dir", lab_.dir,
                                        "--interval", "200ms", "--wait", "5s"});
  EXPECT_EQ(checks.exit_code, 3) << checks.err;
  auto j = nlohmann::json::parse(checks.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << checks.out;
  std::map<std::string, std::string> status;
  for (const auto& c : j["checks"]) status[c["name"]] = c["status"];
  EXPECT_EQ(status["primary-postgres"], "unhealthy") << checks.out;
  EXPECT_EQ(status["dr-postgres"], "healthy") << checks.out;
  EXPECT_EQ(status["dr-redis"], "healthy") << checks.out;
  EXPECT_EQ(status["primary-reachable"], "unhealthy") << checks.out;
  EXPECT_EQ(status["dr-reachable"], "healthy") << checks.out;
}

}  // namespace
}  // namespace pilotlight
