// fault_client: one client process of the fault tests (test_faults.cpp),
// using libbenchfs's C API as an application would. The registry and RPC
// timeout come from the environment (BENCHFS_REGISTRY,
// BENCHFS_RPC_TIMEOUT_MS). Every line it prints is flushed at once: the
// test reads them while the process runs, and kills it with SIGKILL.
//
//   fault_client writer PATH SIZE TRANSFER
//       IOR-like write phase, repeated: create PATH, write SIZE bytes in
//       TRANSFER-byte pwrites, close. "READY" after the first pass; at the
//       first failure "ERROR op=... errno=... call_ms=... t_ms=...", then
//       exit 3. (t_ms: CLOCK_MONOTONIC, comparable with the test's clock.)
//   fault_client rw write|read PATH SIZE SEED
//       Endless SIZE-byte pwrite (or pread, verified against the pattern
//       SEED the test wrote) at offset 0: "BUSY n" after each call.
//   fault_client probe PATH SEED GO_FILE
//       Writes and verifies PATH, prints "READY", waits until GO_FILE
//       exists, then runs ping / stat / read / create+write+read and prints
//       one "RESULT op=... ok|err ..." line each.
//   fault_client connect
//       benchfs_init with prewarm and a ping: "RESULT op=init|ping ...".

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "benchfs/benchfs.h"
#include "client_process.hpp"
#include "fault_common.hpp"

using namespace benchfs::faults;

namespace {

constexpr double kSafetySeconds = 300;  // never outlive a forgotten test

// Every process here waits up to 5000 ms for the registry.
bool init(int prewarm) { return benchfs::faults::init_client(prewarm, 5000); }

[[noreturn]] void fail(const char* op, double t0, int pass) {
  const int e = errno;
  const double now = mono_ms();
  say("ERROR op=%s errno=%s call_ms=%.1f t_ms=%.3f pass=%d msg=%s\n", op, errno_name(e).c_str(), now - t0,
      now, pass, benchfs_last_error());
  const double f0 = mono_ms();
  benchfs_finalize();
  say("FINALIZED ms=%.1f\n", mono_ms() - f0);
  std::exit(3);
}

int writer(const std::string& path, size_t size, size_t transfer) {
  if (!init(1)) return 2;
  std::vector<uint8_t> buf(transfer);
  const double start = mono_ms();
  for (int pass = 0; mono_ms() - start < kSafetySeconds * 1e3; ++pass) {
    double t0 = mono_ms();
    const int fd = benchfs_open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) fail("open", t0, pass);
    for (size_t off = 0; off < size; off += transfer) {
      fill_pattern(buf.data(), transfer, static_cast<uint64_t>(pass) + 1, off);
      t0 = mono_ms();
      if (benchfs_pwrite(fd, buf.data(), transfer, static_cast<off_t>(off)) != static_cast<ssize_t>(transfer))
        fail("pwrite", t0, pass);
    }
    t0 = mono_ms();
    if (benchfs_close(fd) != 0) fail("close", t0, pass);
    if (pass == 0) say("READY\n");
  }
  benchfs_finalize();
  return 0;
}

int rw(bool write, const std::string& path, size_t size, uint64_t seed) {
  if (!init(1)) return 2;
  std::vector<uint8_t> buf(size);
  if (write) fill_pattern(buf.data(), size, seed, 0);
  const int fd = benchfs_open(path.c_str(), write ? (O_RDWR | O_CREAT) : O_RDONLY, 0644);
  if (fd < 0) fail("open", mono_ms(), 0);
  const double start = mono_ms();
  for (long n = 1; mono_ms() - start < kSafetySeconds * 1e3; ++n) {
    const double t0 = mono_ms();
    if (write) {
      if (benchfs_pwrite(fd, buf.data(), size, 0) != static_cast<ssize_t>(size)) fail("pwrite", t0, 0);
    } else {
      if (benchfs_pread(fd, buf.data(), size, 0) != static_cast<ssize_t>(size)) fail("pread", t0, 0);
      if (first_mismatch(buf.data(), size, seed, 0) != -1) {
        say("ERROR op=verify errno=EIO call_ms=0 t_ms=%.3f pass=0 msg=data differs\n", mono_ms());
        return 4;
      }
    }
    say("BUSY %ld ms=%.1f\n", n, mono_ms() - t0);
  }
  return 0;
}

// One "RESULT" line for a call that returned rc (< 0: failed with errno).
void result(const char* op, long long rc, double t0, const char* note = "") {
  const double ms = mono_ms() - t0;
  if (rc < 0) {
    const int e = errno;
    say("RESULT op=%s err errno=%s ms=%.1f msg=%s\n", op, errno_name(e).c_str(), ms, benchfs_last_error());
  } else {
    say("RESULT op=%s ok rc=%lld ms=%.1f %s\n", op, rc, ms, note);
  }
}

int probe(const std::string& path, uint64_t seed, const std::string& go) {
  if (!init(1)) return 2;
  constexpr size_t kSize = 100000;
  std::vector<uint8_t> buf(kSize);
  fill_pattern(buf.data(), kSize, seed, 0);
  int fd = benchfs_open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || benchfs_pwrite(fd, buf.data(), kSize, 0) != static_cast<ssize_t>(kSize) ||
      benchfs_close(fd) != 0) {
    result("setup", -1, mono_ms());
    return 2;
  }
  say("READY\n");
  const double start = mono_ms();
  while (access(go.c_str(), F_OK) != 0) {
    if (mono_ms() - start > kSafetySeconds * 1e3) return 5;
    usleep(5000);
  }
  double t0 = mono_ms();
  result("ping", benchfs_ping(0, "x", 1, nullptr), t0);
  struct stat st {};
  t0 = mono_ms();
  result("stat", benchfs_stat(path.c_str(), &st), t0);
  t0 = mono_ms();
  fd = benchfs_open(path.c_str(), O_RDONLY, 0);
  if (fd < 0) {
    result("read", -1, t0);
  } else {
    std::vector<uint8_t> back(kSize);
    const ssize_t n = benchfs_pread(fd, back.data(), kSize, 0);
    const bool same = n == static_cast<ssize_t>(kSize) && first_mismatch(back.data(), kSize, seed, 0) == -1;
    result("read", n, t0, same ? "data=old" : "data=other");
    benchfs_close(fd);
  }
  t0 = mono_ms();
  const std::string fresh = path + ".new";
  fd = benchfs_open(fresh.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    result("create", -1, t0);
  } else {
    fill_pattern(buf.data(), kSize, seed + 1, 0);
    ssize_t n = benchfs_pwrite(fd, buf.data(), kSize, 0);
    if (n == static_cast<ssize_t>(kSize)) {
      std::vector<uint8_t> back(kSize);
      n = benchfs_pread(fd, back.data(), kSize, 0);
      if (n == static_cast<ssize_t>(kSize) && first_mismatch(back.data(), kSize, seed + 1, 0) != -1) {
        errno = EIO;
        n = -1;
      }
    }
    result("create", n, t0);
    benchfs_close(fd);
  }
  t0 = mono_ms();
  result("finalize", benchfs_finalize(), t0);
  return 0;
}

int connect_only() {
  const double t0 = mono_ms();
  if (!init(1)) return 2;
  result("init", 0, t0);
  const double t1 = mono_ms();
  result("ping", benchfs_ping(0, "x", 1, nullptr), t1);
  benchfs_finalize();
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: fault_client writer PATH SIZE TRANSFER | rw write|read PATH SIZE SEED |"
               " probe PATH SEED GO_FILE | connect\n");
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string mode = argv[1];
  auto num = [&](int i) { return std::strtoull(argv[i], nullptr, 0); };
  if (mode == "writer" && argc == 5) return writer(argv[2], num(3), num(4));
  if (mode == "rw" && argc == 6) return rw(std::string(argv[2]) == "write", argv[3], num(4), num(5));
  if (mode == "probe" && argc == 5) return probe(argv[2], num(3), argv[4]);
  if (mode == "connect" && argc == 2) return connect_only();
  return usage();
}
