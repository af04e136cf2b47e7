// Unit tests of storage/ ChunkStore: data integrity (patterns, holes, growth,
// trimming), leases, memory accounting, and concurrent writers on one chunk.

#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "benchfs/storage/chunk_store.hpp"

using namespace benchfs;
using namespace benchfs::storage;

namespace {

constexpr uint64_t kCs = 1 << 20;

// The byte a test writes at position `pos` of a chunk (never 0, so holes stand out).
std::byte pat(uint64_t pos, uint64_t seed = 0) {
  return static_cast<std::byte>(((pos * 131 + seed * 7) % 251) + 1);
}

std::vector<std::byte> pattern(uint64_t offset, uint64_t length, uint64_t seed = 0) {
  std::vector<std::byte> v(length);
  for (uint64_t i = 0; i < length; ++i) v[i] = pat(offset + i, seed);
  return v;
}

// The readable bytes of [offset, offset + length).
std::vector<std::byte> read_all(ChunkStore& s, ChunkKey k, uint64_t offset, uint64_t length) {
  auto r = s.begin_read(k, offset, length);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return {};
  return std::vector<std::byte>(r->data(), r->data() + r->length());
}

void write_pat(ChunkStore& s, ChunkKey k, uint64_t offset, uint64_t length, uint64_t seed = 0) {
  auto v = pattern(offset, length, seed);
  Status st = s.write(k, offset, v.data(), length);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
}

// Counts positions of `got` (starting at chunk offset `base`) that differ from
// the pattern within [pat_lo, pat_hi) and from zero outside it.
size_t mismatches(const std::vector<std::byte>& got, uint64_t base, uint64_t pat_lo, uint64_t pat_hi,
                  uint64_t seed = 0) {
  size_t bad = 0;
  for (uint64_t i = 0; i < got.size(); ++i) {
    const uint64_t pos = base + i;
    const std::byte want = (pos >= pat_lo && pos < pat_hi) ? pat(pos, seed) : std::byte{0};
    if (got[i] != want) ++bad;
  }
  return bad;
}

// Writes blocks 1 .. blocks-1 (`block` bytes each, pattern `seed`) of chunk
// k from `threads` threads started together, interleaved: write_block(offset,
// data) writes one and returns false when that failed. Asserts that none
// failed and that the chunk then holds blocks * block bytes of the pattern
// (block 0 written before).
template <class WriteBlock>
void race_blocks(ChunkStore& s, ChunkKey k, int threads, uint64_t block, uint64_t blocks, uint64_t seed,
                 WriteBlock write_block) {
  std::atomic<int> ready{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();
      for (uint64_t b = static_cast<uint64_t>(t) + 1; b < blocks; b += threads) {
        const auto v = pattern(b * block, block, seed);
        if (!write_block(b * block, v)) failures.fetch_add(1);
      }
    });
  }
  for (auto& th : ts) th.join();
  ASSERT_EQ(failures.load(), 0);
  auto got = read_all(s, k, 0, kCs);
  ASSERT_EQ(got.size(), blocks * block);
  ASSERT_EQ(mismatches(got, 0, 0, blocks * block, seed), 0u) << "round " << seed;
}

PoolOptions pool_opts(uint64_t retain, bool huge, uint64_t reserve = 0) {
  PoolOptions o;
  o.retain = retain;
  o.huge_pages = huge;
  o.reserve = reserve;
  return o;
}

}  // namespace

TEST(ChunkStore, WriteThenReadPattern) {
  ChunkStore s(kCs, 0);
  const ChunkKey k{1, 0};
  write_pat(s, k, 0, 1000);
  auto got = read_all(s, k, 0, 1000);
  ASSERT_EQ(got.size(), 1000u);
  EXPECT_EQ(mismatches(got, 0, 0, 1000), 0u);
  // Reads clamp to the valid length, and past it there is nothing.
  EXPECT_EQ(read_all(s, k, 500, 4096).size(), 500u);
  EXPECT_EQ(read_all(s, k, 1000, 10).size(), 0u);
  EXPECT_EQ(read_all(s, k, 5000, 10).size(), 0u);
  EXPECT_EQ(read_all(s, k, 0, 0).size(), 0u);
  // Overwrite the middle with another pattern.
  write_pat(s, k, 200, 100, 9);
  got = read_all(s, k, 0, 1000);
  for (uint64_t i = 0; i < 1000; ++i) {
    const std::byte want = (i >= 200 && i < 300) ? pat(i, 9) : pat(i);
    ASSERT_EQ(got[i], want) << "at " << i;
  }
  // Different keys are different chunks.
  EXPECT_EQ(read_all(s, ChunkKey{1, 1}, 0, 10).size(), 0u);
  EXPECT_EQ(read_all(s, ChunkKey{2, 0}, 0, 10).size(), 0u);
  EXPECT_EQ(s.stats().chunks, 1u);
}

TEST(ChunkStore, MissingChunkReadsEmpty) {
  ChunkStore s(kCs, 0);
  auto r = s.begin_read(ChunkKey{5, 3}, 0, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->length(), 0u);
  EXPECT_EQ(s.stats().chunks, 0u);
  EXPECT_EQ(s.bytes_used(), 0u);
}

TEST(ChunkStore, HolesReadZero) {
  ChunkStore s(kCs, 0);
  const ChunkKey k{1, 0};
  write_pat(s, k, 100, 10);
  write_pat(s, k, 5000, 20);
  auto got = read_all(s, k, 0, kCs);
  ASSERT_EQ(got.size(), 5020u);
  size_t bad = 0;
  for (uint64_t i = 0; i < got.size(); ++i) {
    const bool written = (i >= 100 && i < 110) || i >= 5000;
    if (got[i] != (written ? pat(i) : std::byte{0})) ++bad;
  }
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(s.bytes_used(), kCs);  // first write not at 0: full chunk at once
}

TEST(ChunkStore, SmallBuffersGrowByDoublingAndKeepData) {
  ChunkStore s(kCs, 0);
  const ChunkKey k{3, 0};
  write_pat(s, k, 0, 100);
  EXPECT_EQ(s.bytes_used(), 4096u);
  write_pat(s, k, 4000, 1000);  // ends at 5000
  EXPECT_EQ(s.bytes_used(), 8192u);
  write_pat(s, k, 20000, 10);  // ends at 20010: 8 KiB -> 16 -> 32 KiB
  EXPECT_EQ(s.bytes_used(), 32768u);
  auto got = read_all(s, k, 0, kCs);
  ASSERT_EQ(got.size(), 20010u);
  size_t bad = 0;
  for (uint64_t i = 0; i < got.size(); ++i) {
    const bool written = i < 100 || (i >= 4000 && i < 5000) || i >= 20000;
    if (got[i] != (written ? pat(i) : std::byte{0})) ++bad;
  }
  EXPECT_EQ(bad, 0u);
  write_pat(s, k, kCs - 10, 10);  // doubling capped at the chunk size
  EXPECT_EQ(s.bytes_used(), kCs);
  got = read_all(s, k, 0, kCs);
  ASSERT_EQ(got.size(), kCs);
  bad = 0;
  for (uint64_t i = 0; i < got.size(); ++i) {
    const bool written = i < 100 || (i >= 4000 && i < 5000) || (i >= 20000 && i < 20010) || i >= kCs - 10;
    if (got[i] != (written ? pat(i) : std::byte{0})) ++bad;
  }
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(s.stats().chunks, 1u);
}

TEST(ChunkStore, FirstWriteSizingRule) {
  ChunkStore s(kCs, 0);
  write_pat(s, ChunkKey{1, 0}, 0, kSmallChunkLimit);  // ends exactly at the limit: small
  EXPECT_EQ(s.bytes_used(), kSmallChunkLimit);
  write_pat(s, ChunkKey{2, 0}, 0, kSmallChunkLimit + 1);  // past it: full
  EXPECT_EQ(s.bytes_used(), kSmallChunkLimit + kCs);
  write_pat(s, ChunkKey{3, 0}, 1, 10);  // not at 0: full
  EXPECT_EQ(s.bytes_used(), kSmallChunkLimit + 2 * kCs);
  write_pat(s, ChunkKey{4, 0}, 0, 4097);  // just over 4 KiB: 8 KiB
  EXPECT_EQ(s.bytes_used(), kSmallChunkLimit + 2 * kCs + 8192);
  // A chunk size below 4 KiB caps the small buffer.
  ChunkStore tiny(1000, 0);
  write_pat(tiny, ChunkKey{1, 0}, 0, 10);
  EXPECT_EQ(tiny.bytes_used(), 1000u);
  // begin_write follows the same rule.
  ChunkStore t2(kCs, 0);
  auto w = t2.begin_write(ChunkKey{1, 0}, 0, 10);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(t2.bytes_used(), 4096u);
}

TEST(ChunkStore, RangeChecks) {
  ChunkStore s(kCs, 0);
  const ChunkKey k{1, 0};
  const char buf[16] = {};
  EXPECT_EQ(s.write(k, 0, buf, 0).err(), EINVAL);
  EXPECT_EQ(s.write(k, kCs - 8, buf, 16).err(), EINVAL);
  EXPECT_EQ(s.write(k, kCs + 1, buf, 1).err(), EINVAL);
  EXPECT_EQ(s.write(k, UINT64_MAX, buf, 2).err(), EINVAL);  // offset + length wraps
  EXPECT_EQ(s.write(k, 2, buf, UINT64_MAX).err(), EINVAL);
  EXPECT_EQ(s.begin_write(k, 0, 0).status().err(), EINVAL);
  EXPECT_EQ(s.begin_write(k, 10, kCs).status().err(), EINVAL);
  EXPECT_EQ(s.begin_write(k, UINT64_MAX - 1, 4).status().err(), EINVAL);
  EXPECT_EQ(s.begin_read(k, kCs, 1).status().err(), EINVAL);
  EXPECT_EQ(s.begin_read(k, UINT64_MAX, 2).status().err(), EINVAL);
  EXPECT_TRUE(s.begin_read(k, kCs, 0).ok());
  EXPECT_TRUE(s.write(k, kCs - 16, buf, 16).is_ok());  // the last bytes are fine
  EXPECT_EQ(s.stats().chunks, 1u);
}

TEST(ChunkStore, WriteLeaseCommitResetAndMove) {
  ChunkStore s(kCs, 0);
  const ChunkKey k{1, 0};
  {
    auto w = s.begin_write(k, 0, 100);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(static_cast<bool>(*w));
    EXPECT_EQ(w->length(), 100u);
    auto v = pattern(0, 100);
    std::memcpy(w->data(), v.data(), 100);
    w->reset();  // without commit: the valid length stays
    EXPECT_FALSE(static_cast<bool>(*w));
  }
  EXPECT_EQ(read_all(s, k, 0, 100).size(), 0u);
  {
    auto w = s.begin_write(k, 50, 100);
    ASSERT_TRUE(w.ok());
    auto v = pattern(50, 100);
    std::memcpy(w->data(), v.data(), 100);
    WriteLease moved = std::move(*w);
    EXPECT_FALSE(static_cast<bool>(*w));  // NOLINT(bugprone-use-after-move)
    ASSERT_TRUE(static_cast<bool>(moved));
    WriteLease assigned;
    assigned = std::move(moved);
    assigned.commit();
    EXPECT_FALSE(static_cast<bool>(assigned));
    assigned.commit();  // ended: no effect
  }
  auto got = read_all(s, k, 0, 200);
  ASSERT_EQ(got.size(), 150u);
  // [0,50) holds the uncommitted bytes of the first lease; [50,150) the pattern.
  for (uint64_t i = 50; i < 150; ++i) ASSERT_EQ(got[i], pat(i)) << i;
  // A destroyed lease without commit does not extend either.
  { auto w = s.begin_write(k, 300, 10); }
  EXPECT_EQ(read_all(s, k, 0, kCs).size(), 150u);
  // Commit is a max: an earlier range does not lower the valid length.
  {
    auto w = s.begin_write(k, 0, 10);
    ASSERT_TRUE(w.ok());
    w->commit();
  }
  EXPECT_EQ(read_all(s, k, 0, kCs).size(), 150u);
}

// Sequential transfers of kSmallChunkLimit (IOR -t 64k): the chunk starts
// small, and the second transfer takes it to the full size in one step
// (no 128 / 256 / 512 KiB buffers in between), keeping every byte.
TEST(ChunkStore, GrowPastSmallLimitTakesFullSize) {
  ChunkStore s(kCs, 0);
  const ChunkKey k{1, 0};
  write_pat(s, k, 0, kSmallChunkLimit);
  EXPECT_EQ(s.bytes_used(), kSmallChunkLimit);
  write_pat(s, k, kSmallChunkLimit, kSmallChunkLimit);
  EXPECT_EQ(s.bytes_used(), kCs);
  EXPECT_EQ(s.stats().pool.in_use, 1u);
  for (uint64_t off = 2 * kSmallChunkLimit; off < kCs; off += kSmallChunkLimit)
    write_pat(s, k, off, kSmallChunkLimit);
  EXPECT_EQ(s.bytes_used(), kCs);
  auto got = read_all(s, k, 0, kCs);
  ASSERT_EQ(got.size(), kCs);
  EXPECT_EQ(mismatches(got, 0, 0, kCs), 0u);
  // Growth within the small range still doubles: 4 KiB -> 8 KiB -> 16 KiB.
  const ChunkKey k2{2, 0};
  write_pat(s, k2, 0, 4096);
  write_pat(s, k2, 4096, 4096);
  EXPECT_EQ(s.bytes_used(), kCs + 8192);
  write_pat(s, k2, 8192, 100);
  EXPECT_EQ(s.bytes_used(), kCs + 16384);
  EXPECT_EQ(mismatches(read_all(s, k2, 0, kCs), 0, 0, 8292), 0u);
}

TEST(ChunkStore, GrowRefusedWhileLeased) {
  ChunkStore s(kCs, 0);
  const ChunkKey k{1, 0};
  write_pat(s, k, 0, 100);
  ASSERT_EQ(s.bytes_used(), 4096u);
  {
    auto r = s.begin_read(k, 0, 100);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->length(), 100u);
    const std::byte* before = r->data();
    const char x[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    EXPECT_EQ(s.write(k, 5000, x, 10).err(), EAGAIN);
    EXPECT_EQ(s.begin_write(k, 4090, 10).status().err(), EAGAIN);
    EXPECT_EQ(s.stats().grow_refused, 2u);
    EXPECT_EQ(s.bytes_used(), 4096u);
    // Within the capacity, writes still go through while leased.
    EXPECT_TRUE(s.write(k, 200, x, 10).is_ok());
    EXPECT_EQ(r->data(), before);
    EXPECT_EQ(mismatches(std::vector<std::byte>(r->data(), r->data() + 100), 0, 0, 100), 0u);
  }
  {
    auto w = s.begin_write(k, 300, 10);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(s.begin_write(k, 8000, 10).status().err(), EAGAIN);  // a write lease pins it too
    w->commit();
  }
  EXPECT_EQ(s.stats().grow_refused, 3u);
  write_pat(s, k, 5000, 10);  // no lease: grows
  EXPECT_EQ(s.bytes_used(), 8192u);
  auto got = read_all(s, k, 0, 100);
  EXPECT_EQ(mismatches(got, 0, 0, 100), 0u);
}

TEST(ChunkStore, RemoveDropsAndTrims) {
  ChunkStore s(4096, 0);
  for (uint64_t i = 0; i < 4; ++i) write_pat(s, ChunkKey{7, i}, 0, 4096, i);
  write_pat(s, ChunkKey{8, 0}, 0, 4096);
  ASSERT_EQ(s.stats().chunks, 5u);
  ASSERT_EQ(s.bytes_used(), 5u * 4096);

  // keep in the middle of chunk 1: chunks 2 and 3 go, chunk 1 is trimmed to 100.
  RemoveResult r = s.remove(7, 4096 + 100);
  EXPECT_EQ(r.chunks, 2u);
  EXPECT_EQ(r.bytes, 2u * 4096);
  EXPECT_EQ(s.stats().chunks, 3u);
  EXPECT_EQ(s.bytes_used(), 3u * 4096);
  EXPECT_EQ(read_all(s, ChunkKey{7, 2}, 0, 10).size(), 0u);
  EXPECT_EQ(read_all(s, ChunkKey{7, 3}, 0, 10).size(), 0u);
  auto got = read_all(s, ChunkKey{7, 1}, 0, 4096);
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(mismatches(got, 0, 0, 100, 1), 0u);
  // The trimmed bytes are zero when the chunk is extended again.
  write_pat(s, ChunkKey{7, 1}, 4000, 10, 1);
  got = read_all(s, ChunkKey{7, 1}, 0, 4096);
  ASSERT_EQ(got.size(), 4010u);
  size_t bad = 0;
  for (uint64_t i = 0; i < got.size(); ++i) {
    const bool written = i < 100 || i >= 4000;
    if (got[i] != (written ? pat(i, 1) : std::byte{0})) ++bad;
  }
  EXPECT_EQ(bad, 0u);
  got = read_all(s, ChunkKey{7, 0}, 0, 4096);
  EXPECT_EQ(mismatches(got, 0, 0, 4096, 0), 0u);

  // keep on a chunk boundary: chunk 1 goes whole, chunk 0 untouched.
  r = s.remove(7, 4096);
  EXPECT_EQ(r.chunks, 1u);
  EXPECT_EQ(read_all(s, ChunkKey{7, 0}, 0, 4096).size(), 4096u);

  // keep = 0: everything of ino 7; ino 8 untouched.
  r = s.remove(7, 0);
  EXPECT_EQ(r.chunks, 1u);
  EXPECT_EQ(r.bytes, 4096u);
  EXPECT_EQ(read_all(s, ChunkKey{8, 0}, 0, 4096).size(), 4096u);
  r = s.remove(8, 0);
  EXPECT_EQ(r.chunks, 1u);
  EXPECT_EQ(s.bytes_used(), 0u);
  EXPECT_EQ(s.stats().chunks, 0u);
  r = s.remove(9, 0);  // nothing there
  EXPECT_EQ(r.chunks, 0u);
  EXPECT_EQ(r.bytes, 0u);
  // A removed chunk starts afresh (small again).
  write_pat(s, ChunkKey{7, 0}, 0, 10);
  EXPECT_EQ(read_all(s, ChunkKey{7, 0}, 0, 4096).size(), 10u);
}

TEST(ChunkStore, TrimOnlyChunkOfSmallFile) {
  ChunkStore s(kCs, 0);
  const ChunkKey k{1, 0};
  write_pat(s, k, 0, 3000);
  RemoveResult r = s.remove(1, 1000);  // truncate to 1000 bytes
  EXPECT_EQ(r.chunks, 0u);
  auto got = read_all(s, k, 0, 4096);
  ASSERT_EQ(got.size(), 1000u);
  EXPECT_EQ(mismatches(got, 0, 0, 1000), 0u);
  // Trim past the valid length changes nothing.
  s.remove(1, 2000);
  EXPECT_EQ(read_all(s, k, 0, 4096).size(), 1000u);
  const char z = 'z';
  ASSERT_TRUE(s.write(k, 2999, &z, 1).is_ok());
  got = read_all(s, k, 0, 4096);
  ASSERT_EQ(got.size(), 3000u);
  EXPECT_EQ(mismatches(std::vector<std::byte>(got.begin(), got.end() - 1), 0, 0, 1000), 0u);
  EXPECT_EQ(got[2999], std::byte{'z'});
}

TEST(ChunkStore, LeaseKeepsRemovedChunkAlive) {
  ChunkStore s(kCs, 0);
  const ChunkKey k{1, 0};
  write_pat(s, k, 0, 100);
  auto r = s.begin_read(k, 0, 100);
  ASSERT_TRUE(r.ok());
  RemoveResult rr = s.remove(1, 0);
  EXPECT_EQ(rr.chunks, 1u);
  EXPECT_EQ(rr.bytes, 4096u);
  EXPECT_EQ(s.stats().chunks, 0u);
  EXPECT_EQ(s.bytes_used(), 4096u);  // returned only when the lease ends
  EXPECT_EQ(mismatches(std::vector<std::byte>(r->data(), r->data() + r->length()), 0, 0, 100), 0u);
  ReadLease moved = std::move(*r);
  EXPECT_EQ(s.bytes_used(), 4096u);
  moved.reset();
  EXPECT_EQ(s.bytes_used(), 0u);
  // Same for a write lease: the commit lands in the detached chunk.
  auto w = s.begin_write(k, 0, 10);
  ASSERT_TRUE(w.ok());
  s.remove(1, 0);
  EXPECT_EQ(s.bytes_used(), 4096u);
  std::memset(w->data(), 1, 10);
  w->commit();
  EXPECT_EQ(s.bytes_used(), 0u);
  EXPECT_EQ(read_all(s, k, 0, 10).size(), 0u);
}

TEST(ChunkStore, EnospcChangesNothing) {
  ChunkStore s(kCs, 2 * kCs);
  write_pat(s, ChunkKey{1, 0}, 0, kCs);
  write_pat(s, ChunkKey{1, 1}, 10, 100);
  ASSERT_EQ(s.bytes_used(), 2 * kCs);
  const auto v = pattern(0, 100);
  EXPECT_EQ(s.write(ChunkKey{1, 2}, 0, v.data(), 100).err(), ENOSPC);
  EXPECT_EQ(s.begin_write(ChunkKey{2, 0}, 0, 100).status().err(), ENOSPC);
  ChunkStoreStats st = s.stats();
  EXPECT_EQ(st.enospc, 2u);
  EXPECT_EQ(st.chunks, 2u);  // no empty chunk left behind
  EXPECT_EQ(st.bytes_used, 2 * kCs);
  EXPECT_EQ(st.memory_limit, 2 * kCs);
  EXPECT_EQ(read_all(s, ChunkKey{1, 2}, 0, 100).size(), 0u);
  // Existing data still reads and overwrites in place.
  EXPECT_EQ(mismatches(read_all(s, ChunkKey{1, 0}, 0, kCs), 0, 0, kCs), 0u);
  write_pat(s, ChunkKey{1, 1}, 0, 10, 3);
  EXPECT_EQ(s.bytes_used(), 2 * kCs);
  // Freed space is usable again.
  s.remove(1, kCs);
  EXPECT_EQ(s.bytes_used(), kCs);
  write_pat(s, ChunkKey{1, 2}, 0, 100);
  EXPECT_EQ(s.stats().chunks, 2u);
}

TEST(ChunkStore, EnospcOnGrowKeepsData) {
  ChunkStore s(kCs, 8192);
  const ChunkKey k{1, 0};
  write_pat(s, k, 0, 5000);  // 8 KiB: at the limit
  ASSERT_EQ(s.bytes_used(), 8192u);
  const auto v = pattern(9000, 10);
  EXPECT_EQ(s.write(k, 9000, v.data(), 10).err(), ENOSPC);
  EXPECT_EQ(s.begin_write(k, 9000, 10).status().err(), ENOSPC);
  EXPECT_EQ(s.bytes_used(), 8192u);
  EXPECT_EQ(s.stats().enospc, 2u);
  auto got = read_all(s, k, 0, kCs);
  ASSERT_EQ(got.size(), 5000u);
  EXPECT_EQ(mismatches(got, 0, 0, 5000), 0u);
  write_pat(s, k, 8000, 192);  // inside the capacity: fine
  EXPECT_EQ(read_all(s, k, 0, kCs).size(), 8192u);
}

// Four threads write interleaved disjoint blocks of one chunk with write().
// Block 0 is written first, so the chunk starts small and the writers race
// its growth (creation races are ConcurrentCreateSameChunk's). Nothing may be lost.
TEST(ChunkStore, ConcurrentEagerWritersOneChunk) {
  constexpr int kThreads = 4;
  constexpr uint64_t kBlock = 1024;
  constexpr uint64_t kBlocks = 16;  // 16 KiB in all: grows 4 KiB -> 16 KiB by doubling
  ChunkStore s(kCs, 0);
  for (uint64_t round = 0; round < 20; ++round) {
    const ChunkKey k{round, 0};
    write_pat(s, k, 0, kBlock, round);
    ASSERT_EQ(s.bytes_used(), round * kBlocks * kBlock + 4096);
    const auto eager_write = [&](uint64_t off, const std::vector<std::byte>& v) {
      return s.write(k, off, v.data(), kBlock).is_ok();
    };
    ASSERT_NO_FATAL_FAILURE(race_blocks(s, k, kThreads, kBlock, kBlocks, round, eager_write));
  }
  EXPECT_EQ(s.stats().chunks, 20u);
  EXPECT_EQ(s.bytes_used(), 20u * kBlocks * kBlock);
}

// The same with leases: begin_write + memcpy outside any lock + commit, as a
// rendezvous receive does, into a chunk that starts small. A grow refused
// while another lease is alive is retried (as the client would).
TEST(ChunkStore, ConcurrentLeaseWritersOneChunk) {
  constexpr int kThreads = 4;
  constexpr uint64_t kBlock = 3000;  // not a power of two: blocks straddle buffer sizes
  constexpr uint64_t kBlocks = 60;
  ChunkStore s(kCs, 0);
  std::atomic<uint64_t> retries{0};
  for (uint64_t round = 0; round < 20; ++round) {
    const ChunkKey k{round, 0};
    write_pat(s, k, 0, kBlock, round);  // a small chunk: the writers must grow it
    // A grow refused while another lease is alive (EAGAIN) is retried.
    const auto lease_write = [&](uint64_t off, const std::vector<std::byte>& v) {
      for (;;) {
        auto w = s.begin_write(k, off, kBlock);
        if (w.ok()) {
          std::memcpy(w->data(), v.data(), kBlock);
          w->commit();
          return true;
        }
        if (w.status().err() != EAGAIN) return false;
        retries.fetch_add(1);
        std::this_thread::yield();
      }
    };
    ASSERT_NO_FATAL_FAILURE(race_blocks(s, k, kThreads, kBlock, kBlocks, round, lease_write));
  }
  EXPECT_EQ(s.stats().grow_refused, retries.load());
  EXPECT_EQ(s.stats().chunks, 20u);
  EXPECT_EQ(s.bytes_used(), 20u * kCs);  // 180000 bytes: past kSmallChunkLimit, so full size
}

// Many threads create the same chunks at once: one chunk per key, all bytes
// kept, and the accounting matches that one buffer.
TEST(ChunkStore, ConcurrentCreateSameChunk) {
  constexpr int kThreads = 4;
  constexpr uint64_t kKeys = 200;
  ChunkStore s(65536, 0);
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (uint64_t i = 0; i < kKeys; ++i) {
        // Half the threads use eager writes, half leases; all at offset > 0
        // so every creator asks for a full chunk.
        const uint64_t off = 1000 + static_cast<uint64_t>(t) * 100;
        auto v = pattern(off, 100, i);
        if (t % 2 == 0) {
          if (!s.write(ChunkKey{i, 0}, off, v.data(), 100).is_ok()) failures.fetch_add(1);
        } else {
          auto w = s.begin_write(ChunkKey{i, 0}, off, 100);
          if (!w.ok()) {
            failures.fetch_add(1);
            continue;
          }
          std::memcpy(w->data(), v.data(), 100);
          w->commit();
        }
      }
    });
  }
  for (auto& th : ts) th.join();
  ASSERT_EQ(failures.load(), 0);
  EXPECT_EQ(s.stats().chunks, kKeys);
  EXPECT_EQ(s.bytes_used(), kKeys * 65536);
  for (uint64_t i = 0; i < kKeys; ++i) {
    auto got = read_all(s, ChunkKey{i, 0}, 0, 65536);
    ASSERT_EQ(got.size(), 1000u + kThreads * 100);
    ASSERT_EQ(mismatches(got, 0, 1000, 1000 + kThreads * 100, i), 0u) << "key " << i;
  }
  for (uint64_t i = 0; i < kKeys; ++i) s.remove(i, 0);
  EXPECT_EQ(s.bytes_used(), 0u);
  EXPECT_EQ(s.stats().chunks, 0u);
}

// Writers, readers and removers on shared files. Two writers fill chunk 0 of
// eight files block by block (disjoint, each block once; a chunk that starts
// small grows while read leases come and go, so writes may be refused with
// EAGAIN and are retried), and also write chunks 1..3, which a remover keeps
// dropping. A reader checks every completed block (only those: reading bytes
// still being written is the caller's race). At the end nothing stays accounted.
TEST(ChunkStore, ConcurrentWriteReadRemove) {
  constexpr uint64_t kCsSmall = 16384;
  constexpr uint64_t kBlock = 256;
  constexpr uint64_t kBlocks = kCsSmall / kBlock;
  constexpr uint64_t kInos = 8;
  ChunkStore s(kCsSmall, 0);
  std::vector<std::atomic<bool>> done(kInos * kBlocks);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0};
  std::atomic<uint64_t> checked{0};
  std::atomic<uint64_t> passes{0};
  std::vector<std::thread> ts;
  for (uint64_t t = 0; t < 2; ++t) {
    ts.emplace_back([&, t] {
      for (uint64_t b = t; b < kBlocks; b += 2) {
        // Keep pace with the reader, so its sweeps overlap the writes.
        while (passes.load() < b / 8) std::this_thread::yield();
        for (uint64_t ino = 0; ino < kInos; ++ino) {
          const auto v = pattern(b * kBlock, kBlock, ino);
          Status st;
          while ((st = s.write(ChunkKey{ino, 0}, b * kBlock, v.data(), kBlock)).err() == EAGAIN) {
            std::this_thread::yield();
          }
          if (!st.is_ok()) bad.fetch_add(1);
          done[ino * kBlocks + b].store(true, std::memory_order_release);
          (void)s.write(ChunkKey{ino, 1 + b % 3}, b * kBlock, v.data(), kBlock);
        }
      }
    });
  }
  ts.emplace_back([&] {
    while (!stop.load()) {
      for (uint64_t ino = 0; ino < kInos; ++ino) {
        for (uint64_t b = 0; b < kBlocks; ++b) {
          if (!done[ino * kBlocks + b].load(std::memory_order_acquire)) continue;
          auto r = s.begin_read(ChunkKey{ino, 0}, b * kBlock, kBlock);
          if (!r.ok() || r->length() != kBlock) {
            bad.fetch_add(1);
            continue;
          }
          for (uint64_t i = 0; i < kBlock; ++i) {
            if (r->data()[i] != pat(b * kBlock + i, ino)) bad.fetch_add(1);
          }
          checked.fetch_add(1);
        }
      }
      passes.fetch_add(1);
    }
  });
  ts.emplace_back([&] {
    while (!stop.load()) {
      for (uint64_t ino = 0; ino < kInos; ++ino) s.remove(ino, kCsSmall);  // keep chunk 0 only
      std::this_thread::yield();
    }
  });
  ts[0].join();
  ts[1].join();
  // Two more sweeps: the last one checks every block.
  const uint64_t seen_passes = passes.load();
  while (passes.load() < seen_passes + 2) std::this_thread::yield();
  stop.store(true);
  ts[2].join();
  ts[3].join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GE(checked.load(), kInos * kBlocks);
  for (uint64_t ino = 0; ino < kInos; ++ino) {
    auto got = read_all(s, ChunkKey{ino, 0}, 0, kCsSmall);
    ASSERT_EQ(got.size(), kCsSmall);
    EXPECT_EQ(mismatches(got, 0, 0, kCsSmall, ino), 0u) << "ino " << ino;
  }
  for (uint64_t ino = 0; ino < kInos; ++ino) s.remove(ino, 0);
  EXPECT_EQ(s.stats().chunks, 0u);
  EXPECT_EQ(s.bytes_used(), 0u);
}

// ---- reused buffers: no byte of a removed file is ever readable ----

// Fills chunk (ino, 0) entirely with seed's pattern, then removes the file,
// leaving a warm buffer full of non-zero bytes in the pool.
void leave_dirty_buffer(ChunkStore& s, uint64_t ino, uint64_t seed) {
  write_pat(s, {ino, 0}, 0, kCs, seed);
  s.remove(ino, 0);
}

TEST(ChunkStoreReuse, GapBelowAWriteReadsZeroInAReusedBuffer) {
  ChunkStore s(kCs, 0);
  leave_dirty_buffer(s, 1, 9);
  const uint64_t warm_before = s.stats().pool.reused_warm;
  write_pat(s, {2, 0}, 300'000, 1000);
  EXPECT_EQ(s.stats().pool.reused_warm, warm_before + 1) << "the freed buffer was not reused";
  auto got = read_all(s, {2, 0}, 0, kCs);
  ASSERT_EQ(got.size(), 301'000u);
  EXPECT_EQ(mismatches(got, 0, 300'000, 301'000), 0u);
  // A second write further on zeroes only its own gap; the first stays.
  write_pat(s, {2, 0}, 700'000, 10);
  got = read_all(s, {2, 0}, 0, kCs);
  ASSERT_EQ(got.size(), 700'010u);
  size_t bad = 0;
  for (uint64_t i = 0; i < got.size(); ++i) {
    const bool data = (i >= 300'000 && i < 301'000) || i >= 700'000;
    if (got[i] != (data ? pat(i) : std::byte{0})) ++bad;
  }
  EXPECT_EQ(bad, 0u);
}

TEST(ChunkStoreReuse, LeaseWriteAfterGapAndConcurrentClaims) {
  ChunkStore s(kCs, 0);
  leave_dirty_buffer(s, 1, 3);
  // Two leases claimed out of order (as concurrent shared-file writers do):
  // the later range first, then the earlier one; neither is zeroed under
  // the other, and the gap between them reads zero.
  auto hi = s.begin_write({2, 0}, 600'000, 400'000);
  ASSERT_TRUE(hi.ok());
  auto lo = s.begin_write({2, 0}, 0, 200'000);
  ASSERT_TRUE(lo.ok());
  auto hv = pattern(600'000, 400'000);
  auto lv = pattern(0, 200'000);
  std::memcpy(hi->data(), hv.data(), hv.size());
  std::memcpy(lo->data(), lv.data(), lv.size());
  hi->commit();
  lo->commit();
  auto got = read_all(s, {2, 0}, 0, kCs);
  ASSERT_EQ(got.size(), 1'000'000u);
  size_t bad = 0;
  for (uint64_t i = 0; i < got.size(); ++i) {
    const bool data = i < 200'000 || i >= 600'000;
    if (got[i] != (data ? pat(i) : std::byte{0})) ++bad;
  }
  EXPECT_EQ(bad, 0u);
}

TEST(ChunkStoreReuse, TrimThenExtendReadsZeroInBetween) {
  ChunkStore s(kCs, 0);
  write_pat(s, {1, 0}, 0, kCs);
  s.remove(1, 100);  // the file now ends at byte 100
  write_pat(s, {1, 0}, 200, 100, 5);
  auto got = read_all(s, {1, 0}, 0, kCs);
  ASSERT_EQ(got.size(), 300u);
  EXPECT_EQ(mismatches(std::vector<std::byte>(got.begin(), got.begin() + 100), 0, 0, 100), 0u);
  for (uint64_t i = 100; i < 200; ++i)
    ASSERT_EQ(got[i], std::byte{0}) << "byte " << i << " survived the trim";
  EXPECT_EQ(mismatches(std::vector<std::byte>(got.begin() + 200, got.end()), 200, 200, 300, 5), 0u);
}

// A trim leaves the cut bytes in the buffer (they are zeroed lazily); a
// later grow must not carry them into the new buffer as if they were zero:
// into a fresh (zeroed) full-size buffer, into a reserve buffer, and within
// the small sizes.
TEST(ChunkStoreReuse, GrowAfterTrimNeverExposesTrimmedBytes) {
  ChunkStore s(kCs, 0, pool_opts(64 * kCs, true, 4 * kCs));
  ASSERT_TRUE(s.wait_reserve(20000));
  for (uint64_t ino : {1, 2}) {
    write_pat(s, {ino, 0}, 0, 1000, 4);  // a small chunk
    s.remove(ino, 100);                  // the file now ends at byte 100
  }
  write_pat(s, {1, 0}, 100'000, 10, 5);  // grows to the full size (a reserve buffer)
  auto got = read_all(s, {1, 0}, 0, kCs);
  ASSERT_EQ(got.size(), 100'010u);
  EXPECT_EQ(mismatches(std::vector<std::byte>(got.begin(), got.begin() + 100), 0, 0, 100, 4), 0u);
  for (uint64_t i = 100; i < 100'000; ++i)
    ASSERT_EQ(got[i], std::byte{0}) << "byte " << i << " survived the trim";
  write_pat(s, {2, 0}, 6000, 10, 5);  // grows 4 KiB -> 8 KiB
  got = read_all(s, {2, 0}, 0, kCs);
  ASSERT_EQ(got.size(), 6010u);
  for (uint64_t i = 100; i < 6000; ++i)
    ASSERT_EQ(got[i], std::byte{0}) << "byte " << i << " survived the trim";
}

TEST(ChunkStoreReuse, AbandonedReceiveIsNeverReadable) {
  ChunkStore s(kCs, 0);
  write_pat(s, {1, 0}, 0, 4096 * 32);  // a full-size chunk: first write is > 64 KiB
  {
    auto lease = s.begin_write({1, 0}, 200'000, 100'000);
    ASSERT_TRUE(lease.ok());
    std::memset(lease->data(), 0x5a, 50'000);  // half received, then the client vanished
    lease->reset();
  }
  write_pat(s, {1, 0}, 400'000, 10, 2);
  auto got = read_all(s, {1, 0}, 0, kCs);
  ASSERT_EQ(got.size(), 400'010u);
  for (uint64_t i = 4096 * 32; i < 400'000; ++i)
    ASSERT_EQ(got[i], std::byte{0}) << "byte " << i << " of an abandoned receive is readable";
}

TEST(ChunkStoreReuse, PoolRetainsUpToItsLimitAndReturnsTheRest) {
  ChunkStore s(kCs, 0, pool_opts(2 * kCs, true));
  for (uint64_t ino = 1; ino <= 4; ++ino) write_pat(s, {ino, 0}, 0, kCs);
  for (uint64_t ino = 1; ino <= 4; ++ino) s.remove(ino, 0);
  auto st = s.stats();
  EXPECT_EQ(st.bytes_used, 0u);
  EXPECT_EQ(st.pool.in_use, 0u);
  EXPECT_EQ(st.pool.warm_bytes, 2 * kCs);
  EXPECT_EQ(st.pool.cold_bytes, 2 * kCs);
  // Cold buffers were given back to the kernel and read as zeros again:
  // take all four, write one byte at the end of each, and read the rest.
  for (uint64_t ino = 10; ino < 14; ++ino) {
    write_pat(s, {ino, 0}, kCs - 1, 1);
    auto got = read_all(s, {ino, 0}, 0, kCs);
    ASSERT_EQ(got.size(), kCs);
    EXPECT_EQ(mismatches(got, 0, kCs - 1, kCs), 0u) << "chunk " << ino;
  }
  EXPECT_EQ(s.stats().pool.warm_bytes + s.stats().pool.cold_bytes, 0u);
}

TEST(ChunkStoreReuse, PrefaultMakesBuffersWarmWithinTheRetainLimit) {
  ChunkStore s(kCs, 0, pool_opts(8 * kCs, false));
  EXPECT_EQ(s.prefault(100 * kCs), 8 * kCs);
  EXPECT_EQ(s.stats().pool.warm_bytes, 8 * kCs);
  EXPECT_EQ(s.stats().bytes_used, 0u) << "prefaulted buffers hold no data";
  write_pat(s, {1, 0}, 10, 10);
  EXPECT_EQ(s.stats().pool.reused_warm, 1u);
  auto got = read_all(s, {1, 0}, 0, kCs);
  EXPECT_EQ(mismatches(got, 0, 10, 20), 0u);
}

TEST(ChunkStoreReuse, MemoryLimitCapsThePool) {
  ChunkStore s(kCs, 3 * kCs, pool_opts(1ULL << 30, true));
  EXPECT_EQ(s.prefault(1ULL << 30), 3 * kCs);
}

// ---- the reserve: free buffers made resident ahead of demand ----

TEST(ChunkStoreReserve, FillsAtStartAndServesTheFirstWritesWithoutFaults) {
  ChunkStore s(kCs, 0, pool_opts(64 * kCs, true, 8 * kCs));
  ASSERT_TRUE(s.wait_reserve(20000)) << "reserve not full after 20 s";
  auto st = s.stats().pool;
  EXPECT_EQ(st.reserve_bytes, 8 * kCs);
  EXPECT_EQ(st.warm_bytes, 8 * kCs);
  EXPECT_EQ(st.refilled, 8u);
  EXPECT_GT(st.reserve_full_ns, 0u);
  EXPECT_EQ(s.bytes_used(), 0u) << "the reserve holds no data";
  for (uint64_t ino = 1; ino <= 6; ++ino) write_pat(s, {ino, 0}, 0, kCs, ino);
  st = s.stats().pool;
  EXPECT_EQ(st.acquired_cold, 0u) << "a first write faulted its own buffer";
  EXPECT_EQ(st.reused_warm, 6u);
  // Reserve buffers are known zero: a write leaving a gap reads zeros in it.
  write_pat(s, {7, 0}, 500'000, 10, 7);
  EXPECT_EQ(mismatches(read_all(s, {7, 0}, 0, kCs), 0, 500'000, 500'010, 7), 0u);
  for (uint64_t ino = 1; ino <= 6; ++ino)
    EXPECT_EQ(mismatches(read_all(s, {ino, 0}, 0, kCs), 0, 0, kCs, ino), 0u) << "chunk " << ino;
  // Once the store has been quiet for a while the reserve is topped up again.
  ASSERT_TRUE(s.wait_reserve(20000));
  EXPECT_EQ(s.stats().pool.warm_bytes, 8 * kCs);
  EXPECT_GE(s.stats().pool.refilled, 15u);
}

// Writers on four threads race the first fill and later top-ups (files are
// removed between rounds, so buffers come and go under the refill): every
// byte reads back, and the accounting ends where it should.
TEST(ChunkStoreReserve, WritesRacingTheRefillLoseNothing) {
  constexpr int kThreads = 4;
  constexpr uint64_t kChunksPerThread = 8;
  ChunkStore s(kCs, 0, pool_opts(256 * kCs, true, 32 * kCs));
  for (uint64_t round = 0; round < 4; ++round) {
    std::vector<std::thread> ts;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&, t] {
        for (uint64_t c = 0; c < kChunksPerThread; ++c) {
          const ChunkKey k{round * 100 + static_cast<uint64_t>(t), c};
          // Two halves: one eager-style write, one lease (as a rendezvous receive).
          auto v = pattern(0, kCs / 2, k.ino + c);
          if (!s.write(k, 0, v.data(), kCs / 2).is_ok()) failures.fetch_add(1);
          auto w = s.begin_write(k, kCs / 2, kCs / 2);
          if (!w.ok()) {
            failures.fetch_add(1);
            continue;
          }
          auto v2 = pattern(kCs / 2, kCs / 2, k.ino + c);
          std::memcpy(w->data(), v2.data(), kCs / 2);
          w->commit();
        }
      });
    }
    for (auto& th : ts) th.join();
    ASSERT_EQ(failures.load(), 0);
    for (int t = 0; t < kThreads; ++t)
      for (uint64_t c = 0; c < kChunksPerThread; ++c) {
        const ChunkKey k{round * 100 + static_cast<uint64_t>(t), c};
        ASSERT_EQ(mismatches(read_all(s, k, 0, kCs), 0, 0, kCs, k.ino + c), 0u) << "round " << round;
      }
    EXPECT_EQ(s.bytes_used(), kThreads * kChunksPerThread * kCs);
    for (int t = 0; t < kThreads; ++t) s.remove(round * 100 + static_cast<uint64_t>(t), 0);
    EXPECT_EQ(s.bytes_used(), 0u);
    // Rounds 0 and 2 start while the reserve is being topped up.
    if (round % 2 == 1) std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  // The refill runs at SCHED_IDLE, so on a loaded machine it may not have run
  // at all yet: whether it did is timing, but once the store is quiet the
  // reserve is full, whichever way its buffers came.
  ASSERT_TRUE(s.wait_reserve(20000));
  const auto st = s.stats().pool;
  EXPECT_EQ(st.in_use, 0u);
  EXPECT_GE(st.warm_bytes, 32 * kCs) << "the reserve is full";
  EXPECT_LE(st.warm_bytes, 256 * kCs) << "past the buffer pool's retain";
}

// A memory limit reached while the reserve holds memory: ENOSPC comes at the
// limit's byte count (the reserve takes nothing from the data), what was
// written before it is intact, and the reserve has given its memory to the
// data instead of holding it beside (reserve + data never exceed the limit).
TEST(ChunkStoreReserve, MemoryLimitReachedWhileTheReserveHoldsMemory) {
  constexpr uint64_t kLimit = 8 * kCs;
  ChunkStore s(kCs, kLimit, pool_opts(1ULL << 30, true, 4 * kCs));
  ASSERT_TRUE(s.wait_reserve(20000));
  EXPECT_EQ(s.stats().pool.warm_bytes, 4 * kCs);
  for (uint64_t i = 0; i < 6; ++i) write_pat(s, {1, i}, 0, kCs, i);
  // Quiet: the refill may top up, but only into what the limit leaves.
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  (void)s.wait_reserve(2000);
  EXPECT_LE(s.stats().pool.warm_bytes + s.bytes_used(), kLimit);
  for (uint64_t i = 6; i < 8; ++i) write_pat(s, {1, i}, 0, kCs, i);
  EXPECT_EQ(s.bytes_used(), kLimit);
  const char x = 1;
  EXPECT_EQ(s.write({1, 8}, 0, &x, 1).err(), ENOSPC);
  EXPECT_EQ(s.begin_write({2, 0}, 0, kCs).status().err(), ENOSPC);
  EXPECT_EQ(s.stats().enospc, 2u);
  EXPECT_EQ(s.bytes_used(), kLimit) << "a refused write changed the accounting";
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  (void)s.wait_reserve(2000);
  EXPECT_EQ(s.stats().pool.warm_bytes, 0u) << "the reserve holds memory beside a full store";
  for (uint64_t i = 0; i < 8; ++i)
    ASSERT_EQ(mismatches(read_all(s, {1, i}, 0, kCs), 0, 0, kCs, i), 0u) << "chunk " << i;
  // Freed data goes back to the pool (retain is capped at the limit), and
  // the store takes writes again.
  s.remove(1, 0);
  EXPECT_EQ(s.bytes_used(), 0u);
  EXPECT_LE(s.stats().pool.warm_bytes, kLimit);
  write_pat(s, {3, 0}, 0, kCs);
  EXPECT_EQ(s.bytes_used(), kCs);
}

// Stores destroyed while the first fill is still running (a large reserve:
// seconds of page faults here) stop their refill thread and unmap cleanly;
// ASan, TSan and ctest's timeout catch a thread left touching freed slabs
// or a join that never returns.
TEST(ChunkStoreReserve, DestroyedMidRefill) {
  for (int i = 0; i < 5; ++i) {
    auto s = std::make_unique<ChunkStore>(kCs, 0, pool_opts(2048 * kCs, i % 2 == 0, 2048 * kCs));
    std::this_thread::sleep_for(std::chrono::milliseconds(i * 3));
    const auto st = s->stats().pool;
    EXPECT_LT(st.warm_bytes, 2048 * kCs) << "the fill finished before the store was destroyed";
    if (i == 4) write_pat(*s, {1, 0}, 0, kCs);  // one with data in it too
    s.reset();
  }
}

// The scheduling policy of this process's refill thread(s), by name; -1
// when there is none.
int refill_policy() {
  int policy = -1;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(e.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name == "benchfs-refill") policy = sched_getscheduler(std::stoi(e.path().filename().string()));
  }
  return policy;
}

// refill_policy() once it is `want`, or what it is after 2 s of waiting.
int await_refill_policy(int want) {
  int policy = refill_policy();
  for (int i = 0; i < 400 && policy != want; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    policy = refill_policy();
  }
  return policy;
}

// The first fill runs at normal priority (at SCHED_IDLE it got little of a
// machine busy starting up) until the store first serves data; from then
// on it yields to anything else that wants a core.
TEST(ChunkStoreReserve, FirstFillAtNormalPriorityUntilDataIsServed) {
  ASSERT_EQ(refill_policy(), -1) << "a refill thread of another test is still running";
  {
    // Seconds of page faults: the fill is still running when looked at.
    ChunkStore s(kCs, 0, pool_opts(2048 * kCs, true, 2048 * kCs));
    EXPECT_EQ(await_refill_policy(SCHED_OTHER), SCHED_OTHER);
    ASSERT_LT(s.stats().pool.warm_bytes, 2048 * kCs) << "the fill finished before it was looked at";
    write_pat(s, {1, 0}, 0, kCs);
    EXPECT_EQ(await_refill_policy(SCHED_IDLE), SCHED_IDLE)
        << "the fill kept its priority while data was served";
  }
  EXPECT_EQ(refill_policy(), -1) << "the refill thread outlived its store";
  // A reserve that fills before any data: idle from then on too.
  ChunkStore s(kCs, 0, pool_opts(8 * kCs, true, 8 * kCs));
  ASSERT_TRUE(s.wait_reserve(20000));
  EXPECT_EQ(await_refill_policy(SCHED_IDLE), SCHED_IDLE);
}

// A write phase that runs past the reserve: once writes have taken three
// quarters of it, the refill populates buffers while they go on (data is
// served every few ms, never a quiet spell), so later writes find warm
// buffers instead of faulting their own. Before, the refill waited for a
// quiet spell and every write past the reserve faulted on its own path.
TEST(ChunkStoreReserve, RefillKeepsAheadOfWritesPastTheReserve) {
  constexpr uint64_t kReserve = 8;
  constexpr uint64_t kMaxChunks = 300;
  ChunkStore s(kCs, 0, pool_opts(512 * kCs, true, kReserve * kCs));
  ASSERT_TRUE(s.wait_reserve(20000));
  ASSERT_EQ(s.stats().pool.refilled, kReserve);
  uint64_t written = 0;
  while (written < kMaxChunks && s.stats().pool.refilled < 2 * kReserve) {
    ++written;
    write_pat(s, {written, 0}, 0, kCs, written);  // whole chunks: pool buffers
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  const auto st = s.stats().pool;
  EXPECT_GE(st.refilled, 2 * kReserve) << "the refill did not run during " << written << " writes";
  EXPECT_LT(st.acquired_cold, written - kReserve) << "no write found a buffer the refill populated";
  for (uint64_t c = 1; c <= written; ++c)
    ASSERT_EQ(mismatches(read_all(s, {c, 0}, 0, kCs), 0, 0, kCs, c), 0u) << "chunk " << c;
}

TEST(ChunkStoreReserve, NoReserveNoThreadAndWaitSaysSo) {
  ChunkStore s(kCs, 0, pool_opts(8 * kCs, true, 0));
  EXPECT_TRUE(s.wait_reserve(0)) << "nothing to wait for";
  EXPECT_EQ(s.stats().pool.reserve_bytes, 0u);
  EXPECT_EQ(s.stats().pool.warm_bytes, 0u);
  // A reserve above the pool's retain is capped at it.
  ChunkStore c(kCs, 0, pool_opts(2 * kCs, false, 100 * kCs));
  ASSERT_TRUE(c.wait_reserve(20000));
  EXPECT_EQ(c.stats().pool.reserve_bytes, 2 * kCs);
  EXPECT_EQ(c.stats().pool.warm_bytes, 2 * kCs);
}
