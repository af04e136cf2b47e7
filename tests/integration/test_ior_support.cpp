// The IOR backend's support functions (benchfs_ior.h): flag translation and
// the shared-file truncation rule, path clean-up, settings checks (no
// servers needed), then exact transfers, mknod and rename against a real
// benchfsd_mt job, reference-counted set-up against it, and the mini
// deployment: in this process (one rank) and under mpirun with three ranks,
// two of them hosting servers (ior_mini_rank).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "benchfs/benchfs.h"
#include "benchfs/benchfs_ior.h"
#include "env_guard.hpp"
#include "fs_fixture.hpp"
#include "harness.hpp"

using benchfs::test::EnvGuard;
using benchfs::test::JobOptions;
using benchfs::test::ServerJob;
using benchfs::test::TempDir;

namespace {

std::string why() { return std::string(std::strerror(errno)) + ": " + benchfs_last_error(); }

benchfs_ior_open_plan plan_of(int ior_flags, benchfs_ior_opener who) {
  benchfs_ior_open_plan p{-1, -1};
  EXPECT_EQ(benchfs_ior_plan_open(ior_flags, who, &p), 0) << why();
  return p;
}

std::string clean(const char* in) {
  char out[4097];
  if (benchfs_ior_path(in, out, sizeof out) < 0) return "error: " + why();
  return out;
}

}  // namespace

// ------------------------------------------------------------ no servers

TEST(IorFlags, AccessModesAndModifiersMapToOpenFlags) {
  EXPECT_EQ(plan_of(BENCHFS_IOR_RDONLY, BENCHFS_IOR_OPEN_ALONE).flags, O_RDONLY);
  EXPECT_EQ(plan_of(0, BENCHFS_IOR_OPEN_ALONE).flags, O_RDONLY);
  EXPECT_EQ(plan_of(BENCHFS_IOR_WRONLY, BENCHFS_IOR_OPEN_ALONE).flags, O_WRONLY);
  EXPECT_EQ(plan_of(BENCHFS_IOR_RDWR, BENCHFS_IOR_OPEN_ALONE).flags, O_RDWR);
  EXPECT_EQ(plan_of(BENCHFS_IOR_WRONLY | BENCHFS_IOR_CREAT | BENCHFS_IOR_TRUNC, BENCHFS_IOR_OPEN_ALONE).flags,
            O_WRONLY | O_CREAT | O_TRUNC);
  EXPECT_EQ(plan_of(BENCHFS_IOR_RDWR | BENCHFS_IOR_CREAT | BENCHFS_IOR_EXCL, BENCHFS_IOR_OPEN_ALONE).flags,
            O_RDWR | O_CREAT | O_EXCL);
  EXPECT_EQ(plan_of(BENCHFS_IOR_WRONLY | BENCHFS_IOR_APPEND, BENCHFS_IOR_OPEN_ALONE).flags,
            O_WRONLY | O_APPEND);
  // DIRECT: nothing to bypass, ignored.
  EXPECT_EQ(plan_of(BENCHFS_IOR_RDONLY | BENCHFS_IOR_DIRECT, BENCHFS_IOR_OPEN_ALONE).flags, O_RDONLY);
  // A lone opener never waits for anybody.
  EXPECT_EQ(
      plan_of(BENCHFS_IOR_WRONLY | BENCHFS_IOR_CREAT | BENCHFS_IOR_TRUNC, BENCHFS_IOR_OPEN_ALONE).barrier, 0);
}

TEST(IorFlags, SharedTruncateIsDoneByTheFirstOpenerOnlyBeforeABarrier) {
  const int create = BENCHFS_IOR_WRONLY | BENCHFS_IOR_CREAT | BENCHFS_IOR_TRUNC;  // IOR's write phase
  const auto first = plan_of(create, BENCHFS_IOR_OPEN_SHARED_FIRST);
  const auto other = plan_of(create, BENCHFS_IOR_OPEN_SHARED_OTHER);
  EXPECT_EQ(first.flags, O_WRONLY | O_CREAT | O_TRUNC);
  EXPECT_EQ(first.barrier, 1);
  EXPECT_EQ(other.flags, O_WRONLY | O_CREAT);
  EXPECT_EQ(other.barrier, 1);
  // EXCL likewise: only the first insists on creating.
  const auto excl =
      plan_of(BENCHFS_IOR_RDWR | BENCHFS_IOR_CREAT | BENCHFS_IOR_EXCL, BENCHFS_IOR_OPEN_SHARED_OTHER);
  EXPECT_EQ(excl.flags, O_RDWR | O_CREAT);
  EXPECT_EQ(excl.barrier, 1);
  // Without TRUNC or EXCL the openers of a shared file need no order
  // (IOR's read phase, mdtest's shared files).
  EXPECT_EQ(plan_of(BENCHFS_IOR_RDONLY, BENCHFS_IOR_OPEN_SHARED_OTHER).barrier, 0);
  EXPECT_EQ(plan_of(BENCHFS_IOR_WRONLY | BENCHFS_IOR_CREAT, BENCHFS_IOR_OPEN_SHARED_FIRST).barrier, 0);
}

TEST(IorFlags, BadInputIsEinval) {
  benchfs_ior_open_plan p;
  errno = 0;
  EXPECT_EQ(benchfs_ior_plan_open(BENCHFS_IOR_RDONLY | BENCHFS_IOR_WRONLY, BENCHFS_IOR_OPEN_ALONE, &p), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(benchfs_ior_plan_open(0x100, BENCHFS_IOR_OPEN_ALONE, &p), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(benchfs_ior_plan_open(BENCHFS_IOR_RDONLY, static_cast<benchfs_ior_opener>(7), &p), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(benchfs_ior_plan_open(BENCHFS_IOR_RDONLY, BENCHFS_IOR_OPEN_ALONE, nullptr), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST(IorPath, RelativeDotAndRepeatedSlashesAreCleanedUp) {
  EXPECT_EQ(clean("/testFile"), "/testFile");
  EXPECT_EQ(clean("testFile"), "/testFile");                    // IOR's default -o
  EXPECT_EQ(clean("./out/test-dir.0-0"), "/out/test-dir.0-0");  // mdtest's default -d
  EXPECT_EQ(clean("//a///b/"), "/a/b");
  EXPECT_EQ(clean("/a/./b/../c"), "/a/c");
  EXPECT_EQ(clean("/../.."), "/");
  EXPECT_EQ(clean(""), "/");
  EXPECT_EQ(clean("/"), "/");
  char small[4];
  EXPECT_EQ(benchfs_ior_path("/abcd", small, sizeof small), -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
  const std::string huge = "/" + std::string(5000, 'x');
  char big[8192];
  EXPECT_EQ(benchfs_ior_path(huge.c_str(), big, sizeof big), -1);  // over BenchFS's 4096
  EXPECT_EQ(errno, ENAMETOOLONG);
  EXPECT_EQ(benchfs_ior_path(nullptr, small, sizeof small), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST(IorSettings, CheckCatchesBadValuesAndAMissingRegistry) {
  EnvGuard env("BENCHFS_REGISTRY");
  unsetenv("BENCHFS_REGISTRY");
  benchfs_ior_settings s;
  benchfs_ior_settings_init(&s);
  EXPECT_EQ(benchfs_ior_check(&s, 4), -1);  // nowhere to connect
  EXPECT_EQ(errno, EINVAL);
  EXPECT_NE(std::string(benchfs_last_error()).find("registry"), std::string::npos);
  setenv("BENCHFS_REGISTRY", "/tmp/somewhere", 1);
  EXPECT_EQ(benchfs_ior_check(&s, 4), 0) << why();
  unsetenv("BENCHFS_REGISTRY");
  s.registry = "/tmp/elsewhere";
  EXPECT_EQ(benchfs_ior_check(&s, 4), 0) << why();
  s.threads = 2;  // threads of servers we do not start
  EXPECT_EQ(benchfs_ior_check(&s, 4), -1);
  s.threads = 0;
  s.listen = "127.0.0.1:0";
  EXPECT_EQ(benchfs_ior_check(&s, 4), -1);
  s.listen = nullptr;

  benchfs_ior_settings_init(&s);
  s.servers = 2;  // the mini deployment needs no registry
  s.threads = 2;
  EXPECT_EQ(benchfs_ior_check(&s, 4), 0) << why();
  EXPECT_EQ(benchfs_ior_check(&s, 0), 0) << why();  // rank count not known yet
  EXPECT_EQ(benchfs_ior_check(&s, 1), -1);          // more servers than ranks
  EXPECT_EQ(errno, EINVAL);
  s.servers = -1;
  EXPECT_EQ(benchfs_ior_check(&s, 4), -1);
  s.servers = 1;
  s.threads = -1;
  EXPECT_EQ(benchfs_ior_check(&s, 4), -1);
  EXPECT_EQ(benchfs_ior_check(nullptr, 4), -1);
  EXPECT_EQ(std::string(benchfs_ior_version()).rfind("BenchFS ", 0), 0u);
}

TEST(IorSettings, FinalizeWithoutInitializeIsEinval) {
  errno = 0;
  EXPECT_EQ(benchfs_ior_finalize(), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_STREQ(benchfs_ior_registry(), "");
}

// ----------------------------------------------------- real servers

class IorJobTest : public benchfs::test::FsJobTest {
 protected:
  IorJobTest() : FsJobTest("benchfs-ior") {}
  void SetUp() override {
    JobOptions opts;
    opts.ranks = 2;
    opts.threads = 1;
    opts.extra_args = {"--chunk-size", "64k"};
    ASSERT_NO_FATAL_FAILURE(start_job(opts, 10000));
  }
};

TEST_F(IorJobTest, XferMovesExactlyTheBytesAskedForOrFails) {
  constexpr size_t kLen = 3 * 65536 + 1234;  // crosses chunks, not aligned
  std::vector<unsigned char> out(kLen), in(kLen + 10);
  for (size_t i = 0; i < kLen; ++i) out[i] = static_cast<unsigned char>((i * 7 + 3) % 251);
  int fd = benchfs_open("/x", O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0) << why();
  ASSERT_EQ(benchfs_ior_xfer(fd, 1, out.data(), kLen, 100), static_cast<ssize_t>(kLen)) << why();
  ASSERT_EQ(benchfs_ior_xfer(fd, 0, in.data(), kLen, 100), static_cast<ssize_t>(kLen)) << why();
  EXPECT_EQ(std::memcmp(in.data(), out.data(), kLen), 0);
  EXPECT_EQ(benchfs_ior_xfer(fd, 0, in.data(), 0, 0), 0);
  // Past the end: not a short count but a failure that says how far it got.
  errno = 0;
  EXPECT_EQ(benchfs_ior_xfer(fd, 0, in.data(), kLen + 10, 100), -1);
  EXPECT_EQ(errno, EIO);
  EXPECT_NE(std::string(benchfs_last_error()).find("end of the file"), std::string::npos)
      << benchfs_last_error();
  EXPECT_EQ(benchfs_ior_xfer(fd, 1, nullptr, 5, 0), -1);
  EXPECT_EQ(errno, EINVAL);
  ASSERT_EQ(benchfs_close(fd), 0) << why();
  EXPECT_EQ(benchfs_ior_xfer(fd, 0, in.data(), 1, 0), -1);  // closed
  EXPECT_EQ(errno, EBADF);
  ASSERT_EQ(benchfs_unlink("/x"), 0) << why();
}

TEST_F(IorJobTest, SharedCreateFollowingThePlanKeepsTheFirstWritersData) {
  // IOR's write phase on one shared file: every rank creates with TRUNC. The
  // first opener writes before the others open (they may be late); with the
  // plan's flags nobody truncates its data away.
  const int create = BENCHFS_IOR_WRONLY | BENCHFS_IOR_CREAT | BENCHFS_IOR_TRUNC;
  const auto first = plan_of(create, BENCHFS_IOR_OPEN_SHARED_FIRST);
  const auto other = plan_of(create, BENCHFS_IOR_OPEN_SHARED_OTHER);
  // A stale, longer file from an earlier run is truncated by the first opener.
  int fd = benchfs_open("/shared", O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0) << why();
  std::vector<char> junk(200000, 'j');
  ASSERT_EQ(benchfs_pwrite(fd, junk.data(), junk.size(), 0), static_cast<ssize_t>(junk.size())) << why();
  ASSERT_EQ(benchfs_close(fd), 0) << why();

  constexpr size_t kBlock = 70000;
  std::vector<char> a(kBlock, 'a'), b(kBlock, 'b');
  const int fa = benchfs_open("/shared", first.flags, 0644);
  ASSERT_GE(fa, 0) << why();
  ASSERT_EQ(benchfs_ior_xfer(fa, 1, a.data(), kBlock, 0), static_cast<ssize_t>(kBlock)) << why();
  ASSERT_EQ(benchfs_close(fa), 0) << why();
  // ... barrier: the other ranks open now.
  const int fb = benchfs_open("/shared", other.flags, 0644);
  ASSERT_GE(fb, 0) << why();
  ASSERT_EQ(benchfs_ior_xfer(fb, 1, b.data(), kBlock, kBlock), static_cast<ssize_t>(kBlock)) << why();
  ASSERT_EQ(benchfs_close(fb), 0) << why();

  struct stat st;
  ASSERT_EQ(benchfs_stat("/shared", &st), 0) << why();
  EXPECT_EQ(st.st_size, static_cast<off_t>(2 * kBlock));  // the junk's tail is gone
  std::vector<char> in(2 * kBlock);
  fd = benchfs_open("/shared", O_RDONLY, 0);
  ASSERT_GE(fd, 0) << why();
  ASSERT_EQ(benchfs_ior_xfer(fd, 0, in.data(), in.size(), 0), static_cast<ssize_t>(in.size())) << why();
  EXPECT_EQ(std::memcmp(in.data(), a.data(), kBlock), 0) << "the first writer's block was lost";
  EXPECT_EQ(std::memcmp(in.data() + kBlock, b.data(), kBlock), 0);
  ASSERT_EQ(benchfs_close(fd), 0) << why();
  ASSERT_EQ(benchfs_unlink("/shared"), 0) << why();
}

TEST_F(IorJobTest, MknodCreatesAnEmptyFileOnce) {
  ASSERT_EQ(benchfs_ior_mknod("/node", 0640), 0) << why();
  struct stat st;
  ASSERT_EQ(benchfs_stat("/node", &st), 0) << why();
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(benchfs_ior_mknod("/node", 0640), -1);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(benchfs_ior_mknod("/missing/node", 0640), -1);
  EXPECT_EQ(errno, ENOENT);
  ASSERT_EQ(benchfs_unlink("/node"), 0) << why();
}

TEST_F(IorJobTest, RenameMovesFilesAndEmptyDirectoriesOnly) {
  // Files: benchfs_rename.
  ASSERT_EQ(benchfs_ior_mknod("/f", 0644), 0) << why();
  ASSERT_EQ(benchfs_ior_rename("/f", "/g"), 0) << why();
  EXPECT_EQ(benchfs_access("/f", F_OK), -1);
  EXPECT_EQ(benchfs_access("/g", F_OK), 0);
  // An empty directory moves (mdtest's rename phase, a chain of names).
  ASSERT_EQ(benchfs_mkdir("/d0", 0750), 0) << why();
  ASSERT_EQ(benchfs_mkdir("/d1", 0755), 0) << why();
  ASSERT_EQ(benchfs_ior_rename("/d0", "/d0-XX"), 0) << why();
  ASSERT_EQ(benchfs_ior_rename("/d1", "/d0"), 0) << why();
  ASSERT_EQ(benchfs_ior_rename("/d0-XX", "/d1"), 0) << why();
  struct stat st;
  ASSERT_EQ(benchfs_stat("/d1", &st), 0) << why();
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(benchfs_access("/d0-XX", F_OK), -1);
  // A directory with entries does not, nor onto an existing name.
  ASSERT_EQ(benchfs_ior_mknod("/d1/child", 0644), 0) << why();
  EXPECT_EQ(benchfs_ior_rename("/d1", "/d2"), -1);
  EXPECT_EQ(errno, EXDEV);
  EXPECT_EQ(benchfs_access("/d2", F_OK), -1);
  EXPECT_EQ(benchfs_ior_rename("/d0", "/g"), -1);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(benchfs_ior_rename("/nothing", "/x"), -1);
  EXPECT_EQ(errno, ENOENT);
  ASSERT_EQ(benchfs_unlink("/d1/child"), 0) << why();
  ASSERT_EQ(benchfs_rmdir("/d1"), 0) << why();
  ASSERT_EQ(benchfs_rmdir("/d0"), 0) << why();
  ASSERT_EQ(benchfs_unlink("/g"), 0) << why();
}

TEST(IorSession, InitializeIsReferenceCountedAgainstRunningServers) {
  TempDir dir("benchfs-ior-session");
  ServerJob job(dir.path(), JobOptions::of(2, 1));
  ASSERT_JOB_READY(job);

  benchfs_ior_settings s;
  benchfs_ior_settings_init(&s);
  s.registry = job.registry().c_str();
  s.prewarm = 1;
  s.client_id = "ior-test";
  // Two IOR tests in a row, the second nested like mdtest inside IOR.
  for (int round = 0; round < 2; ++round) {
    ASSERT_EQ(benchfs_ior_initialize(&s, nullptr, nullptr, 0), 1) << why();
    EXPECT_EQ(std::string(benchfs_ior_registry()), job.registry());
    ASSERT_EQ(benchfs_ior_initialize(&s, nullptr, nullptr, 0), 2) << why();
    EXPECT_EQ(benchfs_server_count(), 2);
    EXPECT_EQ(benchfs_ior_finalize(), 1);
    EXPECT_EQ(benchfs_server_count(), 2);  // still connected
    ASSERT_EQ(benchfs_mkdir("/still-here", 0755), 0) << why();
    ASSERT_EQ(benchfs_rmdir("/still-here"), 0) << why();
    EXPECT_EQ(benchfs_ior_finalize(), 0) << why();
    EXPECT_EQ(benchfs_server_count(), -1);
    EXPECT_STREQ(benchfs_ior_registry(), "");
  }
  ASSERT_EQ(job.terminate(10000), 0);
}

TEST(IorSession, MiniDeploymentWithOneRankHostsItsServerAndCleansUp) {
  TempDir dir("benchfs-ior-mini");
  EnvGuard tmp("TMPDIR");
  setenv("TMPDIR", dir.path().c_str(), 1);
  benchfs::test::set_test_environment();

  benchfs_ior_group all{};
  all.rank = 0;
  all.size = 1;
  all.barrier = [](void*) {};
  all.broadcast = [](void*, void*, size_t) {};
  benchfs_ior_group servers = all;
  benchfs_ior_settings s;
  benchfs_ior_settings_init(&s);
  s.servers = 1;
  s.threads = 1;
  s.listen = "127.0.0.1:0";
  // The server group must be given on exactly the server ranks.
  EXPECT_EQ(benchfs_ior_initialize(&s, &all, nullptr, 0), -1);
  EXPECT_EQ(errno, EINVAL);

  ASSERT_EQ(benchfs_ior_initialize(&s, &all, &servers, 0), 1) << why();
  const std::string registry = benchfs_ior_registry();
  EXPECT_EQ(registry.rfind(dir.path() + "/benchfs-ior-", 0), 0u) << registry;
  EXPECT_EQ(benchfs_server_count(), 1);
  const int fd = benchfs_open("/mini", O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0) << why();
  const char msg[] = "mini deployment";
  EXPECT_EQ(benchfs_ior_xfer(fd, 1, const_cast<char*>(msg), sizeof msg, 0), static_cast<ssize_t>(sizeof msg));
  char back[sizeof msg] = {};
  EXPECT_EQ(benchfs_ior_xfer(fd, 0, back, sizeof back, 0), static_cast<ssize_t>(sizeof back)) << why();
  EXPECT_STREQ(back, msg);
  ASSERT_EQ(benchfs_close(fd), 0) << why();
  EXPECT_EQ(benchfs_ior_finalize(), 0) << why();
  EXPECT_EQ(benchfs_server_count(), -1);
  EXPECT_NE(access(registry.c_str(), F_OK), 0) << "registry directory left behind";

  // A second test starts afresh (new servers, new registry).
  ASSERT_EQ(benchfs_ior_initialize(&s, &all, &servers, 0), 1) << why();
  EXPECT_NE(std::string(benchfs_ior_registry()), registry);
  EXPECT_EQ(benchfs_access("/mini", F_OK), -1);  // data lives as long as the servers
  EXPECT_EQ(benchfs_ior_finalize(), 0) << why();
}

TEST(IorSession, MiniDeploymentUnderMpirunWithThreeRanksAndTwoServers) {
  TempDir dir("benchfs-ior-mpirun");
  std::string out;
  const std::vector<std::string> argv = {"mpirun",          "-np",         "3", "--bind-to", "none",
                                         "--oversubscribe", IOR_MINI_RANK, "2", "2"};
  const int rc = benchfs::test::run_command(argv, 120000, &out, {{"TMPDIR", dir.path()}});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("ior_mini_rank: ok"), std::string::npos) << out;
  // Both rounds removed the registries they made.
  std::set<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) left.insert(e.path().filename());
  EXPECT_TRUE(left.empty()) << *left.begin();
}
