#include "config/model.h"

#include <filesystem>

namespace pilotlight::config {

const char* RoleName(RegionRole role) {
  return role == RegionRole::kPrimary ? "primary" : "dr";
}

const RegionSpec& Config::Primary() const {
  for (const RegionSpec& r : regions) {
    if (r.role == RegionRole::kPrimary) return r;
  }
  return regions.front();
}

const RegionSpec& Config::Dr() const {
  for (const RegionSpec& r : regions) {
    if (r.role == RegionRole::kDr) return r;
  }
  return regions.back();
}

const RegionSpec* Config::FindRegion(const std::string& name) const {
  for (const RegionSpec& r : regions) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const RunbookConfig* Config::FindRunbook(const std::string& name) const {
  for (const RunbookConfig& r : runbooks) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::string ListenAddress::ToString() const {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::string Config::ControllerSite() const {
  return controller.site.empty() ? "witness" : controller.site;
}

std::vector<ProbeAgentConfig> Config::ProbeAgents() const {
  if (!controller.probe_agents.empty()) return controller.probe_agents;
  ProbeAgentConfig dr;
  dr.site = Dr().name;
  dr.listen.address = Dr().address;
  dr.listen.port = kDefaultProbeAgentPort;
  return {dr};
}

std::string PostgresSecretFile(const std::string& dir, const std::string& region,
                               const std::string& role) {
  return dir + "/" + region + ".postgres." + role + ".password";
}

std::string RedisSecretFile(const std::string& dir, const std::string& region) {
  return dir + "/" + region + ".redis.password";
}

void ApplySecretsDir(Config& config, const std::string& dir) {
  auto fill = [&](std::string& file, const std::string& candidate) {
    std::error_code ec;
    if (file.empty() && !dir.empty() && std::filesystem::exists(candidate, ec)) file = candidate;
  };
  for (RegionSpec& r : config.regions) {
    PostgresSpec& pg = r.postgres;
    fill(pg.password_file, PostgresSecretFile(dir, r.name, pg.user));
    if (!pg.app_user.empty() && pg.app_user != pg.user) {
      fill(pg.app_password_file, PostgresSecretFile(dir, r.name, pg.app_user));
    }
    if (!pg.replication_user.empty()) {
      fill(pg.replication_password_file, PostgresSecretFile(dir, r.name, pg.replication_user));
    }
    fill(r.redis.password_file, RedisSecretFile(dir, r.name));
  }
  for (health::CheckSpec& check : config.detection.checks) PostgresCheckCredentials(config, check);
}

void PostgresCheckCredentials(const Config& config, health::CheckSpec& check) {
  if (check.kind != health::ProbeKind::kPostgres) return;
  for (const RegionSpec& r : config.regions) {
    if (r.address != check.host || r.postgres.port != check.port) continue;
    if (check.pg_password_file.empty()) {
      if (check.pg_user == r.postgres.user) check.pg_password_file = r.postgres.password_file;
      if (check.pg_user == r.postgres.app_user) {
        check.pg_password_file = r.postgres.app_password_file;
      }
    }
    if (check.pg_sslmode.empty()) check.pg_sslmode = r.postgres.sslmode;
    if (check.pg_sslrootcert.empty()) check.pg_sslrootcert = r.postgres.sslrootcert;
  }
}

}  // namespace pilotlight::config
