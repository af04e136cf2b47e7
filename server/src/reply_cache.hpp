#pragma once
// At-most-once execution for requests that carry wire::kFlagOnce (the ones
// a retry must not execute twice: create with O_EXCL, unlink, mkdir, rmdir,
// rename, truncate, remove_chunks). A client retries such a request after
// its connection was lost with the same request id; the server keeps the
// replies it sent recently per client id, server-wide (the retry may land
// on another progress thread after a reconnect) and across the client's
// eviction, and answers a repeat with the first reply instead of executing
// it again.
//
// Bounds (docs/RELIABILITY.md): the last kPerClient replies of each client,
// for at most max_clients client ids (the least recently active go first).
// A retry recognised within those bounds has exactly-once effect; one that
// falls outside them (a client with more than kPerClient such requests in
// flight at once, or a server that saw max_clients other clients since)
// executes again, as without the cache.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "benchfs/protocol/codec.hpp"

namespace benchfs::server {

class ReplyCache {
 public:
  static constexpr size_t kPerClient = 32;

  /// `max_clients` client ids kept at most (spread over `shards` shards).
  explicit ReplyCache(size_t max_clients = 8192, size_t shards = 16);
  ~ReplyCache();
  ReplyCache(const ReplyCache&) = delete;
  ReplyCache& operator=(const ReplyCache&) = delete;

  struct ClientReplies;

  /// One request's claim on its client's replies: while it lives, no other
  /// request of that client passes enter() (a repeat arriving on another
  /// thread waits for the first to be answered).
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&&) noexcept;
    Slot& operator=(Slot&&) noexcept;
    ~Slot();
    /// The reply an earlier execution of this request sent, if any.
    [[nodiscard]] const wire::Reply* cached() const { return cached_; }
    /// Keeps the reply this execution sends (its request id included).
    void record(const wire::Reply& r);
    [[nodiscard]] explicit operator bool() const { return client_ != nullptr; }

   private:
    friend class ReplyCache;
    std::shared_ptr<ClientReplies> client_;
    std::unique_lock<std::mutex> lock_;
    uint64_t request_id_ = 0;
    const wire::Reply* cached_ = nullptr;
  };

  Slot enter(std::string_view client_id, uint64_t request_id);

  struct Counters {
    uint64_t hits = 0;     ///< repeats answered from the cache
    uint64_t clients = 0;  ///< client ids held now
    uint64_t dropped_clients = 0;
  };
  [[nodiscard]] Counters counters() const;

 private:
  struct Shard;
  std::unique_ptr<Shard[]> shards_;
  const size_t shard_count_;
  const size_t per_shard_;
};

}  // namespace benchfs::server
