// `pilotlight replication status` on a lab with small objectives: every data type
// is within its RPO while the replicators run, turns to breaching when
// replication stops for longer than its objective, and recovers when it resumes.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "data/postgres/pg_client.h"
#include "data/sessions/global_table.h"
#include "lab_fixture.h"
#include "sys/process.h"

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

class RpoStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = testing::MakeTestLab(
        "objectives:\n  rpo:\n    database: 2s\n    objects: 2s\n    sessions: 2s\n"
        "    artifacts: 2s\nreplication:\n  heartbeat_interval: 200ms\n");
    testing::CommandResult up = testing::RunPilotlight(lab_.Args({"up", "--no-replicators"}));
    ASSERT_EQ(up.exit_code, 0) << up.err;
    bucket_ = lab_.dir + "/primary/buckets/confirmations";
  }
  void TearDown() override {
    StopReplicators();
    lab_.Destroy();
  }

  void StartReplicators() {
    Result<pid_t> pid = sys::SpawnDaemon(
        {{PILOTLIGHT_BIN, "replication", "run", "--dir", lab_.dir, "--config", lab_.config,
          "--interval", "100ms"},
         lab_.dir + "/replicators.log",
         std::nullopt});
    ASSERT_TRUE(pid.ok()) << pid.status().ToString();
    runner_ = *pid;
  }
  void StopReplicators() {
    if (runner_ <= 0) return;
    sys::SignalGroup(runner_, SIGTERM);
    EXPECT_TRUE(sys::WaitGroupGone(runner_, 30s));
    runner_ = -1;
  }
  nlohmann::json Status() {
    testing::CommandResult r = testing::RunPilotlight(
        {"replication", "status", "--json", "--dir", lab_.dir, "--config", lab_.config});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  // State of the row of `type` from `from`.
  static std::string StateOf(const nlohmann::json& status, const std::string& type,
                             const std::string& from) {
    if (!status.is_object()) return "<no status>";
    for (const auto& row : status["rows"]) {
      if (row["data_type"] == type && row["from"] == from) return row["state"];
    }
    return "<no row>";
  }
  void WriteActivity(const std::string& tag) {
    auto store = sessions::SessionStore::Open(lab_.Redis(true), "primary");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->Put("session-" + tag, tag, 60s).ok());
    std::ofstream(bucket_ + "/confirmation-" + tag + ".json") << "{\"tag\":\"" << tag << "\"}";
  }

  testing::TestLab lab_;
  std::string bucket_;
  pid_t runner_ = -1;
};

TEST_F(RpoStatusTest, BreachesWhenReplicationStopsLongerThanTheObjective) {
  StartReplicators();
  WriteActivity("one");
  nlohmann::json status;
  ASSERT_TRUE(WaitFor(30s, [&] {
    status = Status();
    return status.is_object() && status["all_within"] == true;
  })) << status.dump(2) << testing::ReadAll(lab_.dir + "/replicators.log");
  EXPECT_EQ(StateOf(status, "database", "primary"), "within");
  EXPECT_EQ(StateOf(status, "sessions", "primary"), "within");
  EXPECT_EQ(StateOf(status, "sessions", "dr"), "within");
  EXPECT_EQ(StateOf(status, "objects", "primary"), "within");

  // Replication stops: replicators down, WAL replay paused on DR; writes go on.
  StopReplicators();
  auto dr = pg::Connection::Open(lab_.Pg(false));
  ASSERT_TRUE(dr.ok()) << dr.status().ToString();
  ASSERT_TRUE((*dr)->Exec("SELECT pg_wal_replay_pause()").ok());
  WriteActivity("two");
  ASSERT_TRUE(WaitFor(20s, [&] {
    status = Status();
    return StateOf(status, "database", "primary") == "breaching" &&
           StateOf(status, "sessions", "primary") == "breaching" &&
           StateOf(status, "objects", "primary") == "breaching";
  })) << status.dump(2);
  EXPECT_FALSE(status["all_within"].get<bool>());
  EXPECT_EQ(StateOf(status, "sessions", "dr"), "within") << "nothing was written on DR";
  for (const auto& row : status["rows"]) {
    if (row["state"] == "breaching") {
      EXPECT_GT(row["lag_seconds"].get<double>(), row["objective_seconds"].get<double>());
    }
  }
  testing::CommandResult table = testing::RunPilotlight(
      {"replication", "status", "--dir", lab_.dir, "--config", lab_.config});
  EXPECT_NE(table.out.find("breaching"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("primary -> dr"), std::string::npos) << table.out;

  // Replication resumes: back within every objective.
  ASSERT_TRUE((*dr)->Exec("SELECT pg_wal_replay_resume()").ok());
  StartReplicators();
  EXPECT_TRUE(WaitFor(30s, [&] {
    status = Status();
    return status.is_object() && status["all_within"] == true;
  })) << status.dump(2);
}

}  // namespace
}  // namespace pilotlight
