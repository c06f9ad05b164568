// pilotlight controller run | controller lease-keeper | status | failover | approve |
// scale | fence | promote | verify | history: the controller and the operator's
// manual failover commands.
//
// Until the config loader parses `controller:` and `runbooks:`, every command
// derives the controller's spec from the platform config and the lab directory
// (controller::DefaultLabSpec): state in <lab>/controller, DNS files in <lab>/dns.
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <set>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "alarm/metrics_server.h"
#include "cli/command.h"
#include "compute/exec_node_groups.h"
#include "compute/group_load.h"
#include "compute/lab_node_groups.h"
#include "config/loader.h"
#include "controller/actions.h"
#include "controller/controller.h"
#include "controller/dns_switch.h"
#include "controller/leader.h"
#include "controller/lease_http.h"
#include "controller/observer.h"
#include "controller/spec.h"
#include "controller/state.h"
#include "core/duration.h"
#include "core/log.h"
#include "data/postgres/failover.h"
#include "health/detector.h"
#include "notify/notify.h"
#include "runbook/journal.h"
#include "sys/whole_file.h"

namespace pilotlight::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr char kDefaultLabDir[] = ".pilotlight/lab";
constexpr char kDefaultConfig[] = "examples/lab.yaml";

struct Options {
  std::string config;
  std::string dir = kDefaultLabDir;
  std::string mode = "automatic";
  std::string interval = "500ms";
  int vantages = 3;
  int failure_threshold = 3;
  std::string confirm_for = "1s";
  std::string hold_down = "10m";
  std::string lease_listen = "127.0.0.1:0";
  std::string lease_duration = "6s";
  std::string lease_secret;  // default: <state dir>/lease.secret (run), the lab's (keeper)
  std::string webhook;
  std::string metrics_listen;  // controller run: serve /metrics here; empty = not served
  std::string duration;
  std::string etcd;            // controller run: lead through etcd (several controllers)
  std::string etcd_key;        // default /pilotlight/<platform>/leader
  std::string etcd_ttl = "5s";
  std::string name;            // this controller's name in the election (default host-pid)
  std::string region;
  std::string controller;
  std::string group;
  std::string until = "answering";
  int size = -1;
  int limit = 10;
  bool json = false;
  bool force = false;
  bool plan = false;
  std::set<std::string> given;  // flags the operator typed: they override the config
};

Result<config::Config> LoadConfig(const Options& o) {
  std::string path = o.config;
  if (path.empty()) path = fs::exists(o.dir + "/config.yaml") ? o.dir + "/config.yaml" : kDefaultConfig;
  Result<config::Config> config = config::LoadConfigOrError(path);
  if (config.ok()) config::ApplySecretsDir(*config, o.dir + "/secrets");  // the lab's passwords
  return config;
}

Result<decide::Mode> ParseMode(const std::string& s) {
  if (s == "automatic") return decide::Mode::kAutomatic;
  if (s == "approval") return decide::Mode::kApproval;
  if (s == "observe-only") return decide::Mode::kObserveOnly;
  return Status::InvalidArgument("--mode \"" + s + "\": expected automatic, approval or observe-only");
}

Result<controller::ControllerSpec> MakeSpec(const config::Config& config, const Options& o) {
  controller::LabSpecOptions lo;
  Result<decide::Mode> mode = ParseMode(o.mode);
  if (!mode.ok()) return mode.status();
  lo.mode = *mode;
  for (auto [text, field, name] :
       {std::tuple{&o.interval, &lo.probe_interval, "--interval"},
        std::tuple{&o.confirm_for, &lo.confirm_for, "--confirm-for"},
        std::tuple{&o.hold_down, &lo.hold_down, "--hold-down"},
        std::tuple{&o.lease_duration, &lo.lease_duration, "--lease-duration"}}) {
    Result<Duration> d = ParseDuration(*text);
    if (!d.ok()) return d.status().Annotate(name);
    *field = *d;
  }
  lo.vantages = o.vantages;
  lo.failure_threshold = o.failure_threshold;
  lo.lease_listen = o.lease_listen;
  lo.webhook = o.webhook;
  lo.given = o.given;
  return controller::DefaultLabSpec(config, o.dir, lo);
}

// Everything a command needs to observe and act, built from the options.
struct Runtime {
  config::Config config;
  controller::ControllerSpec spec;
  std::unique_ptr<runbook::Journal> journal;
  std::unique_ptr<controller::LeaseService> lease;
  std::unique_ptr<compute::NodeGroups> groups;  // controller.compute.provider
  std::unique_ptr<compute::GroupLoadSource> load;  // request rates, for auto-scaling
  std::unique_ptr<controller::Autoscaler> autoscaler;
  std::unique_ptr<notify::Notifier> notifier;
  std::unique_ptr<health::Detector> detector;
  std::unique_ptr<controller::LiveObserver> observer;
  controller::RunContext context;
  std::unique_ptr<controller::ActionSet> actions;
  std::unique_ptr<controller::Controller> controller;

  ~Runtime() {
    if (notifier) notifier->WaitIdle(3s);
  }
};

// "witness (in process), dr (probe agent 127.0.2.1:7410)": the sites that vote
// on the primary check, with a warning when they cannot make a quorum.
std::string VotingSites(const controller::ControllerSpec& spec) {
  std::string out;
  std::set<std::string> seen;
  int counted = 0;
  for (const health::CheckSpec& c : spec.checks) {
    if (c.name != spec.primary_check) continue;
    for (const health::VantageSpec& v : c.vantages) {
      if (!seen.insert(v.site).second) continue;
      const controller::ProbeAgentTarget* agent = spec.FindProbeAgent(v.site);
      out += (out.empty() ? "" : ", ") + v.site +
             (v.site == spec.site ? " (in process)"
                                  : " (probe agent " + (agent ? agent->ToString() : "?") + ")");
      if (v.site == spec.primary_region) out += " (not counted: the primary region)";
      else ++counted;
    }
  }
  if (counted < 2 && !spec.policy.allow_single_site) {
    out += "; WARNING: fewer than two sites outside the primary region vote, so no failover "
           "will be automatic";
  }
  return out;
}

Result<std::unique_ptr<Runtime>> MakeRuntime(const Options& o, const Context& context,
                                             bool with_detector) {
  auto rt = std::make_unique<Runtime>();
  Result<config::Config> config = LoadConfig(o);
  if (!config.ok()) return config.status();
  rt->config = std::move(*config);
  // Webhooks of the config's topics sign with secrets from the environment.
  const std::vector<config::ConfigError> secrets = config::ResolveWebhookSecrets(rt->config);
  if (!secrets.empty()) {
    std::string msg = "cannot sign webhook messages:";
    for (const config::ConfigError& e : secrets) msg += "\n  " + e.ToString();
    return Status::InvalidArgument(msg);
  }
  Result<controller::ControllerSpec> spec = MakeSpec(rt->config, o);
  if (!spec.ok()) return spec.status();
  rt->spec = std::move(*spec);
  controller::ControllerSpec& s = rt->spec;
  std::error_code ec;
  fs::create_directories(s.state_dir, ec);
  fs::create_directories(fs::path(s.dns.zone_file).parent_path(), ec);
  if (!fs::exists(s.dns.zone_file)) {
    PL_RETURN_IF_ERROR(sys::WriteFileAtomically(
        s.dns.zone_file, controller::DefaultLabZone(rt->config, s.dns.record)));
  }
  Result<std::unique_ptr<runbook::Journal>> journal = runbook::Journal::Open(s.JournalPath());
  if (!journal.ok()) return journal.status();
  rt->journal = std::move(*journal);
  Clock& clock = SystemClock::Instance();
  rt->lease = std::make_unique<controller::LeaseService>(
      controller::LeaseGrantor(s.primary_region, s.lease_duration), clock, s.LeaseStatePath());
  PL_RETURN_IF_ERROR(rt->lease->Load());
  if (s.compute.provider == "exec") {
    // The operator's commands scale the node groups (kubectl, a cloud CLI).
    compute::ExecCommands commands;
    commands.size_command = s.compute.exec.size_command;
    commands.scale_command = s.compute.exec.scale_command;
    commands.ready_command = s.compute.exec.ready_command;
    commands.can_scale_command = s.compute.exec.can_scale_command;
    commands.log_dir = s.state_dir;
    rt->groups = std::make_unique<compute::ExecNodeGroups>(std::move(commands), clock);
    rt->load = std::make_unique<compute::ExecGroupLoad>(s.compute.exec.requests_command, 10s,
                                                        s.state_dir);
  } else {
    rt->groups = std::make_unique<compute::LabNodeGroups>(rt->config, o.dir, context.self_exe,
                                                           clock);
    rt->load = std::make_unique<compute::LabGroupLoad>(o.dir);
  }
  Result<std::unique_ptr<notify::Notifier>> notifier = notify::Notifier::Create(clock, s.topics);
  if (!notifier.ok()) return notifier.status();
  rt->notifier = std::move(*notifier);
  if (with_detector) {
    health::DetectionSpec d;
    d.checks = s.checks;
    // Checks publish their transitions to the config's topics; the config's
    // alarms watch the config's checks (only those are in the spec when the
    // config has health_checks).
    d.topics = s.topics;
    if (!rt->config.detection.checks.empty()) {
      d.alarms = rt->config.detection.alarms;
      d.alarm_evaluation_interval = rt->config.detection.alarm_evaluation_interval;
    }
    // Only this site's vantage points are probed here; other sites' come from
    // their probe agents (observer.h).
    d.checks = s.LocalChecks();
    Result<std::unique_ptr<health::Detector>> det = health::Detector::Create(clock, d);
    if (!det.ok()) return det.status();
    rt->detector = std::move(*det);
  }
  rt->observer = std::make_unique<controller::LiveObserver>(s, clock, rt->groups.get(),
                                                            rt->lease.get(), rt->detector.get());
  notify::Notifier* n = rt->notifier.get();
  controller::Adapters a;
  a.spec = &rt->spec;
  a.clock = &clock;
  a.groups = rt->groups.get();
  a.publish = [n](const std::string& topic, const std::string& j) { return n->Publish(topic, j); };
  a.context = &rt->context;
  rt->actions = std::make_unique<controller::ActionSet>(a);
  rt->controller = std::make_unique<controller::Controller>(
      rt->spec, clock, *rt->observer, *rt->journal, controller::WithTestHook(rt->actions->Lookup()),
      rt->context, rt->lease.get(), [n](const std::string& topic, const std::string& j) {
        Status st = n->Publish(topic, j);
        if (!st.ok()) LogWarn("publish: " + st.ToString());
      });
  rt->autoscaler = std::make_unique<controller::Autoscaler>(rt->spec, *rt->groups, *rt->load);
  rt->controller->SetAutoscaler(rt->autoscaler.get());
  return rt;
}

sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// A thread that turns SIGINT/SIGTERM (blocked everywhere) into `stop`.
std::thread StopOnSignal(sigset_t set, std::atomic<bool>& stop, std::optional<Duration> after) {
  return std::thread([set, &stop, after] {
    const auto end = after ? std::chrono::steady_clock::now() + *after
                           : std::chrono::steady_clock::time_point::max();
    while (!stop.load() && std::chrono::steady_clock::now() < end) {
      timespec ts{0, 200'000'000};
      if (sigtimedwait(&set, nullptr, &ts) > 0) break;
    }
    stop = true;
  });
}

std::string RunSummary(const runbook::RunReport& run) {
  std::string out = "run " + std::to_string(run.run_id) + " (" + run.runbook + ")" +
                    (run.resumed ? " resumed and" : "") +
                    (run.succeeded ? " succeeded" : " FAILED: " + run.failure);
  for (const runbook::StepReport& s : run.steps) {
    out += "\n  " + std::to_string(s.index + 1) + ". " + s.name + ": " +
           runbook::OutcomeName(s.outcome) +
           (s.done_before_resume ? " (before the restart)"
                                 : " in " + FormatDuration(s.finished_at - s.started_at)) +
           (s.detail.empty() ? "" : " — " + s.detail);
  }
  return out;
}

// ---- controller run ---------------------------------------------------------------

// --etcd, --etcd-key, --etcd-ttl, --name, else the config's
// controller.leader_election: several controllers, one leads. Unset: none.
Result<std::optional<controller::EtcdLeadershipOptions>> EtcdOptions(
    const Options& o, const config::ControllerConfig& c) {
  controller::EtcdLeadershipOptions e;
  std::string urls = o.etcd;
  for (const std::string& u : o.etcd.empty() ? c.etcd_endpoints : std::vector<std::string>{}) {
    urls += (urls.empty() ? "" : ",") + u;
  }
  if (urls.empty()) return std::optional<controller::EtcdLeadershipOptions>();
  Result<std::vector<std::string>> endpoints = controller::ParseEtcdEndpoints(urls);
  if (!endpoints.ok()) return endpoints.status().Annotate("--etcd");
  e.endpoints = std::move(*endpoints);
  Result<Duration> ttl = c.election_ttl && o.given.count("--etcd-ttl") == 0
                             ? Result<Duration>(*c.election_ttl)
                             : ParseDuration(o.etcd_ttl);
  if (!ttl.ok()) return ttl.status().Annotate("--etcd-ttl");
  if (*ttl < 2s || *ttl % 1s != Duration(0) || *ttl > 3600s) {
    return Status::InvalidArgument("--etcd-ttl " + o.etcd_ttl +
                                   ": etcd leases count whole seconds; give 2s to 1h (e.g. 5s)");
  }
  if (!o.etcd_key.empty() && o.etcd_key.front() != '/') {
    return Status::InvalidArgument("--etcd-key \"" + o.etcd_key + "\": start it with /, e.g. "
                                   "/pilotlight/<platform>/leader");
  }
  e.key = o.etcd_key.empty() ? c.election_key : o.etcd_key;
  e.user = c.election_user;
  e.password_file = c.election_password_file;
  e.election.ttl = *ttl;
  // A fifth of the ttl (at least 500 ms): clock-rate error and the time it takes
  // the loop to notice; a keepalive every ttl/3 leaves two chances before it.
  e.election.safety_margin = std::max<Duration>(*ttl / 5, 500ms);
  e.election.retry_every = std::min<Duration>(*ttl / 10, 500ms);
  e.request_timeout = std::min<Duration>(*ttl / 5, 1s);
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "unknown");
  e.self.host = host;
  e.self.pid = getpid();
  e.self.name = o.name.empty() ? e.self.host + "-" + std::to_string(e.self.pid) : o.name;
  return std::optional<controller::EtcdLeadershipOptions>(std::move(e));
}

int ControllerRun(const Options& o, const Context& context) {
  std::optional<Duration> duration;
  if (!o.duration.empty()) {
    Result<Duration> d = ParseDuration(o.duration);
    if (!d.ok()) return ExitCode(false, d.status().Annotate("--duration").ToString());
    duration = *d;
  }
  std::optional<std::pair<std::string, uint16_t>> metrics_at;
  if (!o.metrics_listen.empty()) {
    auto hp = alarm::ParseListenAddress(o.metrics_listen);
    if (!hp.ok()) return ExitCode(false, hp.status().Annotate("--metrics-listen").ToString());
    metrics_at = *hp;
  }
  const sigset_t stop_signals = BlockStopSignals();
  auto rt = MakeRuntime(o, context, /*with_detector=*/true);
  if (!rt.ok()) return ExitCode(false, rt.status().ToString());
  Runtime& r = **rt;
  Result<std::optional<controller::EtcdLeadershipOptions>> etcd =
      EtcdOptions(o, r.config.controller);
  if (!etcd.ok()) return ExitCode(false, etcd.status().ToString());
  std::optional<controller::EtcdLeadershipOptions> election = std::move(*etcd);
  std::unique_ptr<controller::EtcdLeadership> leadership;
  if (election) {
    if (election->key.empty()) election->key = "/pilotlight/" + r.spec.platform + "/leader";
    leadership = std::make_unique<controller::EtcdLeadership>(*election, SystemClock::Instance());
    controller::EtcdLeadership* l = leadership.get();
    // Only the leader answers the primary's renewals (a follower answers 503:
    // no answer, not a refusal, so the agent does not fence while it moves on).
    r.lease->SetServingGate([l] { return l->Leading(); });
  }
  std::unique_ptr<controller::LeaseServer> lease_server;
  std::string lease_endpoint;
  if (!r.spec.lease_listen.empty()) {
    auto hp = controller::ParseHostPort(r.spec.lease_listen);
    if (!hp.ok()) return ExitCode(false, hp.status().Annotate("--lease-listen").ToString());
    // Only holders of the lease secret may renew or read the lease (lease_auth.h).
    // The state directory's own secret is made when missing (0600; the lab's
    // agent signs with the same file); one named by --lease-secret must exist.
    const std::string secret_file =
        o.lease_secret.empty() ? r.spec.state_dir + "/lease.secret" : o.lease_secret;
    if (o.lease_secret.empty()) {
      Status made = controller::EnsureLeaseSecret(secret_file);
      if (!made.ok()) return ExitCode(false, made.Annotate("lease secret").ToString());
    }
    auto keys = controller::LeaseKeyring::Open(secret_file);
    if (!keys.ok()) return ExitCode(false, keys.status().Annotate("--lease-secret").ToString());
    auto server = controller::LeaseServer::Start(hp->first, hp->second, *r.lease, *keys);
    if (!server.ok() && leadership && hp->second != 0) {
      // Another controller on this host holds the configured port: the agents
      // find the leader's renewals through lease.endpoint, any port serves.
      std::cerr << "write lease: " << server.status().message() << "; listening on "
                << hp->first << ", any free port, instead\n";
      server = controller::LeaseServer::Start(hp->first, 0, *r.lease, *keys);
    }
    if (!server.ok()) return ExitCode(false, server.status().ToString());
    lease_server = std::move(*server);
    lease_endpoint = hp->first + ":" + std::to_string(lease_server->port());
    if (!leadership) {
      Status st =
          sys::WriteFileAtomically(r.spec.LeaseEndpointPath(), lease_endpoint + "\n");
      if (!st.ok()) return ExitCode(false, st.ToString());
    }
    std::cerr << "write lease for region " << r.spec.primary_region << ": renewals at http://"
              << lease_endpoint << "/v1/lease (lease " << FormatDuration(r.spec.lease_duration)
              << ")" << (leadership ? ", answered only while this controller leads" : "")
              << "\n";
  }
  if (leadership) {
    Status reachable = leadership->Start();
    std::cerr << "leader election: etcd " << election->endpoints.size() << " endpoint(s), key "
              << election->key << ", session ttl " << FormatDuration(election->election.ttl)
              << ", this controller is " << election->self.ToString() << "\n";
    if (!reachable.ok()) std::cerr << "pilotlight: " << reachable.message() << "\n";
    r.controller->SetLeadership(leadership.get(), [&r, &lease_endpoint](bool leading) {
      if (!leading) {
        std::cerr << "leadership: this controller does not lead: observing only, not acting, "
                     "not granting the write lease\n";
        return;
      }
      // The lease granted by the previous leader (same state dir) is waited out.
      Status loaded = r.lease->Load();
      if (!loaded.ok()) LogWarn("leadership: " + loaded.ToString());
      if (!lease_endpoint.empty()) {
        Status st =
            sys::WriteFileAtomically(r.spec.LeaseEndpointPath(), lease_endpoint + "\n");
        if (!st.ok()) LogWarn("leadership: " + st.ToString());
      }
      std::cerr << "leadership: this controller leads: acting, granting the write lease"
                << (lease_endpoint.empty() ? "" : " at " + lease_endpoint) << "\n";
    });
  }
  Status started = r.detector->Start();
  if (!started.ok()) return ExitCode(false, started.ToString());
  // The controller's detector: its check states, alarm states and probe latencies.
  std::unique_ptr<alarm::MetricsServer> metrics;
  if (metrics_at) {
    const health::Detector* d = r.detector.get();
    auto server = alarm::MetricsServer::Start(metrics_at->first, metrics_at->second,
                                              [d] { return d->Prometheus(); });
    if (!server.ok()) return ExitCode(false, server.status().ToString());
    metrics = std::move(*server);
    const std::string& host = metrics_at->first;
    std::cerr << "serving Prometheus metrics at http://"
              << (host.find(':') != std::string::npos ? "[" + host + "]" : host) << ":"
              << metrics->port() << "/metrics\n";
  }
  std::cerr << "controller for " << r.spec.platform << " (" << decide::ModeName(r.spec.policy.mode)
            << "): " << r.spec.checks.size() << " checks; votes on " << r.spec.primary_check
            << " from " << VotingSites(r.spec) << "; journal " << r.spec.JournalPath()
            << "; Ctrl-C to stop\n";
  std::atomic<bool> stop{false};
  std::thread signals = StopOnSignal(stop_signals, stop, duration);
  r.controller->Run(stop, [&](const controller::CycleReport& c) {
    if (c.changed) {
      std::cout << (o.json ? json{{"at", FormatTime(c.observation.at)},
                                  {"plan", decide::PlanKindName(c.decision.plan.kind)},
                                  {"reason", c.decision.reason.ToString()},
                                  {"following", c.following}}
                                 .dump()
                           : (c.following ? "(following) " : "") + c.line)
                << std::endl;
    }
    if (c.run) std::cout << RunSummary(*c.run) << std::endl;
    if (!c.note.empty() && c.changed) std::cout << "  note: " << c.note << std::endl;
    for (const controller::GroupScaling& g : c.scaling) {
      if (!g.changed) continue;
      std::cout << (o.json ? json{{"at", FormatTime(c.observation.at)},
                                  {"autoscale", g.decision.reason},
                                  {"applied", g.applied}}
                                 .dump()
                           : FormatTime(c.observation.at) + " [autoscale] " + g.decision.reason)
                << std::endl;
    }
  });
  stop = true;
  signals.join();
  if (leadership) {
    r.controller->SetLeadership(nullptr, nullptr);
    leadership->Stop();  // a leader resigns: a follower takes over at once
    r.lease->SetServingGate([] { return false; });
  }
  if (metrics) metrics->Stop();
  r.detector->Stop();
  if (lease_server) lease_server->Stop();
  return 0;
}

// ---- controller lease-keeper -------------------------------------------------------

int LeaseKeeper(const Options& o) {
  Result<config::Config> config = LoadConfig(o);
  if (!config.ok()) return ExitCode(false, config.status().ToString());
  const std::string region = o.region.empty() ? config->Primary().name : o.region;
  const config::RegionSpec* r = config->FindRegion(region);
  if (r == nullptr) return ExitCode(false, "no region named '" + region + "' in " + config->file);
  controller::LeaseKeeperOptions k;
  k.controller = o.controller;
  if (k.controller.empty()) {
    std::ifstream in(o.dir + "/controller/lease.endpoint");
    std::getline(in, k.controller);
    if (k.controller.empty()) {
      return ExitCode(false, "no --controller given and no " + o.dir +
                                 "/controller/lease.endpoint (is `pilotlight controller run` up?)");
    }
  }
  k.holder = region;
  k.secret_file = o.lease_secret.empty() ? o.dir + "/controller/lease.secret" : o.lease_secret;
  k.database.host = r->address;
  k.database.port = r->postgres.port;
  k.database.database = r->postgres.database;
  k.database.connect_timeout = 1s;
  const sigset_t set = BlockStopSignals();
  std::atomic<bool> stop{false};
  std::thread signals = StopOnSignal(set, stop, std::nullopt);
  Clock& clock = SystemClock::Instance();
  controller::RunLeaseKeeper(k, controller::PostgresLeaseEffects(k, clock), clock, stop);
  stop = true;
  signals.join();
  return 0;
}

// ---- status / failover --plan ------------------------------------------------------

// The controller's own view when it runs (its status file is fresh), else one
// observation made here (the probe agents' votes; the controller's own site's
// probes live in the controller).
Result<json> CurrentStatus(Runtime& r, bool* live) {
  std::error_code ec;
  const std::string path = r.spec.StatusPath();
  if (fs::exists(path)) {
    const auto age = fs::file_time_type::clock::now() - fs::last_write_time(path, ec);
    if (!ec && age < std::chrono::seconds(5)) {
      std::ifstream in(path);
      json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (j.is_object()) {
        *live = true;
        return j;
      }
    }
  }
  *live = false;
  Result<controller::CycleReport> c = r.controller->Evaluate();
  if (!c.ok()) return c.status();
  json j = json::parse(r.controller->StatusJson(*c), nullptr, false);
  j["decision"]["note"] = "no controller is running: observed once by this command, with the "
                          "probe agents' votes but without the controller's own probes";
  return j;
}

void PrintStatus(const json& j, bool live) {
  auto str = [](const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  std::cout << "platform " << str(j["platform"]) << "  mode " << str(j["mode"]) << "  phase "
            << str(j["phase"]) << " (" << str(j["phase_detail"]) << ")\n";
  std::cout << (live ? "controller running (pid " + str(j["pid"]) + "), status at "
                     : std::string("no controller running; observed at "))
            << str(j["at"]) << "\n";
  if (j.contains("leadership") && j["leadership"].is_object()) {
    const json& l = j["leadership"];
    auto who = [&](const json& id) {
      return id.is_object() ? str(id["name"]) + " (" + str(id["host"]) + ", pid " +
                                  str(id["pid"]) + ")"
                            : std::string("unknown");
    };
    std::cout << "leader: " << who(l["leader"])
              << (l["leading_since"].is_string() ? ", leading since " + str(l["leading_since"])
                                                 : std::string())
              << " (etcd " << str(l["etcd"]) << ", key " << str(l["key"]) << ")\n";
  }
  std::cout << "\nregions\n";
  for (const auto& [name, db] : j["databases"].items()) {
    std::cout << "  " << name
              << (name == str(j["primary_region"]) ? " (configured primary)" : " (DR)")
              << ": database " << (db["reachable"].get<bool>() ? str(db["detail"]) : "UNREACHABLE: " + str(db["detail"]))
              << "\n";
  }
  std::cout << "\nchecks: " << str(j["primary_check"]);
  if (j.contains("votes") && j["votes"].is_object()) {
    const json& t = j["votes"];
    std::cout << " (one vote per site: " << str(t["down"]) << " of " << str(t["sites"])
              << " down, quorum " << str(t["quorum"]) << ")";
  }
  std::cout << "\n";
  const json sites = j.contains("sites") ? j["sites"] : json::array();
  if (sites.empty()) std::cout << "  (no site votes)\n";
  for (const auto& v : sites) {
    std::string vote = str(v["vote"]);
    for (char& ch : vote) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    std::cout << "  " << str(v["site"]) << ": " << vote
              << (v["counted"].get<bool>() ? "" : " (the primary region's own view: not counted)")
              << " - " << str(v["detail"]) << "\n";
  }
  const json& rep = j["replication"];
  std::cout << "\nreplication: " << (rep["streaming_now"].get<bool>() ? "streaming" : "not streaming")
            << ", lag " << (rep["lag_seconds"].is_null() ? "unknown" : str(rep["lag_seconds"]) + " s")
            << " (" << str(rep["lag_source"]) << ")\n";
  if (rep.contains("streaming_detail") && rep["streaming_detail"].is_string()) {
    std::cout << "  standby: " << str(rep["streaming_detail"]) << "\n";
  }
  if (j.contains("data_at_risk") && j["data_at_risk"].is_object() &&
      !str(j["data_at_risk"]["detail"]).empty()) {
    std::cout << "  WAL at risk: " << str(j["data_at_risk"]["detail"]) << "\n";
  }
  std::cout << "\nreadiness: " << (j["readiness"]["ready"].get<bool>() ? "READY" : "NOT READY") << "\n";
  for (const auto& g : j["readiness"]["gates"]) {
    std::cout << "  [" << (!g["enabled"].get<bool>() ? "off " : g["ok"].get<bool>() ? " ok " : "FAIL")
              << "] " << str(g["gate"]) << ": " << str(g["detail"]) << "\n";
  }
  if (!j["lease"].is_null()) {
    const json& l = j["lease"];
    std::cout << "\nwrite lease of " << str(l["holder"]) << ": "
              << (l["revoked"].get<bool>() ? "revoked" : l["granting"].get<bool>() ? "granting" : "not granting")
              << ", last grant ends " << (l["expires_at"].is_null() ? "never granted" : str(l["expires_at"]))
              << "\n";
  }
  std::cout << "\ndecision: " << str(j["decision"]["plan"]) << "\n  " << str(j["decision"]["reason"])
            << "\n";
  if (!str(j["decision"]["note"]).empty() && j["decision"]["note"].is_string()) {
    std::cout << "  note: " << str(j["decision"]["note"]) << "\n";
  }
  if (j.contains("autoscaling") && j["autoscaling"].is_array() && !j["autoscaling"].empty()) {
    std::cout << "\nauto-scaling\n";
    for (const auto& g : j["autoscaling"]) {
      const json& p = g["policy"];
      std::cout << "  " << str(g["group"]) << " in " << str(g["region"]) << ": size "
                << str(g["size"]) << " (min " << str(p["min"]) << ", max " << str(p["max"])
                << ", target " << str(p["target_requests_per_instance"]) << "/instance)"
                << (g["active"].get<bool>() ? "" : ", inactive") << "\n    "
                << str(g["reason"]) << "\n";
      if (!str(g["error"]).empty() && g["error"].is_string()) {
        std::cout << "    error: " << str(g["error"]) << "\n";
      }
      if (g["last_change"].is_object()) {
        std::cout << "    last change " << str(g["last_change"]["at"]) << ": "
                  << str(g["last_change"]["reason"]) << "\n";
      }
    }
  }
  if (!j["last_failover_run"].is_null()) {
    const json& run = j["last_failover_run"];
    std::cout << "\nlast failover run " << str(run["id"]) << ": " << str(run["outcome"])
              << ", started " << str(run["started_at"]) << "\n";
  }
}

int StatusCmd(const Options& o, const Context& context) {
  auto rt = MakeRuntime(o, context, false);
  if (!rt.ok()) return ExitCode(false, rt.status().ToString());
  bool live = false;
  Result<json> j = CurrentStatus(**rt, &live);
  if (!j.ok()) return ExitCode(false, j.status().ToString());
  (*j)["controller_running"] = live;
  if (o.json) {
    std::cout << j->dump(2) << "\n";
  } else {
    PrintStatus(*j, live);
  }
  return 0;
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : "; ") + s;
  return out;
}

// What a forced promotion would lose: the WAL the standby has not received (of
// the newest primary position known) and when it was written, else the span of
// writes the heartbeats bound.
std::string DataAtRisk(const decide::Snapshot& s) {
  const decide::WalAtRisk& w = s.wal_at_risk;
  if (w.bytes) {
    return w.detail + (s.replica_lag ? "; up to " + FormatDuration(*s.replica_lag) + " of writes"
                                     : std::string());
  }
  std::string out = s.replica_lag ? "up to " + FormatDuration(*s.replica_lag) + " of writes"
                                  : "unknown (replica lag unknown)";
  if (!w.detail.empty()) out += "; WAL at risk " + w.detail;
  return out;
}

// Whether an unreachable old primary is provably stopped; "" when it is.
std::string LeaseBlocker(const Runtime& r, const decide::Snapshot& s, bool force) {
  if (s.old_primary_reachable) return "";
  const WallTime now = SystemClock::Instance().Now();
  if (s.primary_lease_expires_at) {
    const WallTime safe = *s.primary_lease_expires_at + r.spec.policy.lease_safety_margin;
    if (now < safe) {
      return "the old primary is unreachable and its write lease runs until " + FormatTime(safe) +
             " (margin included); wait " + FormatDuration(safe - now) + " and run again";
    }
    return "";
  }
  if (force) return "";
  return "the old primary is unreachable and no write lease of it was ever seen, so nothing "
         "proves it stopped writing; fence it by hand (or make sure it is down), then run "
         "`pilotlight failover --force`";
}

int FailoverCmd(const Options& o, const Context& context) {
  auto rt = MakeRuntime(o, context, false);
  if (!rt.ok()) return ExitCode(false, rt.status().ToString());
  Runtime& r = **rt;
  Result<controller::CycleReport> c = r.controller->Evaluate();
  if (!c.ok()) return ExitCode(false, c.status().ToString());
  const decide::Snapshot& snap = c->snapshot;
  const std::vector<std::string> failed = decide::FailedGates(snap, r.spec.policy);
  const runbook::RunbookSpec* rb = r.spec.FindRunbook(r.spec.failover_runbook);
  const bool failed_over = c->durable.state.phase == decide::ControllerState::Phase::kFailedOver;
  const std::string blocker = LeaseBlocker(r, snap, o.force);
  if (o.plan) {
    json status = json::parse(r.controller->StatusJson(*c), nullptr, false);
    json steps = json::array();
    for (const runbook::StepSpec& s : rb->steps) {
      steps.push_back({{"name", s.name}, {"kind", s.kind}, {"params", s.params},
                       {"timeout", FormatDuration(s.timeout)}, {"retries", s.retries}});
    }
    std::string verdict;
    if (failed_over) {
      verdict = "already failed over (" + c->durable.summary + "); failback is deliberate";
    } else if (!failed.empty()) {
      verdict = "blocked: DR is not ready (" + Joined(failed) + "); --force would put " +
                DataAtRisk(snap) + " at risk";
    } else if (!blocker.empty()) {
      verdict = "blocked: " + blocker;
    } else {
      verdict = std::string("ready: `pilotlight failover` would run these steps") +
                (snap.old_primary_reachable ? ", fencing the reachable old primary first" : "");
    }
    if (o.json) {
      std::cout << json{{"runbook", rb->name}, {"steps", steps}, {"verdict", verdict},
                        {"readiness", status["readiness"]}, {"phase", status["phase"]},
                        {"data_at_risk", status["data_at_risk"]},
                        {"lease", status["lease"]}}
                       .dump(2)
                << "\n";
      return 0;
    }
    std::cout << "failover runbook '" << rb->name << "':\n";
    int n = 0;
    for (const runbook::StepSpec& s : rb->steps) {
      std::string params;
      for (const auto& [k, v] : s.params) params += (params.empty() ? "" : ", ") + k + "=" + v;
      std::cout << "  " << ++n << ". [" << s.kind << "] " << s.name << "  (" << params
                << "; timeout " << FormatDuration(s.timeout) << ", " << s.retries
                << " retries)\n";
    }
    std::cout << "\nreadiness:\n";
    for (const auto& g : status["readiness"]["gates"]) {
      std::cout << "  [" << (!g["enabled"].get<bool>() ? "off " : g["ok"].get<bool>() ? " ok " : "FAIL")
                << "] " << g["gate"].get<std::string>() << ": " << g["detail"].get<std::string>()
                << "\n";
    }
    std::cout << "\ndata at risk: " << DataAtRisk(snap) << "\n";
    std::cout << "\n" << verdict << "\n";
    return 0;
  }
  if (failed_over) {
    return ExitCode(false, "already failed over (" + c->durable.summary +
                               "); failback is deliberate and not done by `failover`");
  }
  if (!failed.empty() && !o.force) {
    return ExitCode(false, "DR is not ready: " + Joined(failed) +
                               "; `pilotlight failover --force` would put " + DataAtRisk(snap) +
                               " at risk");
  }
  if (!blocker.empty()) return ExitCode(false, blocker);
  std::string reason = "manual failover by an operator";
  if (!failed.empty()) {
    reason += "; FORCED past: " + Joined(failed) + "; data at risk: " + DataAtRisk(snap);
    std::cerr << "FORCED: " << Joined(failed) << "\nDATA AT RISK: " << DataAtRisk(snap) << "\n";
  } else {
    reason += "; DR ready";
  }
  if (snap.replica_lag) reason += "; replica lag " + FormatDuration(*snap.replica_lag);
  reason += snap.old_primary_reachable ? "; fencing the old primary first"
                                       : "; old primary unreachable";
  std::cerr << reason << "\n";
  Result<runbook::RunReport> run = r.controller->RunFailoverNow(o.force || !failed.empty(), reason);
  if (!run.ok()) return ExitCode(false, run.status().ToString());
  std::cout << RunSummary(*run) << "\n";
  return run->succeeded ? 0 : 1;
}

int ApproveCmd(const Options& o, const Context& context) {
  auto rt = MakeRuntime(o, context, false);
  if (!rt.ok()) return ExitCode(false, rt.status().ToString());
  Runtime& r = **rt;
  const char* user = getenv("USER");
  Status st = controller::PostRequest(r.spec.RequestsDir(), controller::Request::kApprove,
                                      std::string("by ") + (user ? user : "an operator"),
                                      SystemClock::Instance().Now());
  if (!st.ok()) return ExitCode(false, st.ToString());
  bool live = false;
  Result<json> j = CurrentStatus(r, &live);
  std::string plan = j.ok() ? j->value("/decision/plan"_json_pointer, std::string()) : "";
  if (live && plan == "await-approval") {
    std::cout << "approved: the controller runs the failover at its next cycle\n";
  } else {
    std::cout << "approval recorded, but " << (live ? "the controller's plan is '" + plan + "'"
                                                    : std::string("no controller is running"))
              << "; it is used if a failover comes to await approval, and dropped once the "
                 "primary is healthy\n";
  }
  return 0;
}

int StepCmd(const Options& o, const Context& context, const std::string& kind) {
  auto rt = MakeRuntime(o, context, false);
  if (!rt.ok()) return ExitCode(false, rt.status().ToString());
  Runtime& r = **rt;
  runbook::StepSpec step;
  step.kind = kind;
  step.retries = 0;
  std::string runbook = "manual-" + kind;
  if (kind == "scale") {
    const std::string region = o.region.empty() ? r.spec.dr_region : o.region;
    step.name = "scale " + region + " " + o.group + " to " + std::to_string(o.size);
    step.params = {{"region", region}, {"group", o.group}, {"size", std::to_string(o.size)},
                   {"until", o.until}};
    step.timeout = 180s;
  } else if (kind == "fence") {
    const std::string region = o.region.empty() ? r.spec.primary_region : o.region;
    step.name = "fence the database of " + region;
    step.params = {{"region", region}};
    step.timeout = 30s;
  } else {
    const std::string region = o.region.empty() ? r.spec.dr_region : o.region;
    step.name = "promote the database of " + region;
    step.params = {{"region", region}};
    step.timeout = 60s;
  }
  Result<runbook::RunReport> run = r.controller->RunStepNow(
      runbook, step, o.force, "operator: pilotlight " + kind + (o.force ? " --force" : ""));
  if (!run.ok()) return ExitCode(false, run.status().ToString());
  std::cout << RunSummary(*run) << "\n";
  return run->succeeded ? 0 : 1;
}

int VerifyCmd(const Options& o, const Context& context) {
  auto rt = MakeRuntime(o, context, false);
  if (!rt.ok()) return ExitCode(false, rt.status().ToString());
  Runtime& r = **rt;
  const controller::ControllerSpec& s = r.spec;
  Clock& clock = SystemClock::Instance();
  json checks = json::array();
  bool all = true;
  auto check = [&](const std::string& name, bool ok, const std::string& detail) {
    checks.push_back({{"check", name}, {"ok", ok}, {"detail", detail}});
    all = all && ok;
  };
  const controller::DatabaseObservation dr = controller::ObserveDatabase(s.dr_db);
  check("DR database is a writable primary", dr.writable(), dr.detail);
  if (dr.writable()) {
    Result<std::unique_ptr<pg::Connection>> conn = pg::Connection::Open(s.dr_db);
    Status w = conn.ok() ? pg::ProbeWrite(**conn, "pilotlight-verify") : conn.status();
    check("DR database takes a write", w.ok(), w.ok() ? "a probe row was written" : w.message());
  }
  const controller::DatabaseObservation old = controller::ObserveDatabase(s.primary_db);
  check("old primary refuses writes", !old.writable(),
        old.reachable ? old.detail : "unreachable: " + old.detail);
  if (old.reachable) {
    const pg::WriteAttempt app = pg::AttemptApplicationWrite(s.primary_db);
    check("old primary refuses the application's BEGIN READ WRITE", !app.committed, app.detail);
  }
  for (const compute::NodeGroupSpec& g : s.node_groups) {
    if (g.region != s.dr_region) continue;
    Result<compute::GroupReadiness> ready =
        r.groups->Readiness(g.region, g.name, compute::ReadyWhen::kReady, clock.Monotonic() + 5s);
    check("DR " + g.name + " serving", ready.ok() && ready->AllUp() && ready->desired > 0,
          ready.ok() ? std::to_string(ready->up.size()) + " of " + std::to_string(ready->desired) +
                           " instances ready" + (ready->detail.empty() ? "" : ": " + ready->detail)
                     : ready.status().message());
  }
  Result<std::vector<std::string>> answers = controller::CurrentAnswers(s.dns, clock.Now());
  bool dns_dr = false;
  std::string words = answers.ok() ? "" : answers.status().message();
  if (answers.ok()) {
    for (const std::string& a : *answers) {
      words += (words.empty() ? "" : " ") + a;
      dns_dr = dns_dr || a == r.config.Dr().address;
    }
    dns_dr = dns_dr && answers->size() == 1;
  }
  check("DNS " + s.dns.record + " answers DR (" + r.config.Dr().address + ")", dns_dr,
        "answers: " + (words.empty() ? std::string("none") : words));
  pg::ReplicationStatus rs = pg::ReadReplicationStatus(s.primary_db, s.dr_db, s.standby_name);
  const std::string lag =
      rs.heartbeat_age_seconds ? std::to_string(*rs.heartbeat_age_seconds) + " s" : "unknown";
  checks.push_back({{"check", "replication (informational)"},
                    {"ok", true},
                    {"detail", std::string(rs.standby_in_recovery ? "DR still a standby"
                                                                  : "DR promoted") +
                                   "; last replayed heartbeat age " + lag +
                                   (rs.problem.empty() ? "" : "; " + rs.problem)}});
  if (o.json) {
    std::cout << json{{"ok", all}, {"checks", checks}}.dump(2) << "\n";
  } else {
    for (const auto& c : checks) {
      std::cout << (c["ok"].get<bool>() ? "  ok   " : "  FAIL ") << c["check"].get<std::string>()
                << ": " << c["detail"].get<std::string>() << "\n";
    }
    std::cout << (all ? "verified: DR serves and takes writes\n" : "NOT verified\n");
  }
  return all ? 0 : 3;
}

int HistoryCmd(const Options& o) {
  Result<config::Config> config = LoadConfig(o);
  if (!config.ok()) return ExitCode(false, config.status().ToString());
  const std::string path = o.dir + "/controller/journal.db";
  if (!fs::exists(path)) {
    std::cout << "no runbook has run yet (no journal at " << path << ")\n";
    return 0;
  }
  Result<std::unique_ptr<runbook::Journal>> journal = runbook::Journal::Open(path);
  if (!journal.ok()) return ExitCode(false, journal.status().ToString());
  Result<std::vector<runbook::RunRecord>> runs = (*journal)->RecentRuns(o.limit);
  if (!runs.ok()) return ExitCode(false, runs.status().ToString());
  json out = json::array();
  for (const runbook::RunRecord& run : *runs) {
    json steps = json::array();
    for (const runbook::StepRecord& st : run.steps) {
      json js = {{"index", st.index}, {"name", st.name}, {"attempt", st.attempt},
                 {"intent_at", FormatTime(st.intent_at)}, {"outcome", runbook::OutcomeName(st.outcome)},
                 {"detail", st.detail}};
      if (st.finished_at) {
        js["finished_at"] = FormatTime(*st.finished_at);
        js["duration_ms"] =
            std::chrono::duration_cast<std::chrono::milliseconds>(*st.finished_at - st.intent_at).count();
      }
      steps.push_back(js);
    }
    out.push_back({{"id", run.id}, {"runbook", run.runbook}, {"reason", run.reason},
                   {"started_at", FormatTime(run.started_at)},
                   {"finished_at", run.finished_at ? json(FormatTime(*run.finished_at)) : json(nullptr)},
                   {"outcome", run.outcome.empty() ? "unfinished" : run.outcome},
                   {"steps", steps}});
  }
  if (o.json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const auto& run : out) {
    std::cout << "run " << run["id"].dump() << "  " << run["runbook"].get<std::string>() << "  "
              << run["outcome"].get<std::string>() << "  started "
              << run["started_at"].get<std::string>() << "\n  reason: "
              << run["reason"].get<std::string>() << "\n";
    for (const auto& st : run["steps"]) {
      std::cout << "    " << st["index"].get<int>() + 1 << ". " << st["name"].get<std::string>()
                << " (attempt " << st["attempt"].dump() << "): " << st["outcome"].get<std::string>()
                << (st.contains("duration_ms") ? " in " + st["duration_ms"].dump() + " ms" : "")
                << (st["detail"].get<std::string>().empty() ? "" : " — " + st["detail"].get<std::string>())
                << "\n";
    }
  }
  return 0;
}

void Register(CLI::App& root, Context& context) {
  auto o = std::make_shared<Options>();
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("--config", o->config,
                    "Platform config (default: the lab's own copy, else examples/lab.yaml)");
    cmd->add_option("--dir", o->dir, "The lab directory (controller state in <dir>/controller)")
        ->capture_default_str();
  };
  // Records that the operator typed `flag`, so it overrides the config's value
  // even when it equals the built-in default.
  auto typed = [o](const char* flag) {
    return [o, flag](const std::string&) { o->given.insert(flag); };
  };
  auto policy = [&](CLI::App* cmd) {
    cmd->add_option("--mode", o->mode, "automatic | approval | observe-only")
        ->capture_default_str()
        ->each(typed("--mode"));
    cmd->add_option("--confirm-for", o->confirm_for, "Quorum must hold this long before acting")
        ->capture_default_str()
        ->each(typed("--confirm-for"));
    cmd->add_option("--hold-down", o->hold_down, "No automatic failover this long after one")
        ->capture_default_str()
        ->each(typed("--hold-down"));
    cmd->add_option("--lease-duration", o->lease_duration, "The primary's write lease")
        ->capture_default_str()
        ->each(typed("--lease-duration"));
  };

  CLI::App* ctl = root.add_subcommand("controller", "The failover controller");
  ctl->require_subcommand(1);
  CLI::App* run = ctl->add_subcommand(
      "run", "Observe, decide and act in a loop; print each decision change with its reason");
  common(run);
  policy(run);
  run->add_option("--interval", o->interval, "Probe interval of the health checks")
      ->capture_default_str();
  run->add_option("--vantages", o->vantages, "In-process vantage points of each derived check (together one site's vote; "
                  "DR's probe agent is the other site)")
      ->capture_default_str();
  run->add_option("--failure-threshold", o->failure_threshold, "Consecutive failures to fail")
      ->capture_default_str();
  run->add_option("--lease-listen", o->lease_listen,
                  "Where the primary's agent renews its write lease (HOST:PORT, port 0: any)")
      ->capture_default_str()
      ->each(typed("--lease-listen"));
  run->add_option("--lease-secret", o->lease_secret,
                  "The write lease's secret, shared with the primary's agent (mode 0600, one key "
                  "per line; default <state dir>/lease.secret, made when missing)");
  run->add_option("--webhook", o->webhook, "Also POST controller events to this URL");
  run->add_option("--metrics-listen", o->metrics_listen,
                  "Serve Prometheus /metrics (check states, alarm states, probe latencies) and "
                  "/healthz on ADDRESS:PORT, e.g. 127.0.0.1:9464 (port 0: any free port)");
  run->add_option("--duration", o->duration, "Stop after this long (default: until Ctrl-C)");
  run->add_flag("--json", o->json, "Print decisions as JSON lines");
  run->add_option("--etcd", o->etcd,
                  "Several controllers: lead through this etcd cluster "
                  "(http://HOST:PORT[,...]); only the leader acts and grants the write lease");
  run->add_option("--etcd-key", o->etcd_key, "The election key (default /pilotlight/<platform>/leader)");
  run->add_option("--etcd-ttl", o->etcd_ttl,
                  "Session ttl: a dead leader is replaced within about this long")
      ->capture_default_str()
      ->each(typed("--etcd-ttl"));
  run->add_option("--name", o->name, "This controller's name in the election (default HOST-PID)");
  run->callback([o, &context] { context.exit_code = ControllerRun(*o, context); });

  CLI::App* keeper = ctl->add_subcommand(
      "lease-keeper", "Hold a region's write lease; fence its PostgreSQL when it is lost "
                      "(what the region agent runs)");
  common(keeper);
  keeper->add_option("--region", o->region, "The region (default: the primary)");
  keeper->add_option("--controller", o->controller,
                     "HOST:PORT of the controller (default: <dir>/controller/lease.endpoint)");
  keeper->add_option("--lease-secret", o->lease_secret,
                     "The write lease's secret (default: <dir>/controller/lease.secret)");
  keeper->callback([o, &context] { context.exit_code = LeaseKeeper(*o); });

  CLI::App* status = root.add_subcommand(
      "status", "Regions, checks, lag, readiness and the controller's last decision with its reason");
  common(status);
  status->add_flag("--json", o->json, "JSON output");
  status->callback([o, &context] { context.exit_code = StatusCmd(*o, context); });

  CLI::App* failover = root.add_subcommand(
      "failover", "Fail over to DR now (checks readiness; --plan shows the steps, --force overrides)");
  common(failover);
  policy(failover);
  failover->add_flag("--plan", o->plan, "Only print the steps it would run, with readiness");
  failover->add_flag("--force", o->force, "Fail over past failed readiness gates (data at risk)");
  failover->add_flag("--json", o->json, "JSON output (with --plan)");
  failover->callback([o, &context] { context.exit_code = FailoverCmd(*o, context); });

  CLI::App* approve = root.add_subcommand("approve", "Approve the failover plan the controller awaits");
  common(approve);
  approve->callback([o, &context] { context.exit_code = ApproveCmd(*o, context); });

  CLI::App* scale = root.add_subcommand("scale", "Scale a node group (journaled)");
  common(scale);
  scale->add_option("GROUP", o->group, "Node group")->required();
  scale->add_option("N", o->size, "Instances")->required()->check(CLI::Range(0, 1000));
  scale->add_option("--region", o->region, "Region (default: DR)");
  scale->add_option("--until", o->until, "ready | answering")->capture_default_str();
  scale->callback([o, &context] { context.exit_code = StepCmd(*o, context, "scale"); });

  CLI::App* fence = root.add_subcommand("fence", "Fence the old primary's database (journaled)");
  common(fence);
  fence->add_option("--region", o->region, "Region (default: the primary)");
  fence->callback([o, &context] { context.exit_code = StepCmd(*o, context, "fence"); });

  CLI::App* promote = root.add_subcommand(
      "promote", "Promote the DR replica (journaled; refuses while the old primary can write)");
  common(promote);
  promote->add_option("--region", o->region, "Region (default: DR)");
  promote->add_flag("--force", o->force, "Promote past the lag gate (data at risk)");
  promote->callback([o, &context] { context.exit_code = StepCmd(*o, context, "promote"); });

  CLI::App* verify = root.add_subcommand(
      "verify", "After a failover: DR serving and writable, DNS answers DR, old primary fenced");
  common(verify);
  verify->add_flag("--json", o->json, "JSON output");
  verify->callback([o, &context] { context.exit_code = VerifyCmd(*o, context); });

  CLI::App* history = root.add_subcommand("history", "Runbook runs in the journal, newest first");
  common(history);
  history->add_option("--limit", o->limit, "How many runs")->capture_default_str();
  history->add_flag("--json", o->json, "JSON output");
  history->callback([o, &context] { context.exit_code = HistoryCmd(*o); });
}

const CommandRegistration registration(60, Register);

}  // namespace
}  // namespace pilotlight::cli
