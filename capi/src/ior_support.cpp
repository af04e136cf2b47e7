// Support for the IOR / mdtest backend (benchfs_ior.h): flag translation,
// path clean-up, exact transfers, the mini deployment and reference-counted
// set-up. Built only on the public C API of the library, so the backend's
// logic is tested here, with real servers, rather than inside IOR.

#include "benchfs/benchfs_ior.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "process.hpp"

#ifndef BENCHFS_VERSION_STRING
#define BENCHFS_VERSION_STRING "unknown"
#endif

using benchfs::capi::fail;
using benchfs::capi::guarded;

namespace {

constexpr size_t kMaxPath = 4096;
constexpr int kAccessBits = BENCHFS_IOR_RDONLY | BENCHFS_IOR_WRONLY | BENCHFS_IOR_RDWR;
constexpr int kKnownBits = kAccessBits | BENCHFS_IOR_APPEND | BENCHFS_IOR_CREAT | BENCHFS_IOR_TRUNC |
                           BENCHFS_IOR_EXCL | BENCHFS_IOR_DIRECT;

bool empty(const char* s) { return s == nullptr || *s == '\0'; }

// What benchfs_ior_initialize set up; torn down by the last finalize. Process
// state like the client behind the C API (IOR's hooks carry no handle that
// lives from one test's initialize to its finalize and is shared by mdtest).
struct Session {
  std::mutex mu;
  int refs = 0;
  bool mini = false;
  benchfs_ior_group all{};
  benchfs_ior_group servers{};
  benchfs_server* server = nullptr;
  std::string registry;
  bool own_registry = false;  // rank 0 created it and removes it
};

Session& session() {
  static Session s;
  return s;
}

// benchfs_server_config's collectives over the group of server ranks.
void server_barrier(void* arg) {
  auto* g = static_cast<benchfs_ior_group*>(arg);
  g->barrier(g->arg);
}

void server_broadcast(void* arg, uint64_t* values, int count) {
  auto* g = static_cast<benchfs_ior_group*>(arg);
  g->broadcast(g->arg, values, static_cast<size_t>(count) * sizeof(uint64_t));
}

// A fresh registry directory under $TMPDIR (or /tmp), or "" (errno set).
std::string make_registry_dir() {
  const char* tmp = getenv("TMPDIR");
  std::string templ = std::string(empty(tmp) ? "/tmp" : tmp) + "/benchfs-ior-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) return {};
  return std::string(buf.data());
}

void remove_registry_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);  // best effort: the job is over
}

// Undoes what set-up did on this rank (after a failure or at the end).
void tear_down(Session& s) {
  if (s.server != nullptr) {
    benchfs_server_stop(s.server);
    s.server = nullptr;
  }
  if (s.own_registry) remove_registry_dir(s.registry);
  s.own_registry = false;
  s.mini = false;
  s.registry.clear();
}

int connect_client(Session& s, const benchfs_ior_settings& st, int rank) {
  std::string id;
  if (!empty(st.client_id)) id = std::string(st.client_id) + "." + std::to_string(rank);
  benchfs_config cfg;
  benchfs_config_init(&cfg);
  cfg.registry = s.registry.empty() ? nullptr : s.registry.c_str();
  cfg.client_id = id.empty() ? nullptr : id.c_str();
  cfg.prewarm = st.prewarm;
  return benchfs_init(&cfg);
}

// The first initialize of a mini deployment; -1 with errno on failure.
int start_mini(Session& s, const benchfs_ior_settings& st, const benchfs_ior_group& all,
               const benchfs_ior_group* servers, int local_rank) {
  const bool hosts = all.rank < st.servers;
  if (hosts != (servers != nullptr))
    return fail(EINVAL, "mini deployment: exactly the first `servers` ranks pass a server group");
  if (servers != nullptr && (servers->size != st.servers || servers->rank != all.rank ||
                             servers->barrier == nullptr || servers->broadcast == nullptr))
    return fail(EINVAL, "mini deployment: the server group must be ranks 0 .. servers-1 with collectives");
  s.mini = true;
  s.all = all;
  if (servers != nullptr) s.servers = *servers;

  // Everybody learns the registry from rank 0 (which may have to make it).
  char name[kMaxPath + 1] = {};
  if (all.rank == 0) {
    std::string dir = empty(st.registry) ? make_registry_dir() : std::string(st.registry);
    if (!dir.empty() && dir.size() <= kMaxPath) {
      std::memcpy(name, dir.data(), dir.size());
      s.own_registry = empty(st.registry);
    }
  }
  all.broadcast(all.arg, name, sizeof name);
  if (name[0] == '\0') return fail(EIO, "mini deployment: rank 0 could not create a registry directory");
  s.registry = name;

  if (servers != nullptr) {
    benchfs_server_config cfg;
    benchfs_server_config_init(&cfg);
    cfg.registry = s.registry.c_str();
    cfg.threads = st.threads;
    cfg.listen = empty(st.listen) ? nullptr : st.listen;
    cfg.rank = servers->rank;
    cfg.size = servers->size;
    cfg.local_rank = local_rank < 0 ? 0 : local_rank;
    cfg.barrier = server_barrier;
    cfg.broadcast = server_broadcast;
    cfg.arg = &s.servers;
    s.server = benchfs_server_start(&cfg);
    if (s.server == nullptr) return -1;
  }
  // Rank 0 publishes the registry inside benchfs_server_start once every
  // server has started; clients that look before this barrier could find a
  // stale list left in a reused directory.
  all.barrier(all.arg);
  return connect_client(s, st, all.rank);
}

int initialize(const benchfs_ior_settings* st, const benchfs_ior_group* all, const benchfs_ior_group* servers,
               int local_rank) {
  Session& s = session();
  std::lock_guard lock(s.mu);
  if (s.refs > 0) return ++s.refs;
  if (st == nullptr) return fail(EINVAL, "null settings");
  if (st->servers > 0) {
    if (all == nullptr || all->barrier == nullptr || all->broadcast == nullptr)
      return fail(EINVAL, "mini deployment: no group of all ranks");
    if (all->size <= 0 || all->rank < 0 || all->rank >= all->size)
      return fail(EINVAL, "mini deployment: bad rank or size");
  }
  if (benchfs_ior_check(st, all != nullptr ? all->size : 0) != 0) return -1;
  int rc = 0;
  if (st->servers > 0) {
    rc = start_mini(s, *st, *all, servers, local_rank);
  } else {
    if (!empty(st->registry)) {
      s.registry = st->registry;
    } else if (const char* env = getenv("BENCHFS_REGISTRY"); !empty(env)) {
      s.registry = env;
    }
    rc = connect_client(s, *st, all != nullptr ? all->rank : 0);
  }
  if (rc != 0) {
    const int err = errno;
    const std::string why = benchfs_last_error();
    tear_down(s);
    return fail(err, why.c_str());
  }
  s.refs = 1;
  return 1;
}

int finalize() {
  Session& s = session();
  std::lock_guard lock(s.mu);
  if (s.refs == 0) return fail(EINVAL, "benchfs_ior_finalize without benchfs_ior_initialize");
  if (--s.refs > 0) return s.refs;
  int rc = benchfs_finalize();
  const int err = errno;
  const std::string why = rc != 0 ? benchfs_last_error() : "";
  // Servers stop only once no rank is still using them.
  if (s.mini) s.all.barrier(s.all.arg);
  tear_down(s);
  if (rc != 0) return fail(err, why.c_str());
  return 0;
}

int stop_at_first(void* arg, const char*, unsigned char) {
  *static_cast<bool*>(arg) = true;
  return 1;
}

int rename_dir(const char* oldpath, const char* newpath, mode_t mode) {
  bool any = false;
  if (benchfs_readdir(oldpath, stop_at_first, &any) < 0) return -1;
  if (any) return fail(EXDEV, "rename: only empty directories can be moved");
  if (benchfs_access(newpath, F_OK) == 0) return fail(EEXIST, "rename: the target directory exists");
  if (benchfs_mkdir(newpath, mode & 07777) != 0) return -1;
  if (benchfs_rmdir(oldpath) != 0) {
    // Someone created an entry meanwhile (or removed the directory): undo.
    const int err = errno;
    const std::string why = benchfs_last_error();
    benchfs_rmdir(newpath);
    return fail(err, why.c_str());
  }
  return 0;
}

}  // namespace

extern "C" {

int benchfs_ior_plan_open(int ior_flags, benchfs_ior_opener opener, benchfs_ior_open_plan* plan) {
  if (plan == nullptr) return fail(EINVAL, "null open plan");
  if ((ior_flags & ~kKnownBits) != 0) return fail(EINVAL, "unknown IOR open flag bits");
  if (opener != BENCHFS_IOR_OPEN_ALONE && opener != BENCHFS_IOR_OPEN_SHARED_FIRST &&
      opener != BENCHFS_IOR_OPEN_SHARED_OTHER)
    return fail(EINVAL, "bad opener");
  const int access = ior_flags & kAccessBits;
  int flags = O_RDONLY;
  switch (access) {
    case 0:
    case BENCHFS_IOR_RDONLY:
      break;
    case BENCHFS_IOR_WRONLY:
      flags = O_WRONLY;
      break;
    case BENCHFS_IOR_RDWR:
      flags = O_RDWR;
      break;
    default:
      return fail(EINVAL, "more than one IOR access mode");
  }
  if ((ior_flags & BENCHFS_IOR_CREAT) != 0) flags |= O_CREAT;
  if ((ior_flags & BENCHFS_IOR_EXCL) != 0) flags |= O_EXCL;
  if ((ior_flags & BENCHFS_IOR_TRUNC) != 0) flags |= O_TRUNC;
  if ((ior_flags & BENCHFS_IOR_APPEND) != 0) flags |= O_APPEND;
  const bool ordered = (ior_flags & (BENCHFS_IOR_TRUNC | BENCHFS_IOR_EXCL)) != 0;
  plan->barrier = opener != BENCHFS_IOR_OPEN_ALONE && ordered ? 1 : 0;
  if (opener == BENCHFS_IOR_OPEN_SHARED_OTHER) flags &= ~(O_TRUNC | O_EXCL);
  plan->flags = flags;
  return 0;
}

int benchfs_ior_path(const char* path, char* out, size_t size) {
  if (path == nullptr || out == nullptr) return fail(EINVAL, "null path or buffer");
  const std::string_view in(path, strnlen(path, kMaxPath * 2 + 1));
  std::string result;
  result.reserve(in.size() + 1);
  size_t pos = 0;
  while (pos < in.size()) {
    size_t end = in.find('/', pos);
    if (end == std::string_view::npos) end = in.size();
    const std::string_view comp = in.substr(pos, end - pos);
    pos = end + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") {
      const size_t slash = result.rfind('/');
      result.resize(slash == std::string::npos ? 0 : slash);
      continue;
    }
    result += '/';
    result += comp;
  }
  if (result.empty()) result = "/";
  if (result.size() > kMaxPath || result.size() + 1 > size)
    return fail(ENAMETOOLONG, "path too long for BenchFS or for the buffer");
  std::memcpy(out, result.c_str(), result.size() + 1);
  return static_cast<int>(result.size());
}

ssize_t benchfs_ior_xfer(int fd, int write, void* buf, size_t len, off_t offset) {
  if (len > static_cast<size_t>(SSIZE_MAX)) return fail(EINVAL, "transfer too large");
  if (len > 0 && buf == nullptr) return fail(EINVAL, "null buffer");
  auto* p = static_cast<char*>(buf);
  size_t done = 0;
  while (done < len) {
    const off_t at = offset + static_cast<off_t>(done);
    const ssize_t n = write != 0 ? benchfs_pwrite(fd, p + done, len - done, at)
                                 : benchfs_pread(fd, p + done, len - done, at);
    if (n < 0) return -1;
    if (n == 0) {
      const std::string why = "read reached the end of the file after " + std::to_string(done) + " of " +
                              std::to_string(len) + " bytes at offset " + std::to_string(offset);
      return fail(EIO, why.c_str());
    }
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(len);
}

int benchfs_ior_mknod(const char* path, mode_t mode) {
  const int fd = benchfs_open(path, O_CREAT | O_EXCL | O_WRONLY, mode == 0 ? 0644 : mode);
  if (fd < 0) return -1;
  return benchfs_close(fd);
}

int benchfs_ior_rename(const char* oldpath, const char* newpath) {
  return guarded([&]() -> int {
    struct stat st;
    if (benchfs_stat(oldpath, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) return benchfs_rename(oldpath, newpath);
    return rename_dir(oldpath, newpath, st.st_mode);
  });
}

const char* benchfs_ior_version(void) { return "BenchFS " BENCHFS_VERSION_STRING; }

void benchfs_ior_settings_init(benchfs_ior_settings* s) {
  if (s != nullptr) std::memset(s, 0, sizeof *s);
}

int benchfs_ior_check(const benchfs_ior_settings* s, int ranks) {
  if (s == nullptr) return fail(EINVAL, "null settings");
  if (s->servers < 0) return fail(EINVAL, "--benchfs.servers must not be negative");
  if (s->threads < 0) return fail(EINVAL, "--benchfs.threads must not be negative");
  if (ranks < 0) return fail(EINVAL, "negative rank count");
  if (ranks > 0 && s->servers > ranks) {
    const std::string why = "--benchfs.servers=" + std::to_string(s->servers) +
                            " needs at least as many ranks (" + std::to_string(ranks) + " in this job)";
    return fail(EINVAL, why.c_str());
  }
  if (!empty(s->listen) && s->servers == 0)
    return fail(EINVAL, "--benchfs.listen applies to --benchfs.servers only");
  if (s->threads > 0 && s->servers == 0)
    return fail(EINVAL, "--benchfs.threads applies to --benchfs.servers only (set threads on benchfsd_mt)");
  if (!empty(s->registry) && std::strlen(s->registry) > kMaxPath)
    return fail(ENAMETOOLONG, "--benchfs.registry is too long");
  if (s->servers == 0 && empty(s->registry) && empty(getenv("BENCHFS_REGISTRY")))
    return fail(EINVAL,
                "no registry: pass --benchfs.registry=DIR or set BENCHFS_REGISTRY (or --benchfs.servers=K)");
  return 0;
}

int benchfs_ior_initialize(const benchfs_ior_settings* s, const benchfs_ior_group* all,
                           const benchfs_ior_group* servers, int local_rank) {
  return guarded([&] { return initialize(s, all, servers, local_rank); });
}

int benchfs_ior_finalize(void) {
  return guarded([] { return finalize(); });
}

const char* benchfs_ior_registry(void) {
  Session& s = session();
  std::lock_guard lock(s.mu);
  return s.registry.c_str();
}

}  // extern "C"
