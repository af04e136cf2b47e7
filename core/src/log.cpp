#include "benchfs/core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cstdlib>

namespace benchfs {

namespace {
constexpr std::array<std::string_view, 7> kLevels = {"trace", "debug",    "info", "warn",
                                                     "error", "critical", "off"};
}

bool is_log_level(std::string_view level) {
  for (auto l : kLevels)
    if (l == level) return true;
  return false;
}

Status init_logging(std::string_view name, std::string_view level) {
  std::string lvl(level);
  if (lvl.empty()) {
    const char* env = std::getenv("BENCHFS_LOG_LEVEL");
    lvl = (env != nullptr && *env != '\0') ? env : "info";
  }
  if (!is_log_level(lvl)) return Status(EINVAL, "unknown log level '" + lvl + "'");
  const std::string logger_name(name);
  auto logger = spdlog::get(logger_name);
  if (!logger) logger = spdlog::stderr_logger_mt(logger_name);
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%n:%P] [%^%l%$] %v");
  logger->set_level(spdlog::level::from_str(lvl));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return Status();
}

}  // namespace benchfs
