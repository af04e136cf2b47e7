#pragma once
// Shared by the seed generator (make_seeds.cpp) and the codec's unit test
// (tests/unit/test_codec.cpp): requests built from a base request (op and
// ids) and the fields of their kind.

#include <cstdint>
#include <string_view>

#include "benchfs/protocol/codec.hpp"

namespace benchfs::wire_test {

/// `r` on `path`, with these permission bits and O_* flags.
inline wire::Request path_op(wire::Request r, std::string_view path, uint32_t mode = 0,
                             uint32_t open_flags = 0) {
  r.path = path;
  r.mode = mode;
  r.open_flags = open_flags;
  return r;
}

/// `r` on chunk `index` of inode `ino`: `length` bytes at `offset` in the chunk.
inline wire::Request chunk_op(wire::Request r, uint64_t ino, uint64_t index, uint64_t offset,
                              uint64_t length) {
  r.ino = ino;
  r.index = index;
  r.offset = offset;
  r.length = length;
  return r;
}

}  // namespace benchfs::wire_test
