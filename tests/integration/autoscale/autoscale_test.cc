// Auto-scaling on a real lab. The primary region's trader group starts at one
// instance; the controller runs with controller.scaling.trader {min 1, max 3,
// target 20 req/s per instance, scale-down stabilization 3 s}. `pilotlight
// load` at 50 orders/s must make it scale out to 3 (each instance publishes its
// served-request count beside its pid file, the controller sums their rates);
// once the load stops, the rate falls and, after the stabilization window, the
// group is scaled back in to 1. DR, in pilot light, is never touched. Status
// (JSON and text) says what was done and why.
#include <gtest/gtest.h>

#include <filesystem>

#include "controller_fixture.h"

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::ReadAll;
using testing::RunPilotlight;
using testing::WaitFor;

class AutoscaleLabTest : public testing::ControllerLabFixture {
 protected:
  void SetUp() override {
    BringUp(
        testing::MakeTestLab("replication:\n  heartbeat_interval: 200ms\n"
                             "controller:\n"
                             "  scaling:\n"
                             "    trader: {min: 1, max: 3, target_requests_per_instance: 20,"
                             " scale_down_stabilization: 3s}\n",
                             /*trader_production_size=*/1, /*trader_pilot_light_size=*/1));
  }

  // The status entry of the trader group of `region` (null when absent).
  json Entry(const std::string& region) const {
    const json s = Status();
    if (!s.is_object() || !s.contains("autoscaling") || !s["autoscaling"].is_array()) return {};
    for (const json& g : s["autoscaling"]) {
      if (g["region"] == region && g["group"] == "trader") return g;
    }
    return {};
  }
  int Size(const std::string& region) const {
    const json e = Entry(region);
    return e.is_object() ? e["size"].get<int>() : -1;
  }
  // Instances of the region's trader group with a pid file (the lab's own view).
  int PidFiles(const std::string& region) const {
    int n = 0;
    for (int i = 1; i <= 5; ++i) {
      n += std::filesystem::exists(lab_.dir + "/" + region + "/trader-" + std::to_string(i) +
                                   ".pid");
    }
    return n;
  }
};

TEST_F(AutoscaleLabTest, ScalesOutUnderLoadAndBackInAfterTheStabilizationWindow) {
  StartController({"--interval", "200ms", "--lease-duration", "3s"});
  // Idle: active on the primary at its size 1; DR in pilot light is not auto-scaled.
  ASSERT_TRUE(WaitFor(30s,
                      [&] {
                        const json p = Entry("primary");
                        return p.is_object() && p["active"] == true && p["size"] == 1 &&
                               p["requests_per_second"].is_number();
                      }))
      << Status().dump(2) << ControllerLog();
  const json dr = Entry("dr");
  ASSERT_TRUE(dr.is_object()) << Status().dump(2);
  EXPECT_EQ(dr["active"], false);
  EXPECT_NE(dr["reason"].get<std::string>().find("DR in pilot light"), std::string::npos) << dr;

  const std::string target =
      "http://" + lab_.primary_address + ":" + std::to_string(lab_.trader_port);
  const pid_t load = Spawn(
      {"load", "--target", target, "--rate", "50", "--concurrency", "4", "--duration", "300s",
       "--api-keys", lab_.dir + "/secrets/api-keys"},
      lab_.dir + "/load.log");
  const auto load_started = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor(90s, [&] { return Size("primary") == 3 && PidFiles("primary") == 3; }))
      << Status().dump(2) << ControllerLog() << ReadAll(lab_.dir + "/load.log");
  std::cerr
      << "[ measured ] load start to 3 instances: "
      << std::chrono::duration<double>(std::chrono::steady_clock::now() - load_started).count()
      << " s\n";
  // Every instance publishes its count beside its pid file.
  for (int i = 1; i <= 3; ++i) {
    const std::string path = lab_.dir + "/primary/trader-" + std::to_string(i) + ".requests";
    EXPECT_TRUE(WaitFor(10s, [&] { return std::filesystem::exists(path); })) << path;
  }
  EXPECT_TRUE(WaitFor(10s, [&] {
    return ControllerLog().find("[autoscale] scale trader in primary 1 -> ") != std::string::npos;
  })) << ControllerLog();
  EXPECT_NE(ControllerLog().find("target 20/instance"), std::string::npos) << ControllerLog();
  // The load is spread over the instances: the group's rate is what load sends.
  ASSERT_TRUE(WaitFor(20s, [&] {
    const json p = Entry("primary");
    return p.is_object() && p["instances_reporting"] == 3 &&
           p["requests_per_second"].get<double>() > 30;
  })) << Status().dump(2);
  // DR stayed in pilot light.
  EXPECT_EQ(PidFiles("dr"), 1);

  // `pilotlight status` shows it, in words and in JSON.
  testing::CommandResult text = RunPilotlight(Common({"status"}));
  EXPECT_NE(text.out.find("auto-scaling"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("trader in primary: size 3"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("last change"), std::string::npos) << text.out;
  testing::CommandResult js = RunPilotlight(Common({"status", "--json"}));
  const json parsed = json::parse(js.out, nullptr, false);
  ASSERT_TRUE(parsed.is_object()) << js.out << js.err;
  ASSERT_TRUE(parsed["autoscaling"].is_array()) << js.out;
  EXPECT_EQ(parsed["autoscaling"].size(), 2u);

  Kill(load, SIGKILL);
  const auto load_stopped = std::chrono::steady_clock::now();
  // While the rate falls it holds (scale-down waits for the window)...
  ASSERT_TRUE(WaitFor(60s, [&] {
    const json p = Entry("primary");
    return p.is_object() &&
           p["reason"].get<std::string>().find("scale-down once that holds") != std::string::npos;
  })) << Status().dump(2);
  // ... then scales in to the minimum.
  ASSERT_TRUE(WaitFor(60s, [&] { return Size("primary") == 1 && PidFiles("primary") == 1; }))
      << Status().dump(2) << ControllerLog();
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_stopped).count();
  std::cerr << "[ measured ] load stop to 1 instance: " << took << " s\n";
  // Not before the stabilization window (3 s) has passed after the load stopped.
  EXPECT_GE(took, 3.0);
  EXPECT_TRUE(WaitFor(10s, [&] {
    return ControllerLog().find("[autoscale] scale trader in primary 3 -> ") != std::string::npos;
  })) << ControllerLog();
  EXPECT_EQ(PidFiles("dr"), 1);
}

}  // namespace
}  // namespace pilotlight
