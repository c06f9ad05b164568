// pilotlight calendar: the DR responsibility matrix of the config
// (`responsibilities:`) with, for each task, when it was last done, when it is
// next due and whether it is overdue.
//
// A drill task (kind: a scenario) is done by a passing drill of that scenario
// in the drill history; any task may also be marked done by hand with
// `pilotlight calendar done TASK` (the history's calendar_done log). Exit code
// 0 even when something is overdue, unless --fail-overdue (for cron and CI).
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "config/loader.h"
#include "core/duration.h"
#include "drill/calendar.h"
#include "drill/history.h"
#include "drill/measure.h"

namespace pilotlight::cli {
namespace {

using json = nlohmann::json;

struct CalendarOptions {
  std::string config = "examples/lab.yaml";
  std::string db = drill::kDefaultHistoryPath;
  bool json = false;
  std::string now;  // RFC 3339; empty: the system clock
  bool fail_overdue = false;
  // calendar done
  std::string task;
  std::string at;
  std::string by;
};

Result<config::Config> LoadConfig(const std::string& file) {
  return config::LoadConfigOrError(file);
}

Result<WallTime> TimeOption(const std::string& flag, const std::string& text) {
  if (text.empty()) return SystemClock::Instance().Now();
  Result<WallTime> t = drill::ParseTime(text);
  if (!t.ok()) return t.status().Annotate(flag);
  return t;
}

struct Row {
  const config::Responsibility* task;
  std::optional<WallTime> last_done;
  std::string last_done_by;  // "drill <scenario>" or who marked it done
  drill::DueState due;
};

std::string Pad(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

int Calendar(const CalendarOptions& o) {
  Result<config::Config> config = LoadConfig(o.config);
  if (!config.ok()) return ExitCode(false, config.status().message());
  Result<WallTime> now = TimeOption("--now", o.now);
  if (!now.ok()) return ExitCode(false, now.status().message());

  // What the history says was done; a missing history means nothing was.
  std::vector<drill::HistoryEntry> drills;
  std::map<std::string, drill::TaskDone> manual;
  Result<std::unique_ptr<drill::HistoryStore>> store =
      drill::HistoryStore::Open(o.db, /*create=*/false);
  if (store.ok()) {
    Result<std::vector<drill::HistoryEntry>> d = (*store)->List(0);
    if (!d.ok()) return ExitCode(false, d.status().ToString());
    drills = std::move(*d);
    Result<std::map<std::string, drill::TaskDone>> m = (*store)->LastTasksDone();
    if (!m.ok()) return ExitCode(false, m.status().ToString());
    manual = std::move(*m);
  } else if (store.status().code() != Status::Code::kNotFound) {
    return ExitCode(false, store.status().ToString());
  }

  std::vector<Row> rows;
  int overdue = 0;
  for (const config::Responsibility& r : config->responsibilities) {
    Row row{&r, std::nullopt, "", {}};
    if (r.kind != "manual") {
      for (const drill::HistoryEntry& e : drills) {  // newest first
        if (e.scenario == r.kind && e.passed && e.started_at <= *now) {
          row.last_done = e.started_at;
          row.last_done_by = "drill " + r.kind;
          break;
        }
      }
    }
    auto m = manual.find(r.task);
    if (m != manual.end() && m->second.at <= *now &&
        (!row.last_done || m->second.at > *row.last_done)) {
      row.last_done = m->second.at;
      row.last_done_by = m->second.by;
    }
    Result<drill::Frequency> f = drill::ParseFrequency(r.frequency);
    if (!f.ok()) return ExitCode(false, f.status().Annotate(r.task).ToString());
    row.due = drill::Due(*f, row.last_done, *now);
    if (row.due.overdue) ++overdue;
    rows.push_back(std::move(row));
  }

  if (o.json) {
    json tasks = json::array();
    for (const Row& row : rows) {
      tasks.push_back(
          {{"task", row.task->task},
           {"owner", row.task->owner},
           {"frequency", row.task->frequency},
           {"kind", row.task->kind},
           {"last_done", row.last_done ? json(FormatTime(*row.last_done)) : json(nullptr)},
           {"last_done_by", row.last_done ? json(row.last_done_by) : json(nullptr)},
           {"next_due", row.due.next_due ? json(FormatTime(*row.due.next_due)) : json(nullptr)},
           {"status", row.due.status},
           {"overdue", row.due.overdue}});
    }
    std::cout << json({{"config", o.config},
                       {"db", o.db},
                       {"now", FormatTime(*now)},
                       {"tasks", tasks},
                       {"overdue", overdue}})
                     .dump(2)
              << "\n";
  } else if (rows.empty()) {
    std::cout << "no responsibilities in " << o.config
              << ": add a responsibilities: section (see examples/lab.yaml)\n";
  } else {
    std::cout << "DR calendar of " << o.config << " at " << FormatTime(*now) << ":\n"
              << Pad("task", 30) << Pad("owner", 14) << Pad("frequency", 12) << Pad("last done", 26)
              << Pad("by", 22) << Pad("next due", 26) << "status\n";
    for (const Row& row : rows) {
      std::string status = row.due.status;
      if (row.due.overdue)
        status = std::string("OVERDUE") + (row.due.never_done ? " (never done)" : "");
      std::cout << Pad(row.task->task, 30) << Pad(row.task->owner, 14)
                << Pad(row.task->frequency, 12)
                << Pad(row.last_done ? FormatTime(*row.last_done) : "never", 26)
                << Pad(row.last_done ? row.last_done_by : "-", 22)
                << Pad(row.due.next_due     ? FormatTime(*row.due.next_due)
                       : row.due.never_done ? "now"
                                            : "-",
                       26)
                << status << "\n";
    }
    std::cout << overdue << " overdue\n";
  }
  if (o.fail_overdue && overdue > 0) {
    return ExitCode(false, std::to_string(overdue) + " responsibility(ies) overdue");
  }
  return 0;
}

int Done(const CalendarOptions& o) {
  Result<config::Config> config = LoadConfig(o.config);
  if (!config.ok()) return ExitCode(false, config.status().message());
  std::string known;
  bool found = false;
  for (const config::Responsibility& r : config->responsibilities) {
    if (r.task == o.task) found = true;
    known += (known.empty() ? "" : ", ") + ("'" + r.task + "'");
  }
  if (!found) {
    return ExitCode(false, "no task '" + o.task + "' in the responsibilities of " + o.config +
                               (known.empty() ? " (it has none)" : "; tasks: " + known));
  }
  Result<WallTime> at = TimeOption("--at", o.at);
  if (!at.ok()) return ExitCode(false, at.status().message());
  std::string by = o.by;
  if (by.empty()) {
    const char* user = std::getenv("USER");
    by = user != nullptr && *user != '\0' ? user : "unknown";
  }
  Result<std::unique_ptr<drill::HistoryStore>> store = drill::HistoryStore::Open(o.db);
  if (!store.ok()) return ExitCode(false, store.status().ToString());
  Status st = (*store)->RecordTaskDone(o.task, *at, by);
  if (!st.ok()) return ExitCode(false, st.ToString());
  std::cout << "'" << o.task << "' done at " << FormatTime(*at) << " by " << by << " (recorded in "
            << o.db << ")\n";
  return 0;
}

void Register(CLI::App& root, Context& context) {
  auto o = std::make_shared<CalendarOptions>();
  CLI::App* calendar = root.add_subcommand(
      "calendar", "DR responsibilities: when each was last done, next due, and what is overdue");
  calendar->add_option("--config", o->config, "Platform config with a responsibilities section")
      ->capture_default_str();
  calendar->add_option("--db", o->db, "The drill history (SQLite)")->capture_default_str();
  calendar->add_flag("--json", o->json, "Machine-readable output");
  calendar->add_option("--now", o->now, "Evaluate at this instant (RFC 3339 UTC), not now");
  calendar->add_flag("--fail-overdue", o->fail_overdue, "Exit 1 when any task is overdue");

  CLI::App* done = calendar->add_subcommand("done", "Record that a task was done");
  done->add_option("task", o->task, "The task, as the config names it")->required();
  done->add_option("--at", o->at, "When (RFC 3339 UTC; default now)");
  done->add_option("--by", o->by, "Who did it (default $USER)");
  done->add_option("--config", o->config, "Platform config with a responsibilities section")
      ->capture_default_str();
  done->add_option("--db", o->db, "The drill history (SQLite)")->capture_default_str();
  done->callback([o, &context] { context.exit_code = Done(*o); });
  calendar->callback([o, done, &context] {
    if (done->parsed()) return;  // `calendar done` ran instead
    context.exit_code = Calendar(*o);
  });
}

const CommandRegistration registration(85, Register);

}  // namespace
}  // namespace pilotlight::cli
