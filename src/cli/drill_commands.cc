// pilotlight drill run: a region-outage drill on a lab of its own, measured.
//
// The drill brings up a fresh lab under --out, starts the controller and the
// load client as child processes, kills the primary region at a recorded
// instant T0, keeps load running against DR through the automated failover,
// then measures from the journals themselves (src/drill/measure.h): detection,
// each runbook step, client-perceived RTO, database RPO, duplicates and split
// brain. The lab always comes down. Load goes to fixed addresses (the primary's
// node group, then DR's), not through DNS yet.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "cli/command.h"
#include "config/loader.h"
#include "core/duration.h"
#include "data/postgres/pg_client.h"
#include "drill/measure.h"
#include "lab/lab.h"

namespace pilotlight::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

struct DrillOptions {
  std::string scenario = "region-outage";
  std::string config = "examples/lab.yaml";
  std::string out;
  bool json = false;
  int load_seconds = 10;
  double rate = 50;
  int concurrency = 4;
  bool keep_lab = false;
};

void Progress(const std::string& line) {
  std::cerr << "drill: " << line << std::endl;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Child pilotlight processes; all stopped (SIGTERM, then SIGKILL) on scope exit.
class Children {
 public:
  explicit Children(std::string exe) : exe_(std::move(exe)) {}
  ~Children() {
    for (pid_t pid : std::set<pid_t>(pids_)) Stop(pid);
  }
  Result<pid_t> Spawn(const std::vector<std::string>& args, const std::string& out,
                      const std::string& err) {
    pid_t pid = fork();
    if (pid < 0) return Status::Internal("fork failed");
    if (pid == 0) {
      int o = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      int e = open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (o >= 0) dup2(o, 1);
      if (e >= 0) dup2(e, 2);
      std::vector<char*> argv;
      std::vector<std::string> copy = args;
      copy.insert(copy.begin(), exe_);
      for (std::string& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(exe_.c_str(), argv.data());
      _exit(127);
    }
    pids_.insert(pid);
    return pid;
  }
  // Waits for a child to exit by itself; its exit code, or nullopt at the deadline.
  std::optional<int> Wait(pid_t pid, Duration timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (true) {
      int st = 0;
      pid_t r = waitpid(pid, &st, WNOHANG);
      if (r == pid) {
        pids_.erase(pid);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      if (r < 0) {
        pids_.erase(pid);
        return -1;
      }
      if (std::chrono::steady_clock::now() >= end) return std::nullopt;
      std::this_thread::sleep_for(100ms);
    }
  }
  void Stop(pid_t pid) {
    if (pids_.count(pid) == 0) return;
    kill(pid, SIGTERM);
    if (!Wait(pid, 5s)) {
      kill(pid, SIGKILL);
      Wait(pid, 5s);
    }
  }
  // Runs to completion with stdout captured.
  Result<std::string> Capture(const std::vector<std::string>& args, const std::string& scratch,
                              Duration timeout) {
    fs::remove(scratch);
    Result<pid_t> pid = Spawn(args, scratch, scratch + ".err");
    if (!pid.ok()) return pid.status();
    std::optional<int> code = Wait(*pid, timeout);
    if (!code) {
      Stop(*pid);
      return Status::Timeout("pilotlight " + args[0] + " did not finish in time");
    }
    if (*code != 0) {
      return Status::Unavailable("pilotlight " + args[0] + " exited " + std::to_string(*code) +
                                 ": " + ReadFile(scratch + ".err"));
    }
    return ReadFile(scratch);
  }

 private:
  std::string exe_;
  std::set<pid_t> pids_;
};

// Polls `condition` until it holds or `timeout` passes.
bool WaitUntil(Duration timeout, const std::function<bool()>& condition) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(250ms);
  }
  return condition();
}

std::string ServiceUrl(const config::RegionSpec& r) {
  return "http://" + r.address + ":" + std::to_string(r.node_groups[0].port);
}

std::vector<std::string> LoadArgs(const std::string& url, const DrillOptions& o, int seconds,
                                  const std::string& journal, const std::string& retry) {
  return {"load", "--target", url, "--rate", std::to_string(static_cast<int>(o.rate)),
          "--concurrency", std::to_string(o.concurrency), "--duration",
          std::to_string(seconds) + "s", "--journal", journal, "--retry-deadline", retry,
          "--json"};
}

// The drill itself; `lab` is brought down by the caller whatever happens.
Result<drill::DrillResult> RegionOutage(const DrillOptions& o, const config::Config& config,
                                        lab::Lab& lab, const std::string& lab_dir,
                                        const std::string& out, Children& children,
                                        Clock& clock) {
  const config::RegionSpec& primary = config.Primary();
  const config::RegionSpec& dr = config.Dr();
  if (primary.node_groups.empty() || dr.node_groups.empty()) {
    return Status::InvalidArgument(config.file + ": the drill sends orders to the regions' first "
                                   "node group; give both regions a node group (e.g. trader)");
  }
  Progress("lab up in " + lab_dir);
  PL_RETURN_IF_ERROR(lab.Up());

  Progress("starting the controller (log " + out + "/controller.log)");
  Result<pid_t> controller = children.Spawn(
      {"controller", "run", "--dir", lab_dir, "--config", config.file}, out + "/controller.log",
      out + "/controller.log");
  if (!controller.ok()) return controller.status();
  const std::string status_path = lab_dir + "/controller/status.json";
  auto status = [&] { return json::parse(ReadFile(status_path), nullptr, false); };
  const bool steady = WaitUntil(90s, [&] {
    json s = status();
    return s.is_object() && s["decision"]["reason"].is_string() &&
           s["decision"]["reason"].get<std::string>().find("no action: primary healthy") !=
               std::string::npos &&
           s["readiness"]["ready"] == true && s["lease"].is_object() &&
           s["lease"]["expires_at"].is_string();
  });
  if (!steady) {
    return Status::Timeout("the controller did not see the primary healthy, DR ready and the "
                           "lease held within 90s; see " + out + "/controller.log and " +
                           status_path);
  }
  Progress("controller steady: primary healthy, DR ready, lease held");

  // Baseline load against the primary; it is still running at the fault.
  const std::string primary_journal = out + "/acks-primary.jsonl";
  const std::string dr_journal = out + "/acks-dr.jsonl";
  Result<pid_t> load_primary = children.Spawn(
      LoadArgs(ServiceUrl(primary), o, o.load_seconds + 2, primary_journal, "3s"),
      out + "/load-primary.json", out + "/load-primary.log");
  if (!load_primary.ok()) return load_primary.status();
  Progress("baseline load against " + ServiceUrl(primary) + " for " +
           std::to_string(o.load_seconds) + "s");
  const bool first_ack = WaitUntil(30s, [&] { return !ReadFile(primary_journal).empty(); });
  if (!first_ack) {
    return Status::Unavailable("no order was acknowledged by the primary within 30s; see " + out +
                               "/load-primary.log");
  }
  std::this_thread::sleep_for(std::chrono::seconds(o.load_seconds));

  const WallTime fault_at = clock.Now();
  Progress("fault: killing region " + primary.name + " at " + FormatTime(fault_at));
  PL_RETURN_IF_ERROR(lab.KillRegion(primary.name));
  Result<pid_t> load_dr =
      children.Spawn(LoadArgs(ServiceUrl(dr), o, o.load_seconds, dr_journal, "2m"),
                     out + "/load-dr.json", out + "/load-dr.log");
  if (!load_dr.ok()) return load_dr.status();
  Progress("load against " + ServiceUrl(dr) + " through the failover");

  std::string history;
  const bool failed_over = WaitUntil(3min, [&] {
    Result<std::string> h = children.Capture(
        {"history", "--json", "--dir", lab_dir, "--limit", "20"}, out + "/history.json", 30s);
    if (!h.ok()) return false;
    history = *h;
    Result<drill::FailoverRun> run = drill::ParseFailoverRun(history, "failover");
    return run.ok() && run->found && run->outcome != "unfinished";
  });
  Progress(failed_over ? "failover run finished" : "no failover run finished within 3 minutes");
  if (!children.Wait(*load_dr, 3min)) children.Stop(*load_dr);
  if (!children.Wait(*load_primary, 30s)) children.Stop(*load_primary);
  Progress("load finished");
  children.Stop(*controller);

  drill::DrillInputs in;
  in.fault_at = fault_at;
  in.primary_region = primary.name;
  in.dr_region = dr.name;
  in.objectives.rto = config.objectives.rto;
  in.objectives.rpo_database = config.objectives.rpo.database;
  for (const std::string& path : {primary_journal, dr_journal}) {
    Result<std::vector<drill::Ack>> acks = drill::ParseAckJournal(ReadFile(path));
    if (!acks.ok()) return acks.status().Annotate(path);
    in.acks.insert(in.acks.end(), acks->begin(), acks->end());
  }
  const std::string events_path = lab_dir + "/controller/events.jsonl";
  fs::copy_file(events_path, out + "/events.jsonl", fs::copy_options::overwrite_existing);
  Result<std::vector<drill::ControllerEvent>> events = drill::ParseEvents(ReadFile(events_path));
  if (!events.ok()) return events.status().Annotate(events_path);
  in.events = std::move(*events);
  if (!history.empty()) {
    Result<drill::FailoverRun> run = drill::ParseFailoverRun(history, "failover");
    if (!run.ok()) return run.status();
    in.run = std::move(*run);
  }
  pg::Endpoint endpoint = lab.PostgresEndpoint(dr, dr.postgres.database);
  Result<std::unique_ptr<pg::Connection>> db = pg::Connection::Open(endpoint);
  if (db.ok()) {
    Result<pg::Rows> rows = (*db)->Query("SELECT client_order_id FROM orders");
    if (rows.ok()) {
      std::set<std::string> ids;
      for (const auto& row : rows->rows) {
        if (!row.empty() && row[0]) ids.insert(*row[0]);
      }
      in.dr_client_order_ids = std::move(ids);
    } else {
      in.dr_database_error = rows.status().ToString();
    }
  } else {
    in.dr_database_error = db.status().ToString();
  }
  return drill::Measure(in);
}

int DrillRun(const DrillOptions& o, const Context& context) {
  if (o.scenario != "region-outage") {
    return ExitCode(false, "--scenario " + o.scenario + ": the only scenario is region-outage");
  }
  if (o.load_seconds < 1) return ExitCode(false, "--load-seconds: at least 1");
  config::LoadResult loaded = config::LoadConfigFile(o.config);
  if (!loaded.ok()) {
    std::string msg = std::to_string(loaded.errors.size()) + " error(s) in " + o.config +
                      " (run pilotlight config validate " + o.config + "):";
    for (const config::ConfigError& e : loaded.errors) msg += "\n  " + e.ToString();
    return ExitCode(false, msg);
  }
  config::Config config = std::move(*loaded.config);
  Clock& clock = SystemClock::Instance();
  std::string out = o.out;
  if (out.empty()) {
    std::string stamp = FormatTime(clock.Now());
    for (char& c : stamp) {
      if (c == ':') c = '-';
    }
    out = ".pilotlight/drills/" + stamp;
  }
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return ExitCode(false, "cannot create --out " + out + ": " + ec.message());
  out = fs::absolute(out).string();
  const std::string lab_dir = out + "/lab";
  if (fs::exists(lab_dir)) {
    return ExitCode(false, lab_dir + " exists: give the drill a fresh --out directory");
  }
  config.file = fs::absolute(config.file).string();

  lab::Lab lab(config, lab_dir, context.self_exe);
  Result<drill::DrillResult> result = Status::Internal("not run");
  {
    Children children(context.self_exe);
    result = RegionOutage(o, config, lab, lab_dir, out, children, clock);
  }  // children stopped before the lab goes down
  Progress("lab down");
  Status down = lab.Down(/*purge=*/!o.keep_lab);
  if (!down.ok()) Progress("lab down: " + down.ToString());
  if (!result.ok()) return ExitCode(false, "drill " + o.scenario + ": " + result.status().ToString());

  const std::string report = drill::ReportJson(o.scenario, *result);
  std::ofstream(out + "/report.json") << report;
  std::ofstream(out + "/report.md") << drill::ReportMarkdown(o.scenario, *result);
  for (const drill::Check& c : result->checks) {
    Progress(std::string(c.passed ? "ok   " : "FAIL ") + c.name + ": " + c.detail);
  }
  Progress(std::string(result->passed ? "PASSED" : "FAILED") + "; report in " + out +
           "/report.json and report.md");
  if (o.json) std::cout << report;
  return result->passed ? 0 : 1;
}

void Register(CLI::App& root, Context& context) {
  CLI::App* drill = root.add_subcommand("drill", "Rehearse a disaster on a lab of its own, measured");
  drill->require_subcommand(1);
  auto o = std::make_shared<DrillOptions>();
  CLI::App* run = drill->add_subcommand(
      "run", "Run a drill: lab up, controller, load, fault, failover, measure, lab down");
  run->add_option("--scenario", o->scenario, "What goes wrong (region-outage)")
      ->capture_default_str();
  run->add_option("--config", o->config, "Platform config of the drill's lab")
      ->capture_default_str();
  run->add_option("--out", o->out,
                  "Where the lab, journals and report go (default .pilotlight/drills/<time>)");
  run->add_option("--load-seconds", o->load_seconds, "Baseline load before the fault, and load "
                  "sent to DR after it")->capture_default_str();
  run->add_option("--rate", o->rate, "Orders per second of each load run")->capture_default_str();
  run->add_option("--concurrency", o->concurrency, "Connections of each load run")
      ->capture_default_str();
  run->add_flag("--keep-lab", o->keep_lab, "Keep the lab's data after it is brought down");
  run->add_flag("--json", o->json, "Print report.json on stdout");
  run->callback([o, &context] { context.exit_code = DrillRun(*o, context); });
}

const CommandRegistration registration(80, Register);

}  // namespace
}  // namespace pilotlight::cli
