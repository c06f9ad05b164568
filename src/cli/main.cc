// pilotlight: the command-line entry point. CLI11 stays in this file.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "core/log.h"
#include "lab/lab.h"

namespace pl = pilotlight;
namespace fs = std::filesystem;

namespace {

constexpr char kDefaultLabDir[] = ".pilotlight/lab";
constexpr char kDefaultConfig[] = "examples/lab.yaml";

std::string SelfExe() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("pilotlight") : p.string();
}

void PrintConfigErrors(const pl::config::LoadResult& r) {
  for (const pl::config::ConfigError& e : r.errors) std::cerr << e.ToString() << "\n";
}

// Loads a config for the lab: the one given, else the lab's own copy, else the default.
std::optional<pl::config::Config> LoadLabConfig(const std::string& given, const std::string& dir) {
  std::string path = given;
  if (path.empty()) {
    path = fs::exists(dir + "/config.yaml") ? dir + "/config.yaml" : kDefaultConfig;
  }
  pl::config::LoadResult r = pl::config::LoadConfigFile(path);
  if (!r.ok()) {
    PrintConfigErrors(r);
    std::cerr << "pilotlight: " << r.errors.size() << " error(s) in " << path
              << "; fix them and run again (pilotlight config validate " << path << ")\n";
    return std::nullopt;
  }
  return std::move(*r.config);
}

int Fail(const pl::Status& st) {
  std::cerr << "pilotlight: " << st.ToString() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "pilotlight: pilot-light disaster recovery for a trading platform.\n"
      "Detects a dead region, fails over safely, and measures RTO and RPO."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "pilotlight 0.1.0");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug | info | warn | error (logs go to stderr)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));

  // config
  CLI::App* config_cmd = app.add_subcommand("config", "Work with configuration files");
  config_cmd->require_subcommand(1);
  CLI::App* validate = config_cmd->add_subcommand(
      "validate", "Check a config file and report every error with file:line:column");
  std::string validate_file;
  bool validate_json = false;
  validate->add_option("FILE", validate_file, "The YAML config to check")->required();
  validate->add_flag("--json", validate_json, "Print the errors as JSON on stdout");

  // lab
  CLI::App* lab_cmd = app.add_subcommand("lab", "The local two-region lab (real PostgreSQL and Redis)");
  lab_cmd->require_subcommand(1);
  std::string lab_dir = kDefaultLabDir;
  std::string lab_config;
  lab_cmd->add_option("--dir", lab_dir, "The lab's state directory")
      ->capture_default_str()
      ->default_str(kDefaultLabDir);
  lab_cmd->add_option("--config", lab_config,
                      "Config file (default: the lab's own copy, else examples/lab.yaml)");
  CLI::App* up = lab_cmd->add_subcommand("up", "Start both regions (idempotent)");
  CLI::App* down = lab_cmd->add_subcommand("down", "Stop every process of the lab");
  bool purge = false;
  down->add_flag("--purge", purge, "Also delete the lab's data");
  CLI::App* status = lab_cmd->add_subcommand(
      "status", "Show each component and the live replication lag");
  bool status_json = false;
  status->add_flag("--json", status_json, "Print the status as JSON on stdout");
  CLI::App* kill_region = lab_cmd->add_subcommand("kill-region", "SIGKILL every process of a region");
  CLI::App* start_region =
      lab_cmd->add_subcommand("start-region", "Start a killed region again in its old role");
  std::string region;
  kill_region->add_option("NAME", region, "Region name")->required();
  start_region->add_option("NAME", region, "Region name")->required();
  CLI::App* agent = lab_cmd->add_subcommand("agent", "Run a region's heartbeat agent (the lab starts it)");
  agent->add_option("--region", region, "Region name")->required();
  for (CLI::App* sub : {up, down, status, kill_region, start_region, agent}) {
    // Accept --dir/--config after the subcommand too: `lab status --dir X`.
    sub->fallthrough();
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  pl::InitLogging(log_level == "debug"  ? pl::LogLevel::kDebug
                  : log_level == "warn" ? pl::LogLevel::kWarn
                  : log_level == "error" ? pl::LogLevel::kError
                                         : pl::LogLevel::kInfo);

  if (validate->parsed()) {
    pl::config::LoadResult r = pl::config::LoadConfigFile(validate_file);
    if (validate_json) {
      nlohmann::json j;
      j["file"] = validate_file;
      j["valid"] = r.ok();
      j["errors"] = nlohmann::json::array();
      for (const pl::config::ConfigError& e : r.errors) {
        j["errors"].push_back({{"file", e.where.file},
                               {"line", e.where.line},
                               {"column", e.where.column},
                               {"field", e.field},
                               {"expected", e.expected},
                               {"found", e.found},
                               {"message", e.ToString()}});
      }
      std::cout << j.dump(2) << "\n";
    } else if (r.ok()) {
      std::cout << validate_file << ": valid (" << r.config->regions.size() << " regions)\n";
    } else {
      PrintConfigErrors(r);
      std::cerr << r.errors.size() << " error(s) in " << validate_file << "\n";
    }
    return r.ok() ? 0 : 1;
  }

  if (lab_cmd->parsed()) {
    std::optional<pl::config::Config> config = LoadLabConfig(lab_config, lab_dir);
    if (!config) return 1;
    if (agent->parsed()) return pl::lab::RunAgent(*config, region);
    pl::lab::Lab lab(std::move(*config), lab_dir, SelfExe());
    if (up->parsed()) {
      pl::Status st = lab.Up();
      if (!st.ok()) return Fail(st);
      std::cerr << "lab is up; see `pilotlight lab status --dir " << lab_dir << "`\n";
      return 0;
    }
    if (down->parsed()) {
      pl::Status st = lab.Down(purge);
      return st.ok() ? 0 : Fail(st);
    }
    if (status->parsed()) {
      pl::lab::LabStatus s = lab.GetStatus();
      std::cout << (status_json ? pl::lab::FormatStatusJson(s) : pl::lab::FormatStatusText(s));
      return 0;
    }
    if (kill_region->parsed()) {
      pl::Status st = lab.KillRegion(region);
      return st.ok() ? 0 : Fail(st);
    }
    if (start_region->parsed()) {
      pl::Status st = lab.StartRegion(region);
      return st.ok() ? 0 : Fail(st);
    }
  }
  return 0;
}
