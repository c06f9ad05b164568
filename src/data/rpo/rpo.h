// The live RPO: for each data type pilotlight replicates, how far behind the
// replica is, against the objective in the config (objectives.rpo).
//
// A LagReading is one measurement (database, sessions per direction, each
// bucket of objects or artifacts); Evaluate compares it with its objective:
// within, breaching (lag above the objective, or data that will never arrive
// without an operator: `data_missing`), or unknown (the lag cannot be measured: a
// server is unreachable, nothing replicates). Evaluation and
// formatting are pure; ReadLags (lag_readers.h) does the I/O. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/model.h"
#include "core/clock.h"

namespace pilotlight::rpo {

enum class DataType { kDatabase, kSessions, kObjects, kArtifacts };
const char* DataTypeName(DataType type);  // "database" | "sessions" | "objects" | "artifacts"

enum class RpoState { kWithin, kBreaching, kUnknown };
const char* RpoStateName(RpoState state);  // "within" | "breaching" | "unknown"

struct LagReading {
  DataType type = DataType::kDatabase;
  std::string name;  // bucket name for objects and artifacts, "" otherwise
  std::string from;  // source region
  std::string to;    // destination region
  std::optional<Duration> lag;  // nullopt: unknown
  bool upper_bound = false;     // the lag is a bound, not a measurement
  std::string detail;           // backlog, state, or why the lag is unknown
  // Some data is missing from the replica and waiting will not bring it (a bucket
  // object the replicator refuses): breaching whatever the lag.
  bool data_missing = false;
};

struct RpoRow {
  LagReading reading;
  Duration objective{};
  RpoState state = RpoState::kUnknown;
};

Duration ObjectiveFor(DataType type, const config::RpoObjectives& objectives);
RpoState Evaluate(const std::optional<Duration>& lag, Duration objective);
RpoState Evaluate(const LagReading& reading, Duration objective);
std::vector<RpoRow> EvaluateAll(const std::vector<LagReading>& readings,
                                const config::RpoObjectives& objectives);

// True when every row is within its objective.
bool AllWithin(const std::vector<RpoRow>& rows);

// A table for people: data type, direction, lag, objective, state, detail.
std::string FormatRpoTable(const std::vector<RpoRow>& rows);
std::string FormatRpoJson(const std::vector<RpoRow>& rows, WallTime now);

}  // namespace pilotlight::rpo
