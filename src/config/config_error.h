// Where a problem sits in an operator-written file, and the problem itself: the
// currency of every reader built on config/schema_reader.h (the config loader,
// the price list, the zone file). Plain values: thread-compatible.
#pragma once

#include <string>

namespace pilotlight::config {

// A position in a config file; line and column are 1-based (0 = unknown).
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
};

// One problem found in a config file.
struct ConfigError {
  SourceLocation where;
  std::string field;     // path of the field, e.g. "regions[1].postgres.port"
  std::string expected;  // what was expected, e.g. "an integer port 1-65535"
  std::string found;     // what was found, e.g. "'abc'"
  // "lab.yaml:12:7: regions[1].postgres.port: expected an integer port 1-65535, found 'abc'"
  std::string ToString() const;
};

}  // namespace pilotlight::config
