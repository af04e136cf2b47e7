// benchfs-fuse against real servers: a real FUSE mount used by the real
// tools (cp, diff, md5sum, tar, find, ls, mv, rm, dd), cross-checked through
// libbenchfs, with a server killed under the mount. Skipped, with the reason,
// where /dev/fuse or fusermount3 is missing.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "benchfs/benchfs.h"
#include "fs_fixture.hpp"
#include "harness.hpp"

using benchfs::test::JobOptions;

namespace {

using Clock = std::chrono::steady_clock;

std::string why() { return std::string(std::strerror(errno)) + ": " + benchfs_last_error(); }

bool mounted(const std::string& mp) {
  std::ifstream in("/proc/self/mounts");
  std::string dev, dir, type;
  std::string rest;
  while (in >> dev >> dir >> type && std::getline(in, rest)) {
    if (dir == mp && type == "fuse.benchfs") return true;
  }
  return false;
}

// Runs a shell command line (bash -c) with a timeout; exit status, -1 on timeout.
int sh(const std::string& cmd, std::string* out = nullptr, int timeout_ms = 60000) {
  std::string o;
  const int rc = benchfs::test::run_command({"bash", "-c", cmd}, timeout_ms, &o);
  if (out != nullptr) *out = o;
  if (rc != 0) std::printf("[sh] `%s` -> %d\n%s\n", cmd.c_str(), rc, o.c_str());
  return rc;
}

using benchfs::test::shell_quote;

class Fuse : public benchfs::test::FsJobTest {
 protected:
  Fuse() : FsJobTest("benchfs-fuse") {}

  void SetUp() override {
    if (access("/dev/fuse", R_OK | W_OK) != 0)
      GTEST_SKIP() << "/dev/fuse is not usable here (" << std::strerror(errno) << "): no FUSE tests";
    if (sh("command -v fusermount3 >/dev/null") != 0)
      GTEST_SKIP() << "fusermount3 is not installed (Debian fuse3)";
    mnt_ = dir_.sub("mnt");
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
  }

  void TearDown() override {
    if (fuse_pid_ > 0) {
      kill(fuse_pid_, SIGTERM);
      if (wait_fuse(10000) < 0) {
        kill(fuse_pid_, SIGKILL);
        (void)wait_fuse(5000);
      }
    }
    if (!mnt_.empty() && mounted(mnt_))
      sh("umount -l " + shell_quote(mnt_) + " || fusermount3 -uz " + shell_quote(mnt_));
    if (HasFailure()) std::printf("---- benchfs-fuse log ----\n%s\n", read_log().c_str());
    FsJobTest::TearDown();
  }

  // Servers (2 ranks), the C API for cross-checks, and the mount.
  void start(std::vector<std::string> fuse_args = {}) {
    JobOptions opts;
    opts.ranks = 2;
    opts.threads = 1;
    opts.extra_args = {"--memory-limit", "512m"};
    opts.hard_timeout_s = 170;
    ASSERT_NO_FATAL_FAILURE(start_job(opts, 5000));
    ASSERT_NO_FATAL_FAILURE(mount(std::move(fuse_args)));  // may GTEST_SKIP: callers check IsSkipped()
  }

  void mount(std::vector<std::string> extra) {
    std::vector<std::string> argv{BENCHFS_FUSE,  mnt_,    "--registry",       registry_, "-f",
                                  "--log-level", "debug", "--rpc-timeout-ms", "3000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const int fd = open(dir_.sub("fuse.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ASSERT_GE(fd, 0);
    fuse_pid_ = benchfs::test::spawn(argv, fd, {});
    close(fd);
    const auto until = Clock::now() + std::chrono::seconds(20);
    while (!mounted(mnt_)) {
      int st = 0;
      if (waitpid(fuse_pid_, &st, WNOHANG) == fuse_pid_) {
        fuse_pid_ = -1;
        const std::string log = read_log();
        // The kernel refused the mount itself (no permission here): not ours.
        if (log.find("cannot mount on") != std::string::npos)
          GTEST_SKIP() << "this machine refuses FUSE mounts:\n" << log;
        FAIL() << "benchfs-fuse exited before mounting:\n" << log;
      }
      ASSERT_LT(Clock::now(), until) << "no mount after 20 s:\n" << read_log();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Exit code of benchfs-fuse, -1 if still running after timeout_ms.
  int wait_fuse(int timeout_ms) {
    const auto until = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      int st = 0;
      const pid_t r = waitpid(fuse_pid_, &st, WNOHANG);
      if (r == fuse_pid_) {
        fuse_pid_ = -1;
        return benchfs::test::exit_code(st);
      }
      if (r < 0 || Clock::now() >= until) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::string read_log() const { return benchfs::test::read_file(dir_.sub("fuse.log")); }

  std::string in_mnt(const std::string& rel) const { return mnt_ + "/" + rel; }

  std::string mnt_;
  pid_t fuse_pid_ = -1;
};

// The project's own sources through cp, diff, md5sum, tar, find, ls, mv, rm
// and dd; every answer compared with the same tool on the local copy.
TEST_F(Fuse, RealToolsOnARealTree) {
  ASSERT_NO_FATAL_FAILURE(start());
  if (IsSkipped()) return;
  const std::string src = BENCHFS_SOURCE_DIR;
  const std::string m = shell_quote(mnt_);
  const std::string local = shell_quote(dir_.sub("local"));
  ASSERT_EQ(sh("mkdir " + local + " && cp -r " + src + "/core " + src + "/net " + src + "/capi " + src +
               "/storage " + local + "/"),
            0);
  ASSERT_EQ(sh("cp -r " + local + " " + m + "/tree"), 0);
  ASSERT_EQ(sh("diff -r " + local + " " + m + "/tree"), 0);
  std::string a, b;
  ASSERT_EQ(sh("cd " + local + " && find . -type f | sort | xargs md5sum", &a), 0);
  ASSERT_EQ(sh("cd " + m + "/tree && find . -type f | sort | xargs md5sum", &b), 0);
  EXPECT_EQ(a, b);
  EXPECT_GT(a.size(), 1000u);
  // tar out of the mount, and back into it.
  ASSERT_EQ(sh("tar -C " + m + " -cf " + shell_quote(dir_.sub("t.tar")) + " tree"), 0);
  ASSERT_EQ(sh("mkdir " + m + "/x && tar -C " + m + "/x -xf " + shell_quote(dir_.sub("t.tar"))), 0);
  ASSERT_EQ(sh("diff -r " + local + " " + m + "/x/tree"), 0);
  // find -name / -size / -newer, against find on the local copy.
  // (Directories report size 0, not a local file system's 4096: -size with -type f.)
  for (const std::string test :
       {"-name '*.hpp'", "-type d", "-type f -size -2k", "-type f -size +8k", "-name 'CMake*'"}) {
    SCOPED_TRACE(test);
    ASSERT_EQ(sh("cd " + local + " && find . " + test + " | sort", &a), 0);
    ASSERT_EQ(sh("cd " + m + "/tree && find . " + test + " | sort", &b), 0);
    EXPECT_EQ(a, b);
    EXPECT_FALSE(a.empty());
  }
  // benchfs_find over libbenchfs sees the tree the mount made.
  for (const std::string test : {"-name '*.hpp'", "-type f -size -2k", "-name 'CMake*'"}) {
    SCOPED_TRACE(test);
    ASSERT_EQ(sh("cd " + local + " && find . " + test + " | wc -l", &a), 0);
    ASSERT_EQ(sh("cd " + local + " && find . | wc -l", &b), 0);
    std::string got;
    ASSERT_EQ(
        sh(std::string(BENCHFS_FIND) + " --serial -q --registry " + shell_quote(registry_) + " /tree " + test,
           &got),
        0);
    EXPECT_EQ(got, "MATCHED " + std::to_string(std::stol(a)) + "/" + std::to_string(std::stol(b)) + "\n");
  }
  const std::string stamp = shell_quote(dir_.sub("stamp"));
  ASSERT_EQ(sh("sleep 0.05 && touch " + stamp + " && sleep 0.05 && echo new > " + m +
               "/tree/core/new1 && echo new > " + m + "/tree/net/new2"),
            0);
  ASSERT_EQ(sh("cd " + m + "/tree && find . -type f -newer " + stamp + " | sort", &b), 0);
  EXPECT_EQ(b, "./core/new1\n./net/new2\n");
  // ls -l: one line per entry plus "total", exact sizes.
  ASSERT_EQ(sh("ls -l " + m + "/tree/core/src | wc -l", &a), 0);
  ASSERT_EQ(sh("ls -l " + local + "/core/src | wc -l", &b), 0);
  EXPECT_EQ(a, b);
  ASSERT_EQ(sh("cd " + m + "/tree/core/src && stat -c '%s %n' * | sort", &a), 0);
  ASSERT_EQ(sh("cd " + local + "/core/src && stat -c '%s %n' * | sort", &b), 0);
  EXPECT_EQ(a, b);
  // mv of a file (rename) and of a directory (mv copies it: BenchFS renames
  // no directories).
  ASSERT_EQ(sh("mv " + m + "/tree/core/new1 " + m + "/tree/net/moved && test ! -e " + m + "/tree/core/new1"),
            0);
  ASSERT_EQ(sh("cat " + m + "/tree/net/moved", &a), 0);
  EXPECT_EQ(a, "new\n");
  ASSERT_EQ(sh("mv " + m + "/x/tree " + m + "/moved_tree && diff -r " + local + " " + m + "/moved_tree"), 0);
  // dd at several block sizes, read back with other sizes.
  for (const std::string bs : {"4k", "64k", "1M", "4M"}) {
    SCOPED_TRACE(bs);
    const std::string f = shell_quote(dir_.sub("dd." + bs));
    ASSERT_EQ(sh("dd if=/dev/urandom of=" + f + " bs=" + bs + " count=5 status=none"), 0);
    ASSERT_EQ(sh("dd if=" + f + " of=" + m + "/dd." + bs + " bs=" + bs + " status=none"), 0);
    ASSERT_EQ(sh("dd if=" + m + "/dd." + bs + " bs=3000 status=none | cmp - " + f), 0);
    ASSERT_EQ(sh("cmp " + m + "/dd." + bs + " " + f), 0);
  }
  // rm -r leaves nothing, here and on the servers.
  ASSERT_EQ(sh("rm -r " + m + "/tree " + m + "/x " + m + "/moved_tree " + m + "/dd.*"), 0);
  ASSERT_EQ(sh("ls -A " + m, &a), 0);
  EXPECT_EQ(a, "");
  // The kernel sends the last releases after close(2) returned.
  const auto until = Clock::now() + std::chrono::seconds(5);
  while (used_bytes() != 0 && Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(used_bytes(), 0u);
}

// What one side writes the other reads; stat agrees on sizes and on the
// servers' wall-clock times.
TEST_F(Fuse, MountAndLibraryAgree) {
  ASSERT_NO_FATAL_FAILURE(start());
  if (IsSkipped()) return;
  std::vector<char> data(3 * 1024 * 1024 + 17);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + 7);
  {
    const int fd = open(in_mnt("via_mount").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0640);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ASSERT_EQ(close(fd), 0);
  }
  {
    // That first open set the mount's read-ahead (--read-ahead, default 4m).
    struct stat mp {};
    ASSERT_EQ(stat(mnt_.c_str(), &mp), 0) << std::strerror(errno);
    std::ifstream ra("/sys/class/bdi/" + std::to_string(major(mp.st_dev)) + ":" +
                     std::to_string(minor(mp.st_dev)) + "/read_ahead_kb");
    int kb = 0;
    ASSERT_TRUE(ra >> kb) << "no read_ahead_kb for the mount's device";
    EXPECT_EQ(kb, 4096);
  }
  struct stat lib {};
  ASSERT_EQ(benchfs_stat("/via_mount", &lib), 0) << why();
  EXPECT_EQ(lib.st_size, static_cast<off_t>(data.size()));
  EXPECT_EQ(lib.st_mode, static_cast<mode_t>(S_IFREG | 0640));
  std::vector<char> back(data.size());
  int bfd = benchfs_open("/via_mount", O_RDONLY, 0);
  ASSERT_GE(bfd, 0) << why();
  ASSERT_EQ(benchfs_pread(bfd, back.data(), back.size(), 0), static_cast<ssize_t>(back.size())) << why();
  ASSERT_EQ(benchfs_close(bfd), 0);
  EXPECT_EQ(back, data);
  struct stat mnt {};
  ASSERT_EQ(stat(in_mnt("via_mount").c_str(), &mnt), 0);
  EXPECT_EQ(mnt.st_size, lib.st_size);
  EXPECT_EQ(mnt.st_mtim.tv_sec, lib.st_mtim.tv_sec);
  EXPECT_EQ(mnt.st_mtim.tv_nsec, lib.st_mtim.tv_nsec) << "the mount shows the servers' times";
  EXPECT_EQ(mnt.st_ctim.tv_nsec, lib.st_ctim.tv_nsec);
  const time_t now = time(nullptr);
  EXPECT_LE(std::abs(static_cast<long>(mnt.st_mtim.tv_sec - now)), 5L) << "wall-clock times";

  bfd = benchfs_open("/via_lib", O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(bfd, 0) << why();
  ASSERT_EQ(benchfs_pwrite(bfd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size())) << why();
  ASSERT_EQ(benchfs_close(bfd), 0) << why();
  std::ifstream in(in_mnt("via_lib"), std::ios::binary);
  std::vector<char> got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, data);
  // chmod and utimensat through the mount reach the servers.
  ASSERT_EQ(chmod(in_mnt("via_lib").c_str(), 0604), 0) << std::strerror(errno);
  const struct timespec times[2] = {{1'234'567'890, 5}, {1'234'567'891, 6}};
  ASSERT_EQ(utimensat(AT_FDCWD, in_mnt("via_lib").c_str(), times, 0), 0) << std::strerror(errno);
  ASSERT_EQ(benchfs_stat("/via_lib", &lib), 0) << why();
  EXPECT_EQ(lib.st_mode, static_cast<mode_t>(S_IFREG | 0604));
  EXPECT_EQ(lib.st_mtim.tv_sec, 1'234'567'891);
  EXPECT_EQ(lib.st_mtim.tv_nsec, 6);
  EXPECT_EQ(lib.st_atim.tv_sec, 1'234'567'890);
  ASSERT_EQ(benchfs_unlink("/via_lib"), 0);
  ASSERT_EQ(unlink(in_mnt("via_mount").c_str()), 0);
}

// Two processes write disjoint ranges of one file through the mount at once.
TEST_F(Fuse, TwoProcessesWriteDisjointRanges) {
  ASSERT_NO_FATAL_FAILURE(start());
  if (IsSkipped()) return;
  constexpr size_t kHalf = 5 * 1024 * 1024 + 4321;
  const std::string path = in_mnt("shared");
  ASSERT_EQ(sh("touch " + shell_quote(path)), 0);
  pid_t kids[2];
  for (int k = 0; k < 2; ++k) {
    kids[k] = fork();
    ASSERT_GE(kids[k], 0);
    if (kids[k] == 0) {
      const int fd = open(path.c_str(), O_WRONLY);
      if (fd < 0) _exit(10);
      std::vector<char> buf(65536);
      for (size_t off = 0; off < kHalf; off += buf.size()) {
        const size_t n = std::min(buf.size(), kHalf - off);
        for (size_t i = 0; i < n; ++i) buf[i] = static_cast<char>('a' + k + ((off + i) % 7) * 2);
        if (pwrite(fd, buf.data(), n, static_cast<off_t>(k * kHalf + off)) != static_cast<ssize_t>(n))
          _exit(11);
      }
      _exit(close(fd) == 0 ? 0 : 12);
    }
  }
  for (pid_t kid : kids) {
    int st = 0;
    ASSERT_EQ(waitpid(kid, &st, 0), kid);
    EXPECT_EQ(benchfs::test::exit_code(st), 0);
  }
  struct stat st {};
  ASSERT_EQ(benchfs_stat("/shared", &st), 0) << why();
  ASSERT_EQ(st.st_size, static_cast<off_t>(2 * kHalf)) << "the larger of the two published sizes";
  std::vector<char> all(2 * kHalf);
  const int fd = benchfs_open("/shared", O_RDONLY, 0);
  ASSERT_GE(fd, 0) << why();
  ASSERT_EQ(benchfs_pread(fd, all.data(), all.size(), 0), static_cast<ssize_t>(all.size())) << why();
  ASSERT_EQ(benchfs_close(fd), 0);
  for (size_t i = 0; i < all.size(); ++i) {
    const int k = i < kHalf ? 0 : 1;
    const size_t off = i - k * kHalf;
    ASSERT_EQ(all[i], static_cast<char>('a' + k + (off % 7) * 2)) << "byte " << i;
  }
  ASSERT_EQ(unlink(path.c_str()), 0);
}

// What BenchFS has not got is refused with the documented errors; bad input
// changes nothing.
TEST_F(Fuse, UnsupportedOperationsFailCleanly) {
  ASSERT_NO_FATAL_FAILURE(start());
  if (IsSkipped()) return;
  const std::string f = in_mnt("f");
  ASSERT_EQ(sh("echo data > " + shell_quote(f)), 0);
  errno = 0;
  EXPECT_EQ(symlink("f", in_mnt("sym").c_str()), -1);
  EXPECT_EQ(errno, ENOTSUP);
  EXPECT_EQ(link(f.c_str(), in_mnt("hard").c_str()), -1);
  EXPECT_EQ(errno, ENOTSUP);
  EXPECT_EQ(mkfifo(in_mnt("fifo").c_str(), 0644), -1);
  EXPECT_EQ(errno, ENOTSUP);
  EXPECT_EQ(chown(f.c_str(), 4242, 4242), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(chown(f.c_str(), getuid(), getgid()), 0) << "the owner it already has";
  EXPECT_EQ(setxattr(f.c_str(), "user.x", "1", 1, 0), -1);
  EXPECT_EQ(errno, ENOTSUP);
  EXPECT_EQ(getxattr(f.c_str(), "user.x", nullptr, 0), -1);
  EXPECT_EQ(errno, ENOTSUP);
  EXPECT_EQ(rmdir(f.c_str()), -1);
  EXPECT_EQ(errno, ENOTDIR);
  EXPECT_EQ(mkdir(f.c_str(), 0755), -1);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(open(in_mnt("missing/x").c_str(), O_WRONLY | O_CREAT, 0644), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(open(f.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644), -1);
  EXPECT_EQ(errno, EEXIST);
  ASSERT_EQ(mkdir(in_mnt("d").c_str(), 0755), 0);
  ASSERT_EQ(sh("echo x > " + shell_quote(in_mnt("d/y"))), 0);
  EXPECT_EQ(rmdir(in_mnt("d").c_str()), -1);
  EXPECT_EQ(errno, ENOTEMPTY);
  std::string out;
  ASSERT_EQ(sh("cat " + shell_quote(f), &out), 0);
  EXPECT_EQ(out, "data\n") << "nothing changed";
  struct statvfs v {};
  ASSERT_EQ(statvfs(mnt_.c_str(), &v), 0);
  EXPECT_EQ(v.f_blocks * v.f_frsize, 1024ull << 20) << "2 servers x 512 MiB";
}

// Servers that stop answering or die under the mount: operations that need
// them fail within the RPC timeout (EIO, or ENOTCONN once the connection is
// refused), the others go on, nothing hangs, and SIGTERM unmounts.
TEST_F(Fuse, ServersGoneUnderTheMount) {
  constexpr int kFiles = 8;
  ASSERT_NO_FATAL_FAILURE(start({"--attr-timeout", "0", "--entry-timeout", "0", "--rpc-timeout-ms", "1500"}));
  if (IsSkipped()) return;
  ASSERT_EQ(mkdir(in_mnt("d").c_str(), 0755), 0);
  for (int i = 0; i < kFiles; ++i)
    ASSERT_EQ(sh("echo " + std::to_string(i) + " > " + in_mnt("d/f" + std::to_string(i))), 0);
  ASSERT_EQ(benchfs_finalize(), 0);  // this test's own client would wait on the servers too
  initialized_ = false;
  auto cat_all = [&](int* worked, int* failed) {
    for (int i = 0; i < kFiles; ++i) {
      const auto t0 = Clock::now();
      std::string out;
      const int rc = sh("cat " + in_mnt("d/f" + std::to_string(i)) + " 2>&1", &out, 20000);
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      ASSERT_NE(rc, -1) << "cat hung";
      EXPECT_LT(s, 1.5 + 5.0) << "within the RPC timeout (1.5 s) and some slack";
      if (rc == 0) {
        EXPECT_EQ(out, std::to_string(i) + "\n");
        ++*worked;
      } else {
        EXPECT_TRUE(out.find("Transport endpoint is not connected") != std::string::npos ||
                    out.find("Input/output error") != std::string::npos)
            << out;
        ++*failed;
      }
    }
  };
  // Rank 1 stops answering (SIGSTOP; a SIGKILL would make mpirun end the
  // whole job): its files fail, rank 0's still work.
  const pid_t stopped = job_->server_pid(1);
  ASSERT_GT(stopped, 0);
  ASSERT_EQ(kill(stopped, SIGSTOP), 0);
  int worked = 0, failed = 0;
  cat_all(&worked, &failed);
  EXPECT_GT(failed, 0) << "files of the stopped server";
  EXPECT_GT(worked, 0) << "files of the live one";
  std::string out;
  EXPECT_NE(sh("ls " + in_mnt("d") + " 2>&1", &out, 20000), 0) << "a listing needs every server";
  // The server answers again: the mount recovers by itself, every file
  // reads. (Waiting for that also lets the connection attempts queued to the
  // stopped server finish: killed while they were pending, it met UCX 1.13's
  // abort in docs/RECOVERY.md, "Known issue".)
  ASSERT_EQ(kill(stopped, SIGCONT), 0);
  const auto resumed = Clock::now();
  for (;;) {
    worked = failed = 0;
    cat_all(&worked, &failed);
    if (worked == kFiles || Clock::now() - resumed > std::chrono::seconds(30)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // no fork storm while it reconnects
  }
  EXPECT_EQ(worked, kFiles) << "every file reads again within 30 s of the server resuming";
  // Now every server is gone: everything fails, nothing hangs.
  job_->kill_all();
  worked = failed = 0;
  cat_all(&worked, &failed);
  EXPECT_EQ(worked, 0);
  kill(fuse_pid_, SIGTERM);
  EXPECT_EQ(wait_fuse(15000), 0) << "benchfs-fuse stops cleanly on SIGTERM";
  EXPECT_FALSE(mounted(mnt_));
}

// SIGINT unmounts; a second mount of the same point then works again.
TEST_F(Fuse, SigintUnmountsCleanly) {
  ASSERT_NO_FATAL_FAILURE(start());
  if (IsSkipped()) return;
  ASSERT_EQ(sh("echo keep > " + in_mnt("kept")), 0);
  kill(fuse_pid_, SIGINT);
  EXPECT_EQ(wait_fuse(15000), 0);
  EXPECT_FALSE(mounted(mnt_));
  EXPECT_NE(access((mnt_ + "/kept").c_str(), F_OK), 0) << "the mount point is empty again";
  ASSERT_NO_FATAL_FAILURE(mount({}));
  if (IsSkipped()) return;
  std::string out;
  ASSERT_EQ(sh("cat " + in_mnt("kept"), &out), 0);
  EXPECT_EQ(out, "keep\n") << "data lives in the servers, not in the mount";
}

// Bad command lines: a clear message, exit 2, nothing mounted.
TEST(FuseOptions, BadCommandLinesAreRefused) {
  std::string out;
  struct Case {
    std::vector<std::string> args;
    const char* says;
  };
  benchfs::test::TempDir dir("benchfs-fuse-args");
  const std::vector<Case> cases = {
      {{}, "no mount point"},
      {{dir.path()}, "no registry"},
      {{dir.path(), "--registry"}, "--registry needs"},
      {{dir.path(), "--registry", dir.path(), "--max-write", "3m"}, "--max-write"},
      {{dir.path(), "--registry", dir.path(), "--read-ahead", "65m"}, "--read-ahead"},
      {{dir.path(), "--registry", dir.path(), "--read-ahead", "-1"}, "--read-ahead"},
      {{dir.path(), "--registry", dir.path(), "--rpc-timeout-ms", "0"}, "--rpc-timeout-ms"},
      {{dir.path(), "--registry", dir.path(), "--bogus"}, "unknown option --bogus"},
      {{dir.path() + "/none", "--registry", dir.path()}, "not a directory"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv{BENCHFS_FUSE};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const int rc = benchfs::test::run_command(argv, 10000, &out, {{"BENCHFS_REGISTRY", ""}});
    EXPECT_EQ(rc, 2) << out;
    EXPECT_NE(out.find(c.says), std::string::npos) << out;
  }
  // A registry no server announced in: an error before anything is mounted.
  const int rc = benchfs::test::run_command(
      {BENCHFS_FUSE, dir.path(), "--registry", dir.sub("noreg"), "--wait-ready-ms", "200"}, 10000, &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("cannot reach the servers"), std::string::npos) << out;
  EXPECT_FALSE(mounted(dir.path()));
  ASSERT_EQ(benchfs::test::run_command({BENCHFS_FUSE, "--help"}, 10000, &out), 0);
  EXPECT_NE(out.find("Usage: benchfs-fuse MOUNTPOINT --registry DIR"), std::string::npos);
}

}  // namespace
