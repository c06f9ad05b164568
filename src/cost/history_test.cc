#include "cost/history.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "drill/history.h"
#include "testing/scratch_dir.h"

#include <string>
#include <vector>

namespace pilotlight::cost {
namespace {

using pilotlight::testing::ScratchDir;

TEST(HistoryTest, ReadsDrillsInFileOrderSkippingBlankLines) {
  const HistoryResult r = ParseHistory(
      "{\"rto_seconds\": 50, \"rpo_seconds\": 1.5, \"at\": \"2026-01-01T00:00:00Z\"}\n"
      "\n"
      "{\"at\": \"2026-02-01T00:00:00Z\", \"rpo_seconds\": 0, \"rto_seconds\": 42.25}\r\n",
      "h.jsonl");
  ASSERT_TRUE(r.ok()) << r.errors[0].ToString();
  ASSERT_EQ(r.drills.size(), 2u);
  EXPECT_EQ(r.drills[0].rto_seconds, 50);
  EXPECT_EQ(r.drills[0].rpo_seconds, 1.5);
  EXPECT_EQ(r.drills[0].line, 1);
  EXPECT_EQ(r.drills[1].rto_seconds, 42.25);
  EXPECT_EQ(r.drills[1].at, "2026-02-01T00:00:00Z");
  EXPECT_EQ(r.drills[1].line, 3);
}

TEST(HistoryTest, EmptyHistoryHasNoSummary) {
  const HistoryResult r = ParseHistory("\n  \n", "h.jsonl");
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.drills.empty());
  EXPECT_FALSE(Summarize(r.drills).has_value());
}

TEST(HistoryTest, SummarizesTheLatestDrills) {
  std::vector<DrillRecord> drills;
  // RTOs 100, 10, 20, 30, 40, 50, 60 (oldest first); RPOs 9, 1, 2, 3, 4, 5, 0.5.
  const double rto[] = {100, 10, 20, 30, 40, 50, 60};
  const double rpo[] = {9, 1, 2, 3, 4, 5, 0.5};
  for (int i = 0; i < 7; ++i) drills.push_back({rto[i], rpo[i], "t" + std::to_string(i), i + 1});
  const std::optional<MeasuredRecovery> m = Summarize(drills, 5);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->drills, 7);
  EXPECT_EQ(m->latest.at, "t6");
  EXPECT_EQ(m->latest.rto_seconds, 60);
  EXPECT_EQ(m->recent, 5);
  // The last five are 20..60 and 2..0.5: the oldest drill's 100 s and 9 s are out.
  EXPECT_EQ(m->worst_rto_seconds, 60);
  EXPECT_EQ(m->worst_rpo_seconds, 5);
  // Fewer drills than asked for: all of them.
  const std::optional<MeasuredRecovery> all = Summarize(drills, 50);
  EXPECT_EQ(all->recent, 7);
  EXPECT_EQ(all->worst_rto_seconds, 100);
}

struct BadLine {
  const char* name;
  std::string text;
  std::string field;
  int line;
  int column;
  std::string mentions;
};

TEST(HistoryTest, ReportsEachBadLineWithItsLocation) {
  const std::string good = "{\"rto_seconds\": 1, \"rpo_seconds\": 1, \"at\": \"x\"}\n";
  const BadLine cases[] = {
      {"not JSON", good + "rto=5\n", "", 2, 1, "invalid JSON"},
      {"truncated object", good + "{\"rto_seconds\": 1,\n", "", 2, 19, "invalid JSON"},
      {"an array", "[1, 2]\n", "", 1, 1, "a JSON object"},
      {"missing rpo", "{\"rto_seconds\": 1, \"at\": \"x\"}\n", "rpo_seconds", 1, 1,
       "no 'rpo_seconds' key"},
      {"negative rto", "{\"rto_seconds\": -1, \"rpo_seconds\": 1, \"at\": \"x\"}\n", "rto_seconds",
       1, 1, "'-1'"},
      {"rto as text", "{\"rto_seconds\": \"5s\", \"rpo_seconds\": 1, \"at\": \"x\"}\n",
       "rto_seconds", 1, 1, "number of seconds"},
      {"at as number", "{\"rto_seconds\": 1, \"rpo_seconds\": 1, \"at\": 5}\n", "at", 1, 1, "'5'"},
      {"unknown key", "{\"rto_seconds\": 1, \"rpo_seconds\": 1, \"at\": \"x\", \"rt\": 2}\n", "rt",
       1, 1, "unknown key 'rt'"},
  };
  for (const BadLine& c : cases) {
    SCOPED_TRACE(c.name);
    const HistoryResult r = ParseHistory(c.text, "h.jsonl");
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.drills.empty()) << "nothing is summarised from a file with errors";
    ASSERT_EQ(r.errors.size(), 1u);
    const config::ConfigError& e = r.errors[0];
    EXPECT_EQ(e.where.file, "h.jsonl");
    EXPECT_EQ(e.field, c.field) << e.ToString();
    EXPECT_EQ(e.where.line, c.line) << e.ToString();
    EXPECT_EQ(e.where.column, c.column) << e.ToString();
    EXPECT_TRUE(e.expected.find(c.mentions) != std::string::npos ||
                e.found.find(c.mentions) != std::string::npos)
        << "'" << c.mentions << "' not in: " << e.ToString();
  }
}

TEST(HistoryTest, ReadsTheDrillsSqliteHistoryOldestFirst) {
  ScratchDir scratch("cost-history");
  const std::string dir = scratch.path();
  const std::string path = dir + "/history.db";
  {
    auto store = drill::HistoryStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto at = [](const char* t) { return *drill::ParseTime(t); };
    ASSERT_TRUE((*store)->Record("region-outage", at("2026-03-01T00:00:00Z"),
                                 R"({"passed": true, "rto_seconds": 8.5,
                                     "rpo": {"database": {"seconds": 0.25, "items_lost": 2}}})",
                                 "/o/2").ok());
    ASSERT_TRUE((*store)->Record("region-outage", at("2026-01-01T00:00:00Z"),
                                 R"({"passed": false, "rto_seconds": 31,
                                     "rpo": {"database": {"seconds": 4, "items_lost": 9}}})",
                                 "/o/1").ok());
    // A refused failover measures no recovery: left out.
    ASSERT_TRUE((*store)->Record("replica-lag", at("2026-04-01T00:00:00Z"),
                                 R"({"passed": true, "rto_seconds": null,
                                     "rpo": {"database": null}})",
                                 "/o/3").ok());
  }
  const HistoryResult r = LoadHistoryFile(path);
  ASSERT_TRUE(r.ok()) << r.errors[0].ToString();
  ASSERT_EQ(r.drills.size(), 2u);
  EXPECT_EQ(r.drills[0].rto_seconds, 31);
  EXPECT_EQ(r.drills[0].rpo_seconds, 4);
  EXPECT_EQ(r.drills[0].at, "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(r.drills[1].rto_seconds, 8.5);
  EXPECT_EQ(r.drills[1].rpo_seconds, 0.25);
  const std::optional<MeasuredRecovery> m = Summarize(r.drills);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->worst_rto_seconds, 31);

  // A file that starts like SQLite but is not a database: one error naming it.
  std::ofstream(dir + "/broken.db", std::ios::binary)
      << std::string("SQLite format 3\0", 16) << std::string(600, 'x');
  const HistoryResult broken = LoadHistoryFile(dir + "/broken.db");
  ASSERT_EQ(broken.errors.size(), 1u);
  EXPECT_NE(broken.errors[0].ToString().find(dir + "/broken.db"), std::string::npos)
      << broken.errors[0].ToString();
  EXPECT_TRUE(broken.drills.empty());
}

TEST(HistoryTest, MissingFileIsOneErrorNamingIt) {
  const HistoryResult r = LoadHistoryFile("/nonexistent/drills.jsonl");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].where.file, "/nonexistent/drills.jsonl");
  EXPECT_EQ(r.errors[0].found, "No such file or directory");
}

TEST(HistoryTest, SurvivesHostileLines) {
  const std::string inputs[] = {
      std::string(100000, '['),
      "\xff\xfe\n",
      std::string("{\"at\": \"\0\"}", 11),
      "{\"rto_seconds\": 1e999, \"rpo_seconds\": 1, \"at\": \"x\"}",
      "null",
      "\"str\"",
  };
  for (const std::string& input : inputs) {
    const HistoryResult r = ParseHistory(input, "h.jsonl");
    EXPECT_FALSE(r.ok());
    for (const config::ConfigError& e : r.errors) EXPECT_LT(e.ToString().size(), 1000u);
  }
}

}  // namespace
}  // namespace pilotlight::cost
