// Unit tests of core/: Status/Result, copy_bytes, size and address parsing, the latency
// histogram, hex helpers and the hwloc topology.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "benchfs/core/clock.hpp"
#include "benchfs/core/copy.hpp"
#include "benchfs/core/histogram.hpp"
#include "benchfs/core/random.hpp"
#include "benchfs/core/status.hpp"
#include "benchfs/core/topology.hpp"
#include "benchfs/core/units.hpp"
#include "benchfs/protocol/placement.hpp"

using namespace benchfs;

TEST(Status, CarriesErrnoAndMessage) {
  Status ok;
  EXPECT_TRUE(ok.is_ok());
  Status e(-ENOENT, "no such thing");
  EXPECT_FALSE(e.is_ok());
  EXPECT_EQ(e.err(), ENOENT);
  EXPECT_EQ(e.wire_code(), -ENOENT);
  EXPECT_NE(e.to_string().find("no such thing"), std::string::npos);
  Result<int> r = 5;
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 5);
  Result<int> bad = Status(EINVAL, "x");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().err(), EINVAL);
  Result<int> odd = Status();  // an ok Status cannot make an empty Result
  EXPECT_FALSE(odd.ok());
  EXPECT_THROW(value_or_throw(Result<int>(Status(EIO, "boom"))), Error);
}

// Every length around the vector threshold and the 64-byte rounds, at every
// relative alignment of source and destination: the bytes of the range are
// copied, and not one byte before or after it is touched.
TEST(CopyBytes, CopiesExactlyTheRangeAtEveryAlignment) {
  std::vector<size_t> lengths{0, 1, 15, 16, 17, 63, 64, 65, 2047, 2048, 2049, 2111, 4096, 65536 + 37, 300000};
  std::vector<unsigned char> src(300000 + 256);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7 + 3);
  auto untouched = [](const unsigned char* p, size_t n) {
    return std::all_of(p, p + n, [](unsigned char c) { return c == 0xEE; });
  };
  for (size_t n : lengths) {
    std::vector<unsigned char> dst(n + 256);
    for (size_t so = 0; so < 64; so += 5) {
      for (size_t doff = 0; doff < 64; doff += 3) {
        std::fill(dst.begin(), dst.end(), 0xEE);
        unsigned char* at = dst.data() + 64 + doff;
        benchfs::copy_bytes(at, src.data() + so, n);
        ASSERT_EQ(0, std::memcmp(at, src.data() + so, n)) << n << " bytes, offsets " << so << " " << doff;
        ASSERT_TRUE(untouched(dst.data(), 64 + doff)) << "written before the range, " << n << " bytes";
        ASSERT_TRUE(untouched(at + n, dst.size() - 64 - doff - n))
            << "written past the range, " << n << " bytes";
      }
    }
  }
}

TEST(Units, ParseSize) {
  EXPECT_EQ(*parse_size("4096"), 4096u);
  EXPECT_EQ(*parse_size("64k"), 64u << 10);
  EXPECT_EQ(*parse_size("1m"), 1u << 20);
  EXPECT_EQ(*parse_size("1MiB"), 1u << 20);
  EXPECT_EQ(*parse_size("2G"), 2ull << 30);
  EXPECT_EQ(*parse_size("8KB"), 8u << 10);
  EXPECT_EQ(parse_size("").status().err(), EINVAL);
  EXPECT_EQ(parse_size("k").status().err(), EINVAL);
  EXPECT_EQ(parse_size("12q").status().err(), EINVAL);
  EXPECT_EQ(parse_size("-1").status().err(), EINVAL);
  EXPECT_EQ(parse_size("1.5m").status().err(), EINVAL);
  EXPECT_EQ(parse_size("99999999999999999999").status().err(), EINVAL);
  EXPECT_EQ(parse_size("17179869184g").status().err(), ERANGE);
  EXPECT_EQ(format_size(1u << 20), "1 MiB");
  EXPECT_EQ(format_size(4096), "4 KiB");
  EXPECT_EQ(format_size(17), "17 B");
}

TEST(Units, ParseSizeList) {
  EXPECT_EQ(*parse_size_list("64,4k,1m"), (std::vector<uint64_t>{64, 4096, 1u << 20}));
  EXPECT_EQ(*parse_size_list("8"), (std::vector<uint64_t>{8}));
  for (const char* bad : {"", "4k,", ",4k", "4k,lots"}) {
    auto r = parse_size_list(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().err(), EINVAL) << bad;
  }
  EXPECT_NE(parse_size_list("4k,lots").status().message().find("'lots'"), std::string::npos);
}

TEST(Units, ParseHostPort) {
  auto a = parse_host_port("127.0.0.1:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(parse_host_port(":0")->host, "0.0.0.0");
  EXPECT_EQ(parse_host_port("node1")->port, 0);
  auto v6 = parse_host_port("[::1]:99");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 99);
  EXPECT_FALSE(parse_host_port("h:70000").ok());
  EXPECT_FALSE(parse_host_port("h:").ok());
  EXPECT_FALSE(parse_host_port("h:x").ok());
  EXPECT_FALSE(parse_host_port("::1:5").ok());
  EXPECT_FALSE(parse_host_port("[::1").ok());
}

TEST(Histogram, QuantilesWithinBucketError) {
  Histogram h;
  std::mt19937_64 rng(7);
  std::vector<uint64_t> v;
  for (int i = 0; i < 100000; ++i) {
    uint64_t x = 100 + rng() % 1'000'000;
    v.push_back(x);
    h.record(x);
  }
  std::sort(v.begin(), v.end());
  for (double q : {0.01, 0.5, 0.9, 0.99}) {
    const double exact = static_cast<double>(v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))]);
    const double got = static_cast<double>(h.quantile(q));
    EXPECT_NEAR(got, exact, exact * 0.07) << "q=" << q;
  }
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min(), v.front());
  EXPECT_EQ(h.max(), v.back());
  Histogram h2;
  h2.record(5);
  h2.merge(h);
  EXPECT_EQ(h2.count(), 100001u);
  EXPECT_EQ(h2.min(), 5u);
  Histogram empty;
  EXPECT_EQ(empty.quantile(0.5), 0u);
  EXPECT_EQ(empty.min(), 0u);
}

TEST(Histogram, BucketsAreMonotonic) {
  for (uint64_t v : {0ull, 1ull, 15ull, 16ull, 17ull, 1000ull, 123456789ull, ~0ull}) {
    const unsigned i = Histogram::index_of(v);
    ASSERT_LT(i, Histogram::kBuckets);
    EXPECT_LE(Histogram::lower_bound_of(i), v);
    if (i + 1 < Histogram::kBuckets) {
      EXPECT_GT(Histogram::lower_bound_of(i + 1), v);
    }
  }
}

TEST(Random, HexRoundTrip) {
  const uint64_t a = secure_random_u64();
  const uint64_t b = secure_random_u64();
  EXPECT_NE(a, 0u);
  EXPECT_NE(a, b);
  EXPECT_EQ(*parse_hex64(to_hex64(a)), a);
  EXPECT_EQ(to_hex64(0xabc), "0000000000000abc");
  EXPECT_FALSE(parse_hex64("xyz").ok());
  EXPECT_FALSE(parse_hex64("000000000000000g").ok());
}

TEST(Clock, DeadlineExpires) {
  auto d = Deadline::after_ms(20);
  EXPECT_FALSE(d.expired());
  EXPECT_GT(d.remaining_ms(), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_TRUE(d.expired());
  EXPECT_EQ(d.remaining_ms(), 0);
  EXPECT_FALSE(Deadline::never().expired());
}

TEST(Topology, SeesAllowedCoresAndPins) {
  Topology topo;
  auto cores = topo.allowed_cores();
  ASSERT_FALSE(cores.empty());
  EXPECT_FALSE(topo.binding_string().empty());
  // Pin a thread to the last core and check the kernel agrees.
  std::thread t([&] {
    ASSERT_TRUE(topo.bind_current_thread(cores.back()).is_ok());
    cpu_set_t set;
    CPU_ZERO(&set);
    ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof set, &set), 0);
    for (unsigned pu : cores.back().pus) EXPECT_TRUE(CPU_ISSET(pu, &set));
    EXPECT_EQ(static_cast<size_t>(CPU_COUNT(&set)), cores.back().pus.size());
  });
  t.join();
  EXPECT_EQ(core_for_thread(5, 2), 1u);
  EXPECT_EQ(core_for_thread(0, 0), 0u);
}

TEST(Placement, SpreadsPathsEvenly) {
  std::vector<int> counts(4);
  for (int i = 0; i < 40000; ++i) ++counts[placement::metadata_owner("/dir/file." + std::to_string(i), 4)];
  for (int c : counts) EXPECT_NEAR(c, 10000, 600);
  EXPECT_NE(placement::path_hash("/a"), placement::path_hash("/b"));
  EXPECT_EQ(placement::path_hash("/same"), placement::path_hash("/same"));
  const uint64_t ino = placement::make_inode(3, 42);
  EXPECT_EQ(placement::inode_owner(ino), 3u);
  EXPECT_EQ(placement::chunk_holder(ino, 0, 4), 3u);
  EXPECT_EQ(placement::chunk_holder(ino, 1, 4), 0u);
}
