// pilotlight: the command-line entry point. Subcommands live in *_commands.cc.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <vector>

#include "cli/command.h"
#include "core/log.h"

namespace pilotlight::cli {
namespace {

std::vector<std::pair<int, Registrar>>& Registry() {
  static std::vector<std::pair<int, Registrar>> registry;
  return registry;
}

}  // namespace

CommandRegistration::CommandRegistration(int order, Registrar registrar) {
  Registry().emplace_back(order, registrar);
}

int ExitCode(bool ok, const std::string& message) {
  if (ok) return 0;
  std::cerr << "pilotlight: " << message << "\n";
  return 1;
}

}  // namespace pilotlight::cli

int main(int argc, char** argv) {
  namespace cli = pilotlight::cli;
  CLI::App app{
      "pilotlight: pilot-light disaster recovery for a trading platform.\n"
      "Detects a dead region, fails over safely, and measures RTO and RPO."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "pilotlight " PILOTLIGHT_VERSION);  // CMake project version
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug | info | warn | error (logs go to stderr)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.parse_complete_callback([&] {
    pilotlight::InitLogging(log_level == "debug"   ? pilotlight::LogLevel::kDebug
                            : log_level == "warn"  ? pilotlight::LogLevel::kWarn
                            : log_level == "error" ? pilotlight::LogLevel::kError
                                                   : pilotlight::LogLevel::kInfo);
  });

  cli::Context context;
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  context.self_exe = ec ? std::string(argv[0]) : self.string();

  auto& registry = cli::Registry();
  std::stable_sort(registry.begin(), registry.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [order, registrar] : registry) registrar(app, context);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return context.exit_code;
}
