// pilotlight replication status | run | run-objects | promote | fence | unfence | rejoin
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
#include "config/loader.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "data/objects/replicator.h"
#include "data/postgres/failover.h"
#include "data/postgres/promotion_gate.h"
#include "data/postgres/region_database.h"
#include "data/postgres/rejoin.h"
#include "data/postgres/replication.h"
#include "data/rpo/lag_readers.h"
#include "data/rpo/rpo.h"
#include "lab/lab.h"
#include "sys/process.h"

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
              << pass->already_in_place << ", deleted " << pass->deleted << ", skipped "
              << pass->skipped.size() << "\n";
    for (const objects::SkippedEntry& e : pass->skipped) {
      std::cout << "skipped: " << objects::EscapeKey(e.key) << ": "
                << objects::SkipReasonName(e.reason) << "\n";
    }
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
  // promote / fence / rejoin
  std::string region;
  std::string mode = "read-only";
  std::string timeout = "60s";
  bool force = false;
  bool basebackup = false;
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
  config::ApplySecretsDir(*r.config, o.dir + "/secrets");  // the lab's passwords
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

pg::Endpoint PgOf(const config::RegionSpec& r) { return pg::RegionDatabase(r); }

const config::RegionSpec& Other(const config::Config& c, const config::RegionSpec& r) {
  return &r == &c.Primary() ? c.Dr() : c.Primary();
}

// The lab's PostgreSQL server of a region, as the data layer sees it.
Result<pg::LocalServer> LabServer(const config::Config& c, const LabOptions& o,
                                  const config::RegionSpec& r, const std::string& self_exe) {
  Result<std::optional<sys::RunAs>> user = sys::ServerUser("postgres");
  if (!user.ok()) return user.status();
  lab::Lab lab(c, o.dir, self_exe);
  pg::LocalServer s;
  s.data_dir = lab.PostgresDataDir(r);
  s.pid_file = o.dir + "/" + r.name + "/postgres.pid";
  s.log_file = o.dir + "/" + r.name + "/postgres.log";
  s.user = *user;
  s.endpoint = PgOf(r);
  return s;
}

enum class DbAction { kPromote, kFence, kUnfence, kRejoin };

int RunDbAction(DbAction action, const LabOptions& o, const Context& context) {
  std::optional<config::Config> config = LoadConfig(o);
  if (!config) return 1;
  Result<Duration> timeout = ParseDuration(o.timeout);
  if (!timeout.ok()) return ExitCode(false, "--timeout: " + timeout.status().message());
  const std::string default_region =
      action == DbAction::kPromote ? config->Dr().name : config->Primary().name;
  const config::RegionSpec* region =
      config->FindRegion(o.region.empty() ? default_region : o.region);
  if (region == nullptr) return ExitCode(false, "no region named '" + o.region + "'");
  const config::RegionSpec& other = Other(*config, *region);
  Clock& clock = SystemClock::Instance();
  switch (action) {
    case DbAction::kPromote: {
      pg::ReplicationStatus st = pg::ReadReplicationStatus(PgOf(other), PgOf(*region), region->name);
      pg::PromotionGateInput gate{st, config->replication.max_lag_on_failover, o.force, {}};
      gate.now = clock.Now();  // the time of the primary's WAL position read just now
      pg::PromotionVerdict v = pg::CheckPromotionLag(gate);
      std::cout << "lag gate: " << pg::PromotionDecisionName(v.decision) << ": " << v.reason << "\n";
      if (!v.allowed()) return 1;
      Result<pg::PromoteOutcome> r = pg::Promote(PgOf(*region), *timeout, clock);
      if (!r.ok()) return ExitCode(false, r.status().ToString());
      std::cout << region->name << ": " << r->ToString() << "\n";
      return 0;
    }
    case DbAction::kFence:
    case DbAction::kUnfence: {
      std::optional<pg::LocalServer> local;
      if (o.mode == "no-connections" || action == DbAction::kUnfence) {
        Result<pg::LocalServer> s = LabServer(*config, o, *region, context.self_exe);
        if (!s.ok()) return ExitCode(false, s.status().ToString());
        local = *s;
      }
      if (action == DbAction::kUnfence) {
        pilotlight::Status st = pg::Unfence(PgOf(*region), *timeout, clock, &*local);
        if (st.ok()) std::cout << region->name << ": fence lifted; writes verified\n";
        return ExitCode(st.ok(), st.ToString());
      }
      Result<pg::FenceMode> mode = pg::ParseFenceMode(o.mode);
      if (!mode.ok()) return ExitCode(false, mode.status().ToString());
      Result<pg::FenceOutcome> r =
          pg::Fence(PgOf(*region), *mode, *timeout, clock, local ? &*local : nullptr);
      if (!r.ok()) return ExitCode(false, r.status().ToString());
      std::cout << region->name << ": " << r->ToString() << "\n";
      return 0;
    }
    case DbAction::kRejoin: {
      Result<pg::LocalServer> s = LabServer(*config, o, *region, context.self_exe);
      if (!s.ok()) return ExitCode(false, s.status().ToString());
      pg::RejoinSpec spec;
      spec.server = *s;
      spec.new_primary = PgOf(other);
      spec.application_name = region->name;
      spec.slot = "pilotlight_" + region->name;
      spec.timeout = *timeout;
      spec.force_basebackup = o.basebackup;
      Result<pg::RejoinOutcome> r = pg::Rejoin(spec, clock);
      if (!r.ok()) return ExitCode(false, r.status().ToString());
      std::cout << region->name << ": " << r->ToString() << "\n";
      return 0;
    }
  }
  return 1;
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

  auto db = [&](const char* name, const char* help, DbAction action) {
    CLI::App* sub = rep->add_subcommand(name, help);
    sub->fallthrough();
    sub->add_option("--region", lab->region, "The region's database (see each command's default)");
    sub->add_option("--timeout", lab->timeout, "Deadline")->capture_default_str();
    sub->callback([lab, action, &context] { context.exit_code = RunDbAction(action, *lab, context); });
    return sub;
  };
  db("promote",
     "Promote a region's replica (default: DR) after the lag gate (replication.max_lag_on_failover)",
     DbAction::kPromote)
      ->add_flag("--force", lab->force, "Promote over the lag limit, accepting the data at risk");
  db("fence", "Make a region's database (default: primary) refuse writes, and verify it",
     DbAction::kFence)
      ->add_option("--mode", lab->mode, "read-only | no-connections")
      ->capture_default_str();
  db("unfence", "Lift the fence of a region's database (default: primary)", DbAction::kUnfence);
  db("rejoin",
     "Make a region's old primary (default: primary) a standby of the other region, by pg_rewind",
     DbAction::kRejoin)
      ->add_flag("--basebackup", lab->basebackup, "Re-clone with pg_basebackup instead");

  auto objects = std::make_shared<ObjectsOptions>();
  CLI::App* run_objects = rep->add_subcommand(
      "run-objects", "Replicate one bucket directory to another (checksummed, resumable)");
  run_objects->add_option("--source", objects->source, "Source bucket directory")->required();
  run_objects->add_option("--dest", objects->dest, "Destination bucket directory")->required();
  run_objects->add_option("--state", objects->state, "Directory for the durable checkpoint")
      ->required();
  run_objects->add_option("--origin", objects->origin,
                          "Source region name (in each replica's metadata)")
      ->capture_default_str();
  run_objects->add_option("--interval", objects->interval, "Time between passes")
      ->capture_default_str();
  run_objects->add_flag("--once", objects->once, "One pass, then exit (1 when it alarmed)");
  run_objects->callback([objects, &context] { context.exit_code = RunObjects(*objects); });
}

const CommandRegistration registration(40, Register);

}  // namespace
}  // namespace pilotlight::cli
