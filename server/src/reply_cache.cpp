#include "reply_cache.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <vector>

#include "benchfs/core/clock.hpp"

namespace benchfs::server {

struct ReplyCache::ClientReplies {
  std::mutex mu;  ///< held by the Slot of the request being answered
  struct Entry {
    uint64_t request_id = 0;  ///< 0: empty (request ids start at 1)
    wire::Reply reply;
  };
  std::array<Entry, kPerClient> ring;
  size_t next = 0;
  uint64_t last_used_ns = 0;  ///< guarded by the shard's mutex
};

struct ReplyCache::Shard {
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<ClientReplies>> clients;
  std::atomic<uint64_t> hits{0};
  uint64_t dropped = 0;

  /// Drops the least recently active half of the clients (amortised O(1) per insert).
  void shed(size_t keep) {
    std::vector<std::pair<uint64_t, const std::string*>> by_age;
    by_age.reserve(clients.size());
    for (const auto& [id, c] : clients) by_age.emplace_back(c->last_used_ns, &id);
    const size_t drop = clients.size() - keep;
    std::nth_element(by_age.begin(), by_age.begin() + static_cast<std::ptrdiff_t>(drop), by_age.end());
    std::vector<std::string> victims;
    victims.reserve(drop);
    for (size_t i = 0; i < drop; ++i) victims.push_back(*by_age[i].second);
    for (const std::string& id : victims) clients.erase(id);
    dropped += drop;
  }
};

ReplyCache::ReplyCache(size_t max_clients, size_t shards)
    : shards_(std::make_unique<Shard[]>(std::max<size_t>(shards, 1))),
      shard_count_(std::max<size_t>(shards, 1)),
      per_shard_(std::max<size_t>(max_clients / std::max<size_t>(shards, 1), 2)) {}

ReplyCache::~ReplyCache() = default;

ReplyCache::Slot::Slot(Slot&&) noexcept = default;
ReplyCache::Slot& ReplyCache::Slot::operator=(Slot&&) noexcept = default;
ReplyCache::Slot::~Slot() = default;

ReplyCache::Slot ReplyCache::enter(std::string_view client_id, uint64_t request_id) {
  Shard& sh = shards_[std::hash<std::string_view>{}(client_id) % shard_count_];
  Slot slot;
  {
    std::lock_guard lock(sh.mu);
    auto it = sh.clients.find(std::string(client_id));
    if (it == sh.clients.end()) {
      if (sh.clients.size() >= per_shard_) sh.shed(per_shard_ / 2);
      it = sh.clients.emplace(std::string(client_id), std::make_shared<ClientReplies>()).first;
    }
    it->second->last_used_ns = coarse_ns();
    slot.client_ = it->second;
  }
  slot.lock_ = std::unique_lock<std::mutex>(slot.client_->mu);
  slot.request_id_ = request_id;
  for (const auto& e : slot.client_->ring) {
    if (e.request_id == request_id) {
      slot.cached_ = &e.reply;
      sh.hits.fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  return slot;
}

void ReplyCache::Slot::record(const wire::Reply& r) {
  if (client_ == nullptr || cached_ != nullptr) return;
  auto& e = client_->ring[client_->next++ % kPerClient];
  e.request_id = request_id_;
  e.reply = r;
}

ReplyCache::Counters ReplyCache::counters() const {
  Counters c;
  for (size_t i = 0; i < shard_count_; ++i) {
    Shard& sh = shards_[i];
    c.hits += sh.hits.load(std::memory_order_relaxed);
    std::lock_guard lock(sh.mu);
    c.clients += sh.clients.size();
    c.dropped_clients += sh.dropped;
  }
  return c;
}

}  // namespace benchfs::server
