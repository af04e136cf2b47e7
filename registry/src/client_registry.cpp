#include "benchfs/registry/client_registry.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <functional>
#include <iterator>
#include <list>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "benchfs/core/clock.hpp"
#include "benchfs/core/status.hpp"

namespace benchfs::registry {
namespace {

constexpr size_t kMaxShards = size_t{1} << 16;

struct Node {
  ClientEntry entry;
  uint64_t stamp = 0;       // recency: larger is more recent, unique within a shard
  uint64_t generation = 0;  // identifies one insert, so its inserter never evicts it
};
using List = std::list<Node>;

struct IdHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

size_t checked_capacity(size_t capacity) {
  if (capacity == 0) throw Error(EINVAL, "ClientRegistry capacity must be at least 1");
  return capacity;
}

size_t shard_mask_for(size_t shards) {
  if (shards > kMaxShards) {
    throw Error(EINVAL, "ClientRegistry: " + std::to_string(shards) + " shards requested, at most " +
                            std::to_string(kMaxShards));
  }
  return std::bit_ceil(std::max<size_t>(shards, 1)) - 1;
}

}  // namespace

struct alignas(64) ClientRegistry::Shard {
  std::mutex mu;
  List lru;  // front = most recent
  std::unordered_map<std::string, List::iterator, IdHash, std::equal_to<>> index;
  uint64_t last_stamp = 0;
  uint64_t next_generation = 1;

  /// A stamp for `now` that is strictly larger than every earlier one here.
  uint64_t next_stamp(uint64_t now) {
    last_stamp = std::max(now, last_stamp + 1);
    return last_stamp;
  }

  void refresh(List::iterator node) {
    const uint64_t now = now_ns();
    node->stamp = next_stamp(now);
    node->entry.last_used_ns = now;
    lru.splice(lru.begin(), lru, node);
  }

  /// The least recent idle node other than the one of generation `protect`
  /// (0: none): no request in flight and not used since `idle_before`
  /// (nodes nearer the front are used more recently, so the walk stops at the
  /// first one used since). Nodes with requests in flight are skipped.
  List::iterator victim(uint64_t protect, uint64_t idle_before) {
    for (auto it = lru.rbegin(); it != lru.rend(); ++it) {
      if (protect != 0 && it->generation == protect) continue;
      if (it->entry.activity && it->entry.activity->inflight.load(std::memory_order_relaxed) != 0) continue;
      if (it->entry.last_used_ns >= idle_before) break;
      return std::prev(it.base());
    }
    return lru.end();
  }
};

ClientRegistry::ClientRegistry(size_t capacity, size_t shards, uint64_t idle_ns)
    : capacity_(checked_capacity(capacity)),
      idle_ns_(idle_ns),
      shard_mask_(shard_mask_for(shards)),
      shards_(std::make_unique<Shard[]>(shard_mask_ + 1)) {}

ClientRegistry::~ClientRegistry() = default;

size_t ClientRegistry::shard_of(std::string_view id) const {
  // Mix the hash so the shard bits do not correlate with the map's bucket choice.
  uint64_t h = IdHash{}(id);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return static_cast<size_t>(h) & shard_mask_;
}

ClientRegistry::InsertResult ClientRegistry::insert(ClientEntry e) {
  InsertResult result;
  const size_t si = shard_of(e.client_id);
  Shard& sh = shards_[si];
  uint64_t generation = 0;
  {
    std::lock_guard lock(sh.mu);
    const uint64_t now = now_ns();
    e.last_used_ns = now;
    if (e.connected_at_ns == 0) e.connected_at_ns = now;
    generation = sh.next_generation++;
    if (auto it = sh.index.find(e.client_id); it != sh.index.end()) {
      List::iterator node = it->second;
      result.replaced = std::move(node->entry);
      node->entry = std::move(e);
      node->stamp = sh.next_stamp(now);
      node->generation = generation;
      sh.lru.splice(sh.lru.begin(), sh.lru, node);
    } else {
      sh.lru.push_front(Node{std::move(e), sh.next_stamp(now), generation});
      try {
        sh.index.emplace(sh.lru.front().entry.client_id, sh.lru.begin());
      } catch (...) {
        sh.lru.pop_front();
        throw;
      }
      const size_t size = size_.fetch_add(1) + 1;
      uint64_t peak = peak_.value.load(std::memory_order_relaxed);
      while (size > peak && !peak_.value.compare_exchange_weak(peak, size, std::memory_order_relaxed)) {
      }
    }
  }
  if (size_.load() > capacity_ && !evict_over_capacity(si, generation, result.evicted)) {
    result.over_capacity = true;
    over_capacity_.value.fetch_add(1, std::memory_order_relaxed);
  }
  return result;
}

bool ClientRegistry::evict_over_capacity(size_t own_shard, uint64_t own_generation,
                                         std::vector<ClientEntry>& evicted) {
  std::lock_guard evict_lock(evict_mu_);
  while (size_.load() > capacity_) {
    // Find the globally least recent idle entry: the oldest of the shards' candidates.
    const uint64_t now = now_ns();
    const uint64_t idle_before = now > idle_ns_ ? now - idle_ns_ : 0;
    bool found = false;
    uint64_t best_stamp = 0;
    size_t best = 0;
    for (size_t i = 0; i <= shard_mask_; ++i) {
      Shard& sh = shards_[i];
      std::lock_guard lock(sh.mu);
      auto v = sh.victim(i == own_shard ? own_generation : 0, idle_before);
      if (v == sh.lru.end()) continue;
      if (!found || v->stamp < best_stamp) {  // strict: equal stamps keep the lower shard index
        found = true;
        best_stamp = v->stamp;
        best = i;
      }
    }
    if (!found) return false;  // every other entry is active (or was erased meanwhile)

    Shard& sh = shards_[best];
    std::lock_guard lock(sh.mu);
    auto v = sh.victim(best == own_shard ? own_generation : 0, idle_before);
    // Touched, erased or replaced since the scan: look again.
    if (v == sh.lru.end() || v->stamp != best_stamp) continue;
    sh.index.erase(sh.index.find(v->entry.client_id));
    evicted.push_back(std::move(v->entry));
    sh.lru.erase(v);
    size_.fetch_sub(1);
    evictions_.value.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

std::optional<ClientEntry> ClientRegistry::get(std::string_view id) {
  Shard& sh = shards_[shard_of(id)];
  std::optional<ClientEntry> out;
  {
    std::lock_guard lock(sh.mu);
    if (auto it = sh.index.find(id); it != sh.index.end()) {
      sh.refresh(it->second);
      out = it->second->entry;
    }
  }
  (out ? hits_ : misses_).value.fetch_add(1, std::memory_order_relaxed);
  return out;
}

bool ClientRegistry::touch(std::string_view id, uint64_t session) {
  Shard& sh = shards_[shard_of(id)];
  bool hit = false;
  {
    std::lock_guard lock(sh.mu);
    if (auto it = sh.index.find(id); it != sh.index.end() && it->second->entry.session == session) {
      sh.refresh(it->second);
      hit = true;
    }
  }
  (hit ? hits_ : misses_).value.fetch_add(1, std::memory_order_relaxed);
  return hit;
}

std::optional<ClientEntry> ClientRegistry::erase(std::string_view id, uint64_t session) {
  Shard& sh = shards_[shard_of(id)];
  std::lock_guard lock(sh.mu);
  auto it = sh.index.find(id);
  if (it == sh.index.end()) return std::nullopt;
  List::iterator node = it->second;
  if (session != 0 && node->entry.session != session) return std::nullopt;
  std::optional<ClientEntry> out(std::move(node->entry));
  sh.index.erase(it);
  sh.lru.erase(node);
  size_.fetch_sub(1);
  return out;
}

RegistryCounters ClientRegistry::counters() const {
  RegistryCounters c;
  c.hits = hits_.value.load(std::memory_order_relaxed);
  c.misses = misses_.value.load(std::memory_order_relaxed);
  c.evictions = evictions_.value.load(std::memory_order_relaxed);
  c.live = size();
  c.over_capacity = over_capacity_.value.load(std::memory_order_relaxed);
  c.peak = peak_.value.load(std::memory_order_relaxed);
  return c;
}

std::vector<ClientEntry> ClientRegistry::snapshot() const {
  struct Item {
    uint64_t stamp;
    size_t shard;
    ClientEntry entry;
  };
  std::vector<Item> items;
  items.reserve(size());
  for (size_t i = 0; i <= shard_mask_; ++i) {
    Shard& sh = shards_[i];
    std::lock_guard lock(sh.mu);
    for (const Node& n : sh.lru) items.push_back(Item{n.stamp, i, n.entry});
  }
  // Most recent first; equal stamps across shards: the higher shard counts as more recent.
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return std::tie(a.stamp, a.shard) > std::tie(b.stamp, b.shard);
  });
  std::vector<ClientEntry> out;
  out.reserve(items.size());
  for (Item& it : items) out.push_back(std::move(it.entry));
  return out;
}

}  // namespace benchfs::registry
