#pragma once
// A gtest fixture for file-system tests: starts a benchfsd_mt job, waits for
// it, initializes the C API against it, and on the way out finalizes the
// client and, after a failure, kills the job and prints its log.

#include <gtest/gtest.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "benchfs/benchfs.h"
#include "harness.hpp"

namespace benchfs::test {

class FsJobTest : public ::testing::Test {
 protected:
  explicit FsJobTest(const char* temp_prefix) : dir_(temp_prefix) {}

  void TearDown() override {
    if (initialized_) {
      benchfs_finalize();
      initialized_ = false;
    }
    if (HasFailure() && job_) {
      job_->kill_all();
      std::printf("---- server log ----\n%s\n---- end of server log ----\n", job_->log().c_str());
    }
  }

  /// Starts the servers of `opts` and connects to every one of them
  /// (call under ASSERT_NO_FATAL_FAILURE).
  /// `connect`: the client's connection mode (null: the default).
  void start_job(const JobOptions& opts, int rpc_timeout_ms, const char* connect = nullptr) {
    job_ = std::make_unique<ServerJob>(dir_.path(), opts);
    const Status st = job_->wait_ready(60000);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    registry_ = job_->registry();
    benchfs_config cfg;
    benchfs_config_init(&cfg);
    cfg.registry = registry_.c_str();
    cfg.prewarm = 1;
    cfg.rpc_timeout_ms = rpc_timeout_ms;
    cfg.wait_ready_ms = 10000;
    cfg.connect = connect;
    ASSERT_EQ(benchfs_init(&cfg), 0) << std::strerror(errno) << ": " << benchfs_last_error();
    initialized_ = true;
    ASSERT_EQ(benchfs_server_count(), opts.ranks);
  }

  /// Bytes in use over all servers, from statfs.
  static uint64_t used_bytes() {
    struct statvfs vfs {};
    if (benchfs_statfs("/", &vfs) != 0) {
      ADD_FAILURE() << "statfs: " << std::strerror(errno) << ": " << benchfs_last_error();
      return 0;
    }
    return (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
  }

  /// After every file was removed: statfs counts nothing, and once the
  /// servers have stopped, each one's stats show an empty store (call under
  /// ASSERT_NO_FATAL_FAILURE).
  void expect_store_empty() {
    ASSERT_TRUE(initialized_);
    const int servers = benchfs_server_count();
    EXPECT_EQ(used_bytes(), 0u) << "statfs still counts data after everything was removed";
    ASSERT_EQ(benchfs_finalize(), 0);
    initialized_ = false;
    ASSERT_EQ(job_->terminate(30000), 0) << job_->log();
    for (int rank = 0; rank < servers; ++rank) {
      SCOPED_TRACE("server rank " + std::to_string(rank));
      const auto j = job_->stats(rank);
      ASSERT_TRUE(j.is_object()) << "no stats file for rank " << rank;
      ASSERT_TRUE(j.contains("store") && j["store"].is_object())
          << "the stats JSON has no \"store\" object (bytes_used, chunks, files): " << j.dump();
      const auto& store = j["store"];
      std::printf("rank %d store at exit: %s\n", rank, store.dump().c_str());
      for (const char* field : {"bytes_used", "chunks", "files"}) {
        ASSERT_TRUE(store.contains(field) && store[field].is_number_unsigned())
            << "stats \"store\" has no unsigned \"" << field << "\": " << store.dump();
      }
      EXPECT_EQ(store["bytes_used"].get<uint64_t>(), 0u) << store.dump();
      EXPECT_EQ(store["chunks"].get<uint64_t>(), 0u) << store.dump();
      EXPECT_EQ(store["files"].get<uint64_t>(), 0u) << "every file was unlinked: " << store.dump();
    }
  }

  TempDir dir_;
  std::unique_ptr<ServerJob> job_;
  std::string registry_;
  bool initialized_ = false;
};

}  // namespace benchfs::test
