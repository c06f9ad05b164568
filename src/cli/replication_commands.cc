// pilotlight replication status | run | run-objects
//
// The live RPO table per data type, and the data layer's replicators as
// long-running commands.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/command.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "config/loader.h"
#include "data/objects/replicator.h"
#include "data/rpo/lag_readers.h"
#include "data/rpo/rpo.h"

namespace pilotlight::cli {
namespace {

std::atomic<bool> g_stop{false};

void OnStopSignal(int) { g_stop.store(true); }

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

struct ObjectsOptions {
  std::string source;
  std::string dest;
  std::string state;
  std::string origin = "primary";
  std::string interval = "500ms";
  bool once = false;
};

int RunObjects(const ObjectsOptions& o) {
  Result<Duration> interval = ParseDuration(o.interval);
  if (!interval.ok()) return ExitCode(false, "--interval: " + interval.status().message());
  objects::ReplicatorOptions options;
  options.source_dir = o.source;
  options.dest_dir = o.dest;
  options.state_dir = o.state;
  options.origin = o.origin;
  Result<std::unique_ptr<objects::BucketReplicator>> r =
      objects::BucketReplicator::Open(options, SystemClock::Instance());
  if (!r.ok()) return ExitCode(false, r.status().ToString());
  InstallStopHandlers();
  LogInfo("objects: replicating " + o.source + " -> " + o.dest + " (state " + o.state + ")");
  if (o.once) {
    Result<objects::PassStats> pass = (*r)->RunPass(&g_stop);
    if (!pass.ok()) return ExitCode(false, pass.status().ToString());
    for (const std::string& a : pass->alarms) std::cerr << "ALARM: " << a << "\n";
    std::cout << "copied " << pass->copied << " (" << pass->bytes_copied << " B), already in place "
              << pass->already_in_place << ", deleted " << pass->deleted << "\n";
    return pass->alarms.empty() ? 0 : 1;
  }
  (*r)->Run(g_stop, *interval);
  LogInfo("objects: stopped");
  return 0;
}

struct LabOptions {
  std::string dir = ".pilotlight/lab";
  std::string config;
  std::string from;
  std::string interval = "200ms";
  bool json = false;
};

// The config given, else the lab's own copy, else the shipped example.
std::optional<config::Config> LoadConfig(const LabOptions& o) {
  std::string path = o.config;
  if (path.empty()) {
    path = std::filesystem::exists(o.dir + "/config.yaml") ? o.dir + "/config.yaml"
                                                           : "examples/lab.yaml";
  }
  config::LoadResult r = config::LoadConfigFile(path);
  if (!r.ok()) {
    for (const config::ConfigError& e : r.errors) std::cerr << e.ToString() << "\n";
    std::cerr << "pilotlight: " << r.errors.size() << " error(s) in " << path << "\n";
    return std::nullopt;
  }
  return std::move(*r.config);
}

int ShowStatus(const LabOptions& o) {
  std::optional<config::Config> config = LoadConfig(o);
  if (!config) return 1;
  const WallTime now = SystemClock::Instance().Now();
  std::vector<rpo::RpoRow> rows =
      rpo::EvaluateAll(rpo::ReadLags(*config, rpo::DataLayout{o.dir}, now), config->objectives.rpo);
  std::cout << (o.json ? rpo::FormatRpoJson(rows, now) : rpo::FormatRpoTable(rows));
  return 0;
}

int RunAll(const LabOptions& o) {
  std::optional<config::Config> config = LoadConfig(o);
  if (!config) return 1;
  Result<Duration> interval = ParseDuration(o.interval);
  if (!interval.ok()) return ExitCode(false, "--interval: " + interval.status().message());
  InstallStopHandlers();
  pilotlight::Status st =
      rpo::RunReplicators(*config, rpo::DataLayout{o.dir},
                          o.from.empty() ? config->Primary().name : o.from, *interval, g_stop,
                          SystemClock::Instance());
  LogInfo("replication: stopped");
  return ExitCode(st.ok(), st.ToString());
}

void Register(CLI::App& root, Context& context) {
  CLI::App* rep = root.add_subcommand(
      "replication", "Data replication: run the replicators, show the live RPO per data type");
  rep->require_subcommand(1);
  auto lab = std::make_shared<LabOptions>();
  rep->add_option("--dir", lab->dir, "The lab's state directory")->capture_default_str();
  rep->add_option("--config", lab->config,
                  "Config file (default: the lab's own copy, else examples/lab.yaml)");

  CLI::App* status = rep->add_subcommand(
      "status", "Replication lag per data type and direction against its RPO objective");
  status->fallthrough();
  status->add_flag("--json", lab->json, "Print the table as JSON on stdout");
  status->callback([lab, &context] { context.exit_code = ShowStatus(*lab); });

  CLI::App* run = rep->add_subcommand(
      "run", "Run every replicator of the platform (sessions both ways, each shared bucket)");
  run->fallthrough();
  run->add_option("--from", lab->from, "The region taking writes (default: the primary)");
  run->add_option("--interval", lab->interval, "Time between bucket passes")
      ->capture_default_str();
  run->callback([lab, &context] { context.exit_code = RunAll(*lab); });

  auto objects = std::make_shared<ObjectsOptions>();
  CLI::App* run_objects = rep->add_subcommand(
      "run-objects", "Replicate one bucket directory to another (checksummed, resumable)");
  run_objects->add_option("--source", objects->source, "Source bucket directory")->required();
  run_objects->add_option("--dest", objects->dest, "Destination bucket directory")->required();
  run_objects->add_option("--state", objects->state, "Directory for the durable checkpoint")
      ->required();
  run_objects->add_option("--origin", objects->origin, "Source region name (in sidecars)")
      ->capture_default_str();
  run_objects->add_option("--interval", objects->interval, "Time between passes")
      ->capture_default_str();
  run_objects->add_flag("--once", objects->once, "One pass, then exit (1 when it alarmed)");
  run_objects->callback([objects, &context] { context.exit_code = RunObjects(*objects); });
}

const CommandRegistration registration(40, Register);

}  // namespace
}  // namespace pilotlight::cli
