#pragma once
// Test-side support of the fault and load tests: client processes started
// directly (fork + exec, output to a log file the test reads while they run,
// SIGKILLed and reaped when the test is done with them or dies), samples of
// a server process from /proc, and the one-line "RELIABILITY:" summaries
// scripts/reliability_report.sh collects.

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fault_common.hpp"
#include "harness.hpp"

namespace benchfs::faults {

/// Errors that say "the server is gone or unreachable".
inline const std::set<int> kDown = {EIO, ENOTCONN, ETIMEDOUT, ECONNRESET, ECONNREFUSED, EHOSTUNREACH, EPIPE};

/// How late past the RPC timeout an error may come (a loaded 2-core
/// machine, sanitizer builds).
inline constexpr double kSlackMs = 1500;

/// A child process with stdout and stderr in `log`. The destructor kills
/// (SIGKILL) and reaps it if it still runs; it also dies with the test.
class Process {
 public:
  Process(const std::vector<std::string>& argv, std::string log,
          const std::map<std::string, std::string>& env = {})
      : log_(std::move(log)) {
    benchfs::test::set_test_environment();
    const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_ = benchfs::test::spawn(argv, fd, env, SIGKILL);
    if (fd >= 0) ::close(fd);
  }
  ~Process() {
    if (running()) {
      kill(SIGKILL);
      wait_exit(10000);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  void kill(int sig) {
    if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
  }
  bool running() {
    if (pid_ <= 0 || reaped_) return false;
    int st = 0;
    const pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      reap(st);
      return false;
    }
    return r == 0;
  }
  /// Exit code (128 + signal when killed), or -1 if still running after timeout_ms.
  int wait_exit(int timeout_ms) {
    const double deadline = mono_ms() + timeout_ms;
    while (running()) {
      if (mono_ms() >= deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return code_;
  }
  /// SIGKILL, then reap.
  int kill_and_reap() {
    kill(SIGKILL);
    return wait_exit(10000);
  }
  [[nodiscard]] std::string output() const { return benchfs::test::read_file(log_); }
  /// Waits until the output contains `needle`: true, or false when the
  /// process exited without it or timeout_ms passed.
  bool wait_for(const std::string& needle, int timeout_ms) {
    const double deadline = mono_ms() + timeout_ms;
    for (;;) {
      if (output().find(needle) != std::string::npos) return true;
      if (!running()) return output().find(needle) != std::string::npos;
      if (mono_ms() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  /// Lines of the output starting with `prefix`.
  [[nodiscard]] std::vector<std::string> lines(const std::string& prefix) const {
    std::vector<std::string> out;
    std::istringstream in(output());
    std::string line;
    while (std::getline(in, line))
      if (line.compare(0, prefix.size(), prefix) == 0) out.push_back(line);
    return out;
  }

 private:
  void reap(int st) {
    reaped_ = true;
    code_ = benchfs::test::exit_code(st);
  }
  std::string log_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int code_ = -1;
};

/// "key=value" fields of a line such as "ERROR op=pwrite errno=EIO call_ms=3.1".
inline std::map<std::string, std::string> fields(const std::string& line) {
  std::map<std::string, std::string> out;
  std::istringstream in(line);
  std::string word;
  while (in >> word) {
    const size_t eq = word.find('=');
    if (eq != std::string::npos && !out.count(word.substr(0, eq)))
      out[word.substr(0, eq)] = word.substr(eq + 1);
    if (word.compare(0, 4, "msg=") == 0) break;  // the message runs to the end of the line
  }
  return out;
}

/// What fault_client writers said after their server was killed: the
/// latest error after the kill and how often each errno came.
struct WriterErrors {
  double worst_ms = 0;
  std::map<std::string, int> errnos;
  /// "3x ECONNRESET, 1x EIO"
  [[nodiscard]] std::string summary() const {
    std::string how;
    for (const auto& [name, n] : errnos) how += (how.empty() ? "" : ", ") + std::to_string(n) + "x " + name;
    return how;
  }
};

/// Every writer (fault_client writer, busy when a server was killed at
/// t_kill, mono_ms) reports one ERROR with an errno of kDown within
/// timeout_ms + kSlackMs of the kill and of its call's start, then exits 3;
/// with `finalized`, also that benchfs_finalize returned ("FINALIZED").
/// Adds to *out (call under ASSERT_NO_FATAL_FAILURE).
inline void expect_writers_failed(const std::vector<std::unique_ptr<Process>>& writers, double t_kill,
                                  int timeout_ms, bool finalized, WriterErrors* out) {
  for (size_t i = 0; i < writers.size(); ++i) {
    SCOPED_TRACE("writer " + std::to_string(i));
    Process& w = *writers[i];
    const int rc = w.wait_exit(timeout_ms + 15000);
    ASSERT_NE(rc, -1) << "writer hangs after the server was killed:\n" << w.output();
    EXPECT_EQ(rc, 3) << w.output();
    const auto err = w.lines("ERROR ");
    ASSERT_EQ(err.size(), 1u) << w.output();
    auto f = fields(err[0]);
    EXPECT_EQ(kDown.count(errno_from_name(f["errno"])), 1u) << err[0];
    const double after_kill = std::stod(f["t_ms"]) - t_kill;
    EXPECT_LT(after_kill, timeout_ms + kSlackMs) << err[0];
    EXPECT_LT(std::stod(f["call_ms"]), timeout_ms + kSlackMs) << err[0];
    out->worst_ms = std::max(out->worst_ms, after_kill);
    ++out->errnos[f["errno"]];
    std::printf("writer %zu: %s (%.1f ms after the kill)\n", i, err[0].c_str(), after_kill);
    if (finalized) {
      EXPECT_EQ(w.lines("FINALIZED").size(), 1u) << "benchfs_finalize did not return:\n" << w.output();
    }
  }
}

/// VmRSS of a process in KiB (0 if gone).
inline uint64_t rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      uint64_t v = 0;
      in >> v;
      return v;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

/// Open sockets of a process (descriptors whose link reads "socket:[...]";
/// the server's socket quarantine holds closed numbers as /dev/null).
inline size_t socket_count(pid_t pid) {
  size_t n = 0;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      char target[64];
      const ssize_t len = readlink((dir + "/" + e->d_name).c_str(), target, sizeof(target) - 1);
      if (len > 7 && std::memcmp(target, "socket:", 7) == 0) ++n;
    }
    closedir(d);
  }
  return n;
}

/// Established TCP connections whose local port is `port`: on a server's
/// listening port, one per client endpoint (UCX's connection manager keeps
/// its socket for the endpoint's life).
inline size_t established_on_port(uint16_t port) {
  size_t n = 0;
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string slot, local, remote, state;
      ls >> slot >> local >> remote >> state;
      const size_t colon = local.rfind(':');
      if (colon == std::string::npos || state != "01") continue;
      if (std::strtoul(local.c_str() + colon + 1, nullptr, 16) == port) ++n;
    }
  }
  return n;
}

/// Polls `cond` every 5 ms until it holds (true) or timeout_ms pass (false).
template <class F>
bool eventually(F&& cond, int timeout_ms) {
  const double deadline = mono_ms() + timeout_ms;
  for (;;) {
    if (cond()) return true;
    if (mono_ms() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

/// The summary line scripts/reliability_report.sh collects into
/// docs/RELIABILITY.md: "RELIABILITY: <area> | <what> | <result>".
inline void reliability(const std::string& area, const std::string& what, bool passed,
                        const std::string& detail) {
  std::printf("RELIABILITY: %s | %s | %s: %s\n", area.c_str(), what.c_str(), passed ? "PASS" : "FAIL",
              detail.c_str());
  std::fflush(stdout);
}

inline std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
inline std::string fmt(const char* f, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

}  // namespace benchfs::faults
