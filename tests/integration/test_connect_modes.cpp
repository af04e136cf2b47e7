// The two connection modes against real benchfsd_mt servers (2 ranks, 2
// progress threads each, chunk 64 KiB): persistent endpoints through the
// listener with REGISTER_CLIENT (the default), and reply_ep, where the client
// connects to a progress thread's published worker address and the server
// answers on UCX's reply endpoint. The same workload runs in both, every
// byte checked, and the servers' stats must show which path served it.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "benchfs/benchfs.h"
#include "benchfs/registry/server_list.hpp"
#include "fault_common.hpp"
#include "fs_fixture.hpp"
#include "harness.hpp"

using benchfs::faults::fill_pattern;
using benchfs::faults::pattern_byte;
using benchfs::test::JobOptions;

namespace {

constexpr uint64_t kChunk = 64 * 1024;

std::string why() { return std::string(std::strerror(errno)) + ": " + benchfs_last_error(); }

class ConnectModes : public benchfs::test::FsJobTest {
 protected:
  ConnectModes() : FsJobTest("benchfs-connect-modes") {}

  void start(const char* mode) {
    JobOptions opts;
    opts.ranks = 2;
    opts.threads = 2;
    opts.extra_args = {"--chunk-size", "64k", "--memory-limit", "256m"};
    ASSERT_NO_FATAL_FAILURE(start_job(opts, 20000, mode));
  }

  // Files of several sizes (within a chunk, across chunks and servers),
  // written and read back; small files created, stat'ed, listed, removed;
  // pings of every size class to every server. Everything is removed again.
  void workload() {
    ASSERT_EQ(benchfs_mkdir("/w", 0755), 0) << why();
    const std::vector<size_t> sizes = {1, 4096, kChunk - 1, kChunk + 1, 5 * kChunk + 123, 1 << 20};
    for (size_t i = 0; i < sizes.size(); ++i) {
      const std::string path = "/w/f" + std::to_string(i);
      std::vector<uint8_t> buf(sizes[i]), back(sizes[i]);
      fill_pattern(buf.data(), buf.size(), i + 1, 0);
      int fd = benchfs_open(path.c_str(), O_CREAT | O_WRONLY, 0644);
      ASSERT_GE(fd, 0) << path << ": " << why();
      ASSERT_EQ(benchfs_pwrite(fd, buf.data(), buf.size(), 0), static_cast<ssize_t>(buf.size())) << why();
      ASSERT_EQ(benchfs_close(fd), 0) << why();
      struct stat st {};
      ASSERT_EQ(benchfs_stat(path.c_str(), &st), 0) << why();
      EXPECT_EQ(static_cast<size_t>(st.st_size), sizes[i]) << path;
      fd = benchfs_open(path.c_str(), O_RDONLY, 0);
      ASSERT_GE(fd, 0) << why();
      ASSERT_EQ(benchfs_pread(fd, back.data(), back.size(), 0), static_cast<ssize_t>(back.size())) << why();
      ASSERT_EQ(benchfs_close(fd), 0) << why();
      for (size_t k = 0; k < back.size(); ++k)
        ASSERT_EQ(back[k], pattern_byte(i + 1, k)) << path << " byte " << k;
      ASSERT_EQ(benchfs_unlink(path.c_str()), 0) << why();
    }
    for (int i = 0; i < 200; ++i) {
      const std::string path = "/w/s" + std::to_string(i);
      const int fd = benchfs_create(path.c_str(), O_WRONLY | O_EXCL, 0644);
      ASSERT_GE(fd, 0) << path << ": " << why();
      ASSERT_EQ(benchfs_close(fd), 0) << why();
    }
    EXPECT_EQ(benchfs_create("/w/s0", O_WRONLY | O_EXCL, 0644), -1);
    EXPECT_EQ(errno, EEXIST);
    int entries = 0;
    ASSERT_EQ(benchfs_readdir(
                  "/w", [](void* arg, const char*, unsigned char) { return ++*static_cast<int*>(arg), 0; },
                  &entries),
              200)
        << why();
    EXPECT_EQ(entries, 200);
    for (int i = 0; i < 200; ++i) {
      const std::string path = "/w/s" + std::to_string(i);
      struct stat st {};
      ASSERT_EQ(benchfs_stat(path.c_str(), &st), 0) << path << ": " << why();
      ASSERT_EQ(benchfs_unlink(path.c_str()), 0) << why();
    }
    ASSERT_EQ(benchfs_rmdir("/w"), 0) << why();
    for (int s = 0; s < benchfs_server_count(); ++s) {
      for (size_t n : {size_t{8}, size_t{64 * 1024}, size_t{1} << 20}) {
        std::vector<uint8_t> out(n), in(n);
        fill_pattern(out.data(), n, 77, 0);
        ASSERT_EQ(benchfs_ping(s, out.data(), n, in.data()), 0) << why();
        ASSERT_EQ(std::memcmp(out.data(), in.data(), n), 0) << "ping echo differs, " << n << " bytes";
      }
    }
  }

  // Stops the servers (store empty) and returns the summed stats fields.
  struct Seen {
    uint64_t reply_ep_requests = 0;
    uint64_t registrations = 0;
    uint64_t remove_chunks = 0;
  };
  Seen stop_and_count() {
    Seen seen;
    expect_store_empty();
    for (int rank = 0; rank < 2; ++rank) {
      const auto j = job_->stats(rank);
      seen.reply_ep_requests += j.value("reply_ep_requests", uint64_t{0});
      if (j["ops"].contains("register_client"))
        seen.registrations += j["ops"]["register_client"]["count"].get<uint64_t>();
      if (j["ops"].contains("remove_chunks"))
        seen.remove_chunks += j["ops"]["remove_chunks"]["count"].get<uint64_t>();
      EXPECT_TRUE(j.contains("polling") && j["polling"].contains("sleeps_per_1000_requests")) << j.dump();
    }
    return seen;
  }
};

TEST_F(ConnectModes, PersistentEndpointsRegisterAndCheckData) {
  ASSERT_NO_FATAL_FAILURE(start(nullptr));
  ASSERT_NO_FATAL_FAILURE(workload());
  const Seen seen = stop_and_count();
  EXPECT_EQ(seen.reply_ep_requests, 0u);
  EXPECT_EQ(seen.registrations, 2u) << "one REGISTER_CLIENT per server";
  // Small files are removed by UNLINK alone; only files whose size reaches
  // the other server's chunks cost one REMOVE_CHUNKS (the three largest).
  EXPECT_EQ(seen.remove_chunks, 3u);
}

TEST_F(ConnectModes, ReplyEpServesTheSameWorkloadWithoutRegistering) {
  ASSERT_NO_FATAL_FAILURE(start("reply_ep"));
  ASSERT_NO_FATAL_FAILURE(workload());
  const Seen seen = stop_and_count();
  EXPECT_GT(seen.reply_ep_requests, 650u) << "the workload's requests went the reply_ep way";
  EXPECT_EQ(seen.registrations, 0u) << "reply_ep clients never register";
  EXPECT_EQ(seen.remove_chunks, 3u);
}

TEST_F(ConnectModes, ServersPublishOneWorkerAddressPerThread) {
  ASSERT_NO_FATAL_FAILURE(start(nullptr));
  for (uint32_t node = 0; node < 2; ++node) {
    auto w = benchfs::registry::read_worker_addresses(registry_, node);
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    EXPECT_EQ(w->size(), 2u) << "node " << node << ": one address per progress thread";
    for (const auto& a : *w) EXPECT_GE(a.size(), 8u);
  }
}

TEST_F(ConnectModes, BadConnectModeOrClientSettingIsAClearError) {
  job_ = std::make_unique<benchfs::test::ServerJob>(dir_.path(), JobOptions::of(1, 1));
  ASSERT_JOB_READY(*job_);
  benchfs_config cfg;
  benchfs_config_init(&cfg);
  const std::string reg = job_->registry();
  cfg.registry = reg.c_str();
  cfg.connect = "sideways";
  EXPECT_EQ(benchfs_init(&cfg), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_NE(std::string(benchfs_last_error()).find("persistent or reply_ep"), std::string::npos)
      << benchfs_last_error();
  cfg.connect = nullptr;
  // The same settings from the environment, numbers that do not parse and
  // numbers out of range: EINVAL naming the variable.
  const std::vector<std::pair<const char*, const char*>> bad = {
      {"BENCHFS_CONNECT", "sideways"},    {"BENCHFS_POLL", "sideways"},    {"BENCHFS_EAGER_MAX", "lots"},
      {"BENCHFS_RPC_TIMEOUT_MS", "soon"}, {"BENCHFS_RPC_TIMEOUT_MS", "0"}, {"BENCHFS_SPIN_US", "-5"},
      {"BENCHFS_IO_WINDOW", "0"},         {"BENCHFS_IO_WINDOW", "5000"}};
  for (const auto& [var, value] : bad) {
    SCOPED_TRACE(std::string(var) + "=" + value);
    ASSERT_EQ(setenv(var, value, 1), 0);
    EXPECT_EQ(benchfs_init(&cfg), -1);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_NE(std::string(benchfs_last_error()).find(var), std::string::npos) << benchfs_last_error();
    ASSERT_EQ(unsetenv(var), 0);
  }
}

}  // namespace
