#include "data/rpo/rpo.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/duration.h"

namespace pilotlight::rpo {
namespace {

std::string Lag(const LagReading& r) {
  if (!r.lag) return "unknown";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%.3fs", r.upper_bound ? "<= " : "", ToSeconds(*r.lag));
  return buf;
}

std::string Direction(const LagReading& r) { return r.from + " -> " + r.to; }

std::string TypeLabel(const LagReading& r) {
  if (r.name.empty() || r.name == DataTypeName(r.type)) return DataTypeName(r.type);
  return std::string(DataTypeName(r.type)) + "/" + r.name;
}

}  // namespace

const char* DataTypeName(DataType type) {
  switch (type) {
    case DataType::kDatabase:
      return "database";
    case DataType::kSessions:
      return "sessions";
    case DataType::kObjects:
      return "objects";
    case DataType::kArtifacts:
      return "artifacts";
  }
  return "?";
}

const char* RpoStateName(RpoState state) {
  switch (state) {
    case RpoState::kWithin:
      return "within";
    case RpoState::kBreaching:
      return "breaching";
    case RpoState::kUnknown:
      return "unknown";
  }
  return "unknown";
}

Duration ObjectiveFor(DataType type, const config::RpoObjectives& o) {
  switch (type) {
    case DataType::kDatabase:
      return o.database;
    case DataType::kSessions:
      return o.sessions;
    case DataType::kObjects:
      return o.objects;
    case DataType::kArtifacts:
      return o.artifacts;
  }
  return o.database;
}

RpoState Evaluate(const std::optional<Duration>& lag, Duration objective) {
  if (!lag) return RpoState::kUnknown;
  return *lag > objective ? RpoState::kBreaching : RpoState::kWithin;
}

RpoState Evaluate(const LagReading& reading, Duration objective) {
  if (reading.data_missing) return RpoState::kBreaching;
  return Evaluate(reading.lag, objective);
}

std::vector<RpoRow> EvaluateAll(const std::vector<LagReading>& readings,
                                const config::RpoObjectives& objectives) {
  std::vector<RpoRow> rows;
  for (const LagReading& r : readings) {
    const Duration objective = ObjectiveFor(r.type, objectives);
    rows.push_back({r, objective, Evaluate(r, objective)});
  }
  return rows;
}

bool AllWithin(const std::vector<RpoRow>& rows) {
  for (const RpoRow& r : rows) {
    if (r.state != RpoState::kWithin) return false;
  }
  return true;
}

std::string FormatRpoTable(const std::vector<RpoRow>& rows) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-24s %-18s %-12s %-10s %-10s %s\n", "DATA TYPE", "DIRECTION",
                "LAG", "OBJECTIVE", "STATE", "DETAIL");
  out += line;
  for (const RpoRow& r : rows) {
    std::snprintf(line, sizeof line, "%-24s %-18s %-12s %-10s %-10s %s\n",
                  TypeLabel(r.reading).c_str(), Direction(r.reading).c_str(),
                  Lag(r.reading).c_str(), FormatDuration(r.objective).c_str(),
                  RpoStateName(r.state), r.reading.detail.c_str());
    out += line;
  }
  return out;
}

std::string FormatRpoJson(const std::vector<RpoRow>& rows, WallTime now) {
  nlohmann::json j;
  j["at"] = FormatTime(now);
  j["all_within"] = AllWithin(rows);
  j["rows"] = nlohmann::json::array();
  for (const RpoRow& r : rows) {
    j["rows"].push_back({
        {"data_type", DataTypeName(r.reading.type)},
        {"name", r.reading.name},
        {"from", r.reading.from},
        {"to", r.reading.to},
        {"lag_seconds", r.reading.lag ? nlohmann::json(ToSeconds(*r.reading.lag)) : nlohmann::json()},
        {"lag_is_upper_bound", r.reading.upper_bound},
        {"objective_seconds", ToSeconds(r.objective)},
        {"state", RpoStateName(r.state)},
        {"detail", r.reading.detail},
    });
  }
  return j.dump(2) + "\n";
}

}  // namespace pilotlight::rpo
