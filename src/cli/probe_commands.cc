// pilotlight probe run: a probe agent, one site's independent vantage point.
//
// Runs in a site other than the primary region (the lab starts one in DR,
// bound to DR's address): probes the vantage points the config assigns to its
// site (`site:` of a vantage point; with no site on the primary check's
// vantage points, the DR region's built-in one, see controller/spec.h) and
// serves its latest observations at GET /observations (health/site_report.h)
// beside Prometheus /metrics and /healthz. The controller fetches them each
// cycle and counts them as that site's vote; a late probe (this agent starved
// or stopped) is reported as late, never as the target's failure.
#include <signal.h>

#include <iostream>
#include <memory>
#include <optional>

#include "alarm/metrics_server.h"
#include "cli/command.h"
#include "config/loader.h"
#include "controller/spec.h"
#include "core/duration.h"
#include "core/log.h"
#include "health/detector.h"
#include "health/site_report.h"

namespace pilotlight::cli {
namespace {

using namespace std::chrono_literals;

struct ProbeOptions {
  std::string config = "examples/lab.yaml";
  std::string site;
  std::string listen;  // default: this site's entry of controller.probe_agents
  std::string dir = ".pilotlight/lab";
  std::string duration;
};

int RunAgent(const ProbeOptions& o) {
  Result<config::Config> config = config::LoadConfigOrError(o.config);
  if (!config.ok()) return ExitCode(false, config.status().ToString());
  config::ApplySecretsDir(*config, o.dir + "/secrets");  // the lab's passwords
  Result<controller::ControllerSpec> spec = controller::DefaultLabSpec(*config, o.dir, {});
  if (!spec.ok()) return ExitCode(false, spec.status().ToString());
  std::vector<health::CheckSpec> checks =
      controller::ChecksProbedFrom(spec->checks, o.site, spec->site);
  if (checks.empty()) {
    return ExitCode(false, o.config + " gives site '" + o.site +
                               "' no vantage point to probe; add one to a check, e.g. "
                               "vantages: [{name: " + o.site + ", site: " + o.site +
                               ", source_address: ADDRESS}]");
  }
  std::string listen = o.listen;
  for (const config::ProbeAgentConfig& a : config->ProbeAgents()) {
    if (listen.empty() && a.site == o.site) listen = a.listen.ToString();
  }
  if (listen.empty()) {
    return ExitCode(false, "no --listen given and controller.probe_agents in " + o.config +
                               " has no entry for site '" + o.site + "'");
  }
  Result<std::pair<std::string, uint16_t>> at = alarm::ParseListenAddress(listen);
  if (!at.ok()) return ExitCode(false, at.status().Annotate("--listen").ToString());
  std::optional<Duration> duration;
  if (!o.duration.empty()) {
    Result<Duration> d = ParseDuration(o.duration);
    if (!d.ok()) return ExitCode(false, d.status().Annotate("--duration").ToString());
    duration = *d;
  }

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Clock& clock = SystemClock::Instance();
  health::DetectionSpec d;
  d.checks = checks;
  Result<std::unique_ptr<health::Detector>> detector = health::Detector::Create(clock, d);
  if (!detector.ok()) return ExitCode(false, detector.status().ToString());
  const health::Detector* det = detector->get();
  const std::string site = o.site;
  alarm::MetricsServerOptions options;
  options.routes.push_back({"/observations", "application/json", [det, site, &clock] {
                              return health::SiteReportJson(
                                  health::MakeSiteReport(site, det->Checks(), clock.Now()));
                            }});
  auto server = alarm::MetricsServer::Start(at->first, at->second,
                                            [det] { return det->Prometheus(); }, options);
  if (!server.ok()) {
    return ExitCode(false, server.status().ToString() + " (the probe agent of site " + o.site +
                               " listens on " + listen + ")");
  }
  Status st = (*detector)->Start();
  if (!st.ok()) return ExitCode(false, st.ToString());
  std::string what;
  for (const health::CheckSpec& c : checks) {
    for (const health::VantageSpec& v : c.vantages) {
      what += (what.empty() ? "" : ", ") + c.name + " from " + v.name +
              (v.source_address.empty() ? "" : " (source " + v.source_address + ")");
    }
  }
  const std::string host = at->first.find(':') != std::string::npos ? "[" + at->first + "]"
                                                                     : at->first;
  std::cerr << "probe agent of site " << o.site << ": " << what << "; serving http://" << host
            << ":" << (*server)->port() << "/observations and /metrics" << std::endl;
  LogInfo("probe agent of site " + o.site + " serving on " + host + ":" +
          std::to_string((*server)->port()));
  const auto end = duration ? std::chrono::steady_clock::now() + *duration
                            : std::chrono::steady_clock::time_point::max();
  while (std::chrono::steady_clock::now() < end) {
    const auto step =
        std::min<std::chrono::nanoseconds>(end - std::chrono::steady_clock::now(), 1s);
    timespec ts{static_cast<time_t>(step.count() / 1'000'000'000),
                static_cast<long>(step.count() % 1'000'000'000)};
    if (sigtimedwait(&stop_signals, nullptr, &ts) > 0) break;
  }
  (*server)->Stop();
  (*detector)->Stop();
  return 0;
}

void Register(CLI::App& root, Context& context) {
  auto o = std::make_shared<ProbeOptions>();
  CLI::App* probe = root.add_subcommand("probe", "Probe agents: one site's vantage point");
  probe->require_subcommand(1);
  CLI::App* run = probe->add_subcommand(
      "run", "Probe the checks the config assigns to one site; serve the observations (JSON at "
             "/observations) for the controller to count as that site's vote");
  run->add_option("--config", o->config, "Platform config")->capture_default_str();
  run->add_option("--site", o->site, "This agent's site (a region's name, or another site's)")
      ->required();
  run->add_option("--listen", o->listen,
                  "ADDRESS:PORT to serve on (default: the site's controller.probe_agents entry, "
                  "else <DR address>:7410 for the DR region)");
  run->add_option("--dir", o->dir, "Lab directory (for the built-in checks' defaults)")
      ->capture_default_str();
  run->add_option("--duration", o->duration, "Stop after this long (default: until SIGTERM)");
  run->callback([o, &context] { context.exit_code = RunAgent(*o); });
}

const CommandRegistration registration(45, Register);

}  // namespace
}  // namespace pilotlight::cli
