/*
 * aiori-BENCHFS.c: the BenchFS backend of IOR and mdtest (-a BENCHFS).
 *
 * A thin translation of IOR's hooks to libbenchfs. What does not need IOR
 * (flag translation, the shared-file truncation rule, path clean-up, exact
 * transfers, the mini deployment, reference counting) lives in libbenchfs
 * (benchfs/benchfs_ior.h), where it is tested. Every hook is set: IOR calls
 * local POSIX functions where a backend leaves one NULL, which would
 * silently measure the wrong file system.
 *
 * Build: copy this file into IOR's src/ and register it like CHFS (see
 * ior/README.md in the BenchFS repository); IOR finds libbenchfs through
 * pkg-config (benchfs.pc).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <benchfs/benchfs.h>
#include <benchfs/benchfs_ior.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "aiori.h"
#include "ior.h"
#include "utilities.h"

_Static_assert(IOR_RDONLY == BENCHFS_IOR_RDONLY && IOR_WRONLY == BENCHFS_IOR_WRONLY &&
                   IOR_RDWR == BENCHFS_IOR_RDWR && IOR_APPEND == BENCHFS_IOR_APPEND &&
                   IOR_CREAT == BENCHFS_IOR_CREAT && IOR_TRUNC == BENCHFS_IOR_TRUNC &&
                   IOR_EXCL == BENCHFS_IOR_EXCL && IOR_DIRECT == BENCHFS_IOR_DIRECT,
               "IOR's open flag bits differ from benchfs_ior.h");

/* --benchfs.* options; IOR fills the fields while parsing. */
typedef struct {
  char* registry;
  char* client_id;
  int prewarm;
  int servers;
  int threads;
  char* listen;
} benchfs_options_t;

typedef struct {
  int fd;
} benchfs_file_t;

static aiori_xfer_hint_t* hints = NULL;

/* Communicators of a mini deployment: every rank that initialized, and the
 * ranks that host a server. Live from the first initialize to the last
 * finalize (libbenchfs keeps pointers to them). */
static MPI_Comm all_comm = MPI_COMM_NULL;
static MPI_Comm server_comm = MPI_COMM_NULL;

static int dry_run(void) { return hints != NULL && hints->dryRun; }

static MPI_Comm job_comm(void) { return testComm != MPI_COMM_NULL ? testComm : MPI_COMM_WORLD; }

static void settings_from(const benchfs_options_t* o, benchfs_ior_settings* s) {
  benchfs_ior_settings_init(s);
  s->registry = o->registry;
  s->client_id = o->client_id;
  s->prewarm = o->prewarm;
  s->servers = o->servers;
  s->threads = o->threads;
  s->listen = o->listen;
}

/* The BenchFS form of an IOR path (absolute, no "." or ".."), or abort. */
static void to_path(const char* in, char* out) {
  if (benchfs_ior_path(in, out, PATH_MAX + 1) < 0)
    ERRF("BenchFS: bad path \"%s\": %s", in, benchfs_last_error());
}

static void comm_barrier(void* arg) { MPI_CHECK(MPI_Barrier(*(MPI_Comm*)arg), "BenchFS: barrier failed"); }

static void comm_broadcast(void* arg, void* buf, size_t len) {
  MPI_CHECK(MPI_Bcast(buf, (int)len, MPI_BYTE, 0, *(MPI_Comm*)arg), "BenchFS: broadcast failed");
}

static option_help* BENCHFS_options(aiori_mod_opt_t** init_backend_options, aiori_mod_opt_t* init_values) {
  benchfs_options_t* o = malloc(sizeof(*o));
  if (o == NULL) ERR("BenchFS: out of memory");
  if (init_values != NULL)
    memcpy(o, init_values, sizeof(*o));
  else
    memset(o, 0, sizeof(*o));
  *init_backend_options = (aiori_mod_opt_t*)o;

  option_help h[] = {
      {0, "benchfs.registry", "Registry directory of the servers (default: $BENCHFS_REGISTRY)",
       OPTION_OPTIONAL_ARGUMENT, 's', &o->registry},
      {0, "benchfs.client-id", "Client id prefix; each rank appends .<rank>", OPTION_OPTIONAL_ARGUMENT, 's',
       &o->client_id},
      {0, "benchfs.prewarm", "Connect to every server during initialization", OPTION_FLAG, 'd', &o->prewarm},
      {0, "benchfs.servers", "Mini deployment: the first K ranks host in-process servers",
       OPTION_OPTIONAL_ARGUMENT, 'd', &o->servers},
      {0, "benchfs.threads", "Progress threads of each in-process server (default 1)",
       OPTION_OPTIONAL_ARGUMENT, 'd', &o->threads},
      {0, "benchfs.listen",
       "HOST:PORT of the in-process servers (default: 127.0.0.1:0 when every rank runs on this machine, else "
       "benchfsd_mt's default)",
       OPTION_OPTIONAL_ARGUMENT, 's', &o->listen},
      LAST_OPTION};
  option_help* help = malloc(sizeof(h));
  if (help == NULL) ERR("BenchFS: out of memory");
  memcpy(help, h, sizeof(h));
  return help;
}

static int BENCHFS_check_params(aiori_mod_opt_t* options) {
  benchfs_ior_settings s;
  int size = 0;
  settings_from((benchfs_options_t*)options, &s);
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size failed");
  /* mdtest ignores the return value: abort with the reason instead. */
  if (benchfs_ior_check(&s, size) != 0) ERRF("BenchFS: %s", benchfs_last_error());
  return 0;
}

static void BENCHFS_xfer_hints(aiori_xfer_hint_t* params) { hints = params; }

static void BENCHFS_initialize(aiori_mod_opt_t* options) {
  benchfs_ior_settings s;
  benchfs_ior_group all, servers;
  int local_rank = 0, node_size = 0;
  settings_from((benchfs_options_t*)options, &s);
  memset(&all, 0, sizeof all);
  memset(&servers, 0, sizeof servers);
  if (s.servers > 0 && all_comm == MPI_COMM_NULL) {
    MPI_Comm node;
    MPI_CHECK(MPI_Comm_dup(job_comm(), &all_comm), "MPI_Comm_dup failed");
    MPI_CHECK(MPI_Comm_rank(all_comm, &all.rank), "MPI_Comm_rank failed");
    MPI_CHECK(MPI_Comm_size(all_comm, &all.size), "MPI_Comm_size failed");
    MPI_CHECK(MPI_Comm_split(all_comm, all.rank < s.servers ? 0 : MPI_UNDEFINED, all.rank, &server_comm),
              "MPI_Comm_split failed");
    MPI_CHECK(MPI_Comm_split_type(all_comm, MPI_COMM_TYPE_SHARED, all.rank, MPI_INFO_NULL, &node),
              "MPI_Comm_split_type failed");
    MPI_CHECK(MPI_Comm_rank(node, &local_rank), "MPI_Comm_rank failed");
    MPI_CHECK(MPI_Comm_size(node, &node_size), "MPI_Comm_size failed");
    MPI_CHECK(MPI_Comm_free(&node), "MPI_Comm_free failed");
    /* A job on one machine: loopback (works with UCX_NET_DEVICES=lo). */
    if ((s.listen == NULL || *s.listen == '\0') && node_size == all.size) s.listen = "127.0.0.1:0";
  }
  if (all_comm != MPI_COMM_NULL) {
    MPI_CHECK(MPI_Comm_rank(all_comm, &all.rank), "MPI_Comm_rank failed");
    MPI_CHECK(MPI_Comm_size(all_comm, &all.size), "MPI_Comm_size failed");
    all.barrier = comm_barrier;
    all.broadcast = comm_broadcast;
    all.arg = &all_comm;
  } else {
    MPI_CHECK(MPI_Comm_rank(job_comm(), &all.rank), "MPI_Comm_rank failed");
    MPI_CHECK(MPI_Comm_size(job_comm(), &all.size), "MPI_Comm_size failed");
  }
  if (server_comm != MPI_COMM_NULL) {
    MPI_CHECK(MPI_Comm_rank(server_comm, &servers.rank), "MPI_Comm_rank failed");
    MPI_CHECK(MPI_Comm_size(server_comm, &servers.size), "MPI_Comm_size failed");
    servers.barrier = comm_barrier;
    servers.broadcast = comm_broadcast;
    servers.arg = &server_comm;
  }
  if (benchfs_ior_initialize(&s, &all, server_comm != MPI_COMM_NULL ? &servers : NULL, local_rank) < 0)
    ERRF("BenchFS: initialization failed: %s", benchfs_last_error());
}

static void BENCHFS_finalize(aiori_mod_opt_t* options) {
  int left;
  (void)options;
  left = benchfs_ior_finalize();
  if (left < 0) WARNF("BenchFS: finalize: %s", benchfs_last_error());
  if (left <= 0) {
    if (server_comm != MPI_COMM_NULL) MPI_Comm_free(&server_comm);
    if (all_comm != MPI_COMM_NULL) MPI_Comm_free(&all_comm);
  }
}

/* create and open: the same, but for the flags IOR passes. */
static aiori_fd_t* open_file(char* name, int iorflags, int create) {
  static benchfs_file_t dry;
  char path[PATH_MAX + 1];
  benchfs_ior_open_plan plan;
  benchfs_ior_opener opener = BENCHFS_IOR_OPEN_ALONE;
  benchfs_file_t* f;
  int fd;

  if (dry_run()) return (aiori_fd_t*)&dry;
  to_path(name, path);
  if (create) iorflags |= IOR_CREAT;
  /* One shared file opened by every rank of the test: see the TRUNC rule
   * in benchfs_ior_plan_open. */
  if (hints != NULL && !hints->filePerProc) {
    int r = 0;
    MPI_CHECK(MPI_Comm_rank(job_comm(), &r), "MPI_Comm_rank failed");
    opener = r == 0 ? BENCHFS_IOR_OPEN_SHARED_FIRST : BENCHFS_IOR_OPEN_SHARED_OTHER;
  }
  if (benchfs_ior_plan_open(iorflags, opener, &plan) != 0)
    ERRF("BenchFS: open flags 0x%x of %s: %s", iorflags, path, benchfs_last_error());
  if (plan.barrier && opener == BENCHFS_IOR_OPEN_SHARED_OTHER)
    MPI_CHECK(MPI_Barrier(job_comm()), "barrier failed");
  fd = benchfs_open(path, plan.flags, 0664);
  if (fd < 0) ERRF("BenchFS: cannot open %s (flags 0x%x): %s", path, plan.flags, benchfs_last_error());
  if (plan.barrier && opener == BENCHFS_IOR_OPEN_SHARED_FIRST)
    MPI_CHECK(MPI_Barrier(job_comm()), "barrier failed");
  f = malloc(sizeof(*f));
  if (f == NULL) ERR("BenchFS: out of memory");
  f->fd = fd;
  return (aiori_fd_t*)f;
}

static aiori_fd_t* BENCHFS_create(char* name, int iorflags, aiori_mod_opt_t* options) {
  (void)options;
  return open_file(name, iorflags, 1);
}

static aiori_fd_t* BENCHFS_open(char* name, int iorflags, aiori_mod_opt_t* options) {
  (void)options;
  return open_file(name, iorflags, 0);
}

static int BENCHFS_mknod(char* name) {
  char path[PATH_MAX + 1];
  if (dry_run()) return 0;
  to_path(name, path);
  return benchfs_ior_mknod(path, 0664);
}

static IOR_offset_t BENCHFS_xfer(int access, aiori_fd_t* file, IOR_size_t* buffer, IOR_offset_t length,
                                 IOR_offset_t offset, aiori_mod_opt_t* options) {
  const benchfs_file_t* f = (const benchfs_file_t*)file;
  ssize_t n;
  (void)options;
  if (dry_run()) return length;
  n = benchfs_ior_xfer(f->fd, access == WRITE, buffer, (size_t)length, (off_t)offset);
  if (n < 0) {
    WARNF("BenchFS: %s of %lld bytes at %lld failed: %s", access == WRITE ? "write" : "read",
          (long long)length, (long long)offset, benchfs_last_error());
    return -1;
  }
  return (IOR_offset_t)n;
}

static void BENCHFS_fsync(aiori_fd_t* file, aiori_mod_opt_t* options) {
  const benchfs_file_t* f = (const benchfs_file_t*)file;
  (void)options;
  if (dry_run()) return;
  if (benchfs_fsync(f->fd) != 0) ERRF("BenchFS: fsync failed: %s", benchfs_last_error());
}

static void BENCHFS_close(aiori_fd_t* file, aiori_mod_opt_t* options) {
  benchfs_file_t* f = (benchfs_file_t*)file;
  int rc;
  (void)options;
  if (dry_run()) return;
  rc = benchfs_close(f->fd);
  free(f);
  if (rc != 0) ERRF("BenchFS: close failed: %s", benchfs_last_error());
}

static void BENCHFS_remove(char* name, aiori_mod_opt_t* options) {
  char path[PATH_MAX + 1];
  (void)options;
  if (dry_run()) return;
  to_path(name, path);
  if (benchfs_unlink(path) != 0) WARNF("BenchFS: cannot remove %s: %s", path, benchfs_last_error());
}

static char* BENCHFS_get_version(void) { return (char*)benchfs_ior_version(); }

static IOR_offset_t BENCHFS_get_file_size(aiori_mod_opt_t* options, char* name) {
  char path[PATH_MAX + 1];
  struct stat st;
  (void)options;
  if (dry_run()) return 0;
  to_path(name, path);
  if (benchfs_stat(path, &st) != 0) ERRF("BenchFS: cannot stat %s: %s", path, benchfs_last_error());
  return (IOR_offset_t)st.st_size;
}

static int BENCHFS_statfs(const char* name, ior_aiori_statfs_t* out, aiori_mod_opt_t* options) {
  char path[PATH_MAX + 1];
  struct statvfs st;
  (void)options;
  if (dry_run()) return 0;
  to_path(name, path);
  if (benchfs_statfs(path, &st) != 0) return -1;
  out->f_bsize = st.f_bsize;
  out->f_blocks = st.f_blocks;
  out->f_bfree = st.f_bfree;
  out->f_bavail = st.f_bavail;
  out->f_files = st.f_files;
  out->f_ffree = st.f_ffree;
  return 0;
}

static int BENCHFS_mkdir(const char* name, mode_t mode, aiori_mod_opt_t* options) {
  char path[PATH_MAX + 1];
  (void)options;
  if (dry_run()) return 0;
  to_path(name, path);
  return benchfs_mkdir(path, mode);
}

static int BENCHFS_rmdir(const char* name, aiori_mod_opt_t* options) {
  char path[PATH_MAX + 1];
  (void)options;
  if (dry_run()) return 0;
  to_path(name, path);
  return benchfs_rmdir(path);
}

static int BENCHFS_access(const char* name, int mode, aiori_mod_opt_t* options) {
  char path[PATH_MAX + 1];
  (void)options;
  if (dry_run()) return 0;
  to_path(name, path);
  return benchfs_access(path, mode);
}

static int BENCHFS_stat(const char* name, struct stat* buf, aiori_mod_opt_t* options) {
  char path[PATH_MAX + 1];
  (void)options;
  if (dry_run()) return 0;
  to_path(name, path);
  return benchfs_stat(path, buf);
}

static int BENCHFS_rename(const char* oldname, const char* newname, aiori_mod_opt_t* options) {
  char from[PATH_MAX + 1], to[PATH_MAX + 1];
  (void)options;
  if (dry_run()) return 0;
  to_path(oldname, from);
  to_path(newname, to);
  return benchfs_ior_rename(from, to);
}

/* Nothing to flush: a write is on the servers when benchfs_pwrite returns,
 * and sizes are pushed by fsync / close. */
static void BENCHFS_sync(aiori_mod_opt_t* options) { (void)options; }

ior_aiori_t benchfs_aiori = {
    .name = "BENCHFS",
    .name_legacy = NULL,
    .create = BENCHFS_create,
    .mknod = BENCHFS_mknod,
    .open = BENCHFS_open,
    .xfer_hints = BENCHFS_xfer_hints,
    .xfer = BENCHFS_xfer,
    .close = BENCHFS_close,
    .remove = BENCHFS_remove,
    .get_version = BENCHFS_get_version,
    .fsync = BENCHFS_fsync,
    .get_file_size = BENCHFS_get_file_size,
    .statfs = BENCHFS_statfs,
    .mkdir = BENCHFS_mkdir,
    .rmdir = BENCHFS_rmdir,
    .access = BENCHFS_access,
    .stat = BENCHFS_stat,
    .initialize = BENCHFS_initialize,
    .finalize = BENCHFS_finalize,
    .rename = BENCHFS_rename,
    .get_options = BENCHFS_options,
    .check_params = BENCHFS_check_params,
    .sync = BENCHFS_sync,
    .enable_mdtest = true,
};
