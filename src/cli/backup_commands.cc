// pilotlight backup verify | discard
//
// Backup validation on a running lab: a base backup of the writable primary,
// restored into a scratch server on a free port, recovered to a target and
// checked table by table against the source (see data/postgres/backup.h).
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "cli/command.h"
#include "config/loader.h"
#include "core/clock.h"
#include "core/duration.h"
#include "data/postgres/backup.h"
#include "data/postgres/failover.h"
#include "lab/lab.h"
#include "sys/process.h"

namespace pilotlight::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kDefaultLabDir[] = ".pilotlight/lab";
constexpr char kDefaultConfig[] = "examples/lab.yaml";

struct BackupOptions {
  std::string dir = kDefaultLabDir;
  std::string config;
  std::string region;
  std::string target = "now";
  std::string target_time;
  std::vector<std::string> tables;
  bool keep = false;
  bool json = false;
};

// The config for a lab: the one given, else the lab's own copy, else the default
// (the convention of `pilotlight lab`).
Result<config::Config> LoadConfig(const BackupOptions& o) {
  std::string path = o.config;
  if (path.empty()) {
    path = fs::exists(o.dir + "/config.yaml") ? o.dir + "/config.yaml" : kDefaultConfig;
  }
  Result<config::Config> config = config::LoadConfigOrError(path);
  if (config.ok()) config::ApplySecretsDir(*config, o.dir + "/secrets");  // the lab's passwords
  return config;
}

// The region whose PostgreSQL takes writes now (after a failover, the DR region).
Result<const config::RegionSpec*> WritablePrimary(const config::Config& config,
                                                  const lab::Lab& lab) {
  std::vector<const config::RegionSpec*> writable;
  std::string seen;
  for (const config::RegionSpec& r : config.regions) {
    Result<std::unique_ptr<pg::Connection>> conn =
        pg::Connection::Open(lab.PostgresEndpoint(r, "postgres"));
    if (!conn.ok()) {
      seen += "\n  " + r.name + ": unreachable (" + conn.status().message() + ")";
      continue;
    }
    Result<pg::ServerRole> role = pg::ReadServerRole(**conn);
    if (!role.ok()) {
      seen += "\n  " + r.name + ": " + role.status().message();
      continue;
    }
    seen += "\n  " + r.name + ": " +
            (role->in_recovery         ? "standby"
             : role->read_only_default ? "fenced"
                                       : "writable");
    if (!role->in_recovery && !role->read_only_default) writable.push_back(&r);
  }
  if (writable.size() == 1) return writable.front();
  if (writable.empty()) {
    return Status::Unavailable(
        "no region's PostgreSQL takes writes; start the lab (pilotlight "
        "lab up) or name one with --region:" +
        seen);
  }
  return Status::FailedPrecondition(
      "more than one region takes writes; name the one to verify "
      "with --region:" +
      seen);
}

Result<pg::VerifySpec> MakeSpec(const BackupOptions& o, const config::Config& config,
                                const lab::Lab& lab) {
  const config::RegionSpec* region = nullptr;
  if (o.region.empty()) {
    Result<const config::RegionSpec*> found = WritablePrimary(config, lab);
    if (!found.ok()) return found.status();
    region = *found;
  } else {
    region = config.FindRegion(o.region);
    if (region == nullptr) {
      return Status::InvalidArgument("no region named '" + o.region + "' in " + config.file);
    }
  }
  Result<std::optional<sys::RunAs>> user = sys::ServerUser("postgres");
  if (!user.ok()) return user.status();
  pg::VerifySpec spec;
  spec.region = region->name;
  spec.source.data_dir = lab.PostgresDataDir(*region);
  spec.source.user = *user;
  spec.source.endpoint = lab.PostgresEndpoint(*region, region->postgres.database);
  // <pg_root>/<region>/pgdata: scratch runs go beside the regions, where the
  // postgres user can reach (the lab directory itself unless it could not).
  spec.scratch_root =
      fs::path(spec.source.data_dir).parent_path().parent_path().string() + "/backup-verify";
  if (!o.tables.empty()) spec.tables = o.tables;
  spec.keep = o.keep;
  if (!o.target_time.empty()) {
    Result<WallTime> t = pg::ParseRfc3339(o.target_time);
    if (!t.ok()) return t.status().Annotate("--target-time");
    spec.target.kind = pg::BackupTarget::Kind::kTime;
    spec.target.time = *t;
  } else if (o.target != "now") {
    return Status::InvalidArgument(
        "--target takes only 'now' (a restore point made after the "
        "backup); for a time use --target-time RFC3339");
  }
  return spec;
}

int RunVerify(const BackupOptions& o, const Context& context) {
  Result<config::Config> config = LoadConfig(o);
  if (!config.ok()) return ExitCode(false, config.status().ToString());
  lab::Lab lab(*config, o.dir, context.self_exe);
  Result<pg::VerifySpec> spec = MakeSpec(o, *config, lab);
  if (!spec.ok()) return ExitCode(false, spec.status().ToString());
  SystemClock& clock = SystemClock::Instance();
  const MonoTime start = clock.Monotonic();
  spec->progress = [&](const std::string& line) {
    char at[32];
    std::snprintf(at, sizeof at, "[%6.2fs] ", ToSeconds(clock.Monotonic() - start));
    std::cerr << "backup verify " << at << line << std::endl;
  };
  Result<pg::VerifyReport> report = pg::VerifyBackup(*spec, clock);
  if (!report.ok()) return ExitCode(false, report.status().ToString());
  std::cout << (o.json ? pg::FormatReportJson(*report) : pg::FormatReportText(*report));
  if (!report->passed()) {
    std::string msg = "backup verify FAILED:";
    for (const std::string& p : report->comparison.problems) msg += "\n  " + p;
    return ExitCode(false, msg);
  }
  return 0;
}

int RunDiscard(const BackupOptions& o, const Context& context) {
  Result<config::Config> config = LoadConfig(o);
  if (!config.ok()) return ExitCode(false, config.status().ToString());
  lab::Lab lab(*config, o.dir, context.self_exe);
  Result<std::optional<sys::RunAs>> user = sys::ServerUser("postgres");
  if (!user.ok()) return ExitCode(false, user.status().ToString());
  pg::LocalServer like;
  like.user = *user;
  const std::string root =
      fs::path(lab.PostgresDataDir(config->Primary())).parent_path().parent_path().string() +
      "/backup-verify";
  Result<std::vector<std::string>> removed = pg::DiscardScratch(root, like);
  if (!removed.ok()) return ExitCode(false, removed.status().ToString());
  for (const std::string& d : *removed) std::cerr << "removed " << d << "\n";
  if (removed->empty()) std::cerr << "no scratch restores under " << root << "\n";
  return 0;
}

void Register(CLI::App& root, Context& context) {
  CLI::App* backup = root.add_subcommand("backup", "Backup validation on the lab");
  backup->require_subcommand(1);
  auto o = std::make_shared<BackupOptions>();
  auto common = [&](CLI::App* sub) {
    sub->add_option("--dir", o->dir, "The lab's state directory")->capture_default_str();
    sub->add_option("--config", o->config,
                    "Config file (default: the lab's own copy, else examples/lab.yaml)");
  };
  CLI::App* verify = backup->add_subcommand(
      "verify",
      "Base backup of the writable primary, restored into a scratch server on a free port, "
      "recovered to a target and checked table by table (row counts and checksums) against "
      "the source at that point; reports backup and restore seconds; exit 1 on any difference");
  common(verify);
  verify->add_option("--region", o->region,
                     "Region whose PostgreSQL to back up (default: the one taking writes now)");
  CLI::Option* target = verify->add_option(
      "--target", o->target,
      "'now': recover to a restore point made right after the backup, compared exactly");
  verify
      ->add_option("--target-time", o->target_time,
                   "Recover to this RFC 3339 time (after the backup's end, at most 15 min "
                   "ahead; the run waits for it). Counts are reported, not compared")
      ->excludes(target);
  verify->add_option("--table", o->tables,
                     "A table to check instead of the trading tables (symbols, orders, book, "
                     "trades); repeat for several");
  verify->add_flag("--keep", o->keep,
                   "Leave the restored server running (remove it with `backup discard`)");
  verify->add_flag("--json", o->json, "Print the report as JSON on stdout");
  verify->callback([o, &context] { context.exit_code = RunVerify(*o, context); });

  CLI::App* discard = backup->add_subcommand(
      "discard", "Stop and delete the scratch servers that `backup verify --keep` left");
  common(discard);
  discard->callback([o, &context] { context.exit_code = RunDiscard(*o, context); });
}

const CommandRegistration registration(75, Register);

}  // namespace
}  // namespace pilotlight::cli
