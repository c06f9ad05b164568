#include "data/postgres/backup.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/duration.h"

namespace pilotlight::pg {
namespace {

using namespace std::chrono_literals;

TEST(ParseRfc3339Test, AcceptsZonesAndFractions) {
  struct Case {
    std::string text;
    std::string utc;  // FormatTime of the parsed instant
  };
  const Case cases[] = {
      {"2026-11-26T02:40:56Z", "2026-11-26T02:40:56.000Z"},
      {"2026-11-26t02:40:56z", "2026-11-26T02:40:56.000Z"},
      {"2026-11-26 02:40:56Z", "2026-11-26T02:40:56.000Z"},
      {"2026-11-26T02:40:56.25Z", "2026-11-26T02:40:56.250Z"},
      {"2026-11-26T02:40:56.123456789Z", "2026-11-26T02:40:56.123Z"},
      {"2026-11-26T04:40:56+02:00", "2026-11-26T02:40:56.000Z"},
      {"2026-11-25T23:10:56-03:30", "2026-11-26T02:40:56.000Z"},
      {"2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"},
  };
  for (const Case& c : cases) {
    Result<WallTime> t = ParseRfc3339(c.text);
    ASSERT_TRUE(t.ok()) << c.text << ": " << t.status().ToString();
    EXPECT_EQ(FormatTime(*t), c.utc) << c.text;
  }
}

TEST(ParseRfc3339Test, RejectsWhatIsNotAnInstant) {
  const std::string bad[] = {
      "",
      "now",
      "2026-11-26",
      "2026-11-26T02:40:56",       // no zone: ambiguous
      "2026-11-26T02:40:56.Z",     // empty fraction
      "2026-11-26T02:40:56+0200",  // offset without colon
      "2026-11-26T02:40:56Zjunk",
      "2026-13-26T02:40:56Z",
      "2026-11-26T24:40:56Z",
      "2026-11-26T02:60:56Z",
      "26-11-26T02:40:56Z",
      "2026-11-26T02:40:56+25:00",
  };
  for (const std::string& text : bad) {
    Result<WallTime> t = ParseRfc3339(text);
    EXPECT_FALSE(t.ok()) << "'" << text << "' parsed as " << (t.ok() ? FormatTime(*t) : "");
    if (!t.ok()) {
      EXPECT_NE(t.status().message().find("RFC 3339"), std::string::npos);
    }
  }
}

TEST(ValidateTableNameTest, PlainNamesOnly) {
  struct Case {
    std::string name;
    bool ok;
  };
  const Case cases[] = {
      {"orders", true},
      {"public.orders", true},
      {"_x1", true},
      {"Trades_2026", true},
      {"", false},
      {"1orders", false},
      {"orders;drop", false},
      {"a.b.c", false},
      {"\"orders\"", false},
      {"or ders", false},
      {".orders", false},
      {"public.", false},
      {std::string(64, 'a'), false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ValidateTableName(c.name).ok(), c.ok) << "'" << c.name << "'";
  }
}

TEST(FiguresQueryTest, OneRowPerTableWithQuotedNames) {
  const std::string sql = FiguresQuery({"orders", "public.trades"});
  EXPECT_NE(sql.find("FROM \"orders\" x"), std::string::npos) << sql;
  EXPECT_NE(sql.find("FROM \"public\".\"trades\" x"), std::string::npos) << sql;
  EXPECT_NE(sql.find("'public.trades'::text AS t"), std::string::npos) << sql;
  EXPECT_NE(sql.find(" UNION ALL "), std::string::npos);
  EXPECT_NE(sql.find("hashtextextended(x::text, 0)"), std::string::npos);
  EXPECT_EQ(FiguresQuery({"orders"}).find("UNION"), std::string::npos);
}

ScratchSettings Settings() {
  ScratchSettings s;
  s.listen_address = "127.0.1.1";
  s.port = 54321;
  s.source_wal_dir = "/var/lib/lab/primary/pgdata/pg_wal";
  s.target_name = "pilotlight-verify-20261126T024056123Z";
  return s;
}

TEST(ScratchConfTest, RestorePointTarget) {
  Result<std::string> conf = ScratchConf(Settings());
  ASSERT_TRUE(conf.ok()) << conf.status().ToString();
  const std::string want[] = {
      "listen_addresses = '127.0.1.1'\n",
      "port = 54321\n",
      "primary_conninfo = ''\n",
      "synchronous_standby_names = ''\n",
      "default_transaction_read_only = off\n",
      "restore_command = 'cp \"/var/lib/lab/primary/pgdata/pg_wal/%f\" \"%p\"'\n",
      "recovery_target_name = 'pilotlight-verify-20261126T024056123Z'\n",
      "recovery_target_action = 'promote'\n",
  };
  for (const std::string& line : want) EXPECT_NE(conf->find(line), std::string::npos) << line;
  EXPECT_EQ(conf->find("recovery_target_time"), std::string::npos);
}

TEST(ScratchConfTest, TimeTargetInUtcMicroseconds) {
  ScratchSettings s = Settings();
  s.target_name.clear();
  s.target_time = *ParseRfc3339("2026-11-26T04:40:56.123456+02:00");
  Result<std::string> conf = ScratchConf(s);
  ASSERT_TRUE(conf.ok()) << conf.status().ToString();
  EXPECT_NE(conf->find("recovery_target_time = '2026-11-26 02:40:56.123456+00'\n"),
            std::string::npos)
      << *conf;
  EXPECT_EQ(conf->find("recovery_target_name"), std::string::npos);
}

TEST(ScratchConfTest, RefusesWhatItCannotWriteSafely) {
  struct Case {
    std::string what;
    ScratchSettings settings;
  };
  std::vector<Case> cases;
  {
    ScratchSettings s = Settings();
    s.target_name.clear();
    cases.push_back({"no target", s});
  }
  {
    ScratchSettings s = Settings();
    s.target_time = WallTime(1s);
    cases.push_back({"two targets", s});
  }
  for (const char* dir :
       {"/a'b/pg_wal", "/a\"b/pg_wal", "/a$b/pg_wal", "/a`b`/pg_wal", "/a\\b/pg_wal"}) {
    ScratchSettings s = Settings();
    s.source_wal_dir = dir;
    cases.push_back({std::string("wal dir ") + dir, s});
  }
  {
    ScratchSettings s = Settings();
    s.target_name = "it's";
    cases.push_back({"quoted name", s});
  }
  for (const Case& c : cases) {
    Result<std::string> conf = ScratchConf(c.settings);
    EXPECT_FALSE(conf.ok()) << c.what;
    if (!conf.ok()) {
      EXPECT_EQ(conf.status().code(), Status::Code::kInvalidArgument) << c.what;
    }
  }
}

TableFigures F(const std::string& table, int64_t rows, const std::string& sum) {
  return {table, rows, sum};
}

TEST(CompareFiguresTest, TableDriven) {
  const std::vector<std::string> tables = {"orders", "trades"};
  struct Case {
    std::string what;
    std::vector<TableFigures> source;
    std::vector<TableFigures> restored;
    bool compare;
    bool passed;
    std::vector<bool> match;       // per table
    std::string problem_contains;  // "" when passed
  };
  const Case cases[] = {
      {"identical",
       {F("orders", 3, "11"), F("trades", 1, "-5")},
       {F("trades", 1, "-5"), F("orders", 3, "11")},
       true,
       true,
       {true, true},
       ""},
      {"a row lost",
       {F("orders", 3, "11"), F("trades", 1, "-5")},
       {F("orders", 2, "7"), F("trades", 1, "-5")},
       true,
       false,
       {false, true},
       "orders: 2 rows restored, the source had 3"},
      {"a row changed",
       {F("orders", 3, "11"), F("trades", 1, "-5")},
       {F("orders", 3, "12"), F("trades", 1, "-5")},
       true,
       false,
       {false, true},
       "checksums differ"},
      {"table missing on the restored side",
       {F("orders", 3, "11"), F("trades", 1, "-5")},
       {F("orders", 3, "11")},
       true,
       false,
       {true, false},
       "trades: no figures from the restored"},
      {"no source figures",
       {F("orders", 3, "11")},
       {F("orders", 3, "11"), F("trades", 1, "-5")},
       true,
       false,
       {true, false},
       "trades: no figures from the source"},
      {"counts only: differences are not failures",
       {F("orders", 3, "11"), F("trades", 1, "-5")},
       {F("orders", 2, "7"), F("trades", 0, "0")},
       false,
       true,
       {false, false},
       ""},
      {"counts only: a missing table still fails",
       {},
       {F("orders", 2, "7")},
       false,
       false,
       {false, false},
       "trades: no figures from the restored"},
  };
  for (const Case& c : cases) {
    Comparison got = CompareFigures(tables, c.source, c.restored, c.compare);
    EXPECT_EQ(got.passed, c.passed) << c.what;
    ASSERT_EQ(got.tables.size(), tables.size()) << c.what;
    for (size_t i = 0; i < tables.size(); ++i) {
      EXPECT_EQ(got.tables[i].table, tables[i]) << c.what;
      EXPECT_EQ(got.tables[i].match, c.match[i]) << c.what << " " << tables[i];
      EXPECT_EQ(got.tables[i].compared, c.compare) << c.what;
    }
    if (c.problem_contains.empty()) {
      EXPECT_TRUE(got.problems.empty()) << c.what << ": " << got.problems.front();
    } else {
      ASSERT_FALSE(got.problems.empty()) << c.what;
      EXPECT_NE(got.problems.front().find(c.problem_contains), std::string::npos)
          << c.what << ": " << got.problems.front();
    }
  }
  EXPECT_FALSE(CompareFigures({}, {}, {}, true).passed);
}

VerifyReport Report(bool mismatch) {
  VerifyReport r;
  r.region = "primary";
  r.source = "postgres@127.0.1.1:5432/trading";
  r.target_kind = "restore-point";
  r.target = "pilotlight-verify-x";
  r.point_name = "pilotlight-verify-x";
  r.point_lsn = "0/3000100";
  r.point_time = "2026-11-26 02:40:56.5+00";
  r.backup_seconds = 1.5;
  r.restore_seconds = 2.25;
  r.source_lock_seconds = 0.004;
  r.total_seconds = 5;
  r.steps = {{"base backup", 1.5}, {"restore", 2.25}};
  r.comparison = CompareFigures(
      {"orders", "trades"}, {F("orders", 3, "11"), F("trades", 1, "-5")},
      {F("orders", mismatch ? 2 : 3, mismatch ? "7" : "11"), F("trades", 1, "-5")}, true);
  return r;
}

TEST(FormatReportTest, JsonCarriesFiguresAndTimes) {
  for (bool mismatch : {false, true}) {
    nlohmann::json j = nlohmann::json::parse(FormatReportJson(Report(mismatch)));
    EXPECT_EQ(j["passed"], !mismatch);
    EXPECT_EQ(j["compared"], true);
    EXPECT_EQ(j["region"], "primary");
    EXPECT_EQ(j["target"]["kind"], "restore-point");
    EXPECT_EQ(j["restore_point"]["lsn"], "0/3000100");
    EXPECT_DOUBLE_EQ(j["backup_seconds"].get<double>(), 1.5);
    EXPECT_DOUBLE_EQ(j["restore_seconds"].get<double>(), 2.25);
    ASSERT_EQ(j["steps"].size(), 2u);
    EXPECT_EQ(j["steps"][1]["name"], "restore");
    ASSERT_EQ(j["tables"].size(), 2u);
    EXPECT_EQ(j["tables"][0]["table"], "orders");
    EXPECT_EQ(j["tables"][0]["source_rows"], 3);
    EXPECT_EQ(j["tables"][0]["restored_rows"], mismatch ? 2 : 3);
    EXPECT_EQ(j["tables"][0]["match"], !mismatch);
    EXPECT_EQ(j["tables"][1]["restored_checksum"], "-5");
    EXPECT_EQ(j["problems"].size(), mismatch ? 1u : 0u);
    EXPECT_EQ(j["kept"], false);
    EXPECT_FALSE(j.contains("scratch_dir"));
  }
  VerifyReport kept = Report(false);
  kept.kept = true;
  kept.scratch_dir = "/lab/backup-verify/x";
  kept.scratch_port = 40000;
  nlohmann::json j = nlohmann::json::parse(FormatReportJson(kept));
  EXPECT_EQ(j["scratch_dir"], "/lab/backup-verify/x");
  EXPECT_EQ(j["scratch_port"], 40000);
}

TEST(FormatReportTest, TextSaysWhatFailed) {
  const std::string ok = FormatReportText(Report(false));
  EXPECT_NE(ok.find("PASSED"), std::string::npos) << ok;
  EXPECT_NE(ok.find("backup 1.50s, restore 2.25s"), std::string::npos) << ok;
  EXPECT_EQ(ok.find("MISMATCH"), std::string::npos) << ok;
  const std::string bad = FormatReportText(Report(true));
  EXPECT_NE(bad.find("FAILED"), std::string::npos) << bad;
  EXPECT_NE(bad.find("MISMATCH"), std::string::npos) << bad;
  EXPECT_NE(bad.find("problem: orders: 2 rows restored, the source had 3"), std::string::npos)
      << bad;

  VerifyReport counts = Report(false);
  counts.comparison =
      CompareFigures({"orders"}, {F("orders", 3, "11")}, {F("orders", 2, "7")}, false);
  const std::string text = FormatReportText(counts);
  EXPECT_NE(text.find("(not compared)"), std::string::npos) << text;
  EXPECT_NE(text.find("counts only"), std::string::npos) << text;
}

}  // namespace
}  // namespace pilotlight::pg
