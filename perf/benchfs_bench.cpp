// benchfs_bench: the BenchFS benchmark client (run under mpirun, or alone).
//   benchfs_bench ping --registry DIR [--size 8,1k,1m] [--count N] [--warmup N] [--server I|all] [--json]
//   benchfs_bench io --registry DIR [-t XFER] [-b BLOCK] [-s SEGMENTS] [-F] [--write] [--read] [--verify]
//                    [-C] [--keep] [--dir /bench.io] [--json]
//   benchfs_bench md --registry DIR [-n FILES] [--write-bytes N] [--shared-only|--private-only] [--json]
//   benchfs_bench shutdown --registry DIR
//   benchfs_bench doctor --registry DIR [--timeout-ms MS]   (doctor.cpp)
// Uses only the public C API (libbenchfs), except the doctor (the client engine).

#include <fcntl.h>
#include <mpi.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "benchfs/benchfs.h"
#include "benchfs/core/clock.hpp"
#include "benchfs/core/units.hpp"
#include "doctor.hpp"

namespace {

struct PingArgs {
  std::string registry;
  std::string sizes = "8";
  uint64_t count = 10000;
  uint64_t warmup = 1000;
  std::string server = "0";
  std::string poll;
  bool json = false;
  bool prewarm = true;
};

struct Summary {
  double min_us = 0, p50_us = 0, p99_us = 0, max_us = 0, mean_us = 0;
};

Summary summarize(std::vector<double>& v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&v](double q) {
    size_t i = static_cast<size_t>(std::lround(q * static_cast<double>(v.size() - 1)));
    return v[std::min(i, v.size() - 1)];
  };
  s.min_us = v.front();
  s.max_us = v.back();
  s.p50_us = at(0.50);
  s.p99_us = at(0.99);
  double sum = 0;
  for (double x : v) sum += x;
  s.mean_us = sum / static_cast<double>(v.size());
  return s;
}

// --connect of every subcommand (empty: the library's default or BENCHFS_CONNECT).
std::string g_connect;

int init_client(const std::string& registry, const std::string& poll, bool prewarm, int rank) {
  benchfs_config cfg;
  benchfs_config_init(&cfg);
  cfg.registry = registry.empty() ? nullptr : registry.c_str();
  cfg.prewarm = prewarm ? 1 : 0;
  cfg.poll = poll.empty() ? nullptr : poll.c_str();
  cfg.connect = g_connect.empty() ? nullptr : g_connect.c_str();
  if (benchfs_init(&cfg) != 0) {
    std::fprintf(stderr, "benchfs_bench[%d]: benchfs_init: %s\n", rank, benchfs_last_error());
    return -1;
  }
  return 0;
}

// Parses --size "64,4k,1m" into sizes of 0 .. 4 MiB. False on a bad one.
bool parse_ping_sizes(const std::string& text, std::vector<uint64_t>& sizes) {
  auto list = benchfs::parse_size_list(text);
  if (!list) return false;
  for (uint64_t s : *list)
    if (s > (4u << 20)) return false;
  sizes.insert(sizes.end(), list->begin(), list->end());
  return true;
}

// Every rank's samples, gathered on rank 0 (empty on the others).
std::vector<double> gather_samples(const std::vector<double>& mine, int rank, int nranks) {
  int n = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<size_t>(nranks)), displs(static_cast<size_t>(nranks));
  MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  std::vector<double> all;
  if (rank == 0) {
    int total = 0;
    for (int r = 0; r < nranks; ++r) {
      displs[static_cast<size_t>(r)] = total;
      total += counts[static_cast<size_t>(r)];
    }
    all.resize(static_cast<size_t>(total));
  }
  MPI_Gatherv(mine.data(), n, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, 0,
              MPI_COMM_WORLD);
  return all;
}

// One rank's pings of one size to one server.
struct PingRun {
  std::vector<double> lat_us;
  uint64_t errors = 0;
  double secs = 0;
};

PingRun ping_server(const PingArgs& a, int server, uint64_t size, int rank) {
  std::vector<unsigned char> payload(size), echo(size);
  for (size_t i = 0; i < size; ++i) payload[i] = static_cast<unsigned char>(i * 131 + rank * 7 + 1);
  for (uint64_t i = 0; i < a.warmup; ++i) benchfs_ping(server, payload.data(), size, echo.data());
  PingRun run;
  run.lat_us.reserve(a.count);
  MPI_Barrier(MPI_COMM_WORLD);
  const uint64_t t0 = benchfs::now_ns();
  for (uint64_t i = 0; i < a.count; ++i) {
    const uint64_t s = benchfs::now_ns();
    const int rc = benchfs_ping(server, payload.data(), size, echo.data());
    const uint64_t e = benchfs::now_ns();
    if (rc != 0) {
      if (run.errors++ == 0)
        std::fprintf(stderr, "benchfs_bench[%d]: ping: %s\n", rank, benchfs_last_error());
      continue;
    }
    run.lat_us.push_back(static_cast<double>(e - s) / 1000.0);
    if (size > 0 && (echo[0] != payload[0] || echo[size - 1] != payload[size - 1])) ++run.errors;
  }
  run.secs = static_cast<double>(benchfs::now_ns() - t0) / 1e9;
  if (size > 0 && std::memcmp(echo.data(), payload.data(), size) != 0) ++run.errors;
  return run;
}

// Rank 0's line (or JSON object) for one server and size.
void print_ping_result(const PingArgs& a, int server, uint64_t size, int nranks, std::vector<double>& all,
                       uint64_t errors, double max_secs, double init_ms) {
  const Summary s = summarize(all);
  const double ops = max_secs > 0 ? static_cast<double>(all.size()) / max_secs : 0.0;
  if (a.json) {
    std::printf(
        "{\"op\":\"ping\",\"size\":%llu,\"count\":%zu,\"server\":%d,\"ranks\":%d,\"min_us\":%.3f,"
        "\"p50_us\":%.3f,\"p99_us\":%.3f,\"max_us\":%.3f,\"mean_us\":%.3f,\"ops_per_s\":%.1f,"
        "\"errors\":%llu,\"connect\":\"%s\",\"init_ms\":%.3f}\n",
        static_cast<unsigned long long>(size), all.size(), server, nranks, s.min_us, s.p50_us, s.p99_us,
        s.max_us, s.mean_us, ops, static_cast<unsigned long long>(errors),
        g_connect.empty() ? "default" : g_connect.c_str(), init_ms);
  } else {
    std::printf("%-8d %-6s %8zu %10.3f %10.3f %10.3f %10.3f %12.1f %7llu\n", server,
                benchfs::format_size(size).c_str(), all.size(), s.min_us, s.p50_us, s.p99_us, s.max_us, ops,
                static_cast<unsigned long long>(errors));
  }
  std::fflush(stdout);
}

// The servers --server names ("all" or one index); empty if it names none.
std::vector<int> ping_targets(const std::string& which, int nservers) {
  std::vector<int> servers;
  if (which == "all") {
    for (int i = 0; i < nservers; ++i) servers.push_back(i);
    return servers;
  }
  auto s = benchfs::parse_u64(which);
  if (s && *s < static_cast<uint64_t>(nservers)) servers.push_back(static_cast<int>(*s));
  return servers;
}

int run_ping(const PingArgs& a, int rank, int nranks) {
  std::vector<uint64_t> sizes;
  if (!parse_ping_sizes(a.sizes, sizes)) {
    if (rank == 0) std::fprintf(stderr, "benchfs_bench: bad --size '%s' (0 .. 4m each)\n", a.sizes.c_str());
    return 2;
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const uint64_t init_t0 = benchfs::now_ns();
  if (init_client(a.registry, a.poll, a.prewarm, rank) != 0) return 1;
  // benchfs_init with prewarm connects to every server: the connect time.
  const double init_ms = static_cast<double>(benchfs::now_ns() - init_t0) / 1e6;
  double max_init_ms = 0;
  MPI_Reduce(&init_ms, &max_init_ms, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  const int nservers = benchfs_server_count();
  const std::vector<int> servers = ping_targets(a.server, nservers);
  if (servers.empty()) {
    if (rank == 0) std::fprintf(stderr, "benchfs_bench: --server must be 0..%d or all\n", nservers - 1);
    benchfs_finalize();
    return 2;
  }
  if (!a.json && rank == 0)
    std::printf("%-8s %-6s %8s %10s %10s %10s %10s %12s %7s\n", "server", "size", "count", "min_us", "p50_us",
                "p99_us", "max_us", "ops_per_s", "errors");
  int failures = 0;
  for (int server : servers) {
    for (uint64_t size : sizes) {
      const PingRun run = ping_server(a, server, size, rank);
      std::vector<double> all = gather_samples(run.lat_us, rank, nranks);
      uint64_t total_errors = 0;
      double max_secs = 0;
      MPI_Reduce(&run.errors, &total_errors, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
      MPI_Reduce(&run.secs, &max_secs, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
      if (rank != 0) continue;
      if (total_errors > 0) failures = 1;
      print_ping_result(a, server, size, nranks, all, total_errors, max_secs, max_init_ms);
    }
  }
  benchfs_finalize();
  return failures;
}

int run_shutdown(const std::string& registry, int rank) {
  if (rank != 0) return 0;
  if (init_client(registry, "", false, rank) != 0) return 1;
  int rc = 0;
  const int n = benchfs_server_count();
  for (int i = 0; i < n; ++i) {
    if (benchfs_shutdown_server(i) != 0) {
      std::fprintf(stderr, "benchfs_bench: shutdown of node_%d: %s\n", i, benchfs_last_error());
      rc = 1;
    }
  }
  benchfs_finalize();
  if (rc == 0) std::printf("asked %d server%s to shut down\n", n, n == 1 ? "" : "s");
  return rc;
}

// ------------------------------------------------------------------ io, md

// Failed calls and wrong data of one rank: counted, the first few printed.
class ErrorLog {
 public:
  explicit ErrorLog(int rank) : rank_(rank) {}
  ErrorLog(const ErrorLog&) = delete;
  ErrorLog& operator=(const ErrorLog&) = delete;
  ~ErrorLog() {
    if (printed_ < seen_)
      std::fprintf(stderr, "benchfs_bench[%d]: %llu more error%s not shown\n", rank_,
                   static_cast<unsigned long long>(seen_ - printed_), seen_ - printed_ == 1 ? "" : "s");
  }

  // Right after a BenchFS call on `path` failed (errno still holds its
  // error); `where` adds detail such as an offset.
  void call_failed(const char* call, const std::string& path, const std::string& where = "") {
    const int err = errno;
    if (!take()) return;
    const char* detail = benchfs_last_error();
    const char* hint = err == ENOSYS ? " (this libbenchfs does not implement the call yet)" : "";
    if (detail != nullptr && std::strstr(detail, path.c_str()) != nullptr) {
      // The library's message names the call and the path already.
      std::fprintf(stderr, "benchfs_bench[%d]: %s%s%s\n", rank_, detail, where.c_str(), hint);
    } else {
      std::fprintf(stderr, "benchfs_bench[%d]: %s %s%s: %s%s\n", rank_, call, path.c_str(), where.c_str(),
                   detail != nullptr && *detail != '\0' ? detail : std::strerror(err), hint);
    }
  }

  // Wrong data or a short count; printf-style message.
  __attribute__((format(printf, 2, 3))) void wrong(const char* fmt, ...) {
    if (!take()) return;
    std::fprintf(stderr, "benchfs_bench[%d]: ", rank_);
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\n', stderr);
  }

 private:
  bool take() {
    ++seen_;
    if (printed_ >= kPrinted) return false;
    ++printed_;
    return true;
  }
  static constexpr uint64_t kPrinted = 5;
  int rank_;
  uint64_t seen_ = 0;
  uint64_t printed_ = 0;
};

std::string join_path(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

// "/a/b/" -> "/a/b"; empty if not absolute.
std::string normalize_dir(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return !dir.empty() && dir[0] == '/' ? dir : std::string();
}

// Creates `dir` unless it is "/" or exists. Returns 0 (*created says which),
// or -1 after printing the error.
int make_dir(const std::string& dir, bool* created, ErrorLog& log) {
  *created = false;
  if (dir == "/") return 0;
  if (benchfs_mkdir(dir.c_str(), 0755) == 0) {
    *created = true;
    return 0;
  }
  if (errno == EEXIST) return 0;
  log.call_failed("mkdir", dir);
  return -1;
}

// True on every rank when any rank passed true.
bool any_rank(bool mine) {
  int in = mine ? 1 : 0, out = 0;
  MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return out != 0;
}

// The data pattern of --verify: the 8-byte word at file offset o (o a
// multiple of 8) that rank w wrote is o ^ (w + 1) * golden ratio, stored in
// memory order. It depends on the absolute offset only (and on the writer,
// which every reader knows), so any rank can check any block.
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

uint64_t pattern_word(uint64_t offset, int writer) {
  return offset ^ ((static_cast<uint64_t>(writer) + 1) * kGolden);
}

unsigned char pattern_byte(uint64_t offset, int writer) {
  const uint64_t w = pattern_word(offset & ~uint64_t{7}, writer);
  unsigned char b[8];
  std::memcpy(b, &w, 8);
  return b[offset & 7];
}

void fill_pattern(unsigned char* buf, size_t len, uint64_t offset, int writer) {
  size_t i = 0;
  for (; i < len && (offset + i) % 8 != 0; ++i) buf[i] = pattern_byte(offset + i, writer);
  for (; i + 8 <= len; i += 8) {
    const uint64_t w = pattern_word(offset + i, writer);
    std::memcpy(buf + i, &w, 8);
  }
  for (; i < len; ++i) buf[i] = pattern_byte(offset + i, writer);
}

// Index of the first byte where a and b differ (len if none).
size_t first_difference(const unsigned char* a, const unsigned char* b, size_t len) {
  size_t i = 0;
  while (i < len && a[i] == b[i]) ++i;
  return i;
}

// What one rank did in one phase, and its sum (max for seconds) over ranks.
struct PhaseTotals {
  uint64_t bytes = 0;    // moved by successful calls
  uint64_t ops = 0;      // pwrite / pread calls, or metadata operations
  uint64_t errors = 0;   // failed calls, short counts, wrong data
  uint64_t failed = 0;   // failed calls (also in errors)
  uint64_t entries = 0;  // readdir: entries listed
  // The client's own counters over the phase (benchfs_get_client_stats):
  uint64_t rpcs = 0;     // requests sent
  uint64_t sleeps = 0;   // reply waits that slept
  uint64_t wakeups = 0;  // sleeps an event ended
  double seconds = 0;    // from the barrier before to the barrier after

  // Marks the start of the phase's client counters; end() takes the difference.
  void begin_counting() {
    benchfs_client_stats s{};
    if (benchfs_get_client_stats(&s) != 0) return;
    rpcs -= s.rpcs;
    sleeps -= s.sleeps;
    wakeups -= s.wakeups;
  }
  void end_counting() {
    benchfs_client_stats s{};
    if (benchfs_get_client_stats(&s) != 0) return;
    rpcs += s.rpcs;
    sleeps += s.sleeps;
    wakeups += s.wakeups;
  }
  [[nodiscard]] double per_op(uint64_t n) const {
    return ops == 0 ? 0.0 : static_cast<double>(n) / static_cast<double>(ops);
  }
  [[nodiscard]] double per_1000_rpcs(uint64_t n) const {
    return rpcs == 0 ? 0.0 : static_cast<double>(n) * 1000.0 / static_cast<double>(rpcs);
  }
  /// ,"rpcs_per_op":..,"client_sleeps_per_1000_rpcs":..,"client_wakeups_per_1000_rpcs":..
  void print_client_json() const {
    std::printf(
        ",\"rpcs\":%llu,\"rpcs_per_op\":%.3f,\"client_sleeps_per_1000_rpcs\":%.2f,"
        "\"client_wakeups_per_1000_rpcs\":%.2f",
        static_cast<unsigned long long>(rpcs), per_op(rpcs), per_1000_rpcs(sleeps), per_1000_rpcs(wakeups));
  }
};

PhaseTotals reduce_totals(const PhaseTotals& mine) {
  PhaseTotals all;
  uint64_t in[8] = {mine.bytes,   mine.ops,  mine.errors, mine.failed,
                    mine.entries, mine.rpcs, mine.sleeps, mine.wakeups};
  uint64_t out[8] = {};
  MPI_Allreduce(in, out, 8, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  all.bytes = out[0];
  all.ops = out[1];
  all.errors = out[2];
  all.failed = out[3];
  all.entries = out[4];
  all.rpcs = out[5];
  all.sleeps = out[6];
  all.wakeups = out[7];
  MPI_Allreduce(&mine.seconds, &all.seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return all;
}

double per_second(double amount, double seconds) { return seconds > 0 ? amount / seconds : 0.0; }

// The transfer buffer of an io run. By default 2 MiB aligned and advised for
// transparent huge pages, as ucx_perftest's buffers are: a rendezvous copy
// between processes pins the peer's pages one by one, and one 2 MiB page
// pins far faster than 512 small ones. --malloc-buffer gives plain heap
// memory instead (what IOR uses).
class IoBuffer {
 public:
  IoBuffer(size_t n, bool huge) : size_(n) {
    if (huge && n > 0) {
      constexpr size_t kHuge = 2u << 20;
      map_len_ = (n + kHuge - 1) / kHuge * kHuge + kHuge;
      void* m = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m != MAP_FAILED) {
        map_ = m;
        auto at = (reinterpret_cast<uintptr_t>(m) + kHuge - 1) / kHuge * kHuge;
        data_ = reinterpret_cast<unsigned char*>(at);
        // Whole huge pages: a range shorter than 2 MiB never gets one.
        madvise(data_, map_len_ - kHuge, MADV_HUGEPAGE);
        return;
      }
    }
    heap_.resize(n);
    data_ = heap_.data();
  }
  ~IoBuffer() {
    if (map_ != nullptr) munmap(map_, map_len_);
  }
  IoBuffer(const IoBuffer&) = delete;
  IoBuffer& operator=(const IoBuffer&) = delete;
  unsigned char* data() { return data_; }
  [[nodiscard]] size_t size() const { return size_; }
  unsigned char& operator[](size_t i) { return data_[i]; }

 private:
  size_t size_;
  void* map_ = nullptr;
  size_t map_len_ = 0;
  std::vector<unsigned char> heap_;
  unsigned char* data_ = nullptr;
};

struct IoArgs {
  std::string registry;
  std::string poll;
  std::string dir = "/bench.io";
  std::string transfer = "256k";
  std::string block = "1m";
  uint64_t segments = 1;
  bool file_per_process = false;
  bool write = false;
  bool read = false;
  bool verify = false;
  bool reorder = false;
  bool keep = false;
  bool malloc_buffer = false;
  bool json = false;
};

struct IoPlan {
  uint64_t xfer = 0, block = 0, segments = 0;
  int rank = 0, nranks = 1;
  bool fpp = false, verify = false;
  std::string dir;

  [[nodiscard]] std::string path(int owner) const {
    return join_path(dir, fpp ? "file." + std::to_string(owner) : std::string("file"));
  }
  // Offset of transfer k of segment s of rank `owner`'s data.
  [[nodiscard]] uint64_t offset(uint64_t s, uint64_t k, int owner) const {
    const uint64_t blk = fpp ? s : s * static_cast<uint64_t>(nranks) + static_cast<uint64_t>(owner);
    return blk * block + k * xfer;
  }
};

// Every transfer of the plan's blocks that rank `owner` writes, in order:
// fn(file offset).
template <typename Fn>
void each_transfer(const IoPlan& p, int owner, Fn&& fn) {
  const uint64_t per_block = p.block / p.xfer;
  for (uint64_t s = 0; s < p.segments; ++s) {
    for (uint64_t k = 0; k < per_block; ++k) fn(p.offset(s, k, owner));
  }
}

// The end of an io phase: close the file, stop counting, wait for every rank.
PhaseTotals end_phase(PhaseTotals t, int fd, const std::string& path, uint64_t t0, ErrorLog& log) {
  if (fd >= 0 && benchfs_close(fd) != 0) {
    log.call_failed("close", path);
    ++t.failed;
  }
  t.end_counting();
  MPI_Barrier(MPI_COMM_WORLD);
  t.seconds = static_cast<double>(benchfs::now_ns() - t0) / 1e9;
  t.errors += t.failed;
  return t;
}

PhaseTotals io_write(const IoPlan& p, IoBuffer& buf, ErrorLog& log) {
  PhaseTotals t;
  const std::string path = p.path(p.rank);
  MPI_Barrier(MPI_COMM_WORLD);
  t.begin_counting();
  const uint64_t t0 = benchfs::now_ns();
  int fd = -1;
  // Shared file: rank 0 creates it, the others open it once it exists.
  if (p.fpp || p.rank == 0) {
    fd = benchfs_open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) log.call_failed("open", path);
  }
  if (!p.fpp) {
    MPI_Barrier(MPI_COMM_WORLD);
    if (p.rank != 0) {
      fd = benchfs_open(path.c_str(), O_WRONLY, 0);
      if (fd < 0) log.call_failed("open", path);
    }
  }
  if (fd < 0) {
    ++t.failed;
  } else {
    each_transfer(p, p.rank, [&](uint64_t off) {
      if (p.verify) fill_pattern(buf.data(), p.xfer, off, p.rank);
      ++t.ops;
      const ssize_t n = benchfs_pwrite(fd, buf.data(), p.xfer, static_cast<off_t>(off));
      if (n < 0) {
        log.call_failed("pwrite", path, " @" + std::to_string(off));
        ++t.failed;
      } else if (static_cast<uint64_t>(n) != p.xfer) {
        log.wrong("pwrite %s @%llu: wrote %zd of %llu bytes", path.c_str(),
                  static_cast<unsigned long long>(off), n, static_cast<unsigned long long>(p.xfer));
        ++t.errors;
        t.bytes += static_cast<uint64_t>(n);
      } else {
        t.bytes += p.xfer;
      }
    });
  }
  return end_phase(t, fd, path, t0, log);
}

PhaseTotals io_read(const IoPlan& p, int owner, IoBuffer& buf, std::vector<unsigned char>& expect,
                    ErrorLog& log) {
  PhaseTotals t;
  const std::string path = p.path(owner);
  MPI_Barrier(MPI_COMM_WORLD);
  t.begin_counting();
  const uint64_t t0 = benchfs::now_ns();
  const int fd = benchfs_open(path.c_str(), O_RDONLY, 0);
  if (fd < 0) {
    log.call_failed("open", path);
    ++t.failed;
  } else {
    each_transfer(p, owner, [&](uint64_t off) {
      ++t.ops;
      const ssize_t n = benchfs_pread(fd, buf.data(), p.xfer, static_cast<off_t>(off));
      if (n < 0) {
        log.call_failed("pread", path, " @" + std::to_string(off));
        ++t.failed;
        return;
      }
      t.bytes += static_cast<uint64_t>(n);
      if (static_cast<uint64_t>(n) != p.xfer) {
        log.wrong("pread %s @%llu: read %zd of %llu bytes", path.c_str(),
                  static_cast<unsigned long long>(off), n, static_cast<unsigned long long>(p.xfer));
        ++t.errors;
        return;
      }
      if (!p.verify) return;
      fill_pattern(expect.data(), p.xfer, off, owner);
      if (std::memcmp(buf.data(), expect.data(), p.xfer) != 0) {
        const size_t i = first_difference(buf.data(), expect.data(), p.xfer);
        log.wrong("verify %s: byte at offset %llu is 0x%02x, rank %d wrote 0x%02x", path.c_str(),
                  static_cast<unsigned long long>(off) + i, buf[i], owner, expect[i]);
        ++t.errors;
      }
    });
  }
  return end_phase(t, fd, path, t0, log);
}

void print_io_result(const IoArgs& a, const IoPlan& p, const char* phase, const PhaseTotals& t) {
  const double mib = per_second(static_cast<double>(t.bytes) / (1024.0 * 1024.0), t.seconds);
  const double ops = per_second(static_cast<double>(t.ops), t.seconds);
  if (a.json) {
    std::printf(
        "{\"op\":\"io\",\"phase\":\"%s\",\"mode\":\"%s\",\"ranks\":%d,\"transfer\":%llu,\"block\":%llu,"
        "\"segments\":%llu,\"bytes\":%llu,\"ops\":%llu,\"seconds\":%.6f,\"mib_per_s\":%.3f,\"ops_per_s\":%."
        "1f,"
        "\"errors\":%llu",
        phase, p.fpp ? "fpp" : "shared", p.nranks, static_cast<unsigned long long>(p.xfer),
        static_cast<unsigned long long>(p.block), static_cast<unsigned long long>(p.segments),
        static_cast<unsigned long long>(t.bytes), static_cast<unsigned long long>(t.ops), t.seconds, mib, ops,
        static_cast<unsigned long long>(t.errors));
    t.print_client_json();
    std::printf("}\n");
  } else {
    std::printf("%-8s %12.2f %12.1f %12.6f %10llu %8llu\n", phase, mib, ops, t.seconds,
                static_cast<unsigned long long>(t.ops), static_cast<unsigned long long>(t.errors));
  }
  std::fflush(stdout);
}

int run_io(IoArgs a, int rank, int nranks) {
  auto usage = [rank](const std::string& msg) {
    if (rank == 0) std::fprintf(stderr, "benchfs_bench io: %s\n", msg.c_str());
    return 2;
  };
  IoPlan p;
  p.rank = rank;
  p.nranks = nranks;
  p.fpp = a.file_per_process;
  p.verify = a.verify;
  p.segments = a.segments;
  p.dir = normalize_dir(a.dir);
  auto xfer = benchfs::parse_size(a.transfer);
  auto block = benchfs::parse_size(a.block);
  if (!xfer || *xfer == 0 || *xfer > (1ull << 30))
    return usage("bad -t/--transfer '" + a.transfer + "' (1 .. 1g, k/m/g suffixes)");
  if (!block || *block == 0) return usage("bad -b/--block '" + a.block + "' (k/m/g suffixes)");
  p.xfer = *xfer;
  p.block = *block;
  if (p.block % p.xfer != 0)
    return usage("-b/--block (" + a.block + ") must be a multiple of -t/--transfer (" + a.transfer + ")");
  if (p.segments == 0) return usage("-s/--segments must be at least 1");
  if (p.dir.empty()) return usage("--dir '" + a.dir + "' must be an absolute path");
  // The file's end must fit in off_t.
  const uint64_t max_off = uint64_t{1} << 62;
  if (p.block > max_off / p.segments || p.block * p.segments > max_off / static_cast<uint64_t>(nranks))
    return usage("-b x -s x ranks is too large");
  if (!a.write && !a.read) a.write = a.read = true;

  ErrorLog log(rank);
  if (init_client(a.registry, a.poll, true, rank) != 0) return 1;
  int rc = 0;
  bool created = false;
  const bool setup_failed = rank == 0 && make_dir(p.dir, &created, log) != 0;
  if (any_rank(setup_failed)) {
    benchfs_finalize();
    return 1;
  }
  IoBuffer buf(p.xfer, !a.malloc_buffer);
  std::vector<unsigned char> expect(a.verify ? p.xfer : 0);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<unsigned char>(i * 131 + rank * 7 + 1);
  const int owner = a.reorder ? (rank + 1) % nranks : rank;
  if (rank == 0) {
    const uint64_t total = p.block * p.segments * static_cast<uint64_t>(nranks);
    if (!a.json) {
      std::printf("io: %d rank%s, %s %s, transfer %s, block %s, segments %llu, %s per phase%s%s\n", nranks,
                  nranks == 1 ? "" : "s", p.fpp ? "file per process" : "shared file",
                  p.fpp ? join_path(p.dir, "file.<rank>").c_str() : p.path(0).c_str(),
                  benchfs::format_size(p.xfer).c_str(), benchfs::format_size(p.block).c_str(),
                  static_cast<unsigned long long>(p.segments), benchfs::format_size(total).c_str(),
                  a.verify ? ", verified" : "", a.reorder ? ", reads the next rank's data" : "");
      std::printf("%-8s %12s %12s %12s %10s %8s\n", "access", "MiB/s", "ops/s", "seconds", "ops", "errors");
    }
  }
  bool failed_calls = false;
  uint64_t errors = 0;
  if (a.write) {
    const PhaseTotals t = reduce_totals(io_write(p, buf, log));
    if (rank == 0) print_io_result(a, p, "write", t);
    errors += t.errors;
    failed_calls = t.failed > 0;
  }
  if (a.read) {
    if (failed_calls) {
      if (rank == 0)
        std::fprintf(stderr, "benchfs_bench io: read phase skipped: calls of the write phase failed\n");
    } else {
      const PhaseTotals t = reduce_totals(io_read(p, owner, buf, expect, log));
      if (rank == 0) print_io_result(a, p, "read", t);
      errors += t.errors;
      failed_calls = failed_calls || t.failed > 0;
    }
  }
  if (errors > 0) rc = 1;
  if (!a.keep) {
    // Best effort; quiet when the phases failed already.
    bool cleanup_failed = false;
    MPI_Barrier(MPI_COMM_WORLD);
    if (p.fpp || rank == 0) {
      const std::string path = p.path(rank);
      if (benchfs_unlink(path.c_str()) != 0 && !failed_calls) {
        log.call_failed("unlink", path);
        cleanup_failed = true;
      }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0 && created && benchfs_rmdir(p.dir.c_str()) != 0 && !failed_calls) {
      log.call_failed("rmdir", p.dir);
      cleanup_failed = true;
    }
    if (cleanup_failed) rc = 1;
  }
  benchfs_finalize();
  return rc;
}

struct MdArgs {
  std::string registry;
  std::string poll;
  std::string dir = "/";
  uint64_t files = 1000;
  std::string write_bytes = "0";
  bool shared_only = false;
  bool private_only = false;
  bool json = false;
  uint64_t gap_ns = 0;  ///< --gap-us: the application's own time between two operations
};

/// Busy-waits `ns` (an application computing between calls, as mdtest
/// does between its calls: path formatting, timers, its own bookkeeping).
void spin_for(uint64_t ns) {
  const uint64_t end = benchfs::now_ns() + ns;
  while (benchfs::now_ns() < end) {
  }
}

int count_entry(void* arg, const char*, unsigned char) {
  ++*static_cast<uint64_t*>(arg);
  return 0;
}

void print_md_result(const MdArgs& a, int nranks, uint64_t bytes, const char* phase, const PhaseTotals& t) {
  const double ops = per_second(static_cast<double>(t.ops), t.seconds);
  if (a.json) {
    std::printf(
        "{\"op\":\"md\",\"phase\":\"%s\",\"ranks\":%d,\"files\":%llu,\"file_bytes\":%llu,\"ops\":%llu,"
        "\"seconds\":%.6f,\"ops_per_s\":%.1f,\"errors\":%llu",
        phase, nranks, static_cast<unsigned long long>(a.files), static_cast<unsigned long long>(bytes),
        static_cast<unsigned long long>(t.ops), t.seconds, ops, static_cast<unsigned long long>(t.errors));
    if (std::strcmp(phase, "readdir") == 0)
      std::printf(",\"entries\":%llu", static_cast<unsigned long long>(t.entries));
    t.print_client_json();
    std::printf("}\n");
  } else {
    std::printf("%-8s %12llu %12.6f %12.1f %8llu %8.2f %8.1f\n", phase,
                static_cast<unsigned long long>(t.ops), t.seconds, ops,
                static_cast<unsigned long long>(t.errors), t.per_op(t.rpcs), t.per_1000_rpcs(t.sleeps));
  }
  std::fflush(stdout);
}

// The md subcommand's usage errors (printed by rank 0); true if there were any.
bool md_usage_errors(const MdArgs& a, const std::string& base, int rank) {
  auto bytes = benchfs::parse_size(a.write_bytes);
  const bool bad_bytes = !bytes || *bytes > (64u << 20);
  const bool bad = base.empty() || bad_bytes || a.files == 0 || (a.shared_only && a.private_only);
  if (!bad || rank != 0) return bad;
  if (base.empty())
    std::fprintf(stderr, "benchfs_bench md: --dir '%s' must be an absolute path\n", a.dir.c_str());
  if (bad_bytes)
    std::fprintf(stderr, "benchfs_bench md: bad --write-bytes '%s' (0 .. 64m)\n", a.write_bytes.c_str());
  if (a.files == 0) std::fprintf(stderr, "benchfs_bench md: -n/--files must be at least 1\n");
  if (a.shared_only && a.private_only)
    std::fprintf(stderr, "benchfs_bench md: --shared-only and --private-only exclude each other\n");
  return true;
}

// One rank's mdtest-like run: its files (in its own directory and/or the
// shared one), the timed phases over them, and the untimed setup / cleanup.
class MdRun {
 public:
  MdRun(const MdArgs& a, std::string base, int rank, int nranks)
      : a_(a),
        rank_(rank),
        nranks_(nranks),
        nbytes_(*benchfs::parse_size(a.write_bytes)),
        use_private_(!a.shared_only),
        use_shared_(!a.private_only),
        base_(std::move(base)),
        private_dir_(join_path(base_, "md." + std::to_string(rank))),
        shared_dir_(join_path(base_, "md.shared")),
        log_(rank),
        data_(nbytes_),
        back_(nbytes_) {
    files_.reserve(a.files * 2);
    const std::string prefix = "f." + std::to_string(rank) + ".";
    for (const std::string* dir :
         {use_private_ ? &private_dir_ : nullptr, use_shared_ ? &shared_dir_ : nullptr}) {
      if (dir == nullptr) continue;
      for (uint64_t i = 0; i < a.files; ++i) files_.push_back(join_path(*dir, prefix + std::to_string(i)));
    }
    for (size_t i = 0; i < data_.size(); ++i) data_[i] = static_cast<unsigned char>(i * 17 + rank * 5 + 3);
  }

  // Creates the base directory, the shared one, then each rank's own. False
  // (on every rank) if one failed.
  bool setup() {
    bool failed = rank_ == 0 && make_dir(base_, &base_created_, log_) != 0;
    if (!any_rank(failed)) {
      failed = rank_ == 0 && use_shared_ && make_dir(shared_dir_, &shared_created_, log_) != 0;
      failed = any_rank(failed) || (use_private_ && make_dir(private_dir_, &private_created_, log_) != 0);
    }
    return !any_rank(failed);
  }

  void print_header() const {
    if (rank_ != 0 || a_.json) return;
    std::printf("md: %d rank%s, %llu files per rank in %s%s%s, %s each\n", nranks_, nranks_ == 1 ? "" : "s",
                static_cast<unsigned long long>(a_.files),
                use_private_ ? join_path(base_, "md.<rank>").c_str() : "",
                use_private_ && use_shared_ ? " and " : "", use_shared_ ? shared_dir_.c_str() : "",
                benchfs::format_size(nbytes_).c_str());
    std::printf("%-8s %12s %12s %12s %8s %8s %8s\n", "phase", "ops", "seconds", "ops/s", "errors", "rpcs/op",
                "sleep/1k");
  }

  // The timed phases; the errors of every rank.
  uint64_t phases() {
    uint64_t errors = phase("create", &MdRun::create_one);
    errors += readdir_check();
    errors += phase("stat", &MdRun::stat_one);
    errors += phase("read", &MdRun::read_one);
    errors += phase("unlink", &MdRun::unlink_one);
    return errors;
  }

  // Removes the directories this run created. False if one failed.
  bool cleanup() {
    bool ok = !private_created_ || rmdir_logged(private_dir_);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank_ == 0) {
      ok = (!shared_created_ || rmdir_logged(shared_dir_)) && ok;
      ok = (!base_created_ || rmdir_logged(base_)) && ok;
    }
    return ok;
  }

 private:
  using Op = bool (MdRun::*)(const std::string&, PhaseTotals&);

  // One timed phase: op over every file of this rank (false: an error it has
  // logged). Returns the errors of every rank.
  uint64_t phase(const char* name, Op op) {
    PhaseTotals t;
    MPI_Barrier(MPI_COMM_WORLD);
    t.begin_counting();
    const uint64_t t0 = benchfs::now_ns();
    for (const std::string& f : files_) {
      ++t.ops;
      if (!(this->*op)(f, t)) ++t.errors;
      if (a_.gap_ns != 0) spin_for(a_.gap_ns);
    }
    t.end_counting();
    MPI_Barrier(MPI_COMM_WORLD);
    t.seconds = static_cast<double>(benchfs::now_ns() - t0) / 1e9;
    return report(name, t);
  }

  uint64_t report(const char* name, const PhaseTotals& t) const {
    const PhaseTotals all = reduce_totals(t);
    if (rank_ == 0) print_md_result(a_, nranks_, nbytes_, name, all);
    return all.errors;
  }

  // A failed call: logged and counted. Returns false.
  bool failed_call(const char* call, const std::string& f, PhaseTotals& t) {
    log_.call_failed(call, f);
    ++t.failed;
    return false;
  }

  bool rmdir_logged(const std::string& dir) {
    if (benchfs_rmdir(dir.c_str()) == 0) return true;
    log_.call_failed("rmdir", dir);
    return false;
  }

  // A pwrite / pread of a file's nbytes_ that returned n: false (logged)
  // unless it moved them all.
  bool moved_all(const char* call, const char* verb, const std::string& f, ssize_t n, PhaseTotals& t) {
    if (n < 0) return failed_call(call, f, t);
    if (static_cast<uint64_t>(n) == nbytes_) return true;
    log_.wrong("%s %s: %s %zd of %llu bytes", call, f.c_str(), verb, n,
               static_cast<unsigned long long>(nbytes_));
    return false;
  }

  bool create_one(const std::string& f, PhaseTotals& t) {
    const int fd = benchfs_create(f.c_str(), O_WRONLY | O_EXCL, 0644);
    if (fd < 0) return failed_call("create", f, t);
    bool ok =
        nbytes_ == 0 || moved_all("pwrite", "wrote", f, benchfs_pwrite(fd, data_.data(), nbytes_, 0), t);
    if (benchfs_close(fd) != 0) ok = failed_call("close", f, t);
    return ok;
  }

  // Every rank lists its own directory, rank 0 the shared one.
  uint64_t readdir_check() {
    PhaseTotals t;
    MPI_Barrier(MPI_COMM_WORLD);
    const uint64_t t0 = benchfs::now_ns();
    if (use_private_) list(private_dir_, a_.files, t);
    if (use_shared_ && rank_ == 0) list(shared_dir_, a_.files * static_cast<uint64_t>(nranks_), t);
    MPI_Barrier(MPI_COMM_WORLD);
    t.seconds = static_cast<double>(benchfs::now_ns() - t0) / 1e9;
    return report("readdir", t);
  }

  void list(const std::string& dir, uint64_t expected, PhaseTotals& t) {
    uint64_t seen = 0;
    ++t.ops;
    const int n = benchfs_readdir(dir.c_str(), count_entry, &seen);
    if (n < 0) {
      failed_call("readdir", dir, t);
      ++t.errors;
      return;
    }
    t.entries += seen;
    if (seen != expected || static_cast<uint64_t>(n) != seen) {
      log_.wrong("readdir %s: %llu entries (returned %d), expected %llu", dir.c_str(),
                 static_cast<unsigned long long>(seen), n, static_cast<unsigned long long>(expected));
      ++t.errors;
    }
  }

  bool stat_one(const std::string& f, PhaseTotals& t) {
    struct stat st {};
    if (benchfs_stat(f.c_str(), &st) != 0) return failed_call("stat", f, t);
    if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != nbytes_) {
      log_.wrong("stat %s: mode 0%o size %lld, expected a regular file of %llu bytes", f.c_str(),
                 static_cast<unsigned>(st.st_mode), static_cast<long long>(st.st_size),
                 static_cast<unsigned long long>(nbytes_));
      return false;
    }
    return true;
  }

  bool read_one(const std::string& f, PhaseTotals& t) {
    const int fd = benchfs_open(f.c_str(), O_RDONLY, 0);
    if (fd < 0) return failed_call("open", f, t);
    bool ok = nbytes_ == 0 || moved_all("pread", "read", f, benchfs_pread(fd, back_.data(), nbytes_, 0), t);
    if (ok && nbytes_ > 0 && std::memcmp(back_.data(), data_.data(), nbytes_) != 0) {
      log_.wrong("read %s: data differs from what was written", f.c_str());
      ok = false;
    }
    if (benchfs_close(fd) != 0) ok = failed_call("close", f, t);
    return ok;
  }

  bool unlink_one(const std::string& f, PhaseTotals& t) {
    return benchfs_unlink(f.c_str()) == 0 || failed_call("unlink", f, t);
  }

  const MdArgs& a_;
  const int rank_;
  const int nranks_;
  const uint64_t nbytes_;
  const bool use_private_;
  const bool use_shared_;
  const std::string base_;
  const std::string private_dir_;
  const std::string shared_dir_;
  ErrorLog log_;
  std::vector<std::string> files_;
  std::vector<unsigned char> data_;
  std::vector<unsigned char> back_;
  bool base_created_ = false;
  bool shared_created_ = false;
  bool private_created_ = false;
};

int run_md(const MdArgs& a, int rank, int nranks) {
  std::string base = normalize_dir(a.dir);
  if (md_usage_errors(a, base, rank)) return 2;
  MdRun run(a, std::move(base), rank, nranks);
  if (init_client(a.registry, a.poll, true, rank) != 0) return 1;
  if (!run.setup()) {
    benchfs_finalize();
    return 1;
  }
  run.print_header();
  const uint64_t errors = run.phases();
  const bool cleaned = run.cleanup();
  benchfs_finalize();
  return errors > 0 || !cleaned ? 1 : 0;
}

// --registry, --poll and --connect, which every client subcommand takes.
void add_common_options(CLI::App* sub, std::string& registry, std::string& poll) {
  sub->add_option("--registry", registry, "Registry directory (env BENCHFS_REGISTRY)");
  sub->add_option("--poll", poll, "Client polling: busy, adaptive or blocking (default: library's)")
      ->check(CLI::IsMember({"busy", "adaptive", "blocking"}));
  sub->add_option(
         "--connect", g_connect,
         "How to reach the servers: persistent or reply_ep (default: the library's, env BENCHFS_CONNECT)")
      ->check(CLI::IsMember({"persistent", "reply_ep"}));
}

CLI::App* add_ping_command(CLI::App& app, PingArgs& ping) {
  auto* p = app.add_subcommand("ping", "Round-trip latency of PING with a payload echoed back");
  add_common_options(p, ping.registry, ping.poll);
  p->add_option("--size", ping.sizes, "Payload bytes, a comma list with k/m suffixes (0 .. 4m)")
      ->capture_default_str();
  p->add_option("--count", ping.count, "Timed pings per size and server")->capture_default_str();
  p->add_option("--warmup", ping.warmup, "Untimed pings first")->capture_default_str();
  p->add_option("--server", ping.server, "Server index, or all (one result per server)")
      ->capture_default_str();
  p->add_flag("--json", ping.json, "One JSON object per result line");
  return p;
}

CLI::App* add_io_command(CLI::App& app, IoArgs& io) {
  auto* i = app.add_subcommand("io", "IOR-like bandwidth: every rank writes / reads its blocks in transfers");
  add_common_options(i, io.registry, io.poll);
  i->add_option("-t,--transfer", io.transfer, "Bytes per pwrite / pread call (k/m/g suffixes)")
      ->capture_default_str();
  i->add_option("-b,--block", io.block, "Bytes per rank per segment, a multiple of the transfer size")
      ->capture_default_str();
  i->add_option("-s,--segments", io.segments, "Segments (each holds one block of every rank)")
      ->capture_default_str();
  i->add_flag("-F,--file-per-process", io.file_per_process,
              "One file per rank (DIR/file.<rank>) instead of one shared file (DIR/file)");
  i->add_flag("-w,--write", io.write, "Run the write phase (neither --write nor --read: both)");
  i->add_flag("-r,--read", io.read, "Run the read phase");
  i->add_flag("--verify", io.verify,
              "Write a pattern of (writer, file offset) and check every byte read (mismatching transfers are "
              "errors); --read alone checks files an earlier --write --verify --keep run left");
  i->add_flag("-C,--reorder", io.reorder, "Read the next rank's data instead of one's own (IOR -C)");
  i->add_flag("-k,--keep", io.keep, "Keep the files (default: unlinked at the end)");
  i->add_flag("--malloc-buffer", io.malloc_buffer,
              "Transfer from a plain heap buffer, as IOR does (default: 2 MiB aligned, huge-page advised)");
  i->add_option("--dir", io.dir, "Directory of the test files (created if missing)")->capture_default_str();
  i->add_flag("--json", io.json, "One JSON object per phase");
  return i;
}

CLI::App* add_md_command(CLI::App& app, MdArgs& md) {
  auto* m = app.add_subcommand(
      "md",
      "mdtest-like metadata rates: create, readdir, stat, read, unlink in DIR/md.<rank> and DIR/md.shared");
  add_common_options(m, md.registry, md.poll);
  m->add_option("-n,--files", md.files, "Files per rank in each directory")->capture_default_str();
  m->add_option("--write-bytes", md.write_bytes, "Bytes written into each file at create, read back by read")
      ->capture_default_str();
  m->add_flag("--shared-only", md.shared_only, "Only the shared directory");
  m->add_flag("--private-only", md.private_only, "Only each rank's own directory");
  m->add_option("--dir", md.dir, "Parent of the test directories (created if missing)")
      ->capture_default_str();
  m->add_flag("--json", md.json, "One JSON object per phase");
  m->add_option_function<double>(
       "--gap-us", [&md](double us) { md.gap_ns = static_cast<uint64_t>(us * 1000.0); },
       "Microseconds of the rank's own work between two operations (busy; upstream mdtest spends a few "
       "between its calls)")
      ->check(CLI::Range(0.0, 1e6));
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"benchfs_bench: BenchFS benchmark client (run alone or under mpirun)", "benchfs_bench"};
  app.require_subcommand(1);
  PingArgs ping;
  if (const char* env = std::getenv("BENCHFS_REGISTRY")) ping.registry = env;
  IoArgs io;
  io.registry = ping.registry;
  MdArgs md;
  md.registry = ping.registry;
  auto* p = add_ping_command(app, ping);
  auto* i = add_io_command(app, io);
  auto* m = add_md_command(app, md);

  std::string shut_registry = ping.registry;
  auto* s = app.add_subcommand("shutdown", "Ask every server of the registry to shut down");
  s->add_option("--registry", shut_registry, "Registry directory (env BENCHFS_REGISTRY)");
  benchfs::doctor::Args doctor;
  doctor.registry = ping.registry;
  auto* d = benchfs::doctor::add_command(app, doctor);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "benchfs_bench: %s\nRun with --help for usage.\n", e.what());
    return 2;
  }
  MPI_Init(&argc, &argv);
  int rank = 0, nranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  int rc = 0;
  if (p->parsed()) rc = run_ping(ping, rank, nranks);
  if (i->parsed()) rc = run_io(io, rank, nranks);
  if (m->parsed()) rc = run_md(md, rank, nranks);
  if (s->parsed()) rc = run_shutdown(shut_registry, rank);
  if (d->parsed()) rc = benchfs::doctor::run(doctor, rank, nranks);
  int worst = rc;
  MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
