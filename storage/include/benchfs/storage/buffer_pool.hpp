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
//
// Reserve: with PoolOptions::reserve > 0 a background thread keeps that many
// bytes of free buffers resident ahead of demand, so that a first write
// phase on a new server finds its memory faulted in. It fills the reserve
// at once, at normal priority until the reserve is first full or the owner
// first serves data (wait_reserve() waits for that and fills beside it), and
// tops the warm list up after acquire() takes from it, one buffer at a time,
// at the lowest CPU priority (SCHED_IDLE: it runs only on a core that
// nothing else wants): while the owner serves data, only once writes have
// taken three quarters of the reserve (a write phase running past it, whose
// writes would otherwise fault every buffer on their own path); else once
// the owner has served no data for 20 ms (between benchmark phases: a
// refill thread beside a busy server and client also made adaptive polling
// see the machine as oversubscribed; 64 KiB reads swung 10x, a first write
// phase fell from 2,500 to 230 MiB/s). Pages are
// made resident by a write per page (with huge pages one fault per 2 MiB:
// about 140-200 us per MiB here once the VM's memory is backed by the host,
// 1.4-2 ms on memory the VM never touched; 4 KiB pages cost 500-750 us).
// The refill never takes the owner past its headroom (memory limit minus
// bytes in use, so reserve + data never exceed the limit) nor the warm list
// past retain.
// The destructor stops the thread (within one buffer's refill) before it
// unmaps anything.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "benchfs/core/clock.hpp"
#include "benchfs/core/status.hpp"

namespace benchfs::storage {

struct BufferPoolStats {
  uint64_t buffer_size = 0;
  uint64_t mapped_bytes = 0;     ///< slab bytes mapped (virtual)
  uint64_t warm_bytes = 0;       ///< free buffers still resident (freed by files, or reserve / prefault)
  uint64_t cold_bytes = 0;       ///< free buffers given back to the kernel
  uint64_t in_use = 0;           ///< buffers handed out
  uint64_t reused_warm = 0;      ///< acquires served from the warm list (resident memory)
  uint64_t acquired_cold = 0;    ///< acquires that found no warm buffer (first touch on the caller)
  uint64_t reserve_bytes = 0;    ///< the reserve's target (0 = no refill thread)
  uint64_t refilled = 0;         ///< buffers the reserve fill made resident (refill thread or waiter)
  uint64_t refill_ns = 0;        ///< time it spent doing so
  uint64_t reserve_full_ns = 0;  ///< how long after start the reserve first reached its target (0 = not yet)
};

struct PoolOptions {
  uint64_t retain = 1ULL << 30;  ///< most bytes of free buffers kept resident
  bool huge_pages = true;        ///< advise slabs for transparent huge pages
  uint64_t reserve = 0;          ///< free bytes kept resident ahead of demand (capped at retain; 0 = off)
  /// Bytes the owner may still take (memory limit minus bytes in use); the
  /// refill keeps warm + refilling below it. Empty: no limit.
  std::function<uint64_t()> headroom;
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
  /// The owner is serving data (any read or write): top-ups wait until it
  /// has been quiet for 20 ms, unless writes are taking buffers (acquire
  /// within those 20 ms) and have taken three quarters of the reserve: then
  /// the refill keeps ahead of them on the CPU time nothing else wants.
  /// Cheap enough for every request (one relaxed
  /// load, a store at most once per millisecond).
  void note_activity() {
    const uint64_t now = coarse_ns();
    if (now - last_activity_ns_.load(std::memory_order_relaxed) > 1'000'000)
      last_activity_ns_.store(now, std::memory_order_relaxed);
  }
  /// Blocks until the reserve holds its target (or the headroom stops it),
  /// at most timeout_ms, filling buffers itself meanwhile (beside the refill
  /// thread, at the caller's priority); true when it is full (also with no
  /// reserve at all).
  bool wait_reserve(int timeout_ms);

  [[nodiscard]] uint64_t buffer_size() const { return size_; }
  [[nodiscard]] BufferPoolStats stats() const;

 private:
  bool map_slab_locked();
  /// With mu_ held: a free buffer that is not warm (cold or uncut), or nullptr.
  std::byte* take_fresh_locked();
  /// Makes every page of a buffer resident.
  void populate(std::byte* data) const;
  /// With mu_ held (released while it faults pages in): puts one more
  /// populated, zeroed buffer on the warm list, counted in refilled /
  /// refill_ns when `for_reserve`; false when no memory is left.
  bool fill_one(std::unique_lock<std::mutex>& lock, bool for_reserve);
  /// With mu_ held: the warm list holds the reserve's target.
  bool reserve_full_locked() const;
  /// With mu_ held: records when the reserve was first full (full_ns_).
  void note_full_locked();
  void refill_loop();
  /// With mu_ held: the refill would add a buffer now.
  bool refill_wanted_locked() const;

  const uint64_t size_;
  const uint64_t retain_;
  const bool huge_;
  const uint64_t reserve_;
  const std::function<uint64_t()> headroom_;
  uint64_t slab_bytes_ = 0;
  mutable std::mutex mu_;
  std::condition_variable refill_cv_;  ///< wakes the refill thread (acquire, stop)
  std::condition_variable full_cv_;    ///< wait_reserve's waiters
  bool stop_ = false;
  uint64_t refilling_ = 0;  ///< buffers being populated (off every list)
  uint64_t acquired_cold_ = 0;
  uint64_t refilled_ = 0;
  uint64_t refill_ns_ = 0;
  uint64_t created_ns_ = 0;
  uint64_t full_ns_ = 0;
  std::atomic<uint64_t> last_activity_ns_{0};  ///< coarse_ns() of the last note_activity()
  uint64_t last_acquire_ns_ = 0;               ///< coarse_ns() of the last acquire() (guarded by mu_)
  struct Slab {
    void* base = nullptr;
    size_t length = 0;
  };
  std::vector<Slab> slabs_;
  std::byte* next_ = nullptr;  ///< uncut part of the newest slab
  std::byte* end_ = nullptr;
  struct Warm {
    std::byte* data = nullptr;
    bool zeroed = false;  ///< populated by the reserve or prefault, never written
  };
  std::vector<Warm> warm_;  ///< resident free buffers (LIFO)
  std::vector<std::byte*> cold_;
  uint64_t in_use_ = 0;
  uint64_t reused_warm_ = 0;
  std::thread refill_;  // last: started by the constructor once everything above exists
};

}  // namespace benchfs::storage
