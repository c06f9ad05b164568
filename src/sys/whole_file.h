// Reading a whole file, for loaders of operator-written files (configs, price
// files, drill history). Thread-safe (no shared state).
#pragma once

#include <string>

#include "core/status.h"

namespace pilotlight::sys {

// The file's bytes. On failure an IOError whose message is exactly the OS's
// reason (strerror: "No such file or directory", "Is a directory"), so callers
// can report it as what they found. Retries reads interrupted by signals.
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace pilotlight::sys
