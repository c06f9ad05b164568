// controller.compute.provider: exec — the controller scales node groups with the
// operator's commands (kubectl, a cloud CLI) instead of the lab. Here the
// commands keep each group's size in a file; no lab runs, so a scale that went
// to the lab provider would fail.
#include <gtest/gtest.h>

#include <filesystem>

#include "lab_fixture.h"
#include "testing/scratch_dir.h"

namespace pilotlight {
namespace {

using pilotlight::testing::ScratchDir;

using testing::RunPilotlight;

TEST(ExecComputeTest, ScaleRunsTheConfiguredCommandsAndIsJournaled) {
  ScratchDir scratch("exec-compute");
  const std::string groups = scratch.path();
  const std::string file = groups + "/{region}-{group}";
  testing::TestLab lab = testing::MakeTestLab(
      "controller:\n"
      "  compute:\n"
      "    provider: exec\n"
      "    exec:\n"
      "      size_command: \"cat " + file + " 2>/dev/null || echo 1\"\n"
      "      scale_command: \"echo {size} > " + file + "\"\n"
      "      ready_command: \"test \\\"$(cat " + file + ")\\\" -ge {size}\"\n",
      /*trader_production_size=*/3);

  testing::CommandResult r = RunPilotlight(
      {"scale", "trader", "3", "--region", "dr", "--dir", lab.dir, "--config", lab.config});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(testing::ReadAll(groups + "/dr-trader"), "3\n");
  EXPECT_FALSE(std::filesystem::exists(groups + "/primary-trader"));

  // Journaled like any step.
  testing::CommandResult h =
      RunPilotlight({"history", "--json", "--dir", lab.dir, "--config", lab.config});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  EXPECT_NE(h.out.find("scale dr trader to 3"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("succeeded"), std::string::npos) << h.out;

  // And down, in the other region.
  testing::CommandResult down = RunPilotlight({"scale", "trader", "0", "--region", "primary",
                                               "--dir", lab.dir, "--config", lab.config});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  EXPECT_EQ(testing::ReadAll(groups + "/primary-trader"), "0\n");

  std::filesystem::remove_all(lab.dir);
  std::filesystem::remove(lab.config);
}

}  // namespace
}  // namespace pilotlight
