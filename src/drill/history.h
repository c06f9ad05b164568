// Drill history: every drill's figures in one SQLite file, so that operators
// (`pilotlight drill history`), the cost report (`pilotlight cost --history`)
// and the DR calendar (`pilotlight calendar`) see the RTO and RPO pilot light
// actually achieved over time, and when each responsibility was last done.
//
// The store keeps each drill's report.json verbatim beside the figures pulled
// out of it (RTO, detection, RPO per data type, capacity, passed), and the
// `calendar_done` log of manual tasks. WAL, synchronous=FULL: a recorded drill
// survives a crash right after Record() returns. The schema is versioned
// (PRAGMA user_version); a file from a newer pilotlight is refused, not
// rewritten.
//
// A HistoryStore is one SQLite connection: use it from one thread at a time.
// Several processes may open the same file (SQLite locks it; writers wait up
// to 5 s). Summarize() and Median() are pure and thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "drill/measure.h"

namespace pilotlight::sqlite {
class Database;
}  // namespace pilotlight::sqlite

namespace pilotlight::drill {

inline constexpr char kDefaultHistoryPath[] = ".pilotlight/drills/history.db";
inline constexpr int kHistorySchemaVersion = 1;

// One recorded drill.
struct HistoryEntry {
  int64_t id = 0;
  std::string scenario;
  WallTime started_at;
  bool passed = false;
  std::string expect;  // "failover" | "no-failover" | "refused" ("" in schema 1 reports)
  std::optional<double> rto_seconds;
  std::optional<double> detection_seconds;
  std::optional<RpoFigure> rpo_database;
  std::optional<RpoFigure> rpo_sessions;
  std::optional<RpoFigure> rpo_objects;
  std::optional<double> capacity_ratio;
  std::string out_dir;
  std::string report_json;  // as recorded
};

// One entry of the manual-task log (`pilotlight calendar done`).
struct TaskDone {
  std::string task;
  WallTime at;
  std::string by;
};

class HistoryStore {
 public:
  // Opens (and with `create`, makes, parent folders included) the store at
  // `path`. Without `create`, a missing file is NotFound. A file that is not
  // a drill history, or is damaged, or comes from a newer schema is an error
  // naming the path.
  static Result<std::unique_ptr<HistoryStore>> Open(const std::string& path, bool create = true);
  ~HistoryStore();
  HistoryStore(const HistoryStore&) = delete;
  HistoryStore& operator=(const HistoryStore&) = delete;

  // Records a drill from its report.json (ReportJson()); returns its id.
  // InvalidArgument when the report is not a JSON object with a boolean "passed".
  Result<int64_t> Record(const std::string& scenario, WallTime started_at,
                         const std::string& report_json, const std::string& out_dir);

  // The latest `limit` drills (all when limit <= 0), of `scenario` only when
  // it is not empty, newest first.
  Result<std::vector<HistoryEntry>> List(int limit, const std::string& scenario = "");

  // The manual-task log.
  Status RecordTaskDone(const std::string& task, WallTime at, const std::string& by);
  // The latest entry of each task.
  Result<std::map<std::string, TaskDone>> LastTasksDone();

  const std::string& path() const { return path_; }

 private:
  explicit HistoryStore(std::unique_ptr<sqlite::Database> db);

  std::unique_ptr<sqlite::Database> db_;
  std::string path_;
};

// The median of `values`; nullopt when empty. Even counts: the mean of the middle two.
std::optional<double> Median(std::vector<double> values);

// One scenario's latest runs at a glance.
struct ScenarioSummary {
  std::string scenario;
  int runs = 0;                              // in the whole history given
  int window = 0;                            // how many of the latest runs the medians cover (<= n)
  int window_passed = 0;                     // of those, how many passed
  std::optional<double> median_rto_seconds;  // over runs of the window with an RTO
  std::optional<double> median_detection_seconds;
  std::optional<double> median_rpo_database_seconds;
  WallTime latest;
};

// Per scenario (sorted by name), over its latest `n` runs. `entries` in any order.
std::vector<ScenarioSummary> Summarize(const std::vector<HistoryEntry>& entries, int n = 5);

}  // namespace pilotlight::drill
