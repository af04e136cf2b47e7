// benchfs-fuse: mounts a BenchFS namespace with libfuse3 (high-level API,
// multi-threaded), so that unmodified tools and applications (cp, tar, find,
// IOR -a POSIX, io500's find phase) can use it. Every FUSE operation is one
// libbenchfs call; open files are libbenchfs descriptors (fi->fh).
//
// What BenchFS lacks is refused, not faked: symlinks, hard links and
// special files give ENOTSUP, changing the owner EPERM (setting the one
// already there succeeds), extended attributes EOPNOTSUPP (the kernel
// answers for us after the first ENOSYS).

#define FUSE_USE_VERSION 35

#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "benchfs/benchfs.h"
#include "fuse_options.hpp"

namespace {

using benchfs::fuse::Options;

Options g_opt;

// ------------------------------------------------------------------ logging

std::mutex g_log_mu;
FILE* g_log = stderr;
std::atomic<uint64_t> g_failures{0};

void log_line(int level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void log_line(int level, const char* fmt, ...) {
  if (level > g_opt.log_level) return;
  static const char* const kNames[] = {"error", "warning", "info", "debug"};
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  struct tm tm {};
  localtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
  std::lock_guard lock(g_log_mu);
  std::fprintf(g_log, "[%s] [benchfs-fuse] [%s] ", stamp, kNames[level]);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(g_log, fmt, ap);
  va_end(ap);
  std::fputc('\n', g_log);
  std::fflush(g_log);
}

// The errno a FUSE operation returns for a failed libbenchfs call: servers
// that cannot be reached become ENOTCONN, one that does not answer in time
// or answers nonsense EIO; everything else is passed on as it is.
int fuse_errno(const char* op, const char* path) {
  const int e = errno;
  int out = e;
  switch (e) {
    case ENOTCONN:
    case ECONNREFUSED:
    case ECONNRESET:
    case EHOSTUNREACH:
    case ENETUNREACH:
      out = ENOTCONN;
      break;
    case ETIMEDOUT:
    case EPROTO:
    case EACCES:  // wrong job secret: not a permission of this file
      out = EIO;
      break;
    default:
      break;
  }
  if (out != e || e == EIO) {
    // A server problem, not an answer about the file: always worth a line.
    g_failures.fetch_add(1, std::memory_order_relaxed);
    log_line(0, "%s %s: %s (%s); returning %s", op, path == nullptr ? "-" : path, std::strerror(e),
             benchfs_last_error(), std::strerror(out));
  } else {
    log_line(3, "%s %s: %s", op, path == nullptr ? "-" : path, std::strerror(e));
  }
  return -out;
}

int result(int rc, const char* op, const char* path) { return rc < 0 ? fuse_errno(op, path) : 0; }

int fd_of(const struct fuse_file_info* fi) { return static_cast<int>(fi->fh); }

// ---------------------------------------------------------------- operations

void* op_init(struct fuse_conn_info* conn, struct fuse_config* cfg) {
  cfg->use_ino = 1;
  cfg->readdir_ino = 1;
  cfg->nullpath_ok = 1;  // open files are reached by descriptor
  // libbenchfs keeps a removed file's data for its open descriptors (they
  // are all in this process), so no ".fuse_hidden" renames are needed.
  cfg->hard_remove = 1;
  cfg->entry_timeout = g_opt.entry_timeout;
  cfg->attr_timeout = g_opt.attr_timeout;
  cfg->negative_timeout = g_opt.negative_timeout;
  cfg->direct_io = g_opt.direct_io ? 1 : 0;
  cfg->kernel_cache = 0;  // other clients may change a file: drop cached pages at open
  // Large requests: libfuse derives the kernel's max_pages from max_write.
  conn->max_write = g_opt.max_write;
  conn->max_readahead = g_opt.max_write;
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;  // a write is on the servers when it returns
  if ((conn->capable & FUSE_CAP_READDIRPLUS) != 0) conn->want |= FUSE_CAP_READDIRPLUS;
  log_line(2, "mounted %s (registry %s, %d servers): max_write %u, attr %.3gs, entry %.3gs, %s",
           g_opt.mountpoint.c_str(), g_opt.registry.c_str(), benchfs_server_count(), conn->max_write,
           g_opt.attr_timeout, g_opt.entry_timeout, g_opt.direct_io ? "direct I/O" : "page cache");
  return nullptr;
}

int op_getattr(const char* path, struct stat* st, struct fuse_file_info* fi) {
  if (fi != nullptr) return result(benchfs_fstat(fd_of(fi), st), "fstat", path);
  return result(benchfs_stat(path, st), "stat", path);
}

int op_access(const char* path, int mask) { return result(benchfs_access(path, mask), "access", path); }

// The kernel's read-ahead for this mount. FUSE_INIT cannot raise it above
// the bdi's default (128 KiB: the kernel offers that and takes the smaller
// of its offer and our answer), so it is written to the mount's
// /sys/class/bdi/MAJ:MIN/read_ahead_kb once INIT is done: at the first
// open. The mount is found in /proc/self/mountinfo, not by stat(2) of the
// mount point, which would come back to this file system. With 1 MiB reads
// through the page cache, 4 MiB of read-ahead read about 1.5x as fast as
// 128 KiB (docs/POSIX.md). Failing to set it only costs speed: a warning.
std::string g_mount_abs;  // absolute mount point (set before fuse_daemonize's chdir)
std::once_flag g_read_ahead_once;

std::string mount_device(const std::string& mountpoint) {
  FILE* f = std::fopen("/proc/self/mountinfo", "re");
  if (f == nullptr) return {};
  std::string dev;
  char line[4096];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - fuse.benchfs SOURCE ..."
    char majmin[32], mnt[PATH_MAX];
    if (std::sscanf(line, "%*s %*s %31s %*s %4095s", majmin, mnt) != 2) continue;
    if (mountpoint == mnt && std::strstr(line, " - fuse.benchfs ") != nullptr)
      dev = majmin;  // the last one wins
  }
  std::fclose(f);
  return dev;
}

void set_read_ahead() {
  if (g_opt.direct_io || g_opt.read_ahead == 0) return;
  const unsigned long long kb = g_opt.read_ahead >> 10;
  const std::string dev = mount_device(g_mount_abs);
  if (dev.empty()) {
    log_line(1,
             "cannot set the read-ahead to %llu KiB: %s is not in /proc/self/mountinfo; reads through "
             "the page cache are slower",
             kb, g_mount_abs.c_str());
    return;
  }
  const std::string file = "/sys/class/bdi/" + dev + "/read_ahead_kb";
  bool ok = false;
  if (FILE* f = std::fopen(file.c_str(), "we"); f != nullptr) {
    ok = std::fprintf(f, "%llu\n", kb) > 0;
    ok = std::fclose(f) == 0 && ok;  // the write itself happens at fclose
  }
  if (!ok) {
    log_line(1, "cannot set the read-ahead to %llu KiB (%s): %s; reads through the page cache are slower", kb,
             file.c_str(), std::strerror(errno));
    return;
  }
  log_line(2, "read-ahead %llu KiB (%s)", kb, file.c_str());
}

int op_open(const char* path, struct fuse_file_info* fi) {
  std::call_once(g_read_ahead_once, set_read_ahead);
  const int fd = benchfs_open(path, fi->flags, 0);
  if (fd < 0) return fuse_errno("open", path);
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}

int op_create(const char* path, mode_t mode, struct fuse_file_info* fi) {
  if (!S_ISREG(mode) && (mode & S_IFMT) != 0) return -ENOTSUP;
  std::call_once(g_read_ahead_once, set_read_ahead);
  const int fd = benchfs_open(path, fi->flags | O_CREAT, mode & 07777);
  if (fd < 0) return fuse_errno("create", path);
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}

int op_mknod(const char* path, mode_t mode, dev_t) {
  if (!S_ISREG(mode)) return -ENOTSUP;  // no devices, FIFOs or sockets
  const int fd = benchfs_open(path, O_WRONLY | O_CREAT | O_EXCL, mode & 07777);
  if (fd < 0) return fuse_errno("mknod", path);
  return result(benchfs_close(fd), "mknod", path);
}

int op_read(const char* path, char* buf, size_t size, off_t off, struct fuse_file_info* fi) {
  const ssize_t n = benchfs_pread(fd_of(fi), buf, size, off);
  if (n < 0) return fuse_errno("read", path);
  return static_cast<int>(n);
}

// read_buf instead of read: libfuse would hand us a plain malloc'd buffer,
// which libbenchfs must fill through a bounce copy (it receives large reads
// straight into memory only when 64-byte aligned to the file offset). A
// page-aligned buffer of our own avoids that copy; libfuse frees it.
int op_read_buf(const char* path, struct fuse_bufvec** bufp, size_t size, off_t off,
                struct fuse_file_info* fi) {
  void* mem = nullptr;
  if (posix_memalign(&mem, 64, size == 0 ? 1 : size) != 0) return -ENOMEM;
  const ssize_t n = benchfs_pread(fd_of(fi), mem, size, off);
  if (n < 0) {
    const int err = fuse_errno("read", path);
    std::free(mem);
    return err;
  }
  auto* bv = static_cast<struct fuse_bufvec*>(std::malloc(sizeof(struct fuse_bufvec)));
  if (bv == nullptr) {
    std::free(mem);
    return -ENOMEM;
  }
  // FUSE_BUFVEC_INIT's fields, without its C99 compound literal.
  bv->count = 1;
  bv->idx = 0;
  bv->off = 0;
  bv->buf[0] = fuse_buf{};
  bv->buf[0].size = static_cast<size_t>(n);
  bv->buf[0].fd = -1;
  bv->buf[0].mem = mem;
  *bufp = bv;
  return 0;
}

int op_write(const char* path, const char* buf, size_t size, off_t off, struct fuse_file_info* fi) {
  const ssize_t n = benchfs_pwrite(fd_of(fi), buf, size, off);
  if (n < 0) return fuse_errno("write", path);
  return static_cast<int>(n);
}

// close(2) of every duplicate of the descriptor: publish the size, so other
// processes see it once close returns, as libbenchfs's close does.
int op_flush(const char* path, struct fuse_file_info* fi) {
  return result(benchfs_fsync(fd_of(fi)), "flush", path);
}

int op_fsync(const char* path, int, struct fuse_file_info* fi) {
  return result(benchfs_fsync(fd_of(fi)), "fsync", path);
}

int op_release(const char* path, struct fuse_file_info* fi) {
  return result(benchfs_close(fd_of(fi)), "release", path);
}

int op_truncate(const char* path, off_t size, struct fuse_file_info* fi) {
  if (fi != nullptr) return result(benchfs_ftruncate(fd_of(fi), size), "ftruncate", path);
  return result(benchfs_truncate(path, size), "truncate", path);
}

int op_unlink(const char* path) { return result(benchfs_unlink(path), "unlink", path); }

int op_mkdir(const char* path, mode_t mode) {
  return result(benchfs_mkdir(path, mode & 07777), "mkdir", path);
}

int op_rmdir(const char* path) { return result(benchfs_rmdir(path), "rmdir", path); }

int op_rename(const char* from, const char* to, unsigned int flags) {
  // RENAME_NOREPLACE / RENAME_EXCHANGE cannot be done atomically here;
  // callers (coreutils' mv) fall back to a plain rename on EINVAL.
  if (flags != 0) return -EINVAL;
  return result(benchfs_rename(from, to), "rename", from);
}

struct DirFill {
  void* buf;
  fuse_fill_dir_t filler;
  bool plus;
};

int fill_one(void* arg, const char* name, const struct stat* st) {
  auto* d = static_cast<DirFill*>(arg);
  return d->filler(d->buf, name, st, 0, d->plus ? FUSE_FILL_DIR_PLUS : static_cast<fuse_fill_dir_flags>(0));
}

// With nullpath_ok, readdir may get no path: opendir keeps it in fi->fh.
int op_opendir(const char* path, struct fuse_file_info* fi) {
  struct stat st {};
  if (benchfs_stat(path, &st) != 0) return fuse_errno("opendir", path);
  if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
  fi->fh = reinterpret_cast<uint64_t>(new std::string(path));
  return 0;
}

int op_releasedir(const char*, struct fuse_file_info* fi) {
  delete reinterpret_cast<std::string*>(fi->fh);
  return 0;
}

int op_readdir(const char* given, void* buf, fuse_fill_dir_t filler, off_t, struct fuse_file_info* fi,
               enum fuse_readdir_flags flags) {
  const char* path = given != nullptr ? given : reinterpret_cast<const std::string*>(fi->fh)->c_str();
  struct stat dot {};
  dot.st_mode = S_IFDIR | 0755;
  filler(buf, ".", &dot, 0, static_cast<fuse_fill_dir_flags>(0));
  filler(buf, "..", &dot, 0, static_cast<fuse_fill_dir_flags>(0));
  // One listing with attributes either way: it costs the same RPCs as a
  // plain one, and with readdirplus the kernel needs no lookup per entry.
  DirFill d{buf, filler, (flags & FUSE_READDIR_PLUS) != 0};
  const int n = benchfs_readdir_plus(path, fill_one, &d);
  return n < 0 ? fuse_errno("readdir", path) : 0;
}

int op_statfs(const char* path, struct statvfs* st) {
  return result(benchfs_statfs("/", st), "statfs", path);
}

int op_chmod(const char* path, mode_t mode, struct fuse_file_info* fi) {
  if (fi != nullptr) return result(benchfs_fchmod(fd_of(fi), mode), "chmod", path);
  return result(benchfs_chmod(path, mode), "chmod", path);
}

// Files belong to whoever asks (libbenchfs reports the caller's uid and
// gid): asking for what is already there succeeds, anything else is EPERM.
int op_chown(const char* path, uid_t uid, gid_t gid, struct fuse_file_info* fi) {
  struct stat st {};
  if (const int rc = op_getattr(path, &st, fi); rc != 0) return rc;
  const bool same_uid = uid == static_cast<uid_t>(-1) || uid == st.st_uid;
  const bool same_gid = gid == static_cast<gid_t>(-1) || gid == st.st_gid;
  return same_uid && same_gid ? 0 : -EPERM;
}

int op_utimens(const char* path, const struct timespec tv[2], struct fuse_file_info* fi) {
  if (fi != nullptr) return result(benchfs_futimens(fd_of(fi), tv), "utimens", path);
  return result(benchfs_utimens(path, tv), "utimens", path);
}

int op_symlink(const char*, const char*) { return -ENOTSUP; }
int op_link(const char*, const char*) { return -ENOTSUP; }
int op_readlink(const char*, char*, size_t) { return -EINVAL; }  // nothing is a symlink

void op_destroy(void*) {
  log_line(2, "unmounting %s (%llu server failures seen)", g_opt.mountpoint.c_str(),
           static_cast<unsigned long long>(g_failures.load()));
}

struct fuse_operations make_operations() {
  struct fuse_operations ops {};
  ops.init = op_init;
  ops.destroy = op_destroy;
  ops.getattr = op_getattr;
  ops.access = op_access;
  ops.open = op_open;
  ops.create = op_create;
  ops.mknod = op_mknod;
  ops.read = op_read;
  ops.read_buf = op_read_buf;
  ops.write = op_write;
  ops.flush = op_flush;
  ops.fsync = op_fsync;
  ops.release = op_release;
  ops.truncate = op_truncate;
  ops.unlink = op_unlink;
  ops.mkdir = op_mkdir;
  ops.rmdir = op_rmdir;
  ops.rename = op_rename;
  ops.opendir = op_opendir;
  ops.releasedir = op_releasedir;
  ops.readdir = op_readdir;
  ops.statfs = op_statfs;
  ops.chmod = op_chmod;
  ops.chown = op_chown;
  ops.utimens = op_utimens;
  ops.symlink = op_symlink;
  ops.link = op_link;
  ops.readlink = op_readlink;
  // getxattr / setxattr / listxattr / removexattr stay unset: libfuse
  // answers ENOSYS once, and the kernel then gives EOPNOTSUPP itself.
  return ops;
}

int connect_servers() {
  benchfs_config cfg;
  benchfs_config_init(&cfg);
  cfg.registry = g_opt.registry.c_str();
  cfg.prewarm = 1;
  cfg.rpc_timeout_ms = g_opt.rpc_timeout_ms;
  cfg.wait_ready_ms = g_opt.wait_ready_ms;
  if (benchfs_init(&cfg) != 0) {
    log_line(0, "cannot reach the servers of registry %s: %s (%s)", g_opt.registry.c_str(),
             std::strerror(errno), benchfs_last_error());
    return -1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Read buffers (up to 1 MiB each, freed by libfuse after the reply) come
  // from the heap and stay there: no mmap, munmap and page faults per read.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  auto parsed = benchfs::fuse::parse_options(argc, argv);
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "benchfs-fuse: %s\n(see benchfs-fuse --help)\n", parsed.error.c_str());
    return 2;
  }
  g_opt = parsed.options;
  if (g_opt.help) {
    std::fputs(benchfs::fuse::usage().c_str(), stdout);
    return 0;
  }
  if (!g_opt.log_file.empty()) {
    g_log = std::fopen(g_opt.log_file.c_str(), "a");
    if (g_log == nullptr) {
      std::fprintf(stderr, "benchfs-fuse: cannot open log file %s: %s\n", g_opt.log_file.c_str(),
                   std::strerror(errno));
      return 2;
    }
  }
  struct stat mp {};
  if (stat(g_opt.mountpoint.c_str(), &mp) != 0 || !S_ISDIR(mp.st_mode)) {
    std::fprintf(stderr, "benchfs-fuse: mount point %s is not a directory\n", g_opt.mountpoint.c_str());
    return 2;
  }
  if (char* abs = realpath(g_opt.mountpoint.c_str(), nullptr); abs != nullptr) {
    g_mount_abs = abs;
    std::free(abs);
  }
  // Reach every server before mounting, so a wrong registry or an
  // unreachable server is an error here, not a mount that fails each call.
  // The client is set up again after fuse_daemonize (its threads and UCX
  // state would not survive the fork).
  if (connect_servers() != 0) return 1;
  if (!g_opt.foreground) benchfs_finalize();

  std::vector<std::string> fargs = benchfs::fuse::fuse_arguments(g_opt);
  std::vector<char*> fargv;
  fargv.reserve(fargs.size());
  for (auto& a : fargs) fargv.push_back(a.data());
  struct fuse_args args = FUSE_ARGS_INIT(static_cast<int>(fargv.size()), fargv.data());
  const struct fuse_operations ops = make_operations();
  struct fuse* fs = fuse_new(&args, &ops, sizeof ops, nullptr);
  fuse_opt_free_args(&args);  // fuse_new parsed (and copied) them
  if (fs == nullptr) {
    std::fprintf(stderr, "benchfs-fuse: bad FUSE options (%s)\n", g_opt.fuse_opts.c_str());
    if (g_opt.foreground) benchfs_finalize();
    return 2;
  }
  if (fuse_mount(fs, g_opt.mountpoint.c_str()) != 0) {
    std::fprintf(stderr,
                 "benchfs-fuse: cannot mount on %s (is /dev/fuse there, and are you allowed to mount?)\n",
                 g_opt.mountpoint.c_str());
    fuse_destroy(fs);
    if (g_opt.foreground) benchfs_finalize();
    return 1;
  }
  int rc = 0;
  struct fuse_session* se = fuse_get_session(fs);
  if (fuse_set_signal_handlers(se) != 0 || fuse_daemonize(g_opt.foreground ? 1 : 0) != 0 ||
      (!g_opt.foreground && connect_servers() != 0)) {
    rc = 1;
  } else {
    if (g_opt.single_thread) {
      rc = fuse_loop(fs);
    } else {
      struct fuse_loop_config loop {};
      loop.clone_fd = 0;
      loop.max_idle_threads = static_cast<unsigned>(g_opt.max_idle_threads);
      rc = fuse_loop_mt(fs, &loop);
    }
    // libfuse reports the signal that ended the loop: a clean stop.
    rc = (rc == 0 || rc == SIGINT || rc == SIGTERM || rc == SIGHUP) ? 0 : 1;
    benchfs_finalize();
  }
  fuse_remove_signal_handlers(se);
  fuse_unmount(fs);
  fuse_destroy(fs);
  if (g_log != stderr) std::fclose(g_log);
  return rc;
}
