// File-system part of the C API (being built: every call answers ENOSYS).
#include <cerrno>
#include <cstring>

#include "benchfs/benchfs.h"

namespace {
int nosys() {
  errno = ENOSYS;
  return -1;
}
}  // namespace

extern "C" {
int benchfs_open(const char*, int, mode_t) { return nosys(); }
int benchfs_create(const char*, int, mode_t) { return nosys(); }
int benchfs_close(int) { return nosys(); }
ssize_t benchfs_pwrite(int, const void*, size_t, off_t) { return nosys(); }
ssize_t benchfs_pread(int, void*, size_t, off_t) { return nosys(); }
ssize_t benchfs_write(int, const void*, size_t) { return nosys(); }
ssize_t benchfs_read(int, void*, size_t) { return nosys(); }
off_t benchfs_lseek(int, off_t, int) { return nosys(); }
int benchfs_fsync(int) { return nosys(); }
int benchfs_stat(const char*, struct stat*) { return nosys(); }
int benchfs_fstat(int, struct stat*) { return nosys(); }
int benchfs_unlink(const char*) { return nosys(); }
int benchfs_truncate(const char*, off_t) { return nosys(); }
int benchfs_ftruncate(int, off_t) { return nosys(); }
int benchfs_rename(const char*, const char*) { return nosys(); }
int benchfs_access(const char*, int) { return nosys(); }
int benchfs_mkdir(const char*, mode_t) { return nosys(); }
int benchfs_rmdir(const char*) { return nosys(); }
int benchfs_readdir(const char*, benchfs_dirent_fn, void*) { return nosys(); }
int benchfs_statfs(const char*, struct statvfs*) { return nosys(); }
long long benchfs_chunk_size(void) { return nosys(); }
void benchfs_server_config_init(benchfs_server_config* cfg) { std::memset(cfg, 0, sizeof *cfg); }
benchfs_server* benchfs_server_start(const benchfs_server_config*) {
  errno = ENOSYS;
  return nullptr;
}
int benchfs_server_stop(benchfs_server*) { return nosys(); }
const char* benchfs_server_address(const benchfs_server*) { return ""; }
}
