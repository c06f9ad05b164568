// Loading a config file: reading it within bounds and parsing it
// (config/yaml_reader.h), walking it section by section (config/config_reader.h:
// each section's schema lives in its schema_*.cc), and the entry points of
// config/loader.h.
//
// The walk records a ConfigError for every problem and carries on, so one run
// reports everything; the errors come back sorted by line and column. Names one
// section gives another (topics, checks, children) are resolved once all are
// read; then the detection's and the DNS zone compiler's own validators run, and
// what they refuse is reported at the item it concerns.
#include "config/loader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "config/config_reader.h"
#include "config/yaml_reader.h"
#include "dns/update/tsig.h"

namespace pilotlight::config {
namespace {

constexpr std::string_view kTopKeys[] = {
    "platform", "regions",    "objectives",       "replication", "health_checks",
    "alarms",   "topics",     "detection",        "dns",         "runbooks",
    "cost",     "controller", "responsibilities", "secrets_dir",
};

LoadResult Failure(ConfigError error) {
  LoadResult result;
  result.errors.push_back(std::move(error));
  return result;
}

}  // namespace

Config ConfigReader::Read(const YamlNode& root) {
  Config config;
  config.file = file_;
  const std::optional<Mapping> top =
      AsMapping(root, root.Mark(), "", "a mapping with the keys platform and regions", kTopKeys);
  if (!top) return config;

  if (const Field* f = Require(*top, "platform", "a non-empty platform name")) {
    if (std::optional<std::string> name = ReadFreeName(*f, "a non-empty platform name")) {
      config.platform = std::move(*name);
    }
  }
  if (const Field* f = Require(*top, "regions", "a sequence of regions")) {
    ReadRegions(*f, config);
  }
  if (const Field* f = top->Find("objectives")) ReadObjectives(*f, config.objectives);
  if (const Field* f = top->Find("replication")) ReadReplication(*f, config.replication);
  if (const Field* f = top->Find("cost")) ReadCost(*f, config.cost);
  if (const Field* f = top->Find("health_checks")) ReadChecks(*f, config);
  if (const Field* f = top->Find("alarms")) ReadAlarms(*f, config);
  if (const Field* f = top->Find("topics")) ReadTopics(*f, config);
  if (const Field* f = top->Find("detection")) ReadDetection(*f, config.detection);
  if (const Field* f = top->Find("dns")) ReadDns(*f, config.dns);
  if (const Field* f = top->Find("controller")) ReadController(*f, config);
  if (const Field* f = top->Find("runbooks")) ReadRunbooks(*f, config);
  if (const Field* f = top->Find("responsibilities")) ReadResponsibilities(*f, config);
  if (const Field* f = top->Find("secrets_dir")) {
    constexpr std::string_view kDir =
        "the path of a directory of credential files (relative to the config file)";
    if (std::optional<std::string> dir = ReadScalar(*f, kDir)) {
      if (dir->empty()) {
        Report(At(*f), f->path, std::string(kDir), "''");
      } else {
        config.secrets_dir = ResolvePath(*dir);
      }
    }
  }
  ApplySecretsDir(config, config.secrets_dir);
  CheckReferences(config);
  CheckListeners();
  CheckVantageSites(config);
  if (errors_.empty()) ValidateDetectionSemantics(config);
  return config;
}

std::string ConfigReader::ResolvePath(const std::string& path) const {
  const std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  const std::filesystem::path dir = std::filesystem::path(file_).parent_path();
  return dir.empty() ? path : (dir / p).lexically_normal().string();
}

LoadResult ParseConfig(std::string_view yaml_text, const std::string& file) {
  ConfigReader reader(file);
  Config config;
  LoadResult result;
  result.errors = WalkYaml(yaml_text, file, "a mapping with the keys platform and regions",
                           "a config the loader can read", reader,
                           [&](const YamlNode& root) { config = reader.Read(root); });
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

LoadResult LoadConfigFile(const std::string& path) {
  Result<std::string> text = ReadYamlFile(path);
  if (!text.ok()) {
    return Failure({{path, 0, 0}, "", "a readable config file", text.status().message()});
  }
  return ParseConfig(*text, path);  // Config.file is `path`, as given
}

Result<Config> LoadConfigOrError(const std::string& path) {
  LoadResult r = LoadConfigFile(path);
  if (!r.ok()) {
    std::string msg = std::to_string(r.errors.size()) + " error(s) in " + path +
                      " (run pilotlight config validate " + path + "):";
    for (const ConfigError& e : r.errors) msg += "\n  " + e.ToString();
    return Status::InvalidArgument(msg);
  }
  return std::move(*r.config);
}

std::vector<ConfigError> ResolveWebhookSecrets(
    Config& config, const std::function<const char*(const char*)>& lookup) {
  std::vector<ConfigError> errors;
  for (const SecretReference& ref : config.webhook_secrets) {
    const char* value = lookup ? lookup(ref.env.c_str()) : std::getenv(ref.env.c_str());
    if (value == nullptr || *value == '\0') {
      errors.push_back({ref.where, ref.field,
                        "the environment variable " + ref.env +
                            " to hold the webhook's HMAC secret (export it, or remove "
                            "secret_env to send unsigned messages)",
                        value == nullptr ? "it is not set" : "it is empty"});
      continue;
    }
    if (ref.topic < config.detection.topics.size() &&
        ref.subscriber < config.detection.topics[ref.topic].subscribers.size()) {
      config.detection.topics[ref.topic].subscribers[ref.subscriber].secret = value;
    }
  }
  return errors;
}

Result<dns::Rfc2136Options> LoadPublisherOptions(const DnsPublisherSpec& spec) {
  const std::string where = spec.where.file + ":" + std::to_string(spec.where.line) + ": ";
  const int fd = ::open(spec.secret_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::IOError(where + "cannot read the TSIG secret file " + spec.secret_file + ": " +
                           std::strerror(errno));
  }
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || text.size() > 64 * 1024) {
      ::close(fd);
      return Status::IOError(where + "cannot read the TSIG secret file " + spec.secret_file);
    }
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  const size_t begin = text.find_first_not_of(" \t\r\n");
  const size_t end = text.find_last_not_of(" \t\r\n");
  const std::string secret = begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
  Result<dns::TsigKey> key = dns::TsigKey::FromBase64(spec.options.key.name.ToString(), secret);
  if (!key.ok()) {
    return key.status().Annotate(where + "TSIG secret file " + spec.secret_file);
  }
  dns::Rfc2136Options options = spec.options;
  options.key = std::move(*key);
  return options;
}

}  // namespace pilotlight::config
