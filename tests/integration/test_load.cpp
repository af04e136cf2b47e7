// Load (issue 5): 64 client connections (8 load_client processes x 8
// threads, each thread its own client engine and connection) against one
// server with --client-capacity 16, for BENCHFS_LOAD_SECONDS (default 30):
// mixed ping / pwrite+fsync / pread / stat, every echo, read and size
// checked. The server evicts all the time; clients reconnect. The only
// failures allowed are the connection closes eviction forces (retried by the
// clients and counted). The server's RSS, open descriptors and client
// connections are sampled from /proc and must be as high at the end as after
// warm-up, no higher (within a bound). Prints one "RELIABILITY:" line.
//
// BENCHFS_LOAD_SECONDS=300 ctest -R Load --output-on-failure   (by hand)

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.hpp"
#include "harness.hpp"

using benchfs::faults::fmt;
using benchfs::faults::mono_ms;
using benchfs::faults::Process;
using benchfs::faults::reliability;
using benchfs::test::JobOptions;
using benchfs::test::ServerJob;
using benchfs::test::TempDir;

namespace {

int env_int(const char* name, int def) {
  const char* v = std::getenv(name);
  const int n = v != nullptr ? std::atoi(v) : 0;
  return n > 0 ? n : def;
}

struct Sample {
  double t_s;
  double rss_mib;
  size_t fds;
  size_t conns;
};

}  // namespace

// KNOWN BUG, disabled in the suite (scripts/reliability_report.sh runs it;
// so does --gtest_also_run_disabled_tests). This test found two server
// aborts inside UCX 1.13 under constant eviction (~50 per second):
//  - "ucp_ep.c:437 Assertion `ucs_hlist_is_empty(...proto_reqs)' failed"
//    within a second: a client's disconnect completed the server's close of
//    its endpoint while UCX still tracked a request of it. Fixed: the
//    server closes an endpoint only once no request of it is in flight and
//    after a grace for UCX's own acknowledgements (ProgressThread::close_conn);
//    0 of 8 10-second runs since.
//  - "async.c:643 Assertion `handler->async == async' failed" in
//    __ucs_async_poll_missed, 2 of 8 10-second runs: a missed socket event
//    dispatched to a handler of another worker (a closed descriptor's number
//    reused by another worker's connection); every run with one progress
//    thread. UCX's bug, fixed upstream by openucx/ucx PR #9942 (2024), not
//    in Debian 12's UCX 1.13.1: enable this test with a UCX that has it.
TEST(Load, DISABLED_SixtyFourConnectionsAgainstCapacitySixteen) {
  const int seconds = env_int("BENCHFS_LOAD_SECONDS", 30);
  const int processes = env_int("BENCHFS_LOAD_PROCESSES", 8);
  const int threads = env_int("BENCHFS_LOAD_THREADS", 8);
  const int connections = processes * threads;
  constexpr int kCapacity = 16;

  TempDir dir("benchfs-load");
  JobOptions opts;
  opts.ranks = 1;
  opts.threads = 2;
  opts.extra_args = {"--client-capacity", std::to_string(kCapacity), "--chunk-size", "64k"};
  ServerJob job(dir.path(), opts);
  const auto ready = job.wait_ready(60000);
  ASSERT_TRUE(ready.is_ok()) << ready.to_string();
  const auto pids = job.server_pids();
  ASSERT_EQ(pids.size(), 1u);
  const pid_t server = pids[0];
  const uint16_t port = job.servers().servers.at(0).port;

  std::vector<std::unique_ptr<Process>> clients;
  for (int i = 0; i < processes; ++i) {
    clients.push_back(
        std::make_unique<Process>(std::vector<std::string>{LOAD_CLIENT, std::to_string(threads),
                                                           std::to_string(seconds), std::to_string(i)},
                                  dir.sub("load" + std::to_string(i) + ".log"),
                                  std::map<std::string, std::string>{{"BENCHFS_REGISTRY", job.registry()}}));
  }

  // Samples every interval while the clients run (bounded: they stop by
  // themselves after `seconds`).
  const double interval_s = std::max(1.0, seconds / 30.0);
  const double t0 = mono_ms();
  const double hard_deadline = t0 + (seconds + 120) * 1e3;
  std::vector<Sample> samples;
  double next = t0;
  for (;;) {
    const bool any_running =
        std::any_of(clients.begin(), clients.end(), [](auto& c) { return c->running(); });
    if (!any_running) break;
    ASSERT_LT(mono_ms(), hard_deadline) << "load clients did not stop";
    if (mono_ms() >= next) {
      const double t = (mono_ms() - t0) / 1e3;
      if (t <= seconds) {
        samples.push_back({t, static_cast<double>(benchfs::faults::rss_kib(server)) / 1024.0,
                           benchfs::faults::fd_count(server), benchfs::faults::established_on_port(port)});
        std::printf("sample t=%5.1fs server_rss=%6.1f MiB fds=%zu client_connections=%zu\n",
                    samples.back().t_s, samples.back().rss_mib, samples.back().fds, samples.back().conns);
        std::fflush(stdout);
      }
      next += interval_s * 1e3;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  if (!job.running() || benchfs::faults::rss_kib(server) == 0) {
    ADD_FAILURE() << "the server died under load";
    const std::string log = job.log();
    std::printf("---- server log ----\n%s\n---- end ----\n", log.c_str());
    const size_t a = log.find("Assertion");
    reliability(
        "load", fmt("%d connections vs 1 server, --client-capacity %d", connections, kCapacity), false,
        "server aborted under load: " +
            (a == std::string::npos ? std::string("see its log") : log.substr(a, log.find('\n', a) - a)));
    return;
  }
  // Per-process summaries.
  nlohmann::json sum = nlohmann::json::object();
  for (int i = 0; i < processes; ++i) {
    Process& c = *clients[static_cast<size_t>(i)];
    const int rc = c.wait_exit(1000);
    EXPECT_EQ(rc, 0) << "load client " << i << ":\n" << c.output();
    const auto lines = c.lines("LOAD ");
    ASSERT_EQ(lines.size(), 1u) << c.output();
    const auto j = nlohmann::json::parse(lines[0].substr(5), nullptr, false);
    ASSERT_TRUE(j.is_object()) << lines[0];
    for (const auto& [k, v] : j.items()) sum[k] = sum.value(k, uint64_t{0}) + v.get<uint64_t>();
  }
  std::printf("clients: %s\n", sum.dump().c_str());
  ASSERT_EQ(job.terminate(30000), 0) << job.log();
  const auto stats = job.stats(0);
  ASSERT_TRUE(stats.is_object()) << "no server stats";
  const auto& reg = stats["registry"];
  std::printf("server registry: %s\nserver connections: accepted %lu\n", reg.dump().c_str(),
              static_cast<unsigned long>(stats["connections"].value("accepted", uint64_t{0})));

  const uint64_t errors = sum.value("errors", uint64_t{1});
  const uint64_t mismatches = sum.value("mismatches", uint64_t{1});
  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(sum.value("reads", uint64_t{0}), 0u);
  EXPECT_GT(sum.value("writes", uint64_t{0}), 0u);
  EXPECT_GT(sum.value("pings", uint64_t{0}), 0u);
  EXPECT_GT(sum.value("stats", uint64_t{0}), 0u);
  // With 64 connections and room for 16, eviction must have happened.
  if (connections > kCapacity) {
    EXPECT_GT(reg.value("evictions", uint64_t{0}), 0u);
  }
  EXPECT_EQ(stats.value("decode_errors", uint64_t{1}), 0u);

  // Stability: from the first sample after warm-up to the last.
  ASSERT_GE(samples.size(), 3u);
  const double warmup_s = std::min(10.0, seconds / 4.0);
  const auto first =
      std::find_if(samples.begin(), samples.end(), [&](const Sample& s) { return s.t_s >= warmup_s; });
  ASSERT_NE(first, samples.end());
  const Sample& last = samples.back();
  const double rss_bound = first->rss_mib * 1.2 + 16;
  EXPECT_LE(last.rss_mib, rss_bound) << "server RSS grew from " << first->rss_mib << " MiB at " << first->t_s
                                     << " s to " << last.rss_mib << " MiB at " << last.t_s << " s";
  const size_t fd_bound = first->fds + first->fds / 5 + 32;
  EXPECT_LE(last.fds, fd_bound) << "server descriptors grew from " << first->fds << " to " << last.fds;
  size_t max_conns = 0;
  double max_rss = 0;
  for (auto it = first; it != samples.end(); ++it) {
    max_conns = std::max(max_conns, it->conns);
    max_rss = std::max(max_rss, it->rss_mib);
  }
  // Never more than one connection per client engine, plus the evicted ones
  // still closing.
  EXPECT_LE(max_conns, static_cast<size_t>(connections + kCapacity));

  reliability(
      "load",
      fmt("%d connections (%d processes x %d threads) vs 1 server, --client-capacity %d, %d s, mixed "
          "ping/write/read/stat",
          connections, processes, threads, kCapacity, seconds),
      !::testing::Test::HasFailure(),
      fmt("%lu ops (%lu pings, %lu writes, %lu reads = %.0f MiB verified, %lu stats), %lu errors, %lu "
          "mismatches, %lu eviction retries, %lu server evictions; server RSS %.1f MiB after warm-up "
          "-> %.1f MiB at the end (max %.1f), fds %zu -> %zu, client connections %zu -> %zu (max %zu)",
          static_cast<unsigned long>(sum.value("ops", uint64_t{0})),
          static_cast<unsigned long>(sum.value("pings", uint64_t{0})),
          static_cast<unsigned long>(sum.value("writes", uint64_t{0})),
          static_cast<unsigned long>(sum.value("reads", uint64_t{0})),
          static_cast<double>(sum.value("verified_bytes", uint64_t{0})) / (1 << 20),
          static_cast<unsigned long>(sum.value("stats", uint64_t{0})), static_cast<unsigned long>(errors),
          static_cast<unsigned long>(mismatches),
          static_cast<unsigned long>(sum.value("evict_retries", uint64_t{0})),
          static_cast<unsigned long>(reg.value("evictions", uint64_t{0})), first->rss_mib, last.rss_mib,
          max_rss, first->fds, last.fds, first->conns, last.conns, max_conns));
}
