#pragma once
// Command line of benchfs-fuse: our options, parsed by hand, and what is
// handed on to libfuse (fuse_new) for the mount itself.

#include <string>
#include <vector>

namespace benchfs::fuse {

struct Options {
  std::string mountpoint;
  std::string registry;        ///< --registry, else env BENCHFS_REGISTRY
  int rpc_timeout_ms = 10000;  ///< longest a FUSE operation waits for a server
  int wait_ready_ms = 30000;   ///< how long to wait for the registry at start
  double attr_timeout = 1.0;   ///< seconds the kernel may cache attributes
  double entry_timeout = 1.0;  ///< seconds it may cache a name lookup
  double negative_timeout = 0.0;
  bool direct_io = false;
  unsigned max_write = 1u << 20;  ///< largest read / write request (4 KiB .. 1 MiB)
  /// Kernel read-ahead of the mount (its bdi's read_ahead_kb) in bytes;
  /// 0 leaves the kernel's (128 KiB, the most FUSE_INIT can ask for).
  unsigned long long read_ahead = 4ull << 20;
  int max_idle_threads = 10;
  bool foreground = false;
  bool single_thread = false;
  bool debug = false;
  std::string fuse_opts;  ///< -o options for libfuse, comma separated
  std::string log_file;   ///< empty: stderr
  int log_level = 2;      ///< 0 error, 1 warning, 2 info, 3 debug
  bool help = false;
};

struct Parsed {
  Options options;
  std::string error;  ///< non-empty: the command line is wrong (why)
};

Parsed parse_options(int argc, char** argv);
std::string usage();
/// argv for fuse_new: the program name, -o fsname/subtype plus the user's
/// -o options, and -d with --debug.
std::vector<std::string> fuse_arguments(const Options& o);

}  // namespace benchfs::fuse
