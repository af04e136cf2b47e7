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
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
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

// Where the threads meet: created -> (start file) -> connected -> go.
class Phases {
 public:
  explicit Phases(int threads) : threads_(threads) {}
  // A thread is done with the phase before `until`: counts it in and waits
  // for the main thread to open `until`.
  void arrive(int& counter, const bool& until) {
    std::unique_lock<std::mutex> lock(mu_);
    ++counter;
    cv_.notify_all();
    cv_.wait(lock, [&] { return until; });
  }
  void wait_all(const int& counter) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return counter == threads_; });
  }
  void open(bool& flag) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      flag = true;
    }
    cv_.notify_all();
  }
  int created = 0, connected = 0;
  bool connect_now = false, go = false;

 private:
  const int threads_;
  std::mutex mu_;
  std::condition_variable cv_;
};

// Parses the command line. Returns an exit code >= 0 to exit with, -1 to go on.
int parse_args(int argc, char** argv, Args& args) {
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (args.threads < 1 || args.rounds < 0 || args.hold_ms < 0) {
    std::fprintf(stderr, "benchfs_conns: --threads must be >= 1, --rounds and --hold-ms >= 0\n");
    return 64;
  }
  return -1;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Sleeps until `path` exists ("" = never) or `until` has passed.
void wait_for_file(const std::string& path, std::chrono::steady_clock::time_point until) {
  while ((path.empty() || ::access(path.c_str(), F_OK) != 0) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

ClientStats sum_stats(const std::vector<std::unique_ptr<FileSystem>>& fss) {
  ClientStats sum;
  for (const auto& fs : fss) {
    if (!fs) continue;
    const ClientStats s = fs->client().stats();
    sum.reconnects += s.reconnects;
    sum.retries += s.retries;
    sum.timeouts += s.timeouts;
    sum.close_notifications += s.close_notifications;
  }
  return sum;
}

// One thread's life: its own client, connected with the others at once,
// then its rounds.
void client_thread(int i, const Args& args, const ClientOptions& opts, Phases& ph, Totals& t,
                   std::unique_ptr<FileSystem>& slot) {
  auto c = Client::create(opts);
  if (count(t, i, "create", status_of(c))) slot = std::make_unique<FileSystem>(std::move(*c));
  ph.arrive(ph.created, ph.connect_now);
  FileSystem* fs = slot.get();
  if (fs != nullptr) count(t, i, "connect", fs->client().connect_all());
  ph.arrive(ph.connected, ph.go);
  if (fs == nullptr) return;
  const std::string path = "/conns-" + args.tag + "-" + std::to_string(i);
  for (int n = 0; n < args.rounds; ++n) round_trip(t, i, *fs, path, static_cast<uint64_t>(n));
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (int rc = parse_args(argc, argv, args); rc >= 0) return rc;
  (void)benchfs::init_logging("benchfs_conns");
  auto env = benchfs::client::options_from_env();
  if (!env) {
    std::fprintf(stderr, "benchfs_conns: %s\n", env.status().to_string().c_str());
    return 2;
  }
  ClientOptions opts = std::move(*env);
  if (!args.registry.empty()) opts.registry = args.registry;

  std::vector<std::unique_ptr<FileSystem>> fss(static_cast<size_t>(args.threads));
  Totals t;
  Phases ph(args.threads);
  std::vector<std::thread> ts;
  ts.reserve(static_cast<size_t>(args.threads));
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < args.threads; ++i)
    ts.emplace_back(client_thread, i, std::cref(args), std::cref(opts), std::ref(ph), std::ref(t),
                    std::ref(fss[static_cast<size_t>(i)]));
  ph.wait_all(ph.created);
  std::printf("CREATED {\"threads\":%d,\"create_ms\":%.1f}\n", args.threads, ms_since(t0));
  std::fflush(stdout);
  // Every process connects at once (a job's ranks connecting at start):
  // the script creates the start file once all have printed CREATED.
  if (!args.start_file.empty()) wait_for_file(args.start_file, std::chrono::steady_clock::time_point::max());
  const auto t1 = std::chrono::steady_clock::now();
  ph.open(ph.connect_now);
  ph.wait_all(ph.connected);
  const double connect_ms = ms_since(t1);
  std::printf("CONNECTED {\"threads\":%d,\"connect_ms\":%.1f,\"errors\":%lu}\n", args.threads, connect_ms,
              t.errors.load());
  std::fflush(stdout);
  // Idle for --hold-ms, or until the release file appears.
  wait_for_file(args.release_file,
                std::chrono::steady_clock::now() + std::chrono::milliseconds(args.hold_ms));
  const auto t2 = std::chrono::steady_clock::now();
  ph.open(ph.go);
  for (auto& th : ts) th.join();
  const double calls_ms = ms_since(t2);
  const ClientStats sum = sum_stats(fss);
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
