// pilotlight trader serve | pilotlight load
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "config/loader.h"
#include "trader/serve.h"

namespace pilotlight::cli {
namespace {

struct ServeFlags {
  std::string config;
  trader::ServeOptions serve;
};

int Serve(const ServeFlags& f) {
  config::LoadResult r = config::LoadConfigFile(f.config);
  if (!r.ok()) {
    for (const config::ConfigError& e : r.errors) std::cerr << e.ToString() << "\n";
    std::cerr << "pilotlight: " << r.errors.size() << " error(s) in " << f.config << "\n";
    return 2;
  }
  return trader::RunTraderService(*r.config, f.serve);
}

void Register(CLI::App& root, Context& context) {
  CLI::App* trader = root.add_subcommand("trader", "The reference trading service");
  trader->require_subcommand(1);
  auto f = std::make_shared<ServeFlags>();
  CLI::App* serve = trader->add_subcommand(
      "serve", "Run one instance of a region's trading service (the lab starts these)");
  serve->add_option("--config", f->config, "Config file")->required();
  serve->add_option("--region", f->serve.region, "Region whose database and address to use")
      ->required();
  serve->add_option("--dir", f->serve.lab_dir,
                    "Lab directory (where <region>/buckets/confirmations lives)");
  serve->add_option("--node-group", f->serve.node_group, "Node group (default: the first)");
  serve->add_option("--instance", f->serve.instance, "Instance name for logs and /healthz");
  serve->add_option("--port", f->serve.port, "Listen port (default: the node group's)")
      ->check(CLI::Range(1, 65535));
  serve->add_option("--db-connections", f->serve.db_connections,
                    "PostgreSQL connections of this instance")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  serve->add_option("--session-ttl", f->serve.session_ttl, "Lifetime of a session")
      ->capture_default_str();
  serve->callback([f, &context] { context.exit_code = Serve(*f); });
}

const CommandRegistration registration(40, Register);

}  // namespace
}  // namespace pilotlight::cli
