/*
 * libbenchfs: support for the IOR / mdtest backend (ior/aiori-BENCHFS.c).
 *
 * The backend itself stays a thin translation of IOR's hooks; what can be
 * decided without IOR lives here so that it is tested with the library:
 * IOR's open flag bits, the shared-file truncation rule, path clean-up,
 * the settings check, the "mini" deployment (servers hosted by the first
 * ranks of the benchmark job) and reference-counted set-up / tear-down.
 *
 * Functions return 0 (or a non-negative count) on success and -1 with errno
 * set on failure, unless their comment says otherwise; benchfs_last_error()
 * then says why in words.
 */
#ifndef BENCHFS_BENCHFS_IOR_H
#define BENCHFS_BENCHFS_IOR_H

#include <stddef.h>
#include <sys/types.h>

#include "benchfs/benchfs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* IOR's open flag bits (IOR's aiori.h); the backend checks that the values
 * agree at compile time. */
#define BENCHFS_IOR_RDONLY 0x01
#define BENCHFS_IOR_WRONLY 0x02
#define BENCHFS_IOR_RDWR 0x04
#define BENCHFS_IOR_APPEND 0x08
#define BENCHFS_IOR_CREAT 0x10
#define BENCHFS_IOR_TRUNC 0x20
#define BENCHFS_IOR_EXCL 0x40
#define BENCHFS_IOR_DIRECT 0x80

/** Who opens a file, as far as truncation is concerned. */
typedef enum benchfs_ior_opener {
  /** The only opener (file per process, mdtest's files). */
  BENCHFS_IOR_OPEN_ALONE = 0,
  /** Rank 0 of the ranks that all open one shared file together. */
  BENCHFS_IOR_OPEN_SHARED_FIRST = 1,
  /** Any other rank opening that shared file. */
  BENCHFS_IOR_OPEN_SHARED_OTHER = 2
} benchfs_ior_opener;

/** How to open: O_* flags and whether the openers of a shared file meet in a
 *  barrier (the first opens and then enters it; the others enter it and
 *  then open). */
typedef struct benchfs_ior_open_plan {
  int flags;
  int barrier;
} benchfs_ior_open_plan;

/** Translates IOR's flag bits into an open plan. Access: exactly one of
 *  RDONLY / WRONLY / RDWR (none: read only); CREAT, EXCL, TRUNC and APPEND
 *  map to their O_* flags; DIRECT is ignored (no client cache to bypass).
 *  A shared file opened with TRUNC or EXCL: only the first opener truncates
 *  or insists on creating; the others drop TRUNC and EXCL and open after
 *  the barrier, so no rank truncates away what an earlier rank wrote and no
 *  rank fails with EEXIST. Errors: EINVAL (several access modes, unknown
 *  bits, bad opener, NULL plan). */
BENCHFS_API int benchfs_ior_plan_open(int ior_flags, benchfs_ior_opener opener, benchfs_ior_open_plan* plan);

/** Writes the BenchFS path for an IOR / mdtest path into out (size bytes
 *  with the terminating NUL): relative paths are taken relative to "/",
 *  empty and "." components are dropped, ".." removes the component before
 *  it (never above "/"), no trailing slash. Returns the length. Errors:
 *  EINVAL (NULL), ENAMETOOLONG (longer than 4096 bytes or than out). */
BENCHFS_API int benchfs_ior_path(const char* path, char* out, size_t size);

/** Reads or writes exactly len bytes at offset (write: non-zero). Returns
 *  len, or -1: a read that meets the end of the file first fails with EIO
 *  (and a message saying how far it got), as does any failed call. */
BENCHFS_API ssize_t benchfs_ior_xfer(int fd, int write, void* buf, size_t len, off_t offset);

/** mknod for mdtest -k: creates an empty regular file (O_EXCL) and closes
 *  it. Errors: those of benchfs_open and benchfs_close. */
BENCHFS_API int benchfs_ior_mknod(const char* path, mode_t mode);

/** rename for mdtest: files as benchfs_rename. A directory (which
 *  benchfs_rename refuses with EXDEV) is moved only when it is empty, by
 *  creating newpath with its mode and removing oldpath; not atomic, and
 *  newpath must not exist. Errors: those of benchfs_rename, EXDEV (a
 *  directory with entries), EEXIST, and those of mkdir / rmdir. */
BENCHFS_API int benchfs_ior_rename(const char* oldpath, const char* newpath);

/** "BenchFS <version>" (static storage). */
BENCHFS_API const char* benchfs_ior_version(void);

/** The backend's options (--benchfs.*). Start from benchfs_ior_settings_init. */
typedef struct benchfs_ior_settings {
  /** Registry directory. NULL / "": env BENCHFS_REGISTRY; with servers > 0
   *  and no directory given, a fresh directory under $TMPDIR (or /tmp) that
   *  rank 0 creates and removes again. */
  const char* registry;
  /** Client id prefix; every rank presents "<client_id>.<rank>". NULL / "":
   *  the library's default (host, pid and a counter). */
  const char* client_id;
  /** Non-zero: connect to every server during initialization. */
  int prewarm;
  /** Mini deployment: the first `servers` ranks host an in-process server
   *  each (0: use servers that are already running). */
  int servers;
  /** Progress threads of each in-process server (0: 1). */
  int threads;
  /** HOST:PORT the in-process servers listen on (NULL / "": benchfsd_mt's
   *  default, all interfaces with the host's address advertised; on one
   *  machine with UCX_NET_DEVICES=lo use "127.0.0.1:0"). */
  const char* listen;
} benchfs_ior_settings;

/** Fills *s with the defaults (all zero / NULL). */
BENCHFS_API void benchfs_ior_settings_init(benchfs_ior_settings* s);

/** Checks settings before anything is started. ranks: the number of ranks
 *  of the job, or 0 when not known yet. Errors: EINVAL (negative values,
 *  more servers than ranks, no registry given and none in BENCHFS_REGISTRY
 *  without servers of our own). */
BENCHFS_API int benchfs_ior_check(const benchfs_ior_settings* s, int ranks);

/** A group of ranks that initialize together (e.g. an MPI communicator). */
typedef struct benchfs_ior_group {
  int rank;
  int size;
  /** Waits until every rank of the group has called it. */
  void (*barrier)(void* arg);
  /** Copies len bytes at buf from rank 0 of the group into every rank's buf. */
  void (*broadcast)(void* arg, void* buf, size_t len);
  void* arg;
} benchfs_ior_group;

/** Connects this process to BenchFS, the first time (reference counted:
 *  later calls only count, whatever their settings). With s->servers == 0
 *  it is benchfs_init with the registry, client id and prewarm of s; all,
 *  servers and local_rank are unused (may be NULL / 0).
 *  With s->servers = K > 0 the call is collective over `all` (every rank of
 *  the job calls it): rank 0 creates the registry directory when none was
 *  given and broadcasts its name, ranks 0 .. K-1 start an in-process server
 *  (`servers` must then be the group of exactly those ranks, with the same
 *  rank numbers; NULL on the other ranks; local_rank spreads the servers'
 *  threads over this machine's cores), everybody waits in a barrier, then
 *  connects. Returns the new reference count (1: this call set up). A
 *  failure leaves nothing behind on this rank; the other ranks may then
 *  wait in a barrier, so the caller should end the job (IOR aborts).
 *  The groups are copied, but what their `arg` points to must stay valid
 *  until the last benchfs_ior_finalize.
 *  Errors: those of benchfs_ior_check, benchfs_server_start and
 *  benchfs_init. */
BENCHFS_API int benchfs_ior_initialize(const benchfs_ior_settings* s, const benchfs_ior_group* all,
                                       const benchfs_ior_group* servers, int local_rank);

/** Undoes one benchfs_ior_initialize; the last one disconnects and, in a
 *  mini deployment, is collective over the initializing group: every rank
 *  disconnects, all meet in a barrier, the server ranks stop their servers
 *  and rank 0 removes the registry directory it created. Returns the
 *  remaining reference count (0: torn down). Errors: EINVAL (not
 *  initialized), or the first failure of the tear-down (which still
 *  completes). */
BENCHFS_API int benchfs_ior_finalize(void);

/** Registry directory in use, "" when not initialized by
 *  benchfs_ior_initialize or connected through BENCHFS_REGISTRY. Valid until
 *  the last benchfs_ior_finalize. */
BENCHFS_API const char* benchfs_ior_registry(void);

#ifdef __cplusplus
}
#endif

#endif /* BENCHFS_BENCHFS_IOR_H */
