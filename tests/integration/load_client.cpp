// load_client: one process of the load test (test_load.cpp). THREADS
// threads, each with its own client engine (its own UCX worker, endpoint and
// client id: one connection to the server per thread), run a mixed stream of
// ping / pwrite+fsync / pread / stat on a file of their own for SECONDS,
// checking every echo, every read (against a model of the file's contents)
// and every size. The registry comes from BENCHFS_REGISTRY.
//
// plus namespace changes that must take effect exactly once: a create with
// O_EXCL of a fresh name, a rename of it, an unlink, a mkdir and an rmdir.
//
// There are no retries here: the server evicts connections all the time
// (the test runs it with --client-capacity below the connection count and
// --client-idle-ms 0), and the engine must recover every call by itself
// (reconnect, re-register, send again; at-most-once for the namespace
// changes). Any failed call is an error; so is a namespace change that took
// effect twice (EEXIST / ENOENT from its own retry) or not at all. At the
// end one line:
//   LOAD {"threads":..,"ops":..,"errors":..,"mismatches":..,...}
// and exit 0 only when errors and mismatches are 0.
//
//   load_client THREADS SECONDS TAG

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "benchfs/client/engine.hpp"
#include "benchfs/client/fs.hpp"
#include "benchfs/core/log.hpp"
#include "fault_common.hpp"

using benchfs::Result;
using benchfs::Status;
using namespace benchfs::client;
using namespace benchfs::faults;

namespace {

constexpr size_t kFileMax = 256 * 1024;  // each thread's file stays within this
constexpr size_t kWriteSizes[] = {100, 4096, 20000, 65536 + 123, 150000};

struct Totals {
  std::atomic<uint64_t> ops{0}, pings{0}, writes{0}, reads{0}, stats{0}, renames{0}, dirs{0};
  std::atomic<uint64_t> verified_bytes{0}, errors{0}, mismatches{0};
  std::atomic<uint64_t> reconnects{0}, close_notifications{0}, engine_retries{0}, timeouts{0},
      endpoint_errors{0};
};

std::mutex g_print_mu;
int g_printed = 0;

void report_error(int thread, const char* op, const Status& st) {
  std::lock_guard<std::mutex> lock(g_print_mu);
  if (g_printed++ < 20)
    std::fprintf(stderr, "thread %d: %s failed: %s (%s)\n", thread, op, errno_name(st.err()).c_str(),
                 st.to_string().c_str());
}

// Runs f (returning Status or Result) once; a failure is an error.
template <class F>
auto checked(Totals& t, int thread, const char* op, F&& f) -> decltype(f()) {
  auto r = f();
  Status st;
  if constexpr (std::is_same_v<decltype(r), Status>) {
    st = r;
  } else {
    if (!r) st = r.status();
  }
  if (!st.is_ok()) {
    t.errors.fetch_add(1, std::memory_order_relaxed);
    report_error(thread, op, st);
  }
  return r;
}

// A namespace round: every step must succeed exactly once. A step that ran
// twice fails with EEXIST or ENOENT here; one that ran not at all shows in
// the stats afterwards.
void namespace_round(Totals& t, int index, FileSystem& fs, const std::string& base, uint64_t n) {
  const std::string a = base + "-x" + std::to_string(n);
  const std::string b = base + "-y" + std::to_string(n);
  auto fd = checked(t, index, "create O_EXCL", [&] { return fs.open(a, O_WRONLY | O_CREAT | O_EXCL, 0644); });
  if (!fd) return;
  checked(t, index, "close", [&] { return fs.close(*fd); });
  if (!checked(t, index, "rename", [&] { return fs.rename(a, b); })) return;
  if (fs.stat(a).ok() || !fs.stat(b).ok()) {
    t.mismatches.fetch_add(1);
    report_error(index, "rename effect", Status(EIO, "source still there or destination missing"));
  }
  if (!checked(t, index, "unlink", [&] { return fs.unlink(b); })) return;
  if (fs.stat(b).ok()) {
    t.mismatches.fetch_add(1);
    report_error(index, "unlink effect", Status(EIO, b + " still there"));
  }
  const std::string d = base + "-d" + std::to_string(n);
  if (!checked(t, index, "mkdir", [&] { return fs.mkdir(d, 0755); })) return;
  checked(t, index, "rmdir", [&] { return fs.rmdir(d); });
  t.renames.fetch_add(1, std::memory_order_relaxed);
  t.dirs.fetch_add(1, std::memory_order_relaxed);
}

void run_thread(int index, FileSystem& fs, const std::string& path, double deadline_ms, Totals& t) {
  std::mt19937_64 rng(std::random_device{}() ^ (static_cast<uint64_t>(index) << 32));
  auto fd_r = checked(t, index, "open", [&] { return fs.open(path, O_RDWR | O_CREAT | O_TRUNC, 0644); });
  if (!fd_r) return;
  const int fd = *fd_r;
  std::vector<uint8_t> model;  // the file's contents as written so far
  std::vector<uint8_t> known;  // 0 where a failed write may or may not have landed
  std::vector<uint8_t> buf(kFileMax), back(kFileMax);
  uint64_t generation = static_cast<uint64_t>(index) << 40;
  while (mono_ms() < deadline_ms) {
    t.ops.fetch_add(1, std::memory_order_relaxed);
    switch (rng() % 5) {
      case 0: {  // ping with a payload, echo checked
        const size_t len = rng() % 8192;
        fill_pattern(buf.data(), len, ++generation, 0);
        if (!checked(t, index, "ping", [&] { return fs.client().ping(0, buf.data(), len, back.data()); }))
          break;
        t.pings.fetch_add(1, std::memory_order_relaxed);
        if (std::memcmp(buf.data(), back.data(), len) != 0) t.mismatches.fetch_add(1);
        break;
      }
      case 1: {  // pwrite of fresh data, then fsync (publishes the size)
        const size_t len = kWriteSizes[rng() % std::size(kWriteSizes)];
        const uint64_t off = rng() % (kFileMax - len + 1);
        fill_pattern(buf.data(), len, ++generation, off);
        auto n = checked(t, index, "pwrite",
                         [&] { return fs.pwrite(fd, buf.data(), len, static_cast<int64_t>(off)); });
        if (known.size() < off + len) known.resize(off + len, 1);
        if (!n || *n != len) {
          // Counted as an error; the range is unknown from now on (also past
          // the size, where a later write may expose it), so that one
          // failure does not show up again in every later read.
          if (n) t.errors.fetch_add(1);
          std::memset(known.data() + off, 0, len);
          break;
        }
        if (model.size() < off + len) model.resize(off + len, 0);
        std::memcpy(model.data() + off, buf.data(), len);
        std::memset(known.data() + off, 1, len);
        if (!checked(t, index, "fsync", [&] { return fs.fsync(fd); })) break;
        t.writes.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      case 2: {  // pread, checked against the model (zeros where never written)
        if (model.empty()) break;
        const uint64_t off = rng() % model.size();
        const size_t len = std::min<size_t>(1 + rng() % 160000, model.size() - off);
        auto n = checked(t, index, "pread",
                         [&] { return fs.pread(fd, back.data(), len, static_cast<int64_t>(off)); });
        if (!n) break;
        t.reads.fetch_add(1, std::memory_order_relaxed);
        bool same = *n == len;
        for (size_t i = 0; same && i < len; ++i) same = known[off + i] == 0 || back[i] == model[off + i];
        if (!same) {
          t.mismatches.fetch_add(1);
          report_error(index, "pread verify", Status(EIO, "data differs from what was written"));
        } else {
          t.verified_bytes.fetch_add(len, std::memory_order_relaxed);
        }
        break;
      }
      case 3:
        namespace_round(t, index, fs, path, ++generation);
        break;
      default: {  // stat: the size the last fsync published
        auto a = checked(t, index, "stat", [&] { return fs.stat(path); });
        if (!a) break;
        t.stats.fetch_add(1, std::memory_order_relaxed);
        if (a->size != model.size()) {
          t.mismatches.fetch_add(1);
          report_error(
              index, "stat size",
              Status(EIO, "size " + std::to_string(a->size) + ", expected " + std::to_string(model.size())));
        }
        break;
      }
    }
  }
  checked(t, index, "close", [&] { return fs.close(fd); });
  checked(t, index, "unlink", [&] { return fs.unlink(path); });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: load_client THREADS SECONDS TAG\n");
    return 64;
  }
  const int threads = std::atoi(argv[1]);
  const double seconds = std::atof(argv[2]);
  const std::string tag = argv[3];
  // BENCHFS_LOG_LEVEL=debug shows each connection lost and why.
  (void)benchfs::init_logging("load_client");
  auto env = benchfs::client::options_from_env();
  if (!env) {
    std::fprintf(stderr, "%s\n", env.status().to_string().c_str());
    return 2;
  }
  ClientOptions opts = std::move(*env);
  std::vector<std::unique_ptr<FileSystem>> fss;
  for (int i = 0; i < threads; ++i) {
    auto c = Client::create(opts);
    if (!c) {
      std::fprintf(stderr, "client %d: %s\n", i, c.status().to_string().c_str());
      return 2;
    }
    fss.push_back(std::make_unique<FileSystem>(std::move(*c)));
  }
  Totals t;
  const double deadline = mono_ms() + seconds * 1e3;
  std::vector<std::thread> ts;
  for (int i = 0; i < threads; ++i)
    ts.emplace_back(run_thread, i, std::ref(*fss[static_cast<size_t>(i)]),
                    "/load-" + tag + "-" + std::to_string(i), deadline, std::ref(t));
  for (auto& th : ts) th.join();
  for (auto& fs : fss) {
    const ClientStats s = fs->client().stats();
    t.reconnects += s.reconnects;
    t.close_notifications += s.close_notifications;
    t.engine_retries += s.retries;
    t.timeouts += s.timeouts;
    t.endpoint_errors += s.endpoint_errors;
  }
  fss.clear();
  std::printf(
      "LOAD {\"threads\":%d,\"ops\":%lu,\"pings\":%lu,\"writes\":%lu,\"reads\":%lu,\"stats\":%lu,"
      "\"renames\":%lu,\"dirs\":%lu,\"verified_bytes\":%lu,\"errors\":%lu,\"mismatches\":%lu,"
      "\"reconnects\":%lu,\"close_notifications\":%lu,\"engine_retries\":%lu,\"timeouts\":%lu,"
      "\"endpoint_errors\":%lu}\n",
      threads, t.ops.load(), t.pings.load(), t.writes.load(), t.reads.load(), t.stats.load(),
      t.renames.load(), t.dirs.load(), t.verified_bytes.load(), t.errors.load(), t.mismatches.load(),
      t.reconnects.load(), t.close_notifications.load(), t.engine_retries.load(), t.timeouts.load(),
      t.endpoint_errors.load());
  std::fflush(stdout);
  return t.errors.load() == 0 && t.mismatches.load() == 0 ? 0 : 1;
}
