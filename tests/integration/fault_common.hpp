#pragma once
// Shared by the fault, load and file-system tests and the client programs
// they start (fault_client, load_client): the data pattern every read is
// checked against, errno names and a monotonic clock.

#include <time.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace benchfs::faults {

/// Byte `off` of the pattern `seed`: every (seed, offset) gives a different
/// byte sequence, so a stale or misplaced block never reads back right.
inline uint8_t pattern_byte(uint64_t seed, uint64_t off) {
  uint64_t x = off + seed * 0x9E3779B97F4A7C15ull;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return static_cast<uint8_t>(x >> 24);
}

inline void fill_pattern(uint8_t* dst, size_t n, uint64_t seed, uint64_t off) {
  for (size_t i = 0; i < n; ++i) dst[i] = pattern_byte(seed, off + i);
}

/// Index of the first byte that differs from the pattern, or -1.
inline long long first_mismatch(const uint8_t* got, size_t n, uint64_t seed, uint64_t off) {
  for (size_t i = 0; i < n; ++i)
    if (got[i] != pattern_byte(seed, off + i)) return static_cast<long long>(i);
  return -1;
}

/// "EIO" for EIO, "errno 1234" for an unknown value.
inline std::string errno_name(int e) {
  const char* n = strerrorname_np(e);
  return n != nullptr ? std::string(n) : "errno " + std::to_string(e);
}

/// errno value for a name errno_name() printed (0 if unknown).
inline int errno_from_name(const std::string& name) {
  for (int e = 1; e < 200; ++e) {
    const char* n = strerrorname_np(e);
    if (n != nullptr && name == n) return e;
  }
  return 0;
}

inline double mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace benchfs::faults
