// pilotlight failback [--plan] [--dir LAB] [--config FILE] [--json]
//
// Returns the platform to its primary region after a failover, on an
// operator's word: runs the failback runbook (controller/spec.h
// DefaultFailbackRunbook, or the config's `runbooks: failback:`) through the
// journaled executor under the runbook lock, resuming its unfinished run if
// one was interrupted. --plan prints the steps and the readiness of each
// precondition without acting. A running controller sees the succeeded run in
// the journal, re-arms the primary's write lease and fails over automatically
// again (controller/failback.h).
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/command.h"
#include "compute/lab_node_groups.h"
#include "config/loader.h"
#include "controller/actions.h"
#include "controller/controller.h"
#include "controller/failback.h"
#include "controller/spec.h"
#include "controller/state.h"
#include "core/duration.h"
#include "core/log.h"
#include "lab/lab.h"
#include "notify/notify.h"
#include "runbook/journal.h"
#include "sys/process.h"

namespace pilotlight::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

struct Options {
  std::string dir = ".pilotlight/lab";
  std::string config;
  bool plan = false;
  bool json = false;
};

Result<config::Config> LoadConfig(const Options& o) {
  std::string path = o.config;
  if (path.empty()) {
    path = fs::exists(o.dir + "/config.yaml") ? o.dir + "/config.yaml" : "examples/lab.yaml";
  }
  Result<config::Config> config = config::LoadConfigOrError(path);
  if (config.ok()) config::ApplySecretsDir(*config, o.dir + "/secrets");  // the lab's passwords
  return config;
}

// The spec of the lab in `dir`, with the data directories of both regions'
// PostgreSQL (the rejoin steps need them).
Result<controller::ControllerSpec> MakeSpec(const config::Config& config, const Options& o,
                                            const std::string& self_exe) {
  controller::LabSpecOptions lo;
  lo.given = std::set<std::string>{};  // no policy flags here: the config's controller section
  Result<controller::ControllerSpec> spec = controller::DefaultLabSpec(config, o.dir, lo);
  if (!spec.ok()) return spec.status();
  Result<std::optional<sys::RunAs>> user = sys::ServerUser("postgres");
  if (!user.ok()) return user.status();
  lab::Lab lab(config, o.dir, self_exe);
  for (const config::RegionSpec* r : {&config.Primary(), &config.Dr()}) {
    pg::LocalServer s;
    s.data_dir = lab.PostgresDataDir(*r);
    s.pid_file = lab.PostgresPidFile(*r);
    s.log_file = lab.PostgresLogFile(*r);
    s.user = *user;
    s.endpoint = r == &config.Primary() ? spec->primary_db : spec->dr_db;
    spec->local_databases[r->name] = s;
  }
  return spec;
}

json StepsJson(const runbook::RunbookSpec& rb) {
  json steps = json::array();
  for (const runbook::StepSpec& s : rb.steps) {
    steps.push_back({{"name", s.name},
                     {"kind", s.kind},
                     {"params", s.params},
                     {"timeout", FormatDuration(s.timeout)},
                     {"retries", s.retries}});
  }
  return steps;
}

json ReportJson(const runbook::RunReport& run, Duration took) {
  json steps = json::array();
  for (const runbook::StepReport& s : run.steps) {
    steps.push_back({{"index", s.index},
                     {"name", s.name},
                     {"outcome", runbook::OutcomeName(s.outcome)},
                     {"attempts", s.attempts},
                     {"done_before_resume", s.done_before_resume},
                     {"duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                         s.finished_at - s.started_at)
                                         .count()},
                     {"detail", s.detail}});
  }
  return {{"run", run.run_id},
          {"runbook", run.runbook},
          {"succeeded", run.succeeded},
          {"resumed", run.resumed},
          {"failure", run.failure},
          {"duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(took).count()},
          {"steps", steps}};
}

int FailbackCmd(const Options& o, const Context& context) {
  Result<config::Config> config = LoadConfig(o);
  if (!config.ok()) return ExitCode(false, config.status().ToString());
  const std::vector<config::ConfigError> secrets = config::ResolveWebhookSecrets(*config);
  if (!secrets.empty()) {
    std::string msg = "cannot sign webhook messages:";
    for (const config::ConfigError& e : secrets) msg += "\n  " + e.ToString();
    return ExitCode(false, msg);
  }
  Result<controller::ControllerSpec> spec = MakeSpec(*config, o, context.self_exe);
  if (!spec.ok()) return ExitCode(false, spec.status().ToString());
  const controller::ControllerSpec& s = *spec;
  const runbook::RunbookSpec* rb = s.FindRunbook(s.failback_runbook);
  if (rb == nullptr) return ExitCode(false, "no runbook named '" + s.failback_runbook + "'");
  std::error_code ec;
  fs::create_directories(s.state_dir, ec);
  Result<std::unique_ptr<runbook::Journal>> journal = runbook::Journal::Open(s.JournalPath());
  if (!journal.ok()) return ExitCode(false, journal.status().ToString());
  Result<controller::DurableState> durable =
      controller::LoadDurableState(**journal, s.failover_runbook, s.failback_runbook);
  if (!durable.ok()) return ExitCode(false, durable.status().ToString());
  Clock& clock = SystemClock::Instance();
  compute::LabNodeGroups groups(*config, o.dir, context.self_exe, clock);

  if (o.plan) {
    const controller::FailbackReadinessReport ready =
        controller::FailbackReadiness(s, *durable, &groups, clock, 2s);
    if (o.json) {
      json pre = json::array();
      for (const controller::FailbackPrecondition& p : ready.preconditions) {
        pre.push_back(
            {{"name", p.name}, {"ok", p.ok}, {"required", p.required}, {"detail", p.detail}});
      }
      std::cout << json{{"runbook", rb->name},        {"steps", StepsJson(*rb)},
                        {"preconditions", pre},       {"ready", ready.ready()},
                        {"verdict", ready.Verdict()}, {"phase", durable->summary}}
                       .dump(2)
                << "\n";
      return 0;
    }
    std::cout << "failback runbook '" << rb->name << "':\n";
    int n = 0;
    for (const runbook::StepSpec& st : rb->steps) {
      std::string params;
      for (const auto& [k, v] : st.params) params += (params.empty() ? "" : ", ") + k + "=" + v;
      std::cout << "  " << ++n << ". [" << st.kind << "] " << st.name << "  (" << params
                << "; timeout " << FormatDuration(st.timeout) << ", " << st.retries
                << " retries)\n";
    }
    std::cout << "\npreconditions:\n";
    for (const controller::FailbackPrecondition& p : ready.preconditions) {
      std::cout << "  ["
                << (p.ok         ? " ok "
                    : p.required ? "FAIL"
                                 : "warn")
                << "] " << p.name << ": " << p.detail << "\n";
    }
    std::cout << "\n" << ready.Verdict() << "\n";
    return 0;
  }

  using Phase = decide::ControllerState::Phase;
  Result<std::optional<runbook::RunRecord>> unfinished = (*journal)->UnfinishedRun();
  if (!unfinished.ok()) return ExitCode(false, unfinished.status().ToString());
  const bool resuming = unfinished->has_value() && (*unfinished)->runbook == s.failback_runbook;
  if (!resuming && durable->state.phase != Phase::kFailedOver) {
    if (durable->failed_back) {
      std::cout << "nothing to do: " << durable->summary << "\n";
      return 0;
    }
    return ExitCode(false, "not failed over (" + durable->summary +
                               "); failback returns from a failover to " + s.dr_region);
  }
  if (!resuming) {
    const controller::FailbackReadinessReport ready =
        controller::FailbackReadiness(s, *durable, nullptr, clock, 0s);
    if (!ready.ready()) {
      return ExitCode(false, ready.Verdict() + " (see `pilotlight failback --plan`)");
    }
  }

  Result<std::unique_ptr<notify::Notifier>> notifier = notify::Notifier::Create(clock, s.topics);
  if (!notifier.ok()) return ExitCode(false, notifier.status().ToString());
  notify::Notifier* n = notifier->get();
  controller::RunContext run_context;
  controller::Adapters a;
  a.spec = &s;
  a.clock = &clock;
  a.groups = &groups;
  a.publish = [n](const std::string& topic, const std::string& j) { return n->Publish(topic, j); };
  a.context = &run_context;
  controller::ActionSet actions(a);
  auto observer = [&](const runbook::StepEvent& e) {
    if (e.kind == runbook::StepEvent::Kind::kStarted) {
      std::cerr << "step " << e.step->index + 1 << " '" << e.step->name << "' started\n";
    } else {
      std::cerr << "step " << e.step->index + 1 << " '" << e.step->name << "' "
                << runbook::OutcomeName(e.step->outcome) << " in "
                << FormatDuration(e.step->finished_at - e.step->started_at)
                << (e.step->detail.empty() ? "" : ": " + e.step->detail) << "\n";
    }
    Status st = n->Publish(s.events_topic, controller::StepEventText(e, s.failback_runbook));
    if (!st.ok()) LogWarn("publish: " + st.ToString());
  };
  const MonoTime started = clock.Monotonic();
  const std::string reason = "manual failback by an operator from " + s.dr_region + " to " +
                             s.primary_region + " (" + durable->summary + ")";
  Result<runbook::RunReport> run = controller::RunFailback(
      s, **journal, clock, controller::WithTestHook(actions.Lookup()), observer, reason);
  const Duration took = clock.Monotonic() - started;
  n->WaitIdle(3s);
  if (!run.ok()) return ExitCode(false, run.status().ToString());
  if (o.json) {
    std::cout << ReportJson(*run, took).dump(2) << "\n";
  } else {
    std::cout << "run " << run->run_id << " (" << run->runbook << ")"
              << (run->resumed ? " resumed and" : "")
              << (run->succeeded ? " succeeded" : " FAILED: " + run->failure) << " in "
              << FormatDuration(took) << "\n";
    for (const runbook::StepReport& st : run->steps) {
      std::cout << "  " << st.index + 1 << ". " << st.name << ": "
                << runbook::OutcomeName(st.outcome)
                << (st.done_before_resume ? " (before the restart)"
                                          : " in " + FormatDuration(st.finished_at - st.started_at))
                << (st.detail.empty() ? "" : " — " + st.detail) << "\n";
    }
    if (run->succeeded) {
      std::cout << "failed back to " << s.primary_region
                << "; a running controller re-arms the write lease and automatic failover\n";
    }
  }
  return run->succeeded ? 0 : 1;
}

void Register(CLI::App& root, Context& context) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand(
      "failback",
      "Return to the primary region after a failover (deliberate; --plan shows the steps)");
  cmd->add_option("--dir", o->dir, "The lab's state directory")->capture_default_str();
  cmd->add_option("--config", o->config,
                  "Config file (default: the lab's own copy, else examples/lab.yaml)");
  cmd->add_flag("--plan", o->plan, "Only print the steps, with the readiness of each precondition");
  cmd->add_flag("--json", o->json, "JSON output");
  cmd->callback([o, &context] { context.exit_code = FailbackCmd(*o, context); });
}

const CommandRegistration registration(62, Register);

}  // namespace
}  // namespace pilotlight::cli
