#pragma once
// ClientRegistry: client id -> connection, a sharded concurrent LRU shared by
// all progress threads of a server (docs/DESIGN.md). Its capacity is soft:
// it evicts only idle clients and goes over capacity rather than evict one
// that is working.

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

/// What the registry may know of a connection's work: written by the
/// connection's progress thread, read by whoever evicts.
struct ClientActivity {
  std::atomic<uint32_t> inflight{0};  ///< requests received and not yet answered
};

/// One registered client: connection `conn` of progress thread `thread`
/// (connection ids are never reused within a thread, unlike UCX endpoint
/// handles). Only that thread acts on the connection.
struct ClientEntry {
  std::string client_id;
  uint32_t thread = 0;   ///< progress thread that owns the connection
  uint64_t conn = 0;     ///< connection id on that thread
  uint64_t session = 0;  ///< token carried by every request of this client
  /// The connection's requests in flight (null: always idle).
  std::shared_ptr<const ClientActivity> activity;
  std::string peer;  ///< peer address for logs and stats
  uint64_t connected_at_ns = 0;
  uint64_t last_used_ns = 0;
};

struct RegistryCounters {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  uint64_t live = 0;
  /// Inserts that left the registry over capacity: every other client was active.
  uint64_t over_capacity = 0;
  uint64_t peak = 0;  ///< most entries at once
};

/// A concurrent LRU map of soft capacity `capacity` split into a power-of-two
/// number of shards, each with its own mutex, hash map and recency list.
/// Lookups take one shard lock; the global eviction order is kept by per-node
/// recency stamps (now_ns() taken under the shard lock, strictly increasing
/// per shard; ties across shards break by shard index). All member functions
/// are thread safe.
///
/// Only idle entries are evicted: no request in flight (activity) and not
/// used for `idle_ns`. When more than `capacity` entries are all active the
/// registry stays over capacity (counted in over_capacity) until some go idle
/// or away: capacity bounds memory, never correctness.
class ClientRegistry {
 public:
  /// `shards` is rounded up to a power of two (0 -> 1, at most 65536).
  /// Throws benchfs::Error(EINVAL) for capacity 0 or more than 65536 shards.
  ClientRegistry(size_t capacity, size_t shards, uint64_t idle_ns = 0);
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
    /// The registry is still over capacity: no other entry was idle.
    bool over_capacity = false;
  };

  /// Inserts `e` as the most recent entry, replacing any entry with the same
  /// client id. Sets last_used_ns (and connected_at_ns when 0) to now. Then
  /// evicts the least recently used idle entries while size() > capacity(),
  /// never the entry this call inserted.
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
  /// False when it stopped over capacity (nothing idle to evict).
  bool evict_over_capacity(size_t own_shard, uint64_t own_generation, std::vector<ClientEntry>& evicted);

  const size_t capacity_;
  const uint64_t idle_ns_;
  const size_t shard_mask_;
  std::unique_ptr<Shard[]> shards_;
  alignas(64) std::atomic<size_t> size_{0};
  PaddedCounter hits_;
  PaddedCounter misses_;
  PaddedCounter evictions_;
  PaddedCounter over_capacity_;
  PaddedCounter peak_;
  /// Held only by an inserter that found the registry over capacity, so that
  /// one thread at a time walks the shard tails.
  std::mutex evict_mu_;
};

}  // namespace benchfs::registry
