#include "compute/exec_node_groups.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "testing/scratch_dir.h"

namespace pilotlight::compute {
namespace {

using pilotlight::testing::ScratchDir;

using namespace std::chrono_literals;

// The "cloud" is a directory: <dir>/<region>-<group> holds the size, and an
// instance is ready once <dir>/ready-<region>-<group> holds a number >= it.
class ExecNodeGroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
    std::ofstream(dir_ + "/dr-trader") << "1\n";
    ExecCommands c;
    c.size_command = "cat " + dir_ + "/{region}-{group}";
    c.scale_command = "echo {size} > " + dir_ + "/{region}-{group}";
    c.ready_command = "test \"$(cat " + dir_ + "/ready-{region}-{group} 2>/dev/null || echo 0)\" " +
                      "-ge {size}";
    c.poll_interval = 50ms;
    c.log_dir = dir_;
    commands_ = c;
  }

  ScratchDir scratch_{"exec-groups"};
  std::string dir_;
  ExecCommands commands_;
  FakeClock clock_;  // the polls between ready_command runs take no wall time
};

TEST_F(ExecNodeGroupsTest, ExpandQuotesValues) {
  EXPECT_EQ(ExpandCommand("scale {group} in {region} to {size}", "d'r", "trader", 3),
            "scale 'trader' in 'd'\\''r' to 3");
}

TEST_F(ExecNodeGroupsTest, ScalesAndReadsTheSizeBack) {
  ExecNodeGroups g(commands_, clock_);
  EXPECT_EQ(*g.Size("dr", "trader"), 1);
  ASSERT_TRUE(g.SetSize("dr", "trader", 3).ok());
  EXPECT_EQ(*g.Size("dr", "trader"), 3);
  EXPECT_TRUE(g.CanScale("dr", "trader").ok());
}

TEST_F(ExecNodeGroupsTest, ReadinessWaitsForTheReadyCommand) {
  ExecNodeGroups g(commands_, clock_);
  std::ofstream(dir_ + "/ready-dr-trader") << "3\n";
  const MonoTime deadline = clock_.Monotonic() + 5s;
  EXPECT_TRUE(ScaleAndWait(g, "dr", "trader", 3, ReadyWhen::kReady, deadline).ok());
}

TEST_F(ExecNodeGroupsTest, NotReadyByTheDeadlineIsATimeout) {
  ExecNodeGroups g(commands_, clock_);
  std::ofstream(dir_ + "/ready-dr-trader") << "2\n";
  const MonoTime deadline = clock_.Monotonic() + 300ms;
  Status st = ScaleAndWait(g, "dr", "trader", 3, ReadyWhen::kReady, deadline);
  EXPECT_EQ(st.code(), Status::Code::kTimeout) << st.ToString();
  EXPECT_NE(st.message().find("0 of 3 instances ready"), std::string::npos) << st.message();
}

TEST_F(ExecNodeGroupsTest, GarbageSizeIsAClearError) {
  commands_.size_command = "echo lots";
  ExecNodeGroups g(commands_, clock_);
  Result<int> r = g.Size("dr", "trader");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("printed \"lots\", not a size"), std::string::npos);
}

TEST_F(ExecNodeGroupsTest, FailingScaleCommandSaysWhich) {
  commands_.scale_command = "echo quota exceeded; exit 4";
  ExecNodeGroups g(commands_, clock_);
  Status st = g.SetSize("dr", "trader", 3);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("exited with status 4"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("quota exceeded"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace pilotlight::compute
