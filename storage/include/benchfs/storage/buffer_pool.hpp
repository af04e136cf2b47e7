#pragma once
// BufferPool: the full-size chunk buffers of one ChunkStore.
//
// Why: on this kind of machine the first touch of fresh anonymous memory
// costs about 400 us per MiB (one page fault per 4 KiB page), four times
// what moving the MiB over shared memory costs. A buffer freed by a removed
// file is therefore kept, still resident, and handed to the next chunk
// instead of asking the kernel for new pages.
//
// Memory comes from slabs (mmap'd, 2 MiB aligned, advised for transparent
// huge pages) cut into buffers of one size. A released buffer goes on the
// warm list while the warm list holds less than `retain` bytes; past that
// its pages go back to the kernel (MADV_DONTNEED) and the buffer, now reading
// as zeros, goes on the cold list. Slabs are unmapped only by the destructor.
//
// acquire() says whether the buffer is known to be all zeros (fresh or cold)
// or holds a previous chunk's bytes (warm): the caller zeroes what it needs.
// Thread safe (one mutex; a call per chunk-sized allocation).

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "benchfs/core/status.hpp"

namespace benchfs::storage {

struct BufferPoolStats {
  uint64_t buffer_size = 0;
  uint64_t mapped_bytes = 0;  ///< slab bytes mapped (virtual)
  uint64_t warm_bytes = 0;    ///< free buffers still resident
  uint64_t cold_bytes = 0;    ///< free buffers given back to the kernel
  uint64_t in_use = 0;        ///< buffers handed out
  uint64_t reused_warm = 0;   ///< acquires served from the warm list
};

struct PoolOptions {
  uint64_t retain = 1ULL << 30;  ///< most bytes of free buffers kept resident
  bool huge_pages = true;        ///< advise slabs for transparent huge pages
};

class BufferPool {
 public:
  struct Buffer {
    std::byte* data = nullptr;
    bool zeroed = false;  ///< every byte is 0
  };

  /// buffer_size > 0.
  BufferPool(uint64_t buffer_size, PoolOptions opts);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  /// A buffer of buffer_size bytes, or data == nullptr when the kernel
  /// refuses more memory.
  Buffer acquire();
  /// Gives back a buffer from acquire().
  void release(std::byte* data);
  /// Maps and touches buffers until `bytes` (at most retain) are warm, so the
  /// first writes find resident memory. Returns the warm bytes after it.
  uint64_t prefault(uint64_t bytes);

  [[nodiscard]] uint64_t buffer_size() const { return size_; }
  [[nodiscard]] BufferPoolStats stats() const;

 private:
  bool map_slab_locked();

  const uint64_t size_;
  const uint64_t retain_;
  const bool huge_;
  uint64_t slab_bytes_ = 0;
  mutable std::mutex mu_;
  struct Slab {
    void* base = nullptr;
    size_t length = 0;
  };
  std::vector<Slab> slabs_;
  std::byte* next_ = nullptr;  ///< uncut part of the newest slab
  std::byte* end_ = nullptr;
  std::vector<std::byte*> warm_;
  std::vector<std::byte*> cold_;
  uint64_t in_use_ = 0;
  uint64_t reused_warm_ = 0;
};

}  // namespace benchfs::storage
