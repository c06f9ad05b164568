// Auto-scaling with controller.compute.provider: exec, no lab: the group's size
// lives in a file the configured commands read and write, and
// requests_command prints the requests per second a test writes into another
// file. `pilotlight controller run` must scale the primary's group by it, report
// output that is not a number naming the config field, and in observe-only mode
// only say what it would do.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "controller_fixture.h"
#include "testing/scratch_dir.h"

namespace pilotlight {
namespace {

using pilotlight::testing::ScratchDir;

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::ReadAll;
using testing::WaitFor;

class AutoscaleExecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cloud_ = scratch_.path();
    const std::string file = cloud_ + "/{region}-{group}";
    lab_ = testing::MakeTestLab(
        "controller:\n"
        "  compute:\n"
        "    provider: exec\n"
        "    exec:\n"
        "      size_command: \"cat " +
            file +
            " 2>/dev/null || echo 1\"\n"
            "      scale_command: \"echo {size} > " +
            file +
            "\"\n"
            "      ready_command: \"test \\\"$(cat " +
            file +
            ")\\\" -ge {size}\"\n"
            "      requests_command: \"cat " +
            cloud_ +
            "/rps-{region}-{group}\"\n"
            "  scaling:\n"
            "    trader: {min: 1, max: 4, target_requests_per_instance: 20}\n",
        /*trader_production_size=*/2);
  }
  void TearDown() override {
    children_.StopAll(SIGTERM);
    std::filesystem::remove_all(lab_.dir);
    std::filesystem::remove(lab_.config);
  }
  void StartController(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"controller", "run",       "--dir",      lab_.dir,
                                     "--config",   lab_.config, "--interval", "200ms"};
    args.insert(args.end(), extra.begin(), extra.end());
    children_.SpawnPilotlight(args, lab_.dir + "/controller.log");
  }
  void Rps(const std::string& text) {
    std::ofstream(cloud_ + "/rps-primary-trader.tmp") << text;
    std::filesystem::rename(cloud_ + "/rps-primary-trader.tmp", cloud_ + "/rps-primary-trader");
  }
  json Primary() const {
    std::ifstream in(lab_.dir + "/controller/status.json");
    const json s = json::parse(in, nullptr, false);
    if (!s.is_object() || !s["autoscaling"].is_array()) return {};
    for (const json& g : s["autoscaling"]) {
      if (g["region"] == "primary") return g;
    }
    return {};
  }
  std::string Size() const { return ReadAll(cloud_ + "/primary-trader"); }

  ScratchDir scratch_{"autoscale-exec"};
  std::string cloud_;
  testing::TestLab lab_;
  testing::ChildProcesses children_;
};

TEST_F(AutoscaleExecTest, ScalesByTheRequestsCommandAndNamesTheFieldWhenItsOutputIsBad) {
  Rps("130\n");  // 130 / 20 per instance: 7, clamped to the maximum 4
  StartController();
  ASSERT_TRUE(WaitFor(30s, [&] { return Size() == "4\n"; }))
      << Primary().dump(2) << ReadAll(lab_.dir + "/controller.log");
  // Printed once the cycle that scaled ends.
  EXPECT_TRUE(WaitFor(10s, [&] {
    return ReadAll(lab_.dir + "/controller.log")
               .find(
                   "[autoscale] scale trader in primary 1 -> 4: 130 req/s over 1 instance, "
                   "target 20/instance") != std::string::npos;
  })) << ReadAll(lab_.dir + "/controller.log");
  // DR is in pilot light: its group is never scaled.
  EXPECT_FALSE(std::filesystem::exists(cloud_ + "/dr-trader"));

  Rps("lots\n");
  ASSERT_TRUE(WaitFor(15s, [&] {
    const json p = Primary();
    return p.is_object() &&
           p["reason"].get<std::string>().find(
               "controller.compute.exec.requests_command printed \"lots\"") != std::string::npos;
  })) << Primary().dump(2);
  EXPECT_EQ(Size(), "4\n");  // an unknown load changes nothing
}

TEST_F(AutoscaleExecTest, ObserveOnlySaysWhatItWouldDoAndDoesNothing) {
  Rps("75");
  StartController({"--mode", "observe-only"});
  ASSERT_TRUE(WaitFor(30s,
                      [&] {
                        const json p = Primary();
                        return p.is_object() &&
                               p["reason"].get<std::string>().find(
                                   "observe-only: would scale trader in primary 1 -> 4") !=
                                   std::string::npos;
                      }))
      << Primary().dump(2) << ReadAll(lab_.dir + "/controller.log");
  EXPECT_EQ(Primary()["applied"], false);
  EXPECT_FALSE(std::filesystem::exists(cloud_ + "/primary-trader"));
}

}  // namespace
}  // namespace pilotlight
