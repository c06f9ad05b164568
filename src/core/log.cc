#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace pilotlight {
namespace {

spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_color_mt("pilotlight");
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    l->set_level(spdlog::level::info);
    return l;
  }();
  return *logger;
}

}  // namespace

void InitLogging(LogLevel level) {
  spdlog::level::level_enum l = spdlog::level::info;
  switch (level) {
    case LogLevel::kDebug: l = spdlog::level::debug; break;
    case LogLevel::kInfo: l = spdlog::level::info; break;
    case LogLevel::kWarn: l = spdlog::level::warn; break;
    case LogLevel::kError: l = spdlog::level::err; break;
  }
  Logger().set_level(l);
}

void LogDebug(std::string_view msg) { Logger().debug("{}", msg); }
void LogInfo(std::string_view msg) { Logger().info("{}", msg); }
void LogWarn(std::string_view msg) { Logger().warn("{}", msg); }
void LogError(std::string_view msg) { Logger().error("{}", msg); }

}  // namespace pilotlight
