// pilotlight cost: what each DR strategy costs next to the recovery it buys.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "config/loader.h"
#include "cost/estimate.h"
#include "cost/history.h"
#include "cost/prices.h"
#include "cost/report.h"

namespace pilotlight::cli {
namespace {

struct CostOptions {
  std::string config = "examples/lab.yaml";
  std::string prices = "examples/prices.yaml";
  std::string history;
  int failover_hours = 24;
  bool json = false;
};

// Prints every error (config, prices, history) at once; returns the exit code.
int Fail(const std::vector<config::ConfigError>& errors, bool json) {
  if (json) {
    nlohmann::json j;
    j["ok"] = false;
    j["errors"] = nlohmann::json::array();
    for (const config::ConfigError& e : errors) {
      j["errors"].push_back({{"file", e.where.file},
                             {"line", e.where.line},
                             {"column", e.where.column},
                             {"field", e.field},
                             {"expected", e.expected},
                             {"found", e.found},
                             {"message", e.ToString()}});
    }
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    for (const config::ConfigError& e : errors) std::cerr << e.ToString() << "\n";
    std::cerr << errors.size() << " error(s); no estimate\n";
  }
  return 1;
}

int Cost(const CostOptions& o) {
  std::vector<config::ConfigError> errors;
  config::LoadResult config = config::LoadConfigFile(o.config);
  errors.insert(errors.end(), config.errors.begin(), config.errors.end());
  cost::PricesResult prices = cost::LoadPricesFile(o.prices);
  errors.insert(errors.end(), prices.errors.begin(), prices.errors.end());
  cost::HistoryResult history;
  if (!o.history.empty()) {
    history = cost::LoadHistoryFile(o.history);
    errors.insert(errors.end(), history.errors.begin(), history.errors.end());
  }
  if (!errors.empty()) return Fail(errors, o.json);

  cost::EstimateResult estimate =
      cost::EstimateCosts(*config.config, *prices.prices, {.failover_hours = o.failover_hours});
  if (!estimate.ok()) return Fail(estimate.errors, o.json);

  cost::CostReport report;
  report.platform = config.config->platform;
  report.config_file = o.config;
  report.prices_file = o.prices;
  report.prices_source = prices.prices->source;
  report.estimate = std::move(*estimate.estimate);
  report.history_file = o.history;
  report.measured = cost::Summarize(history.drills);
  std::cout << (o.json ? cost::FormatJson(report) : cost::FormatText(report));
  return 0;
}

void Register(CLI::App& root, Context& context) {
  CLI::App* cmd = root.add_subcommand(
      "cost",
      "Monthly cost of backup & restore, pilot light, warm standby and active-active, with the "
      "RTO and RPO each can expect (and pilot light's measured ones, given drill history)");
  auto opts = std::make_shared<CostOptions>();
  cmd->add_option("--config", opts->config, "Platform config (default examples/lab.yaml)");
  cmd->add_option("--prices", opts->prices,
                  "Price file (default examples/prices.yaml: SAMPLE prices, replace them)");
  cmd->add_option("--history", opts->history,
                  "Drill history: the drills' SQLite store (.pilotlight/drills/history.db), or "
                  "JSON lines {rto_seconds, rpo_seconds, at}, oldest first");
  cmd->add_option("--failover-hours", opts->failover_hours,
                  "Hours the DR region runs at production size in one failover event "
                  "(default 24)")
      ->check(CLI::Range(0, 8760));
  cmd->add_flag("--json", opts->json, "Print the estimate as JSON on stdout");
  cmd->callback([opts, &context] { context.exit_code = Cost(*opts); });
}

const CommandRegistration registration(70, Register);

}  // namespace
}  // namespace pilotlight::cli
