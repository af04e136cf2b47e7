/*
 * libbenchfs: the BenchFS client library (C API).
 *
 * Functions return 0 (or a non-negative count) on success and -1 with errno
 * set on failure, unless their comment says otherwise. After a failure,
 * benchfs_last_error() describes it in words. All calls are thread safe.
 *
 * Paths are absolute ("/dir/file"), at most 4096 bytes, without "." or ".."
 * components or repeated slashes (EINVAL). Every call that reaches a server
 * may also fail with ETIMEDOUT (no answer within rpc_timeout_ms), ENOTCONN /
 * ECONNREFUSED (server gone or unreachable), EACCES (wrong job secret) and
 * EINVAL when the library is not initialized.
 *
 * Consistency: data written by pwrite is on the servers when the call
 * returns. A file's size is kept by its metadata server and raised (never
 * lowered) when a writer calls benchfs_fsync or benchfs_close; other clients
 * see the new size after that. benchfs_truncate sets it exactly.
 */
#ifndef BENCHFS_BENCHFS_H
#define BENCHFS_BENCHFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

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
   *  BENCHFS_SPIN_US; default 1000: a reply is due, so spinning pays while a
   *  core is free; cut short when the CPUs are oversubscribed). */
  int spin_us;
  /** How to reach the servers: "persistent" (one registered endpoint per
   *  server through its listener; the default) or "reply_ep" (endpoints made
   *  from the servers' published worker addresses, answered on UCX's reply
   *  endpoint; for comparison) (env BENCHFS_CONNECT). */
  const char* connect;
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

/* ------------------------------------------------------------ files */

/** Opens `path` and returns a file descriptor (>= 0) of this library (not a
 *  kernel descriptor). flags: O_RDONLY / O_WRONLY / O_RDWR, plus O_CREAT,
 *  O_EXCL, O_TRUNC, O_APPEND; other bits are ignored. mode: permission bits
 *  used with O_CREAT. Errors: ENOENT (missing, or parent missing), EEXIST
 *  (O_CREAT|O_EXCL and it exists), EISDIR (a directory opened for writing),
 *  ENOTDIR (a parent is a file), ENAMETOOLONG, EINVAL, EMFILE. */
BENCHFS_API int benchfs_open(const char* path, int flags, mode_t mode);

/** benchfs_open(path, flags | O_CREAT, mode). */
BENCHFS_API int benchfs_create(const char* path, int flags, mode_t mode);

/** Pushes the size this descriptor wrote (as benchfs_fsync) and releases
 *  the descriptor; the descriptor is released even when the push fails.
 *  Errors: EBADF, and those of benchfs_fsync. */
BENCHFS_API int benchfs_close(int fd);

/** Writes len bytes at offset, split into chunk RPCs sent concurrently to
 *  the servers holding them, straight from buf. Returns len, or -1 (no
 *  partial counts). Errors: EBADF (bad descriptor or not open for writing),
 *  EINVAL (negative offset, offset + len overflows), ENOSPC (a server's
 *  memory limit), EIO. */
BENCHFS_API ssize_t benchfs_pwrite(int fd, const void* buf, size_t len, off_t offset);

/** Reads up to len bytes at offset straight into buf. Returns the bytes
 *  read: fewer than len only at end of file (as known from the size on the
 *  metadata server and this descriptor's own writes), 0 at or past it.
 *  Never-written ranges inside the file read as zeros. Errors: EBADF (bad
 *  descriptor or not open for reading), EINVAL, EIO. */
BENCHFS_API ssize_t benchfs_pread(int fd, void* buf, size_t len, off_t offset);

/** pwrite at the file position (at the end of file with O_APPEND), then
 *  advances the position. */
BENCHFS_API ssize_t benchfs_write(int fd, const void* buf, size_t len);

/** pread at the file position, then advances it by the bytes read. */
BENCHFS_API ssize_t benchfs_read(int fd, void* buf, size_t len);

/** Moves the file position: whence SEEK_SET, SEEK_CUR or SEEK_END (asks the
 *  metadata server for the size). Returns the new position. Errors: EBADF,
 *  EINVAL (bad whence, negative result). */
BENCHFS_API off_t benchfs_lseek(int fd, off_t offset, int whence);

/** Pushes the size written through this descriptor to the metadata server
 *  (max semantics). Data is already on the servers. Errors: EBADF, ENOENT
 *  (another process removed or renamed the file meanwhile). A file this
 *  process removed while it was open stays usable through its descriptors,
 *  as in POSIX: its data is freed when the last of them closes. */
BENCHFS_API int benchfs_fsync(int fd);

/** Fills *st: st_ino, st_mode (S_IFREG / S_IFDIR | permissions), st_nlink,
 *  st_size, st_blksize (the chunk size), st_blocks, st_uid / st_gid (the
 *  caller's), times. Errors: ENOENT, ENAMETOOLONG, EINVAL. */
BENCHFS_API int benchfs_stat(const char* path, struct stat* st);

/** benchfs_stat of an open file; the size includes this descriptor's
 *  writes not yet pushed. A file this process removed while open reports
 *  st_nlink 0. Errors: EBADF, ENOENT (another process removed it). */
BENCHFS_API int benchfs_fstat(int fd, struct stat* st);

/** Removes a file and frees its data on every server. Errors: ENOENT,
 *  EISDIR (a directory: use benchfs_rmdir). */
BENCHFS_API int benchfs_unlink(const char* path);

/** Sets the size of `path` to `length` exactly; data past it is freed and
 *  reads as zeros if the file grows again. Errors: ENOENT, EISDIR, EINVAL
 *  (negative length). */
BENCHFS_API int benchfs_truncate(const char* path, off_t length);

/** benchfs_truncate of an open file (EBADF, or EINVAL if not open for
 *  writing). */
BENCHFS_API int benchfs_ftruncate(int fd, off_t length);

/** Renames a file (directories: EXDEV). An existing file at newpath is
 *  replaced and its data freed. Errors: ENOENT (oldpath or newpath's
 *  parent), EISDIR (newpath is a directory), EXDEV. */
BENCHFS_API int benchfs_rename(const char* oldpath, const char* newpath);

/** Sets the permission bits (mode & 07777) of a file or directory; the
 *  type bits are ignored. ctime becomes now. Errors: ENOENT. */
BENCHFS_API int benchfs_chmod(const char* path, mode_t mode);

/** benchfs_chmod of an open file (EBADF; ENOENT if removed meanwhile). */
BENCHFS_API int benchfs_fchmod(int fd, mode_t mode);

/** Sets access and modification times as utimensat(2) does: times NULL
 *  means both now; a tv_nsec of UTIME_NOW means now, UTIME_OMIT leaves that
 *  time. "Now" is the clock of the server holding the file. A later
 *  benchfs_close / benchfs_fsync that publishes a new size sets the
 *  modification time to now again. Errors: ENOENT, EINVAL (tv_nsec out of
 *  range). */
BENCHFS_API int benchfs_utimens(const char* path, const struct timespec times[2]);

/** benchfs_utimens of an open file. It publishes the size written through
 *  fd first, so that closing fd afterwards keeps the times set. */
BENCHFS_API int benchfs_futimens(int fd, const struct timespec times[2]);

/** 0 if `path` exists (mode: F_OK, or any of R_OK / W_OK / X_OK, which
 *  are granted to every client of the job). Errors: ENOENT, EINVAL (bad
 *  mode). */
BENCHFS_API int benchfs_access(const char* path, int mode);

/* ------------------------------------------------------ directories */

/** Creates a directory on every server. Errors: EEXIST, ENOENT (parent
 *  missing), ENOTDIR (parent is a file). */
BENCHFS_API int benchfs_mkdir(const char* path, mode_t mode);

/** Removes an empty directory from every server. Errors: ENOENT, ENOTDIR,
 *  ENOTEMPTY, EBUSY ("/"). */
BENCHFS_API int benchfs_rmdir(const char* path);

/** Called once per directory entry: name (without the directory) and type
 *  (DT_REG or DT_DIR). Return 0 to go on, non-zero to stop the listing. */
typedef int (*benchfs_dirent_fn)(void* arg, const char* name, unsigned char type);

/** Lists the directory `path` (without "." and ".."), merging every
 *  server's entries, in no particular order. Returns the number of entries
 *  passed to fn. Errors: ENOENT, ENOTDIR. */
BENCHFS_API int benchfs_readdir(const char* path, benchfs_dirent_fn fn, void* arg);

/** Called once per entry of benchfs_readdir_plus with the entry's
 *  attributes, as benchfs_stat of it would fill them (valid during the
 *  call only). Return 0 to go on, non-zero to stop. */
typedef int (*benchfs_dirent_plus_fn)(void* arg, const char* name, const struct stat* st);

/** benchfs_readdir that also gives each entry's attributes, taken from the
 *  same replies (a few RPCs per server for the whole directory, not one per
 *  entry): for `ls -l`, find and FUSE's readdirplus. Errors: as
 *  benchfs_readdir. */
BENCHFS_API int benchfs_readdir_plus(const char* path, benchfs_dirent_plus_fn fn, void* arg);

/** File system totals over all servers: f_bsize / f_frsize (4096), f_blocks
 *  (capacity: the sum of the servers' memory limits, or of their machines'
 *  memory where no limit is set), f_bfree / f_bavail, f_files / f_ffree /
 *  f_favail (inodes: files and directories in use, and room for more),
 *  f_fsid, f_flag (0), f_namemax (255). `path` must be absolute and is
 *  otherwise unused. */
BENCHFS_API int benchfs_statfs(const char* path, struct statvfs* st);

/** Chunk size the servers use, in bytes, or -1 (EINVAL) if not initialized. */
BENCHFS_API long long benchfs_chunk_size(void);

/** Counters of this process's client since benchfs_init (for benchmarks:
 *  take two readings and subtract). */
typedef struct benchfs_client_stats {
  unsigned long long rpcs;            /**< requests sent (registrations included) */
  unsigned long long sleeps;          /**< reply waits that slept on the worker */
  unsigned long long wakeups;         /**< of those, sleeps an event ended */
  unsigned long long preempted_spins; /**< spins cut short by a context switch */
  unsigned long long connects;        /**< endpoints made (reconnects included) */
  unsigned long long reconnects;
  unsigned long long retries;
  unsigned long long timeouts;
  unsigned long long yields; /**< CPU offered (sched_yield) while spinning */
} benchfs_client_stats;

/** Fills *out. Errors: EINVAL (NULL, or not initialized). */
BENCHFS_API int benchfs_get_client_stats(benchfs_client_stats* out);

/* ---------------------------------------------- in-process servers */

/** A server hosted inside the calling process (the same code as
 *  benchfsd_mt): the "mini" deployment where application ranks serve too. */
typedef struct benchfs_server benchfs_server;

/** Settings of an in-process server. Start from benchfs_server_config_init;
 *  zero / NULL fields mean benchfsd_mt's defaults. */
typedef struct benchfs_server_config {
  /** Registry directory to announce in (required). Rank 0 prepares it. */
  const char* registry;
  /** Progress threads (default 1). */
  int threads;
  /** HOST:PORT to listen on (default "0.0.0.0:0"). */
  const char* listen;
  /** Chunk size in bytes (default 1 MiB; rank 0's value is used). */
  uint64_t chunk_size;
  /** Memory limit for file data in bytes (default 0: none). */
  uint64_t memory_limit;
  /** Clients kept before evicting the least recently used (default 1000). */
  int client_capacity;
  /** "busy", "adaptive" or "blocking" (default "adaptive"). */
  const char* poll;
  /** Pin progress threads to cores (default 0: no pinning, since the
   *  application's own threads share the cores). */
  int pin;
  /** This server's index among the servers of the job and their number
   *  (default 0 of 1). With size > 1, barrier and broadcast are required. */
  int rank;
  int size;
  /** Index among the servers on this machine (spreads threads over cores). */
  int local_rank;
  /** Waits until every server rank has called it (e.g. MPI_Barrier on a
   *  communicator of the server ranks). */
  void (*barrier)(void* arg);
  /** Copies `count` uint64_t values from server rank 0 into every rank's
   *  `values` (e.g. MPI_Bcast). */
  void (*broadcast)(void* arg, uint64_t* values, int count);
  /** Passed to barrier and broadcast. */
  void* arg;
} benchfs_server_config;

/** Fills *cfg with defaults. */
BENCHFS_API void benchfs_server_config_init(benchfs_server_config* cfg);

/** Starts a server and, once every rank has started (barrier), publishes
 *  the registry from rank 0. Returns NULL with errno set (EINVAL: bad
 *  setting; EADDRINUSE; EACCES / ENOENT: registry directory). */
BENCHFS_API benchfs_server* benchfs_server_start(const benchfs_server_config* cfg);

/** Stops the server (tells its clients, bounded in time) and frees it.
 *  Collective like start when size > 1 only in that every rank should call
 *  it. Errors: EINVAL (NULL). */
BENCHFS_API int benchfs_server_stop(benchfs_server* server);

/** "host:port" the server announced (valid until benchfs_server_stop). */
BENCHFS_API const char* benchfs_server_address(const benchfs_server* server);

/* ------------------------------------------------------------ misc */

/** Text for an errno value (thread safe, never NULL). */
BENCHFS_API const char* benchfs_strerror(int errnum);

/** A description of this thread's last failed BenchFS call ("" if none). */
BENCHFS_API const char* benchfs_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* BENCHFS_BENCHFS_H */
