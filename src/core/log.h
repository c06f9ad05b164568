// Process-wide logging, a thin front over spdlog so that only log.cc pulls in
// its headers. Messages are plain strings; callers format with fmt or +.
// Thread-safe after InitLogging(); call InitLogging once from main().
#pragma once

#include <string_view>

namespace pilotlight {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Logs go to stderr (so stdout stays clean for --json output).
void InitLogging(LogLevel level);

void LogDebug(std::string_view msg);
void LogInfo(std::string_view msg);
void LogWarn(std::string_view msg);
void LogError(std::string_view msg);

}  // namespace pilotlight
