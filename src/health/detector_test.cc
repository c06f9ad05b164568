// Detection assembled: a check fails, its alarm fires, both are published to a
// topic (a file subscriber here) and exposed to Prometheus.
#include "health/detector.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "health/test_servers.h"
#include "testing/wait.h"

namespace pilotlight::health {
namespace {

using namespace std::chrono_literals;
using pilotlight::testing::WaitFor;

std::vector<nlohmann::json> JsonLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string l; std::getline(in, l);) out.push_back(nlohmann::json::parse(l));
  return out;
}

TEST(DetectorTest, ValidatesTopicReferences) {
  DetectionSpec spec;
  CheckSpec c;
  c.name = "c";
  c.host = "127.0.0.1";
  c.port = 1;
  c.topics = {"ops"};
  spec.checks = {c};
  alarm::AlarmSpec a;
  a.name = "a";
  a.metric = CheckHealthyMetric("c");
  a.topics = {"pager"};
  spec.alarms = {a};
  Status st = ValidateDetection(spec);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("health check 'c' publishes to topic 'ops'"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("alarm 'a' publishes to topic 'pager'"), std::string::npos);
}

TEST(DetectorTest, CheckFailureFiresAlarmAndPublishes) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("pilotlight-detector-" + std::to_string(getpid()) + ".jsonl"))
                               .string();
  std::filesystem::remove(path);
  auto server = std::make_optional<testing::HttpTestServer>();

  DetectionSpec spec;
  CheckSpec c;
  c.name = "svc";
  c.kind = ProbeKind::kTcp;
  c.host = "127.0.0.1";
  c.port = server->port();
  c.interval = 100ms;
  c.timeout = 100ms;
  c.connect_timeout = 100ms;
  c.failure_threshold = 2;
  c.success_threshold = 1;
  c.topics = {"ops"};
  spec.checks = {c};
  alarm::AlarmSpec a;
  a.name = "svc-down";
  a.metric = CheckHealthyMetric("svc");
  a.statistic = alarm::Statistic::kMinimum;
  a.period = 300ms;
  a.comparison = alarm::Comparison::kLess;
  a.threshold = 1;
  a.topics = {"ops"};
  spec.alarms = {a};
  notify::SubscriberSpec file;
  file.name = "log";
  file.kind = notify::SubscriberKind::kFile;
  file.path = path;
  spec.topics = {{"ops", {file}}};
  spec.alarm_evaluation_interval = 50ms;

  auto made = Detector::Create(SystemClock::Instance(), spec);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  Detector& d = **made;
  std::mutex mu;
  std::vector<std::string> lines;
  d.OnEvent([&](const DetectionEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(e.line);
  });
  ASSERT_TRUE(d.Start().ok());
  ASSERT_TRUE(WaitFor(2s, [&] { return d.Alarms()[0].state == alarm::AlarmState::kOk; }))
      << d.Alarms()[0].reason;

  server.reset();  // the service dies
  ASSERT_TRUE(WaitFor(2s, [&] { return d.Alarms()[0].state == alarm::AlarmState::kAlarm; }))
      << d.Alarms()[0].reason;
  EXPECT_EQ(d.Checks()[0].status, HealthStatus::kUnhealthy);
  ASSERT_TRUE(d.notifier().WaitIdle(2s));

  const std::string prom = d.Prometheus();
  EXPECT_NE(prom.find("pilotlight_check_state{check=\"svc\",state=\"unhealthy\"} 1"),
            std::string::npos)
      << prom;
  EXPECT_NE(prom.find("pilotlight_alarm_state{alarm=\"svc-down\",state=\"ALARM\"} 1"),
            std::string::npos);
  EXPECT_NE(prom.find("pilotlight_probe_success{check=\"svc\",vantage=\"local\"} 0"),
            std::string::npos);
  EXPECT_NE(prom.find("pilotlight_probe_lateness_seconds{check=\"svc\",vantage=\"local\"}"),
            std::string::npos)
      << prom;
  d.Stop();

  // The topic got: check unknown->healthy, alarm ->OK, check healthy->unhealthy, alarm ->ALARM.
  std::vector<std::string> seen;
  for (const nlohmann::json& j : JsonLines(path)) {
    seen.push_back(j["type"].get<std::string>() + ":" + j["to"].get<std::string>());
    if (j["type"] == "check" && j["to"] == "unhealthy") {
      EXPECT_NE(j["reason"].get<std::string>().find("refused"), std::string::npos) << j.dump();
      EXPECT_EQ(j["evidence"].size(), 1u);
    }
    if (j["type"] == "alarm" && j["to"] == "ALARM") {
      EXPECT_EQ(j["metric"], "pilotlight_check_healthy{check=\"svc\"}");
      EXPECT_NE(j["reason"].get<std::string>().find("threshold crossed"), std::string::npos);
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"check:healthy", "alarm:OK", "check:unhealthy",
                                            "alarm:ALARM"}));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_GE(lines.size(), 4u);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace pilotlight::health
