// pilotlight trader serve | pilotlight load
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <tuple>

#include "cli/command.h"
#include "config/loader.h"
#include "core/clock.h"
#include "core/duration.h"
#include "trader/load.h"
#include "trader/serve.h"

namespace pilotlight::cli {
namespace {

struct ServeFlags {
  std::string config;
  trader::ServeOptions serve;
};

int Serve(const ServeFlags& f) {
  config::LoadResult r = config::LoadConfigFile(f.config);
  if (!r.ok()) {
    for (const config::ConfigError& e : r.errors) std::cerr << e.ToString() << "\n";
    std::cerr << "pilotlight: " << r.errors.size() << " error(s) in " << f.config << "\n";
    return 2;
  }
  return trader::RunTraderService(*r.config, f.serve);
}

struct LoadFlags {
  std::string dir;
  std::string target;
  std::string dns;
  std::string name;
  int port = 0;
  double rate = 0;
  int concurrency = 8;
  std::string duration;
  int64_t count = 0;
  std::string journal;
  std::string retry_deadline = "2m";
  std::string timeout = "2s";
  std::string symbols;
  std::string account = "load";
  bool json = false;
};

// "http://127.0.1.1:8080" -> address and port.
bool ParseTarget(const std::string& url, std::string& address, int& port) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const size_t colon = rest.rfind(':');
  address = colon == std::string::npos ? rest : rest.substr(0, colon);
  port = 80;
  if (colon != std::string::npos) {
    try {
      port = std::stoi(rest.substr(colon + 1));
    } catch (const std::exception&) {
      return false;
    }
  }
  return !address.empty() && port > 0 && port < 65536;
}

int Load(const LoadFlags& f) {
  trader::LoadOptions o;
  int port = 0;
  if (!f.target.empty()) {
    if (!ParseTarget(f.target, o.address, port)) {
      std::cerr << "pilotlight: --target: expected http://ADDRESS:PORT, got '" << f.target << "'\n";
      return 2;
    }
  } else if (!f.dir.empty()) {
    // The lab's primary region, on its first node group's port.
    const std::string file = f.dir + "/config.yaml";
    config::LoadResult r = config::LoadConfigFile(file);
    if (!r.ok()) {
      for (const config::ConfigError& e : r.errors) std::cerr << e.ToString() << "\n";
      std::cerr << "pilotlight: no usable lab config at " << file << "\n";
      return 2;
    }
    const config::RegionSpec& primary = r.config->Primary();
    o.address = primary.address;
    port = primary.node_groups.empty() ? 8080 : primary.node_groups.front().port;
  }
  if (f.port != 0) port = f.port;
  o.port = static_cast<uint16_t>(port == 0 ? 8080 : port);
  o.dns_server = f.dns;
  o.name = f.name;
  o.rate = f.rate;
  o.concurrency = f.concurrency;
  o.journal = f.journal;
  o.account_prefix = f.account;
  if (f.count > 0) o.count = f.count;
  for (const auto& [text, field, out] :
       {std::tuple<std::string, const char*, Duration*>{f.retry_deadline, "--retry-deadline",
                                                        &o.retry_deadline},
        {f.timeout, "--timeout", &o.request_timeout}}) {
    Result<Duration> d = ParseDuration(text);
    if (!d.ok() || *d <= Duration::zero()) {
      std::cerr << "pilotlight: " << field << ": expected a duration such as 30s, got '" << text
                << "'\n";
      return 2;
    }
    *out = *d;
  }
  if (!f.duration.empty()) {
    Result<Duration> d = ParseDuration(f.duration);
    if (!d.ok() || *d <= Duration::zero()) {
      std::cerr << "pilotlight: --duration: expected a duration such as 30s, got '" << f.duration
                << "'\n";
      return 2;
    }
    o.duration = *d;
  }
  if (!f.symbols.empty()) {
    o.symbols.clear();
    std::stringstream in(f.symbols);
    for (std::string s; std::getline(in, s, ',');) {
      if (!s.empty()) o.symbols.push_back(s);
    }
  }
  Result<trader::LoadReport> report =
      trader::RunLoad(o, SystemClock::Instance(), [](const trader::LoadProgress& p) {
        std::cerr << trader::FormatProgress(p) << "\n";
      });
  if (!report.ok()) return ExitCode(false, report.status().ToString());
  std::cout << (f.json ? trader::FormatReportJson(*report) : trader::FormatReportText(*report));
  return report->gave_up > 0 ? 3 : 0;
}

void Register(CLI::App& root, Context& context) {
  CLI::App* trader = root.add_subcommand("trader", "The reference trading service");
  trader->require_subcommand(1);
  auto f = std::make_shared<ServeFlags>();
  CLI::App* serve = trader->add_subcommand(
      "serve", "Run one instance of a region's trading service (the lab starts these)");
  serve->add_option("--config", f->config, "Config file")->required();
  serve->add_option("--region", f->serve.region, "Region whose database and address to use")
      ->required();
  serve->add_option("--dir", f->serve.lab_dir,
                    "Lab directory (where <region>/buckets/confirmations lives)");
  serve->add_option("--node-group", f->serve.node_group, "Node group (default: the first)");
  serve->add_option("--instance", f->serve.instance, "Instance name for logs and /healthz");
  serve->add_option("--port", f->serve.port, "Listen port (default: the node group's)")
      ->check(CLI::Range(1, 65535));
  serve->add_option("--db-connections", f->serve.db_connections,
                    "PostgreSQL connections of this instance")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  serve->add_option("--order-batches", f->serve.order_batches,
                    "Order batches with the database at once; the orders that arrive "
                    "meanwhile wait and leave together as the next batch")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  serve->add_option("--session-ttl", f->serve.session_ttl, "Lifetime of a session")
      ->capture_default_str();
  serve->add_option("--request-deadline", f->serve.request_deadline,
                    "Time a client has for a whole request, headers and body (default 10s)");
  serve->add_option("--idle-timeout", f->serve.idle_timeout,
                    "Time a keep-alive connection may wait for its next request (default 60s)");
  serve->add_option("--max-connections", f->serve.max_connections,
                    "Connections of this instance at once (default 512)")
      ->check(CLI::Range(1, 1 << 20));
  serve->add_option("--max-connections-per-client", f->serve.max_connections_per_client,
                    "Connections one client address may hold (default: a quarter of "
                    "--max-connections)")
      ->check(CLI::Range(1, 1 << 20));
  serve->callback([f, &context] { context.exit_code = Serve(*f); });

  auto l = std::make_shared<LoadFlags>();
  CLI::App* load = root.add_subcommand(
      "load", "Send orders to the trading service at a rate; journal every acknowledgement");
  auto* dir = load->add_option("--dir", l->dir, "Lab directory: target its primary region");
  load->add_option("--target", l->target, "Service URL, e.g. http://127.0.1.1:8080")
      ->excludes(dir);
  load->add_option("--dns", l->dns, "DNS server ADDR:PORT to resolve --name with (A record)");
  load->add_option("--name", l->name, "The service's DNS name");
  load->add_option("--port", l->port, "Service port (with --dns; default from --target/--dir)")
      ->check(CLI::Range(1, 65535));
  load->add_option("--rate", l->rate, "Orders per second (0 = flat out)")->capture_default_str();
  load->add_option("--concurrency", l->concurrency, "Concurrent connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  auto* duration = load->add_option("--duration", l->duration, "How long, e.g. 30s");
  load->add_option("--count", l->count, "How many orders")->excludes(duration);
  load->add_option("--journal", l->journal, "Append acknowledgements here (JSON lines)");
  load->add_option("--retry-deadline", l->retry_deadline,
                   "Retry a failed order (same client_order_id) this long")
      ->capture_default_str();
  load->add_option("--timeout", l->timeout, "Per-request timeout")->capture_default_str();
  load->add_option("--symbols", l->symbols, "Comma-separated symbols (default: the seeded ones)");
  load->add_option("--account", l->account, "Account name prefix")->capture_default_str();
  load->add_flag("--json", l->json, "Print the final report as JSON on stdout");
  load->callback([l, &context] { context.exit_code = Load(*l); });
}

const CommandRegistration registration(40, Register);

}  // namespace
}  // namespace pilotlight::cli
