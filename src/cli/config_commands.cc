// pilotlight config validate
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "config/loader.h"

namespace pilotlight::cli {
namespace {

int Validate(const std::string& file, bool json) {
  config::LoadResult r = config::LoadConfigFile(file);
  if (json) {
    nlohmann::json j;
    j["file"] = file;
    j["valid"] = r.ok();
    j["errors"] = nlohmann::json::array();
    for (const config::ConfigError& e : r.errors) {
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
    std::cout << file << ": valid (" << r.config->regions.size() << " regions)\n";
  } else {
    for (const config::ConfigError& e : r.errors) std::cerr << e.ToString() << "\n";
    std::cerr << r.errors.size() << " error(s) in " << file << "\n";
  }
  return r.ok() ? 0 : 1;
}

void Register(CLI::App& root, Context& context) {
  CLI::App* config = root.add_subcommand("config", "Work with configuration files");
  config->require_subcommand(1);
  CLI::App* validate = config->add_subcommand(
      "validate", "Check a config file and report every error with file:line:column");
  struct Options {
    std::string file;
    bool json = false;
  };
  auto opts = std::make_shared<Options>();
  validate->add_option("FILE", opts->file, "The YAML config to check")->required();
  validate->add_flag("--json", opts->json, "Print the result as JSON on stdout");
  validate->callback([opts, &context] { context.exit_code = Validate(opts->file, opts->json); });
}

const CommandRegistration registration(10, Register);

}  // namespace
}  // namespace pilotlight::cli
