#pragma once
// Parsing of user-facing quantities: sizes with k/m/g suffixes, host:port.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "benchfs/core/status.hpp"

namespace benchfs {

/// Parses "4096", "64k", "1m", "2g", "1MiB", "8KB" (binary multiples, case
/// insensitive). EINVAL on anything else, ERANGE on overflow.
Result<uint64_t> parse_size(std::string_view text);

/// Parses a comma-separated list of sizes ("64,4k,1m"), each as parse_size
/// does; the error names the item that does not parse.
Result<std::vector<uint64_t>> parse_size_list(std::string_view text);

/// "1 MiB", "4 KiB", "17 B": the largest binary unit that divides exactly.
std::string format_size(uint64_t bytes);

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

/// Parses "host:port", "host" (port 0), ":port" (host 0.0.0.0) or
/// "[v6addr]:port". EINVAL for a bad port.
Result<HostPort> parse_host_port(std::string_view text);

/// Parses a non-negative decimal integer that fits in uint64_t.
Result<uint64_t> parse_u64(std::string_view text);

}  // namespace benchfs
