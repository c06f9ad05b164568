// Drill history: the RTO and RPO pilot light actually achieved.
//
// `pilotlight cost --history FILE` reads either the drills' own SQLite store
// (drill/history.h, .pilotlight/drills/history.db; told apart by the header
// "SQLite format 3"): every drill that measured an RTO and a database RPO,
// oldest first, `line` holding its id there; or JSON lines, one drill per
// line, oldest first, each an object
// {"rto_seconds": 42.5, "rpo_seconds": 0.8, "at": "2026-11-26T00:17:34Z"}.
// Blank lines are skipped; every bad line is reported (file:line:col, field,
// expected, found) and nothing is summarised from a file with errors. Pure
// parsing plus a file read; no shared state: thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace pilotlight::cost {

struct DrillRecord {
  double rto_seconds = 0;
  double rpo_seconds = 0;
  std::string at;  // when the drill ran, as written (RFC 3339 expected)
  int line = 0;    // where in the history file (SQLite store: the drill's id)
};

struct HistoryResult {
  std::vector<DrillRecord> drills;  // in file order; empty when errors is not
  std::vector<config::ConfigError> errors;
  bool ok() const { return errors.empty(); }
};

HistoryResult ParseHistory(std::string_view text, const std::string& file);
// JSON lines or the SQLite drill history, whichever `path` is.
HistoryResult LoadHistoryFile(const std::string& path);

// The latest drills at a glance.
struct MeasuredRecovery {
  int drills = 0;      // in the whole history
  DrillRecord latest;  // the last line
  int recent = 0;      // how many of the latest drills the worst values cover
  double worst_rto_seconds = 0;
  double worst_rpo_seconds = 0;
};

// nullopt when there are no drills. `recent` >= 1.
std::optional<MeasuredRecovery> Summarize(const std::vector<DrillRecord>& drills, int recent = 5);

}  // namespace pilotlight::cost
