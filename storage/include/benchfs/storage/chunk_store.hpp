#pragma once
// ChunkStore (DESIGN.md section 6): the file data one server holds, chunk by
// chunk, in a tbb::concurrent_hash_map<ChunkKey, shared_ptr<Chunk>> shared by
// all progress threads.
//
// Buffers: a chunk whose first write starts at offset 0 and ends below
// kSmallChunkLimit gets a small buffer (power of two, >= 4 KiB) that grows by
// doubling up to that limit and to the full chunk size past it; any other
// chunk gets the full chunk size at once, from a
// BufferPool that keeps freed buffers resident for reuse. Holes read as
// zeros: a reused buffer is zeroed lazily, only below the start of a write
// that leaves a gap (a write covering a chunk from offset 0 zeroes nothing),
// so no byte of an earlier file is ever readable.
//
// Leases: a WriteLease / ReadLease pins the chunk (shared_ptr) and its buffer
// (the buffer never moves or shrinks while any lease on it is alive). A write
// lease gives the destination pointer for a receive (rendezvous straight into
// the chunk); commit() then extends the valid length with an atomic max. A
// read lease gives the bytes to send; keep it until the send completes.
// Growing a small buffer while leases on it are alive is refused (EAGAIN;
// the client retries).
//
// Accounting: bytes_used() is the sum of buffer capacities. Allocations that
// would pass memory_limit (0 = none) fail with ENOSPC and change nothing.
// A removed chunk returns its bytes when its last lease ends.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "benchfs/core/status.hpp"
#include "benchfs/storage/buffer_pool.hpp"

namespace benchfs::storage {

struct ChunkKey {
  uint64_t ino = 0;
  uint64_t index = 0;
  bool operator==(const ChunkKey&) const = default;
};

class Chunk;
class ChunkStore;

/// Largest first write (ending at or below this, starting at 0) that gets a small buffer.
inline constexpr uint64_t kSmallChunkLimit = 64 * 1024;

class WriteLease {
 public:
  WriteLease() = default;
  WriteLease(WriteLease&&) noexcept;
  WriteLease& operator=(WriteLease&&) noexcept;
  ~WriteLease();  ///< ends the lease without committing
  WriteLease(const WriteLease&) = delete;
  WriteLease& operator=(const WriteLease&) = delete;

  [[nodiscard]] explicit operator bool() const { return chunk_ != nullptr; }
  /// Where the `length` bytes of the write go (inside the chunk buffer).
  [[nodiscard]] std::byte* data() const { return dst_; }
  [[nodiscard]] uint64_t length() const { return length_; }
  /// The bytes are in place: valid length = max(valid, offset + length).
  /// Ends the lease.
  void commit();
  /// Ends the lease without extending the valid length.
  void reset();

 private:
  friend class ChunkStore;
  std::shared_ptr<Chunk> chunk_;
  std::byte* dst_ = nullptr;
  uint64_t offset_ = 0;
  uint64_t length_ = 0;
};

class ReadLease {
 public:
  ReadLease() = default;
  ReadLease(ReadLease&&) noexcept;
  ReadLease& operator=(ReadLease&&) noexcept;
  ~ReadLease();
  ReadLease(const ReadLease&) = delete;
  ReadLease& operator=(const ReadLease&) = delete;

  /// Bytes available from the requested offset (clamped to the chunk's valid
  /// length; 0 when the chunk does not exist or ends before the offset).
  [[nodiscard]] const std::byte* data() const { return src_; }
  [[nodiscard]] uint64_t length() const { return length_; }
  void reset();

 private:
  friend class ChunkStore;
  std::shared_ptr<Chunk> chunk_;
  const std::byte* src_ = nullptr;
  uint64_t length_ = 0;
};

struct RemoveResult {
  uint64_t chunks = 0;  ///< chunks removed entirely
  uint64_t bytes = 0;   ///< buffer bytes released (or to be released when leases end)
};

struct ChunkStoreStats {
  uint64_t chunks = 0;
  uint64_t bytes_used = 0;
  uint64_t memory_limit = 0;
  uint64_t enospc = 0;        ///< allocations refused by the limit
  uint64_t grow_refused = 0;  ///< EAGAIN: grow while leased
  BufferPoolStats pool;
};

class ChunkStore {
 public:
  /// chunk_size: bytes per chunk (> 0); memory_limit: 0 = unlimited;
  /// pool: the full-size buffer pool (its retain is capped at memory_limit
  /// when there is one, and its reserve holds at most what the limit leaves
  /// after the data).
  ChunkStore(uint64_t chunk_size, uint64_t memory_limit, PoolOptions pool = {});
  ~ChunkStore();
  ChunkStore(const ChunkStore&) = delete;
  ChunkStore& operator=(const ChunkStore&) = delete;

  [[nodiscard]] uint64_t chunk_size() const { return chunk_size_; }

  /// Prepares [offset, offset + length) of chunk `key` for writing, creating
  /// or growing the chunk. EINVAL: range outside the chunk or length 0;
  /// ENOSPC: over the memory limit; EAGAIN: needs to grow while leased.
  Result<WriteLease> begin_write(ChunkKey key, uint64_t offset, uint64_t length);
  /// begin_write + memcpy + commit (eager data).
  Status write(ChunkKey key, uint64_t offset, const void* src, uint64_t length);
  /// Bytes of [offset, offset + length) that exist. EINVAL: range outside the chunk.
  Result<ReadLease> begin_read(ChunkKey key, uint64_t offset, uint64_t length);

  /// Drops every chunk of `ino` at or past byte `keep` of the file, and
  /// trims (zeroes past keep, lowers the valid length of) the chunk holding
  /// byte `keep`. keep = 0 removes the file's data.
  RemoveResult remove(uint64_t ino, uint64_t keep);

  [[nodiscard]] uint64_t bytes_used() const { return used_.load(std::memory_order_relaxed); }
  [[nodiscard]] ChunkStoreStats stats() const;
  /// Makes up to `bytes` of full-size buffers resident now (see BufferPool).
  uint64_t prefault(uint64_t bytes) { return pool_.prefault(bytes); }
  /// The server is serving a request (any op): the reserve's background
  /// fill waits for a quiet spell. Cheap (one relaxed load per call, a
  /// store at most once per millisecond).
  void note_activity() { pool_.note_activity(); }
  /// Waits (at most timeout_ms) until the pool's reserve is full; see BufferPool.
  bool wait_reserve(int timeout_ms) { return pool_.wait_reserve(timeout_ms); }

 private:
  friend class Chunk;
  struct Impl;
  PoolOptions capped(PoolOptions o);
  bool reserve(uint64_t bytes);
  void release(uint64_t bytes);

  const uint64_t chunk_size_;
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> enospc_{0};
  std::atomic<uint64_t> grow_refused_{0};
  BufferPool pool_;  // before impl_: chunks return their buffers to it
  std::unique_ptr<Impl> impl_;
};

}  // namespace benchfs::storage
