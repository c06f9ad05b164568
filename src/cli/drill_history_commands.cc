// pilotlight drill history: the RTO and RPO drills achieved over time, and the
// median of the latest runs of each scenario against the target
// (client-perceived RTO <= 10 s at the median of 5 runs).
//
// Registered after drill_commands.cc (order 81 > 80): it adds a subcommand to
// the `drill` command that file creates.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/duration.h"
#include "drill/history.h"

namespace pilotlight::cli {
namespace {

using json = nlohmann::json;

struct HistoryOptions {
  std::string db = drill::kDefaultHistoryPath;
  std::string scenario;
  int limit = 20;
  int median_of = 5;
  double target_rto_seconds = 10;
  bool json = false;
};

json Opt(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json Rpo(const std::optional<drill::RpoFigure>& f) {
  if (!f) return nullptr;
  return {{"seconds", f->seconds}, {"items_lost", f->items_lost}};
}

std::string Secs(const std::optional<double>& v) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f s", *v);
  return buf;
}

std::string RpoText(const std::optional<drill::RpoFigure>& f) {
  if (!f) return "-";
  return Secs(f->seconds) + " (" + std::to_string(f->items_lost) + ")";
}

std::string Pad(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

int History(const HistoryOptions& o) {
  if (o.median_of < 1) return ExitCode(false, "--median-of: at least 1");
  Result<std::unique_ptr<drill::HistoryStore>> store =
      drill::HistoryStore::Open(o.db, /*create=*/false);
  std::vector<drill::HistoryEntry> recent, all;
  if (!store.ok()) {
    if (store.status().code() != Status::Code::kNotFound) {
      return ExitCode(false, store.status().ToString());
    }
  } else {
    Result<std::vector<drill::HistoryEntry>> r = (*store)->List(o.limit, o.scenario);
    if (!r.ok()) return ExitCode(false, r.status().ToString());
    recent = std::move(*r);
    Result<std::vector<drill::HistoryEntry>> a = (*store)->List(0, o.scenario);
    if (!a.ok()) return ExitCode(false, a.status().ToString());
    all = std::move(*a);
  }
  // Over time: oldest first.
  std::reverse(recent.begin(), recent.end());
  const std::vector<drill::ScenarioSummary> summaries = drill::Summarize(all, o.median_of);

  if (o.json) {
    json drills = json::array();
    for (const drill::HistoryEntry& e : recent) {
      drills.push_back({{"id", e.id},
                        {"scenario", e.scenario},
                        {"started_at", FormatTime(e.started_at)},
                        {"passed", e.passed},
                        {"expect", e.expect},
                        {"rto_seconds", Opt(e.rto_seconds)},
                        {"detection_seconds", Opt(e.detection_seconds)},
                        {"rpo",
                         {{"database", Rpo(e.rpo_database)},
                          {"sessions", Rpo(e.rpo_sessions)},
                          {"objects", Rpo(e.rpo_objects)}}},
                        {"capacity_ratio", Opt(e.capacity_ratio)},
                        {"out_dir", e.out_dir}});
    }
    json summary = json::array();
    for (const drill::ScenarioSummary& s : summaries) {
      json meets = nullptr;
      if (s.median_rto_seconds) meets = *s.median_rto_seconds <= o.target_rto_seconds;
      summary.push_back({{"scenario", s.scenario},
                         {"runs", s.runs},
                         {"window", s.window},
                         {"window_passed", s.window_passed},
                         {"median_rto_seconds", Opt(s.median_rto_seconds)},
                         {"median_detection_seconds", Opt(s.median_detection_seconds)},
                         {"median_rpo_database_seconds", Opt(s.median_rpo_database_seconds)},
                         {"target_rto_seconds", o.target_rto_seconds},
                         {"median_rto_meets_target", meets},
                         {"latest", FormatTime(s.latest)}});
    }
    std::cout << json({{"db", o.db}, {"drills", drills}, {"summary", summary}}).dump(2) << "\n";
    return 0;
  }

  if (recent.empty()) {
    std::cout << "no drills recorded in " << o.db
              << (o.scenario.empty() ? "" : " for scenario " + o.scenario)
              << " (pilotlight drill run records each drill there)\n";
    return 0;
  }
  std::cout << "Drills in " << o.db << ", oldest first (RPO: window (items lost)):\n"
            << Pad("started", 26) << Pad("scenario", 19) << Pad("result", 8) << Pad("RTO", 11)
            << Pad("detection", 11) << Pad("RPO database", 17) << Pad("RPO sessions", 17)
            << Pad("RPO objects", 17) << "capacity\n";
  for (const drill::HistoryEntry& e : recent) {
    char cap[32] = "-";
    if (e.capacity_ratio) std::snprintf(cap, sizeof(cap), "%.3f", *e.capacity_ratio);
    std::cout << Pad(FormatTime(e.started_at), 26) << Pad(e.scenario, 19)
              << Pad(e.passed ? "passed" : "FAILED", 8) << Pad(Secs(e.rto_seconds), 11)
              << Pad(Secs(e.detection_seconds), 11) << Pad(RpoText(e.rpo_database), 17)
              << Pad(RpoText(e.rpo_sessions), 17) << Pad(RpoText(e.rpo_objects), 17) << cap << "\n";
  }
  std::cout << "\nMedian of the last " << o.median_of << " runs per scenario:\n";
  for (const drill::ScenarioSummary& s : summaries) {
    std::cout << "  " << s.scenario << ": " << s.window << " of " << s.runs << " run(s), "
              << s.window_passed << " passed; RTO " << Secs(s.median_rto_seconds);
    if (s.median_rto_seconds) {
      std::cout << (*s.median_rto_seconds <= o.target_rto_seconds ? " (meets" : " (MISSES")
                << " the " << Secs(o.target_rto_seconds) << " target)";
    }
    std::cout << ", detection " << Secs(s.median_detection_seconds) << ", RPO database "
              << Secs(s.median_rpo_database_seconds) << "\n";
  }
  return 0;
}

void Register(CLI::App& root, Context& context) {
  CLI::App* drill = nullptr;
  try {
    drill = root.get_subcommand("drill");
  } catch (const CLI::OptionNotFound&) {
    return;  // no drill command in this build
  }
  auto o = std::make_shared<HistoryOptions>();
  CLI::App* history = drill->add_subcommand(
      "history", "RTO and RPO of past drills, and the median of the latest runs per scenario");
  history->add_option("--db", o->db, "The drill history (SQLite)")->capture_default_str();
  history->add_option("--scenario", o->scenario, "Only this scenario (e.g. region-outage)");
  history->add_option("--limit", o->limit, "Show the latest N drills (0: all)")
      ->capture_default_str();
  history->add_option("--median-of", o->median_of, "Medians over each scenario's latest N runs")
      ->capture_default_str();
  history
      ->add_option("--target-rto", o->target_rto_seconds, "Seconds the median RTO must not exceed")
      ->capture_default_str();
  history->add_flag("--json", o->json, "Machine-readable output");
  history->callback([o, &context] { context.exit_code = History(*o); });
}

const CommandRegistration registration(81, Register);

}  // namespace
}  // namespace pilotlight::cli
