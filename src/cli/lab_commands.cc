// pilotlight lab up | down | status | kill-region | start-region | partition | heal | scale | agent
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/command.h"
#include "config/loader.h"
#include "lab/lab.h"

namespace pilotlight::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kDefaultLabDir[] = ".pilotlight/lab";
constexpr char kDefaultConfig[] = "examples/lab.yaml";

struct LabOptions {
  std::string dir = kDefaultLabDir;
  std::string config;
  std::string region;
  std::string group;
  int size = 0;
  bool json = false;
  bool purge = false;
  bool no_replicators = false;
};

// The config for a lab: the one given, else the lab's own copy, else the default.
std::optional<config::Config> LoadLabConfig(const LabOptions& o) {
  std::string path = o.config;
  if (path.empty()) {
    path = fs::exists(o.dir + "/config.yaml") ? o.dir + "/config.yaml" : kDefaultConfig;
  }
  config::LoadResult r = config::LoadConfigFile(path);
  if (!r.ok()) {
    for (const config::ConfigError& e : r.errors) std::cerr << e.ToString() << "\n";
    std::cerr << "pilotlight: " << r.errors.size() << " error(s) in " << path
              << "; fix them and run again (pilotlight config validate " << path << ")\n";
    return std::nullopt;
  }
  // The lab's own passwords (<dir>/secrets), whichever config file was given.
  config::ApplySecretsDir(*r.config, o.dir + "/secrets");
  return std::move(*r.config);
}

enum class Action { kUp, kDown, kStatus, kKill, kStart, kScale, kAgent, kPartition, kHeal };

int RunLab(Action action, const LabOptions& o, const Context& context) {
  std::optional<config::Config> config = LoadLabConfig(o);
  if (!config) return 1;
  if (action == Action::kAgent) return lab::RunAgent(*config, o.region, o.dir);
  lab::Lab lab(std::move(*config), o.dir, context.self_exe);
  Status st;
  switch (action) {
    case Action::kUp:
      st = lab.Up(!o.no_replicators);
      if (st.ok()) std::cerr << "lab is up; see `pilotlight lab status --dir " << o.dir << "`\n";
      break;
    case Action::kDown:
      st = lab.Down(o.purge);
      break;
    case Action::kStatus: {
      lab::LabStatus s = lab.GetStatus();
      std::cout << (o.json ? lab::FormatStatusJson(s) : lab::FormatStatusText(s));
      break;
    }
    case Action::kKill:
      st = lab.KillRegion(o.region);
      break;
    case Action::kStart:
      st = lab.StartRegion(o.region);
      break;
    case Action::kScale:
      st = lab.ScaleNodeGroup(o.region, o.group, o.size);
      break;
    case Action::kPartition:
      st = lab.Partition(o.region);
      break;
    case Action::kHeal:
      st = lab.HealPartition(o.region);
      break;
    case Action::kAgent:
      break;
  }
  return ExitCode(st.ok(), st.ToString());
}

void Register(CLI::App& root, Context& context) {
  CLI::App* labcmd =
      root.add_subcommand("lab", "The local two-region lab (real PostgreSQL and Redis)");
  labcmd->require_subcommand(1);
  auto o = std::make_shared<LabOptions>();
  labcmd->add_option("--dir", o->dir, "The lab's state directory")->capture_default_str();
  labcmd->add_option("--config", o->config,
                     "Config file (default: the lab's own copy, else examples/lab.yaml)");

  auto add = [&](const char* name, const char* help, Action action) {
    CLI::App* sub = labcmd->add_subcommand(name, help);
    sub->fallthrough();  // accept --dir/--config after the subcommand too
    sub->callback([o, action, &context] { context.exit_code = RunLab(action, *o, context); });
    return sub;
  };
  add("up", "Start both regions (idempotent)", Action::kUp)
      ->add_flag("--no-replicators", o->no_replicators,
                 "Do not run the lab's session and object replicators");
  add("down", "Stop every process of the lab", Action::kDown)
      ->add_flag("--purge", o->purge, "Also delete the lab's data");
  add("status", "Show each component and the live replication lag", Action::kStatus)
      ->add_flag("--json", o->json, "Print the status as JSON on stdout");
  add("kill-region", "SIGKILL every process of a region", Action::kKill)
      ->add_option("NAME", o->region, "Region name")
      ->required();
  add("start-region", "Start a killed region again in its old role", Action::kStart)
      ->add_option("NAME", o->region, "Region name")
      ->required();
  add("partition", "Cut a region off the network (nftables); its processes keep running",
      Action::kPartition)
      ->add_option("NAME", o->region, "Region name")
      ->required();
  add("heal", "Undo `partition`", Action::kHeal)->add_option("NAME", o->region, "Region name")
      ->required();
  CLI::App* scale = add("scale", "Set a node group's number of instances in a region",
                        Action::kScale);
  scale->add_option("REGION", o->region, "Region name")->required();
  scale->add_option("GROUP", o->group, "Node group name")->required();
  scale->add_option("SIZE", o->size, "Instances")->required()->check(CLI::NonNegativeNumber);
  add("agent", "Run a region's agent (the lab starts it)", Action::kAgent)
      ->add_option("--region", o->region, "Region name")
      ->required();
}

const CommandRegistration registration(20, Register);

}  // namespace
}  // namespace pilotlight::cli
