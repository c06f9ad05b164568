// pilotlight dns serve | show | set: the embedded authoritative DNS server, what it
// answers right now, and the operator's routing overrides.
//
// The zones come from a YAML zone file (--zone-file) or from the `dns:` section of
// the platform config (--config), which also gives the listen address and the
// reload interval (flags override them). Health comes from --health flags and a
// health file re-read at every reload; with --config and --probe the server also
// runs the config's health checks in-process and answers from their live states
// (the flags and the file still override the checks they name).
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "config/loader.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "dns/server/dns_server.h"
#include "dns/zone/catalog.h"
#include "dns/zonefile/zone_file.h"
#include "health/monitor.h"

namespace pilotlight::cli {
namespace {

constexpr const char* kDefaultOverrides = ".pilotlight/dns/overrides";

struct DnsOptions {
  std::string zone_file;
  std::string config;
  bool probe = false;
  CLI::Option* listen_flag = nullptr;
  CLI::Option* reload_flag = nullptr;
  std::string health_file;
  std::vector<std::string> health;  // CHECK=healthy|unhealthy
  std::string overrides = kDefaultOverrides;
  std::string listen = "127.0.0.1:53";
  std::string reload_interval = "200ms";
  int udp_workers = 0;
  bool json = false;
  std::string name;
  std::string to;
};

// The zones to serve, from the zone file or the config's dns section.
struct ZoneSource {
  std::string name;  // the file they came from, for messages
  std::vector<dns::ZoneSpec> zones;
  std::optional<config::Config> config;  // with --config
};

Result<ZoneSource> LoadZones(const DnsOptions& o) {
  if (o.zone_file.empty() == o.config.empty()) {
    return Status::InvalidArgument("give either --zone-file FILE or --config FILE");
  }
  ZoneSource source;
  if (!o.zone_file.empty()) {
    Result<std::vector<dns::ZoneSpec>> specs = dns::LoadZoneFile(o.zone_file);
    if (!specs.ok()) return specs.status();
    source.name = o.zone_file;
    source.zones = std::move(*specs);
    return source;
  }
  Result<config::Config> config = config::LoadConfigOrError(o.config);
  if (!config.ok()) return config.status();
  if (config->dns.zones.empty()) {
    return Status::InvalidArgument(o.config + " declares no zones: add them under dns.zones");
  }
  source.name = o.config;
  source.zones = config->dns.zones;
  source.config = std::move(*config);
  return source;
}

// Health: the --health flags, then the health file on top (the file is what changes).
// `base` holds the verdicts of probed checks, which both override.
Result<dns::StaticHealthView> LoadHealth(const DnsOptions& o,
                                         const dns::StaticHealthView& base = {}) {
  dns::StaticHealthView view = base;
  for (const std::string& h : o.health) {
    Result<std::pair<std::string, bool>> a = dns::ParseHealthAssignment(h);
    if (!a.ok()) return a.status().Annotate("--health");
    view.Set(a->first, a->second);
  }
  if (!o.health_file.empty()) {
    Result<dns::StaticHealthView> file = dns::LoadHealthFile(o.health_file);
    if (!file.ok()) return file.status();
    for (const auto& [check, healthy] : file->states()) view.Set(check, healthy);
  }
  return view;
}

Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return Status::InvalidArgument("--listen \"" + listen + "\": expected ADDRESS:PORT");
  }
  const std::string port = listen.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
      std::stoul(port) > 65535) {
    return Status::InvalidArgument("--listen \"" + listen + "\": bad port \"" + port + "\"");
  }
  std::string address = listen.substr(0, colon);
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  return std::make_pair(address, static_cast<uint16_t>(std::stoul(port)));
}

// The verdicts of the probed checks: unknown ones are left out, so the zone
// treats them as healthy until the thresholds decide.
dns::StaticHealthView ProbedHealth(const health::HealthMonitor* monitor) {
  dns::StaticHealthView view;
  if (monitor == nullptr) return view;
  for (const health::CheckState& c : monitor->Snapshot()) {
    if (c.status == health::HealthStatus::kUnknown) continue;
    view.Set(c.name, c.status == health::HealthStatus::kHealthy);
  }
  return view;
}

int Serve(const DnsOptions& o) {
  Clock& clock = SystemClock::Instance();
  Result<ZoneSource> source = LoadZones(o);
  if (!source.ok()) return ExitCode(false, source.status().message());
  Result<std::unique_ptr<dns::Catalog>> catalog = dns::Catalog::Build(source->zones, clock.Now());
  if (!catalog.ok()) return ExitCode(false, source->name + ": " + catalog.status().message());
  Duration reload = std::chrono::milliseconds(200);
  std::pair<std::string, uint16_t> address("127.0.0.1", 53);
  if (source->config) {
    reload = source->config->dns.reload_interval;
    address = {source->config->dns.listen.address, source->config->dns.listen.port};
  }
  if (!source->config || (o.reload_flag != nullptr && o.reload_flag->count() > 0)) {
    Result<Duration> interval = ParseDuration(o.reload_interval);
    if (!interval.ok() || *interval <= Duration::zero()) {
      return ExitCode(false, "--reload-interval \"" + o.reload_interval +
                                 "\": expected a positive duration such as 200ms");
    }
    reload = *interval;
  }
  if (!source->config || (o.listen_flag != nullptr && o.listen_flag->count() > 0)) {
    Result<std::pair<std::string, uint16_t>> listen = ParseListen(o.listen);
    if (!listen.ok()) return ExitCode(false, listen.status().message());
    address = *listen;
  }

  // --probe: the config's checks, run here, decide what the records answer.
  std::unique_ptr<health::HealthMonitor> monitor;
  if (o.probe) {
    if (!source->config) return ExitCode(false, "--probe needs --config (it runs its checks)");
    if (source->config->detection.checks.empty()) {
      return ExitCode(false, "--probe: " + o.config + " has no health_checks to run");
    }
    Result<std::unique_ptr<health::HealthMonitor>> made =
        health::HealthMonitor::Create(clock, source->config->detection.checks);
    if (!made.ok()) return ExitCode(false, made.status().message());
    monitor = std::move(*made);
  }

  auto refresh = [&](bool first) {
    Result<dns::StaticHealthView> health = LoadHealth(o, ProbedHealth(monitor.get()));
    Result<dns::Overrides> overrides = dns::LoadOverrides(o.overrides);
    if (!health.ok() || !overrides.ok()) {
      LogWarn("dns: keeping the current answers: " +
              (health.ok() ? overrides.status() : health.status()).message());
      return;
    }
    for (const std::string& zone : (*catalog)->Refresh(*health, *overrides, clock.Now())) {
      const auto snapshot = (*catalog)->Snapshot();
      for (const dns::ZoneState& z : snapshot->zones) {
        if (z.zone->origin().ToString() == zone) {
          LogInfo("dns: zone " + zone + (first ? " published" : " changed") + ", serial " +
                  std::to_string(z.serial));
        }
      }
    }
  };
  refresh(true);

  // Block the stop signals in every thread; this one waits for them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  if (monitor) {
    Status started = monitor->Start();
    if (!started.ok()) return ExitCode(false, started.message());
    std::cout << "probing " << monitor->specs().size() << " health check(s) from " << source->name
              << std::endl;
  }

  dns::DnsServerOptions options;
  options.address = address.first;
  options.port = address.second;
  options.udp_workers = o.udp_workers;
  Result<std::unique_ptr<dns::DnsServer>> server = dns::DnsServer::Start(options, **catalog);
  if (!server.ok()) return ExitCode(false, server.status().message());
  std::cout << "serving " << source->zones.size() << " zone(s) on " << address.first << ":"
            << (*server)->port() << " (UDP and TCP)" << std::endl;

  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(reload).count();
  const timespec wait{static_cast<time_t>(ns / 1'000'000'000),
                      static_cast<long>(ns % 1'000'000'000)};
  while (true) {
    const int sig = sigtimedwait(&stop, nullptr, &wait);
    if (sig == SIGINT || sig == SIGTERM) break;
    refresh(false);
  }
  (*server)->Stop();
  if (monitor) monitor->Stop();
  const dns::DnsServerCounters c = (*server)->counters();
  LogInfo("dns: stopped after " + std::to_string(c.udp_queries) + " UDP and " +
          std::to_string(c.tcp_queries) + " TCP queries");
  return 0;
}

std::string HealthWord(const dns::RecordSet& set, const dns::HealthView& health) {
  if (set.health_check.empty()) return "no check";
  std::optional<bool> h = health.Healthy(set.health_check);
  return set.health_check + (h ? (*h ? " healthy" : " unhealthy") : " unknown");
}

int Show(const DnsOptions& o) {
  Clock& clock = SystemClock::Instance();
  Result<ZoneSource> source = LoadZones(o);
  if (!source.ok()) return ExitCode(false, source.status().message());
  Result<std::unique_ptr<dns::Catalog>> catalog = dns::Catalog::Build(source->zones, clock.Now());
  if (!catalog.ok()) return ExitCode(false, source->name + ": " + catalog.status().message());
  Result<dns::StaticHealthView> health = LoadHealth(o);
  if (!health.ok()) return ExitCode(false, health.status().message());
  Result<dns::Overrides> overrides = dns::LoadOverrides(o.overrides);
  if (!overrides.ok()) return ExitCode(false, overrides.status().message());
  (*catalog)->Refresh(*health, *overrides, clock.Now());
  auto snapshot = (*catalog)->Snapshot();

  nlohmann::json j = nlohmann::json::array();
  for (const dns::ZoneState& z : snapshot->zones) {
    nlohmann::json zone = {{"origin", z.zone->origin().ToString()},
                           {"records", nlohmann::json::array()}};
    if (!o.json) std::cout << "zone " << z.zone->origin().ToString() << "\n";
    for (size_t i = 0; i < z.zone->rrsets().size(); ++i) {
      const dns::Rrset& r = z.zone->rrsets()[i];
      const dns::Selection& sel = z.selections[i];
      std::string key = r.name.ToString();
      for (char& c : key) c = dns::AsciiLower(c);
      auto ov = overrides->find(key);
      const std::string override_text =
          ov == overrides->end() || r.policy == dns::RoutingPolicy::kSimple
              ? ""
              : dns::FormatRoutingOverride(ov->second);
      nlohmann::json rec = {{"name", r.name.ToString()},
                            {"type", dns::TypeName(r.type)},
                            {"ttl", r.ttl},
                            {"policy", dns::PolicyName(r.policy)},
                            {"override", override_text},
                            {"sets", nlohmann::json::array()}};
      if (!o.json) {
        std::cout << "  " << r.name.ToString() << " " << dns::TypeName(r.type) << " ttl " << r.ttl
                  << " " << dns::PolicyName(r.policy)
                  << (override_text.empty() ? "" : " (override: " + override_text + ")") << "\n";
      }
      for (uint16_t s = 0; s < r.sets.size(); ++s) {
        const dns::RecordSet& set = r.sets[s];
        uint32_t share = 0;
        for (size_t k = 0; k < sel.sets.size(); ++k) {
          if (sel.sets[k] == s) share = sel.weights[k];
        }
        uint64_t total = 0;
        for (uint32_t w : sel.weights) total += w;
        const double fraction = total == 0 ? 0.0 : static_cast<double>(share) / total;
        std::string values;
        for (const std::string& v : set.values) values += (values.empty() ? "" : " ") + v;
        rec["sets"].push_back({{"id", set.id},
                               {"values", set.values},
                               {"health_check", set.health_check},
                               {"health", HealthWord(set, *health)},
                               {"weight", set.weight},
                               {"answering", fraction > 0},
                               {"share", fraction}});
        if (!o.json) {
          std::cout << "    " << (fraction > 0 ? "* " : "  ")
                    << (set.id.empty() ? std::string("values") : set.id) << ": " << values;
          if (r.policy != dns::RoutingPolicy::kSimple)
            std::cout << "  [" << HealthWord(set, *health);
          if (r.policy == dns::RoutingPolicy::kWeighted) {
            std::cout << ", weight " << set.weight << ", share "
                      << static_cast<int>(fraction * 100 + 0.5) << "%";
          }
          if (r.policy != dns::RoutingPolicy::kSimple) std::cout << "]";
          std::cout << "\n";
        }
      }
      zone["records"].push_back(rec);
    }
    j.push_back(zone);
  }
  if (o.json) std::cout << j.dump(2) << "\n";
  return 0;
}

int Set(const DnsOptions& o) {
  Result<ZoneSource> source = LoadZones(o);
  if (!source.ok()) return ExitCode(false, source.status().message());
  Result<std::unique_ptr<dns::Catalog>> catalog =
      dns::Catalog::Build(source->zones, SystemClock::Instance().Now());
  if (!catalog.ok()) return ExitCode(false, source->name + ": " + catalog.status().message());
  Result<std::optional<dns::RoutingOverride>> target = dns::ParseRoutingTarget(o.to);
  if (!target.ok()) return ExitCode(false, target.status().Annotate("--to").message());
  auto snapshot = (*catalog)->Snapshot();
  std::string absolute = o.name;
  Result<dns::Name> name = dns::Name::FromString(absolute);
  if (!name.ok()) return ExitCode(false, name.status().message());
  const dns::ZoneState* zone = snapshot->FindZone(*name);
  if (zone == nullptr && absolute.back() != '.' && snapshot->zones.size() == 1) {
    // A relative name: complete it with the only zone's origin.
    name = dns::Name::FromString(absolute, &snapshot->zones[0].zone->origin());
    zone = snapshot->FindZone(*name);
  }
  if (zone == nullptr) {
    return ExitCode(false, o.name + " is in none of the zones of " + source->name);
  }
  if (*target) {
    Status check = zone->zone->CheckOverride(*name, **target);
    if (!check.ok()) return ExitCode(false, check.message());
  }
  Result<dns::Overrides> overrides = dns::LoadOverrides(o.overrides);
  if (!overrides.ok()) return ExitCode(false, overrides.status().message());
  std::string key = name->ToString();
  for (char& c : key) c = dns::AsciiLower(c);
  if (*target) {
    (*overrides)[key] = **target;
  } else {
    overrides->erase(key);
  }
  const std::filesystem::path dir = std::filesystem::path(o.overrides).parent_path();
  std::error_code ec;
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  Status saved = dns::SaveOverrides(o.overrides, *overrides);
  if (!saved.ok()) return ExitCode(false, saved.message());
  std::cout << key << " -> " << (*target ? dns::FormatRoutingOverride(**target) : "auto (health)")
            << " (written to " << o.overrides
            << "; a running server applies it at its next reload)\n";
  return 0;
}

void Register(CLI::App& root, Context& context) {
  CLI::App* dns =
      root.add_subcommand("dns", "The embedded authoritative DNS server and its routing");
  dns->require_subcommand(1);
  auto opts = std::make_shared<DnsOptions>();
  auto common = [&](CLI::App* cmd, bool health) {
    CLI::Option* zone_file =
        cmd->add_option("--zone-file", opts->zone_file, "YAML zone file (zones, records, policies)")
            ->check(CLI::ExistingFile);
    cmd->add_option("--config", opts->config,
                    "Platform config: serve its dns section (zones, listen, reload_interval)")
        ->check(CLI::ExistingFile)
        ->excludes(zone_file);
    cmd->add_option(
        "--overrides", opts->overrides,
        "Routing overrides written by `dns set` (default " + std::string(kDefaultOverrides) + ")");
    if (health) {
      cmd->add_option("--health-file", opts->health_file,
                      "File of CHECK=healthy|unhealthy lines, re-read at every reload");
      cmd->add_option("--health", opts->health, "CHECK=healthy|unhealthy (repeatable)");
    }
  };
  CLI::App* serve = dns->add_subcommand("serve", "Serve the zones over UDP and TCP until SIGTERM");
  common(serve, true);
  opts->listen_flag = serve->add_option(
      "--listen", opts->listen,
      "ADDRESS:PORT to listen on (default: the config's dns.listen, else 127.0.0.1:53)");
  opts->reload_flag = serve->add_option(
      "--reload-interval", opts->reload_interval,
      "How often health and overrides are re-read (default: the config's, else 200ms)");
  serve->add_flag("--probe", opts->probe,
                  "Run the config's health checks in-process; records follow their states");
  serve->add_option("--udp-workers", opts->udp_workers, "UDP threads (default: one per core)");
  serve->callback([opts, &context] { context.exit_code = Serve(*opts); });

  CLI::App* show = dns->add_subcommand("show", "What each routed name answers now, and why");
  common(show, true);
  show->add_flag("--json", opts->json, "Print as JSON on stdout");
  show->callback([opts, &context] { context.exit_code = Show(*opts); });

  CLI::App* set = dns->add_subcommand("set", "Force a name to a failover role or to new weights");
  common(set, false);
  set->add_option("NAME", opts->name, "The record name, e.g. api.pilotlight.test.")->required();
  set->add_option("--to", opts->to, "primary | secondary | auto | weights:ID=N,ID=N")->required();
  set->callback([opts, &context] { context.exit_code = Set(*opts); });
}

const CommandRegistration registration(40, Register);

}  // namespace
}  // namespace pilotlight::cli
