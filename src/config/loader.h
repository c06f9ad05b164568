// Loading and validating a configuration file.
//
// Every problem is reported, not only the first: a LoadResult holds either a
// Config or the full list of ConfigErrors, each with file:line:column, the field,
// what was expected and what was found. Unknown keys are errors. Thread-safe
// (no shared state).
#pragma once

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

}  // namespace pilotlight::config
