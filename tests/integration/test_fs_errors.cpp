// Error paths of the file-system C API (benchfs.h): every documented errno
// triggered against real benchfsd_mt servers, ENOSPC under a small
// --memory-limit, and a killed server that must give an error within the RPC
// timeout while the other server keeps serving.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "benchfs/benchfs.h"
#include "benchfs/core/clock.hpp"
#include "benchfs/protocol/placement.hpp"
#include "fault_common.hpp"
#include "fs_fixture.hpp"
#include "harness.hpp"
#include "placement_paths.hpp"

using benchfs::now_ns;
using benchfs::faults::fill_pattern;
using benchfs::faults::first_mismatch;
using benchfs::faults::pattern_byte;
using benchfs::test::JobOptions;

namespace {

constexpr uint64_t kChunk = 64 * 1024;

std::string errname(int e) {
  const char* n = strerrorname_np(e);
  return (n != nullptr ? std::string(n) : "errno " + std::to_string(e)) + " (" + std::strerror(e) + ")";
}

std::string errnames(const std::set<int>& s) {
  std::string out;
  for (int e : s) out += (out.empty() ? "" : " or ") + errname(e);
  return out;
}

// Expects `call` to return -1 with errno `err`.
#define EXPECT_ERRNO(err, call)                                                                       \
  do {                                                                                                \
    errno = 0;                                                                                        \
    const auto rc_ = (call);                                                                          \
    const int e_ = errno;                                                                             \
    EXPECT_EQ(rc_, -1) << #call << " should fail with " << errname(err);                              \
    EXPECT_EQ(e_, (err)) << #call << ": expected " << errname(err) << ", got " << errname(e_) << " (" \
                         << benchfs_last_error() << ")";                                              \
  } while (0)

// Expects (EXPECT_OK) or asserts (ASSERT_OK) that `call` succeeds (>= 0);
// CHECK_OK_ is their body, `check` EXPECT_GE or ASSERT_GE and `text` the call as written.
#define CHECK_OK_(check, call, text)                                                                  \
  do {                                                                                                \
    errno = 0;                                                                                        \
    const auto rc_ = (call);                                                                          \
    const int e_ = errno;                                                                             \
    check(rc_, 0) << (text) << " failed: " << errname(e_) << " (last error: " << benchfs_last_error() \
                  << ")";                                                                             \
  } while (0)
#define EXPECT_OK(call) CHECK_OK_(EXPECT_GE, call, #call)
#define ASSERT_OK(call) CHECK_OK_(ASSERT_GE, call, #call)

double seconds_since(uint64_t t0) { return static_cast<double>(now_ns() - t0) / 1e9; }

std::vector<uint8_t> pattern(uint64_t seed, uint64_t off, size_t n) {
  std::vector<uint8_t> v(n);
  fill_pattern(v.data(), n, seed, off);
  return v;
}

// Index of the first byte where `got` differs from the pattern, or -1.
class FsErrors : public benchfs::test::FsJobTest {
 protected:
  FsErrors() : FsJobTest("benchfs-fserr") {}

  // Starts `ranks` servers (1 progress thread each, chunk 64 KiB, plus
  // `extra` options) and initializes the C API against them.
  void start(int ranks, std::vector<std::string> extra = {}, int rpc_timeout_ms = 10000,
             std::map<std::string, std::string> env = {}) {
    JobOptions opts;
    opts.ranks = ranks;
    opts.threads = 1;
    opts.extra_args = {"--chunk-size", "64k"};
    for (auto& e : extra) opts.extra_args.push_back(std::move(e));
    opts.env = std::move(env);
    ASSERT_NO_FATAL_FAILURE(start_job(opts, rpc_timeout_ms));
    ASSERT_EQ(benchfs_chunk_size(), static_cast<long long>(kChunk)) << benchfs_last_error();
  }

  // Creates (or truncates) `path` holding `n` pattern bytes of `seed`.
  static void write_file(const std::string& path, size_t n, uint64_t seed = 1) {
    const int fd = benchfs_open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << "create " << path << ": " << errname(errno) << " (" << benchfs_last_error() << ")";
    if (n > 0) {
      const auto data = pattern(seed, 0, n);
      EXPECT_EQ(benchfs_pwrite(fd, data.data(), n, 0), static_cast<ssize_t>(n))
          << "pwrite " << path << ": " << errname(errno) << " (" << benchfs_last_error() << ")";
    }
    ASSERT_EQ(benchfs_close(fd), 0) << "close " << path << ": " << errname(errno);
  }
};

}  // namespace

TEST(FsErrorsNoServer, CallsBeforeInitFailWithEinval) {
  struct stat st {};
  EXPECT_ERRNO(EINVAL, benchfs_stat("/x", &st));
  EXPECT_ERRNO(EINVAL, benchfs_open("/x", O_RDONLY, 0));
  EXPECT_ERRNO(EINVAL, benchfs_mkdir("/d", 0755));
  EXPECT_ERRNO(EINVAL, benchfs_chunk_size());
  EXPECT_ERRNO(EINVAL, benchfs_server_count());
  EXPECT_ERRNO(EINVAL, benchfs_finalize());
  benchfs_config cfg;
  benchfs_config_init(&cfg);
  cfg.rpc_timeout_ms = -5;
  EXPECT_ERRNO(EINVAL, benchfs_init(&cfg));
}

TEST_F(FsErrors, Enoent) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  struct stat st {};
  EXPECT_ERRNO(ENOENT, benchfs_open("/missing", O_RDONLY, 0));
  EXPECT_ERRNO(ENOENT, benchfs_open("/missing", O_RDWR, 0));
  EXPECT_ERRNO(ENOENT, benchfs_stat("/missing", &st));
  EXPECT_ERRNO(ENOENT, benchfs_unlink("/missing"));
  EXPECT_ERRNO(ENOENT, benchfs_truncate("/missing", 10));
  EXPECT_ERRNO(ENOENT, benchfs_access("/missing", F_OK));
  EXPECT_ERRNO(ENOENT, benchfs_rmdir("/missing"));
  EXPECT_ERRNO(ENOENT, benchfs_readdir(
                           "/missing", [](void*, const char*, unsigned char) { return 0; }, nullptr));
  // Parent missing.
  EXPECT_ERRNO(ENOENT, benchfs_open("/nodir/f", O_WRONLY | O_CREAT, 0644));
  EXPECT_ERRNO(ENOENT, benchfs_create("/nodir/f", O_WRONLY, 0644));
  EXPECT_ERRNO(ENOENT, benchfs_mkdir("/nodir/sub", 0755));
  EXPECT_ERRNO(ENOENT, benchfs_stat("/nodir/f", &st));
  // Rename: source missing, or the destination's parent missing.
  EXPECT_ERRNO(ENOENT, benchfs_rename("/missing", "/other"));
  ASSERT_NO_FATAL_FAILURE(write_file("/present", 10));
  EXPECT_ERRNO(ENOENT, benchfs_rename("/present", "/nodir/present"));
  EXPECT_OK(benchfs_stat("/present", &st));  // still there
  EXPECT_EQ(st.st_size, 10);
  // Gone after unlink; a second unlink fails.
  EXPECT_OK(benchfs_unlink("/present"));
  EXPECT_ERRNO(ENOENT, benchfs_stat("/present", &st));
  EXPECT_ERRNO(ENOENT, benchfs_unlink("/present"));
  // A directory removed: creating in it fails.
  ASSERT_OK(benchfs_mkdir("/gone", 0755));
  ASSERT_OK(benchfs_rmdir("/gone"));
  EXPECT_ERRNO(ENOENT, benchfs_create("/gone/f", O_WRONLY, 0644));
  EXPECT_ERRNO(ENOENT, benchfs_rmdir("/gone"));
  // The message describes the failure.
  EXPECT_ERRNO(ENOENT, benchfs_stat("/still-missing", &st));
  EXPECT_STRNE(benchfs_last_error(), "");
}

TEST_F(FsErrors, DescriptorOfAFileRemovedHereWorksUntilClose) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  for (const char* path : {"/removed-a", "/removed-b", "/removed-c", "/removed-d"}) {
    const int fd = benchfs_open(path, O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0) << errname(errno);
    ASSERT_EQ(benchfs_pwrite(fd, "hello", 5, 0), 5) << errname(errno);
    ASSERT_OK(benchfs_unlink(path));
    struct stat st {};
    // As in POSIX, the descriptor of a file this process removed still
    // works: fsync succeeds, fstat reports no links.
    EXPECT_OK(benchfs_fsync(fd));
    EXPECT_OK(benchfs_fstat(fd, &st));
    EXPECT_EQ(st.st_nlink, 0u);
    EXPECT_EQ(st.st_size, 5);
    // close pushes the size like fsync, and releases the descriptor anyway.
    errno = 0;
    const int rc = benchfs_close(fd);
    if (rc != 0) {
      EXPECT_EQ(errno, ENOENT) << "close of a removed file: " << errname(errno);
    }
    EXPECT_ERRNO(EBADF, benchfs_close(fd));
    EXPECT_ERRNO(ENOENT, benchfs_stat(path, &st));  // close did not bring the file back
  }
}

// A descriptor outlives its file's unlink: whatever its writes answer, no
// data may stay on the servers once every file is gone.
TEST_F(FsErrors, WritesThroughTheDescriptorOfARemovedFileLeaveNoData) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  const auto data = pattern(5, 0, 200000);  // chunks on both servers
  for (const char* path : {"/late-a", "/late-b", "/late-c", "/late-d"}) {
    const int fd = benchfs_open(path, O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0) << errname(errno);
    ASSERT_EQ(benchfs_pwrite(fd, data.data(), 1000, 0), 1000) << errname(errno);
    ASSERT_OK(benchfs_unlink(path));
    errno = 0;
    const ssize_t n = benchfs_pwrite(fd, data.data(), data.size(), 5000);
    std::printf("%s: pwrite after unlink returned %zd (%s)\n", path, n, n < 0 ? errname(errno).c_str() : "");
    (void)benchfs_close(fd);
    struct stat st {};
    EXPECT_ERRNO(ENOENT, benchfs_stat(path, &st));
  }
  ASSERT_NO_FATAL_FAILURE(expect_store_empty());
}

TEST_F(FsErrors, Eexist) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  ASSERT_NO_FATAL_FAILURE(write_file("/file", 100));
  ASSERT_OK(benchfs_mkdir("/dir", 0755));
  EXPECT_ERRNO(EEXIST, benchfs_open("/file", O_WRONLY | O_CREAT | O_EXCL, 0644));
  EXPECT_ERRNO(EEXIST, benchfs_create("/file", O_RDWR | O_EXCL, 0644));
  EXPECT_ERRNO(EEXIST, benchfs_mkdir("/dir", 0755));
  EXPECT_ERRNO(EEXIST, benchfs_mkdir("/file", 0755));
  EXPECT_ERRNO(EEXIST, benchfs_mkdir("/", 0755));
  // The failed exclusive create left the data alone.
  struct stat st {};
  ASSERT_OK(benchfs_stat("/file", &st));
  EXPECT_EQ(st.st_size, 100);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  // O_CREAT without O_EXCL opens the existing file.
  const int fd = benchfs_open("/file", O_RDONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0) << errname(errno);
  uint8_t buf[100];
  EXPECT_EQ(benchfs_pread(fd, buf, 100, 0), 100);
  EXPECT_EQ(first_mismatch(buf, 100, 1, 0), -1);
  EXPECT_OK(benchfs_close(fd));
  // Exclusive creates racing from several threads: exactly one wins.
  std::atomic<int> winners{0};
  std::atomic<int> others{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        const std::string p = "/race" + std::to_string(i);
        const int f = benchfs_open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (f >= 0) {
          winners.fetch_add(1);
          benchfs_close(f);
        } else if (errno != EEXIST) {
          others.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 20);
  EXPECT_EQ(others.load(), 0);
}

TEST_F(FsErrors, Enotdir) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  ASSERT_NO_FATAL_FAILURE(write_file("/plain", 10));
  EXPECT_ERRNO(ENOTDIR, benchfs_mkdir("/plain/sub", 0755));
  EXPECT_ERRNO(ENOTDIR, benchfs_open("/plain/f", O_WRONLY | O_CREAT, 0644));
  EXPECT_ERRNO(ENOTDIR, benchfs_create("/plain/f", O_RDWR | O_EXCL, 0644));
  EXPECT_ERRNO(ENOTDIR, benchfs_rmdir("/plain"));
  EXPECT_ERRNO(ENOTDIR, benchfs_readdir(
                            "/plain", [](void*, const char*, unsigned char) { return 0; }, nullptr));
  // The file is untouched.
  struct stat st {};
  ASSERT_OK(benchfs_stat("/plain", &st));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 10);
}

TEST_F(FsErrors, Eisdir) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  ASSERT_OK(benchfs_mkdir("/dir", 0755));
  ASSERT_NO_FATAL_FAILURE(write_file("/file", 10));
  EXPECT_ERRNO(EISDIR, benchfs_open("/dir", O_WRONLY, 0));
  EXPECT_ERRNO(EISDIR, benchfs_open("/dir", O_RDWR, 0));
  EXPECT_ERRNO(EISDIR, benchfs_open("/dir", O_WRONLY | O_CREAT, 0644));
  EXPECT_ERRNO(EISDIR, benchfs_open("/", O_RDWR, 0));
  EXPECT_ERRNO(EISDIR, benchfs_unlink("/dir"));
  EXPECT_ERRNO(EISDIR, benchfs_truncate("/dir", 0));
  EXPECT_ERRNO(EISDIR, benchfs_rename("/file", "/dir"));
  // Nothing moved.
  struct stat st {};
  ASSERT_OK(benchfs_stat("/dir", &st));
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  ASSERT_OK(benchfs_stat("/file", &st));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 10);
}

TEST_F(FsErrors, EnotemptyWhicheverServerHoldsTheChild) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  // One directory per case; its only child lives on server 0 or on server 1
  // (placement by path hash), as a file or as a subdirectory.
  for (uint32_t owner = 0; owner < 2; ++owner) {
    for (const bool child_is_dir : {false, true}) {
      const std::string dir = "/ne" + std::to_string(owner) + (child_is_dir ? "d" : "f");
      ASSERT_OK(benchfs_mkdir(dir.c_str(), 0755));
      const std::string child = benchfs::test::path_on(dir + "/c", owner, 2);
      if (child_is_dir) {
        ASSERT_OK(benchfs_mkdir(child.c_str(), 0755));
      } else {
        ASSERT_NO_FATAL_FAILURE(write_file(child, 1));
      }
      SCOPED_TRACE(dir + " holding " + child + " on server " + std::to_string(owner));
      EXPECT_ERRNO(ENOTEMPTY, benchfs_rmdir(dir.c_str()));
      // Still complete: the child is listed and reachable.
      struct stat st {};
      EXPECT_OK(benchfs_stat(dir.c_str(), &st));
      EXPECT_OK(benchfs_stat(child.c_str(), &st));
      int n = benchfs_readdir(
          dir.c_str(), [](void*, const char*, unsigned char) { return 0; }, nullptr);
      EXPECT_EQ(n, 1) << errname(errno);
      if (child_is_dir) {
        EXPECT_OK(benchfs_rmdir(child.c_str()));
      } else {
        EXPECT_OK(benchfs_unlink(child.c_str()));
      }
      EXPECT_OK(benchfs_rmdir(dir.c_str()));
      EXPECT_ERRNO(ENOENT, benchfs_stat(dir.c_str(), &st));
    }
  }
  // Many children spread over both servers; removed one by one, the
  // directory stays non-empty until the last one is gone.
  ASSERT_OK(benchfs_mkdir("/many", 0755));
  std::vector<std::string> children;
  for (int i = 0; i < 40; ++i) {
    children.push_back("/many/c" + std::to_string(i));
    if (i % 5 == 0) {
      ASSERT_OK(benchfs_mkdir(children.back().c_str(), 0755));
    } else {
      ASSERT_NO_FATAL_FAILURE(write_file(children.back(), 0));
    }
  }
  for (size_t i = 0; i < children.size(); ++i) {
    EXPECT_ERRNO(ENOTEMPTY, benchfs_rmdir("/many"));
    if (i % 5 == 0) {
      EXPECT_OK(benchfs_rmdir(children[i].c_str()));
    } else {
      EXPECT_OK(benchfs_unlink(children[i].c_str()));
    }
  }
  EXPECT_OK(benchfs_rmdir("/many"));
}

TEST_F(FsErrors, EnametoolongAndEinvalPaths) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  // 5000 bytes in components of 100.
  std::string long_path;
  while (long_path.size() < 5000) long_path += "/" + std::string(99, 'a');
  std::string ok_path;  // 4095 bytes: allowed, just missing
  while (ok_path.size() + 100 <= 4095) ok_path += "/" + std::string(99, 'b');
  ok_path += "/" + std::string(4095 - ok_path.size() - 1, 'c');
  ASSERT_EQ(ok_path.size(), 4095u);
  struct stat st {};
  EXPECT_ERRNO(ENAMETOOLONG, benchfs_stat(long_path.c_str(), &st));
  EXPECT_ERRNO(ENAMETOOLONG, benchfs_open(long_path.c_str(), O_WRONLY | O_CREAT, 0644));
  EXPECT_ERRNO(ENAMETOOLONG, benchfs_open(long_path.c_str(), O_RDONLY, 0));
  EXPECT_ERRNO(ENAMETOOLONG, benchfs_mkdir(long_path.c_str(), 0755));
  EXPECT_ERRNO(ENAMETOOLONG, benchfs_unlink(long_path.c_str()));
  EXPECT_ERRNO(ENAMETOOLONG, benchfs_stat((long_path + std::string(70000, 'z')).c_str(), &st));
  EXPECT_ERRNO(ENOENT, benchfs_stat(ok_path.c_str(), &st));

  for (const char* bad :
       {"", "relative", "rel/ative", "/a/../b", "/..", "/a/..", "/a/./b", "/.", "//a", "/a//b"}) {
    SCOPED_TRACE(std::string("path \"") + bad + "\"");
    EXPECT_ERRNO(EINVAL, benchfs_stat(bad, &st));
    EXPECT_ERRNO(EINVAL, benchfs_open(bad, O_WRONLY | O_CREAT, 0644));
    EXPECT_ERRNO(EINVAL, benchfs_mkdir(bad, 0755));
    EXPECT_ERRNO(EINVAL, benchfs_unlink(bad));
    EXPECT_ERRNO(EINVAL, benchfs_rmdir(bad));
    EXPECT_ERRNO(EINVAL, benchfs_truncate(bad, 0));
    EXPECT_ERRNO(EINVAL, benchfs_access(bad, F_OK));
    EXPECT_ERRNO(EINVAL, benchfs_rename(bad, "/x"));
    EXPECT_ERRNO(EINVAL, benchfs_rename("/x", bad));
  }
  // statfs only needs an absolute path.
  for (const char* bad : {"", "relative", "rel/ative"}) {
    struct statvfs vfs {};
    EXPECT_ERRNO(EINVAL, benchfs_statfs(bad, &vfs));
  }
  // None of them created anything.
  int n = benchfs_readdir(
      "/", [](void*, const char*, unsigned char) { return 0; }, nullptr);
  EXPECT_EQ(n, 0) << errname(errno);
}

TEST_F(FsErrors, EinvalArguments) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  ASSERT_NO_FATAL_FAILURE(write_file("/f", 1000));
  char buf[64] = {};
  const int fd = benchfs_open("/f", O_RDWR, 0);
  ASSERT_GE(fd, 0) << errname(errno);
  // Negative offsets, and offset + len overflowing.
  EXPECT_ERRNO(EINVAL, benchfs_pwrite(fd, buf, 10, -1));
  EXPECT_ERRNO(EINVAL, benchfs_pread(fd, buf, 10, -1));
  EXPECT_ERRNO(EINVAL, benchfs_pwrite(fd, buf, 10, INT64_MIN));
  EXPECT_ERRNO(EINVAL, benchfs_pwrite(fd, buf, 64, INT64_MAX - 10));
  // lseek: bad whence, negative results.
  EXPECT_ERRNO(EINVAL, benchfs_lseek(fd, 0, 42));
  EXPECT_ERRNO(EINVAL, benchfs_lseek(fd, -1, SEEK_SET));
  EXPECT_EQ(benchfs_lseek(fd, 10, SEEK_SET), 10);
  EXPECT_ERRNO(EINVAL, benchfs_lseek(fd, -11, SEEK_CUR));
  EXPECT_EQ(benchfs_lseek(fd, -5, SEEK_CUR), 5);  // the failed seeks left the position alone
  EXPECT_ERRNO(EINVAL, benchfs_lseek(fd, -1001, SEEK_END));
  EXPECT_EQ(benchfs_lseek(fd, -1000, SEEK_END), 0);
  // Truncate to a negative length.
  EXPECT_ERRNO(EINVAL, benchfs_truncate("/f", -1));
  EXPECT_ERRNO(EINVAL, benchfs_ftruncate(fd, -1));
  EXPECT_OK(benchfs_close(fd));
  // ftruncate of a descriptor not open for writing.
  const int ro = benchfs_open("/f", O_RDONLY, 0);
  ASSERT_GE(ro, 0) << errname(errno);
  EXPECT_ERRNO(EINVAL, benchfs_ftruncate(ro, 0));
  EXPECT_OK(benchfs_close(ro));
  // Bad access mode (O_WRONLY | O_RDWR) and bad access() mode.
  EXPECT_ERRNO(EINVAL, benchfs_open("/f", O_ACCMODE, 0));
  EXPECT_ERRNO(EINVAL, benchfs_open("/new", O_ACCMODE | O_CREAT, 0644));
  EXPECT_ERRNO(EINVAL, benchfs_access("/f", 0x100));
  EXPECT_OK(benchfs_access("/f", R_OK | W_OK));
  struct stat st {};
  EXPECT_ERRNO(ENOENT, benchfs_stat("/new", &st));
  // None of this changed the file.
  ASSERT_OK(benchfs_stat("/f", &st));
  EXPECT_EQ(st.st_size, 1000);
}

TEST_F(FsErrors, Ebadf) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  ASSERT_NO_FATAL_FAILURE(write_file("/f", 100));
  char buf[16] = {};
  struct stat st {};
  for (const int bad : {-1, 12345, INT_MAX}) {
    SCOPED_TRACE("fd " + std::to_string(bad));
    EXPECT_ERRNO(EBADF, benchfs_pread(bad, buf, 1, 0));
    EXPECT_ERRNO(EBADF, benchfs_pwrite(bad, buf, 1, 0));
    EXPECT_ERRNO(EBADF, benchfs_read(bad, buf, 1));
    EXPECT_ERRNO(EBADF, benchfs_write(bad, buf, 1));
    EXPECT_ERRNO(EBADF, benchfs_lseek(bad, 0, SEEK_SET));
    EXPECT_ERRNO(EBADF, benchfs_fsync(bad));
    EXPECT_ERRNO(EBADF, benchfs_fstat(bad, &st));
    EXPECT_ERRNO(EBADF, benchfs_ftruncate(bad, 0));
    EXPECT_ERRNO(EBADF, benchfs_close(bad));
  }
  // A closed descriptor.
  const int fd = benchfs_open("/f", O_RDWR, 0);
  ASSERT_GE(fd, 0) << errname(errno);
  ASSERT_OK(benchfs_close(fd));
  EXPECT_ERRNO(EBADF, benchfs_pread(fd, buf, 1, 0));
  EXPECT_ERRNO(EBADF, benchfs_pwrite(fd, buf, 1, 0));
  EXPECT_ERRNO(EBADF, benchfs_fstat(fd, &st));
  EXPECT_ERRNO(EBADF, benchfs_close(fd));
  // Wrong direction.
  const int ro = benchfs_open("/f", O_RDONLY, 0);
  ASSERT_GE(ro, 0) << errname(errno);
  EXPECT_ERRNO(EBADF, benchfs_pwrite(ro, "x", 1, 0));
  EXPECT_ERRNO(EBADF, benchfs_write(ro, "x", 1));
  EXPECT_EQ(benchfs_pread(ro, buf, 16, 0), 16);
  const int wo = benchfs_open("/f", O_WRONLY, 0);
  ASSERT_GE(wo, 0) << errname(errno);
  EXPECT_ERRNO(EBADF, benchfs_pread(wo, buf, 1, 0));
  EXPECT_ERRNO(EBADF, benchfs_read(wo, buf, 1));
  EXPECT_EQ(benchfs_pwrite(wo, "xyz", 3, 0), 3);
  EXPECT_OK(benchfs_close(wo));
  EXPECT_EQ(benchfs_pread(ro, buf, 3, 0), 3);
  EXPECT_EQ(std::memcmp(buf, "xyz", 3), 0);
  EXPECT_OK(benchfs_close(ro));
}

TEST_F(FsErrors, ExdevAndEbusy) {
  ASSERT_NO_FATAL_FAILURE(start(2));
  ASSERT_OK(benchfs_mkdir("/d", 0755));
  ASSERT_OK(benchfs_mkdir("/e", 0755));
  EXPECT_ERRNO(EXDEV, benchfs_rename("/d", "/d2"));
  EXPECT_ERRNO(EXDEV, benchfs_rename("/d", "/e/d"));
  EXPECT_ERRNO(EBUSY, benchfs_rmdir("/"));
  struct stat st {};
  EXPECT_OK(benchfs_stat("/d", &st));
  EXPECT_ERRNO(ENOENT, benchfs_stat("/d2", &st));
  EXPECT_OK(benchfs_stat("/", &st));
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST_F(FsErrors, EnospcUnderAMemoryLimitThenRecovers) {
  constexpr uint64_t kLimit = 4ull << 20;  // per server
  ASSERT_NO_FATAL_FAILURE(start(2, {"--memory-limit", "4m"}));
  struct statvfs vfs {};
  ASSERT_OK(benchfs_statfs("/", &vfs));
  EXPECT_EQ(vfs.f_frsize, 4096u);
  EXPECT_EQ(vfs.f_blocks * vfs.f_frsize, 2 * kLimit) << "capacity: the sum of the servers' limits";
  EXPECT_EQ(vfs.f_bfree, vfs.f_blocks) << "nothing stored yet";

  // Fill in 256 KiB writes until ENOSPC: both servers hold alternate chunks,
  // so it comes somewhere below 8 MiB, and not before one server's limit.
  constexpr size_t kXfer = 256 * 1024;
  const int fd = benchfs_open("/big", O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0) << errname(errno);
  uint64_t written = 0;
  int err = 0;
  for (int i = 0; i < 64; ++i) {
    const auto data = pattern(7, written, kXfer);
    errno = 0;
    const ssize_t n = benchfs_pwrite(fd, data.data(), kXfer, static_cast<off_t>(written));
    if (n < 0) {
      err = errno;
      break;
    }
    ASSERT_EQ(n, static_cast<ssize_t>(kXfer)) << "no partial counts";
    written += kXfer;
  }
  ASSERT_EQ(err, ENOSPC) << "after " << written << " bytes: " << errname(err) << " (" << benchfs_last_error()
                         << ")";
  EXPECT_GE(written, kLimit - kXfer);
  EXPECT_LE(written, 2 * kLimit);
  ASSERT_OK(benchfs_statfs("/", &vfs));
  EXPECT_LE(vfs.f_bfree * vfs.f_frsize, 2 * kLimit - written);

  // Still full: a new file cannot take 1 MiB either.
  {
    const auto more = pattern(8, 0, 1 << 20);
    const int fd2 = benchfs_open("/more", O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd2, 0) << errname(errno);
    EXPECT_ERRNO(ENOSPC, benchfs_pwrite(fd2, more.data(), more.size(), 0));
    EXPECT_OK(benchfs_close(fd2));
    EXPECT_OK(benchfs_unlink("/more"));
  }
  // What was written reads back intact, from this descriptor and after close.
  EXPECT_OK(benchfs_close(fd));
  struct stat st {};
  ASSERT_OK(benchfs_stat("/big", &st));
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), written);
  {
    const int rd = benchfs_open("/big", O_RDONLY, 0);
    ASSERT_GE(rd, 0) << errname(errno);
    std::vector<uint8_t> buf(kXfer);
    for (uint64_t off = 0; off < written; off += kXfer) {
      ASSERT_EQ(benchfs_pread(rd, buf.data(), kXfer, static_cast<off_t>(off)), static_cast<ssize_t>(kXfer))
          << "at " << off << ": " << errname(errno);
      const long long bad = first_mismatch(buf.data(), kXfer, 7, off);
      ASSERT_EQ(bad, -1) << "data differs at offset " << off + static_cast<uint64_t>(bad);
    }
    EXPECT_OK(benchfs_close(rd));
  }
  // Truncating frees space: 2 MiB fits again.
  ASSERT_OK(benchfs_truncate("/big", 1 << 20));
  ASSERT_NO_FATAL_FAILURE(write_file("/after-truncate", 2 << 20, 9));
  // Unlinking frees the rest: a full 6 MiB fits.
  ASSERT_OK(benchfs_unlink("/big"));
  ASSERT_OK(benchfs_unlink("/after-truncate"));
  ASSERT_OK(benchfs_statfs("/", &vfs));
  EXPECT_EQ(vfs.f_bfree, vfs.f_blocks) << "everything was freed";
  ASSERT_NO_FATAL_FAILURE(write_file("/again", 6 << 20, 10));
  {
    const int rd = benchfs_open("/again", O_RDONLY, 0);
    ASSERT_GE(rd, 0) << errname(errno);
    std::vector<uint8_t> buf(6 << 20);
    ASSERT_EQ(benchfs_pread(rd, buf.data(), buf.size(), 0), static_cast<ssize_t>(buf.size()));
    EXPECT_EQ(first_mismatch(buf.data(), buf.size(), 10, 0), -1);
    EXPECT_OK(benchfs_close(rd));
  }
  EXPECT_OK(benchfs_unlink("/again"));
}

TEST_F(FsErrors, KilledServerGivesAnErrorWithinTheTimeoutAndTheOtherKeepsServing) {
  constexpr int kTimeoutMs = 2000;
  constexpr double kBound = kTimeoutMs / 1000.0 + 2.0;
  // Without recovery enabled, mpirun would take the surviving rank down too.
  ASSERT_NO_FATAL_FAILURE(start(2, {}, kTimeoutMs, {{"OMPI_MCA_orte_enable_recovery", "1"}}));
  // Two files per server (by path hash), each with data in chunk 0 (held by
  // the file's own server) and chunk 1 (held by the other).
  constexpr size_t kSize = kChunk + 1000;
  std::string files[2][2];
  for (uint32_t owner = 0; owner < 2; ++owner) {
    for (int k = 0; k < 2; ++k) {
      files[owner][k] = benchfs::test::path_on("/k", owner, 2, k);
      ASSERT_NO_FATAL_FAILURE(write_file(files[owner][k], kSize, owner * 2 + k));
    }
  }
  const auto pids = job_->server_pids();
  ASSERT_EQ(pids.size(), 2u);
  const int dead = benchfs::test::mpi_rank_of(pids[0]);
  ASSERT_TRUE(dead == 0 || dead == 1) << "rank of pid " << pids[0] << " unknown";
  const int alive = 1 - dead;
  ASSERT_EQ(::kill(pids[0], SIGKILL), 0);
  for (int i = 0; i < 2000; ++i) {
    const char s = benchfs::test::process_state(pids[0]);
    if (s == 'Z' || s == 'X') break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::set<int> down = {ETIMEDOUT, EIO, ENOTCONN, ECONNRESET, ECONNREFUSED};
  auto expect_down = [&](const char* what, auto&& call) {
    const uint64_t t0 = now_ns();
    errno = 0;
    const auto rc = call();
    const int e = errno;
    const double took = seconds_since(t0);
    EXPECT_EQ(rc, -1) << what << " on the killed server succeeded";
    EXPECT_TRUE(down.count(e) == 1) << what << ": expected " << errnames(down) << ", got " << errname(e)
                                    << " (" << benchfs_last_error() << ")";
    EXPECT_LT(took, kBound) << what << " took " << took << " s";
  };
  struct stat st {};
  // The killed server's files.
  for (const auto& p : files[dead]) {
    expect_down(("stat " + p).c_str(), [&] { return benchfs_stat(p.c_str(), &st); });
  }
  expect_down("open", [&] { return benchfs_open(files[dead][0].c_str(), O_RDONLY, 0); });
  // Directories live on every server: mkdir cannot complete.
  expect_down("mkdir", [&] { return benchfs_mkdir("/after-kill", 0755); });

  // The survivor's files: metadata and chunk 0 are there; chunk 1 was on
  // the killed server and must give an error, not zeros.
  for (int k = 0; k < 2; ++k) {
    const std::string& p = files[alive][k];
    SCOPED_TRACE(p + " on the surviving server " + std::to_string(alive));
    const uint64_t t0 = now_ns();
    ASSERT_OK(benchfs_stat(p.c_str(), &st));
    EXPECT_EQ(st.st_size, static_cast<off_t>(kSize));
    const int fd = benchfs_open(p.c_str(), O_RDWR, 0);
    ASSERT_GE(fd, 0) << errname(errno) << " (" << benchfs_last_error() << ")";
    std::vector<uint8_t> buf(kChunk);
    EXPECT_EQ(benchfs_pread(fd, buf.data(), 5000, 100), 5000) << errname(errno);
    EXPECT_EQ(first_mismatch(buf.data(), 5000, alive * 2 + k, 100), -1);
    const auto fresh = pattern(77, 0, 3000);
    EXPECT_EQ(benchfs_pwrite(fd, fresh.data(), fresh.size(), 200), 3000) << errname(errno);
    EXPECT_EQ(benchfs_pread(fd, buf.data(), 3000, 200), 3000) << errname(errno);
    EXPECT_EQ(std::memcmp(buf.data(), fresh.data(), 3000), 0);
    EXPECT_LT(seconds_since(t0), kTimeoutMs / 1000.0)
        << "calls to the surviving server waited for the killed one";
    expect_down("pread of chunk 1", [&] { return benchfs_pread(fd, buf.data(), 500, kChunk + 10); });
    EXPECT_OK(benchfs_close(fd));
  }
  // New files: a create that succeeds lives on the survivor, and serves
  // writes and reads within its first chunk. (Not unlinked: unlink frees
  // data on every server, so it needs the killed one too.)
  int created = 0;
  for (int i = 0; i < 64 && created < 3; ++i) {
    const std::string p = "/new" + std::to_string(i);
    if (benchfs::placement::metadata_owner(p, 2) != static_cast<uint32_t>(alive)) continue;
    const int fd = benchfs_open(p.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644);
    ASSERT_GE(fd, 0) << p << ": " << errname(errno) << " (" << benchfs_last_error() << ")";
    const auto data = pattern(100 + i, 0, 20000);
    EXPECT_EQ(benchfs_pwrite(fd, data.data(), data.size(), 0), 20000) << errname(errno);
    EXPECT_OK(benchfs_close(fd));
    ASSERT_OK(benchfs_stat(p.c_str(), &st));
    EXPECT_EQ(st.st_size, 20000);
    const int rd = benchfs_open(p.c_str(), O_RDONLY, 0);
    ASSERT_GE(rd, 0) << errname(errno);
    std::vector<uint8_t> back(20000);
    EXPECT_EQ(benchfs_pread(rd, back.data(), back.size(), 0), 20000) << errname(errno);
    EXPECT_EQ(back, data);
    EXPECT_OK(benchfs_close(rd));
    ++created;
  }
  EXPECT_EQ(created, 3);
  // And the killed server's paths still fail fast, not hang.
  expect_down("stat again", [&] { return benchfs_stat(files[dead][1].c_str(), &st); });
  benchfs_finalize();
  initialized_ = false;
  job_->kill_all();
}
