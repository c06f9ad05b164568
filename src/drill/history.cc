// The drill history on the shared SQLite adapter (src/sqlite); nlohmann stays in this file.
#include "drill/history.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "sqlite/database.h"

namespace pilotlight::drill {
namespace {

using json = nlohmann::json;

int64_t Nanos(WallTime t) { return t.time_since_epoch().count(); }
WallTime FromNanos(int64_t n) { return WallTime(Duration(n)); }

constexpr char kSchema[] =
    "CREATE TABLE IF NOT EXISTS drills ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, scenario TEXT NOT NULL,"
    "  started_at INTEGER NOT NULL, passed INTEGER NOT NULL, expect TEXT NOT NULL,"
    "  rto_seconds REAL, detection_seconds REAL,"
    "  rpo_database_seconds REAL, rpo_database_items INTEGER,"
    "  rpo_sessions_seconds REAL, rpo_sessions_items INTEGER,"
    "  rpo_objects_seconds REAL, rpo_objects_items INTEGER,"
    "  capacity_ratio REAL, out_dir TEXT NOT NULL, report_json TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS drills_by_scenario ON drills (scenario, started_at);"
    "CREATE TABLE IF NOT EXISTS calendar_done ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, task TEXT NOT NULL, done_at INTEGER NOT NULL,"
    "  done_by TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS calendar_done_by_task ON calendar_done (task, done_at);";

std::optional<double> Number(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

// rpo.<type> of a report: {"seconds", "items_lost"} or null.
std::optional<RpoFigure> RpoOf(const json& report, const char* type) {
  auto rpo = report.find("rpo");
  if (rpo == report.end() || !rpo->is_object()) return std::nullopt;
  auto t = rpo->find(type);
  if (t == rpo->end() || !t->is_object()) return std::nullopt;
  std::optional<double> seconds = Number(*t, "seconds");
  std::optional<double> items = Number(*t, "items_lost");
  if (!seconds || !items) return std::nullopt;
  return RpoFigure{*seconds, static_cast<int64_t>(*items)};
}

std::optional<double> Seconds(const std::optional<RpoFigure>& f) {
  return f ? std::optional<double>(f->seconds) : std::nullopt;
}
std::optional<int64_t> Items(const std::optional<RpoFigure>& f) {
  return f ? std::optional<int64_t>(f->items_lost) : std::nullopt;
}

std::optional<RpoFigure> RpoColumns(const sqlite::Statement& st, int seconds_col) {
  std::optional<double> s = st.OptDouble(seconds_col);
  std::optional<double> n = st.OptDouble(seconds_col + 1);
  if (!s || !n) return std::nullopt;
  return RpoFigure{*s, static_cast<int64_t>(*n)};
}

}  // namespace

HistoryStore::HistoryStore(std::unique_ptr<sqlite::Database> db)
    : db_(std::move(db)), path_(db_->path()) {}

HistoryStore::~HistoryStore() = default;

Result<std::unique_ptr<HistoryStore>> HistoryStore::Open(const std::string& path, bool create) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!create && !fs::exists(path, ec)) {
    return Status::NotFound("no drill history at " + path +
                            " (drills record there when they run; see pilotlight drill run)");
  }
  if (create) {
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) {
      return Status::IOError("cannot create " + parent.string() +
                             " for the drill history: " + ec.message());
    }
  }
  sqlite::OpenOptions options;
  options.label = "drill history";
  options.create = create;
  options.damaged_hint = "move it aside: a new one is made at the next drill";
  Result<std::unique_ptr<sqlite::Database>> opened = sqlite::Database::Open(path, options);
  if (!opened.ok()) return opened.status();
  sqlite::Database& db = **opened;
  int version = 0;
  {
    Result<sqlite::Statement> v = db.Prepare("PRAGMA user_version", "read the schema version");
    Result<bool> row = v.ok() ? v->Step() : Result<bool>(v.status());
    if (!row.ok() || !*row) {
      return Status::Corruption("drill history " + path +
                                " is not a SQLite database or is damaged (" +
                                (row.ok() ? "no schema version" : db.LastError()) +
                                "); move it aside: a new one is made at the next drill");
    }
    version = static_cast<int>(v->Int(0));
  }
  if (version > kHistorySchemaVersion) {
    return Status::FailedPrecondition("drill history " + path + " has schema version " +
                                      std::to_string(version) + ", newer than this pilotlight's " +
                                      std::to_string(kHistorySchemaVersion) +
                                      ": use the pilotlight that wrote it");
  }
  if (version == 0) {
    // A new file, or some other SQLite database: refuse to write into the latter.
    Result<sqlite::Statement> other = db.Prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN "
        "('drills', 'calendar_done', 'sqlite_sequence') LIMIT 1",
        "look for other tables");
    Result<bool> row = other.ok() ? other->Step() : Result<bool>(false);
    if (row.ok() && *row) {
      return Status::FailedPrecondition("drill history " + path +
                                        " is another SQLite database (it has a table " +
                                        other->Text(0) + "); give --db the drill history file");
    }
  }
  // Two drills (or a drill and `pilotlight calendar`) opening a new history at
  // once race for the WAL switch: EnableWal() retries it.
  PL_RETURN_IF_ERROR(db.EnableWal());
  if (version < kHistorySchemaVersion) {
    PL_RETURN_IF_ERROR(db.Exec(std::string("BEGIN IMMEDIATE;") + kSchema + "PRAGMA user_version=" +
                                   std::to_string(kHistorySchemaVersion) + ";COMMIT;",
                               "create the schema"));
  }
  return std::unique_ptr<HistoryStore>(new HistoryStore(std::move(*opened)));
}

Result<int64_t> HistoryStore::Record(const std::string& scenario, WallTime started_at,
                                     const std::string& report_json, const std::string& out_dir) {
  const json report = json::parse(report_json, nullptr, /*allow_exceptions=*/false);
  if (!report.is_object() || !report.contains("passed") || !report["passed"].is_boolean()) {
    return Status::InvalidArgument("drill " + scenario + " in " + out_dir +
                                   ": report.json is not a drill report (no boolean \"passed\")");
  }
  const std::optional<RpoFigure> db = RpoOf(report, "database");
  const std::optional<RpoFigure> sessions = RpoOf(report, "sessions");
  const std::optional<RpoFigure> objects = RpoOf(report, "objects");
  const std::string expect = report.contains("expect") && report["expect"].is_string()
                                 ? report["expect"].get<std::string>()
                                 : "";
  Result<sqlite::Statement> st = db_->Prepare(
      "INSERT INTO drills (scenario, started_at, passed, expect, rto_seconds, "
      "detection_seconds, rpo_database_seconds, rpo_database_items, rpo_sessions_seconds, "
      "rpo_sessions_items, rpo_objects_seconds, rpo_objects_items, capacity_ratio, out_dir, "
      "report_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      "cannot record the drill");
  if (!st.ok()) return st.status();
  PL_RETURN_IF_ERROR(st->Bind(1, scenario)
                         .Bind(2, Nanos(started_at))
                         .Bind(3, static_cast<int64_t>(report["passed"].get<bool>() ? 1 : 0))
                         .Bind(4, expect)
                         .Bind(5, Number(report, "rto_seconds"))
                         .Bind(6, Number(report, "detection_seconds"))
                         .Bind(7, Seconds(db))
                         .Bind(8, Items(db))
                         .Bind(9, Seconds(sessions))
                         .Bind(10, Items(sessions))
                         .Bind(11, Seconds(objects))
                         .Bind(12, Items(objects))
                         .Bind(13, Number(report, "capacity_ratio"))
                         .Bind(14, out_dir)
                         .Bind(15, report_json)
                         .Run());
  return db_->LastInsertRowId();
}

Result<std::vector<HistoryEntry>> HistoryStore::List(int limit, const std::string& scenario) {
  Result<sqlite::Statement> st = db_->Prepare(
      "SELECT id, scenario, started_at, passed, expect, rto_seconds, detection_seconds, "
      "rpo_database_seconds, rpo_database_items, rpo_sessions_seconds, rpo_sessions_items, "
      "rpo_objects_seconds, rpo_objects_items, capacity_ratio, out_dir, report_json "
      "FROM drills WHERE (?1 = '' OR scenario = ?1) ORDER BY started_at DESC, id DESC "
      "LIMIT ?2",
      "cannot read drills");
  if (!st.ok()) return st.status();
  st->Bind(1, scenario).Bind(2, static_cast<int64_t>(limit > 0 ? limit : -1));
  std::vector<HistoryEntry> out;
  PL_RETURN_IF_ERROR(st->ForEachRow([&] {
    HistoryEntry e;
    e.id = st->Int(0);
    e.scenario = st->Text(1);
    e.started_at = FromNanos(st->Int(2));
    e.passed = st->Int(3) != 0;
    e.expect = st->Text(4);
    e.rto_seconds = st->OptDouble(5);
    e.detection_seconds = st->OptDouble(6);
    e.rpo_database = RpoColumns(*st, 7);
    e.rpo_sessions = RpoColumns(*st, 9);
    e.rpo_objects = RpoColumns(*st, 11);
    e.capacity_ratio = st->OptDouble(13);
    e.out_dir = st->Text(14);
    e.report_json = st->Text(15);
    out.push_back(std::move(e));
  }));
  return out;
}

Status HistoryStore::RecordTaskDone(const std::string& task, WallTime at, const std::string& by) {
  Result<sqlite::Statement> st =
      db_->Prepare("INSERT INTO calendar_done (task, done_at, done_by) VALUES (?, ?, ?)",
                   "cannot record task " + task);
  if (!st.ok()) return st.status();
  return st->Bind(1, task).Bind(2, Nanos(at)).Bind(3, by).Run();
}

Result<std::map<std::string, TaskDone>> HistoryStore::LastTasksDone() {
  Result<sqlite::Statement> st = db_->Prepare(
      "SELECT task, done_at, done_by FROM calendar_done ORDER BY done_at, id", "cannot read tasks");
  if (!st.ok()) return st.status();
  std::map<std::string, TaskDone> out;
  PL_RETURN_IF_ERROR(st->ForEachRow([&] {
    TaskDone d{st->Text(0), FromNanos(st->Int(1)), st->Text(2)};
    out[d.task] = d;  // ascending: the last one wins
  }));
  return out;
}

std::optional<double> Median(std::vector<double> values) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::vector<ScenarioSummary> Summarize(const std::vector<HistoryEntry>& entries, int n) {
  std::map<std::string, std::vector<const HistoryEntry*>> by_scenario;
  for (const HistoryEntry& e : entries) by_scenario[e.scenario].push_back(&e);
  std::vector<ScenarioSummary> out;
  for (auto& [scenario, runs] : by_scenario) {
    std::stable_sort(runs.begin(), runs.end(), [](const HistoryEntry* a, const HistoryEntry* b) {
      return a->started_at != b->started_at ? a->started_at > b->started_at : a->id > b->id;
    });
    ScenarioSummary s;
    s.scenario = scenario;
    s.runs = static_cast<int>(runs.size());
    s.window = std::min(std::max(n, 1), s.runs);
    s.latest = runs.front()->started_at;
    std::vector<double> rto, detection, rpo;
    for (int i = 0; i < s.window; ++i) {
      const HistoryEntry& e = *runs[static_cast<size_t>(i)];
      if (e.passed) ++s.window_passed;
      if (e.rto_seconds) rto.push_back(*e.rto_seconds);
      if (e.detection_seconds) detection.push_back(*e.detection_seconds);
      if (e.rpo_database) rpo.push_back(e.rpo_database->seconds);
    }
    s.median_rto_seconds = Median(rto);
    s.median_detection_seconds = Median(detection);
    s.median_rpo_database_seconds = Median(rpo);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace pilotlight::drill
