#include "fuse_options.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace benchfs::fuse {

namespace {

bool parse_int(const std::string& s, long lo, long hi, long* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool parse_seconds(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v) || v < 0 || v > 86400) return false;
  *out = v;
  return true;
}

// "4096", "64k", "1m" (binary units).
bool parse_size(const std::string& s, unsigned long long* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || s[0] == '-') return false;
  unsigned long long mul = 1;
  const std::string_view unit(end);
  if (unit == "k" || unit == "K")
    mul = 1ull << 10;
  else if (unit == "m" || unit == "M")
    mul = 1ull << 20;
  else if (!unit.empty())
    return false;
  *out = v * mul;
  return true;
}

int level_of(const std::string& s) {
  if (s == "error") return 0;
  if (s == "warning" || s == "warn") return 1;
  if (s == "info") return 2;
  if (s == "debug") return 3;
  return -1;
}

}  // namespace

std::string usage() {
  return R"(Usage: benchfs-fuse MOUNTPOINT --registry DIR [options]

Mounts the BenchFS file system whose servers announce themselves in DIR
(server_list.txt) on MOUNTPOINT. Unmount with `fusermount3 -u MOUNTPOINT`,
`umount MOUNTPOINT` (root), or SIGINT / SIGTERM to benchfs-fuse.

Options:
  --registry DIR          registry directory of the servers (default: env
                          BENCHFS_REGISTRY)
  --rpc-timeout-ms N      longest an operation waits for a server; past it
                          the operation fails with EIO (default 10000)
  --wait-ready-ms N       how long to wait for the registry (default 30000)
  --attr-timeout S        seconds the kernel may cache attributes (default 1)
  --entry-timeout S       seconds it may cache a name lookup (default 1)
  --negative-timeout S    seconds it may cache "no such file" (default 0)
  --direct-io             bypass the page cache: every read and write goes
                          to the servers as the application issued it
  --max-write SIZE        largest read / write request, 4k..1m (default 1m)
  --read-ahead SIZE       kernel read-ahead of the mount, 0..64m (default 4m;
                          0 keeps the kernel's 128k); page cache only
  --threads N             idle FUSE worker threads kept (default 10)
  -f, --foreground        do not detach from the terminal
  -s, --single-thread     one FUSE worker thread
  -d, --debug             log every FUSE request (implies -f)
  -o OPT[,OPT...]         mount options for libfuse, e.g. allow_other
  --log FILE              log here instead of stderr (stderr is gone once
                          benchfs-fuse detaches)
  --log-level LEVEL       error, warning, info (default) or debug
  -h, --help              this text

Semantics: data written is on the servers when write(2) returns; a file's
size is published at close(2) / fsync(2), as with libbenchfs. chmod and
utimensat work; symlinks, hard links and special files give ENOTSUP,
changing the owner EPERM (files belong to whoever looks), extended
attributes EOPNOTSUPP. Servers that are gone or do not answer make
operations fail with ENOTCONN or EIO within --rpc-timeout-ms.
)";
}

Parsed parse_options(int argc, char** argv) {
  Parsed p;
  Options& o = p.options;
  if (const char* env = std::getenv("BENCHFS_REGISTRY"); env != nullptr) o.registry = env;
  auto fail = [&](std::string why) {
    p.error = std::move(why);
    return p;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    bool has_inline = false;
    if (a.rfind("--", 0) == 0) {
      if (const size_t eq = a.find('='); eq != std::string::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
        has_inline = true;
      }
    }
    auto next = [&](std::string* out) {
      if (has_inline) {
        *out = value;
        return true;
      }
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    long n = 0;
    if (a == "-h" || a == "--help") {
      o.help = true;
      return p;
    } else if (a == "-f" || a == "--foreground") {
      o.foreground = true;
    } else if (a == "-s" || a == "--single-thread") {
      o.single_thread = true;
    } else if (a == "-d" || a == "--debug") {
      o.debug = o.foreground = true;
    } else if (a == "--direct-io") {
      o.direct_io = true;
    } else if (a == "--registry") {
      if (!next(&v) || v.empty()) return fail("--registry needs a directory");
      o.registry = v;
    } else if (a == "--rpc-timeout-ms") {
      if (!next(&v) || !parse_int(v, 1, 3'600'000, &n)) return fail("--rpc-timeout-ms needs 1..3600000");
      o.rpc_timeout_ms = static_cast<int>(n);
    } else if (a == "--wait-ready-ms") {
      if (!next(&v) || !parse_int(v, 0, 3'600'000, &n)) return fail("--wait-ready-ms needs 0..3600000");
      o.wait_ready_ms = static_cast<int>(n);
    } else if (a == "--attr-timeout" || a == "--entry-timeout" || a == "--negative-timeout") {
      double s = 0;
      if (!next(&v) || !parse_seconds(v, &s)) return fail(a + " needs seconds, 0..86400");
      (a == "--attr-timeout"    ? o.attr_timeout
       : a == "--entry-timeout" ? o.entry_timeout
                                : o.negative_timeout) = s;
    } else if (a == "--max-write") {
      unsigned long long s = 0;
      if (!next(&v) || !parse_size(v, &s) || s < 4096 || s > (1u << 20))
        return fail("--max-write needs a size of 4k..1m");
      o.max_write = static_cast<unsigned>(s);
    } else if (a == "--read-ahead") {
      unsigned long long s = 0;
      if (!next(&v) || !parse_size(v, &s) || s > (64ull << 20))
        return fail("--read-ahead needs a size of 0..64m");
      o.read_ahead = s;
    } else if (a == "--threads") {
      if (!next(&v) || !parse_int(v, 1, 1024, &n)) return fail("--threads needs 1..1024");
      o.max_idle_threads = static_cast<int>(n);
    } else if (a == "-o") {
      if (i + 1 >= argc) return fail("-o needs mount options");
      if (!o.fuse_opts.empty()) o.fuse_opts += ',';
      o.fuse_opts += argv[++i];
    } else if (a.rfind("-o", 0) == 0 && a.size() > 2) {
      if (!o.fuse_opts.empty()) o.fuse_opts += ',';
      o.fuse_opts += a.substr(2);
    } else if (a == "--log") {
      if (!next(&v) || v.empty()) return fail("--log needs a file");
      o.log_file = v;
    } else if (a == "--log-level") {
      if (!next(&v) || level_of(v) < 0) return fail("--log-level needs error, warning, info or debug");
      o.log_level = level_of(v);
    } else if (!a.empty() && a[0] == '-') {
      return fail("unknown option " + a);
    } else if (o.mountpoint.empty()) {
      o.mountpoint = a;
    } else {
      return fail("more than one mount point (" + o.mountpoint + ", " + a + ")");
    }
  }
  if (o.mountpoint.empty()) return fail("no mount point given");
  if (o.registry.empty()) return fail("no registry: give --registry DIR or set BENCHFS_REGISTRY");
  return p;
}

std::vector<std::string> fuse_arguments(const Options& o) {
  std::vector<std::string> args{"benchfs-fuse", "-o", "fsname=benchfs,subtype=benchfs"};
  if (!o.fuse_opts.empty()) args.back() += "," + o.fuse_opts;
  if (o.debug) args.emplace_back("-d");
  return args;
}

}  // namespace benchfs::fuse
