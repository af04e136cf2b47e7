#include "benchfs/storage/buffer_pool.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "benchfs/core/clock.hpp"

namespace benchfs::storage {

namespace {

constexpr uint64_t kHugePage = 2ULL << 20;
constexpr uint64_t kMinSlab = 32ULL << 20;
constexpr uint64_t kPage = 4096;
// The refill thread looks again this often even when nobody wakes it: the
// owner's headroom can grow without a call into the pool.
constexpr auto kRefillRecheck = std::chrono::milliseconds(50);
// Filling waits until the owner has served no data for this long (unless
// writes took a buffer within it and most of the reserve: refill_loop).
constexpr uint64_t kQuietNs = 20'000'000;

uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

}  // namespace

BufferPool::BufferPool(uint64_t buffer_size, PoolOptions opts)
    : size_(buffer_size),
      retain_(opts.retain),
      huge_(opts.huge_pages),
      reserve_(std::min(opts.reserve, opts.retain)),
      headroom_(std::move(opts.headroom)) {
  if (size_ == 0) throw Error(EINVAL, "buffer size must be > 0");
  // Whole buffers per slab, the slab a multiple of the huge page size.
  slab_bytes_ = round_up(std::max(kMinSlab, size_), size_);
  slab_bytes_ = round_up(slab_bytes_, kHugePage);
  created_ns_ = now_ns();
  if (reserve_ >= size_) refill_ = std::thread([this] { refill_loop(); });
}

BufferPool::~BufferPool() {
  if (refill_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    refill_cv_.notify_all();
    refill_.join();
  }
  full_cv_.notify_all();
  for (const Slab& s : slabs_) munmap(s.base, s.length);
}

bool BufferPool::map_slab_locked() {
  // One huge page extra so the slab can start on a huge-page boundary.
  const size_t length = slab_bytes_ + kHugePage;
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  auto at = reinterpret_cast<uintptr_t>(p);
  auto* start = reinterpret_cast<std::byte*>(round_up(at, kHugePage));
  // Fewer, larger page faults and TLB entries when the kernel allows them
  // (transparent_hugepage=madvise); harmless where it does not.
  if (huge_) madvise(start, slab_bytes_, MADV_HUGEPAGE);
  slabs_.push_back(Slab{p, length});
  next_ = start;
  end_ = start + (slab_bytes_ / size_) * size_;
  return true;
}

std::byte* BufferPool::take_fresh_locked() {
  if (!cold_.empty()) {
    std::byte* p = cold_.back();
    cold_.pop_back();
    return p;
  }
  if (next_ == end_ && !map_slab_locked()) return nullptr;
  std::byte* p = next_;
  next_ += size_;
  return p;  // never touched: the kernel's zero pages
}

void BufferPool::populate(std::byte* data) const {
  // One write per page maps (and zeroes) it; in a huge-page slab the first
  // write maps the whole 2 MiB and the others are plain stores. Page faults
  // take only the VMA's lock, where MADV_POPULATE_WRITE (as fast once the
  // memory is backed) holds the process's mmap lock for the whole buffer and
  // stalls every mmap of the other threads meanwhile (UCX's start-up ran
  // 30x slower beside it).
  for (uint64_t off = 0; off < size_; off += kPage)
    reinterpret_cast<volatile std::byte*>(data)[off] = std::byte{0};
}

BufferPool::Buffer BufferPool::acquire() {
  Buffer b;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    last_acquire_ns_ = coarse_ns();
    if (!warm_.empty()) {
      b.data = warm_.back().data;
      b.zeroed = warm_.back().zeroed;
      warm_.pop_back();
      ++reused_warm_;
      wake = refill_.joinable();
    } else {
      b.data = take_fresh_locked();
      if (b.data == nullptr) return b;
      b.zeroed = true;
      ++acquired_cold_;
    }
    ++in_use_;
  }
  // No note_activity() here: the store noted it for the write that asked.
  if (wake) refill_cv_.notify_one();
  return b;
}

void BufferPool::release(std::byte* data) {
  if (data == nullptr) return;
  std::unique_lock lock(mu_);
  --in_use_;
  if ((warm_.size() + refilling_ + 1) * size_ <= retain_) {
    warm_.push_back(Warm{data, false});
    return;
  }
  lock.unlock();
  // Past the retained amount: the pages go back, the address range stays.
  madvise(data, size_, MADV_DONTNEED);
  lock.lock();
  cold_.push_back(data);
}

bool BufferPool::fill_one(std::unique_lock<std::mutex>& lock, bool for_reserve) {
  std::byte* p = take_fresh_locked();
  if (p == nullptr) return false;
  ++refilling_;
  lock.unlock();
  const uint64_t t0 = now_ns();
  populate(p);
  const uint64_t dt = now_ns() - t0;
  lock.lock();
  --refilling_;
  warm_.push_back(Warm{p, true});
  if (for_reserve) {
    ++refilled_;
    refill_ns_ += dt;
  }
  return true;
}

uint64_t BufferPool::prefault(uint64_t bytes) {
  const uint64_t want = std::min(bytes, retain_) / size_;
  std::unique_lock lock(mu_);
  while (warm_.size() + refilling_ < want && fill_one(lock, /*for_reserve=*/false)) {
  }
  return warm_.size() * size_;
}

bool BufferPool::reserve_full_locked() const { return warm_.size() * size_ + size_ > reserve_; }

void BufferPool::note_full_locked() {
  if (full_ns_ == 0 && reserve_full_locked()) full_ns_ = std::max<uint64_t>(1, now_ns() - created_ns_);
}

bool BufferPool::refill_wanted_locked() const {
  const uint64_t have = (warm_.size() + refilling_) * size_;
  if (stop_ || have + size_ > reserve_) return false;
  return !headroom_ || headroom_() >= have + size_;
}

void BufferPool::refill_loop() {
  // The first fill runs at normal priority until the reserve is full or the
  // owner serves data, whichever comes first: until then no server work can
  // suffer from it, and at SCHED_IDLE it got little of a machine busy with
  // the launcher's start-up (a first write phase started with a third of
  // the reserve resident). From then on only on a core nothing else wants:
  // topping the reserve up must never slow a server (or a client beside it)
  // that has work.
  pthread_setname_np(pthread_self(), "benchfs-refill");
  bool idle = false;
  auto go_idle = [&idle] {
    if (idle) return;
    sched_param sp{};
    sp.sched_priority = 0;
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
    idle = true;
  };
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (last_activity_ns_.load(std::memory_order_relaxed) != 0) go_idle();
    if (!refill_wanted_locked()) {
      go_idle();
      note_full_locked();
      full_cv_.notify_all();
      refill_cv_.wait_for(lock, kRefillRecheck);
      continue;
    }
    // Data being served: wait for a quiet spell (the first fill too, when
    // clients come before it is done: a thread faulting pages beside a busy
    // server and client took a first write phase from 2,500 to 230 MiB/s),
    // unless writes are taking buffers and have taken three quarters of the
    // reserve: a write phase running past it. Then each buffer populated
    // here, at SCHED_IDLE, is one the server need not fault in on a write's
    // path: a 2 GiB first-pass write of 64 KiB transfers (past the 384 MiB
    // default reserve here) went from 300-690 to 6,100-6,200 MiB/s. Earlier
    // than that (a phase the reserve holds) or beside reads alone, a refill
    // cost the phase up to half its speed: it waits.
    const uint64_t now = coarse_ns();
    const uint64_t since = now - last_activity_ns_.load(std::memory_order_relaxed);
    const bool writes_taking = now - last_acquire_ns_ < kQuietNs && warm_.size() * size_ < reserve_ / 4;
    if (since < kQuietNs && !writes_taking) {
      refill_cv_.wait_for(lock, std::chrono::nanoseconds(kQuietNs - since));
      continue;
    }
    if (!fill_one(lock, /*for_reserve=*/true))  // the kernel refused another slab: try again later
      refill_cv_.wait_for(lock, kRefillRecheck);
  }
  full_cv_.notify_all();
}

bool BufferPool::wait_reserve(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock lock(mu_);
  if (!refill_.joinable()) return reserve_ == 0;
  // The waiter fills beside the refill thread: where first touch is slow (a
  // VM whose host takes freed memory back), half of all server starts here
  // had 100-360 of 376 MiB resident after 300 ms with one filler.
  while (!stop_ && refill_wanted_locked() && std::chrono::steady_clock::now() < deadline &&
         fill_one(lock, /*for_reserve=*/true)) {
  }
  full_cv_.wait_until(lock, deadline,
                      [this] { return stop_ || (refilling_ == 0 && !refill_wanted_locked()); });
  note_full_locked();
  return reserve_full_locked();
}

BufferPoolStats BufferPool::stats() const {
  std::lock_guard lock(mu_);
  BufferPoolStats s;
  s.buffer_size = size_;
  for (const Slab& sl : slabs_) s.mapped_bytes += sl.length;
  s.warm_bytes = warm_.size() * size_;
  s.cold_bytes = cold_.size() * size_;
  s.in_use = in_use_;
  s.reused_warm = reused_warm_;
  s.acquired_cold = acquired_cold_;
  s.reserve_bytes = refill_.joinable() ? reserve_ : 0;
  s.refilled = refilled_;
  s.refill_ns = refill_ns_;
  s.reserve_full_ns = full_ns_;
  return s;
}

}  // namespace benchfs::storage
