// At-most-once recovery (issue 13): the server drops every second reply to
// one namespace op and closes the connection it came on (--drop-reply), as
// if the reply had been lost with the connection. The client reconnects and
// sends the request again with the same id; the server must answer from its
// reply cache, not execute it again. Without the cache the repeated create
// with O_EXCL would fail with EEXIST, the repeated unlink / rename / rmdir
// with ENOENT and the repeated mkdir with EEXIST; a repeated truncate, or
// a repeated removal of the chunks past its length on the data servers
// (remove_chunks), would cut away what another client wrote after the
// first one.

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "fs_fixture.hpp"

namespace {

using benchfs::test::FsJobTest;
using benchfs::test::JobOptions;

class DroppedReply : public FsJobTest, public ::testing::WithParamInterface<const char*> {
 protected:
  DroppedReply() : FsJobTest("benchfs-recovery") {}
};

TEST_P(DroppedReply, NamespaceChangesTakeEffectExactlyOnce) {
  JobOptions opts;
  opts.ranks = 2;
  opts.threads = 1;
  opts.extra_args = {"--drop-reply", std::string(GetParam()) + ":2"};
  ASSERT_NO_FATAL_FAILURE(start_job(opts, 10000));
  constexpr int kRounds = 8;
  for (int i = 0; i < kRounds; ++i) {
    SCOPED_TRACE("round " + std::to_string(i));
    const std::string a = "/f" + std::to_string(i);
    const std::string b = "/g" + std::to_string(i);
    const std::string d = "/d" + std::to_string(i);
    const int fd = benchfs_open(a.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    ASSERT_GE(fd, 0) << std::strerror(errno) << ": " << benchfs_last_error();
    ASSERT_EQ(benchfs_write(fd, "0123456789", 10), 10) << benchfs_last_error();
    ASSERT_EQ(benchfs_close(fd), 0) << benchfs_last_error();
    ASSERT_EQ(benchfs_truncate(a.c_str(), 4), 0) << std::strerror(errno) << ": " << benchfs_last_error();
    struct stat st {};
    ASSERT_EQ(benchfs_stat(a.c_str(), &st), 0) << benchfs_last_error();
    EXPECT_EQ(st.st_size, 4);
    ASSERT_EQ(benchfs_rename(a.c_str(), b.c_str()), 0)
        << std::strerror(errno) << ": " << benchfs_last_error();
    EXPECT_NE(benchfs_stat(a.c_str(), &st), 0);
    ASSERT_EQ(benchfs_unlink(b.c_str()), 0) << std::strerror(errno) << ": " << benchfs_last_error();
    EXPECT_NE(benchfs_stat(b.c_str(), &st), 0);
    ASSERT_EQ(benchfs_mkdir(d.c_str(), 0755), 0) << std::strerror(errno) << ": " << benchfs_last_error();
    ASSERT_EQ(benchfs_rmdir(d.c_str()), 0) << std::strerror(errno) << ": " << benchfs_last_error();
    EXPECT_NE(benchfs_stat(d.c_str(), &st), 0);
  }
  // A second create of an existing name still fails: the cache answers
  // repeats of one request, not new requests.
  const int fd = benchfs_open("/exists", O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(fd, 0) << benchfs_last_error();
  ASSERT_EQ(benchfs_close(fd), 0);
  EXPECT_LT(benchfs_open("/exists", O_WRONLY | O_CREAT | O_EXCL, 0644), 0);
  EXPECT_EQ(errno, EEXIST);
  ASSERT_EQ(benchfs_unlink("/exists"), 0) << benchfs_last_error();

  ASSERT_EQ(benchfs_finalize(), 0);
  initialized_ = false;
  ASSERT_EQ(job_->terminate(30000), 0) << job_->log();
  uint64_t dropped = 0;
  uint64_t repeats = 0;
  for (int rank = 0; rank < 2; ++rank) {
    const auto j = job_->stats(rank);
    ASSERT_TRUE(j.is_object()) << "no stats of rank " << rank;
    dropped += j.value("dropped_replies", uint64_t{0});
    repeats += j.value("once_repeats", uint64_t{0});
  }
  EXPECT_GT(dropped, 0u) << "no reply was dropped: the test tests nothing";
  if (std::string(GetParam()) == "rmdir") {
    // rmdir's first phase (prepare, on every server) is idempotent and is
    // simply sent again; only the removal itself goes at most once.
    EXPECT_GT(repeats, 0u);
    EXPECT_LE(repeats, dropped);
  } else {
    EXPECT_EQ(repeats, dropped) << "every dropped reply must come back once from the reply cache";
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, DroppedReply,
                         ::testing::Values("create", "rename", "unlink", "mkdir", "rmdir", "truncate",
                                           "remove_chunks"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
