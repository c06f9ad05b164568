// The drill's measurements: from the journals a failover leaves behind (the
// load client's acknowledgement journals, the controller's events.jsonl, the
// runbook history as `pilotlight history --json` prints it, and the set of
// client_order_ids present in the promoted database) to the figures a drill
// reports (detection time, client-perceived RTO, database RPO, per-step
// timings) and its checks against the configured objectives.
//
// Everything here is pure: no clock, no files, no servers. Parsers take the
// text of a journal and return a clear error for a malformed one. Thread-safe.
#pragma once

#include <cstdint>
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
  std::vector<StepTiming> steps;                // the finished attempt of each step
  std::optional<WallTime> promoted_at;          // end of the succeeded promote step
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
};

struct DrillInputs {
  WallTime fault_at;  // T0: the instant the primary region was killed
  std::string primary_region = "primary";
  std::string dr_region = "dr";
  std::vector<Ack> acks;  // every load journal, concatenated
  std::vector<ControllerEvent> events;
  FailoverRun run;
  // client_order_ids present in the promoted DR database; nullopt when it could
  // not be read (the RPO check then fails).
  std::optional<std::set<std::string>> dr_client_order_ids;
  std::string dr_database_error;  // why it could not be read
  Objectives objectives;
};

struct Check {
  std::string name;
  bool passed = false;
  std::string detail;
};

struct DrillResult {
  bool passed = false;
  std::optional<double> rto_seconds;        // T0 -> first DR acknowledgement
  std::optional<double> detection_seconds;  // T0 -> first decision reacting to the outage
  double rpo_database_seconds = 0;          // T0 - earliest lost acknowledgement (0: none lost)
  int64_t items_lost = 0;                   // acknowledged, absent from the promoted database
  int64_t duplicates = 0;                   // client_order_ids acknowledged with 2+ order ids
  int64_t split_brain_writes = 0;           // acknowledged by the old primary after promotion
  int64_t acks_before_fault = 0;
  int64_t acks_after_fault = 0;
  std::vector<StepTiming> steps;
  std::vector<Check> checks;
};

DrillResult Measure(const DrillInputs& in);

// report.json (`scenario` and `capacity_ratio` null: not measured yet) and report.md.
std::string ReportJson(const std::string& scenario, const DrillResult& r);
std::string ReportMarkdown(const std::string& scenario, const DrillResult& r);

}  // namespace pilotlight::drill
