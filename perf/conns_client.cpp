// benchfs_conns: many client connections from one process, for
// perf/connections.sh. THREADS threads, each with a client engine of its own
// (its own UCX worker, endpoint and client id: one connection to the server
// per thread), are created (CREATED line), wait for --start-file if given,
// then connect at once; when all are connected the process prints
//   CONNECTED {"threads":..,"connect_ms":..}
// and the connections stay open and idle for --hold-ms (the script samples
// the server's memory and descriptors meanwhile). Then every thread runs
// --rounds rounds of ping, create O_EXCL + pwrite + pread (checked) + stat +
// unlink of a file of its own, with no retries of its own: a failed call is
// an error (the engine recovers evictions by itself). At the end
//   CONNS {"threads":..,"calls":..,"errors":..,"mismatches":..,...}
// and exit 0 only when errors and mismatches are 0. The registry comes from
// BENCHFS_REGISTRY (as for every client), or --registry.
//
//   benchfs_conns --threads 64 --rounds 20 --hold-ms 3000 --tag p0

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "benchfs/client/engine.hpp"
#include "benchfs/client/fs.hpp"
#include "benchfs/core/clock.hpp"
#include "benchfs/core/log.hpp"

namespace {

using benchfs::Status;
using benchfs::client::Client;
using benchfs::client::ClientOptions;
using benchfs::client::ClientStats;
using benchfs::client::FileSystem;

struct Args {
  int threads = 64;
  int rounds = 20;
  int hold_ms = 3000;
  std::string tag = "c";
  std::string registry;
  std::string start_file;
  std::string release_file;
};

struct Totals {
  std::atomic<uint64_t> calls{0}, errors{0}, mismatches{0};
};

std::mutex g_print_mu;
int g_printed = 0;

// Counts one call; a failure is an error (the first 20 are printed).
bool count(Totals& t, int thread, const char* op, const Status& st) {
  t.calls.fetch_add(1, std::memory_order_relaxed);
  if (st.is_ok()) return true;
  t.errors.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(g_print_mu);
  if (g_printed++ < 20)
    std::fprintf(stderr, "benchfs_conns thread %d: %s: %s\n", thread, op, st.to_string().c_str());
  return false;
}

template <class R>
Status status_of(const R& r) {
  return r ? Status() : r.status();
}

// One round: every call must succeed, the data must come back as written.
void round_trip(Totals& t, int thread, FileSystem& fs, const std::string& path, uint64_t n) {
  char buf[4096], back[4096];
  for (size_t i = 0; i < sizeof buf; ++i)
    buf[i] = static_cast<char>((n * 131 + i * 7 + static_cast<size_t>(thread)) & 0xff);
  if (!count(t, thread, "ping", fs.client().ping(0, buf, 64, back))) return;
  if (std::memcmp(buf, back, 64) != 0) t.mismatches.fetch_add(1);
  auto fd = fs.open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
  if (!count(t, thread, "create O_EXCL", status_of(fd))) return;
  auto w = fs.pwrite(*fd, buf, sizeof buf, 0);
  if (count(t, thread, "pwrite", status_of(w)) && *w != sizeof buf) t.mismatches.fetch_add(1);
  auto r = fs.pread(*fd, back, sizeof back, 0);
  if (count(t, thread, "pread", status_of(r)) &&
      (*r != sizeof back || std::memcmp(buf, back, sizeof buf) != 0))
    t.mismatches.fetch_add(1);
  count(t, thread, "close", fs.close(*fd));
  auto a = fs.stat(path);
  if (count(t, thread, "stat", status_of(a)) && a->size != sizeof buf) t.mismatches.fetch_add(1);
  count(t, thread, "unlink", fs.unlink(path));
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  CLI::App app{"Many client connections from one process (perf/connections.sh)"};
  app.add_option("--threads", args.threads, "Threads, each with its own connection")->capture_default_str();
  app.add_option("--rounds", args.rounds, "Rounds of calls per thread after the hold")->capture_default_str();
  app.add_option("--hold-ms", args.hold_ms, "How long the connections stay idle once all are connected")
      ->capture_default_str();
  app.add_option("--tag", args.tag, "Distinguishes this process's file names")->capture_default_str();
  app.add_option("--registry", args.registry, "Registry directory (env BENCHFS_REGISTRY)");
  app.add_option("--start-file", args.start_file,
                 "Once every client is created, wait for this file before connecting (to line processes up)");
  app.add_option("--release-file", args.release_file, "End the hold early once this file exists");
  CLI11_PARSE(app, argc, argv);
  if (args.threads < 1 || args.rounds < 0 || args.hold_ms < 0) {
    std::fprintf(stderr, "benchfs_conns: --threads must be >= 1, --rounds and --hold-ms >= 0\n");
    return 64;
  }
  (void)benchfs::init_logging("benchfs_conns");
  auto env = benchfs::client::options_from_env();
  if (!env) {
    std::fprintf(stderr, "benchfs_conns: %s\n", env.status().to_string().c_str());
    return 2;
  }
  ClientOptions opts = std::move(*env);
  if (!args.registry.empty()) opts.registry = args.registry;

  // Threads meet at each phase: created -> (start file) -> connected -> go.
  std::vector<std::unique_ptr<FileSystem>> fss(static_cast<size_t>(args.threads));
  Totals t;
  std::mutex mu;
  std::condition_variable cv;
  int created = 0, connected = 0;
  bool connect_now = false, go = false;
  auto arrive = [&](int& counter, const bool& until) {
    std::unique_lock<std::mutex> lock(mu);
    ++counter;
    cv.notify_all();
    cv.wait(lock, [&] { return until; });
  };
  auto wait_all = [&](const int& counter) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return counter == args.threads; });
  };
  auto release = [&](bool& flag) {
    {
      std::lock_guard<std::mutex> lock(mu);
      flag = true;
    }
    cv.notify_all();
  };
  std::vector<std::thread> ts;
  ts.reserve(static_cast<size_t>(args.threads));
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < args.threads; ++i) {
    ts.emplace_back([&, i] {
      auto c = Client::create(opts);
      if (count(t, i, "create", status_of(c)))
        fss[static_cast<size_t>(i)] = std::make_unique<FileSystem>(std::move(*c));
      arrive(created, connect_now);
      FileSystem* fs = fss[static_cast<size_t>(i)].get();
      if (fs != nullptr) count(t, i, "connect", fs->client().connect_all());
      arrive(connected, go);
      if (fs == nullptr) return;
      const std::string path = "/conns-" + args.tag + "-" + std::to_string(i);
      for (int n = 0; n < args.rounds; ++n) round_trip(t, i, *fs, path, static_cast<uint64_t>(n));
    });
  }
  wait_all(created);
  const double create_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("CREATED {\"threads\":%d,\"create_ms\":%.1f}\n", args.threads, create_ms);
  std::fflush(stdout);
  // Every process connects at once (a job's ranks connecting at start):
  // the script creates the start file once all have printed CREATED.
  while (!args.start_file.empty() && ::access(args.start_file.c_str(), F_OK) != 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto t1 = std::chrono::steady_clock::now();
  release(connect_now);
  wait_all(connected);
  const double connect_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  std::printf("CONNECTED {\"threads\":%d,\"connect_ms\":%.1f,\"errors\":%lu}\n", args.threads, connect_ms,
              t.errors.load());
  std::fflush(stdout);
  // Idle for --hold-ms, or until the release file appears.
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(args.hold_ms);
       std::chrono::steady_clock::now() < until &&
       (args.release_file.empty() || ::access(args.release_file.c_str(), F_OK) != 0);)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto t2 = std::chrono::steady_clock::now();
  release(go);
  for (auto& th : ts) th.join();
  const double calls_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t2).count();
  ClientStats sum;
  for (auto& fs : fss) {
    if (!fs) continue;
    const ClientStats s = fs->client().stats();
    sum.reconnects += s.reconnects;
    sum.retries += s.retries;
    sum.timeouts += s.timeouts;
    sum.close_notifications += s.close_notifications;
  }
  fss.clear();
  std::printf(
      "CONNS "
      "{\"threads\":%d,\"rounds\":%d,\"calls\":%lu,\"errors\":%lu,\"mismatches\":%lu,\"connect_ms\":%.1f,"
      "\"calls_ms\":%.1f,\"reconnects\":%lu,\"engine_retries\":%lu,\"timeouts\":%lu,\"close_notifications\":%"
      "lu}\n",
      args.threads, args.rounds, t.calls.load(), t.errors.load(), t.mismatches.load(), connect_ms, calls_ms,
      sum.reconnects, sum.retries, sum.timeouts, sum.close_notifications);
  std::fflush(stdout);
  return t.errors.load() == 0 && t.mismatches.load() == 0 ? 0 : 1;
}
