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
    ASSERT_TRUE(r.rpo_database) << row.name;
    EXPECT_EQ(r.rpo_database->items_lost, row.lost) << row.name;
    EXPECT_DOUBLE_EQ(r.rpo_database->seconds, row.rpo_seconds) << row.name;
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

// A clean failover (the first row of MeasureTest.Table) to extend.
DrillInputs CleanFailover() {
  DrillInputs in;
  in.fault_at = T(kT0);
  in.acks = *ParseAckJournal(AckLine("a", 1, "2026-11-26T00:00:09.000Z", "primary") +
                             AckLine("b", 2, "2026-11-26T00:00:09.900Z", "primary") +
                             AckLine("c", 3, "2026-11-26T00:00:17.000Z", "dr"));
  in.events = *ParseEvents(kEvents);
  in.run = *ParseFailoverRun(kHistory, "failover");
  in.dr_client_order_ids = std::set<std::string>{"a", "b", "c"};
  return in;
}

const Check* FindCheck(const DrillResult& r, const std::string& name) {
  for (const Check& c : r.checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

TEST(MeasureTest, CleanFailoverPasses) { EXPECT_TRUE(Measure(CleanFailover()).passed); }

TEST(CapacityTest, Table) {
  struct Row {
    std::string name;
    std::optional<LoadFigures> baseline, dr;
    double threshold;
    std::optional<double> ratio;  // nullopt: not measured, no check
    bool check_present;
    bool passed;
  } rows[] = {
      {"both measured, DR as fast", LoadFigures{50, 10, 0, 500}, LoadFigures{49, 14, 0, 490},
       0.95, 0.98, true, true},
      {"DR too slow", LoadFigures{50, 10, 0, 500}, LoadFigures{40, 80, 3, 500}, 0.95, 0.8, true,
       false},
      {"threshold is the objective's", LoadFigures{50, 10, 0, 500}, LoadFigures{40, 80, 3, 500},
       0.75, 0.8, true, true},
      {"exactly at the threshold", LoadFigures{100, 10, 0, 500}, LoadFigures{95, 10, 0, 500},
       0.95, 0.95, true, true},
      {"baseline missing", std::nullopt, LoadFigures{50, 10, 0, 500}, 0.95, std::nullopt, false,
       true},
      {"DR missing", LoadFigures{50, 10, 0, 500}, std::nullopt, 0.95, std::nullopt, false, true},
      {"empty baseline", LoadFigures{0, 0, 500, 500}, LoadFigures{50, 10, 0, 500}, 0.95,
       std::nullopt, true, false},
  };
  for (const Row& row : rows) {
    DrillInputs in = CleanFailover();
    in.baseline = row.baseline;
    in.dr_capacity = row.dr;
    in.objectives.min_capacity_ratio = row.threshold;
    DrillResult r = Measure(in);
    EXPECT_EQ(r.capacity_ratio, row.ratio) << row.name;
    const Check* c = nullptr;
    for (const Check& check : r.checks) {
      if (check.name.rfind("DR capacity >= ", 0) == 0) c = &check;
    }
    EXPECT_EQ(c != nullptr, row.check_present) << row.name;
    EXPECT_EQ(r.passed, row.passed) << row.name;
    nlohmann::json j = nlohmann::json::parse(ReportJson("t", r));
    EXPECT_EQ(j["capacity_ratio"].is_null(), !row.ratio.has_value()) << row.name;
    const std::string md = ReportMarkdown("t", r);
    if (row.ratio) {
      EXPECT_EQ(j["capacity"]["baseline"]["p99_ms"], row.baseline->p99_ms) << row.name;
      EXPECT_EQ(j["capacity"]["dr"]["p99_ms"], row.dr->p99_ms) << row.name;
      EXPECT_EQ(md.find("| capacity ratio | not measured |"), std::string::npos) << row.name;
    } else {
      EXPECT_NE(md.find("| capacity ratio | not measured |"), std::string::npos) << row.name;
    }
  }
  DrillInputs in = CleanFailover();
  in.baseline = LoadFigures{50, 10, 0, 500};
  in.dr_capacity = LoadFigures{49, 14, 0, 490};
  EXPECT_NE(FindCheck(Measure(in), "DR capacity >= 0.95 of baseline"), nullptr);
}

TEST(ParseLoadReportTest, Table) {
  const std::string good = R"({"acked": 480, "replayed": 2, "rejected": 15, "gave_up": 5,
      "retries": 9, "errors": {"connect": 4, "503": 3}, "acked_by_region": {"dr": 480},
      "elapsed_seconds": 10,
      "throughput": 48.0, "latency_ms": {"p50": 3.5, "p99": 12.25, "p99_9": 30, "max": 41},
      "dns_resolutions": []})";
  Result<LoadFigures> f = ParseLoadReport(good);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->orders_per_second, 48.0);
  EXPECT_EQ(f->p99_ms, 12.25);
  EXPECT_EQ(f->errors, 7);
  EXPECT_EQ(f->sent, 500);
  Result<LoadFigures> plain =
      ParseLoadReport(R"({"acked": 1, "throughput": 1, "errors": 2, "latency_ms": {"p99": 1}})");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->errors, 2);
  for (const char* bad : {"", "[]", "{oops", R"({"acked": 1, "throughput": 1})",
                          R"({"acked": 1, "throughput": "1", "latency_ms": {"p99": 1}})"}) {
    EXPECT_FALSE(ParseLoadReport(bad).ok()) << bad;
  }
}

TEST(KeyedRpoTest, Table) {
  struct Row {
    std::string name;
    std::map<std::string, std::string> acknowledged;  // id -> written_at
    std::set<std::string> in_dr;
    std::string error;
    bool passed;
    int64_t lost;
    double seconds;
  } rows[] = {
      {"nothing lost", {{"s1", "2026-11-26T00:00:01.000Z"}, {"s2", "2026-11-26T00:00:09.000Z"}},
       {"s1", "s2"}, "", true, 0, 0},
      {"one lost, within the objective",
       {{"s1", "2026-11-26T00:00:01.000Z"}, {"s2", "2026-11-26T00:00:08.000Z"}}, {"s1"}, "",
       true, 1, 2.0},
      {"the earliest lost sets the window",
       {{"s1", "2026-11-26T00:00:03.000Z"}, {"s2", "2026-11-26T00:00:08.000Z"},
        {"s3", "2026-11-26T00:00:09.000Z"}},
       {"s3"}, "", false, 2, 7.0},
      {"written after the fault and lost: counted, no window",
       {{"s1", "2026-11-26T00:00:11.000Z"}}, {}, "", true, 1, 0},
      {"DR unreadable fails", {{"s1", "2026-11-26T00:00:01.000Z"}}, {"s1"}, "connection refused",
       false, -1, 0},
  };
  for (bool sessions : {true, false}) {
    for (const Row& row : rows) {
      const std::string label = row.name + (sessions ? " (sessions)" : " (objects)");
      DrillInputs in = CleanFailover();
      in.objectives.rpo_sessions = 5s;
      in.objectives.rpo_objects = 5s;
      KeyedRpoInput k;
      for (const auto& [id, at] : row.acknowledged) k.acknowledged[id] = T(at);
      k.present_in_dr = row.in_dr;
      k.error = row.error;
      (sessions ? in.sessions : in.confirmations) = k;
      DrillResult r = Measure(in);
      EXPECT_EQ(r.passed, row.passed) << label;
      const std::optional<RpoFigure>& f = sessions ? r.rpo_sessions : r.rpo_objects;
      const std::optional<RpoFigure>& other = sessions ? r.rpo_objects : r.rpo_sessions;
      EXPECT_FALSE(other) << label;
      const Check* c = FindCheck(r, sessions ? "rpo sessions" : "rpo objects");
      ASSERT_NE(c, nullptr) << label;
      EXPECT_EQ(c->passed, row.passed) << label;
      nlohmann::json j = nlohmann::json::parse(ReportJson("t", r));
      const char* key = sessions ? "sessions" : "objects";
      if (row.lost < 0) {
        EXPECT_FALSE(f) << label;
        EXPECT_TRUE(j["rpo"][key].is_null()) << label;
        EXPECT_NE(c->detail.find("connection refused"), std::string::npos) << label;
        continue;
      }
      ASSERT_TRUE(f) << label;
      EXPECT_EQ(f->items_lost, row.lost) << label;
      EXPECT_DOUBLE_EQ(f->seconds, row.seconds) << label;
      EXPECT_EQ(j["rpo"][key]["items_lost"], row.lost) << label;
      EXPECT_EQ(j["rpo"][key]["seconds"], row.seconds) << label;
    }
  }
}

// Events of a replica-lag drill: the controller sees the primary die but DR lags.
constexpr char kBlockedEvents[] =
    R"({"event":"decision","at":"2026-11-26T00:00:05.000Z","plan":"none","reason":"no action: primary healthy"}
{"event":"decision","at":"2026-11-26T00:00:11.500Z","plan":"none","reason":"blocked: primary unhealthy from 2026-11-26T00:00:11Z but DR is not ready: replica lag 12.0 s over the 10.0 s limit; waiting"}
)";
constexpr char kBlockedOtherEvents[] =
    R"({"event":"decision","at":"2026-11-26T00:00:11.500Z","plan":"none","reason":"blocked: primary unhealthy but DR is not ready: release missing"}
{"event":"decision","at":"2026-11-26T00:00:08.000Z","plan":"none","reason":"blocked: replica lag 12.0 s, before the fault"}
)";

TEST(ExpectTest, Table) {
  const std::string before = AckLine("a", 1, "2026-11-26T00:00:09.000Z", "primary");
  struct Row {
    std::string name;
    Expect expect;
    std::string acks;
    std::string events;
    std::string history;
    std::set<std::string> in_db;
    std::optional<bool> fenced;
    bool passed;
    std::optional<double> rto;
    std::string failing_check;  // the check expected to fail ("" when passing)
  } rows[] = {
      {"app-crash: primary recovers in place", Expect::kNoFailover,
       before + AckLine("b", 2, "2026-11-26T00:00:13.000Z", "primary"), kEvents, "[]",
       {"a", "b"}, std::nullopt, true, 3.0, ""},
      {"app-crash: an ack from DR counts too", Expect::kNoFailover,
       before + AckLine("b", 2, "2026-11-26T00:00:12.000Z", "dr") +
           AckLine("c", 3, "2026-11-26T00:00:13.000Z", "primary"),
       kEvents, "[]", {"a", "b", "c"}, std::nullopt, true, 2.0, ""},
      {"app-crash: a failover run is a failure", Expect::kNoFailover,
       before + AckLine("b", 2, "2026-11-26T00:00:13.000Z", "primary"), kEvents, kHistory,
       {"a", "b"}, std::nullopt, false, 3.0, "no failover"},
      {"app-crash: one lost order fails", Expect::kNoFailover,
       before + AckLine("b", 2, "2026-11-26T00:00:13.000Z", "primary"), kEvents, "[]", {"b"},
       std::nullopt, false, 3.0, "no acknowledged order lost"},
      {"app-crash: no ack after the fault fails", Expect::kNoFailover, before, kEvents, "[]",
       {"a"}, std::nullopt, false, std::nullopt, "rto"},
      {"app-crash: a duplicate fails", Expect::kNoFailover,
       before + AckLine("a", 9, "2026-11-26T00:00:13.000Z", "primary"), kEvents, "[]", {"a"},
       std::nullopt, false, 3.0, "no duplicates"},
      {"replica-lag: refused for lag", Expect::kRefused, before, kBlockedEvents, "[]", {},
       std::nullopt, true, std::nullopt, ""},
      {"replica-lag: blocked for another reason or before the fault", Expect::kRefused, before,
       kBlockedOtherEvents, "[]", {}, std::nullopt, false, std::nullopt,
       "failover refused for replica lag"},
      {"replica-lag: a failover despite the lag", Expect::kRefused, before, kBlockedEvents,
       kHistory, {}, std::nullopt, false, std::nullopt, "no failover"},
      {"network-partition: fenced", Expect::kFailover,
       before + AckLine("c", 3, "2026-11-26T00:00:17.000Z", "dr"), kEvents, kHistory, {"a", "c"},
       true, true, 7.0, ""},
      {"network-partition: not fenced", Expect::kFailover,
       before + AckLine("c", 3, "2026-11-26T00:00:17.000Z", "dr"), kEvents, kHistory, {"a", "c"},
       false, false, 7.0, "old primary fenced itself"},
  };
  for (const Row& row : rows) {
    DrillInputs in;
    in.fault_at = T(kT0);
    in.expect = row.expect;
    in.acks = *ParseAckJournal(row.acks);
    in.events = *ParseEvents(row.events);
    in.run = *ParseFailoverRun(row.history, "failover");
    if (row.expect != Expect::kRefused) in.dr_client_order_ids = row.in_db;
    in.old_primary_fenced = row.fenced;
    DrillResult r = Measure(in);
    EXPECT_EQ(r.passed, row.passed) << row.name << "\n" << ReportMarkdown("t", r);
    EXPECT_EQ(r.rto_seconds, row.rto) << row.name;
    if (!row.failing_check.empty()) {
      const Check* c = FindCheck(r, row.failing_check);
      ASSERT_NE(c, nullptr) << row.name;
      EXPECT_FALSE(c->passed) << row.name;
    }
    EXPECT_EQ(FindCheck(r, "old primary fenced itself") != nullptr, row.fenced.has_value())
        << row.name;
    // Only a failover drill checks split brain and a succeeded run.
    EXPECT_EQ(FindCheck(r, "no split brain") != nullptr, row.expect == Expect::kFailover)
        << row.name;
  }
  // The refusal's reason is reported.
  DrillInputs in;
  in.fault_at = T(kT0);
  in.expect = Expect::kRefused;
  in.acks = *ParseAckJournal(before);
  in.events = *ParseEvents(kBlockedEvents);
  const Check* c = FindCheck(Measure(in), "failover refused for replica lag");
  ASSERT_NE(c, nullptr);
  EXPECT_NE(c->detail.find("replica lag 12.0 s over the 10.0 s limit"), std::string::npos)
      << c->detail;
  EXPECT_EQ(nlohmann::json::parse(ReportJson("replica-lag", Measure(in)))["expect"], "refused");
}

TEST(TimelineTest, CountsAcksPerSecondAndRegionAndListsThePhases) {
  DrillInputs in = CleanFailover();
  in.acks = *ParseAckJournal(AckLine("a", 1, "2026-11-26T00:00:08.100Z", "primary") +
                             AckLine("b", 2, "2026-11-26T00:00:08.900Z", "primary") +
                             AckLine("b2", 5, "2026-11-26T00:00:09.999Z", "primary") +
                             AckLine("c", 3, "2026-11-26T00:00:17.000Z", "dr") +
                             AckLine("d", 4, "2026-11-26T00:00:17.500Z", "dr"));
  DrillResult r = Measure(in);
  Timeline t = BuildTimeline(in, r);
  EXPECT_EQ(t.first_second, -2);  // 08.1 is 1.9 s before the fault: bin [-2, -1)
  EXPECT_EQ(t.last_second, 7);
  ASSERT_EQ(t.acks_per_second.size(), 2u);
  const std::vector<int64_t> primary = {2, 1, 0, 0, 0, 0, 0, 0, 0, 0};
  const std::vector<int64_t> dr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  EXPECT_EQ(t.acks_per_second["primary"], primary);
  EXPECT_EQ(t.acks_per_second["dr"], dr);
  std::vector<std::string> names;
  for (const TimelinePhase& p : t.phases) names.push_back(p.name);
  const std::vector<std::string> want = {"baseline", "fault", "detection", "scale up",
                                         "promote the DR replica", "first DR ack"};
  EXPECT_EQ(names, want);
  EXPECT_DOUBLE_EQ(t.phases[0].start_seconds, -1.9);
  EXPECT_DOUBLE_EQ(t.phases[2].end_seconds, 1.25);
  EXPECT_DOUBLE_EQ(t.phases[4].start_seconds, 4.0);
  EXPECT_DOUBLE_EQ(t.phases[4].end_seconds, 4.5);
  EXPECT_DOUBLE_EQ(t.phases[5].start_seconds, 7.0);
  EXPECT_DOUBLE_EQ(t.min_seconds, -2);
  EXPECT_DOUBLE_EQ(t.max_seconds, 8);
}

TEST(TimelineTest, NoAcksStillHasTheFault) {
  DrillInputs in;
  in.fault_at = T(kT0);
  Timeline t = BuildTimeline(in, Measure(in));
  EXPECT_TRUE(t.acks_per_second.empty());
  ASSERT_EQ(t.phases.size(), 1u);
  EXPECT_EQ(t.phases[0].name, "fault");
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
  EXPECT_EQ(j["schema_version"], 2);
  EXPECT_EQ(j["rpo"]["database"]["items_lost"], 0);
  EXPECT_TRUE(j["rpo"]["sessions"].is_null());
  EXPECT_TRUE(j["rpo"]["objects"].is_null());
  EXPECT_EQ(j["steps"].size(), 2u);
  EXPECT_EQ(j["steps"][0]["duration_seconds"], 1.0);
  EXPECT_NE(ReportMarkdown("region-outage", Measure(in)).find("FAILED"), std::string::npos);
  in.dr_client_order_ids.reset();
  j = nlohmann::json::parse(ReportJson("region-outage", Measure(in)));
  EXPECT_TRUE(j["rpo"]["database"].is_null());
}

}  // namespace
}  // namespace pilotlight::drill
