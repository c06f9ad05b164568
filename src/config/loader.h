// Loading and validating a configuration file.
//
// Every problem is reported, not only the first: a LoadResult holds either a
// Config or the full list of ConfigErrors, each with file:line:column, the field,
// what was expected and what was found. Unknown keys are errors. Relative file
// paths in the config (file subscribers, TSIG secret files) are resolved against
// the directory of the config file. Thread-safe (no shared state) except
// ResolveWebhookSecrets, which reads the environment.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace pilotlight::config {

struct LoadResult {
  std::optional<Config> config;     // set only when errors is empty
  std::vector<ConfigError> errors;
  bool ok() const { return config.has_value() && errors.empty(); }
};

// Parses YAML text; `file` is used in error locations.
LoadResult ParseConfig(std::string_view yaml_text, const std::string& file);

// Reads and parses a file; an unreadable file is one error naming it.
LoadResult LoadConfigFile(const std::string& path);

// LoadConfigFile for commands: every error in one InvalidArgument message,
// "N error(s) in PATH (run pilotlight config validate PATH):" then one
// file:line:col line each.
Result<Config> LoadConfigOrError(const std::string& path);

// Fills each webhook subscriber's secret from the environment variable its
// `secret_env` names (`lookup` is getenv unless a test gives another). An unset
// or empty variable is an error at its secret_env line: sending unsigned
// messages to a receiver that expects signed ones would look like it works.
std::vector<ConfigError> ResolveWebhookSecrets(
    Config& config, const std::function<const char*(const char*)>& lookup = {});

// The publisher's options with its TSIG secret read from `secret_file` (the
// base64 secret, as in a BIND or Knot key; surrounding white space ignored).
Result<dns::Rfc2136Options> LoadPublisherOptions(const DnsPublisherSpec& spec);

}  // namespace pilotlight::config
