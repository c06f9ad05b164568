// pilotlight watch | checks: detection on its own.
//
// Both commands run the config's health_checks, alarms and topics. A config
// without health checks gets default ones derived from its regions: for each
// region a PostgreSQL check (the primary's must be writable), a Redis TCP check,
// and a calculated "<region>-reachable" check (healthy while any of them is),
// and an alarm on each PostgreSQL check, all published to a "detection" topic.
// Subscribers given by flags (--webhook, --notify-file, --notify-exec) hear
// every check and alarm either way. `watch --metrics-listen ADDR:PORT` serves
// the live Prometheus exposition at /metrics while it runs.
#include <signal.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "alarm/metrics_server.h"
#include "cli/command.h"
#include "config/loader.h"
#include "core/duration.h"
#include "core/log.h"
#include "core/poll.h"
#include "health/detector.h"

namespace pilotlight::cli {
namespace {

using namespace std::chrono_literals;

// The flags that shape derived checks only; with configured checks they are ignored.
struct DerivedFlags {
  CLI::Option* interval = nullptr;
  CLI::Option* failure_threshold = nullptr;
  CLI::Option* success_threshold = nullptr;
  CLI::Option* vantages = nullptr;
  bool AnyGiven() const {
    for (const CLI::Option* o : {interval, failure_threshold, success_threshold, vantages}) {
      if (o != nullptr && o->count() > 0) return true;
    }
    return false;
  }
};

struct DetectOptions {
  std::string config = "examples/lab.yaml";
  std::string dir = ".pilotlight/lab";  // a lab whose passwords (<dir>/secrets) the probes use
  std::string interval = "500ms";
  int failure_threshold = 3;
  int success_threshold = 2;
  int vantages = 1;
  std::string webhook;
  std::string webhook_ca_file;
  std::string metrics_listen;  // watch: serve /metrics here; empty = not served
  std::string secret_env = "PILOTLIGHT_WEBHOOK_SECRET";
  std::string notify_file;
  std::string notify_exec;
  std::string duration;  // watch: stop after this; empty = until SIGINT/SIGTERM
  std::string wait;      // checks: how long to wait for every check to be decided
  bool json = false;
  bool prometheus = false;
  DerivedFlags watch_flags;
  DerivedFlags checks_flags;
  bool watching = false;  // which command runs, for the flags above
};

constexpr const char* kFlagTopic = "detection";

// The subscribers given by flags (webhook, file, exec), in that order.
std::vector<notify::SubscriberSpec> FlagSubscribers(const DetectOptions& o) {
  std::vector<notify::SubscriberSpec> out;
  if (!o.webhook.empty()) {
    notify::SubscriberSpec s;
    s.name = "webhook";
    s.kind = notify::SubscriberKind::kWebhook;
    s.url = o.webhook;
    s.ca_file = o.webhook_ca_file;
    if (const char* secret = getenv(o.secret_env.c_str())) s.secret = secret;
    out.push_back(s);
  }
  if (!o.notify_file.empty()) {
    notify::SubscriberSpec s;
    s.name = "file";
    s.kind = notify::SubscriberKind::kFile;
    s.path = o.notify_file;
    out.push_back(s);
  }
  if (!o.notify_exec.empty()) {
    notify::SubscriberSpec s;
    s.name = "exec";
    s.kind = notify::SubscriberKind::kExec;
    s.command = {"/bin/sh", "-c", o.notify_exec};
    out.push_back(s);
  }
  return out;
}

Result<health::DetectionSpec> DefaultDetection(const config::Config& config,
                                               const DetectOptions& o) {
  Result<Duration> interval = ParseDuration(o.interval);
  if (!interval.ok()) return interval.status().Annotate("--interval");
  health::DetectionSpec spec;
  spec.alarm_evaluation_interval = config.detection.alarm_evaluation_interval;
  const std::string topic = kFlagTopic;
  spec.topics.push_back({topic, FlagSubscribers(o)});
  auto base = [&](const std::string& name, health::ProbeKind kind, const std::string& host,
                  uint16_t port) {
    health::CheckSpec c;
    c.name = name;
    c.kind = kind;
    c.host = host;
    c.port = port;
    c.interval = *interval;
    c.timeout = *interval * 8 / 10;
    c.connect_timeout = c.timeout;
    c.failure_threshold = o.failure_threshold;
    c.success_threshold = o.success_threshold;
    for (int v = 1; v <= o.vantages && o.vantages > 1; ++v) {
      c.vantages.push_back({"local-" + std::to_string(v), "", 0, "", ""});
    }
    c.topics = {topic};
    return c;
  };
  for (const config::RegionSpec& r : config.regions) {
    health::CheckSpec pg = base(r.name + "-postgres", health::ProbeKind::kPostgres, r.address,
                                r.postgres.port);
    pg.pg_database = r.postgres.database;
    pg.must_be_writable = r.role == config::RegionRole::kPrimary;
    config::PostgresCheckCredentials(config, pg);
    health::CheckSpec redis =
        base(r.name + "-redis", health::ProbeKind::kTcp, r.address, r.redis.port);
    health::CheckSpec region;
    region.name = r.name + "-reachable";
    region.kind = health::ProbeKind::kCalculated;
    region.children = {pg.name, redis.name};
    region.min_healthy_children = 1;
    region.topics = {topic};
    alarm::AlarmSpec a;
    a.name = pg.name + "-down";
    a.description = "PostgreSQL of region " + r.name + " is unhealthy";
    a.metric = health::CheckHealthyMetric(pg.name);
    a.statistic = alarm::Statistic::kMinimum;
    a.period = std::max<Duration>(*interval, 500ms);
    a.comparison = alarm::Comparison::kLess;
    a.threshold = 1;
    a.topics = {topic};
    spec.checks.push_back(pg);
    spec.checks.push_back(redis);
    spec.checks.push_back(region);
    spec.alarms.push_back(a);
  }
  return spec;
}

// The config's own detection, with webhook secrets from the environment and
// the flags' subscribers on a topic every check and alarm also publishes to.
Result<health::DetectionSpec> ConfiguredDetection(config::Config& config, const DetectOptions& o) {
  const std::vector<config::ConfigError> secrets = config::ResolveWebhookSecrets(config);
  if (!secrets.empty()) {
    std::string msg = "cannot sign webhook messages:";
    for (const config::ConfigError& e : secrets) msg += "\n  " + e.ToString();
    return Status::InvalidArgument(msg);
  }
  health::DetectionSpec spec = config.detection;
  std::vector<notify::SubscriberSpec> extra = FlagSubscribers(o);
  if (!extra.empty()) {
    for (const notify::TopicSpec& t : spec.topics) {
      if (t.name == kFlagTopic) {
        return Status::InvalidArgument(
            std::string("the config defines a topic named '") + kFlagTopic +
            "', which the --webhook/--notify-* flags use: rename it, or put those subscribers "
            "in the config");
      }
    }
    spec.topics.push_back({kFlagTopic, std::move(extra)});
    for (health::CheckSpec& c : spec.checks) c.topics.push_back(kFlagTopic);
    for (alarm::AlarmSpec& a : spec.alarms) a.topics.push_back(kFlagTopic);
  }
  return spec;
}

// File subscribers append to files in directories that may not exist yet (a
// fresh checkout has no .pilotlight/).
void MakeSubscriberDirectories(const health::DetectionSpec& spec) {
  for (const notify::TopicSpec& t : spec.topics) {
    for (const notify::SubscriberSpec& s : t.subscribers) {
      if (s.kind != notify::SubscriberKind::kFile) continue;
      const std::filesystem::path dir = std::filesystem::path(s.path).parent_path();
      std::error_code ec;
      if (!dir.empty()) std::filesystem::create_directories(dir, ec);
      if (ec) {
        LogWarn("cannot create " + dir.string() + " for subscriber " + s.name + ": " +
                ec.message());
      }
    }
  }
}

Result<std::unique_ptr<health::Detector>> MakeDetector(const DetectOptions& o) {
  Result<config::Config> config = config::LoadConfigOrError(o.config);
  if (!config.ok()) return config.status();
  config::ApplySecretsDir(*config, o.dir + "/secrets");  // a lab's passwords, when there is one
  const bool configured = !config->detection.checks.empty();
  const DerivedFlags& flags = o.watching ? o.watch_flags : o.checks_flags;
  if (configured && flags.AnyGiven()) {
    std::cerr << "note: --interval, --failure-threshold, --success-threshold and --vantages "
                 "shape derived checks only; "
              << o.config << " defines its own health_checks\n";
  }
  if (!configured &&
      (!config->detection.alarms.empty() || !config->detection.topics.empty())) {
    std::cerr << "note: " << o.config
              << " has no health_checks, so checks, alarms and the topic are derived from its "
                 "regions; its alarms and topics are not used\n";
  }
  Result<health::DetectionSpec> spec =
      configured ? ConfiguredDetection(*config, o) : DefaultDetection(*config, o);
  if (!spec.ok()) return spec.status();
  MakeSubscriberDirectories(*spec);
  return health::Detector::Create(SystemClock::Instance(), std::move(*spec));
}

// Blocks SIGINT and SIGTERM in every thread started from now on, so the caller
// can wait for them with sigtimedwait.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int Watch(const DetectOptions& o) {
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
  auto detector = MakeDetector(o);
  if (!detector.ok()) return ExitCode(false, detector.status().ToString());
  // Scrapes read the live detector (Prometheus() is safe from the server's thread).
  std::unique_ptr<alarm::MetricsServer> metrics;
  if (metrics_at) {
    const health::Detector* d = detector->get();
    auto server = alarm::MetricsServer::Start(metrics_at->first, metrics_at->second,
                                              [d] { return d->Prometheus(); });
    if (!server.ok()) return ExitCode(false, server.status().ToString());
    metrics = std::move(*server);
    const std::string host = metrics_at->first.find(':') != std::string::npos
                                 ? "[" + metrics_at->first + "]"
                                 : metrics_at->first;
    std::cerr << "serving Prometheus metrics at http://" << host << ":" << metrics->port()
              << "/metrics\n";
  }
  std::mutex out_mu;
  (*detector)->OnEvent([&](const health::DetectionEvent& e) {
    std::lock_guard<std::mutex> lock(out_mu);
    std::cout << (o.json ? e.json : e.line) << std::endl;
  });
  Status st = (*detector)->Start();
  if (!st.ok()) return ExitCode(false, st.ToString());
  std::cerr << "watching " << (*detector)->spec().checks.size() << " checks and "
            << (*detector)->spec().alarms.size() << " alarms; Ctrl-C to stop\n";
  const auto end = duration ? std::chrono::steady_clock::now() + *duration
                            : std::chrono::steady_clock::time_point::max();
  while (std::chrono::steady_clock::now() < end) {
    const auto left = end - std::chrono::steady_clock::now();
    const auto step = std::min<std::chrono::nanoseconds>(left, 1s);
    timespec ts{static_cast<time_t>(step.count() / 1'000'000'000),
                static_cast<long>(step.count() % 1'000'000'000)};
    if (sigtimedwait(&stop_signals, nullptr, &ts) > 0) break;
  }
  if (metrics) metrics->Stop();
  (*detector)->Stop();
  if (o.prometheus) std::cout << (*detector)->Prometheus();
  return 0;
}

nlohmann::json ChecksJson(const health::Detector& d) {
  nlohmann::json out = {{"checks", nlohmann::json::array()}, {"alarms", nlohmann::json::array()}};
  for (const health::CheckState& c : d.Checks()) {
    nlohmann::json j = {{"name", c.name},
                        {"kind", health::ProbeKindName(c.kind)},
                        {"status", health::HealthStatusName(c.status)},
                        {"reason", c.reason},
                        {"vantages", nlohmann::json::array()}};
    for (const health::VantageState& v : c.vantages) {
      j["vantages"].push_back(
          {{"name", v.name},
           {"site", v.site},
           {"status", health::HealthStatusName(v.threshold.status)},
           {"late_probes", v.late_probes},
           {"last", {{"ok", v.last.ok},
                     {"verdict", health::ProbeVerdictName(health::VerdictOf(v.last))},
                     {"detail", v.last.detail},
                     {"latency_ms",
                      std::chrono::duration<double, std::milli>(v.last.latency).count()},
                     {"lateness_ms",
                      std::chrono::duration<double, std::milli>(v.last.lateness).count()}}}});
    }
    out["checks"].push_back(j);
  }
  for (const alarm::AlarmStatus& a : d.Alarms()) {
    out["alarms"].push_back(
        {{"name", a.name}, {"state", alarm::AlarmStateName(a.state)}, {"reason", a.reason}});
  }
  return out;
}

int Checks(const DetectOptions& o) {
  auto detector = MakeDetector(o);
  if (!detector.ok()) return ExitCode(false, detector.status().ToString());
  health::Detector& d = **detector;
  Duration wait = std::chrono::seconds(1);
  for (const health::CheckSpec& c : d.spec().checks) {
    if (c.kind == health::ProbeKind::kCalculated) continue;
    wait = std::max<Duration>(
        wait, c.interval * (std::max(c.failure_threshold, c.success_threshold) + 1) + 1s);
  }
  if (!o.wait.empty()) {
    Result<Duration> w = ParseDuration(o.wait);
    if (!w.ok()) return ExitCode(false, w.status().Annotate("--wait").ToString());
    wait = *w;
  }
  Status st = d.Start();
  if (!st.ok()) return ExitCode(false, st.ToString());
  // Until every check and alarm is decided, or `wait` has passed.
  Clock& clock = SystemClock::Instance();  // the detector's
  auto decided = [&] {
    for (const health::CheckState& c : d.Checks()) {
      if (c.status == health::HealthStatus::kUnknown) return false;
    }
    for (const alarm::AlarmStatus& a : d.Alarms()) {
      if (a.state == alarm::AlarmState::kInsufficientData) return false;
    }
    return true;
  };
  (void)PollUntil(clock, clock.Monotonic() + wait, 50ms, decided);  // decided, or out of time
  d.Stop();
  nlohmann::json j = ChecksJson(d);
  if (o.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    for (const auto& c : j["checks"]) {
      std::cout << c["name"].get<std::string>() << "  " << c["status"].get<std::string>()
                << "  " << c["reason"].get<std::string>() << "\n";
    }
    for (const auto& a : j["alarms"]) {
      std::cout << "alarm " << a["name"].get<std::string>() << "  "
                << a["state"].get<std::string>() << "  " << a["reason"].get<std::string>()
                << "\n";
    }
  }
  bool all_healthy = true;
  for (const auto& c : j["checks"]) all_healthy = all_healthy && c["status"] == "healthy";
  return all_healthy ? 0 : 3;  // 3: some check is not healthy (like a Nagios critical)
}

void AddCommon(CLI::App* cmd, DetectOptions& o, DerivedFlags& flags) {
  cmd->add_option("--config", o.config,
                  "Platform config: its health_checks, alarms and topics (derived from its "
                  "regions when it has no health_checks)")
      ->capture_default_str();
  cmd->add_option("--dir", o.dir,
                  "A lab directory: its passwords (<dir>/secrets) fill those the config leaves "
                  "empty")
      ->capture_default_str();
  flags.interval =
      cmd->add_option("--interval", o.interval, "Derived checks: probe interval (>= 100ms)")
          ->capture_default_str();
  flags.failure_threshold = cmd->add_option("--failure-threshold", o.failure_threshold,
                                            "Derived checks: consecutive failures to fail")
                                ->capture_default_str();
  flags.success_threshold = cmd->add_option("--success-threshold", o.success_threshold,
                                            "Derived checks: consecutive successes to recover")
                                ->capture_default_str();
  flags.vantages = cmd->add_option("--vantages", o.vantages,
                                   "Derived checks: in-process vantage points (majority quorum)")
                       ->capture_default_str();
  cmd->add_flag("--json", o.json, "JSON output");
}

void Register(CLI::App& root, Context& context) {
  auto o = std::make_shared<DetectOptions>();
  CLI::App* watch = root.add_subcommand(
      "watch", "Run detection alone (health checks, alarms, notifications); print transitions");
  AddCommon(watch, *o, o->watch_flags);
  watch->add_option("--webhook", o->webhook,
                    "POST every transition to this http:// or https:// URL");
  watch->add_option("--webhook-ca-file", o->webhook_ca_file,
                    "HTTPS webhook: trust only the CA certificates (PEM) in this file "
                    "(default: the system CA store)");
  watch->add_option("--metrics-listen", o->metrics_listen,
                    "Serve Prometheus /metrics (and /healthz) on ADDRESS:PORT while watching, "
                    "e.g. 127.0.0.1:9464 (port 0: any free port, printed on stderr)");
  watch->add_option("--webhook-secret-env", o->secret_env,
                    "Environment variable holding the webhook's HMAC secret")
      ->capture_default_str();
  watch->add_option("--notify-file", o->notify_file, "Append every transition as a JSON line");
  watch->add_option("--notify-exec", o->notify_exec,
                    "Run this shell command with every transition's JSON on stdin");
  watch->add_option("--duration", o->duration, "Stop after this long (default: until Ctrl-C)");
  watch->add_flag("--prometheus", o->prometheus,
                  "On exit, print the Prometheus exposition of every metric and state");
  watch->callback([o, &context] {
    o->watching = true;
    context.exit_code = Watch(*o);
  });

  CLI::App* checks = root.add_subcommand(
      "checks", "Probe every check until decided and print its state (exit 3 if any unhealthy)");
  AddCommon(checks, *o, o->checks_flags);
  checks->add_option("--wait", o->wait, "Give up waiting for undecided checks after this long");
  checks->callback([o, &context] {
    o->watching = false;
    context.exit_code = Checks(*o);
  });
}

const CommandRegistration registration(40, Register);

}  // namespace
}  // namespace pilotlight::cli
