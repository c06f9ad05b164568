// The drill's measurements: from the journals a failover leaves behind (the
// load client's acknowledgement journals, the controller's events.jsonl, the
// runbook history as `pilotlight history --json` prints it, and the set of
// client_order_ids present in the promoted database, the session and
// confirmation ids found in DR, the load figures of the baseline and of DR) to
// the figures a drill reports (detection time, client-perceived RTO, RPO per
// data type, per-step timings, DR capacity against the baseline), its checks
// against the configured objectives and what the scenario expects to happen,
// and the timeline the HTML report draws.
//
// Everything here is pure: no clock, no files, no servers. Parsers take the
// text of a journal and return a clear error for a malformed one. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::drill {

// One acknowledged order of the load client's journal.
struct Ack {
  std::string client_order_id;
  int64_t order_id = 0;
  WallTime ack_time;
  std::string region;  // the x-pilotlight-region the answer came from
};

// One controller event of events.jsonl that the drill uses.
struct ControllerEvent {
  std::string event;  // "decision", "step-started", "step-finished", ...
  WallTime at;        // "at" of a decision, "started_at" of a step event
  std::string plan;   // decisions: "none", "failover", "wait-for-lease", ...
  std::string reason;
};

struct StepTiming {
  std::string name;
  WallTime start;
  std::optional<double> duration_seconds;  // nullopt while unfinished
  std::string outcome;
};

// The most recent failover run of the runbook history.
struct FailoverRun {
  bool found = false;
  std::string outcome;  // "succeeded", "failed", "unfinished"
  WallTime started_at;
  std::optional<WallTime> finished_at;
  std::vector<StepTiming> steps;        // the finished attempt of each step
  std::optional<WallTime> promoted_at;  // end of the succeeded promote step
};

// RFC 3339 UTC as FormatTime writes it ("2026-11-26T00:17:34.123Z"; the
// fraction is optional).
Result<WallTime> ParseTime(const std::string& text);

// JSON lines; blank lines are skipped, any other unparsable line is an error
// naming its line number.
Result<std::vector<Ack>> ParseAckJournal(const std::string& text);
Result<std::vector<ControllerEvent>> ParseEvents(const std::string& text);
// `history --json`: an array of runs, newest first. `runbook` names the
// failover runbook ("failover").
Result<FailoverRun> ParseFailoverRun(const std::string& history_json, const std::string& runbook);

struct Objectives {
  Duration rto = std::chrono::seconds(60);
  Duration rpo_database = std::chrono::seconds(60);
  Duration rpo_sessions = std::chrono::seconds(5);
  Duration rpo_objects = std::chrono::minutes(15);
  double min_capacity_ratio = 0.95;  // DR throughput / baseline throughput at the same rate
};

// What a load run achieved (the load client's --json summary).
struct LoadFigures {
  double orders_per_second = 0;  // acknowledged orders per second
  double p99_ms = 0;
  int64_t errors = 0;
  int64_t sent = 0;
};

// LoadFigures from the report `pilotlight load --json` prints: throughput,
// latency_ms.p99, errors (the sum of its counts by kind), and sent = acked +
// rejected + gave_up (every order ends as one of those). An error for text that is not such a report.
Result<LoadFigures> ParseLoadReport(const std::string& load_json);

// The RPO input of a keyed data type (sessions in Redis, trade confirmations in
// a bucket): every item the platform acknowledged, with when it was written,
// and the ids DR holds after the fault. A non-empty `error` says DR could not
// be read (the type's RPO check then fails).
struct KeyedRpoInput {
  std::map<std::string, WallTime> acknowledged;  // id -> written_at
  std::set<std::string> present_in_dr;
  std::string error;
};

// What the scenario expects the controller to do.
enum class Expect {
  kFailover,    // region-outage, db-crash, network-partition, gray-failure: a failover runs
  kNoFailover,  // app-crash: the database is fine, the primary recovers in place
  kRefused,     // replica-lag: DR lags beyond the limit, failover must be refused
};

const char* ExpectName(Expect e);  // "failover" | "no-failover" | "refused"

struct DrillInputs {
  WallTime fault_at;  // T0: the instant the primary region was killed
  std::string primary_region = "primary";
  std::string dr_region = "dr";
  std::vector<Ack> acks;  // every load journal, concatenated
  std::vector<ControllerEvent> events;
  FailoverRun run;
  // client_order_ids present in the database that serves after the fault: the
  // promoted DR database (kFailover) or the primary's (kNoFailover). nullopt
  // when it could not be read (the RPO check then fails; with kRefused there is
  // no check and no figure).
  std::optional<std::set<std::string>> dr_client_order_ids;
  std::string dr_database_error;  // why it could not be read
  Objectives objectives;
  Expect expect = Expect::kFailover;
  // Capacity: the baseline load against the primary and the same load against
  // DR after the failover. Either missing: capacity not measured, no check.
  std::optional<LoadFigures> baseline;
  std::optional<LoadFigures> dr_capacity;
  // RPO of sessions and of trade confirmations; nullopt: not measured, no check.
  std::optional<KeyedRpoInput> sessions;
  std::optional<KeyedRpoInput> confirmations;
  // network-partition: whether the cut-off primary fenced itself; when set, a
  // check "old primary fenced itself" must hold.
  std::optional<bool> old_primary_fenced;
};

struct Check {
  std::string name;
  bool passed = false;
  std::string detail;
};

// Items of one data type acknowledged but absent in DR, and the window they
// cover: fault - the earliest lost item's write (0 when none is lost).
struct RpoFigure {
  double seconds = 0;
  int64_t items_lost = 0;
};

struct DrillResult {
  bool passed = false;
  Expect expect = Expect::kFailover;
  std::optional<double> rto_seconds;        // T0 -> first DR acknowledgement
  std::optional<double> detection_seconds;  // T0 -> first decision reacting to the outage
  // RPO per data type; nullopt: not measured (or could not be read).
  std::optional<RpoFigure> rpo_database;  // acknowledged orders absent from the database
  std::optional<RpoFigure> rpo_sessions;
  std::optional<RpoFigure> rpo_objects;  // trade confirmations
  int64_t duplicates = 0;                // client_order_ids acknowledged with 2+ order ids
  int64_t split_brain_writes = 0;        // acknowledged by the old primary after promotion
  int64_t acks_before_fault = 0;
  int64_t acks_after_fault = 0;
  // DR throughput / baseline throughput; nullopt: not measured.
  std::optional<double> capacity_ratio;
  std::optional<LoadFigures> baseline;
  std::optional<LoadFigures> dr_capacity;
  std::vector<StepTiming> steps;
  std::vector<Check> checks;
};

DrillResult Measure(const DrillInputs& in);

// report.json (schema_version 2: `rpo` is an object per data type, null where
// not measured; `capacity_ratio` null when not measured) and report.md.
inline constexpr int kReportSchemaVersion = 2;
std::string ReportJson(const std::string& scenario, const DrillResult& r);
std::string ReportMarkdown(const std::string& scenario, const DrillResult& r);

// What the HTML report draws: acknowledged orders per second and region, and
// the drill's phases, on an axis in seconds from the fault (negative before).
struct TimelinePhase {
  std::string name;  // "baseline", "fault", "detection", a step's name, "first DR ack"
  std::string kind;  // "phase" | "step" | "marker" (an instant: end == start)
  double start_seconds = 0;
  double end_seconds = 0;
  std::string outcome;  // steps: the step's outcome
};

struct Timeline {
  // Bins are whole seconds [s, s+1) from the fault; counts[i] is bin first_second + i.
  int64_t first_second = 0;
  int64_t last_second = 0;                                      // inclusive
  std::map<std::string, std::vector<int64_t>> acks_per_second;  // region -> counts
  std::vector<TimelinePhase> phases;
  // The axis: the earliest and latest instant of any ack or phase, in seconds from the fault.
  double min_seconds = 0;
  double max_seconds = 0;
};

// `r` is Measure(in): the timeline reuses its detection time.
Timeline BuildTimeline(const DrillInputs& in, const DrillResult& r);

}  // namespace pilotlight::drill
