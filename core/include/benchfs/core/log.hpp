#pragma once
// Logging setup. Project code logs through spdlog's default logger; this sets
// its level (from an option, else BENCHFS_LOG_LEVEL, else "info") and pattern.

#include <string>
#include <string_view>

#include "benchfs/core/status.hpp"

namespace benchfs {

/// Configures the default spdlog logger to write to stderr with `name` as the
/// logger name. `level` is one of trace, debug, info, warn, error, critical,
/// off; empty means BENCHFS_LOG_LEVEL or "info". Returns EINVAL for an
/// unknown level name.
Status init_logging(std::string_view name, std::string_view level = {});

/// True when `level` names a spdlog level.
bool is_log_level(std::string_view level);

}  // namespace benchfs
