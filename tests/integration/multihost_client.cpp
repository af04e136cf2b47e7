// multihost_client: a client process of the multi-host tests
// (test_multihost.cpp), run inside a "host" network namespace with
// `ip netns exec`, using libbenchfs's C API. Registry and RPC timeout from
// the environment (BENCHFS_REGISTRY, BENCHFS_RPC_TIMEOUT_MS). Every line is
// flushed at once; t_ms is CLOCK_MONOTONIC (comparable with the test's
// clock). It kills itself (SIGALRM) after 120 s whatever happens.
//
//   multihost_client discover
//       Connects to every server (prewarm), prints "LOCAL <ifname> <addr>"
//       for this namespace's IPv4 addresses, "LISTED <line>" for each line
//       of <registry>/server_list.txt and "PING server=<i> ok|err ...".
//       Exit 0 when every ping worked.
//   multihost_client write|read PREFIX COUNT SIZE SEED
//       COUNT files PREFIX<k> of SIZE bytes of pattern SEED + k: written in
//       one pwrite each, or read back (stat size, pread, compared).
//       "RESULT op=write|read ok ..." and exit 0, or "RESULT ... err ..." and
//       exit 3.
//   multihost_client survivor DEAD GO_FILE
//       Two servers. Writes two files whose metadata and only chunk are on
//       each server, prints READY, waits for GO_FILE, then one RESULT line
//       each: ping_dead, stat_dead (calls to server DEAD), read_alive (the
//       other server's files, compared), create_alive (a new file there),
//       ping_alive. Exit 0.
//   multihost_client churn ID SECONDS PAUSE_MS
//       For SECONDS: write a 3-chunk file, read it back and compare, stat,
//       ping each server, pause PAUSE_MS (idle: evictable). Counts calls
//       that failed ("ERR ..." for the first 10) and mismatches, and ends
//       with "CHURN id=... ops=... errors=... mismatches=..." and exit 0.

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "benchfs/benchfs.h"
#include "benchfs/protocol/placement.hpp"
#include "client_process.hpp"
#include "fault_common.hpp"

using namespace benchfs::faults;

namespace {

// Every process here waits up to 10000 ms for the registry.
bool init(int prewarm) { return benchfs::faults::init_client(prewarm, 10000); }

// One RESULT line for a call that returned rc (< 0: failed, errno saved in e).
void result(const char* op, long long rc, int e, double t0, const std::string& note = "") {
  const double now = mono_ms();
  if (rc < 0) {
    say("RESULT op=%s err errno=%s ms=%.1f t_ms=%.3f %s msg=%s\n", op, errno_name(e).c_str(), now - t0, now,
        note.c_str(), benchfs_last_error());
  } else {
    say("RESULT op=%s ok rc=%lld ms=%.1f t_ms=%.3f %s\n", op, rc, now - t0, now, note.c_str());
  }
}

// Writes n bytes of pattern seed to path: 0 or -1 (errno set).
int write_file(const std::string& path, size_t n, uint64_t seed, int flags = O_TRUNC) {
  std::vector<uint8_t> data(n);
  fill_pattern(data.data(), n, seed, 0);
  const int fd = benchfs_open(path.c_str(), O_RDWR | O_CREAT | flags, 0644);
  if (fd < 0) return -1;
  if (benchfs_pwrite(fd, data.data(), n, 0) != static_cast<ssize_t>(n)) {
    const int e = errno;
    benchfs_close(fd);
    errno = e;
    return -1;
  }
  return benchfs_close(fd);
}

// Reads path back: 0, -1 (errno set) or -2 (size or data differ).
int check_file(const std::string& path, size_t n, uint64_t seed) {
  struct stat st {};
  if (benchfs_stat(path.c_str(), &st) != 0) return -1;
  if (static_cast<size_t>(st.st_size) != n) return -2;
  const int fd = benchfs_open(path.c_str(), O_RDONLY, 0);
  if (fd < 0) return -1;
  std::vector<uint8_t> back(n);
  const ssize_t got = benchfs_pread(fd, back.data(), n, 0);
  const int e = errno;
  benchfs_close(fd);
  if (got < 0) {
    errno = e;
    return -1;
  }
  if (got != static_cast<ssize_t>(n) || first_mismatch(back.data(), n, seed, 0) != -1) return -2;
  return 0;
}

// The skip+1-th path "<prefix><n>" whose metadata is on server `owner`.
std::string path_on(const std::string& prefix, uint32_t owner, uint32_t servers, int skip) {
  for (int n = 0;; ++n) {
    std::string p = prefix + std::to_string(n);
    if (benchfs::placement::metadata_owner(p, servers) == owner && skip-- == 0) return p;
  }
}

int discover() {
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) == 0) {
    for (ifaddrs* i = ifs; i != nullptr; i = i->ifa_next) {
      if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
      char buf[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof buf);
      say("LOCAL %s %s\n", i->ifa_name, buf);
    }
    freeifaddrs(ifs);
  }
  if (!init(1)) return 2;
  const char* reg = std::getenv("BENCHFS_REGISTRY");
  std::ifstream list(std::string(reg != nullptr ? reg : ".") + "/server_list.txt");
  for (std::string line; std::getline(list, line);) say("LISTED %s\n", line.c_str());
  const int n = benchfs_server_count();
  say("SERVERS %d\n", n);
  int failed = 0;
  for (int s = 0; s < n; ++s) {
    const char payload[] = "multihost";
    char echo[sizeof payload] = {};
    const double t0 = mono_ms();
    const int rc = benchfs_ping(s, payload, sizeof payload, echo);
    const int e = errno;
    const double ms = mono_ms() - t0;
    if (rc == 0 && std::memcmp(payload, echo, sizeof payload) == 0) {
      say("PING server=%d ok ms=%.2f\n", s, ms);
    } else {
      ++failed;
      say("PING server=%d err errno=%s ms=%.1f msg=%s\n", s, rc == 0 ? "echo" : errno_name(e).c_str(), ms,
          benchfs_last_error());
    }
  }
  benchfs_finalize();
  return failed == 0 && n > 0 ? 0 : 3;
}

int write_or_read(bool write, const std::string& prefix, int count, size_t size, uint64_t seed) {
  if (!init(1)) return 2;
  const double t0 = mono_ms();
  for (int k = 0; k < count; ++k) {
    const std::string path = prefix + std::to_string(k);
    const uint64_t s = seed + static_cast<uint64_t>(k);
    const int rc = write ? write_file(path, size, s) : check_file(path, size, s);
    if (rc != 0) {
      const int e = rc == -2 ? EIO : errno;
      say("RESULT op=%s err path=%s errno=%s %s msg=%s\n", write ? "write" : "read", path.c_str(),
          errno_name(e).c_str(), rc == -2 ? "mismatch=1" : "", benchfs_last_error());
      benchfs_finalize();
      return 3;
    }
  }
  say("RESULT op=%s ok files=%d bytes=%zu ms=%.1f\n", write ? "write" : "read", count,
      static_cast<size_t>(count) * size, mono_ms() - t0);
  benchfs_finalize();
  return 0;
}

int survivor(int dead, const std::string& go) {
  if (!init(1)) return 2;
  if (benchfs_server_count() != 2 || (dead != 0 && dead != 1)) {
    say("RESULT op=setup err errno=EINVAL msg=needs 2 servers\n");
    return 2;
  }
  const auto alive = static_cast<uint32_t>(1 - dead);
  const long long chunk = benchfs_chunk_size();
  const size_t small = static_cast<size_t>(chunk / 2);  // one chunk, on the metadata owner
  std::string files[2][2];
  for (uint32_t s = 0; s < 2; ++s) {
    for (int k = 0; k < 2; ++k) {
      files[s][k] = path_on("/only", s, 2, k);
      if (write_file(files[s][k], small, 700 + s * 10 + static_cast<uint32_t>(k)) != 0) {
        result("setup", -1, errno, mono_ms(), "path=" + files[s][k]);
        return 2;
      }
    }
  }
  say("READY\n");
  const double start = mono_ms();
  while (access(go.c_str(), F_OK) != 0) {
    if (mono_ms() - start > 60000) return 5;
    usleep(2000);
  }
  double t0 = mono_ms();
  long long rc = benchfs_ping(dead, "x", 1, nullptr);
  result("ping_dead", rc, errno, t0);
  struct stat st {};
  t0 = mono_ms();
  rc = benchfs_stat(files[dead][0].c_str(), &st);
  result("stat_dead", rc, errno, t0);
  int intact = 0;
  t0 = mono_ms();
  int e = 0;
  for (int k = 0; k < 2; ++k) {
    const int c = check_file(files[alive][k], small, 700 + alive * 10 + static_cast<uint32_t>(k));
    if (c == 0) ++intact;
    if (c == -1 && e == 0) e = errno;
    if (c == -2 && e == 0) e = EIO;
  }
  result("read_alive", intact == 2 ? intact : -1, e, t0, "intact=" + std::to_string(intact));
  t0 = mono_ms();
  const std::string fresh = path_on("/fresh", alive, 2, 0);
  rc = write_file(fresh, small, 900, O_EXCL);
  if (rc == 0) {
    const int c = check_file(fresh, small, 900);
    rc = c == 0 ? 0 : -1;
    if (c == -2) errno = EIO;
  }
  result("create_alive", rc, errno, t0);
  t0 = mono_ms();
  rc = benchfs_ping(static_cast<int>(alive), "x", 1, nullptr);
  result("ping_alive", rc, errno, t0);
  t0 = mono_ms();
  rc = benchfs_finalize();
  result("finalize", rc, errno, t0);
  return 0;
}

int churn(int id, double seconds, int pause_ms) {
  if (!init(0)) return 2;
  const int servers = benchfs_server_count();
  const size_t size = static_cast<size_t>(benchfs_chunk_size()) * 3 - 1000;  // over both servers
  std::vector<uint8_t> buf(size);
  std::vector<uint8_t> back(size);
  long ops = 0, errors = 0, mismatches = 0;
  auto failed = [&](const char* op, const std::string& path) {
    const int e = errno;
    if (++errors <= 10)
      say("ERR id=%d op=%s path=%s errno=%s t_ms=%.3f msg=%s\n", id, op, path.c_str(), errno_name(e).c_str(),
          mono_ms(), benchfs_last_error());
  };
  const double start = mono_ms();
  for (long it = 0; mono_ms() - start < seconds * 1e3; ++it) {
    const std::string path = "/churn." + std::to_string(id) + "." + std::to_string(it % 3);
    const uint64_t seed = static_cast<uint64_t>(id) * 1000003 + static_cast<uint64_t>(it);
    fill_pattern(buf.data(), size, seed, 0);
    ++ops;
    const int fd = benchfs_open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
      failed("open", path);
    } else {
      ++ops;
      if (benchfs_pwrite(fd, buf.data(), size, 0) != static_cast<ssize_t>(size)) {
        failed("pwrite", path);
      } else {
        ++ops;
        const ssize_t got = benchfs_pread(fd, back.data(), size, 0);
        if (got < 0) {
          failed("pread", path);
        } else if (got != static_cast<ssize_t>(size) || first_mismatch(back.data(), size, seed, 0) != -1) {
          if (++mismatches <= 10) say("MISMATCH id=%d path=%s got=%zd\n", id, path.c_str(), got);
        }
      }
      ++ops;
      if (benchfs_close(fd) != 0) failed("close", path);
    }
    struct stat st {};
    ++ops;
    if (benchfs_stat(path.c_str(), &st) != 0) failed("stat", path);
    for (int s = 0; s < servers; ++s) {
      ++ops;
      if (benchfs_ping(s, "c", 1, nullptr) != 0) failed("ping", "server " + std::to_string(s));
    }
    if (pause_ms > 0) usleep(static_cast<useconds_t>(pause_ms) * 1000);
  }
  benchfs_client_stats cs{};
  benchfs_get_client_stats(&cs);
  benchfs_finalize();
  say("CHURN id=%d ops=%ld errors=%ld mismatches=%ld connects=%llu reconnects=%llu retries=%llu\n", id, ops,
      errors, mismatches, cs.connects, cs.reconnects, cs.retries);
  return 0;
}

int usage() {
  std::fprintf(
      stderr,
      "usage: multihost_client discover | write|read PREFIX COUNT SIZE SEED | survivor DEAD GO_FILE |"
      " churn ID SECONDS PAUSE_MS\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  alarm(120);  // never outlive a forgotten test
  if (argc < 2) return usage();
  const std::string cmd = argv[1];
  if (cmd == "discover" && argc == 2) return discover();
  if ((cmd == "write" || cmd == "read") && argc == 6)
    return write_or_read(cmd == "write", argv[2], std::atoi(argv[3]), std::strtoull(argv[4], nullptr, 10),
                         std::strtoull(argv[5], nullptr, 10));
  if (cmd == "survivor" && argc == 4) return survivor(std::atoi(argv[2]), argv[3]);
  if (cmd == "churn" && argc == 5) return churn(std::atoi(argv[2]), std::atof(argv[3]), std::atoi(argv[4]));
  return usage();
}
