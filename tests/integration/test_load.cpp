// Load (issue 5): 64 client connections (8 load_client processes x 8
// threads, each thread its own client engine and connection) against one
// server with --client-capacity 16, for BENCHFS_LOAD_SECONDS (default 30):
// mixed ping / pwrite+fsync / pread / stat / create-exclusive / rename /
// unlink / mkdir / rmdir, every echo, read, size and namespace effect
// checked. The server (--client-idle-ms 0) evicts all the time; the clients
// do not retry: every call must succeed, recovered by the engine (issue 13),
// and every namespace change take effect exactly once. The server's RSS, open descriptors and client
// connections are sampled from /proc and must be as high at the end as after
// warm-up, no higher (within a bound). Prints one "RELIABILITY:" line.
//
// BENCHFS_LOAD_SECONDS=300 ctest -R Load --output-on-failure   (by hand)

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.hpp"
#include "harness.hpp"

using namespace benchfs::faults;
using namespace benchfs::test;

namespace {

#if defined(__SANITIZE_ADDRESS__)
// ASan holds freed memory in its quarantine (256 MiB by default) before
// reusing it, so the server's RSS climbs by that much over the run; leaks
// are LeakSanitizer's to find at the server's exit.
constexpr double kAllocatorSlackMib = 320;
#elif defined(__SANITIZE_THREAD__)
// TSan's shadow and access-history memory grow with the run as well.
constexpr double kAllocatorSlackMib = 128;
#else
constexpr double kAllocatorSlackMib = 0;
#endif

struct Sample {
  double t_s;
  double rss_mib;
  size_t sockets;
  size_t conns;
};

}  // namespace

// This test found two server aborts inside UCX 1.13 under constant eviction
// (~500 per second here), both worked around in the server:
//  - "ucp_ep.c:437 Assertion `ucs_hlist_is_empty(...proto_reqs)' failed"
//    within a second: a client's disconnect completed the server's close of
//    its endpoint while UCX still tracked a request of it. The server closes
//    an endpoint only once no request of it is in flight and after a grace
//    for UCX's own acknowledgements (ProgressThread::close_conn).
//  - "async.c:643 Assertion `handler->async == async' failed" in
//    __ucs_async_poll_missed, in most 10-second runs: a missed socket event
//    dispatched to a handler of another worker (a closed descriptor's number
//    reused by another worker's connection). UCX's bug, fixed upstream by
//    openucx/ucx PR #9942 (UCX 1.18); benchfsd_mt holds closed socket
//    numbers for a second (server/src/fd_quarantine.hpp).
TEST(Load, SixtyFourConnectionsAgainstCapacitySixteen) {
  const int seconds = env_positive_int("BENCHFS_LOAD_SECONDS", 20);
  const int processes = env_positive_int("BENCHFS_LOAD_PROCESSES", 8);
  const int threads = env_positive_int("BENCHFS_LOAD_THREADS", 8);
  const int connections = processes * threads;
  constexpr int kCapacity = 16;

  TempDir dir("benchfs-load");
  JobOptions opts;
  opts.ranks = 1;
  opts.threads = 2;
  // --client-idle-ms 0: a connection is evictable whenever nothing of it is
  // in flight, so with 64 connections and room for 16 the server evicts all
  // the time, and every call of the clients (which do not retry) must be
  // recovered by the engine.
  opts.extra_args = {
      "--client-capacity", std::to_string(kCapacity), "--client-idle-ms", "0", "--chunk-size", "64k"};
  ServerJob job(dir.path(), opts);
  ASSERT_JOB_READY(job);
  const auto pids = job.server_pids();
  ASSERT_EQ(pids.size(), 1u);
  const pid_t server = pids[0];
  const uint16_t port = job.servers().servers.at(0).port;
  const size_t idle_sockets = benchfs::faults::socket_count(server);

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
                           benchfs::faults::socket_count(server),
                           benchfs::faults::established_on_port(port)});
        std::printf("sample t=%5.1fs server_rss=%6.1f MiB sockets=%zu client_connections=%zu\n",
                    samples.back().t_s, samples.back().rss_mib, samples.back().sockets, samples.back().conns);
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
    for (const auto& [k, v] : j.items()) {
      const uint64_t have = sum.value(k, uint64_t{0});
      sum[k] = have + v.get<uint64_t>();
    }
    if (j.value("errors", uint64_t{0}) != 0) std::printf("load client %d:\n%s\n", i, c.output().c_str());
  }
  // Every client has exited: the server must close all their endpoints and
  // sockets on its own, back to what it held before the first client.
  const double drain_t0 = mono_ms();
  size_t conns_left = 0;
  size_t sockets_left = 0;
  for (;;) {
    conns_left = benchfs::faults::established_on_port(port);
    sockets_left = benchfs::faults::socket_count(server);
    if ((conns_left == 0 && sockets_left <= idle_sockets) || mono_ms() - drain_t0 > 10000) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double drain_ms = mono_ms() - drain_t0;
  EXPECT_EQ(conns_left, 0u) << "client connections still open 10 s after the last client exited";
  EXPECT_LE(sockets_left, idle_sockets) << "server sockets: " << idle_sockets << " before the clients, "
                                        << sockets_left << " 10 s after they exited";
  std::printf("clients: %s\n", sum.dump().c_str());
  ASSERT_EQ(job.terminate(30000), 0) << job.log();
  const auto stats = job.stats(0);
  ASSERT_TRUE(stats.is_object()) << "no server stats";
  const auto& reg = stats["registry"];
  std::printf(
      "server registry: %s\nserver connections: accepted %lu; requests answered ENOTCONN after their "
      "connection was dropped: %lu\n",
      reg.dump().c_str(), static_cast<unsigned long>(stats["connections"].value("accepted", uint64_t{0})),
      static_cast<unsigned long>(stats.value("after_close", uint64_t{0})));

  const uint64_t errors = sum.value("errors", uint64_t{1});
  const uint64_t mismatches = sum.value("mismatches", uint64_t{1});
  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(sum.value("reads", uint64_t{0}), 0u);
  EXPECT_GT(sum.value("writes", uint64_t{0}), 0u);
  EXPECT_GT(sum.value("pings", uint64_t{0}), 0u);
  EXPECT_GT(sum.value("stats", uint64_t{0}), 0u);
  EXPECT_GT(sum.value("renames", uint64_t{0}), 0u);
  EXPECT_GT(sum.value("engine_retries", uint64_t{0}), 0u)
      << "no call needed recovering: the test tests nothing";
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
  const double rss_bound = first->rss_mib * 1.2 + 16 + kAllocatorSlackMib;
  EXPECT_LE(last.rss_mib, rss_bound) << "server RSS grew from " << first->rss_mib << " MiB at " << first->t_s
                                     << " s to " << last.rss_mib << " MiB at " << last.t_s << " s";
  const size_t socket_bound = first->sockets + first->sockets / 5 + 32;
  EXPECT_LE(last.sockets, socket_bound)
      << "server sockets grew from " << first->sockets << " to " << last.sockets;
  size_t max_conns = 0;
  double max_rss = 0;
  for (auto it = first; it != samples.end(); ++it) {
    max_conns = std::max(max_conns, it->conns);
    max_rss = std::max(max_rss, it->rss_mib);
  }
  // One connection per client engine, plus the evicted ones still closing
  // (each waits for its requests and a 20 ms grace): far below a leak's
  // growth.
  EXPECT_LE(max_conns, static_cast<size_t>(2 * connections));

  reliability(
      "load",
      fmt("%d connections (%d processes x %d threads) vs 1 server, --client-capacity %d, %d s, mixed "
          "ping/write/read/stat/create-excl/rename/unlink/mkdir/rmdir, no application retries",
          connections, processes, threads, kCapacity, seconds),
      !::testing::Test::HasFailure(),
      fmt("%lu ops (%lu pings, %lu writes, %lu reads = %.0f MiB verified, %lu stats, %lu namespace rounds), "
          "%lu errors, %lu mismatches, %lu engine recoveries, %lu server evictions, %lu at-most-once repeats "
          "answered from the reply cache; server RSS %.1f "
          "MiB after warm-up "
          "-> %.1f MiB at the end (max %.1f), sockets %zu -> %zu, client connections %zu -> %zu (max %zu); "
          "after the clients exited, "
          "connections %zu and sockets %zu (%zu before the clients) in %.0f ms",
          static_cast<unsigned long>(sum.value("ops", uint64_t{0})),
          static_cast<unsigned long>(sum.value("pings", uint64_t{0})),
          static_cast<unsigned long>(sum.value("writes", uint64_t{0})),
          static_cast<unsigned long>(sum.value("reads", uint64_t{0})),
          static_cast<double>(sum.value("verified_bytes", uint64_t{0})) / (1 << 20),
          static_cast<unsigned long>(sum.value("stats", uint64_t{0})),
          static_cast<unsigned long>(sum.value("renames", uint64_t{0})), static_cast<unsigned long>(errors),
          static_cast<unsigned long>(mismatches),
          static_cast<unsigned long>(sum.value("engine_retries", uint64_t{0})),
          static_cast<unsigned long>(reg.value("evictions", uint64_t{0})),
          static_cast<unsigned long>(stats.value("once_repeats", uint64_t{0})), first->rss_mib, last.rss_mib,
          max_rss, first->sockets, last.sockets, first->conns, last.conns, max_conns, conns_left,
          sockets_left, idle_sockets, drain_ms));
}
