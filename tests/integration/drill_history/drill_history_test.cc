// The drill history and the DR calendar through the real pilotlight binary.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "drill/history.h"
#include "drill/measure.h"
#include "test_util.h"
#include "testing/scratch_dir.h"

namespace pilotlight {
namespace {

using pilotlight::testing::ScratchDir;

using json = nlohmann::json;
using testing::RunPilotlight;

WallTime T(const std::string& s) { return *drill::ParseTime(s); }

std::string Report(bool passed, std::optional<double> rto, double rpo) {
  return json({{"schema_version", 2},
               {"passed", passed},
               {"rto_seconds", rto ? json(*rto) : json(nullptr)},
               {"detection_seconds", 1.5},
               {"rpo", {{"database", {{"seconds", rpo}, {"items_lost", rpo > 0 ? 3 : 0}}},
                        {"sessions", nullptr},
                        {"objects", nullptr}}},
               {"capacity_ratio", 0.97}})
      .dump();
}

class DrillHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
    db_ = dir_ + "/drills/history.db";
  }

  std::unique_ptr<drill::HistoryStore> Store() {
    Result<std::unique_ptr<drill::HistoryStore>> s = drill::HistoryStore::Open(db_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  json RunJson(const std::vector<std::string>& args, int want_exit = 0) {
    testing::CommandResult r = RunPilotlight(args);
    EXPECT_EQ(r.exit_code, want_exit) << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.out << r.err;
    return j;
  }

  ScratchDir scratch_{"drill-history-it"};
  std::string dir_;
  std::string db_;
};

TEST_F(DrillHistoryTest, ShowsDrillsOverTimeAndTheMedianOfTheLastFive) {
  {
    auto store = Store();
    ASSERT_NE(store, nullptr);
    // region-outage RTOs, oldest first: 100 (beyond the last five), 8, 12, 9, 30, 7.
    const double rto[] = {100, 8, 12, 9, 30, 7};
    for (int i = 0; i < 6; ++i) {
      const WallTime at = T("2026-11-01T00:00:00Z") + std::chrono::hours(24 * i);
      ASSERT_TRUE(store->Record("region-outage", at, Report(rto[i] <= 10, rto[i], i == 4 ? 0.5 : 0),
                                dir_ + "/out" + std::to_string(i))
                      .ok());
    }
    ASSERT_TRUE(store->Record("app-crash", T("2026-11-03T12:00:00Z"), Report(true, 14, 0),
                              dir_ + "/crash")
                    .ok());
  }
  json j = RunJson({"drill", "history", "--db", db_, "--json", "--limit", "3"});
  ASSERT_EQ(j["drills"].size(), 3u) << j.dump(2);
  // The latest three, oldest first: RTO 9 (Nov 4), 30 (Nov 5), 7 (Nov 6).
  EXPECT_EQ(j["drills"][0]["rto_seconds"], 9);
  EXPECT_EQ(j["drills"][1]["rto_seconds"], 30);
  EXPECT_EQ(j["drills"][1]["rpo"]["database"]["seconds"], 0.5);
  EXPECT_EQ(j["drills"][1]["rpo"]["database"]["items_lost"], 3);
  EXPECT_EQ(j["drills"][2]["rto_seconds"], 7);
  EXPECT_EQ(j["drills"][2]["started_at"], "2026-11-06T00:00:00.000Z");
  EXPECT_EQ(j["drills"][2]["capacity_ratio"], 0.97);
  // The medians cover every run, not just the ones shown.
  ASSERT_EQ(j["summary"].size(), 2u) << j.dump(2);
  const json& crash = j["summary"][0];
  const json& outage = j["summary"][1];
  EXPECT_EQ(crash["scenario"], "app-crash");
  EXPECT_EQ(crash["median_rto_seconds"], 14);
  EXPECT_EQ(crash["median_rto_meets_target"], false);
  EXPECT_EQ(outage["scenario"], "region-outage");
  EXPECT_EQ(outage["runs"], 6);
  EXPECT_EQ(outage["window"], 5);
  EXPECT_EQ(outage["window_passed"], 3);
  EXPECT_EQ(outage["median_rto_seconds"], 9);  // of 8, 12, 9, 30, 7
  EXPECT_EQ(outage["median_rto_meets_target"], true);

  json only = RunJson({"drill", "history", "--db", db_, "--json", "--scenario", "app-crash"});
  ASSERT_EQ(only["drills"].size(), 1u);
  EXPECT_EQ(only["drills"][0]["scenario"], "app-crash");

  testing::CommandResult text = RunPilotlight({"drill", "history", "--db", db_});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("region-outage: 5 of 6 run(s), 3 passed; RTO 9.000 s (meets"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("app-crash: 1 of 1 run(s), 1 passed; RTO 14.000 s (MISSES"),
            std::string::npos)
      << text.out;
}

TEST_F(DrillHistoryTest, NoHistoryYetIsNotAnError) {
  testing::CommandResult r = RunPilotlight({"drill", "history", "--db", dir_ + "/none.db"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no drills recorded"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/none.db"));
  // A file that is no drill history is an error naming it.
  std::ofstream(dir_ + "/junk.db") << "not sqlite\n";
  r = RunPilotlight({"drill", "history", "--db", dir_ + "/junk.db"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(dir_ + "/junk.db"), std::string::npos) << r.err;
}

// A minimal platform plus the seed's responsibility matrix.
constexpr char kConfig[] = R"(platform: lab
regions:
  - {name: east, role: primary, address: 127.0.1.1}
  - {name: west, role: dr, address: 127.0.2.1}
responsibilities:
  - {task: DR testing, owner: DevOps, frequency: quarterly, kind: region-outage}
  - {task: Failover procedure review, owner: Architecture, frequency: biannually, kind: manual}
  - {task: Alert monitoring, owner: Operations, frequency: continuous, kind: manual}
  - {task: DR documentation update, owner: DevOps, frequency: quarterly}
)";

TEST_F(DrillHistoryTest, CalendarShowsLastDoneNextDueAndOverdue) {
  const std::string config = dir_ + "/platform.yaml";
  std::ofstream(config) << kConfig;
  {
    auto store = Store();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Record("region-outage", T("2026-10-01T00:00:00Z"), Report(true, 8, 0),
                              dir_ + "/a")
                    .ok());
    // A later failing drill does not count as DR testing done.
    ASSERT_TRUE(store->Record("region-outage", T("2026-11-01T00:00:00Z"), Report(false, 80, 0),
                              dir_ + "/b")
                    .ok());
  }
  testing::CommandResult done =
      RunPilotlight({"calendar", "done", "Failover procedure review", "--at",
                     "2026-01-10T00:00:00Z", "--by", "ann", "--config", config, "--db", db_});
  ASSERT_EQ(done.exit_code, 0) << done.err;

  const std::vector<std::string> base = {"calendar", "--config", config, "--db", db_, "--json",
                                         "--now", "2026-11-26T00:00:00Z"};
  json j = RunJson(base);
  ASSERT_EQ(j["tasks"].size(), 4u) << j.dump(2);
  std::map<std::string, json> tasks;
  for (const json& t : j["tasks"]) tasks[t["task"]] = t;
  const json& testing = tasks["DR testing"];
  EXPECT_EQ(testing["last_done"], "2026-10-01T00:00:00.000Z");
  EXPECT_EQ(testing["last_done_by"], "drill region-outage");
  EXPECT_EQ(testing["next_due"], "2027-01-01T00:00:00.000Z");
  EXPECT_EQ(testing["overdue"], false);
  const json& review = tasks["Failover procedure review"];
  EXPECT_EQ(review["last_done_by"], "ann");
  EXPECT_EQ(review["next_due"], "2026-07-10T00:00:00.000Z");
  EXPECT_EQ(review["overdue"], true);
  EXPECT_EQ(review["status"], "overdue");
  const json& monitoring = tasks["Alert monitoring"];
  EXPECT_EQ(monitoring["overdue"], false);
  EXPECT_EQ(monitoring["status"], "continuous");
  EXPECT_TRUE(monitoring["next_due"].is_null());
  const json& docs = tasks["DR documentation update"];
  EXPECT_EQ(docs["kind"], "manual");
  EXPECT_EQ(docs["status"], "never done");
  EXPECT_EQ(docs["overdue"], true);
  EXPECT_EQ(j["overdue"], 2);

  // Overdue is exit 0 unless asked otherwise.
  std::vector<std::string> strict = base;
  strict.push_back("--fail-overdue");
  testing::CommandResult r = RunPilotlight(strict);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("2 responsibility(ies) overdue"), std::string::npos) << r.err;

  // Done now: nothing overdue until DR testing's quarter runs out on 1 January.
  for (const char* task : {"Failover procedure review", "DR documentation update"}) {
    ASSERT_EQ(RunPilotlight({"calendar", "done", task, "--at", "2026-11-20T00:00:00Z",
                             "--config", config, "--db", db_})
                  .exit_code,
              0);
  }
  EXPECT_EQ(RunPilotlight(strict).exit_code, 0);
  strict[strict.size() - 2] = "2027-01-02T00:00:00Z";  // --now
  json later = RunJson({"calendar", "--config", config, "--db", db_, "--json", "--now",
                        "2027-01-02T00:00:00Z"});
  EXPECT_EQ(later["overdue"], 1) << later.dump(2);
  EXPECT_EQ(RunPilotlight(strict).exit_code, 1);

  // The text view marks what is overdue.
  testing::CommandResult text = RunPilotlight(
      {"calendar", "--config", config, "--db", db_, "--now", "2027-01-02T00:00:00Z"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("OVERDUE"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("1 overdue"), std::string::npos) << text.out;
}

TEST_F(DrillHistoryTest, CalendarRejectsUnknownTasksAndBadTimes) {
  const std::string config = dir_ + "/platform.yaml";
  std::ofstream(config) << kConfig;
  testing::CommandResult r =
      RunPilotlight({"calendar", "done", "DR testin", "--config", config, "--db", db_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'DR testing'"), std::string::npos) << r.err;  // the known tasks listed
  EXPECT_FALSE(std::filesystem::exists(db_));
  r = RunPilotlight({"calendar", "--config", config, "--db", db_, "--now", "yesterday"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--now"), std::string::npos) << r.err;
  // A bad responsibility is reported at its place in the file.
  std::ofstream(config, std::ios::app)
      << "  - {task: Backups, owner: DBA, frequency: fortnightly}\n";
  r = RunPilotlight({"calendar", "--config", config, "--db", db_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("platform.yaml:10:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("responsibilities[4].frequency"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pilotlight
