#include "compute/group_load.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "trader/http_server.h"
#include "testing/scratch_dir.h"

namespace pilotlight::compute {
namespace {

using pilotlight::testing::ScratchDir;

using namespace std::chrono_literals;

const WallTime kT0 = WallTime(std::chrono::seconds(1'800'000'000));

TEST(RequestRateWindow, SumsPerInstanceRates) {
  RequestRateWindow w(10s);
  w.Add("trader-1", 1000, kT0);
  w.Add("trader-1", 1500, kT0 + 5s);  // 100/s
  w.Add("trader-2", 0, kT0 + 1s);
  w.Add("trader-2", 300, kT0 + 4s);  // 100/s
  const GroupLoad g = w.Rate(kT0 + 5s);
  EXPECT_DOUBLE_EQ(g.requests_per_second, 200);
  EXPECT_EQ(g.instances_reporting, 2);
}

TEST(RequestRateWindow, ACounterThatWentDownIsARestart) {
  RequestRateWindow w(10s);
  w.Add("trader-1", 5000, kT0);
  w.Add("trader-1", 5200, kT0 + 2s);  // +200
  w.Add("trader-1", 100, kT0 + 4s);   // restarted: +100 since
  w.Add("trader-1", 300, kT0 + 5s);   // +200
  EXPECT_DOUBLE_EQ(w.Rate(kT0 + 5s).requests_per_second, 500.0 / 5.0);
}

TEST(RequestRateWindow, OldSamplesLeaveTheWindowAndAStoppedInstanceCountsNothing) {
  RequestRateWindow w(10s);
  w.Add("trader-1", 0, kT0);
  w.Add("trader-1", 1000, kT0 + 1s);  // a burst, then the instance stops
  w.Add("trader-2", 0, kT0);
  w.Add("trader-2", 10, kT0 + 10s);
  w.Add("trader-2", 20, kT0 + 20s);
  const GroupLoad g = w.Rate(kT0 + 20s);
  EXPECT_EQ(g.instances_reporting, 1);
  EXPECT_DOUBLE_EQ(g.requests_per_second, 1.0);
}

TEST(RequestRateWindow, OneSampleHasNoRateYetAndRereadingIsNotASample) {
  RequestRateWindow w(10s);
  w.Add("trader-1", 700, kT0);
  w.Add("trader-1", 700, kT0);  // the file read again before it was rewritten
  const GroupLoad g = w.Rate(kT0 + 1s);
  EXPECT_EQ(g.instances_reporting, 1);
  EXPECT_DOUBLE_EQ(g.requests_per_second, 0);
}

TEST(ServedCount, RoundTripsAndRejectsGarbage) {
  const trader::ServedCount c{12345, kT0 + 250ms};
  const std::string text = trader::FormatServedCount(c);
  EXPECT_EQ(text, "12345 1800000000250\n");
  Result<trader::ServedCount> back = trader::ParseServedCount(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->total, 12345u);
  EXPECT_EQ(back->at, c.at);
  for (const char* bad : {"", "12", "12 ", " 12 3", "x 3", "12 3x", "-1 3", "12 -3", "1 2 3"}) {
    EXPECT_FALSE(trader::ParseServedCount(bad).ok()) << "'" << bad << "'";
  }
}

class LabGroupLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
    std::filesystem::create_directories(dir_ + "/primary");
  }
  void Write(const std::string& name, uint64_t total, WallTime at) {
    std::ofstream(dir_ + "/primary/" + name) << trader::FormatServedCount({total, at});
  }
  ScratchDir scratch_{"group-load"};
  std::string dir_;
};

TEST_F(LabGroupLoadTest, ReadsTheGroupsCounterFilesOverCalls) {
  LabGroupLoad load(dir_, 10s);
  Write("trader-1.requests", 0, kT0);
  Write("trader-2.requests", 0, kT0);
  Write("other-1.requests", 0, kT0);   // another group
  Write("trader-x.requests", 0, kT0);  // not an instance
  Write("trader-3.requests", 0, kT0);
  std::ofstream(dir_ + "/primary/trader-3.requests") << "garbage\n";
  ASSERT_TRUE(load.Load("primary", "trader", kT0).ok());
  Write("trader-1.requests", 300, kT0 + 2s);
  Write("trader-2.requests", 100, kT0 + 2s);
  Write("other-1.requests", 9000, kT0 + 2s);
  Result<GroupLoad> g = load.Load("primary", "trader", kT0 + 2s);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_DOUBLE_EQ(g->requests_per_second, 200);
  EXPECT_EQ(g->instances_reporting, 2);
  EXPECT_NE(g->source.find("skipped trader-3.requests"), std::string::npos) << g->source;
}

TEST_F(LabGroupLoadTest, AMissingRegionDirectoryIsAnError) {
  LabGroupLoad load(dir_, 10s);
  Result<GroupLoad> g = load.Load("nowhere", "trader", kT0);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find(dir_ + "/nowhere"), std::string::npos);
}

TEST(ExecGroupLoad, PrintsANumberOrSaysWhichFieldIsWrong) {
  ScratchDir scratch("exec-load");
  const std::string dir = scratch.path();
  ExecGroupLoad ok("echo 412.5 # {region} {group}", 10s, dir);
  Result<GroupLoad> g = ok.Load("dr", "trader", kT0);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_DOUBLE_EQ(g->requests_per_second, 412.5);

  ExecGroupLoad words("echo lots", 10s, dir);
  Result<GroupLoad> bad = words.Load("dr", "trader", kT0);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(
      bad.status().message().find("controller.compute.exec.requests_command printed \"lots\""),
      std::string::npos)
      << bad.status().ToString();

  ExecGroupLoad failing("exit 3", 10s, dir);
  Result<GroupLoad> failed = failing.Load("dr", "trader", kT0);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().ToString().find("requests_command"), std::string::npos);

  ExecGroupLoad none("", 10s, dir);
  EXPECT_FALSE(none.Load("dr", "trader", kT0).ok());
}

TEST(ParseRequestsPerSecond, Table) {
  EXPECT_DOUBLE_EQ(*ParseRequestsPerSecond(" 7\n", "dr", "trader"), 7);
  EXPECT_DOUBLE_EQ(*ParseRequestsPerSecond("0", "dr", "trader"), 0);
  for (const char* bad : {"", "-1", "nan", "inf", "12 rps", "1e400"}) {
    EXPECT_FALSE(ParseRequestsPerSecond(bad, "dr", "trader").ok()) << bad;
  }
}

}  // namespace
}  // namespace pilotlight::compute
