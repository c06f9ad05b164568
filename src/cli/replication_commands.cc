// pilotlight replication run-objects | status
//
// The data layer's replicators as long-running commands, and the live RPO table.
#include <signal.h>

#include <atomic>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "data/objects/replicator.h"

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

void Register(CLI::App& root, Context& context) {
  CLI::App* rep = root.add_subcommand(
      "replication", "Data replication: run the replicators, show the live RPO per data type");
  rep->require_subcommand(1);

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
