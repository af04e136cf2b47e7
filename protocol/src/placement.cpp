#include "benchfs/protocol/placement.hpp"

#include <cstring>

namespace benchfs::protocol::placement {

namespace {

constexpr uint64_t kMul1 = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kMul2 = 0xC2B2AE3D27D4EB4Full;

inline uint64_t mix(uint64_t h, uint64_t word) {
  __uint128_t m = static_cast<__uint128_t>(h ^ word) * kMul2;
  return static_cast<uint64_t>(m) ^ static_cast<uint64_t>(m >> 64);
}

}  // namespace

uint64_t path_hash(std::string_view path) {
  uint64_t h = kMul1 ^ (static_cast<uint64_t>(path.size()) * kMul2);
  const char* p = path.data();
  size_t n = path.size();
  while (n >= 8) {
    uint64_t w = 0;
    std::memcpy(&w, p, 8);
    h = mix(h, w) + kMul1;
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  for (size_t i = 0; i < n; ++i) tail |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  h = mix(h, tail ^ (static_cast<uint64_t>(n) << 56));
  return mix_bits(h);
}

}  // namespace benchfs::protocol::placement
