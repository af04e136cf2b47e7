#pragma once
// Randomness for secrets and session tokens (getrandom(2)), and hex helpers.

#include <cstdint>
#include <string>
#include <string_view>

#include "benchfs/core/status.hpp"

namespace benchfs {

/// 64 bits from the kernel's CSPRNG. Never returns 0 (0 means "no session").
uint64_t secure_random_u64();

/// Lower-case, zero-padded 16-digit hex.
std::string to_hex64(uint64_t v);

/// Parses exactly 16 hex digits.
Result<uint64_t> parse_hex64(std::string_view text);

}  // namespace benchfs
