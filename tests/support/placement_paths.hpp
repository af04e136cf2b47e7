#pragma once
// Paths with a chosen metadata owner, for tests that need a file on a given
// server (link benchfs::storage).

#include <cstdint>
#include <string>

#include "benchfs/protocol/placement.hpp"

namespace benchfs::test {

/// The skip+1-th path "<prefix><n>" whose metadata owner among `servers`
/// servers is `owner`.
inline std::string path_on(const std::string& prefix, uint32_t owner, uint32_t servers, int skip = 0) {
  for (int n = 0;; ++n) {
    std::string p = prefix + std::to_string(n);
    if (placement::metadata_owner(p, servers) == owner && skip-- == 0) return p;
  }
}

}  // namespace benchfs::test
