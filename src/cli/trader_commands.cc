// pilotlight trader serve | trader accounts add|list|revoke | pilotlight load
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "config/loader.h"
#include "core/clock.h"
#include "core/duration.h"
#include "data/postgres/failover.h"
#include "data/postgres/region_database.h"
#include "trader/api_keys.h"
#include "trader/load.h"
#include "trader/order_request.h"
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
  if (!f.serve.lab_dir.empty()) config::ApplySecretsDir(*r.config, f.serve.lab_dir + "/secrets");
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
  std::string api_keys;
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
  // The lab's keys when the target is the lab and no file is given.
  o.api_keys_file = f.api_keys;
  if (o.api_keys_file.empty() && !f.dir.empty()) o.api_keys_file = f.dir + "/secrets/api-keys";
  if (!o.api_keys_file.empty()) {
    Result<std::map<std::string, std::string>> keys = trader::ReadApiKeysFile(o.api_keys_file);
    if (!keys.ok()) return ExitCode(false, "--api-keys: " + keys.status().message());
    o.api_keys = std::move(*keys);
  }
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

// ---- trader accounts ---------------------------------------------------------

struct AccountsFlags {
  std::string config;
  std::string dir = ".pilotlight/lab";  // a lab whose passwords (<dir>/secrets) to log in with
  std::string region;
  std::string account;
  std::string key_id;
  bool all = false;
  bool json = false;
};

// The trading database (as pilotlight's admin role) of the region that takes
// writes now: the one named, else the only writable one (after a failover, DR).
Result<std::unique_ptr<pg::Connection>> AccountsDatabase(const AccountsFlags& f,
                                                         const config::Config& config,
                                                         bool need_writable) {
  if (!f.region.empty() && config.FindRegion(f.region) == nullptr) {
    return Status::InvalidArgument("--region: no region named '" + f.region + "' in " +
                                   config.file);
  }
  std::string seen;
  std::vector<std::unique_ptr<pg::Connection>> writable, readable;
  for (const config::RegionSpec& r : config.regions) {
    if (!f.region.empty() && r.name != f.region) continue;
    Result<std::unique_ptr<pg::Connection>> conn = pg::Connection::Open(pg::RegionDatabase(r));
    if (!conn.ok()) {
      seen += "\n  " + r.name + ": unreachable (" + conn.status().message() + ")";
      continue;
    }
    Result<pg::ServerRole> role = pg::ReadServerRole(**conn);
    if (!role.ok()) {
      seen += "\n  " + r.name + ": " + role.status().message();
      continue;
    }
    const bool takes_writes = !role->in_recovery && !role->read_only_default;
    seen += "\n  " + r.name + ": " +
            (takes_writes ? "writable" : role->in_recovery ? "standby" : "fenced");
    (takes_writes ? writable : readable).push_back(std::move(*conn));
  }
  if (writable.size() > 1) {
    return Status::FailedPrecondition(
        "more than one region's database takes writes; name one with --region:" + seen);
  }
  if (writable.size() == 1) return std::move(writable.front());
  // A standby has every key too (they replicate), for reading.
  if (!need_writable && !readable.empty()) return std::move(readable.front());
  return Status::Unavailable(std::string(need_writable ? "no region's database takes writes"
                                                       : "no region's database answers") +
                             " (start the lab, or name a region with --region):" + seen);
}

Result<config::Config> LoadAccountsConfig(const AccountsFlags& f) {
  Result<config::Config> config = config::LoadConfigOrError(f.config);
  if (config.ok()) config::ApplySecretsDir(*config, f.dir + "/secrets");  // the lab's passwords
  return config;
}

int AccountsAdd(const AccountsFlags& f) {
  if (!trader::ValidIdentifier(f.account, trader::kMaxAccountLength)) {
    return ExitCode(false, "--account: must be 1-64 characters from [A-Za-z0-9_.:-], got '" +
                               f.account.substr(0, 80) + "'");
  }
  Result<config::Config> config = LoadAccountsConfig(f);
  if (!config.ok()) return ExitCode(false, config.status().message());
  Result<std::unique_ptr<pg::Connection>> db = AccountsDatabase(f, *config, true);
  if (!db.ok()) return ExitCode(false, db.status().message());
  // The table normally exists (the trading schema has it); made here for a
  // schema of an earlier release. The service reads it as the application's role.
  Status st = (*db)->Exec(trader::ApiKeysTableSql());
  const pg::Endpoint& e = (*db)->endpoint();
  if (st.ok() && e.has_application_role()) {
    st = (*db)->Exec("GRANT SELECT ON api_keys TO \"" + e.application_user + "\"");
  }
  if (!st.ok()) return ExitCode(false, st.Annotate("cannot prepare the api_keys table").ToString());
  Result<trader::ApiKey> key = trader::CreateApiKey(**db, f.account);
  if (!key.ok()) return ExitCode(false, key.status().ToString());
  if (f.json) {
    std::cout << nlohmann::json({{"account", f.account},
                                 {"key_id", key->key_id},
                                 {"api_key", key->Text()},
                                 {"database", e.ToString()}})
                     .dump()
              << "\n";
  } else {
    std::cout << key->Text() << "\n";
    std::cerr << "account " << f.account << ": new key " << key->key_id << " in "
              << e.ToString()
              << ". This is the only time the key is shown: keep it in a 0600 file.\n";
  }
  return 0;
}

int AccountsList(const AccountsFlags& f) {
  Result<config::Config> config = LoadAccountsConfig(f);
  if (!config.ok()) return ExitCode(false, config.status().message());
  Result<std::unique_ptr<pg::Connection>> db = AccountsDatabase(f, *config, false);
  if (!db.ok()) return ExitCode(false, db.status().message());
  Result<std::vector<trader::StoredApiKey>> keys = trader::ListApiKeys(**db, f.account);
  if (!keys.ok()) return ExitCode(false, keys.status().Annotate("cannot list the API keys").ToString());
  if (f.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const trader::StoredApiKey& k : *keys) {
      nlohmann::json j = {{"account", k.account}, {"key_id", k.key_id},
                          {"created_at", k.created_at}, {"revoked", k.revoked}};
      if (k.revoked) j["revoked_at"] = k.revoked_at;
      list.push_back(j);
    }
    std::cout << nlohmann::json({{"keys", list}}).dump() << "\n";
    return 0;
  }
  std::cout << "ACCOUNT                          KEY ID            CREATED               STATE\n";
  for (const trader::StoredApiKey& k : *keys) {
    std::string account = k.account;
    account.resize(std::max<size_t>(account.size(), 32), ' ');
    std::cout << account << " " << k.key_id << "  " << k.created_at << "  "
              << (k.revoked ? "revoked " + k.revoked_at : "live") << "\n";
  }
  return 0;
}

int AccountsRevoke(const AccountsFlags& f) {
  if (f.key_id.empty() == !f.all) {
    return ExitCode(false, "give --key-id ID (one key) or --all (every key of the account)");
  }
  Result<config::Config> config = LoadAccountsConfig(f);
  if (!config.ok()) return ExitCode(false, config.status().message());
  Result<std::unique_ptr<pg::Connection>> db = AccountsDatabase(f, *config, true);
  if (!db.ok()) return ExitCode(false, db.status().message());
  Result<int> n = trader::RevokeApiKeys(**db, f.account, f.key_id);
  if (!n.ok()) return ExitCode(false, n.status().Annotate("cannot revoke").ToString());
  if (f.json) {
    std::cout << nlohmann::json({{"account", f.account}, {"revoked", *n}}).dump() << "\n";
  } else {
    std::cout << "account " << f.account << ": " << *n << " key(s) revoked\n";
  }
  if (*n == 0) {
    std::cerr << "pilotlight: account " << f.account << " has no live key"
              << (f.key_id.empty() ? "" : " " + f.key_id)
              << " (pilotlight trader accounts list shows its keys)\n";
    return 1;
  }
  return 0;
}

void RegisterAccounts(CLI::App* trader, Context& context) {
  CLI::App* accounts = trader->add_subcommand(
      "accounts", "Trading accounts and their API keys (POST /v1/sessions needs one)");
  accounts->require_subcommand(1);
  auto common = [](CLI::App* c, AccountsFlags& f) {
    c->add_option("--config", f.config, "Config file")->required();
    c->add_option("--dir", f.dir,
                  "A lab directory: its passwords (<dir>/secrets) fill those the config leaves "
                  "empty")
        ->capture_default_str();
    c->add_option("--region", f.region,
                  "Region whose database to use (default: the one that takes writes now)");
    c->add_flag("--json", f.json, "Print JSON on stdout");
  };
  auto add_flags = std::make_shared<AccountsFlags>();
  CLI::App* add = accounts->add_subcommand(
      "add", "Create an account, or a new key for it, and print the key (shown this once only)");
  common(add, *add_flags);
  add->add_option("--account", add_flags->account, "Account name ([A-Za-z0-9_.:-], 1-64)")
      ->required();
  add->callback([add_flags, &context] { context.exit_code = AccountsAdd(*add_flags); });

  auto list_flags = std::make_shared<AccountsFlags>();
  CLI::App* list = accounts->add_subcommand(
      "list", "List the accounts' keys (ids, creation, revocation; never a secret)");
  common(list, *list_flags);
  list->add_option("--account", list_flags->account, "Only this account's keys");
  list->callback([list_flags, &context] { context.exit_code = AccountsList(*list_flags); });

  auto revoke_flags = std::make_shared<AccountsFlags>();
  CLI::App* revoke = accounts->add_subcommand(
      "revoke", "Revoke a key (or every key) of an account: new sessions with it get 401");
  common(revoke, *revoke_flags);
  revoke->add_option("--account", revoke_flags->account, "The account")->required();
  revoke->add_option("--key-id", revoke_flags->key_id, "The key to revoke (accounts list)");
  revoke->add_flag("--all", revoke_flags->all, "Revoke every live key of the account");
  revoke->callback([revoke_flags, &context] { context.exit_code = AccountsRevoke(*revoke_flags); });
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
  RegisterAccounts(trader, context);

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
  load->add_option("--account", l->account,
                   "Account name prefix: worker N trades as <prefix>-N")
      ->capture_default_str();
  load->add_option("--api-keys", l->api_keys,
                   "File of '<account> <api key>' lines, mode 0600 (default with --dir: "
                   "<dir>/secrets/api-keys, which the lab writes)");
  load->add_flag("--json", l->json, "Print the final report as JSON on stdout");
  load->callback([l, &context] { context.exit_code = Load(*l); });
}

const CommandRegistration registration(40, Register);

}  // namespace
}  // namespace pilotlight::cli
