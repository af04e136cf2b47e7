// IOR- and mdtest-like access patterns through the C API against real
// benchfsd_mt servers (2 ranks, chunk 64 KiB): file per process and shared
// file with transfers not aligned to the chunk size, sparse files beyond
// 4 GiB, many small files in private and shared directories. Every byte is
// verified, and the servers' store must be empty once everything is removed.

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "benchfs/benchfs.h"
#include "fault_common.hpp"
#include "fs_fixture.hpp"
#include "fs_listing.hpp"
#include "harness.hpp"

using benchfs::faults::fill_pattern;
using benchfs::faults::pattern_byte;
using benchfs::test::JobOptions;

namespace {

constexpr uint64_t kChunk = 64 * 1024;
constexpr uint64_t kGiB = 1ull << 30;

std::string errname(int e) {
  const char* n = strerrorname_np(e);
  return (n != nullptr ? std::string(n) : "errno " + std::to_string(e)) + " (" + std::strerror(e) + ")";
}

// errno and benchfs_last_error() of the call that just failed.
std::string why() { return errname(errno) + ": " + benchfs_last_error(); }

// "" if p[0, n) holds the pattern of `seed` at file offset `off`, else where not.
std::string check_pattern(const uint8_t* p, size_t n, uint64_t seed, uint64_t off) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != pattern_byte(seed, off + i)) {
      return "byte at file offset " + std::to_string(off + i) + " is " + std::to_string(p[i]) +
             ", expected " + std::to_string(pattern_byte(seed, off + i));
    }
  }
  return "";
}

std::string check_zeros(const uint8_t* p, size_t n, uint64_t off) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) {
      return "hole byte at file offset " + std::to_string(off + i) + " is " + std::to_string(p[i]);
    }
  }
  return "";
}

// First failure of several threads, reported once they are joined.
class Failures {
 public:
  void add(const std::string& what) {
    std::lock_guard lock(mu_);
    if (list_.size() < 10) list_.push_back(what);
    ++count_;
  }
  [[nodiscard]] int count() const {
    std::lock_guard lock(mu_);
    return count_;
  }
  [[nodiscard]] std::string text() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& s : list_) out += s + "\n";
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> list_;
  int count_ = 0;
};

class FsPatterns : public benchfs::test::FsJobTest {
 protected:
  FsPatterns() : FsJobTest("benchfs-fspat") {}

  // 2 servers, 1 progress thread each, chunk 64 KiB, a 256 MiB limit each
  // (so that statfs reports exact capacity and use).
  void start() {
    auto opts = JobOptions::of(2, 1);
    opts.extra_args = {"--chunk-size", "64k", "--memory-limit", "256m"};
    ASSERT_NO_FATAL_FAILURE(start_job(opts, 20000));
    ASSERT_EQ(benchfs_chunk_size(), static_cast<long long>(kChunk)) << why();
    struct statvfs vfs {};
    ASSERT_EQ(benchfs_statfs("/", &vfs), 0) << why();
    EXPECT_EQ(vfs.f_blocks * vfs.f_frsize, 512ull << 20);
    EXPECT_EQ(vfs.f_bfree, vfs.f_blocks);
  }
};

constexpr int kTasks = 4;
constexpr size_t kXfer = 100000;  // not a multiple of the 64 KiB chunk
constexpr int kSegments = 2;

// Writes [off, off + len) of the pattern `seed` through fd in kXfer
// transfers: pwrite, or write at the file position when `sequential`.
std::string write_range(int fd, uint64_t seed, uint64_t off, uint64_t len, bool sequential) {
  std::vector<uint8_t> buf(kXfer);
  if (sequential && benchfs_lseek(fd, static_cast<off_t>(off), SEEK_SET) != static_cast<off_t>(off)) {
    return "lseek to " + std::to_string(off) + ": " + why();
  }
  for (uint64_t done = 0; done < len; done += kXfer) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kXfer, len - done));
    fill_pattern(buf.data(), n, seed, off + done);
    const ssize_t w = sequential ? benchfs_write(fd, buf.data(), n)
                                 : benchfs_pwrite(fd, buf.data(), n, static_cast<off_t>(off + done));
    if (w != static_cast<ssize_t>(n)) {
      return "write of " + std::to_string(n) + " at " + std::to_string(off + done) + " returned " +
             std::to_string(w) + ": " + why();
    }
  }
  return "";
}

// Reads [off, off + len) back in kXfer transfers and checks the pattern.
std::string verify_range(int fd, uint64_t seed, uint64_t off, uint64_t len, bool sequential) {
  std::vector<uint8_t> buf(kXfer);
  if (sequential && benchfs_lseek(fd, static_cast<off_t>(off), SEEK_SET) != static_cast<off_t>(off)) {
    return "lseek to " + std::to_string(off) + ": " + why();
  }
  for (uint64_t done = 0; done < len; done += kXfer) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kXfer, len - done));
    std::memset(buf.data(), 0xEE, n);
    const ssize_t r = sequential ? benchfs_read(fd, buf.data(), n)
                                 : benchfs_pread(fd, buf.data(), n, static_cast<off_t>(off + done));
    if (r != static_cast<ssize_t>(n)) {
      return "read of " + std::to_string(n) + " at " + std::to_string(off + done) + " returned " +
             std::to_string(r) + ": " + why();
    }
    if (auto bad = check_pattern(buf.data(), n, seed, off + done); !bad.empty()) return bad;
  }
  return "";
}

}  // namespace

TEST_F(FsPatterns, IorFilePerProcessUnalignedTransfers) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_EQ(benchfs_mkdir("/fpp", 0755), 0) << why();
  constexpr uint64_t kBlock = 32 * kXfer;  // 3.2 MB
  constexpr uint64_t kFileSize = kSegments * kBlock;
  Failures failures;
  std::barrier sync(kTasks);
  std::vector<std::thread> threads;
  for (int t = 0; t < kTasks; ++t) {
    threads.emplace_back([&, t] {
      const bool seq = t % 2 == 1;  // odd tasks use write/read at the file position
      auto fail = [&](const std::string& what) { failures.add("task " + std::to_string(t) + ": " + what); };
      const std::string path = "/fpp/file." + std::to_string(t);
      do {
        const int fd = benchfs_open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0) {
          fail("create " + path + ": " + why());
          break;
        }
        for (int s = 0; s < kSegments; ++s) {
          if (auto e = write_range(fd, 100 + t, s * kBlock, kBlock, seq); !e.empty()) {
            fail(path + ": " + e);
            break;
          }
        }
        struct stat st {};
        if (benchfs_fsync(fd) != 0) fail("fsync: " + why());
        if (benchfs_fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) != kFileSize) {
          fail("fstat after writing: size " + std::to_string(st.st_size) + " " + why());
        }
        if (benchfs_close(fd) != 0) fail("close: " + why());
      } while (false);
      sync.arrive_and_wait();
      // Read the next task's file (IOR -C), and our own sequentially.
      const int other = (t + 1) % kTasks;
      const std::string opath = "/fpp/file." + std::to_string(other);
      struct stat st {};
      if (benchfs_stat(opath.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) != kFileSize) {
        fail("stat " + opath + ": size " + std::to_string(st.st_size) + " " + why());
      }
      const int fd = benchfs_open(opath.c_str(), O_RDONLY, 0);
      if (fd < 0) {
        fail("open " + opath + ": " + why());
        return;
      }
      for (int s = 0; s < kSegments; ++s) {
        if (auto e = verify_range(fd, 100 + other, s * kBlock, kBlock, seq); !e.empty()) {
          fail(opath + ": " + e);
          break;
        }
      }
      // Past the end: nothing.
      uint8_t byte = 0;
      const ssize_t r = benchfs_pread(fd, &byte, 1, static_cast<off_t>(kFileSize));
      if (r != 0) fail("pread at EOF returned " + std::to_string(r));
      if (benchfs_close(fd) != 0) fail("close: " + why());
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.count(), 0) << failures.text();
  EXPECT_GE(used_bytes(), kTasks * kFileSize);
  for (int t = 0; t < kTasks; ++t) {
    const std::string path = "/fpp/file." + std::to_string(t);
    EXPECT_EQ(benchfs_unlink(path.c_str()), 0) << path << ": " << why();
  }
  EXPECT_EQ(benchfs_rmdir("/fpp"), 0) << why();
  ASSERT_NO_FATAL_FAILURE(expect_store_empty());
}

TEST_F(FsPatterns, IorSharedFileSegmented) {
  ASSERT_NO_FATAL_FAILURE(start());
  constexpr uint64_t kBlock = 16 * kXfer + 12345;  // 1.61 MB, unaligned blocks too
  constexpr uint64_t kFileSize = kSegments * kTasks * kBlock;
  constexpr uint64_t kSeed = 7;
  const char* path = "/shared.ior";
  Failures failures;
  std::barrier sync(kTasks);
  std::vector<std::thread> threads;
  for (int t = 0; t < kTasks; ++t) {
    threads.emplace_back([&, t] {
      auto fail = [&](const std::string& what) { failures.add("task " + std::to_string(t) + ": " + what); };
      // Every task opens with O_CREAT at once: one file for all.
      const int fd = benchfs_open(path, O_RDWR | O_CREAT, 0644);
      if (fd < 0) fail(std::string("open ") + path + ": " + why());
      if (fd >= 0) {
        for (int s = 0; s < kSegments; ++s) {
          const uint64_t off = (static_cast<uint64_t>(s) * kTasks + static_cast<uint64_t>(t)) * kBlock;
          if (auto e = write_range(fd, kSeed, off, kBlock, t % 2 == 1); !e.empty()) {
            fail(e);
            break;
          }
          // This descriptor sees its own writes before any push.
          if (auto e = verify_range(fd, kSeed, off, kBlock, false); !e.empty())
            fail("read-your-writes: " + e);
        }
        if (benchfs_close(fd) != 0) fail("close: " + why());
      }
      sync.arrive_and_wait();
      // All sizes pushed: everyone sees the whole file.
      struct stat st {};
      if (benchfs_stat(path, &st) != 0 || static_cast<uint64_t>(st.st_size) != kFileSize) {
        fail("stat: size " + std::to_string(st.st_size) + ", expected " + std::to_string(kFileSize) + " " +
             why());
      }
      // Read the blocks the next task wrote.
      const int other = (t + 1) % kTasks;
      const int rd = benchfs_open(path, O_RDONLY, 0);
      if (rd < 0) {
        fail("open for reading: " + why());
        return;
      }
      for (int s = 0; s < kSegments; ++s) {
        const uint64_t off = (static_cast<uint64_t>(s) * kTasks + static_cast<uint64_t>(other)) * kBlock;
        if (auto e = verify_range(rd, kSeed, off, kBlock, t % 2 == 0); !e.empty()) fail(e);
      }
      if (benchfs_lseek(rd, 0, SEEK_END) != static_cast<off_t>(kFileSize)) fail("SEEK_END: " + why());
      if (benchfs_close(rd) != 0) fail("close: " + why());
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.count(), 0) << failures.text();
  // The whole file, in 1 MiB reads not aligned to transfers or chunks.
  const int fd = benchfs_open(path, O_RDONLY, 0);
  ASSERT_GE(fd, 0) << why();
  std::vector<uint8_t> buf(1 << 20);
  uint64_t off = 0;
  for (;;) {
    const ssize_t r = benchfs_pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
    ASSERT_GE(r, 0) << "at " << off << ": " << why();
    if (r == 0) break;
    ASSERT_EQ(check_pattern(buf.data(), static_cast<size_t>(r), kSeed, off), "");
    off += static_cast<uint64_t>(r);
    ASSERT_LE(off, kFileSize);
  }
  EXPECT_EQ(off, kFileSize);
  EXPECT_EQ(benchfs_close(fd), 0) << why();
  EXPECT_GE(used_bytes(), kFileSize);
  EXPECT_EQ(benchfs_unlink(path), 0) << why();
  ASSERT_NO_FATAL_FAILURE(expect_store_empty());
}

TEST_F(FsPatterns, SparseFilesBeyond4GiB) {
  ASSERT_NO_FATAL_FAILURE(start());
  struct Extent {
    uint64_t off;
    uint64_t len;
  };
  // Crossing 2^32 exactly, past it at an odd offset, far out at 1 TiB.
  const std::vector<Extent> extents = {{4 * kGiB - 50000, 100000},
                                       {4 * kGiB + 212345, 200000},
                                       {5 * kGiB + 7, 65536},
                                       {(1ull << 40) + 12345, 150000}};
  const uint64_t size = extents.back().off + extents.back().len;
  constexpr uint64_t kSeed = 3;
  const char* path = "/sparse";
  int fd = benchfs_open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(fd, 0) << why();
  std::vector<uint8_t> buf(300000);
  for (const auto& e : extents) {
    fill_pattern(buf.data(), e.len, kSeed, e.off);
    ASSERT_EQ(benchfs_pwrite(fd, buf.data(), e.len, static_cast<off_t>(e.off)), static_cast<ssize_t>(e.len))
        << "at " << e.off << ": " << why();
  }
  struct stat st {};
  ASSERT_EQ(benchfs_fstat(fd, &st), 0) << why();
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), size);
  ASSERT_EQ(benchfs_close(fd), 0) << why();
  ASSERT_EQ(benchfs_stat(path, &st), 0) << why();
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), size);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  // Sparse: the servers hold the written chunks, not terabytes.
  EXPECT_LT(used_bytes(), 16ull << 20);

  fd = benchfs_open(path, O_RDONLY, 0);
  ASSERT_GE(fd, 0) << why();
  auto read_at = [&](uint64_t off, size_t len) {
    std::memset(buf.data(), 0xEE, len);
    return benchfs_pread(fd, buf.data(), len, static_cast<off_t>(off));
  };
  // The written extents.
  for (const auto& e : extents) {
    ASSERT_EQ(read_at(e.off, e.len), static_cast<ssize_t>(e.len)) << "at " << e.off << ": " << why();
    EXPECT_EQ(check_pattern(buf.data(), e.len, kSeed, e.off), "");
  }
  // Holes: the start, below 4 GiB, between the extents, next to 1 TiB.
  const std::vector<Extent> holes = {{0, 300000},
                                     {kGiB + 5, 300000},
                                     {4 * kGiB - 400000, 300000},
                                     {4 * kGiB + 50000, 162345},
                                     {4 * kGiB + 412345, 300000},
                                     {5 * kGiB + 65543, 300000},
                                     {(1ull << 40) + 12345 - 300000, 300000}};
  for (const auto& h : holes) {
    ASSERT_EQ(read_at(h.off, h.len), static_cast<ssize_t>(h.len)) << "hole at " << h.off << ": " << why();
    EXPECT_EQ(check_zeros(buf.data(), h.len, h.off), "");
  }
  // Reads straddling hole and data.
  {
    const uint64_t off = 4 * kGiB + 212345 - 1000;
    ASSERT_EQ(read_at(off, 3000), 3000) << why();
    EXPECT_EQ(check_zeros(buf.data(), 1000, off), "");
    EXPECT_EQ(check_pattern(buf.data() + 1000, 2000, kSeed, off + 1000), "");
  }
  // End of file.
  EXPECT_EQ(read_at(size - 10, 1000), 10) << why();
  EXPECT_EQ(check_pattern(buf.data(), 10, kSeed, size - 10), "");
  EXPECT_EQ(read_at(size, 1000), 0) << why();
  EXPECT_EQ(read_at(size + 8 * kGiB, 1000), 0) << why();
  EXPECT_EQ(benchfs_lseek(fd, 0, SEEK_END), static_cast<off_t>(size)) << why();
  EXPECT_EQ(benchfs_close(fd), 0) << why();

  // Shrink into the second extent, then grow again: what was cut reads as zeros.
  const uint64_t cut = 4 * kGiB + 212345 + 20000;
  ASSERT_EQ(benchfs_truncate(path, static_cast<off_t>(cut)), 0) << why();
  ASSERT_EQ(benchfs_stat(path, &st), 0) << why();
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), cut);
  fd = benchfs_open(path, O_RDONLY, 0);
  ASSERT_GE(fd, 0) << why();
  EXPECT_EQ(read_at(4 * kGiB + 212345, 200000), 20000) << why();
  EXPECT_EQ(check_pattern(buf.data(), 20000, kSeed, 4 * kGiB + 212345), "");
  EXPECT_EQ(benchfs_close(fd), 0) << why();
  ASSERT_EQ(benchfs_truncate(path, static_cast<off_t>(6 * kGiB)), 0) << why();
  fd = benchfs_open(path, O_RDONLY, 0);
  ASSERT_GE(fd, 0) << why();
  ASSERT_EQ(read_at(4 * kGiB + 212345, 200000), 200000) << why();
  EXPECT_EQ(check_pattern(buf.data(), 20000, kSeed, 4 * kGiB + 212345), "");
  EXPECT_EQ(check_zeros(buf.data() + 20000, 180000, cut), "");
  ASSERT_EQ(read_at(5 * kGiB, 100000), 100000) << why();
  EXPECT_EQ(check_zeros(buf.data(), 100000, 5 * kGiB), "") << "the extent at 5 GiB was cut off";
  ASSERT_EQ(read_at(4 * kGiB - 50000, 100000), 100000) << why();
  EXPECT_EQ(check_pattern(buf.data(), 100000, kSeed, 4 * kGiB - 50000), "");
  EXPECT_EQ(read_at(6 * kGiB, 10), 0) << why();
  EXPECT_EQ(benchfs_close(fd), 0) << why();

  // Four threads, one sparse file each beyond 4 GiB.
  Failures failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kTasks; ++t) {
    threads.emplace_back([&, t] {
      const std::string p = "/sparse." + std::to_string(t);
      const uint64_t off = 4 * kGiB * static_cast<uint64_t>(t + 1) + static_cast<uint64_t>(t) * 7777 + 1;
      const int w = benchfs_open(p.c_str(), O_WRONLY | O_CREAT, 0644);
      if (w < 0) {
        failures.add(p + ": create: " + why());
        return;
      }
      if (auto e = write_range(w, 50 + t, off, 3 * kXfer + 1, false); !e.empty()) failures.add(p + ": " + e);
      if (benchfs_close(w) != 0) failures.add(p + ": close: " + why());
      struct stat s {};
      if (benchfs_stat(p.c_str(), &s) != 0 || static_cast<uint64_t>(s.st_size) != off + 3 * kXfer + 1) {
        failures.add(p + ": size " + std::to_string(s.st_size) + " " + why());
      }
      const int r = benchfs_open(p.c_str(), O_RDONLY, 0);
      if (r < 0) {
        failures.add(p + ": open: " + why());
        return;
      }
      if (auto e = verify_range(r, 50 + t, off, 3 * kXfer + 1, false); !e.empty()) failures.add(p + ": " + e);
      std::vector<uint8_t> hole(kXfer, 0xEE);
      if (benchfs_pread(r, hole.data(), kXfer, static_cast<off_t>(off - kXfer)) !=
          static_cast<ssize_t>(kXfer)) {
        failures.add(p + ": hole read: " + why());
      } else if (auto e = check_zeros(hole.data(), kXfer, off - kXfer); !e.empty()) {
        failures.add(p + ": " + e);
      }
      benchfs_close(r);
      if (benchfs_unlink(p.c_str()) != 0) failures.add(p + ": unlink: " + why());
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.count(), 0) << failures.text();
  EXPECT_EQ(benchfs_truncate(path, 0), 0) << why();
  EXPECT_EQ(benchfs_unlink(path), 0) << why();
  ASSERT_NO_FATAL_FAILURE(expect_store_empty());
}

TEST_F(FsPatterns, MdtestPrivateAndSharedDirectories) {
  ASSERT_NO_FATAL_FAILURE(start());
  constexpr int kClients = 2;
  constexpr int kFiles = 1000;
  constexpr size_t kFileBytes = 3000;  // mdtest -w 3000 -e 3000
  constexpr int kDirs = 100;
  ASSERT_EQ(benchfs_mkdir("/md", 0755), 0) << why();
  ASSERT_EQ(benchfs_mkdir("/md/shared", 0755), 0) << why();
  Failures failures;
  std::barrier sync(kClients);

  // Names and types listed in `dir`, or a failure.
  auto list = [](const std::string& dir, std::map<std::string, unsigned char>* out, std::string* err) {
    int calls = 0;
    const int n = benchfs::test::list_dir(dir, out, &calls);
    if (n < 0) {
      *err = "readdir " + dir + ": " + why();
    } else if (n != calls || static_cast<size_t>(n) != out->size()) {
      *err = "readdir " + dir + " returned " + std::to_string(n) + " after " + std::to_string(calls) +
             " callbacks with " + std::to_string(out->size()) + " distinct names";
    }
  };
  auto expect_listing = [&](const std::string& dir, const std::map<std::string, unsigned char>& want,
                            const std::string& who) {
    std::map<std::string, unsigned char> got;
    std::string err;
    list(dir, &got, &err);
    if (!err.empty()) {
      failures.add(who + ": " + err);
    } else if (got != want) {
      std::string diff;
      int shown = 0;
      for (const auto& [name, type] : want) {
        if (!got.count(name) && shown++ < 5) diff += " missing " + name;
        if (got.count(name) && got.at(name) != type && shown++ < 5) diff += " wrong type " + name;
      }
      for (const auto& [name, type] : got) {
        if (!want.count(name) && shown++ < 5) diff += " extra " + name;
      }
      failures.add(who + ": readdir " + dir + " gave " + std::to_string(got.size()) + " entries, expected " +
                   std::to_string(want.size()) + ":" + diff);
    }
  };

  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      const std::string who = "client " + std::to_string(c);
      auto fail = [&](const std::string& what) { failures.add(who + ": " + what); };
      // After a failure the clients skip their work but still meet at the barriers.
      auto broken = [&] { return failures.count() > 0; };
      const std::string priv = "/md/p." + std::to_string(c);
      if (benchfs_mkdir(priv.c_str(), 0755) != 0) fail("mkdir " + priv + ": " + why());
      std::vector<uint8_t> data(kFileBytes);
      std::vector<uint8_t> back(kFileBytes);
      for (const std::string& dir : {priv, std::string("/md/shared")}) {
        std::vector<std::string> names;
        for (int i = 0; i < kFiles; ++i) names.push_back("f." + std::to_string(c) + "." + std::to_string(i));
        // Create (exclusive) and write.
        for (int i = 0; i < kFiles && !broken(); ++i) {
          const std::string p = dir + "/" + names[i];
          const int fd = benchfs_open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
          if (fd < 0) {
            fail("create " + p + ": " + why());
            break;
          }
          fill_pattern(data.data(), kFileBytes, static_cast<uint64_t>(c) * kFiles + i, 0);
          if (benchfs_pwrite(fd, data.data(), kFileBytes, 0) != static_cast<ssize_t>(kFileBytes)) {
            fail("write " + p + ": " + why());
          }
          if (benchfs_close(fd) != 0) fail("close " + p + ": " + why());
        }
        // Stat.
        for (int i = 0; i < kFiles && !broken(); ++i) {
          const std::string p = dir + "/" + names[i];
          struct stat st {};
          if (benchfs_stat(p.c_str(), &st) != 0) {
            fail("stat " + p + ": " + why());
          } else if (!S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) != kFileBytes) {
            fail("stat " + p + ": mode " + std::to_string(st.st_mode) + " size " +
                 std::to_string(st.st_size));
          }
        }
        // Listing: exactly the names created (in the shared directory, by both clients).
        sync.arrive_and_wait();
        std::map<std::string, unsigned char> want;
        for (int k = 0; k < kClients; ++k) {
          if (dir == priv && k != c) continue;
          for (int i = 0; i < kFiles; ++i) want["f." + std::to_string(k) + "." + std::to_string(i)] = DT_REG;
        }
        if (!broken()) expect_listing(dir, want, who);
        // Read back.
        for (int i = 0; i < kFiles && !broken(); ++i) {
          const std::string p = dir + "/" + names[i];
          const int fd = benchfs_open(p.c_str(), O_RDONLY, 0);
          if (fd < 0) {
            fail("open " + p + ": " + why());
            continue;
          }
          const ssize_t r = benchfs_pread(fd, back.data(), kFileBytes + 100, 0);
          if (r != static_cast<ssize_t>(kFileBytes)) {
            fail("read " + p + " returned " + std::to_string(r) + ": " + why());
          } else if (auto e =
                         check_pattern(back.data(), kFileBytes, static_cast<uint64_t>(c) * kFiles + i, 0);
                     !e.empty()) {
            fail(p + ": " + e);
          }
          benchfs_close(fd);
        }
        sync.arrive_and_wait();
        // Remove.
        for (int i = 0; i < kFiles && !broken(); ++i) {
          const std::string p = dir + "/" + names[i];
          if (benchfs_unlink(p.c_str()) != 0) fail("unlink " + p + ": " + why());
          struct stat st {};
          if (i % 100 == 0 && (benchfs_stat(p.c_str(), &st) != -1 || errno != ENOENT)) {
            fail("stat after unlink of " + p + ": " + why());
          }
        }
        sync.arrive_and_wait();
        if (!broken()) expect_listing(dir, {}, who);
      }
      if (broken()) return;
      // Directories: mkdir, stat, readdir, rmdir.
      const std::string dirs = priv + "/dirs";
      if (benchfs_mkdir(dirs.c_str(), 0755) != 0) fail("mkdir " + dirs + ": " + why());
      std::map<std::string, unsigned char> want;
      for (int i = 0; i < kDirs; ++i) {
        const std::string p = dirs + "/d." + std::to_string(i);
        if (benchfs_mkdir(p.c_str(), 0755) != 0) fail("mkdir " + p + ": " + why());
        want["d." + std::to_string(i)] = DT_DIR;
      }
      for (int i = 0; i < kDirs; ++i) {
        const std::string p = dirs + "/d." + std::to_string(i);
        struct stat st {};
        if (benchfs_stat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) fail("stat " + p + ": " + why());
      }
      expect_listing(dirs, want, who);
      for (int i = 0; i < kDirs; ++i) {
        const std::string p = dirs + "/d." + std::to_string(i);
        if (benchfs_rmdir(p.c_str()) != 0) fail("rmdir " + p + ": " + why());
      }
      if (benchfs_rmdir(dirs.c_str()) != 0) fail("rmdir " + dirs + ": " + why());
      if (benchfs_rmdir(priv.c_str()) != 0) fail("rmdir " + priv + ": " + why());
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.count(), 0) << failures.text();
  EXPECT_EQ(benchfs_rmdir("/md/shared"), 0) << why();
  EXPECT_EQ(benchfs_rmdir("/md"), 0) << why();
  std::map<std::string, unsigned char> root;
  std::string err;
  list("/", &root, &err);
  EXPECT_EQ(err, "");
  EXPECT_TRUE(root.empty()) << root.size() << " entries left in /";
  ASSERT_NO_FATAL_FAILURE(expect_store_empty());
}

// The consistency rules of benchfs.h: a writer's size reaches the metadata
// server on fsync / close (never lowered by a smaller one), fstat includes
// the descriptor's own writes, truncate sets the size exactly.
TEST_F(FsPatterns, SizeVisibilityAcrossDescriptors) {
  ASSERT_NO_FATAL_FAILURE(start());
  const char* path = "/sz";
  std::vector<uint8_t> buf(10000);
  struct stat st {};
  auto size_of = [&](const char* p) {
    st = {};
    return benchfs_stat(p, &st) == 0 ? static_cast<long long>(st.st_size) : -1;
  };
  const int a = benchfs_open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(a, 0) << why();
  fill_pattern(buf.data(), 1000, 1, 0);
  ASSERT_EQ(benchfs_pwrite(a, buf.data(), 1000, 0), 1000) << why();
  ASSERT_EQ(benchfs_fsync(a), 0) << why();
  EXPECT_EQ(size_of(path), 1000) << "fsync pushes the size";
  // A second writer extends the file: its own fstat sees it at once, others
  // after its fsync.
  const int b = benchfs_open(path, O_WRONLY, 0);
  ASSERT_GE(b, 0) << why();
  fill_pattern(buf.data(), 10, 1, 5000);
  ASSERT_EQ(benchfs_pwrite(b, buf.data(), 10, 5000), 10) << why();
  ASSERT_EQ(benchfs_fstat(b, &st), 0) << why();
  EXPECT_EQ(st.st_size, 5010) << "fstat includes the descriptor's own writes";
  ASSERT_EQ(benchfs_fsync(b), 0) << why();
  EXPECT_EQ(size_of(path), 5010);
  // The first writer's smaller size does not lower it.
  fill_pattern(buf.data(), 10, 1, 100);
  ASSERT_EQ(benchfs_pwrite(a, buf.data(), 10, 100), 10) << why();
  ASSERT_EQ(benchfs_close(a), 0) << why();
  EXPECT_EQ(size_of(path), 5010) << "max semantics";
  ASSERT_EQ(benchfs_close(b), 0) << why();
  EXPECT_EQ(size_of(path), 5010);
  // Contents: [0, 1000) data, hole to 5000, 10 bytes.
  int r = benchfs_open(path, O_RDONLY, 0);
  ASSERT_GE(r, 0) << why();
  std::memset(buf.data(), 0xEE, buf.size());
  ASSERT_EQ(benchfs_pread(r, buf.data(), buf.size(), 0), 5010) << why();
  EXPECT_EQ(check_pattern(buf.data(), 1000, 1, 0), "");
  EXPECT_EQ(check_zeros(buf.data() + 1000, 4000, 1000), "");
  EXPECT_EQ(check_pattern(buf.data() + 5000, 10, 1, 5000), "");
  // Sequential reads advance the position and stop at the end.
  ASSERT_EQ(benchfs_lseek(r, 4990, SEEK_SET), 4990) << why();
  EXPECT_EQ(benchfs_read(r, buf.data(), 15), 15) << why();
  EXPECT_EQ(benchfs_read(r, buf.data(), 15), 5) << why();
  EXPECT_EQ(benchfs_read(r, buf.data(), 15), 0) << why();
  EXPECT_EQ(benchfs_lseek(r, 0, SEEK_CUR), 5010) << why();
  EXPECT_EQ(benchfs_close(r), 0) << why();
  // Truncate: exact, down and up; what was cut reads as zeros.
  ASSERT_EQ(benchfs_truncate(path, 3000), 0) << why();
  EXPECT_EQ(size_of(path), 3000);
  ASSERT_EQ(benchfs_truncate(path, 8000), 0) << why();
  EXPECT_EQ(size_of(path), 8000);
  r = benchfs_open(path, O_RDONLY, 0);
  ASSERT_GE(r, 0) << why();
  std::memset(buf.data(), 0xEE, buf.size());
  ASSERT_EQ(benchfs_pread(r, buf.data(), buf.size(), 0), 8000) << why();
  EXPECT_EQ(check_pattern(buf.data(), 1000, 1, 0), "");
  EXPECT_EQ(check_zeros(buf.data() + 1000, 7000, 1000), "") << "the bytes at 5000 were cut";
  EXPECT_EQ(benchfs_close(r), 0) << why();
  // ftruncate through a writer; O_TRUNC; O_APPEND appends at the pushed size.
  const int w = benchfs_open(path, O_WRONLY, 0);
  ASSERT_GE(w, 0) << why();
  ASSERT_EQ(benchfs_ftruncate(w, 50), 0) << why();
  ASSERT_EQ(benchfs_fstat(w, &st), 0) << why();
  EXPECT_EQ(st.st_size, 50);
  ASSERT_EQ(benchfs_close(w), 0) << why();
  EXPECT_EQ(size_of(path), 50);
  const int ap = benchfs_open(path, O_WRONLY | O_APPEND, 0);
  ASSERT_GE(ap, 0) << why();
  fill_pattern(buf.data(), 30, 2, 50);
  EXPECT_EQ(benchfs_write(ap, buf.data(), 30), 30) << why();
  fill_pattern(buf.data(), 20, 2, 80);
  EXPECT_EQ(benchfs_write(ap, buf.data(), 20), 20) << why();
  ASSERT_EQ(benchfs_close(ap), 0) << why();
  EXPECT_EQ(size_of(path), 100);
  r = benchfs_open(path, O_RDONLY, 0);
  ASSERT_GE(r, 0) << why();
  ASSERT_EQ(benchfs_pread(r, buf.data(), 200, 0), 100) << why();
  EXPECT_EQ(check_pattern(buf.data(), 50, 1, 0), "");
  EXPECT_EQ(check_pattern(buf.data() + 50, 50, 2, 50), "");
  EXPECT_EQ(benchfs_close(r), 0) << why();
  const int t = benchfs_open(path, O_RDWR | O_TRUNC, 0);
  ASSERT_GE(t, 0) << why();
  ASSERT_EQ(benchfs_fstat(t, &st), 0) << why();
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(benchfs_pread(t, buf.data(), 10, 0), 0) << why();
  ASSERT_EQ(benchfs_close(t), 0) << why();
  EXPECT_EQ(size_of(path), 0);
  EXPECT_EQ(benchfs_unlink(path), 0) << why();
  ASSERT_NO_FATAL_FAILURE(expect_store_empty());
}

// What stat and statfs report, and a listing stopped by its callback.
TEST_F(FsPatterns, StatAttributesAndReaddirEarlyStop) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_EQ(benchfs_mkdir("/attr", 0750), 0) << why();
  constexpr int kFiles = 12;
  for (int i = 0; i < kFiles; ++i) {
    const std::string p = "/attr/f" + std::to_string(i);
    const int fd = benchfs_open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL, i % 2 == 0 ? 0640 : 0600);
    ASSERT_GE(fd, 0) << p << ": " << why();
    std::vector<uint8_t> data(static_cast<size_t>(i) * 10000);
    fill_pattern(data.data(), data.size(), 9, 0);
    ASSERT_EQ(benchfs_pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size())) << why();
    ASSERT_EQ(benchfs_close(fd), 0) << why();
  }
  std::set<ino_t> inodes;
  for (int i = 0; i < kFiles; ++i) {
    const std::string p = "/attr/f" + std::to_string(i);
    struct stat st {};
    ASSERT_EQ(benchfs_stat(p.c_str(), &st), 0) << p << ": " << why();
    EXPECT_TRUE(S_ISREG(st.st_mode)) << p;
    EXPECT_EQ(st.st_mode & 07777, i % 2 == 0 ? 0640u : 0600u) << p;
    EXPECT_EQ(st.st_size, i * 10000) << p;
    EXPECT_EQ(static_cast<uint64_t>(st.st_blksize), kChunk) << "st_blksize is the chunk size";
    EXPECT_EQ(st.st_uid, getuid());
    EXPECT_EQ(st.st_gid, getgid());
    EXPECT_GE(st.st_nlink, 1u);
    EXPECT_NE(st.st_ino, 0u);
    inodes.insert(st.st_ino);
  }
  EXPECT_EQ(inodes.size(), static_cast<size_t>(kFiles)) << "inode numbers are unique";
  struct stat st {};
  ASSERT_EQ(benchfs_stat("/attr", &st), 0) << why();
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  // A renamed file keeps its inode and data.
  struct stat before {};
  ASSERT_EQ(benchfs_stat("/attr/f5", &before), 0) << why();
  ASSERT_EQ(benchfs_rename("/attr/f5", "/attr/g5"), 0) << why();
  ASSERT_EQ(benchfs_stat("/attr/g5", &st), 0) << why();
  EXPECT_EQ(st.st_ino, before.st_ino);
  EXPECT_EQ(st.st_size, before.st_size);
  // statfs.
  struct statvfs vfs {};
  ASSERT_EQ(benchfs_statfs("/attr", &vfs), 0) << why();
  EXPECT_EQ(vfs.f_bsize, 4096u);
  EXPECT_EQ(vfs.f_frsize, 4096u);
  EXPECT_EQ(vfs.f_namemax, 255u);
  EXPECT_EQ(vfs.f_flag, 0u);
  EXPECT_LE(vfs.f_bavail, vfs.f_bfree);
  EXPECT_LE(vfs.f_bfree, vfs.f_blocks);
  EXPECT_GE(vfs.f_files - vfs.f_ffree, static_cast<fsblkcnt_t>(kFiles + 1)) << "files and directories in use";
  // A listing stopped after 3 entries by the callback.
  struct Ctx {
    int calls = 0;
  } ctx;
  const int n = benchfs_readdir(
      "/attr",
      [](void* arg, const char*, unsigned char) {
        auto* c = static_cast<Ctx*>(arg);
        return ++c->calls == 3 ? 1 : 0;
      },
      &ctx);
  EXPECT_EQ(n, 3) << why();
  EXPECT_EQ(ctx.calls, 3);
  for (int i = 0; i < kFiles; ++i) {
    const std::string p = i == 5 ? "/attr/g5" : "/attr/f" + std::to_string(i);
    EXPECT_EQ(benchfs_unlink(p.c_str()), 0) << p << ": " << why();
  }
  EXPECT_EQ(benchfs_rmdir("/attr"), 0) << why();
  ASSERT_NO_FATAL_FAILURE(expect_store_empty());
}

// benchfs_readdir_plus gives what benchfs_stat gives for each entry (sizes
// this process wrote and has not pushed included), and long listings page
// within the reply buffer whatever the name lengths, with and without
// attributes.
TEST_F(FsPatterns, ReaddirPlusAgreesWithStatAndPagesLongNames) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_EQ(benchfs_mkdir("/plus", 0755), 0) << why();
  ASSERT_EQ(benchfs_mkdir("/plus/sub", 0700), 0) << why();
  constexpr int kFiles = 10;
  for (int i = 0; i < kFiles; ++i) {
    const std::string p = "/plus/f" + std::to_string(i);
    const int fd = benchfs_open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600 + i);
    ASSERT_GE(fd, 0) << p << ": " << why();
    std::vector<uint8_t> data(static_cast<size_t>(i) * 70001);
    fill_pattern(data.data(), data.size(), 3, 0);
    ASSERT_EQ(benchfs_pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size())) << why();
    ASSERT_EQ(benchfs_close(fd), 0) << why();
  }
  // Written, not yet pushed: readdir_plus counts it as stat does.
  const int open_fd = benchfs_open("/plus/open", O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(open_fd, 0) << why();
  std::vector<uint8_t> pending(12345, 7);
  ASSERT_EQ(benchfs_pwrite(open_fd, pending.data(), pending.size(), 100), 12345) << why();
  std::map<std::string, struct stat> listed;
  const int n = benchfs_readdir_plus(
      "/plus",
      [](void* arg, const char* name, const struct stat* st) {
        (*static_cast<std::map<std::string, struct stat>*>(arg))[name] = *st;
        return 0;
      },
      &listed);
  ASSERT_EQ(n, kFiles + 2) << why();
  ASSERT_EQ(listed.size(), static_cast<size_t>(kFiles + 2));
  for (const auto& [name, got] : listed) {
    SCOPED_TRACE(name);
    struct stat want {};
    ASSERT_EQ(benchfs_stat(("/plus/" + name).c_str(), &want), 0) << why();
    EXPECT_EQ(got.st_ino, want.st_ino);
    EXPECT_EQ(got.st_mode, want.st_mode);
    EXPECT_EQ(got.st_size, want.st_size);
    EXPECT_EQ(got.st_nlink, want.st_nlink);
    EXPECT_EQ(got.st_blksize, want.st_blksize);
    EXPECT_EQ(got.st_mtim.tv_sec, want.st_mtim.tv_sec);
    EXPECT_EQ(got.st_mtim.tv_nsec, want.st_mtim.tv_nsec);
    EXPECT_EQ(got.st_ctim.tv_nsec, want.st_ctim.tv_nsec);
  }
  EXPECT_TRUE(S_ISDIR(listed["sub"].st_mode));
  EXPECT_EQ(listed["sub"].st_mode & 07777, 0700u);
  EXPECT_EQ(listed["f9"].st_size, 9 * 70001);
  EXPECT_EQ(listed["open"].st_size, 12445) << "this process's unpushed write counts";
  ASSERT_EQ(benchfs_close(open_fd), 0) << why();
  EXPECT_EQ(benchfs_readdir_plus(
                "/plus/f1", [](void*, const char*, const struct stat*) { return 0; }, nullptr),
            -1);
  EXPECT_EQ(errno, ENOTDIR);
  EXPECT_EQ(benchfs_readdir_plus(
                "/nope", [](void*, const char*, const struct stat*) { return 0; }, nullptr),
            -1);
  EXPECT_EQ(errno, ENOENT);

  // 3,000 names of 200 bytes: several pages per server, each as full as the
  // reply buffer allows.
  ASSERT_EQ(benchfs_mkdir("/long", 0755), 0) << why();
  constexpr int kLong = 3000;
  auto long_name = [](int i) {
    std::string s = std::to_string(i) + "_";
    s.resize(200, 'n');
    return s;
  };
  for (int i = 0; i < kLong; ++i) {
    const std::string p = "/long/" + long_name(i);
    const int fd = benchfs_open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    ASSERT_GE(fd, 0) << p << ": " << why();
    ASSERT_EQ(benchfs_close(fd), 0) << why();
  }
  std::set<std::string> plain, plus;
  ASSERT_EQ(benchfs_readdir(
                "/long",
                [](void* arg, const char* name, unsigned char) {
                  static_cast<std::set<std::string>*>(arg)->insert(name);
                  return 0;
                },
                &plain),
            kLong)
      << why();
  ASSERT_EQ(benchfs_readdir_plus(
                "/long",
                [](void* arg, const char* name, const struct stat* st) {
                  if (S_ISREG(st->st_mode) && st->st_size == 0)
                    static_cast<std::set<std::string>*>(arg)->insert(name);
                  return 0;
                },
                &plus),
            kLong)
      << why();
  EXPECT_EQ(plain.size(), static_cast<size_t>(kLong));
  EXPECT_EQ(plus, plain);
  for (int i = 0; i < kLong; ++i) ASSERT_EQ(benchfs_unlink(("/long/" + long_name(i)).c_str()), 0) << why();
  for (const auto& [name, st] : listed) {
    const std::string p = "/plus/" + name;
    EXPECT_EQ(S_ISDIR(st.st_mode) ? benchfs_rmdir(p.c_str()) : benchfs_unlink(p.c_str()), 0)
        << p << ": " << why();
  }
  EXPECT_EQ(benchfs_rmdir("/plus"), 0) << why();
  EXPECT_EQ(benchfs_rmdir("/long"), 0) << why();
  ASSERT_NO_FATAL_FAILURE(expect_store_empty());
}

// chmod and utimens: files on their owner, directories on every server (a
// listing of the parent, served by the directory's owner, and stat agree);
// times as utimensat takes them; futimens survives the close after it.
TEST_F(FsPatterns, ChmodAndUtimensSetWhatTheySay) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_EQ(benchfs_mkdir("/ch", 0755), 0) << why();
  ASSERT_EQ(benchfs_mkdir("/ch/sub", 0755), 0) << why();
  int fd = benchfs_open("/ch/f", O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0) << why();
  ASSERT_EQ(benchfs_close(fd), 0) << why();
  auto mode_of = [](const char* p) {
    struct stat st {};
    EXPECT_EQ(benchfs_stat(p, &st), 0) << p << ": " << benchfs_last_error();
    return st.st_mode;
  };
  ASSERT_EQ(benchfs_chmod("/ch/f", 0100644), 0) << why();  // type bits ignored
  EXPECT_EQ(mode_of("/ch/f"), static_cast<mode_t>(S_IFREG | 0644));
  ASSERT_EQ(benchfs_chmod("/ch/sub", 0700), 0) << why();
  EXPECT_EQ(mode_of("/ch/sub"), static_cast<mode_t>(S_IFDIR | 0700));
  std::map<std::string, struct stat> listed;
  ASSERT_EQ(benchfs_readdir_plus(
                "/ch",
                [](void* arg, const char* name, const struct stat* st) {
                  (*static_cast<std::map<std::string, struct stat>*>(arg))[name] = *st;
                  return 0;
                },
                &listed),
            2)
      << why();
  EXPECT_EQ(listed["sub"].st_mode, static_cast<mode_t>(S_IFDIR | 0700));
  EXPECT_EQ(listed["f"].st_mode, static_cast<mode_t>(S_IFREG | 0644));
  // The directory's replicas changed too: a file can still be made in it
  // through every server (its new entries land on their owners).
  for (int i = 0; i < 8; ++i) {
    const std::string p = "/ch/sub/x" + std::to_string(i);
    const int f = benchfs_open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    ASSERT_GE(f, 0) << p << ": " << why();
    ASSERT_EQ(benchfs_close(f), 0);
    ASSERT_EQ(benchfs_unlink(p.c_str()), 0);
  }

  // Explicit times, then one of them left alone, then now.
  const struct timespec set[2] = {{1'000'000'000, 111}, {1'500'000'000, 222}};
  ASSERT_EQ(benchfs_utimens("/ch/f", set), 0) << why();
  struct stat st {};
  ASSERT_EQ(benchfs_stat("/ch/f", &st), 0) << why();
  EXPECT_EQ(st.st_atim.tv_sec, 1'000'000'000);
  EXPECT_EQ(st.st_atim.tv_nsec, 111);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 222);
  const struct timespec omit_atime[2] = {{0, UTIME_OMIT}, {1'600'000'000, 0}};
  ASSERT_EQ(benchfs_utimens("/ch/f", omit_atime), 0) << why();
  ASSERT_EQ(benchfs_stat("/ch/f", &st), 0) << why();
  EXPECT_EQ(st.st_atim.tv_sec, 1'000'000'000) << "UTIME_OMIT leaves atime";
  EXPECT_EQ(st.st_mtim.tv_sec, 1'600'000'000);
  const time_t before = time(nullptr);
  ASSERT_EQ(benchfs_utimens("/ch/f", nullptr), 0) << why();
  ASSERT_EQ(benchfs_stat("/ch/f", &st), 0) << why();
  EXPECT_GE(st.st_mtim.tv_sec, before);
  EXPECT_LE(st.st_mtim.tv_sec, time(nullptr) + 1);
  EXPECT_GE(st.st_atim.tv_sec, before);
  ASSERT_EQ(benchfs_utimens("/ch/sub", set), 0) << why();
  ASSERT_EQ(benchfs_stat("/ch/sub", &st), 0) << why();
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000);

  // futimens after writing: the close that follows keeps the times.
  fd = benchfs_open("/ch/f", O_WRONLY, 0);
  ASSERT_GE(fd, 0) << why();
  std::vector<uint8_t> data(100000, 5);
  ASSERT_EQ(benchfs_pwrite(fd, data.data(), data.size(), 0), 100000) << why();
  ASSERT_EQ(benchfs_futimens(fd, set), 0) << why();
  ASSERT_EQ(benchfs_fchmod(fd, 0640), 0) << why();
  ASSERT_EQ(benchfs_close(fd), 0) << why();
  ASSERT_EQ(benchfs_stat("/ch/f", &st), 0) << why();
  EXPECT_EQ(st.st_size, 100000);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000) << "close after futimens kept the time";
  EXPECT_EQ(st.st_mode, static_cast<mode_t>(S_IFREG | 0640));

  // Bad input changes nothing.
  const struct timespec bad[2] = {{5, 1'000'000'000}, {5, 0}};
  EXPECT_EQ(benchfs_utimens("/ch/f", bad), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(benchfs_chmod("/ch/none", 0600), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(benchfs_utimens("/ch/none", nullptr), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(benchfs_fchmod(12345, 0600), -1);
  EXPECT_EQ(errno, EBADF);
  ASSERT_EQ(benchfs_stat("/ch/f", &st), 0) << why();
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000);

  EXPECT_EQ(benchfs_unlink("/ch/f"), 0) << why();
  EXPECT_EQ(benchfs_rmdir("/ch/sub"), 0) << why();
  EXPECT_EQ(benchfs_rmdir("/ch"), 0) << why();
  ASSERT_NO_FATAL_FAILURE(expect_store_empty());
}

// Large reads land in a bounce buffer when the caller's buffer is not 64-byte
// aligned relative to the file offset (the heap buffer here, one byte past a
// malloc'd start, always; the 2 MiB-aligned one at unaligned offsets), and
// straight in the caller's buffer otherwise: both must give the same bytes,
// holes as zeros, a short count at the end of the file, and never touch
// bytes past the count.
TEST_F(FsPatterns, LargeReadsIntoHeapAndAlignedBuffersAgree) {
  ASSERT_NO_FATAL_FAILURE(start());
  constexpr uint64_t kFirst = 1'500'000;  // data [0, kFirst), hole, data [kHole, kEnd)
  constexpr uint64_t kHole = 3'000'000;
  constexpr uint64_t kEnd = 5'000'000;
  const int fd = benchfs_open("/bounce", O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0) << why();
  {
    std::vector<uint8_t> a(kFirst), b(kEnd - kHole);
    fill_pattern(a.data(), a.size(), 5, 0);
    fill_pattern(b.data(), b.size(), 5, kHole);
    ASSERT_EQ(benchfs_pwrite(fd, a.data(), a.size(), 0), static_cast<ssize_t>(a.size())) << why();
    ASSERT_EQ(benchfs_pwrite(fd, b.data(), b.size(), kHole), static_cast<ssize_t>(b.size())) << why();
  }
  constexpr size_t kMax = 4 << 20;
  constexpr size_t kGuard = 4096;
  // Heap: one byte past a malloc'd start, never 64-byte aligned.
  std::vector<uint8_t> heap_store(kMax + kGuard + 1);
  uint8_t* heap = heap_store.data() + 1;
  // Aligned: the start of a 2 MiB-aligned allocation.
  void* raw = nullptr;
  ASSERT_EQ(posix_memalign(&raw, 2u << 20, kMax + kGuard), 0);
  std::unique_ptr<uint8_t, decltype(&std::free)> aligned(static_cast<uint8_t*>(raw), &std::free);
  struct Case {
    uint64_t off;
    size_t len;
  };
  for (const Case c : {Case{0, 1u << 20}, Case{123'456, 3u << 20}, Case{kFirst - 1000, 2u << 20},
                       Case{kHole - 300'000, 600'000}, Case{kEnd - 700'000, 4u << 20}, Case{0, 256 * 1024},
                       Case{kEnd - 1, 1u << 20}}) {
    SCOPED_TRACE("read of " + std::to_string(c.len) + " at " + std::to_string(c.off));
    const size_t want = static_cast<size_t>(std::min<uint64_t>(c.len, kEnd - c.off));
    for (uint8_t* buf : {heap, aligned.get()}) {
      std::memset(buf, 0xEE, c.len + kGuard);
      ASSERT_EQ(benchfs_pread(fd, buf, c.len, static_cast<off_t>(c.off)), static_cast<ssize_t>(want))
          << why();
      for (size_t i = 0; i < want; ++i) {
        const uint64_t pos = c.off + i;
        const uint8_t expect = (pos < kFirst || pos >= kHole) ? pattern_byte(5, pos) : 0;
        ASSERT_EQ(buf[i], expect) << "byte " << pos << (buf == heap ? " (heap buffer)" : " (aligned buffer)");
      }
      for (size_t i = want; i < c.len + kGuard; ++i)
        ASSERT_EQ(buf[i], 0xEE) << "byte " << i << " past the count was written"
                                << (buf == heap ? " (heap buffer)" : " (aligned buffer)");
    }
  }
  EXPECT_EQ(benchfs_close(fd), 0) << why();
  EXPECT_EQ(benchfs_unlink("/bounce"), 0) << why();
}

// ---- the server's reserve of resident chunk buffers ----

class FsReserve : public benchfs::test::FsJobTest {
 protected:
  FsReserve() : FsJobTest("benchfs-reserve") {}

  void start(std::vector<std::string> args) {
    auto opts = JobOptions::of(1, 1);
    opts.extra_args = std::move(args);
    ASSERT_NO_FATAL_FAILURE(start_job(opts, 20000));
  }

  // Stops the job (after finalizing the client) and returns rank 0's stats.
  nlohmann::json stop() {
    EXPECT_EQ(benchfs_finalize(), 0);
    initialized_ = false;
    EXPECT_EQ(job_->terminate(30000), 0) << job_->log();
    return job_->stats(0);
  }
};

// A first write phase on a fresh server takes its buffers from the reserve:
// no write faults a buffer in, the data is intact, and the log and --stats
// say what the reserve held.
TEST_F(FsReserve, FirstWritesComeFromTheReserve) {
  ASSERT_NO_FATAL_FAILURE(start({"--reserve", "64m", "--buffer-pool", "128m"}));
  const std::string log = job_->log();
  EXPECT_NE(log.find("reserve of 64 MiB"), std::string::npos) << log;
  // Start waits at most 300 ms for the fill; on a slow machine the rest
  // fills in the background while the server is quiet.
  if (log.find("fills in the background") != std::string::npos)
    std::this_thread::sleep_for(std::chrono::seconds(3));
  constexpr size_t kMiB = 1 << 20;
  constexpr int kCount = 48;
  const int fd = benchfs_open("/first", O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0) << why();
  std::vector<uint8_t> buf(kMiB);
  for (int i = 0; i < kCount; ++i) {
    fill_pattern(buf.data(), kMiB, 11, static_cast<uint64_t>(i) * kMiB);
    ASSERT_EQ(benchfs_pwrite(fd, buf.data(), kMiB, static_cast<off_t>(i) * kMiB), static_cast<ssize_t>(kMiB))
        << why();
  }
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(benchfs_pread(fd, buf.data(), kMiB, static_cast<off_t>(i) * kMiB), static_cast<ssize_t>(kMiB))
        << why();
    ASSERT_EQ(check_pattern(buf.data(), kMiB, 11, static_cast<uint64_t>(i) * kMiB), "");
  }
  ASSERT_EQ(benchfs_close(fd), 0) << why();
  const auto j = stop();
  ASSERT_TRUE(j.contains("store")) << j.dump();
  const auto& pool = j["store"]["pool"];
  const auto& reserve = j["store"]["reserve"];
  std::printf("pool: %s\nreserve: %s\n", pool.dump().c_str(), reserve.dump().c_str());
  EXPECT_EQ(reserve["bytes"].get<uint64_t>(), 64u << 20);
  EXPECT_GE(reserve["refilled"].get<uint64_t>(), 64u);
  EXPECT_GT(reserve["full_after_ms"].get<double>(), 0.0);
  EXPECT_EQ(pool["acquired_cold"].get<uint64_t>(), 0u) << "a write faulted its buffer in: " << pool.dump();
  EXPECT_EQ(pool["reused_warm"].get<uint64_t>(), static_cast<uint64_t>(kCount));
}

// SIGTERM while the first fill is still running (a reserve far larger than
// start's 300 ms can fill: two threads filled 0.6-1.5 GiB in that time
// here): the server stops within its bound, writes its stats, and the
// refill had really been cut short.
TEST_F(FsReserve, ServerShutsDownMidRefill) {
  ASSERT_NO_FATAL_FAILURE(start({"--reserve", "16g", "--buffer-pool", "16g"}));
  const std::string log = job_->log();
  EXPECT_NE(log.find("fills in the background"), std::string::npos) << log;
  const auto j = stop();
  EXPECT_NE(job_->log().find("node 0: stopped in"), std::string::npos) << job_->log();
  ASSERT_TRUE(j.contains("store")) << j.dump();
  const auto& reserve = j["store"]["reserve"];
  EXPECT_EQ(reserve["bytes"].get<uint64_t>(), 16ull << 30);
  EXPECT_LT(reserve["refilled"].get<uint64_t>(), 16384u) << "the fill had finished: " << reserve.dump();
  EXPECT_EQ(reserve["full_after_ms"].get<double>(), 0.0);
}

// A bad --reserve is refused with a message naming it, and nothing starts.
TEST(FsReserveOptions, BadReserveIsRefused) {
  std::string out;
  EXPECT_EQ(benchfs::test::run_command(
                {benchfs::test::benchfsd_path(), "--registry", "/tmp/benchfs-noreg", "--reserve", "lots"},
                20000, &out),
            2);
  EXPECT_NE(out.find("--reserve"), std::string::npos) << out;
}
