#include "drill/measure.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace pilotlight::drill {
namespace {

using namespace std::chrono_literals;

// T0 of every table row: 2026-11-26T00:00:10Z.
constexpr char kT0[] = "2026-11-26T00:00:10.000Z";

WallTime T(const std::string& s) { return *ParseTime(s); }

std::string AckLine(const std::string& cid, int64_t id, const std::string& at,
                    const std::string& region) {
  return nlohmann::json({{"client_order_id", cid}, {"order_id", id}, {"ack_time", at},
                         {"region", region}, {"status", "new"}})
             .dump() +
         "\n";
}

// A succeeded failover run whose promote step ends at 00:00:14.5.
constexpr char kHistory[] = R"([
  {"id": 1, "runbook": "failover", "outcome": "succeeded",
   "started_at": "2026-11-26T00:00:12.000Z", "finished_at": "2026-11-26T00:00:16.000Z",
   "steps": [
     {"index": 0, "name": "scale up", "attempt": 1, "intent_at": "2026-11-26T00:00:12.000Z",
      "outcome": "succeeded", "duration_ms": 1000},
     {"index": 1, "name": "promote the DR replica", "attempt": 1,
      "intent_at": "2026-11-26T00:00:13.000Z", "outcome": "failed", "duration_ms": 500},
     {"index": 1, "name": "promote the DR replica", "attempt": 2,
      "intent_at": "2026-11-26T00:00:14.000Z", "outcome": "succeeded", "duration_ms": 500}]}
])";

constexpr char kEvents[] =
    R"({"event":"decision","at":"2026-11-26T00:00:05.000Z","plan":"none","reason":"no action: primary healthy"}
{"event":"decision","at":"2026-11-26T00:00:11.250Z","plan":"none","reason":"primary unhealthy from 2 of 3 vantage points, confirming"}
{"event":"decision","at":"2026-11-26T00:00:12.000Z","plan":"failover","reason":"failover"}
)";

TEST(ParseTimeTest, Table) {
  struct Row {
    std::string text;
    bool ok;
    int64_t ms_since_epoch;
  } rows[] = {
      {"1970-01-01T00:00:00Z", true, 0},
      {"1970-01-01T00:00:01.250Z", true, 1250},
      {"2026-11-26T00:17:34.123Z", true, 1795652254123},
      {"2026-11-26T00:17:34.123", false, 0},       // no zone
      {"2026-11-26T00:17:34.123+01:00", false, 0},  // not UTC
      {"2026-13-26T00:17:34Z", false, 0},
      {"yesterday", false, 0},
      {"", false, 0},
  };
  for (const Row& r : rows) {
    Result<WallTime> t = ParseTime(r.text);
    EXPECT_EQ(t.ok(), r.ok) << r.text;
    if (t.ok()) {
      EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch())
                    .count(),
                r.ms_since_epoch)
          << r.text;
    }
  }
}

TEST(ParseTest, MalformedJournalsAreErrorsNamingTheLine) {
  Result<std::vector<Ack>> a = ParseAckJournal(AckLine("c1", 1, kT0, "primary") + "{oops\n");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("line 2"), std::string::npos) << a.status().ToString();
  EXPECT_FALSE(ParseAckJournal(R"({"client_order_id":"c","ack_time":"x","order_id":1})").ok());
  EXPECT_FALSE(ParseAckJournal(R"({"client_order_id":"c","order_id":"1"})").ok());
  EXPECT_TRUE(ParseAckJournal("\n\n").ok());
  EXPECT_FALSE(ParseEvents("[1,2]\n").ok());
  EXPECT_FALSE(ParseFailoverRun("{}", "failover").ok());
  Result<FailoverRun> none = ParseFailoverRun("[]", "failover");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->found);
}

TEST(ParseTest, FailoverRunKeepsTheLastAttemptOfEachStepAndThePromotionTime) {
  Result<FailoverRun> run = ParseFailoverRun(kHistory, "failover");
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->found);
  EXPECT_EQ(run->outcome, "succeeded");
  ASSERT_EQ(run->steps.size(), 2u);
  EXPECT_EQ(run->steps[1].outcome, "succeeded");
  EXPECT_EQ(run->steps[1].start, T("2026-11-26T00:00:14.000Z"));
  EXPECT_DOUBLE_EQ(*run->steps[1].duration_seconds, 0.5);
  ASSERT_TRUE(run->promoted_at);
  EXPECT_EQ(*run->promoted_at, T("2026-11-26T00:00:14.500Z"));
}

struct MeasureRow {
  std::string name;
  std::string acks;                   // the load journals
  std::set<std::string> in_dr;        // client_order_ids in the promoted database
  bool passed;
  std::optional<double> rto;
  int64_t lost;
  double rpo_seconds;
  int64_t duplicates;
  int64_t split_brain;
};

TEST(MeasureTest, Table) {
  const MeasureRow rows[] = {
      {"clean failover",
       AckLine("a", 1, "2026-11-26T00:00:09.000Z", "primary") +
           AckLine("b", 2, "2026-11-26T00:00:09.900Z", "primary") +
           AckLine("c", 3, "2026-11-26T00:00:17.000Z", "dr") +
           AckLine("d", 4, "2026-11-26T00:00:16.500Z", "dr"),
       {"a", "b", "c", "d"}, true, 6.5, 0, 0, 0, 0},
      {"a lost acknowledgement is RPO",
       AckLine("a", 1, "2026-11-26T00:00:08.000Z", "primary") +
           AckLine("b", 2, "2026-11-26T00:00:09.500Z", "primary") +
           AckLine("c", 3, "2026-11-26T00:00:17.000Z", "dr"),
       {"a", "c"}, true, 7.0, 1, 0.5, 0, 0},
      {"a loss beyond the RPO objective fails",
       AckLine("a", 1, "2026-11-26T00:00:00.000Z", "primary") +
           AckLine("c", 3, "2026-11-26T00:00:17.000Z", "dr"),
       {"c"}, false, 7.0, 1, 10.0, 0, 0},
      {"a retry executed twice is a duplicate",
       AckLine("a", 1, "2026-11-26T00:00:09.000Z", "primary") +
           AckLine("a", 7, "2026-11-26T00:00:17.000Z", "dr"),
       {"a"}, false, 7.0, 0, 0, 1, 0},
      {"a replayed answer is not a duplicate",
       AckLine("a", 1, "2026-11-26T00:00:09.000Z", "primary") +
           AckLine("a", 1, "2026-11-26T00:00:17.000Z", "dr"),
       {"a"}, true, 7.0, 0, 0, 0, 0},
      {"the old primary acknowledging after promotion is split brain",
       AckLine("a", 1, "2026-11-26T00:00:09.000Z", "primary") +
           AckLine("b", 2, "2026-11-26T00:00:15.000Z", "primary") +
           AckLine("c", 3, "2026-11-26T00:00:17.000Z", "dr"),
       {"a", "b", "c"}, false, 7.0, 0, 0, 0, 1},
      {"no DR acknowledgement: no RTO",
       AckLine("a", 1, "2026-11-26T00:00:09.000Z", "primary"), {"a"}, false, std::nullopt, 0, 0,
       0, 0},
      {"RTO beyond the objective fails",
       AckLine("a", 1, "2026-11-26T00:00:09.000Z", "primary") +
           AckLine("c", 3, "2026-11-26T00:01:20.000Z", "dr"),
       {"a", "c"}, false, 70.0, 0, 0, 0, 0},
  };
  for (const MeasureRow& row : rows) {
    DrillInputs in;
    in.fault_at = T(kT0);
    in.acks = *ParseAckJournal(row.acks);
    in.events = *ParseEvents(kEvents);
    in.run = *ParseFailoverRun(kHistory, "failover");
    in.dr_client_order_ids = row.in_dr;
    in.objectives.rto = 60s;
    in.objectives.rpo_database = 5s;
    DrillResult r = Measure(in);
    EXPECT_EQ(r.passed, row.passed) << row.name << "\n" << ReportJson("t", r);
    EXPECT_EQ(r.rto_seconds, row.rto) << row.name;
    EXPECT_EQ(r.items_lost, row.lost) << row.name;
    EXPECT_DOUBLE_EQ(r.rpo_database_seconds, row.rpo_seconds) << row.name;
    EXPECT_EQ(r.duplicates, row.duplicates) << row.name;
    EXPECT_EQ(r.split_brain_writes, row.split_brain) << row.name;
    ASSERT_TRUE(r.detection_seconds) << row.name;
    EXPECT_DOUBLE_EQ(*r.detection_seconds, 1.25) << row.name;  // the first "primary unhealthy"
  }
}

TEST(MeasureTest, UnreadableDatabaseOrMissingRunFails) {
  DrillInputs in;
  in.fault_at = T(kT0);
  in.acks = *ParseAckJournal(AckLine("a", 1, "2026-11-26T00:00:09.000Z", "primary") +
                             AckLine("c", 3, "2026-11-26T00:00:17.000Z", "dr"));
  in.run = *ParseFailoverRun(kHistory, "failover");
  in.dr_database_error = "connection refused";
  DrillResult r = Measure(in);
  EXPECT_FALSE(r.passed);
  EXPECT_FALSE(r.detection_seconds);  // no events
  in.dr_client_order_ids = std::set<std::string>{"a", "c"};
  in.events = *ParseEvents(kEvents);
  EXPECT_TRUE(Measure(in).passed);
  in.run = *ParseFailoverRun("[]", "failover");
  EXPECT_FALSE(Measure(in).passed);
}

TEST(ReportTest, JsonHasTheDocumentedFields) {
  DrillInputs in;
  in.fault_at = T(kT0);
  in.run = *ParseFailoverRun(kHistory, "failover");
  in.dr_client_order_ids = std::set<std::string>{};
  nlohmann::json j = nlohmann::json::parse(ReportJson("region-outage", Measure(in)));
  for (const char* key : {"scenario", "passed", "rto_seconds", "detection_seconds", "rpo",
                          "steps", "capacity_ratio", "checks"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_TRUE(j["capacity_ratio"].is_null());
  EXPECT_EQ(j["rpo"]["database"]["items_lost"], 0);
  EXPECT_EQ(j["steps"].size(), 2u);
  EXPECT_EQ(j["steps"][0]["duration_seconds"], 1.0);
  EXPECT_NE(ReportMarkdown("region-outage", Measure(in)).find("FAILED"), std::string::npos);
}

}  // namespace
}  // namespace pilotlight::drill
