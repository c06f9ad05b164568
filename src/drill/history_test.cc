#include "drill/history.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "testing/scratch_dir.h"

namespace pilotlight::drill {
namespace {

using pilotlight::testing::ScratchDir;

using namespace std::chrono_literals;
namespace fs = std::filesystem;

WallTime T(const std::string& s) { return *ParseTime(s); }

class HistoryStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
  }
  ScratchDir scratch_{"drill-history"};
  std::string dir_;
};

// A report as the drill writes it: Measure() on a small failover.
std::string Report(double rto_seconds, bool lose_one) {
  DrillInputs in;
  in.fault_at = T("2026-11-26T00:00:10.000Z");
  in.acks = {{"a", 1, T("2026-11-26T00:00:09.000Z"), "primary"},
             {"b", 2, in.fault_at + std::chrono::milliseconds(
                                        static_cast<int64_t>(rto_seconds * 1000)), "dr"}};
  in.dr_client_order_ids = lose_one ? std::set<std::string>{"b"} : std::set<std::string>{"a", "b"};
  in.sessions = KeyedRpoInput{{{"s1", T("2026-11-26T00:00:08.000Z")}}, {}, ""};
  return ReportJson("region-outage", Measure(in));
}

TEST_F(HistoryStoreTest, RecordsAndListsNewestFirstWithTheFigures) {
  const std::string path = dir_ + "/sub/dir/history.db";  // parent folders are made
  {
    Result<std::unique_ptr<HistoryStore>> store = HistoryStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->Record("region-outage", T("2026-01-01T00:00:00Z"), Report(7, false),
                                 "/out/1").ok());
    ASSERT_TRUE((*store)->Record("app-crash", T("2026-02-01T00:00:00Z"), Report(2, false),
                                 "/out/2").ok());
    ASSERT_TRUE((*store)->Record("region-outage", T("2026-03-01T00:00:00Z"), Report(9.5, true),
                                 "/out/3").ok());
  }
  // Reopened: what was recorded survived closing.
  Result<std::unique_ptr<HistoryStore>> store = HistoryStore::Open(path, /*create=*/false);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<std::vector<HistoryEntry>> all = (*store)->List(0);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].out_dir, "/out/3");
  EXPECT_EQ((*all)[2].out_dir, "/out/1");
  const HistoryEntry& latest = (*all)[0];
  EXPECT_EQ(latest.scenario, "region-outage");
  EXPECT_EQ(latest.started_at, T("2026-03-01T00:00:00Z"));
  EXPECT_EQ(latest.expect, "failover");
  ASSERT_TRUE(latest.rto_seconds);
  EXPECT_DOUBLE_EQ(*latest.rto_seconds, 9.5);
  ASSERT_TRUE(latest.rpo_database);
  EXPECT_EQ(latest.rpo_database->items_lost, 1);
  EXPECT_DOUBLE_EQ(latest.rpo_database->seconds, 1.0);
  ASSERT_TRUE(latest.rpo_sessions);
  EXPECT_EQ(latest.rpo_sessions->items_lost, 1);
  EXPECT_DOUBLE_EQ(latest.rpo_sessions->seconds, 2.0);
  EXPECT_FALSE(latest.rpo_objects);
  EXPECT_FALSE(latest.capacity_ratio);
  EXPECT_FALSE(latest.passed);  // no failover run in the report's inputs
  EXPECT_EQ(latest.report_json, Report(9.5, true));

  Result<std::vector<HistoryEntry>> outage = (*store)->List(1, "region-outage");
  ASSERT_TRUE(outage.ok());
  ASSERT_EQ(outage->size(), 1u);
  EXPECT_EQ((*outage)[0].out_dir, "/out/3");
  EXPECT_EQ((*store)->List(0, "region-outage")->size(), 2u);
  EXPECT_EQ((*store)->List(0, "gray-failure")->size(), 0u);
}

TEST_F(HistoryStoreTest, IsWalWithAVersionedSchema) {
  const std::string path = dir_ + "/h.db";
  ASSERT_TRUE(HistoryStore::Open(path).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
    std::string v = sqlite3_step(st) == SQLITE_ROW
                        ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0))
                        : "";
    sqlite3_finalize(st);
    return v;
  };
  EXPECT_EQ(scalar("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(scalar("PRAGMA user_version"), std::to_string(kHistorySchemaVersion));
  // A newer pilotlight's file is refused, not rewritten.
  sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  Result<std::unique_ptr<HistoryStore>> newer = HistoryStore::Open(path);
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(newer.status().message().find("schema version 99"), std::string::npos);
}

TEST_F(HistoryStoreTest, BadFilesAndReportsAreClearErrors) {
  Result<std::unique_ptr<HistoryStore>> missing = HistoryStore::Open(dir_ + "/none.db", false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_FALSE(fs::exists(dir_ + "/none.db"));

  std::ofstream(dir_ + "/text.db") << "{\"rto_seconds\": 1, \"rpo_seconds\": 0, \"at\": \"x\"}\n";
  Result<std::unique_ptr<HistoryStore>> text = HistoryStore::Open(dir_ + "/text.db");
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find(dir_ + "/text.db"), std::string::npos);

  // Another SQLite database (a runbook journal, say) is not written into.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/other.db").c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "CREATE TABLE runs (id INTEGER)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  Result<std::unique_ptr<HistoryStore>> other = HistoryStore::Open(dir_ + "/other.db");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("runs"), std::string::npos);

  Result<std::unique_ptr<HistoryStore>> store = HistoryStore::Open(dir_ + "/h.db");
  ASSERT_TRUE(store.ok());
  for (const char* bad : {"", "[]", "{\"passed\": \"yes\"}", "{oops"}) {
    Result<int64_t> r = (*store)->Record("region-outage", T("2026-01-01T00:00:00Z"), bad, "/o");
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ((*store)->List(0)->size(), 0u);
  // A schema-1 report (rpo.database only, no expect) is still read.
  ASSERT_TRUE((*store)->Record("region-outage", T("2026-01-01T00:00:00Z"),
                               R"({"passed": true, "rto_seconds": 4.5,
                                   "rpo": {"database": {"seconds": 0, "items_lost": 0}}})",
                               "/o").ok());
  HistoryEntry e = (*store)->List(0)->at(0);
  EXPECT_TRUE(e.passed);
  EXPECT_EQ(e.rto_seconds, 4.5);
  ASSERT_TRUE(e.rpo_database);
  EXPECT_FALSE(e.rpo_sessions);
  EXPECT_EQ(e.expect, "");
}

TEST_F(HistoryStoreTest, KeepsTheLatestDoneOfEachTask) {
  Result<std::unique_ptr<HistoryStore>> store = HistoryStore::Open(dir_ + "/h.db");
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->RecordTaskDone("review", T("2026-03-01T00:00:00Z"), "ann").ok());
  // Entered late: an older instant recorded after a newer one.
  ASSERT_TRUE((*store)->RecordTaskDone("review", T("2026-01-01T00:00:00Z"), "bob").ok());
  ASSERT_TRUE((*store)->RecordTaskDone("docs", T("2026-02-01T00:00:00Z"), "cy").ok());
  Result<std::map<std::string, TaskDone>> last = (*store)->LastTasksDone();
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->size(), 2u);
  EXPECT_EQ(last->at("review").at, T("2026-03-01T00:00:00Z"));
  EXPECT_EQ(last->at("review").by, "ann");
  EXPECT_EQ(last->at("docs").by, "cy");
}

TEST(MedianTest, Table) {
  struct Row {
    std::vector<double> values;
    std::optional<double> median;
  } rows[] = {
      {{}, std::nullopt},
      {{3}, 3},
      {{9, 1, 5}, 5},
      {{4, 1, 3, 2}, 2.5},
      {{10, 10, 100, 1, 2}, 10},
  };
  for (const Row& r : rows) EXPECT_EQ(Median(r.values), r.median) << r.values.size();
}

TEST(SummarizeTest, MediansOverTheLatestRunsOfEachScenario) {
  std::vector<HistoryEntry> entries;
  // region-outage RTOs, oldest first: 100 (out of the window), 8, 12, 9, 30, 7.
  const double rto[] = {100, 8, 12, 9, 30, 7};
  for (int i = 0; i < 6; ++i) {
    HistoryEntry e;
    e.id = i + 1;
    e.scenario = "region-outage";
    e.started_at = T("2026-01-01T00:00:00Z") + std::chrono::hours(24 * i);
    e.passed = rto[i] <= 10;
    e.rto_seconds = rto[i];
    e.detection_seconds = 1.0 + i;
    e.rpo_database = RpoFigure{i == 4 ? 0.5 : 0.0, i == 4 ? 3 : 0};
    entries.push_back(e);
  }
  HistoryEntry refused;
  refused.id = 10;
  refused.scenario = "replica-lag";
  refused.started_at = T("2026-02-01T00:00:00Z");
  refused.passed = true;
  entries.push_back(refused);
  std::reverse(entries.begin(), entries.end());  // order of the input does not matter

  std::vector<ScenarioSummary> s = Summarize(entries, 5);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].scenario, "region-outage");
  EXPECT_EQ(s[0].runs, 6);
  EXPECT_EQ(s[0].window, 5);
  EXPECT_EQ(s[0].window_passed, 3);       // 8, 9, 7
  EXPECT_EQ(s[0].median_rto_seconds, 9);  // of 8, 12, 9, 30, 7: the 100 s run is out
  EXPECT_EQ(s[0].median_detection_seconds, 4);  // 2..6
  EXPECT_EQ(s[0].median_rpo_database_seconds, 0);
  EXPECT_EQ(s[0].latest, T("2026-01-06T00:00:00Z"));
  EXPECT_EQ(s[1].scenario, "replica-lag");
  EXPECT_EQ(s[1].window, 1);
  EXPECT_FALSE(s[1].median_rto_seconds);
  // A window of 2: the latest two, 30 and 7.
  EXPECT_EQ(Summarize(entries, 2)[0].median_rto_seconds, 18.5);
}

}  // namespace
}  // namespace pilotlight::drill
