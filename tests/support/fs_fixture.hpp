#pragma once
// A gtest fixture for file-system tests: starts a benchfsd_mt job, waits for
// it, initializes the C API against it, and on the way out finalizes the
// client and, after a failure, kills the job and prints its log.

#include <gtest/gtest.h>

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
  void start_job(const JobOptions& opts, int rpc_timeout_ms) {
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
    ASSERT_EQ(benchfs_init(&cfg), 0) << std::strerror(errno) << ": " << benchfs_last_error();
    initialized_ = true;
    ASSERT_EQ(benchfs_server_count(), opts.ranks);
  }

  TempDir dir_;
  std::unique_ptr<ServerJob> job_;
  std::string registry_;
  bool initialized_ = false;
};

}  // namespace benchfs::test
