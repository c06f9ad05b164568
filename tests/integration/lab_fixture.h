// A lab of a test's own: its state in a fresh temp directory, its regions on
// loopback addresses derived from the test's pid (127.N.1.1 and 127.N.2.1) and
// ports of the test process's own block (PickPort, testing/ports.h), so a
// developer's lab on 127.0.1.1 / 127.0.2.1 and other tests do not collide.
// Started and stopped through the real pilotlight binary.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/postgres/pg_client.h"
#include "data/sessions/redis_client.h"
#include "test_util.h"

namespace pilotlight::testing {

struct TestLab {
  std::string dir;
  std::string config;
  std::string primary_address;
  std::string dr_address;
  uint16_t primary_pg = 0;
  uint16_t dr_pg = 0;
  uint16_t primary_redis = 0;
  uint16_t dr_redis = 0;
  uint16_t trader_port = 0;  // the node group "trader" of both regions; 0 = no node group
  // With DNS (MakeTestLab's `with_dns`): the lab's DNS server on the third site
  // (127.N.3.1) answers `service_name` with failover routing, primary first.
  std::string dns_address;
  uint16_t dns_port = 0;
  std::string service_name;  // "api.lab.test."

  // "lab <cmd...> --dir DIR --config CONFIG"
  std::vector<std::string> Args(std::vector<std::string> cmd) const {
    std::vector<std::string> args = {"lab"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    args.insert(args.end(), {"--dir", dir, "--config", config});
    return args;
  }
  // The application database ("trading") of a region, as the lab's admin role
  // with its password (the lab makes them in <dir>/secrets on `up`), and the
  // application role's.
  pg::Endpoint Pg(bool primary) const {
    pg::Endpoint e;
    e.host = primary ? primary_address : dr_address;
    e.port = primary ? primary_pg : dr_pg;
    e.database = "trading";
    const std::string region = primary ? "primary" : "dr";
    e.password_file = dir + "/secrets/" + region + ".postgres.postgres.password";
    e.application_user = "trader";
    e.application_password_file = dir + "/secrets/" + region + ".postgres.trader.password";
    return e;
  }
  // A region's Redis, logged in with the lab's password for it.
  sessions::RedisEndpoint Redis(bool primary) const {
    sessions::RedisEndpoint e;
    e.host = primary ? primary_address : dr_address;
    e.port = primary ? primary_redis : dr_redis;
    e.password_file = dir + "/secrets/" + std::string(primary ? "primary" : "dr") + ".redis.password";
    return e;
  }
  // `lab status --json`, parsed (discarded JSON on failure).
  nlohmann::json StatusJson() const {
    CommandResult r = RunPilotlight(Args({"status", "--json"}));
    return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  }
  // Stops the lab and deletes its data; PILOTLIGHT_KEEP_LAB=1 keeps the data
  // and logs for a post-mortem (the lab is still stopped).
  void Destroy() const {
    const bool keep = getenv("PILOTLIGHT_KEEP_LAB") != nullptr;
    RunPilotlight(Args(keep ? std::vector<std::string>{"down"}
                            : std::vector<std::string>{"down", "--purge"}));
    if (!keep) std::filesystem::remove(config);
  }
};

// Makes (does not start) a lab. `extra_yaml` is appended to the config: top-level
// sections such as "replication:\n  heartbeat_interval: 200ms\n". With
// `trader_production_size` > 0 both regions get a node group "trader" on a free
// port (production size in the primary, `trader_pilot_light_size` in DR).
// With `with_dns` (needs a node group) the config also gets health checks of
// both regions' PostgreSQL and trader (fast: 200ms) and a dns section whose
// api record fails over from the primary's trader to DR's; `extra_yaml` must
// then not declare health_checks or dns itself. In `extra_yaml`, "{site}" is
// replaced by the third site's address (127.N.3.1) and each "{site_port}" by a
// free port on it (e.g. "controller:\n  lease:\n    listen: {site}:{site_port}\n").
inline TestLab MakeTestLab(const std::string& extra_yaml = "", int trader_production_size = 0,
                           int trader_pilot_light_size = 1, bool with_dns = false) {
  TestLab lab;
  lab.dir = ScratchDir("lab-test").Release();  // Destroy() removes it (lab down --purge)
  const int net = 10 + getpid() % 200;
  lab.primary_address = "127." + std::to_string(net) + ".1.1";
  lab.dr_address = "127." + std::to_string(net) + ".2.1";
  lab.primary_pg = PickPort(lab.primary_address);
  lab.dr_pg = PickPort(lab.dr_address);
  lab.primary_redis = PickPort(lab.primary_address);
  lab.dr_redis = PickPort(lab.dr_address);
  std::string node_groups;
  if (trader_production_size > 0) {
    lab.trader_port = PickPort(lab.primary_address);
    node_groups = "    node_groups: [{name: trader, production_size: " +
                  std::to_string(trader_production_size) +
                  ", pilot_light_size: " + std::to_string(trader_pilot_light_size) +
                  ", port: " + std::to_string(lab.trader_port) + "}]\n";
  }
  std::string dns;
  if (with_dns && trader_production_size > 0) {
    lab.dns_address = "127." + std::to_string(net) + ".3.1";
    lab.dns_port = PickPort(lab.dns_address);
    lab.service_name = "api.lab.test.";
    auto check = [](const std::string& name, const std::string& region, const std::string& kind) {
      return "  - {name: " + name + ", region: " + region + ", " + kind +
             ", interval: 200ms, timeout: 150ms, failure_threshold: 3, success_threshold: 2}\n";
    };
    dns = "health_checks:\n" +
          check("primary-postgres", "primary", "type: postgres, must_be_writable: true") +
          check("dr-postgres", "dr", "type: postgres") +
          check("primary-trader", "primary", "type: http, path: /readyz") +
          check("dr-trader", "dr", "type: http, path: /readyz") +
          "dns:\n"
          "  listen: " + lab.dns_address + ":" + std::to_string(lab.dns_port) + "\n"
          "  reload_interval: 100ms\n"
          "  zones:\n"
          "    - origin: lab.test.\n"
          "      ns: [ns1]\n"
          "      records:\n"
          "        - {name: ns1, type: A, values: [" + lab.dns_address + "]}\n"
          "        - name: api\n"
          "          type: A\n"
          "          ttl: 1\n"
          "          failover:\n"
          "            primary: {values: [" + lab.primary_address + "], health_check: primary-trader}\n"
          "            secondary: {values: [" + lab.dr_address + "], health_check: dr-trader}\n";
  }
  std::string extra = extra_yaml;
  const std::string site = "127." + std::to_string(net) + ".3.1";
  for (size_t at; (at = extra.find("{site_port}")) != std::string::npos;) {
    extra.replace(at, 11, std::to_string(PickPort(site)));
  }
  for (size_t at; (at = extra.find("{site}")) != std::string::npos;) extra.replace(at, 6, site);
  lab.config = lab.dir + ".yaml";
  std::ofstream out(lab.config);
  out << "platform: lab-test\n"
         "regions:\n"
         "  - name: primary\n"
         "    role: primary\n"
         "    address: " << lab.primary_address << "\n"
         "    postgres: {port: " << lab.primary_pg << "}\n"
         "    redis: {port: " << lab.primary_redis << "}\n"
         "    buckets: [{name: confirmations}]\n"
      << node_groups <<
         "  - name: dr\n"
         "    role: dr\n"
         "    address: " << lab.dr_address << "\n"
         "    postgres: {port: " << lab.dr_pg << "}\n"
         "    redis: {port: " << lab.dr_redis << "}\n"
         "    buckets: [{name: confirmations}]\n"
      << node_groups << extra << dns;
  return lab;
}

}  // namespace pilotlight::testing
