// `pilotlight controller run --metrics-listen` on a real lab: the running
// controller's check states, alarm states and probe latencies are scrapeable,
// and follow `lab kill-region primary` (observe-only, so nothing fails over).
#include <gtest/gtest.h>

#include "health/metrics_scrape.h"
#include "lab_fixture.h"

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using testing::Background;
using testing::HttpReply;
using testing::Request;
using testing::RunPilotlight;
using testing::Sample;
using testing::WaitFor;

class ControllerMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = testing::MakeTestLab(
        "health_checks:\n"
        "  - {name: primary-postgres, region: primary, type: postgres, must_be_writable: true,"
        " interval: 200ms, timeout: 150ms, failure_threshold: 3, success_threshold: 2}\n"
        "  - {name: dr-postgres, region: dr, type: postgres, interval: 200ms, timeout: 150ms,"
        " failure_threshold: 3, success_threshold: 2}\n"
        "alarms:\n"
        "  - {name: primary-down, check: primary-postgres, period: 500ms}\n"
        "detection:\n"
        "  alarm_evaluation_interval: 100ms\n");
    testing::CommandResult up = RunPilotlight(lab_.Args({"up"}));
    ASSERT_EQ(up.exit_code, 0) << up.err;
  }
  void TearDown() override { lab_.Destroy(); }

  testing::TestLab lab_;
};

TEST_F(ControllerMetricsTest, RunningControllerIsScrapeable) {
  Background controller({"controller", "run", "--dir", lab_.dir, "--config", lab_.config, "--mode",
                         "observe-only", "--metrics-listen", "127.0.0.1:0"},
                        lab_.dir);
  ASSERT_TRUE(controller.running());
  uint16_t port = 0;
  ASSERT_TRUE(WaitFor(30s, [&] { return (port = testing::ServedMetricsPort(controller)) != 0; }))
      << controller.err();

  const std::string primary = "pilotlight_check_healthy{check=\"primary-postgres\"}";
  const std::string dr = "pilotlight_check_healthy{check=\"dr-postgres\"}";
  const std::string ok = "pilotlight_alarm_state{alarm=\"primary-down\",state=\"OK\"}";
  const std::string alarm = "pilotlight_alarm_state{alarm=\"primary-down\",state=\"ALARM\"}";
  HttpReply scrape;
  ASSERT_TRUE(WaitFor(30s,
                      [&] {
                        scrape = Request(port, "GET", "/metrics");
                        return Sample(scrape.body, primary) == "1" &&
                               Sample(scrape.body, dr) == "1" && Sample(scrape.body, ok) == "1";
                      }))
      << scrape.body << controller.err();
  const std::string latency =
      Sample(scrape.body,
             "pilotlight_probe_latency_seconds{check=\"primary-postgres\",vantage=\"local\"}");
  ASSERT_NE(latency, "") << scrape.body;
  EXPECT_GT(std::stod(latency), 0.0);
  EXPECT_EQ(Sample(scrape.body, alarm), "0");

  testing::CommandResult k = RunPilotlight(lab_.Args({"kill-region", "primary"}));
  ASSERT_EQ(k.exit_code, 0) << k.err;
  ASSERT_TRUE(WaitFor(30s,
                      [&] {
                        scrape = Request(port, "GET", "/metrics");
                        return Sample(scrape.body, primary) == "0" &&
                               Sample(scrape.body, alarm) == "1";
                      }))
      << scrape.body << controller.err();
  EXPECT_EQ(Sample(scrape.body, dr), "1");
  EXPECT_EQ(Sample(scrape.body,
                   "pilotlight_check_state{check=\"primary-postgres\",state="
                   "\"unhealthy\"}"),
            "1");
  EXPECT_EQ(controller.Stop(), 0) << controller.err();
}

}  // namespace
}  // namespace pilotlight
