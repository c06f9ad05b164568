// The SQLite adapter of the drill history; sqlite3 and nlohmann stay in this file.
#include "drill/history.h"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

namespace pilotlight::drill {
namespace {

using json = nlohmann::json;

sqlite3* Db(void* p) { return static_cast<sqlite3*>(p); }

int64_t Nanos(WallTime t) { return t.time_since_epoch().count(); }
WallTime FromNanos(int64_t n) { return WallTime(Duration(n)); }

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, const std::optional<double>& v) {
    if (v) {
      sqlite3_bind_double(stmt_, i, *v);
    } else {
      sqlite3_bind_null(stmt_, i);
    }
    return *this;
  }
  Stmt& Bind(int i, const std::optional<int64_t>& v) {
    if (v) {
      sqlite3_bind_int64(stmt_, i, *v);
    } else {
      sqlite3_bind_null(stmt_, i);
    }
    return *this;
  }
  int Step() { return sqlite3_step(stmt_); }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::optional<double> OptDouble(int col) const {
    if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_double(stmt_, col);
  }
  std::string Text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
  }
  std::string Error() const { return sqlite3_errmsg(db_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

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

std::optional<RpoFigure> RpoColumns(const Stmt& st, int seconds_col) {
  std::optional<double> s = st.OptDouble(seconds_col);
  std::optional<double> n = st.OptDouble(seconds_col + 1);
  if (!s || !n) return std::nullopt;
  return RpoFigure{*s, static_cast<int64_t>(*n)};
}

}  // namespace

HistoryStore::~HistoryStore() { sqlite3_close(Db(db_)); }

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
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IOError("cannot open drill history " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<HistoryStore> store(new HistoryStore(db, path));
  int version = 0;
  {
    Stmt v(db, "PRAGMA user_version");
    if (!v.ok() || v.Step() != SQLITE_ROW) {
      return Status::Corruption("drill history " + path +
                                " is not a SQLite database or is "
                                "damaged (" +
                                v.Error() +
                                "); move it aside: a new one is made "
                                "at the next drill");
    }
    version = static_cast<int>(v.Int(0));
  }
  if (version > kHistorySchemaVersion) {
    return Status::FailedPrecondition("drill history " + path + " has schema version " +
                                      std::to_string(version) + ", newer than this pilotlight's " +
                                      std::to_string(kHistorySchemaVersion) +
                                      ": use the pilotlight that wrote it");
  }
  if (version == 0) {
    // A new file, or some other SQLite database: refuse to write into the latter.
    Stmt other(db,
               "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN "
               "('drills', 'calendar_done', 'sqlite_sequence') LIMIT 1");
    if (other.ok() && other.Step() == SQLITE_ROW) {
      return Status::FailedPrecondition("drill history " + path +
                                        " is another SQLite database "
                                        "(it has a table " +
                                        other.Text(0) +
                                        "); give --db the "
                                        "drill history file");
    }
  }
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"}) {
    PL_RETURN_IF_ERROR(store->Exec(pragma));
  }
  if (version < kHistorySchemaVersion) {
    PL_RETURN_IF_ERROR(store->Exec(std::string("BEGIN IMMEDIATE;") + kSchema +
                                   "PRAGMA user_version=" + std::to_string(kHistorySchemaVersion) +
                                   ";COMMIT;"));
  }
  return store;
}

Status HistoryStore::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(Db(db_), sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    sqlite3_exec(Db(db_), "ROLLBACK", nullptr, nullptr, nullptr);
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
      return Status::Corruption("drill history " + path_ + " is damaged (" + msg +
                                "); move it aside: a new one is made at the next drill");
    }
    return Status::IOError("drill history " + path_ + ": " + msg);
  }
  return Status::OK();
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
  Stmt st(Db(db_),
          "INSERT INTO drills (scenario, started_at, passed, expect, rto_seconds, "
          "detection_seconds, rpo_database_seconds, rpo_database_items, rpo_sessions_seconds, "
          "rpo_sessions_items, rpo_objects_seconds, rpo_objects_items, capacity_ratio, out_dir, "
          "report_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st.ok()) return Status::IOError("drill history " + path_ + ": " + st.Error());
  st.Bind(1, scenario)
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
      .Bind(15, report_json);
  if (st.Step() != SQLITE_DONE) {
    return Status::IOError("drill history " + path_ + ": cannot record the drill: " + st.Error());
  }
  return static_cast<int64_t>(sqlite3_last_insert_rowid(Db(db_)));
}

Result<std::vector<HistoryEntry>> HistoryStore::List(int limit, const std::string& scenario) {
  Stmt st(Db(db_),
          "SELECT id, scenario, started_at, passed, expect, rto_seconds, detection_seconds, "
          "rpo_database_seconds, rpo_database_items, rpo_sessions_seconds, rpo_sessions_items, "
          "rpo_objects_seconds, rpo_objects_items, capacity_ratio, out_dir, report_json "
          "FROM drills WHERE (?1 = '' OR scenario = ?1) ORDER BY started_at DESC, id DESC "
          "LIMIT ?2");
  if (!st.ok()) return Status::IOError("drill history " + path_ + ": " + st.Error());
  st.Bind(1, scenario).Bind(2, static_cast<int64_t>(limit > 0 ? limit : -1));
  std::vector<HistoryEntry> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    HistoryEntry e;
    e.id = st.Int(0);
    e.scenario = st.Text(1);
    e.started_at = FromNanos(st.Int(2));
    e.passed = st.Int(3) != 0;
    e.expect = st.Text(4);
    e.rto_seconds = st.OptDouble(5);
    e.detection_seconds = st.OptDouble(6);
    e.rpo_database = RpoColumns(st, 7);
    e.rpo_sessions = RpoColumns(st, 9);
    e.rpo_objects = RpoColumns(st, 11);
    e.capacity_ratio = st.OptDouble(13);
    e.out_dir = st.Text(14);
    e.report_json = st.Text(15);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) {
    return Status::IOError("drill history " + path_ + ": cannot read drills: " + st.Error());
  }
  return out;
}

Status HistoryStore::RecordTaskDone(const std::string& task, WallTime at, const std::string& by) {
  Stmt st(Db(db_), "INSERT INTO calendar_done (task, done_at, done_by) VALUES (?, ?, ?)");
  if (!st.ok() || st.Bind(1, task).Bind(2, Nanos(at)).Bind(3, by).Step() != SQLITE_DONE) {
    return Status::IOError("drill history " + path_ + ": cannot record task " + task + ": " +
                           st.Error());
  }
  return Status::OK();
}

Result<std::map<std::string, TaskDone>> HistoryStore::LastTasksDone() {
  Stmt st(Db(db_), "SELECT task, done_at, done_by FROM calendar_done ORDER BY done_at, id");
  if (!st.ok()) return Status::IOError("drill history " + path_ + ": " + st.Error());
  std::map<std::string, TaskDone> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    TaskDone d{st.Text(0), FromNanos(st.Int(1)), st.Text(2)};
    out[d.task] = d;  // ascending: the last one wins
  }
  if (rc != SQLITE_DONE) {
    return Status::IOError("drill history " + path_ + ": cannot read tasks: " + st.Error());
  }
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
