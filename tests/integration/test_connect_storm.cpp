// Connect storm: thousands of connect / register / ping / disconnect cycles
// against a server with 2 progress threads. Every connection request is
// handed from the listener's worker to a progress thread's worker, the path
// on which UCX 1.13 aborts with UCS_THREAD_MODE_SINGLE workers (DESIGN.md
// section 10). Cycles: BENCHFS_STORM_CYCLES (default 5000, as in CI).

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "benchfs/core/clock.hpp"
#include "harness.hpp"

using namespace benchfs;
using benchfs::test::JobOptions;
using benchfs::test::RawClient;
using benchfs::test::ServerJob;
using benchfs::test::TempDir;

namespace {}  // namespace

TEST(ConnectStorm, ThousandsOfHandOffsWithoutAServerAbort) {
  TempDir dir("benchfs-storm");
  JobOptions opts;
  opts.ranks = 1;
  opts.threads = 2;
  opts.extra_args = {"--client-capacity", "64"};
  for (const char* extra : {"BENCHFS_STORM_SERVER_ARGS"}) {
    if (const char* v = std::getenv(extra)) opts.extra_args.push_back(v);
  }
  ServerJob job(dir.path(), opts);
  ASSERT_JOB_READY(job);
  const auto list = job.servers();
  const uint16_t port = list.servers[0].port;

  const int cycles = benchfs::test::env_positive_int("BENCHFS_STORM_CYCLES", 5000);
  constexpr int kClients = 2;  // two connecting processes' worth of load, as threads
  std::atomic<int> done{0};
  std::atomic<int> failures{0};
  std::atomic<bool> stop{false};
  const uint64_t t0 = now_ns();
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      // UCX 1.13 keeps the socket of a client-closed endpoint until its worker
      // is destroyed: a fresh client (worker) every few hundred cycles keeps
      // this process's descriptors bounded.
      auto raw_ptr = std::make_unique<RawClient>();
      int mine = 0;
      int consecutive_failures = 0;
      while (!stop.load()) {
        const int n = done.fetch_add(1);
        if (n >= cycles) break;
        if (++mine % 250 == 0) raw_ptr = std::make_unique<RawClient>();
        RawClient& raw = *raw_ptr;
        Status st = raw.connect("127.0.0.1", port);
        uint64_t session = 0;
        if (st) st = raw.register_client("storm-" + std::to_string(c), list.info.secret, &session);
        if (st) {
          wire::Request ping;
          ping.op = wire::Op::kPing;
          ping.length = 8;
          auto r = raw.call(ping, "pingpong", 8);
          if (!r || r->status != 0) st = Status(EIO, "ping failed");
        }
        raw.close();
        if (!st) {
          if (failures.fetch_add(1) < 5) ADD_FAILURE() << "cycle " << n << ": " << st.to_string();
          if (++consecutive_failures >= 20) stop = true;  // the server is gone: stop hammering
        } else {
          consecutive_failures = 0;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs = static_cast<double>(now_ns() - t0) / 1e9;
  std::printf("connect storm: %d cycles in %.1f s (%.2f ms per cycle), %d failures\n", cycles, secs,
              secs * 1000.0 / cycles, failures.load());

  ASSERT_TRUE(job.running()) << "server died during the storm:\n" << job.log();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_EQ(job.terminate(20000), 0) << job.log();
  EXPECT_EQ(job.log().find("Assertion"), std::string::npos) << job.log();
  auto j = job.stats(0);
  ASSERT_TRUE(j.is_object());
  const auto& per = j["connections"]["per_thread"];
  uint64_t accepted = 0;
  for (const auto& t : per) {
    EXPECT_GT(t["accepted"].get<uint64_t>(), static_cast<uint64_t>(cycles) / 4) << "hand-offs not spread";
    accepted += t["accepted"].get<uint64_t>();
  }
  EXPECT_EQ(accepted, static_cast<uint64_t>(cycles));
  EXPECT_EQ(j["ops"]["register_client"]["count"].get<uint64_t>(), static_cast<uint64_t>(cycles));
}
