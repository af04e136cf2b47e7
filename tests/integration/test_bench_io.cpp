// Integration test of benchfs_bench io / md: a real benchfsd_mt job with two
// servers, the benchmark under mpirun with two ranks, its JSON lines checked.

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

using benchfs::test::JobOptions;
using benchfs::test::ServerJob;
using benchfs::test::TempDir;

namespace {

// The JSON objects among the lines of `out`, by their "phase".
std::map<std::string, nlohmann::json> phases(const std::string& out) {
  std::map<std::string, nlohmann::json> by_phase;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '{') continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("phase")) by_phase[j["phase"].get<std::string>()] = j;
  }
  return by_phase;
}

std::vector<std::string> bench(const std::string& registry, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {
      "mpirun", "-np", "2", "--bind-to", "none", "--oversubscribe", benchfs::test::bench_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--registry", registry, "--json"});
  return argv;
}

}  // namespace

TEST(BenchIo, IoAndMdUnderMpirunReportEveryPhaseWithoutErrors) {
  TempDir dir("benchfs-bench-io");
  ServerJob job(dir.path(), JobOptions::of(2, 1));
  ASSERT_JOB_READY(job);

  constexpr uint64_t kRanks = 2, kTransfer = 64 << 10, kBlock = 256 << 10, kSegments = 2;
  for (const bool fpp : {true, false}) {
    SCOPED_TRACE(fpp ? "file per process" : "shared file");
    std::vector<std::string> args = {"io", "-t", "64k",     "-b",     "256k",
                                     "-s", "2",  "--write", "--read", "--verify"};
    if (fpp) args.push_back("-F");
    std::string out;
    const int rc = benchfs::test::run_command(bench(job.registry(), args), 120000, &out);
    ASSERT_EQ(rc, 0) << out;
    const auto by_phase = phases(out);
    for (const char* phase : {"write", "read"}) {
      SCOPED_TRACE(phase);
      const auto it = by_phase.find(phase);
      ASSERT_NE(it, by_phase.end()) << out;
      const auto& j = it->second;
      EXPECT_EQ(j["mode"], fpp ? "fpp" : "shared");
      EXPECT_EQ(j["bytes"].get<uint64_t>(), kRanks * kBlock * kSegments) << out;
      EXPECT_EQ(j["ops"].get<uint64_t>(), kRanks * kSegments * (kBlock / kTransfer)) << out;
      EXPECT_EQ(j["errors"].get<uint64_t>(), 0u) << out;
      EXPECT_GT(j["seconds"].get<double>(), 0.0);
      EXPECT_GT(j["mib_per_s"].get<double>(), 0.0);
      EXPECT_GT(j["ops_per_s"].get<double>(), 0.0);
    }
  }

  std::string out;
  const int rc = benchfs::test::run_command(bench(job.registry(), {"md", "-n", "50"}), 120000, &out);
  ASSERT_EQ(rc, 0) << out;
  const auto by_phase = phases(out);
  for (const char* phase : {"create", "stat", "read", "unlink"}) {
    SCOPED_TRACE(phase);
    const auto it = by_phase.find(phase);
    ASSERT_NE(it, by_phase.end()) << out;
    // 50 files per rank in its own directory and 50 in the shared one.
    EXPECT_EQ(it->second["ops"].get<uint64_t>(), kRanks * 50 * 2) << out;
    EXPECT_EQ(it->second["errors"].get<uint64_t>(), 0u) << out;
    EXPECT_GT(it->second["ops_per_s"].get<double>(), 0.0);
  }
  const auto rd = by_phase.find("readdir");
  ASSERT_NE(rd, by_phase.end()) << out;
  EXPECT_EQ(rd->second["ops"].get<uint64_t>(), kRanks + 1);  // each rank's directory, and the shared one
  EXPECT_EQ(rd->second["entries"].get<uint64_t>(), kRanks * 50 * 2);
  EXPECT_EQ(rd->second["errors"].get<uint64_t>(), 0u);

  // The io and md runs removed what they made: md again finds no leftovers
  // (it creates with O_EXCL), and the servers shut down cleanly.
  ASSERT_EQ(benchfs::test::run_command(bench(job.registry(), {"md", "-n", "5"}), 120000, &out), 0) << out;
  EXPECT_EQ(job.terminate(20000), 0) << job.log();
}

// Writes of up to 64 KiB (the client's default eager_max) go eager: the
// server copies them once from UCX's buffer into the chunk; with
// BENCHFS_EAGER_MAX=0 they go by rendezvous instead. From plain heap
// buffers (16 bytes into a cache line), every byte read back checked.
TEST(BenchIo, SmallWritesGoEagerUnlessEagerMaxIsZero) {
  for (const std::string eager_max : {"", "0"}) {
    SCOPED_TRACE("BENCHFS_EAGER_MAX=" + eager_max);
    TempDir dir("benchfs-bench-eager");
    ServerJob job(dir.path(), JobOptions::of(1, 1));
    ASSERT_JOB_READY(job);
    auto cmd = bench(job.registry(), {"io", "-t", "64k", "-b", "256k", "-s", "2", "-F", "--write", "--read",
                                      "--verify", "--malloc-buffer"});
    if (!eager_max.empty()) cmd.insert(cmd.begin() + 1, {"-x", "BENCHFS_EAGER_MAX=" + eager_max});
    std::string out;
    ASSERT_EQ(benchfs::test::run_command(cmd, 120000, &out), 0) << out;
    for (const auto& [phase, j] : phases(out))
      EXPECT_EQ(j["errors"].get<uint64_t>(), 0u) << phase << ": " << out;
    ASSERT_EQ(job.terminate(20000), 0) << job.log();
    const auto j = job.stats(0);
    const auto& dp = j["data_path"];
    constexpr uint64_t kWrites = 2 * 4 * 2;  // ranks x transfers per block x segments
    const bool eager = eager_max.empty();
    EXPECT_EQ(dp["writes_eager"].get<uint64_t>(), eager ? kWrites : 0) << dp.dump();
    EXPECT_EQ(dp["writes_rndv"].get<uint64_t>(), eager ? 0 : kWrites) << dp.dump();
    EXPECT_EQ(dp["bytes_copied"].get<uint64_t>(), eager ? kWrites * 65536 : 0) << dp.dump();
  }
}

// 1 MiB transfers move without a payload copy on the server: writes are
// received by rendezvous straight into chunk buffers (bytes_copied stays 0)
// and reads are sent from them; the first run takes its buffers from the
// server's reserve and the second reuses the first run's: no write faults
// a buffer in.
TEST(BenchIo, OneMebibyteTransfersAreZeroCopyOnTheServer) {
  TempDir dir("benchfs-bench-zc");
  ServerJob job(dir.path(), JobOptions::of(1, 1));
  ASSERT_JOB_READY(job);
  constexpr uint64_t kOpsPerRun = 2 * 4 * 2;  // ranks x transfers per block x segments
  for (int run = 0; run < 2; ++run) {
    std::string out;
    const int rc = benchfs::test::run_command(bench(job.registry(), {"io", "-t", "1m", "-b", "4m", "-s", "2",
                                                                     "-F", "--write", "--read", "--verify"}),
                                              120000, &out);
    ASSERT_EQ(rc, 0) << out;
    for (const auto& [phase, j] : phases(out)) EXPECT_EQ(j["errors"].get<uint64_t>(), 0u) << phase;
  }
  ASSERT_EQ(job.terminate(20000), 0) << job.log();
  const auto j = job.stats(0);
  const auto& dp = j["data_path"];
  EXPECT_EQ(dp["writes_rndv"].get<uint64_t>(), 2 * kOpsPerRun) << j.dump();
  EXPECT_EQ(dp["writes_eager"].get<uint64_t>(), 0u) << j.dump();
  EXPECT_EQ(dp["bytes_copied"].get<uint64_t>(), 0u) << j.dump();
  EXPECT_EQ(dp["reads_zero_copy"].get<uint64_t>(), 2 * kOpsPerRun) << j.dump();
  const auto& pool = j["store"]["pool"];
  EXPECT_EQ(pool["reused_warm"].get<uint64_t>(), 2 * kOpsPerRun)
      << "a run wrote into fresh memory: " << j.dump();
  EXPECT_EQ(pool["acquired_cold"].get<uint64_t>(), 0u) << j.dump();
  EXPECT_EQ(pool["in_use"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["store"]["bytes_used"].get<uint64_t>(), 0u);
}
