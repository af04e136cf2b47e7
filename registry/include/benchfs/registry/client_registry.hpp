#pragma once
// ClientRegistry: client id -> connection, a sharded concurrent LRU shared by
// all progress threads of a server (DESIGN.md section 5).

#include <ucp/api/ucp_def.h>  // ucp_ep_h only: the registry never calls UCX

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace benchfs::registry {

/// One registered client. The registry never dereferences `ep`: the entry's
/// owning progress thread (`thread`) is the only one that may use it.
struct ClientEntry {
  std::string client_id;
  uint32_t thread = 0;    ///< progress thread that owns ep
  ucp_ep_h ep = nullptr;  ///< opaque here
  uint64_t session = 0;   ///< token carried by every request of this client
  std::string peer;       ///< peer address for logs and stats
  uint64_t connected_at_ns = 0;
  uint64_t last_used_ns = 0;
};

struct RegistryCounters {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  uint64_t live = 0;
};

/// A concurrent LRU map of capacity `capacity` split into a power-of-two number
/// of shards, each with its own mutex, hash map and recency list. Lookups take
/// one shard lock; the global eviction order is kept by per-node recency stamps
/// (now_ns() taken under the shard lock, strictly increasing per shard; ties
/// across shards break by shard index). All member functions are thread safe.
class ClientRegistry {
 public:
  /// `shards` is rounded up to a power of two (0 -> 1, at most 65536).
  /// Throws benchfs::Error(EINVAL) for capacity 0 or more than 65536 shards.
  ClientRegistry(size_t capacity, size_t shards);
  ~ClientRegistry();
  ClientRegistry(const ClientRegistry&) = delete;
  ClientRegistry& operator=(const ClientRegistry&) = delete;
  ClientRegistry(ClientRegistry&&) = delete;
  ClientRegistry& operator=(ClientRegistry&&) = delete;

  struct InsertResult {
    /// The entry previously registered under the same client id (not an eviction).
    std::optional<ClientEntry> replaced;
    /// Entries evicted to bring the size back to the capacity, oldest first.
    /// Under concurrent inserts one inserter may evict on behalf of others.
    std::vector<ClientEntry> evicted;
  };

  /// Inserts `e` as the most recent entry, replacing any entry with the same
  /// client id. Sets last_used_ns (and connected_at_ns when 0) to now. Then
  /// evicts least-recently-used entries while size() > capacity(), never the
  /// entry this call inserted.
  InsertResult insert(ClientEntry e);

  /// A copy of the entry, refreshed as most recent (last_used_ns = now).
  /// Counts a hit or a miss.
  std::optional<ClientEntry> get(std::string_view id);

  /// Hot path: refreshes the entry when it exists and its session equals
  /// `session`; counts a hit (true) or a miss (false). Copies nothing.
  bool touch(std::string_view id, uint64_t session);

  /// Removes the entry when its session equals `session` (0 matches any).
  /// Not counted as an eviction, hit or miss.
  std::optional<ClientEntry> erase(std::string_view id, uint64_t session);

  [[nodiscard]] size_t size() const { return size_.load(std::memory_order_relaxed); }
  [[nodiscard]] size_t capacity() const { return capacity_; }
  [[nodiscard]] size_t shard_count() const { return shard_mask_ + 1; }

  /// Counters since construction; live == size().
  [[nodiscard]] RegistryCounters counters() const;

  /// Every entry, most recent first. Each shard is copied under its own lock,
  /// so concurrent updates may or may not be reflected.
  [[nodiscard]] std::vector<ClientEntry> snapshot() const;

 private:
  struct Shard;
  struct alignas(64) PaddedCounter {
    std::atomic<uint64_t> value{0};
  };

  [[nodiscard]] size_t shard_of(std::string_view id) const;
  void evict_over_capacity(size_t own_shard, uint64_t own_generation, std::vector<ClientEntry>& evicted);

  const size_t capacity_;
  const size_t shard_mask_;
  std::unique_ptr<Shard[]> shards_;
  alignas(64) std::atomic<size_t> size_{0};
  PaddedCounter hits_;
  PaddedCounter misses_;
  PaddedCounter evictions_;
  /// Held only by an inserter that found the registry over capacity, so that
  /// one thread at a time walks the shard tails.
  std::mutex evict_mu_;
};

}  // namespace benchfs::registry
