// File-system part of the C API: thin wrappers over client::FileSystem (the
// in-process server is in server_api.cpp).

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <string_view>

#include "benchfs/benchfs.h"
#include "benchfs/core/log.hpp"
#include "process.hpp"

using benchfs::Status;
using namespace benchfs::capi;  // the C API's own helpers (process.hpp)

namespace {

/// A path argument as a view; EINVAL for NULL (as "no path").
bool path_arg(const char* p, std::string_view* out) {
  if (p == nullptr) {
    fail(EINVAL, "null path");
    return false;
  }
  *out = std::string_view(p, strnlen(p, PATH_MAX + 2));
  return true;
}

void fill_stat(const benchfs::wire::Attr& a, uint64_t chunk, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  st->st_dev = 0xBF5A;
  st->st_ino = a.ino;
  st->st_mode = a.mode;
  st->st_nlink = a.nlink;
  st->st_uid = getuid();
  st->st_gid = getgid();
  st->st_size = static_cast<off_t>(a.size);
  st->st_blksize = static_cast<blksize_t>(chunk);
  st->st_blocks = static_cast<blkcnt_t>((a.size + 511) / 512);
  st->st_atim.tv_sec = a.atime_ns / 1'000'000'000;
  st->st_atim.tv_nsec = a.atime_ns % 1'000'000'000;
  st->st_mtim.tv_sec = a.mtime_ns / 1'000'000'000;
  st->st_mtim.tv_nsec = a.mtime_ns % 1'000'000'000;
  st->st_ctim.tv_sec = a.ctime_ns / 1'000'000'000;
  st->st_ctim.tv_nsec = a.ctime_ns % 1'000'000'000;
}

template <class T>
T value_or_fail(benchfs::Result<T>&& r) {
  if (!r) return static_cast<T>(fail(r.status()));
  return *r;
}

template <class R, class T>
R count_or_fail(benchfs::Result<T>&& r) {
  return r ? static_cast<R>(*r) : fail(r.status());
}

int status_or_fail(const Status& st) { return st ? 0 : fail(st); }

/// The body of every call that needs the client: the C API's exception
/// guard, then EINVAL if benchfs_init has not run, then fn(use).
template <class R, class F>
R with_fs(F&& fn) {
  return guarded([&]() -> R {
    Use use;
    if (use.get() == nullptr) return not_initialized();
    return fn(use);
  });
}

/// with_fs for a call with a path: fn(use, path) once the path is checked.
template <class F>
int with_path(const char* path, F&& fn) {
  return with_fs<int>([&](Use& use) -> int {
    std::string_view p;
    if (!path_arg(path, &p)) return -1;
    return fn(use, p);
  });
}

int stat_or_fail(const Use& use, benchfs::Result<benchfs::wire::Attr>&& r, struct stat* st) {
  if (!r) return fail(r.status());
  fill_stat(*r, use.client()->chunk_size(), st);
  return 0;
}

/// A listing's entry count as readdir's return value (capped at INT_MAX).
int entries_or_fail(benchfs::Result<size_t>&& r) {
  if (!r) return fail(r.status());
  return static_cast<int>(std::min<size_t>(*r, INT_MAX));
}

benchfs::wire::Attr mode_attr(mode_t mode) {
  benchfs::wire::Attr what;
  what.mode = mode & 07777;
  return what;
}

void fill_statvfs(const benchfs::client::FsTotals& t, struct statvfs* st) {
  constexpr uint64_t kBlock = 4096;
  // Inodes cost a little memory each; report room for one per 4 KiB free.
  const uint64_t free_bytes = t.capacity > t.used ? t.capacity - t.used : 0;
  std::memset(st, 0, sizeof *st);
  st->f_bsize = kBlock;
  st->f_frsize = kBlock;
  st->f_blocks = t.capacity / kBlock;
  st->f_bfree = free_bytes / kBlock;
  st->f_bavail = free_bytes / kBlock;
  st->f_files = t.inodes + free_bytes / kBlock;
  st->f_ffree = free_bytes / kBlock;
  st->f_favail = free_bytes / kBlock;
  st->f_fsid = 0xBF5A;
  st->f_flag = 0;
  st->f_namemax = 255;
}

// utimensat's times (NULL: both now; UTIME_NOW, UTIME_OMIT) as SETATTR
// flags and fields; false (EINVAL set) for a bad tv_nsec.
bool times_arg(const struct timespec* times, uint32_t* flags, benchfs::wire::Attr* what) {
  namespace wire = benchfs::wire;
  *flags = 0;
  for (int i = 0; i < 2; ++i) {
    int64_t v = wire::kTimeNow;
    if (times != nullptr) {
      const struct timespec& t = times[i];
      if (t.tv_nsec == UTIME_OMIT) continue;
      if (t.tv_nsec != UTIME_NOW) {
        if (t.tv_nsec < 0 || t.tv_nsec >= 1'000'000'000) {
          fail(EINVAL, "tv_nsec out of range");
          return false;
        }
        v = static_cast<int64_t>(t.tv_sec) * 1'000'000'000LL + t.tv_nsec;
      }
    }
    (i == 0 ? what->atime_ns : what->mtime_ns) = v;
    *flags |= i == 0 ? wire::kFlagSetAtime : wire::kFlagSetMtime;
  }
  return true;
}

}  // namespace

extern "C" {

int benchfs_open(const char* path, int flags, mode_t mode) {
  return with_path(
      path, [&](Use& use, std::string_view p) { return value_or_fail(use.get()->open(p, flags, mode)); });
}

int benchfs_create(const char* path, int flags, mode_t mode) {
  return benchfs_open(path, flags | O_CREAT, mode);
}

int benchfs_close(int fd) {
  return with_fs<int>([&](Use& use) { return status_or_fail(use.get()->close(fd)); });
}

ssize_t benchfs_pwrite(int fd, const void* buf, size_t len, off_t offset) {
  return with_fs<ssize_t>(
      [&](Use& use) { return count_or_fail<ssize_t>(use.get()->pwrite(fd, buf, len, offset)); });
}

ssize_t benchfs_pread(int fd, void* buf, size_t len, off_t offset) {
  return with_fs<ssize_t>(
      [&](Use& use) { return count_or_fail<ssize_t>(use.get()->pread(fd, buf, len, offset)); });
}

ssize_t benchfs_write(int fd, const void* buf, size_t len) {
  return with_fs<ssize_t>([&](Use& use) { return count_or_fail<ssize_t>(use.get()->write(fd, buf, len)); });
}

ssize_t benchfs_read(int fd, void* buf, size_t len) {
  return with_fs<ssize_t>([&](Use& use) { return count_or_fail<ssize_t>(use.get()->read(fd, buf, len)); });
}

off_t benchfs_lseek(int fd, off_t offset, int whence) {
  return with_fs<off_t>([&](Use& use) { return count_or_fail<off_t>(use.get()->lseek(fd, offset, whence)); });
}

int benchfs_fsync(int fd) {
  return with_fs<int>([&](Use& use) { return status_or_fail(use.get()->fsync(fd)); });
}

int benchfs_stat(const char* path, struct stat* st) {
  return with_path(path, [&](Use& use, std::string_view p) {
    if (st == nullptr) return fail(EFAULT, "null stat buffer");
    return stat_or_fail(use, use.get()->stat(p), st);
  });
}

int benchfs_fstat(int fd, struct stat* st) {
  return with_fs<int>([&](Use& use) {
    if (st == nullptr) return fail(EFAULT, "null stat buffer");
    return stat_or_fail(use, use.get()->fstat(fd), st);
  });
}

int benchfs_unlink(const char* path) {
  return with_path(path, [&](Use& use, std::string_view p) { return status_or_fail(use.get()->unlink(p)); });
}

int benchfs_truncate(const char* path, off_t length) {
  return with_path(
      path, [&](Use& use, std::string_view p) { return status_or_fail(use.get()->truncate(p, length)); });
}

int benchfs_ftruncate(int fd, off_t length) {
  return with_fs<int>([&](Use& use) { return status_or_fail(use.get()->ftruncate(fd, length)); });
}

int benchfs_chmod(const char* path, mode_t mode) {
  return with_path(path, [&](Use& use, std::string_view p) {
    return status_or_fail(use.get()->setattr(p, benchfs::wire::kFlagSetMode, mode_attr(mode)).status());
  });
}

int benchfs_fchmod(int fd, mode_t mode) {
  return with_fs<int>([&](Use& use) {
    return status_or_fail(use.get()->fsetattr(fd, benchfs::wire::kFlagSetMode, mode_attr(mode)).status());
  });
}

int benchfs_utimens(const char* path, const struct timespec times[2]) {
  return with_path(path, [&](Use& use, std::string_view p) {
    uint32_t flags = 0;
    benchfs::wire::Attr what;
    if (!times_arg(times, &flags, &what)) return -1;
    return status_or_fail(use.get()->setattr(p, flags, what).status());
  });
}

int benchfs_futimens(int fd, const struct timespec times[2]) {
  return with_fs<int>([&](Use& use) {
    uint32_t flags = 0;
    benchfs::wire::Attr what;
    if (!times_arg(times, &flags, &what)) return -1;
    return status_or_fail(use.get()->fsetattr(fd, flags, what).status());
  });
}

int benchfs_rename(const char* oldpath, const char* newpath) {
  return with_path(oldpath, [&](Use& use, std::string_view a) {
    std::string_view b;
    if (!path_arg(newpath, &b)) return -1;
    return status_or_fail(use.get()->rename(a, b));
  });
}

int benchfs_access(const char* path, int mode) {
  return with_path(path,
                   [&](Use& use, std::string_view p) { return status_or_fail(use.get()->access(p, mode)); });
}

int benchfs_mkdir(const char* path, mode_t mode) {
  return with_path(path,
                   [&](Use& use, std::string_view p) { return status_or_fail(use.get()->mkdir(p, mode)); });
}

int benchfs_rmdir(const char* path) {
  return with_path(path, [&](Use& use, std::string_view p) { return status_or_fail(use.get()->rmdir(p)); });
}

int benchfs_readdir(const char* path, benchfs_dirent_fn fn, void* arg) {
  return with_path(path, [&](Use& use, std::string_view p) {
    if (fn == nullptr) return fail(EINVAL, "null callback");
    std::string name;
    return entries_or_fail(use.get()->readdir(p, [&](std::string_view n, bool is_dir) {
      name.assign(n);
      return fn(arg, name.c_str(), is_dir ? DT_DIR : DT_REG) == 0;
    }));
  });
}

int benchfs_readdir_plus(const char* path, benchfs_dirent_plus_fn fn, void* arg) {
  return with_path(path, [&](Use& use, std::string_view p) {
    if (fn == nullptr) return fail(EINVAL, "null callback");
    const uint64_t chunk = use.client()->chunk_size();
    std::string name;
    struct stat st {};
    return entries_or_fail(use.get()->readdir_attrs(p, [&](std::string_view n, const benchfs::wire::Attr& a) {
      name.assign(n);
      fill_stat(a, chunk, &st);
      return fn(arg, name.c_str(), &st) == 0;
    }));
  });
}

int benchfs_statfs(const char* path, struct statvfs* st) {
  return with_path(path, [&](Use& use, std::string_view p) {
    if (p.empty() || p.front() != '/') return fail(EINVAL, "path is not absolute");
    if (st == nullptr) return fail(EFAULT, "null statvfs buffer");
    auto r = use.get()->statfs();
    if (!r) return fail(r.status());
    fill_statvfs(*r, st);
    return 0;
  });
}

long long benchfs_chunk_size(void) {
  Use use;
  if (use.get() == nullptr) return not_initialized();
  return static_cast<long long>(use.client()->chunk_size());
}

int benchfs_get_client_stats(benchfs_client_stats* out) {
  Use use;
  if (use.get() == nullptr) return not_initialized();
  if (out == nullptr) return fail(EINVAL, "benchfs_get_client_stats: NULL");
  const benchfs::client::ClientStats s = use.client()->stats();
  *out = benchfs_client_stats{.rpcs = s.rpcs,
                              .sleeps = s.sleeps,
                              .wakeups = s.wakeups,
                              .preempted_spins = s.preempted_spins,
                              .connects = s.connects,
                              .reconnects = s.reconnects,
                              .retries = s.retries,
                              .timeouts = s.timeouts,
                              .yields = s.yields};
  return 0;
}

}  // extern "C"
