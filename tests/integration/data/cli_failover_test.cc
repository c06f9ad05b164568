// The failover and failback operations through the pilotlight binary on a lab:
// fence the primary, promote DR behind the lag gate, rejoin the old primary,
// and watch `replication status` follow the database's direction.
#include <gtest/gtest.h>

#include "lab_fixture.h"

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using testing::CommandResult;
using testing::RunPilotlight;
using testing::WaitFor;

class CliFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = testing::MakeTestLab("replication:\n  heartbeat_interval: 200ms\n");
    CommandResult up = RunPilotlight(lab_.Args({"up"}));
    ASSERT_EQ(up.exit_code, 0) << up.err;
  }
  void TearDown() override { lab_.Destroy(); }

  CommandResult Rep(std::vector<std::string> args) {
    args.insert(args.begin(), "replication");
    args.insert(args.end(), {"--dir", lab_.dir, "--config", lab_.config});
    return RunPilotlight(args);
  }
  nlohmann::json DatabaseRow() {
    CommandResult r = Rep({"status", "--json"});
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    if (!j.is_object()) return {};
    for (const auto& row : j["rows"]) {
      if (row["data_type"] == "database") return row;
    }
    return {};
  }

  testing::TestLab lab_;
};

TEST_F(CliFailoverTest, FencePromoteRejoinAndStatusFollowsTheDirection) {
  nlohmann::json row;
  ASSERT_TRUE(WaitFor(20s, [&] {
    row = DatabaseRow();
    return row.is_object() && row["state"] == "within";
  })) << row.dump();
  EXPECT_EQ(row["from"], "primary");

  CommandResult fence = Rep({"fence", "--mode", "no-connections"});
  ASSERT_EQ(fence.exit_code, 0) << fence.err;
  EXPECT_NE(fence.out.find("fenced"), std::string::npos) << fence.out;

  CommandResult promote = Rep({"promote"});
  ASSERT_EQ(promote.exit_code, 0) << promote.out << promote.err;
  EXPECT_NE(promote.out.find("lag gate: allowed"), std::string::npos) << promote.out;
  EXPECT_NE(promote.out.find("promoted from timeline 1 to 2"), std::string::npos) << promote.out;
  CommandResult again = Rep({"promote"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("already primary"), std::string::npos) << again.out;

  // Two writable servers (one fenced), no replica: the database RPO is unknown.
  row = DatabaseRow();
  EXPECT_EQ(row["state"], "unknown") << row.dump();

  CommandResult rejoin = Rep({"rejoin"});
  ASSERT_EQ(rejoin.exit_code, 0) << rejoin.err;
  EXPECT_NE(rejoin.out.find("rejoined by pg_rewind"), std::string::npos) << rejoin.out;
  ASSERT_TRUE(WaitFor(20s, [&] {
    row = DatabaseRow();
    return row.is_object() && row["from"] == "dr" && row["state"] == "within";
  })) << row.dump();
  EXPECT_EQ(row["to"], "primary");

  CommandResult bad = Rep({"fence", "--mode", "sideways"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("unknown fence mode"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace pilotlight
