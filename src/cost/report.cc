#include "cost/report.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/duration.h"

namespace pilotlight::cost {
namespace {

// A Markdown table whose columns line up in a terminal too.
class Table {
 public:
  struct Column {
    std::string title;
    bool right = false;  // numbers
  };
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  std::string Render() const {
    std::vector<size_t> width(columns_.size(), 3);
    for (size_t i = 0; i < columns_.size(); ++i) {
      width[i] = std::max(width[i], columns_[i].title.size());
      for (const auto& row : rows_) width[i] = std::max(width[i], row[i].size());
    }
    const auto line = [&](const std::vector<std::string>& cells) {
      std::string out = "|";
      for (size_t i = 0; i < columns_.size(); ++i) {
        const std::string pad(width[i] - cells[i].size(), ' ');
        out += " " + (columns_[i].right ? pad + cells[i] : cells[i] + pad) + " |";
      }
      return out + "\n";
    };
    std::vector<std::string> titles;
    for (const Column& c : columns_) titles.push_back(c.title);
    std::string out = line(titles) + "|";
    for (size_t i = 0; i < columns_.size(); ++i) {
      out += columns_[i].right ? std::string(width[i] + 1, '-') + ":|"
                               : std::string(width[i] + 2, '-') + "|";
    }
    out += "\n";
    for (const auto& row : rows_) out += line(row);
    return out;
  }

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

std::string Seconds(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

nlohmann::ordered_json Money(Micros m) { return ToUnits(m); }

}  // namespace

std::string FormatText(const CostReport& r) {
  const Estimate& e = r.estimate;
  std::string out = "DR cost of " + r.platform + " (" + r.config_file + ") with prices from " +
                    r.prices_file + "\n";
  out += "prices: " + r.prices_source + " (" + e.currency + ", " +
         std::to_string(e.hours_per_month) + " h/month)\n\n";

  out += "Monthly cost, " + e.currency + ", both regions:\n\n";
  Table money({{"strategy"},
               {"DR region runs"},
               {"on-demand", true},
               {"reserved", true},
               {"reserved saving", true},
               {"extra over no DR (on-demand)", true},
               {"extra over no DR (reserved)", true}});
  for (const StrategyCost& c : e.strategies) {
    money.Add({StrategyName(c.strategy), c.dr_runs, FormatMoney(c.on_demand),
               FormatMoney(c.reserved), FormatMoney(c.reserved_saving),
               FormatMoney(c.extra_on_demand), FormatMoney(c.extra_reserved)});
  }
  out += money.Render();

  const std::string objectives = "meets objectives (RTO " + FormatDuration(e.rto_objective) +
                                 ", RPO " + FormatDuration(e.rpo_objective) + ")";
  const std::string event =
      "failover event (" + std::to_string(e.failover_hours) + " h on demand, " + e.currency + ")";
  out += "\nRecovery each strategy can expect (database RPO):\n\n";
  Table recovery({{"strategy"}, {"RTO", true}, {"RPO", true}, {objectives}, {event, true}});
  for (const StrategyCost& c : e.strategies) {
    recovery.Add({StrategyName(c.strategy), c.rto ? FormatDuration(*c.rto) : "-",
                  c.rpo ? FormatDuration(*c.rpo) : "-",
                  c.rto ? (c.meets_objectives ? "yes" : "no") : "no",
                  c.failover_event ? FormatMoney(*c.failover_event) : "-"});
  }
  out += recovery.Render();

  out += "\nHow (config cost.recovery_model):\n";
  for (const StrategyCost& c : e.strategies) {
    out += "  " + std::string(StrategyName(c.strategy)) + ": RTO = " + c.rto_model +
           "; RPO = " + c.rpo_model + "\n";
  }

  out += "\nMeasured (pilot light drills): ";
  if (!r.measured) {
    out += r.history_file.empty() ? "no drill history yet\n"
                                  : "no drill history yet (" + r.history_file + " is empty)\n";
  } else {
    const MeasuredRecovery& m = *r.measured;
    out += std::to_string(m.drills) + " in " + r.history_file + "\n";
    out += "  latest (" + m.latest.at + "): RTO " + Seconds(m.latest.rto_seconds) + ", RPO " +
           Seconds(m.latest.rpo_seconds) + "\n";
    out += "  worst of the last " + std::to_string(m.recent) + ": RTO " +
           Seconds(m.worst_rto_seconds) + ", RPO " + Seconds(m.worst_rpo_seconds) + "\n";
  }
  for (const std::string& note : e.notes) out += "note: " + note + "\n";
  return out;
}

std::string FormatJson(const CostReport& r) {
  const Estimate& e = r.estimate;
  nlohmann::ordered_json j;
  j["platform"] = r.platform;
  j["config"] = r.config_file;
  j["prices"] = {{"file", r.prices_file},
                 {"source", r.prices_source},
                 {"currency", e.currency},
                 {"hours_per_month", e.hours_per_month}};
  j["failover_hours"] = e.failover_hours;
  j["objectives"] = {{"rto_seconds", ToSeconds(e.rto_objective)},
                     {"rpo_seconds", ToSeconds(e.rpo_objective)}};
  j["strategies"] = nlohmann::ordered_json::array();
  for (const StrategyCost& c : e.strategies) {
    nlohmann::ordered_json s;
    s["id"] = StrategyId(c.strategy);
    s["name"] = StrategyName(c.strategy);
    s["dr_runs"] = c.dr_runs;
    s["monthly"] = {{"on_demand", Money(c.on_demand)},
                    {"reserved", Money(c.reserved)},
                    {"reserved_saving", Money(c.reserved_saving)}};
    s["extra_over_no_dr"] = {{"on_demand", Money(c.extra_on_demand)},
                             {"reserved", Money(c.extra_reserved)}};
    s["failover_event"] =
        c.failover_event ? Money(*c.failover_event) : nlohmann::ordered_json(nullptr);
    s["rto_seconds"] =
        c.rto ? nlohmann::ordered_json(ToSeconds(*c.rto)) : nlohmann::ordered_json(nullptr);
    s["rpo_seconds"] =
        c.rpo ? nlohmann::ordered_json(ToSeconds(*c.rpo)) : nlohmann::ordered_json(nullptr);
    s["rto_model"] = c.rto_model;
    s["rpo_model"] = c.rpo_model;
    s["meets_objectives"] = c.meets_objectives;
    j["strategies"].push_back(std::move(s));
  }
  if (r.measured) {
    const MeasuredRecovery& m = *r.measured;
    j["measured"] = {{"strategy", "pilot_light"},
                     {"history", r.history_file},
                     {"drills", m.drills},
                     {"latest",
                      {{"at", m.latest.at},
                       {"rto_seconds", m.latest.rto_seconds},
                       {"rpo_seconds", m.latest.rpo_seconds}}},
                     {"recent", m.recent},
                     {"worst_rto_seconds", m.worst_rto_seconds},
                     {"worst_rpo_seconds", m.worst_rpo_seconds}};
  } else {
    j["measured"] = nullptr;
  }
  j["notes"] = e.notes;
  // Replace rather than throw on bytes that are not UTF-8 (names come from files).
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace pilotlight::cost
