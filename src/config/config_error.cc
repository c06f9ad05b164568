#include "config/config_error.h"

namespace pilotlight::config {

std::string ConfigError::ToString() const {
  std::string out = where.file;
  if (where.line > 0) {
    out += ":" + std::to_string(where.line);
    if (where.column > 0) out += ":" + std::to_string(where.column);
  }
  out += ": ";
  if (!field.empty()) out += field + ": ";
  out += "expected " + expected;
  if (!found.empty()) out += ", found " + found;
  return out;
}

}  // namespace pilotlight::config
