#include "benchfs/storage/chunk_store.hpp"

#include <tbb/concurrent_hash_map.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "benchfs/core/copy.hpp"
#include "benchfs/protocol/placement.hpp"

namespace benchfs::storage {

namespace {

constexpr uint64_t kMinSmallCapacity = 4096;
constexpr size_t kBufferAlign = 4096;

// Zero-filled small buffer (page aligned).
std::byte* allocate_small(uint64_t capacity) {
  void* p = nullptr;
  if (posix_memalign(&p, kBufferAlign, capacity) != 0) return nullptr;
  std::memset(p, 0, capacity);
  return static_cast<std::byte*>(p);
}

struct KeyHashCompare {
  static size_t hash(const ChunkKey& k) {
    return placement::mix_bits(k.ino * 0x9E3779B97F4A7C15ull + k.index);
  }
  static bool equal(const ChunkKey& a, const ChunkKey& b) { return a == b; }
};

// A write [offset, end) must lie inside the chunk; checked without overflow.
bool range_ok(uint64_t chunk_size, uint64_t offset, uint64_t length) {
  return offset <= chunk_size && length <= chunk_size - offset;
}

void atomic_max(std::atomic<uint64_t>& a, uint64_t v) {
  uint64_t cur = a.load(std::memory_order_relaxed);
  // release: the bytes written before commit are visible to a reader that
  // loads the valid length with acquire.
  while (cur < v && !a.compare_exchange_weak(cur, v, std::memory_order_release, std::memory_order_relaxed)) {
  }
}

}  // namespace

// One chunk: buffer, its capacity, the zeroed watermark and the live lease
// count are guarded by mu; the valid length is atomic so commits need not
// take the mutex for it. Full-size buffers come from the store's pool and
// may hold an earlier chunk's bytes: every byte below zero_from_ is zero or
// data (written or being received), bytes at or past it are undefined, and
// claim_locked() zeroes the gap a write leaves below its offset (a write
// covering the chunk from 0 zeroes nothing). valid_ <= zero_from_ always.
// The destructor returns the capacity to the store, so the store must
// outlive every Chunk (and therefore every lease).
class Chunk {
 public:
  explicit Chunk(ChunkStore* store) : store_(store) {}
  ~Chunk() {
    free_buffer(buf_, capacity_);
    if (capacity_ != 0) store_->release(capacity_);
  }
  Chunk(const Chunk&) = delete;
  Chunk& operator=(const Chunk&) = delete;

  // Gives the chunk its first buffer (capacity already reserved).
  bool init(uint64_t capacity) {
    std::lock_guard lock(mu_);
    bool zeroed = false;
    buf_ = allocate(capacity, zeroed);
    if (buf_ == nullptr) return false;
    capacity_ = capacity;
    zero_from_ = zeroed ? capacity : 0;
    return true;
  }

  // With mu_ held: makes the buffer hold at least `end` bytes. Refused
  // (EAGAIN) while leased: a lease holder may be reading or receiving into
  // the current buffer.
  Status ensure_capacity_locked(uint64_t end, uint64_t chunk_size, std::atomic<uint64_t>& grow_refused) {
    if (end <= capacity_) return Status::ok();
    if (leases_ != 0) {
      grow_refused.fetch_add(1, std::memory_order_relaxed);
      return Status(EAGAIN, "chunk grow while leased");
    }
    // Small buffers double while the data stays small; a write past
    // kSmallChunkLimit takes the full size at once. (Doubling all the way,
    // 64 KiB transfers into a 1 MiB chunk copied 960 KiB through four
    // freshly faulted buffers per chunk: writes ran at a quarter of reads.)
    uint64_t cap = chunk_size;
    if (end <= kSmallChunkLimit) {
      cap = capacity_;
      while (cap < end && cap < chunk_size) cap = std::min(cap * 2, chunk_size);
    }
    if (!store_->reserve(cap - capacity_)) return Status(ENOSPC, "chunk store memory limit");
    bool zeroed = false;
    std::byte* nb = allocate(cap, zeroed);
    if (nb == nullptr) {
      store_->release(cap - capacity_);
      return Status(ENOMEM, "chunk buffer allocation");
    }
    // Only the defined bytes move: past zero_from_ the old buffer may still
    // hold what a trim or an abandoned receive left there, and a zeroed new
    // buffer is taken as zero everywhere past what was copied (copying the
    // whole old capacity made trimmed bytes readable again after a grow).
    std::memcpy(nb, buf_, zero_from_);
    free_buffer(buf_, capacity_);
    buf_ = nb;
    if (zeroed) zero_from_ = cap;
    capacity_ = cap;
    return Status::ok();
  }

  // With mu_ held: [offset, end) is about to be written; zeroes the
  // undefined bytes below offset so the range never exposes old bytes.
  void claim_locked(uint64_t offset, uint64_t end) {
    if (offset > zero_from_) std::memset(buf_ + zero_from_, 0, offset - zero_from_);
    zero_from_ = std::max(zero_from_, end);
  }

  // With mu_ held: a write lease on [offset, end) ends without commit.
  // When it is the only lease, nothing past max(offset, valid) is data, so
  // its bytes (perhaps half received) become undefined again and no later
  // read can see them: the next write past them zeroes them first. (With
  // other writers in flight the bytes stay, as any racing overwrite would.)
  void abandon_locked(uint64_t offset, uint64_t end) {
    const uint64_t valid = valid_.load(std::memory_order_relaxed);
    if (leases_ == 1 && valid < end) zero_from_ = std::min(zero_from_, std::max(offset, valid));
  }

  // With mu_ held: the file ends at `cut` inside this chunk.
  void trim_locked(uint64_t cut) {
    const uint64_t valid = valid_.load(std::memory_order_relaxed);
    if (valid > cut) valid_.store(cut, std::memory_order_release);
    zero_from_ = std::min(zero_from_, cut);
  }

  std::mutex mu_;
  std::byte* buf_ = nullptr;
  uint64_t capacity_ = 0;
  uint64_t zero_from_ = 0;
  uint32_t leases_ = 0;
  std::atomic<uint64_t> valid_{0};

 private:
  std::byte* allocate(uint64_t capacity, bool& zeroed) {
    if (capacity == store_->chunk_size_) {
      BufferPool::Buffer b = store_->pool_.acquire();
      zeroed = b.zeroed;
      return b.data;
    }
    zeroed = true;
    return allocate_small(capacity);
  }
  void free_buffer(std::byte* buf, uint64_t capacity) {
    if (buf == nullptr) return;
    if (capacity == store_->chunk_size_) {
      store_->pool_.release(buf);
    } else {
      std::free(buf);
    }
  }

  ChunkStore* store_;
};

namespace {

void drop_lease(Chunk& c) {
  std::lock_guard lock(c.mu_);
  --c.leases_;
}

}  // namespace

struct ChunkStore::Impl {
  // std::allocator rather than TBB's default: node memory then comes from
  // malloc, which ThreadSanitizer sees (reuse through the uninstrumented
  // tbbmalloc reads as a race), and a chunk creation costs a buffer
  // allocation anyway.
  using Map = tbb::concurrent_hash_map<ChunkKey, std::shared_ptr<Chunk>, KeyHashCompare,
                                       std::allocator<std::pair<const ChunkKey, std::shared_ptr<Chunk>>>>;
  using Index = tbb::concurrent_hash_map<uint64_t, std::set<uint64_t>, tbb::tbb_hash_compare<uint64_t>,
                                         std::allocator<std::pair<const uint64_t, std::set<uint64_t>>>>;
  // Lock order: a Map element accessor may be held while taking an Index
  // accessor, never the reverse (creation and removal both follow it, so a
  // chunk is in the index exactly while it is in the map).
  Map chunks;
  Index by_ino;

  Result<std::shared_ptr<Chunk>> get_or_create(ChunkStore& store, ChunkKey key, uint64_t offset,
                                               uint64_t end);
};

// The existing chunk at key, or a new one sized for a first write of
// [offset, end). Creation holds the map element's write lock, so concurrent
// creators of one key end up sharing a single chunk; a failed allocation
// erases the element again, leaving neither map nor index changed.
Result<std::shared_ptr<Chunk>> ChunkStore::Impl::get_or_create(ChunkStore& store, ChunkKey key,
                                                               uint64_t offset, uint64_t end) {
  {
    Map::const_accessor ca;
    if (chunks.find(ca, key) && ca->second) return ca->second;
  }
  Map::accessor a;
  // Found: someone created it meanwhile. An empty element (a creator that
  // threw before filling it) is filled here instead.
  if (!chunks.insert(a, key) && a->second) return a->second;
  const uint64_t cs = store.chunk_size_;
  uint64_t cap = cs;
  if (offset == 0 && end <= kSmallChunkLimit) {
    cap = kMinSmallCapacity;
    while (cap < end) cap *= 2;
    cap = std::min(cap, cs);
  }
  auto chunk = std::make_shared<Chunk>(&store);
  if (!store.reserve(cap)) {
    chunks.erase(a);
    return Status(ENOSPC, "chunk store memory limit");
  }
  if (!chunk->init(cap)) {
    store.release(cap);
    chunks.erase(a);
    return Status(ENOMEM, "chunk buffer allocation");
  }
  {
    Index::accessor ia;
    by_ino.insert(ia, key.ino);
    ia->second.insert(key.index);
  }
  a->second = chunk;
  return chunk;
}

// ---- leases ----

WriteLease::WriteLease(WriteLease&& o) noexcept
    : chunk_(std::move(o.chunk_)),
      dst_(std::exchange(o.dst_, nullptr)),
      offset_(o.offset_),
      length_(std::exchange(o.length_, 0)) {}

WriteLease& WriteLease::operator=(WriteLease&& o) noexcept {
  if (this != &o) {
    reset();
    chunk_ = std::move(o.chunk_);
    dst_ = std::exchange(o.dst_, nullptr);
    offset_ = o.offset_;
    length_ = std::exchange(o.length_, 0);
  }
  return *this;
}

WriteLease::~WriteLease() { reset(); }

void WriteLease::commit() {
  if (!chunk_) return;
  atomic_max(chunk_->valid_, offset_ + length_);
  drop_lease(*chunk_);
  chunk_.reset();
  dst_ = nullptr;
  length_ = 0;
}

void WriteLease::reset() {
  if (!chunk_) return;
  {
    std::lock_guard lock(chunk_->mu_);
    chunk_->abandon_locked(offset_, offset_ + length_);
    --chunk_->leases_;
  }
  chunk_.reset();
  dst_ = nullptr;
  length_ = 0;
}

ReadLease::ReadLease(ReadLease&& o) noexcept
    : chunk_(std::move(o.chunk_)),
      src_(std::exchange(o.src_, nullptr)),
      length_(std::exchange(o.length_, 0)) {}

ReadLease& ReadLease::operator=(ReadLease&& o) noexcept {
  if (this != &o) {
    reset();
    chunk_ = std::move(o.chunk_);
    src_ = std::exchange(o.src_, nullptr);
    length_ = std::exchange(o.length_, 0);
  }
  return *this;
}

ReadLease::~ReadLease() { reset(); }

void ReadLease::reset() {
  if (chunk_) drop_lease(*chunk_);
  chunk_.reset();
  src_ = nullptr;
  length_ = 0;
}

// ---- store ----

// The pool keeps at most `limit` bytes of free buffers, and its reserve
// never holds more than the limit leaves after the data (used_ and limit_
// are initialised before pool_, whose refill thread may ask at once).
PoolOptions ChunkStore::capped(PoolOptions o) {
  if (limit_ != 0) {
    o.retain = std::min(o.retain, limit_);
    o.headroom = [this] {
      const uint64_t used = used_.load(std::memory_order_relaxed);
      return used >= limit_ ? 0 : limit_ - used;
    };
  }
  return o;
}

ChunkStore::ChunkStore(uint64_t chunk_size, uint64_t memory_limit, PoolOptions pool)
    : chunk_size_(chunk_size),
      limit_(memory_limit),
      pool_(chunk_size == 0 ? 1 : chunk_size, capped(std::move(pool))),
      impl_(std::make_unique<Impl>()) {
  if (chunk_size_ == 0) throw Error(EINVAL, "chunk size must be > 0");
}

// impl_ is destroyed before pool_ and used_ (declaration order), so chunks
// freed here can still return their buffers and bytes.
ChunkStore::~ChunkStore() = default;

bool ChunkStore::reserve(uint64_t bytes) {
  uint64_t cur = used_.load(std::memory_order_relaxed);
  for (;;) {
    if (limit_ != 0 && (bytes > limit_ || cur > limit_ - bytes)) {
      enospc_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (used_.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed)) return true;
  }
}

void ChunkStore::release(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

Result<WriteLease> ChunkStore::begin_write(ChunkKey key, uint64_t offset, uint64_t length) {
  if (length == 0 || !range_ok(chunk_size_, offset, length)) return Status(EINVAL, "chunk write range");
  pool_.note_activity();
  const uint64_t end = offset + length;
  auto chunk = impl_->get_or_create(*this, key, offset, end);
  if (!chunk.ok()) return chunk.status();
  std::shared_ptr<Chunk>& c = *chunk;
  WriteLease lease;
  {
    std::lock_guard lock(c->mu_);
    Status st = c->ensure_capacity_locked(end, chunk_size_, grow_refused_);
    if (!st.is_ok()) return st;
    c->claim_locked(offset, end);
    ++c->leases_;
    lease.dst_ = c->buf_ + offset;
  }
  lease.chunk_ = std::move(c);
  lease.offset_ = offset;
  lease.length_ = length;
  return lease;
}

Status ChunkStore::write(ChunkKey key, uint64_t offset, const void* src, uint64_t length) {
  if (length == 0 || !range_ok(chunk_size_, offset, length)) return Status(EINVAL, "chunk write range");
  pool_.note_activity();
  const uint64_t end = offset + length;
  auto chunk = impl_->get_or_create(*this, key, offset, end);
  if (!chunk.ok()) return chunk.status();
  Chunk& c = **chunk;
  // The copy happens under the chunk mutex: a concurrent eager writer that
  // needs to grow the buffer waits instead of moving it under this memcpy.
  std::lock_guard lock(c.mu_);
  Status st = c.ensure_capacity_locked(end, chunk_size_, grow_refused_);
  if (!st.is_ok()) return st;
  c.claim_locked(offset, end);
  copy_bytes(c.buf_ + offset, src, length);
  atomic_max(c.valid_, end);
  return Status::ok();
}

Result<ReadLease> ChunkStore::begin_read(ChunkKey key, uint64_t offset, uint64_t length) {
  if (!range_ok(chunk_size_, offset, length)) return Status(EINVAL, "chunk read range");
  pool_.note_activity();
  ReadLease lease;
  if (length == 0) return lease;
  std::shared_ptr<Chunk> c;
  {
    Impl::Map::const_accessor ca;
    if (!impl_->chunks.find(ca, key)) return lease;  // missing chunk: nothing to read
    c = ca->second;
  }
  if (!c) return lease;
  {
    std::lock_guard lock(c->mu_);
    const uint64_t valid = c->valid_.load(std::memory_order_acquire);
    if (valid <= offset) return lease;
    ++c->leases_;
    lease.src_ = c->buf_ + offset;
    lease.length_ = std::min(length, valid - offset);
  }
  lease.chunk_ = std::move(c);
  return lease;
}

// Chunks being written while they are removed or trimmed are a race of the
// caller's own making (as with a local file): a trim then zeroes bytes that
// a live write lease may still be receiving, which is benign here. What is
// never done is freeing a buffer a lease holds: leases own the Chunk.
RemoveResult ChunkStore::remove(uint64_t ino, uint64_t keep) {
  RemoveResult res;
  const uint64_t first_dropped = keep / chunk_size_ + (keep % chunk_size_ != 0 ? 1 : 0);
  std::vector<uint64_t> doomed;
  {
    Impl::Index::const_accessor ia;
    if (impl_->by_ino.find(ia, ino)) doomed.assign(ia->second.lower_bound(first_dropped), ia->second.end());
  }
  for (uint64_t idx : doomed) {
    Impl::Map::accessor a;
    if (!impl_->chunks.find(a, ChunkKey{ino, idx})) continue;
    std::shared_ptr<Chunk> c = std::move(a->second);
    if (!c) {  // an element a creator left empty: nothing to free
      impl_->chunks.erase(a);
      continue;
    }
    {
      Impl::Index::accessor ia;
      if (impl_->by_ino.find(ia, ino)) {
        ia->second.erase(idx);
        if (ia->second.empty()) impl_->by_ino.erase(ia);
      }
    }
    impl_->chunks.erase(a);
    {
      std::lock_guard lock(c->mu_);
      res.bytes += c->capacity_;
    }
    ++res.chunks;
    // `c` going out of scope frees the buffer now, or when its last lease ends.
  }
  if (keep % chunk_size_ != 0) {
    std::shared_ptr<Chunk> c;
    {
      Impl::Map::const_accessor ca;
      if (impl_->chunks.find(ca, ChunkKey{ino, keep / chunk_size_})) c = ca->second;
    }
    if (c) {
      std::lock_guard lock(c->mu_);
      c->trim_locked(keep % chunk_size_);
    }
  }
  return res;
}

ChunkStoreStats ChunkStore::stats() const {
  ChunkStoreStats s;
  s.chunks = impl_->chunks.size();
  s.bytes_used = used_.load(std::memory_order_relaxed);
  s.memory_limit = limit_;
  s.enospc = enospc_.load(std::memory_order_relaxed);
  s.grow_refused = grow_refused_.load(std::memory_order_relaxed);
  s.pool = pool_.stats();
  return s;
}

}  // namespace benchfs::storage
