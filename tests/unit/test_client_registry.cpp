// ClientRegistry: LRU order, replacement, erase, counters and shard rounding.

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "benchfs/core/clock.hpp"
#include "benchfs/core/status.hpp"
#include "benchfs/registry/client_registry.hpp"

namespace reg = benchfs::registry;

namespace {

reg::ClientEntry client(const std::string& id, uint64_t session = 7, uint32_t thread = 0) {
  reg::ClientEntry e;
  e.client_id = id;
  e.thread = thread;
  e.conn = 0x1000 + session;
  e.session = session;
  e.peer = "10.0.0.1:" + std::to_string(session);
  return e;
}

std::vector<std::string> ids(const std::vector<reg::ClientEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.client_id);
  return out;
}

TEST(ClientRegistry, InsertGetAndRecencyOrder) {
  reg::ClientRegistry r(10, 4);
  const uint64_t before = benchfs::now_ns();
  EXPECT_FALSE(r.insert(client("a", 1, 3)).replaced.has_value());
  r.insert(client("b", 2));
  r.insert(client("c", 3));
  EXPECT_EQ(r.size(), 3u);
  EXPECT_EQ(ids(r.snapshot()), (std::vector<std::string>{"c", "b", "a"}));

  auto a = r.get("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->client_id, "a");
  EXPECT_EQ(a->thread, 3u);
  EXPECT_EQ(a->conn, 0x1001u);
  EXPECT_EQ(a->session, 1u);
  EXPECT_EQ(a->peer, "10.0.0.1:1");
  EXPECT_GE(a->connected_at_ns, before);
  EXPECT_GE(a->last_used_ns, a->connected_at_ns);
  EXPECT_EQ(ids(r.snapshot()), (std::vector<std::string>{"a", "c", "b"}));

  EXPECT_TRUE(r.touch("b", 2));
  EXPECT_EQ(ids(r.snapshot()), (std::vector<std::string>{"b", "a", "c"}));
  auto b = r.get("b");
  ASSERT_TRUE(b.has_value());
  EXPECT_GT(b->last_used_ns, b->connected_at_ns);

  EXPECT_FALSE(r.get("zzz").has_value());
  EXPECT_FALSE(r.get("").has_value());
}

TEST(ClientRegistry, KeepsAGivenConnectedAt) {
  reg::ClientRegistry r(2, 1);
  auto e = client("a");
  e.connected_at_ns = 42;
  r.insert(e);
  EXPECT_EQ(r.get("a")->connected_at_ns, 42u);
}

class ClientRegistryLru : public ::testing::TestWithParam<size_t> {};

TEST_P(ClientRegistryLru, EvictsLeastRecentlyUsedAcrossShards) {
  reg::ClientRegistry r(4, GetParam());
  auto insert_expect = [&r](const std::string& id, const std::vector<std::string>& evicted) {
    auto res = r.insert(client(id));
    EXPECT_FALSE(res.replaced.has_value()) << id;
    EXPECT_EQ(ids(res.evicted), evicted) << "inserting " << id;
    EXPECT_LE(r.size(), 4u);
  };
  for (int i = 0; i < 4; ++i) insert_expect("c" + std::to_string(i), {});
  EXPECT_TRUE(r.touch("c0", 7));  // protects c0: order now c1 c2 c3 c0
  insert_expect("c4", {"c1"});
  insert_expect("c5", {"c2"});
  EXPECT_TRUE(r.get("c3").has_value());  // order c0 c4 c5 c3
  insert_expect("c6", {"c0"});
  insert_expect("c7", {"c4"});
  EXPECT_EQ(ids(r.snapshot()), (std::vector<std::string>{"c7", "c6", "c3", "c5"}));
  EXPECT_EQ(r.counters().evictions, 4u);
  EXPECT_EQ(r.counters().live, 4u);
  for (const char* gone : {"c0", "c1", "c2", "c4"}) EXPECT_FALSE(r.touch(gone, 7)) << gone;
}

INSTANTIATE_TEST_SUITE_P(ShardCounts, ClientRegistryLru, ::testing::Values(1, 2, 4, 16, 64));

TEST(ClientRegistry, NeverEvictsTheEntryJustInserted) {
  reg::ClientRegistry r(1, 8);
  r.insert(client("a"));
  auto res = r.insert(client("b"));
  EXPECT_EQ(ids(res.evicted), std::vector<std::string>{"a"});
  EXPECT_EQ(r.size(), 1u);
  EXPECT_TRUE(r.get("b").has_value());
  res = r.insert(client("c"));
  EXPECT_EQ(ids(res.evicted), std::vector<std::string>{"b"});
  EXPECT_TRUE(r.get("c").has_value());
}

TEST(ClientRegistry, ReRegisterReplacesAndReturnsTheOldEntry) {
  reg::ClientRegistry r(2, 4);
  r.insert(client("a", 1));
  r.insert(client("b", 2));
  auto res = r.insert(client("a", 3));
  ASSERT_TRUE(res.replaced.has_value());
  EXPECT_EQ(res.replaced->session, 1u);
  EXPECT_EQ(res.replaced->conn, 0x1001u);
  EXPECT_TRUE(res.evicted.empty());
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r.counters().evictions, 0u);
  EXPECT_EQ(r.get("a")->session, 3u);
  EXPECT_FALSE(r.touch("a", 1));  // the old session is gone
  // "a" became the most recent, so "b" goes first.
  res = r.insert(client("c", 4));
  EXPECT_EQ(ids(res.evicted), std::vector<std::string>{"b"});
}

TEST(ClientRegistry, EraseChecksTheSession) {
  reg::ClientRegistry r(4, 2);
  r.insert(client("a", 5));
  r.insert(client("b", 6));
  EXPECT_FALSE(r.erase("a", 6).has_value());
  EXPECT_EQ(r.size(), 2u);
  EXPECT_TRUE(r.touch("a", 5));
  auto gone = r.erase("a", 5);
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->client_id, "a");
  EXPECT_EQ(gone->session, 5u);
  EXPECT_EQ(r.size(), 1u);
  EXPECT_FALSE(r.erase("a", 5).has_value());
  EXPECT_FALSE(r.erase("missing", 0).has_value());
  EXPECT_TRUE(r.erase("b", 0).has_value());  // session 0 matches any
  EXPECT_EQ(r.size(), 0u);
  EXPECT_TRUE(r.snapshot().empty());
  EXPECT_EQ(r.counters().evictions, 0u);
}

TEST(ClientRegistry, CountersAreExact) {
  reg::ClientRegistry r(3, 4);
  for (int i = 0; i < 5; ++i) r.insert(client("c" + std::to_string(i), 9));  // evicts c0, c1
  EXPECT_TRUE(r.get("c4").has_value());                                      // hit
  EXPECT_FALSE(r.get("c0").has_value());                                     // miss
  EXPECT_TRUE(r.touch("c2", 9));                                             // hit
  EXPECT_FALSE(r.touch("c2", 8));                                            // miss: wrong session
  EXPECT_FALSE(r.touch("c1", 9));                                            // miss: evicted
  EXPECT_TRUE(r.erase("c3", 9).has_value());                                 // neither
  EXPECT_FALSE(r.erase("c3", 9).has_value());
  r.insert(client("c2", 10));  // replacement: not an eviction
  const auto c = r.counters();
  EXPECT_EQ(c.hits, 2u);
  EXPECT_EQ(c.misses, 3u);
  EXPECT_EQ(c.evictions, 2u);
  EXPECT_EQ(c.live, 2u);
  EXPECT_EQ(c.live, r.size());
}

TEST(ClientRegistry, ShardCountIsRoundedUpToAPowerOfTwo) {
  EXPECT_EQ(reg::ClientRegistry(8, 0).shard_count(), 1u);
  EXPECT_EQ(reg::ClientRegistry(8, 1).shard_count(), 1u);
  EXPECT_EQ(reg::ClientRegistry(8, 2).shard_count(), 2u);
  EXPECT_EQ(reg::ClientRegistry(8, 3).shard_count(), 4u);
  EXPECT_EQ(reg::ClientRegistry(8, 16).shard_count(), 16u);
  EXPECT_EQ(reg::ClientRegistry(8, 17).shard_count(), 32u);
  EXPECT_EQ(reg::ClientRegistry(8, 65536).shard_count(), 65536u);
  EXPECT_EQ(reg::ClientRegistry(8, 3).capacity(), 8u);
  EXPECT_THROW(reg::ClientRegistry(8, 65537), benchfs::Error);
}

TEST(ClientRegistry, CapacityZeroThrowsEinval) {
  try {
    reg::ClientRegistry r(0, 4);
    FAIL() << "capacity 0 accepted";
  } catch (const benchfs::Error& e) {
    EXPECT_EQ(e.status().err(), EINVAL);
  }
}

}  // namespace

// Soft capacity: a client with a request in flight is never evicted; the
// least recent idle one goes instead.
TEST(ClientRegistry, NeverEvictsAClientWithRequestsInFlight) {
  reg::ClientRegistry r(2, 1);
  auto busy = std::make_shared<reg::ClientActivity>();
  auto a = client("a", 1);
  a.activity = busy;
  busy->inflight = 1;
  r.insert(a);
  r.insert(client("b", 2));
  auto res = r.insert(client("c", 3));
  EXPECT_EQ(ids(res.evicted), std::vector<std::string>{"b"});  // "a" is older but working
  EXPECT_FALSE(res.over_capacity);
  EXPECT_TRUE(r.get("a").has_value());
  EXPECT_EQ(r.size(), 2u);
}

// When every other client is active the registry goes over capacity instead
// of failing anyone, and says so; once they are idle, the next insert
// brings it back.
TEST(ClientRegistry, GoesOverCapacityWhenEveryClientIsActive) {
  reg::ClientRegistry r(2, 4, /*idle_ns=*/3'600'000'000'000ULL);  // "recently used" = within an hour
  r.insert(client("a", 1));
  r.insert(client("b", 2));
  auto res = r.insert(client("c", 3));
  EXPECT_TRUE(res.evicted.empty());
  EXPECT_TRUE(res.over_capacity);
  EXPECT_EQ(r.size(), 3u);
  const auto c = r.counters();
  EXPECT_EQ(c.over_capacity, 1u);
  EXPECT_EQ(c.peak, 3u);
  EXPECT_EQ(c.evictions, 0u);
}

TEST(ClientRegistry, EvictsIdleClientsOnceTheirIdleTimeHasPassed) {
  reg::ClientRegistry r(2, 4, /*idle_ns=*/20'000'000ULL);  // 20 ms
  r.insert(client("a", 1));
  r.insert(client("b", 2));
  EXPECT_TRUE(r.insert(client("c", 3)).over_capacity);  // all used within 20 ms
  const uint64_t until = benchfs::now_ns() + 30'000'000ULL;
  while (benchfs::now_ns() < until) {
  }
  EXPECT_TRUE(r.touch("c", 3));  // c works again; a and b have been idle for 30 ms
  auto res = r.insert(client("d", 4));
  EXPECT_EQ(ids(res.evicted), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(res.over_capacity);
  EXPECT_EQ(r.size(), 2u);
}
