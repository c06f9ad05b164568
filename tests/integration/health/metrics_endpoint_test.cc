// Prometheus /metrics of a running `pilotlight watch`, scraped over plain HTTP
// with a socket: the check's healthy gauge and its alarm's state follow a real
// local server going down; /healthz answers; other methods and paths get 405
// and 404; a bad --metrics-listen is refused before anything starts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "health/metrics_scrape.h"
#include "health/test_servers.h"
#include "test_util.h"
#include "testing/scratch_dir.h"

namespace pilotlight {
namespace {

using pilotlight::testing::ScratchDir;

using namespace std::chrono_literals;
using testing::Background;
using testing::CommandResult;
using testing::HttpReply;
using testing::Request;
using testing::RunPilotlight;
using testing::Sample;
using testing::WaitFor;

class MetricsEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
    config_ = dir_ + "/platform.yaml";
  }

  void WriteConfig(uint16_t http_port) {
    std::ofstream(config_) << "platform: metrics-endpoint\n"
                              "regions:\n"
                              "  - {name: primary, role: primary, address: 127.0.1.1}\n"
                              "  - {name: dr, role: dr, address: 127.0.2.1}\n"
                              "health_checks:\n"
                              "  - {name: web, type: http, host: 127.0.0.1, port: "
                           << http_port
                           << ", path: /ok, body_contains: ready, interval: 100ms,"
                              " failure_threshold: 2, success_threshold: 1}\n"
                              "alarms:\n"
                              "  - {name: web-down, check: web, period: 200ms}\n"
                              "detection:\n"
                              "  alarm_evaluation_interval: 50ms\n";
  }

  ScratchDir scratch_{"metrics"};
  std::string dir_;
  std::string config_;
};

TEST_F(MetricsEndpointTest, ScrapesFollowTheTargetGoingDown) {
  auto target = std::make_unique<health::testing::HttpTestServer>();
  WriteConfig(target->port());
  Background watch({"watch", "--config", config_, "--metrics-listen", "127.0.0.1:0"}, dir_);
  ASSERT_TRUE(watch.running());
  uint16_t port = 0;
  ASSERT_TRUE(WaitFor(10s, [&] { return (port = testing::ServedMetricsPort(watch)) != 0; }))
      << watch.err();

  const std::string healthy = "pilotlight_check_healthy{check=\"web\"}";
  const std::string ok = "pilotlight_alarm_state{alarm=\"web-down\",state=\"OK\"}";
  const std::string alarm = "pilotlight_alarm_state{alarm=\"web-down\",state=\"ALARM\"}";
  HttpReply scrape;
  ASSERT_TRUE(WaitFor(10s,
                      [&] {
                        scrape = Request(port, "GET", "/metrics");
                        return Sample(scrape.body, healthy) == "1" &&
                               Sample(scrape.body, ok) == "1";
                      }))
      << scrape.status << "\n"
      << scrape.body << watch.err();
  EXPECT_EQ(scrape.status, 200);
  EXPECT_NE(scrape.head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos)
      << scrape.head;
  EXPECT_EQ(Sample(scrape.body, alarm), "0") << scrape.body;
  EXPECT_EQ(Sample(scrape.body, "pilotlight_check_state{check=\"web\",state=\"healthy\"}"), "1");
  EXPECT_NE(
      Sample(scrape.body, "pilotlight_probe_latency_seconds{check=\"web\",vantage=\"local\"}"), "")
      << scrape.body;
  EXPECT_NE(scrape.body.find("# TYPE pilotlight_check_healthy gauge\n"), std::string::npos);

  target.reset();  // the target goes down: its port now refuses connections
  ASSERT_TRUE(WaitFor(10s,
                      [&] {
                        scrape = Request(port, "GET", "/metrics");
                        return Sample(scrape.body, healthy) == "0" &&
                               Sample(scrape.body, alarm) == "1";
                      }))
      << scrape.body << watch.err();
  EXPECT_EQ(Sample(scrape.body, ok), "0");
  EXPECT_EQ(Sample(scrape.body, "pilotlight_check_state{check=\"web\",state=\"unhealthy\"}"), "1");

  EXPECT_EQ(Request(port, "GET", "/healthz").status, 200);
  EXPECT_EQ(Request(port, "POST", "/metrics").status, 405);
  EXPECT_EQ(Request(port, "GET", "/").status, 404);
  EXPECT_EQ(watch.Stop(), 0) << watch.err();
  // The transitions were printed as well, as without --metrics-listen.
  EXPECT_NE(watch.out().find("web-down"), std::string::npos) << watch.out();
}

TEST_F(MetricsEndpointTest, BadListenAddressIsRefused) {
  health::testing::HttpTestServer target;
  WriteConfig(target.port());
  CommandResult r = RunPilotlight(
      {"watch", "--config", config_, "--metrics-listen", "localhost", "--duration", "5s"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--metrics-listen"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ADDRESS:PORT"), std::string::npos) << r.err;
}

TEST_F(MetricsEndpointTest, PortInUseIsAClearError) {
  health::testing::HttpTestServer target;
  WriteConfig(target.port());
  // The target's own port is taken.
  CommandResult r =
      RunPilotlight({"watch", "--config", config_, "--metrics-listen",
                     "127.0.0.1:" + std::to_string(target.port()), "--duration", "5s"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cannot serve /metrics on 127.0.0.1:" + std::to_string(target.port())),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace pilotlight
