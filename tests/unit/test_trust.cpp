// Unit tests of registry::check_trusted: a client refuses a registry that
// another user owns or could have changed, or whose secret others can read.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>

#include "benchfs/registry/server_list.hpp"
#include "benchfs/registry/trust.hpp"

using namespace benchfs;
using namespace benchfs::registry;

namespace {

class Trust : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/benchfs-trust.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
    write(kListFile, "node_0 127.0.0.1:1234\n", 0600);
    write(kReadyFile, "servers 1\n", 0600);
  }
  void TearDown() override {
    ::unlink(path(kListFile).c_str());
    ::unlink(path(kReadyFile).c_str());
    ::unlink(path("link").c_str());
    ::rmdir(dir_.c_str());
  }
  [[nodiscard]] std::string path(const char* f) const { return dir_ + "/" + f; }
  void write(const char* f, const char* text, mode_t mode) {
    std::ofstream(path(f)) << text;
    ASSERT_EQ(::chmod(path(f).c_str(), mode), 0);
  }
  // Expects EACCES with `words` in the message.
  void expect_refused(const std::string& words) {
    Status st = check_trusted(dir_);
    EXPECT_EQ(st.err(), EACCES) << st.to_string();
    EXPECT_NE(st.message().find(words), std::string::npos) << st.message();
  }
  std::string dir_;
};

TEST_F(Trust, PrivateRegistryIsTrusted) {
  EXPECT_TRUE(check_trusted(dir_).is_ok());
  EXPECT_TRUE(check_trusted(dir_ + "/").is_ok());
  // Files not written yet are no reason to refuse (the caller waits for them).
  ::unlink(path(kReadyFile).c_str());
  EXPECT_TRUE(check_trusted(dir_).is_ok());
}

TEST_F(Trust, MissingDirectoryIsAnError) {
  Status st = check_trusted(dir_ + "/nope");
  EXPECT_EQ(st.err(), ENOENT) << st.to_string();
}

TEST_F(Trust, GroupOrWorldWritableDirectoryIsRefused) {
  ASSERT_EQ(::chmod(dir_.c_str(), 0770), 0);
  expect_refused("mode 0770");
  ASSERT_EQ(::chmod(dir_.c_str(), 0703), 0);
  expect_refused("could replace the server list");
  // Readable by others is fine for the directory: the secret file is not.
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  EXPECT_TRUE(check_trusted(dir_).is_ok());
}

TEST_F(Trust, ReadyFileReadableByOthersIsRefused) {
  ASSERT_EQ(::chmod(path(kReadyFile).c_str(), 0644), 0);
  expect_refused("job secret");
  ASSERT_EQ(::chmod(path(kReadyFile).c_str(), 0640), 0);
  expect_refused("mode 0640");
}

TEST_F(Trust, WritableServerListIsRefused) {
  ASSERT_EQ(::chmod(path(kListFile).c_str(), 0666), 0);
  expect_refused("redirect clients");
  // Readable is fine: it holds addresses only.
  ASSERT_EQ(::chmod(path(kListFile).c_str(), 0644), 0);
  EXPECT_TRUE(check_trusted(dir_).is_ok());
}

TEST_F(Trust, SymlinkedReadyFileIsRefused) {
  ASSERT_EQ(::rename(path(kReadyFile).c_str(), path("link").c_str()), 0);
  ASSERT_EQ(::symlink(path("link").c_str(), path(kReadyFile).c_str()), 0);
  expect_refused("symbolic link");
}

TEST_F(Trust, ForeignOwnerIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give files away";
  ASSERT_EQ(::chown(path(kReadyFile).c_str(), 12345, 12345), 0);
  expect_refused("uid 12345");
  ASSERT_EQ(::chown(path(kReadyFile).c_str(), 0, 0), 0);
  ASSERT_EQ(::chown(dir_.c_str(), 12345, 12345), 0);
  expect_refused("another user's registry");
  ASSERT_EQ(::chown(dir_.c_str(), 0, 0), 0);
}

}  // namespace
