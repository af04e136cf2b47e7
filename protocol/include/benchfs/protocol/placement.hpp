#pragma once
// Placement (DESIGN.md section 6): which server owns a path's metadata and
// which server holds chunk k of an inode.

#include <cstdint>
#include <string_view>

namespace benchfs::protocol::placement {

/// Full avalanche of one 64-bit word (the splitmix64 finalizer): what
/// path_hash() ends with, and the chunk store's key hash.
inline uint64_t mix_bits(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

/// A 64-bit hash of a path with full avalanche (every input bit affects
/// every output bit); stable across runs and machines.
uint64_t path_hash(std::string_view path);

/// Metadata owner of `path` among `servers` servers.
inline uint32_t metadata_owner(std::string_view path, uint32_t servers) {
  return servers == 0 ? 0 : static_cast<uint32_t>(path_hash(path) % servers);
}

/// Inode numbers carry their owner in the top 16 bits.
inline constexpr unsigned kInoOwnerShift = 48;
inline uint32_t inode_owner(uint64_t ino) { return static_cast<uint32_t>(ino >> kInoOwnerShift); }
inline uint64_t make_inode(uint32_t owner, uint64_t counter) {
  return (static_cast<uint64_t>(owner) << kInoOwnerShift) | (counter & ((1ull << kInoOwnerShift) - 1));
}

/// Server holding chunk `index` of inode `ino`.
inline uint32_t chunk_holder(uint64_t ino, uint64_t index, uint32_t servers) {
  return servers == 0 ? 0 : static_cast<uint32_t>((inode_owner(ino) + index) % servers);
}

}  // namespace benchfs::protocol::placement

namespace benchfs {
/// The protocol module's parts by their short names (benchfs::placement).
namespace placement = protocol::placement;
}  // namespace benchfs
