// ClientRegistry under concurrent insert/touch/get/erase: capacity holds, the
// counters add up, and every inserted entry is accounted for exactly once.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

#include "benchfs/registry/client_registry.hpp"

namespace reg = benchfs::registry;

namespace {

struct ThreadTally {
  uint64_t lookups = 0;  // get + touch calls
  uint64_t inserts = 0;
  uint64_t replaced = 0;
  uint64_t evicted = 0;
  uint64_t erased = 0;
  std::vector<std::string> tokens_out;  // `peer` tokens of entries that left the registry
  std::vector<std::string> tokens_in;   // `peer` tokens of every inserted entry
};

// The session of an id is fixed, so touch() and erase() can hit; a wrong one is
// used on purpose now and then.
uint64_t session_of(unsigned id) { return 1000 + id; }

void run_stress(size_t threads, size_t ops_per_thread, size_t ids, size_t capacity, size_t shards) {
  reg::ClientRegistry r(capacity, shards);
  std::vector<ThreadTally> tallies(threads);
  std::atomic<bool> go{false};
  std::atomic<bool> done{false};

  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      ThreadTally& tally = tallies[t];
      std::mt19937_64 rng(0x5eed + t);
      std::uniform_int_distribution<unsigned> pick_id(0, static_cast<unsigned>(ids - 1));
      std::uniform_int_distribution<int> pick_op(0, 99);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (size_t i = 0; i < ops_per_thread; ++i) {
        const unsigned id = pick_id(rng);
        const std::string name = "client-" + std::to_string(id);
        const int op = pick_op(rng);
        if (op < 25) {
          reg::ClientEntry e;
          e.client_id = name;
          e.thread = static_cast<uint32_t>(t);
          e.session = session_of(id);
          e.peer = std::to_string(t) + ":" + std::to_string(i);  // unique token
          tally.tokens_in.push_back(e.peer);
          auto res = r.insert(std::move(e));
          ++tally.inserts;
          if (res.replaced) {
            ++tally.replaced;
            tally.tokens_out.push_back(res.replaced->peer);
          }
          for (auto& ev : res.evicted) tally.tokens_out.push_back(ev.peer);
          tally.evicted += res.evicted.size();
        } else if (op < 65) {
          const bool wrong = op < 30;
          r.touch(name, wrong ? session_of(id) + 1 : session_of(id));
          ++tally.lookups;
        } else if (op < 90) {
          auto e = r.get(name);
          if (e) {
            EXPECT_EQ(e->client_id, name);
          }
          ++tally.lookups;
        } else {
          const uint64_t session = op < 93 ? session_of(id) + 1 : (op < 96 ? 0 : session_of(id));
          if (auto e = r.erase(name, session)) {
            ++tally.erased;
            tally.tokens_out.push_back(e->peer);
          }
        }
      }
    });
  }
  // A reader that walks the whole registry while the workers run.
  std::thread observer([&] {
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    while (!done.load(std::memory_order_acquire)) {
      auto snap = r.snapshot();
      // Not atomic across shards, so only the id bound holds here.
      EXPECT_LE(snap.size(), ids);
      (void)r.counters();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });

  go.store(true, std::memory_order_release);
  for (auto& w : workers) w.join();
  done.store(true, std::memory_order_release);
  observer.join();

  ThreadTally sum;
  for (auto& t : tallies) {
    sum.lookups += t.lookups;
    sum.inserts += t.inserts;
    sum.replaced += t.replaced;
    sum.evicted += t.evicted;
    sum.erased += t.erased;
  }
  const auto c = r.counters();
  EXPECT_LE(r.size(), capacity);
  EXPECT_EQ(c.live, r.size());
  EXPECT_EQ(c.hits + c.misses, sum.lookups);
  EXPECT_EQ(c.evictions, sum.evicted);
  EXPECT_EQ(sum.inserts - sum.replaced - sum.evicted - sum.erased, r.size());
  EXPECT_GT(c.hits, 0u);
  EXPECT_GT(c.misses, 0u);
  EXPECT_GT(c.evictions, 0u);
  EXPECT_GT(sum.replaced, 0u);
  EXPECT_GT(sum.erased, 0u);

  const auto snap = r.snapshot();
  ASSERT_EQ(snap.size(), r.size());
  std::unordered_set<std::string> snap_ids;
  for (const auto& e : snap) {
    EXPECT_TRUE(snap_ids.insert(e.client_id).second) << "duplicate id " << e.client_id;
    EXPECT_EQ(e.session, session_of(static_cast<unsigned>(std::stoul(e.client_id.substr(7)))));
  }
  // Conservation: every inserted entry is either still there or was handed
  // back exactly once (replaced, evicted or erased).
  std::unordered_set<std::string> accounted;
  for (auto& t : tallies) {
    for (auto& tok : t.tokens_out) EXPECT_TRUE(accounted.insert(tok).second) << "returned twice: " << tok;
  }
  for (const auto& e : snap) EXPECT_TRUE(accounted.insert(e.peer).second) << "live and returned: " << e.peer;
  size_t inserted = 0;
  for (auto& t : tallies) {
    inserted += t.tokens_in.size();
    for (auto& tok : t.tokens_in) EXPECT_EQ(accounted.count(tok), 1u) << "lost: " << tok;
  }
  EXPECT_EQ(accounted.size(), inserted);
}

size_t worker_threads() {
  return std::max<size_t>(4, std::min<size_t>(8, std::thread::hardware_concurrency()));
}

TEST(ClientRegistryStress, MixedOpsCapacity64Shards16) { run_stress(worker_threads(), 50'000, 200, 64, 16); }

// Tiny capacity, many shards: nearly every insert evicts, so inserters race
// in the eviction path.
TEST(ClientRegistryStress, EvictionHeavyCapacity4Shards16) {
  run_stress(worker_threads(), 10'000, 200, 4, 16);
}

// One shard: every operation contends on the same lock.
TEST(ClientRegistryStress, SingleShard) { run_stress(worker_threads(), 10'000, 200, 64, 1); }

}  // namespace
