#include "benchfs/storage/buffer_pool.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace benchfs::storage {

namespace {

constexpr uint64_t kHugePage = 2ULL << 20;
constexpr uint64_t kMinSlab = 32ULL << 20;

uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

}  // namespace

BufferPool::BufferPool(uint64_t buffer_size, PoolOptions opts)
    : size_(buffer_size), retain_(opts.retain), huge_(opts.huge_pages) {
  if (size_ == 0) throw Error(EINVAL, "buffer size must be > 0");
  // Whole buffers per slab, the slab a multiple of the huge page size.
  slab_bytes_ = round_up(std::max(kMinSlab, size_), size_);
  slab_bytes_ = round_up(slab_bytes_, kHugePage);
}

BufferPool::~BufferPool() {
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

BufferPool::Buffer BufferPool::acquire() {
  std::lock_guard lock(mu_);
  Buffer b;
  if (!warm_.empty()) {
    b.data = warm_.back();
    warm_.pop_back();
    ++reused_warm_;
  } else if (!cold_.empty()) {
    b.data = cold_.back();
    cold_.pop_back();
    b.zeroed = true;
  } else {
    if (next_ == end_ && !map_slab_locked()) return b;
    b.data = next_;
    next_ += size_;
    b.zeroed = true;  // never touched: the kernel's zero pages
  }
  ++in_use_;
  return b;
}

void BufferPool::release(std::byte* data) {
  if (data == nullptr) return;
  std::unique_lock lock(mu_);
  --in_use_;
  if ((warm_.size() + 1) * size_ <= retain_) {
    warm_.push_back(data);
    return;
  }
  lock.unlock();
  // Past the retained amount: the pages go back, the address range stays.
  madvise(data, size_, MADV_DONTNEED);
  lock.lock();
  cold_.push_back(data);
}

uint64_t BufferPool::prefault(uint64_t bytes) {
  const uint64_t want = std::min(bytes, retain_) / size_;
  std::vector<std::byte*> touched;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (warm_.size() + touched.size() >= want) break;
    }
    Buffer b = acquire();
    if (b.data == nullptr) break;
    // Write one byte per page: the kernel maps (and zeroes) every page now.
    for (uint64_t off = 0; off < size_; off += 4096) b.data[off] = std::byte{0};
    touched.push_back(b.data);
  }
  for (std::byte* p : touched) release(p);
  std::lock_guard lock(mu_);
  return warm_.size() * size_;
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
  return s;
}

}  // namespace benchfs::storage
