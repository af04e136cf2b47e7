/*
 * libbenchfs: the BenchFS client library (C API).
 *
 * Functions return 0 (or a non-negative count) on success and -1 with errno
 * set on failure, unless their comment says otherwise. After a failure,
 * benchfs_last_error() describes it in words. All calls are thread safe.
 */
#ifndef BENCHFS_BENCHFS_H
#define BENCHFS_BENCHFS_H

#include <stddef.h>
#include <stdint.h>

#if defined(BENCHFS_BUILDING_LIBRARY)
#define BENCHFS_API __attribute__((visibility("default")))
#else
#define BENCHFS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Client settings. Start from benchfs_config_init(); zero/NULL fields mean
 *  "default" (which environment variables may set, as noted). */
typedef struct benchfs_config {
  /** Registry directory holding server_list.txt (env BENCHFS_REGISTRY). */
  const char* registry;
  /** Client id presented to the servers; NULL: "<host>:<pid>:<n>"
   *  (env BENCHFS_CLIENT_ID). Must be unique among live clients. */
  const char* client_id;
  /** Non-zero: connect to every server inside benchfs_init. */
  int prewarm;
  /** Longest any call waits for a server, in ms (env BENCHFS_RPC_TIMEOUT_MS;
   *  default 10000). */
  int rpc_timeout_ms;
  /** How long benchfs_init waits for the registry to become ready, in ms
   *  (default 30000). */
  int wait_ready_ms;
  /** Waiting for replies: "busy", "adaptive" (spin, then sleep) or
   *  "blocking" (env BENCHFS_POLL; default "adaptive"). */
  const char* poll;
  /** Adaptive polling: microseconds to spin before sleeping (env
   *  BENCHFS_SPIN_US; default 20). */
  int spin_us;
} benchfs_config;

/** Fills *cfg with defaults. */
BENCHFS_API void benchfs_config_init(benchfs_config* cfg);

/** Connects this process to the BenchFS servers of the registry in cfg (NULL:
 *  all defaults). Waits up to wait_ready_ms for the registry. Reference
 *  counted: every successful call needs a benchfs_finalize.
 *  Errors: EINVAL (bad setting), ETIMEDOUT (registry not ready; the message
 *  names the directory), ENOENT, EACCES (prewarm: wrong job secret),
 *  ECONNREFUSED / EHOSTUNREACH (prewarm: a server is unreachable). */
BENCHFS_API int benchfs_init(const benchfs_config* cfg);

/** Releases what the last matching benchfs_init set up: closes the
 *  endpoints (bounded in time). Errors: EINVAL if not initialized. */
BENCHFS_API int benchfs_finalize(void);

/** Number of servers, or -1 (EINVAL) if not initialized. */
BENCHFS_API int benchfs_server_count(void);

/** Sends len bytes (0 .. 4 MiB) to server `server` (0-based) and receives
 *  the echo into `echo` (NULL: discard). Reconnects once if the connection
 *  was closed. Errors: EINVAL (bad server or size, not initialized),
 *  ETIMEDOUT, ENOTCONN, ECONNREFUSED, EACCES (secret rejected), EIO. */
BENCHFS_API int benchfs_ping(int server, const void* payload, size_t len, void* echo);

/** Asks server `server` to shut down (it answers, then stops).
 *  Errors: as benchfs_ping. */
BENCHFS_API int benchfs_shutdown_server(int server);

/** Text for an errno value (thread safe, never NULL). */
BENCHFS_API const char* benchfs_strerror(int errnum);

/** A description of this thread's last failed BenchFS call ("" if none). */
BENCHFS_API const char* benchfs_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* BENCHFS_BENCHFS_H */
