#pragma once
// Shared by the client processes the fault and multi-host tests start
// (fault_client, multihost_client): one-line reports on stdout, flushed at
// once (the test reads them while the process runs), and benchfs_init with
// its failure reported as a RESULT line.

#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include "benchfs/benchfs.h"
#include "fault_common.hpp"

namespace benchfs::faults {

// printf to stdout, flushed.
inline void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
inline void say(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vprintf(fmt, ap);
  va_end(ap);
  std::fflush(stdout);
}

// benchfs_init (registry and settings from the environment), waiting up to
// wait_ready_ms for the registry; a failure is reported as
// "RESULT op=init err errno=... ms=... msg=..." and returns false.
inline bool init_client(int prewarm, int wait_ready_ms) {
  benchfs_config cfg;
  benchfs_config_init(&cfg);
  cfg.prewarm = prewarm;
  cfg.wait_ready_ms = wait_ready_ms;
  const double t0 = mono_ms();
  if (benchfs_init(&cfg) != 0) {
    const int e = errno;
    say("RESULT op=init err errno=%s ms=%.1f msg=%s\n", errno_name(e).c_str(), mono_ms() - t0,
        benchfs_last_error());
    return false;
  }
  return true;
}

}  // namespace benchfs::faults
