// benchfsd_mt: one BenchFS server per MPI rank (also runs as an MPI singleton).

#include <fcntl.h>
#include <mpi.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>

#include "benchfs/core/log.hpp"
#include "benchfs/core/units.hpp"
#include "benchfs/net/sockaddr.hpp"
#include "benchfs/server/server.hpp"
#include "fd_quarantine.hpp"

namespace {

using benchfs::server::ServerOptions;
namespace fdq = benchfs::server::fd_quarantine;

// Raises the soft limit on open descriptors to the hard limit (each client
// connection holds several sockets). Returns the soft limit now in force.
size_t raise_fd_limit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    struct rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  return rl.rlim_cur == RLIM_INFINITY ? size_t{1} << 20 : static_cast<size_t>(rl.rlim_cur);
}

// The default --client-capacity for a descriptor limit: a connection holds
// about 2 descriptors (tcp; 1-2 more while it closes, and the socket
// quarantine may hold a quarter of the limit), so the default is lowered
// where the limit could not hold it.
size_t default_client_capacity(size_t fd_limit) {
  const size_t usable = fd_limit * 3 / 4;
  const size_t fit = usable > 256 ? (usable - 256) / 2 : 0;
  return std::clamp<size_t>(fit, 64, ServerOptions::kDefaultClientCapacity);
}

// Whether --client-capacity was given (else default_client_capacity applies).
bool client_capacity_given = false;

// --netns PATH, for tests that model hosts as network namespaces ("" = off).
std::string netns_path;

// Moves this thread into the network namespace of netns_path ("%r" = rank,
// replaced in place) and, as `ip netns exec` does, into a mount namespace of
// its own with that namespace's sysfs on /sys (UCX lists network devices in
// /sys/class/net). Threads started later (UCX's, ours) inherit both; MPI's
// threads, sockets and shared memory stay as they are. A wildcard --listen
// without --advertise advertises the namespace's first non-loopback IPv4
// address.
// Returns "" or what failed.
std::string enter_netns(int rank, ServerOptions& opts) {
  for (size_t at = netns_path.find("%r"); at != std::string::npos; at = netns_path.find("%r", at))
    netns_path.replace(at, 2, std::to_string(rank));
  const std::string& path = netns_path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "--netns " + path + ": " + std::strerror(errno);
  const int rc = setns(fd, CLONE_NEWNET);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return "--netns " + path + ": setns: " + std::strerror(err);
  if (unshare(CLONE_NEWNS) != 0 || mount("", "/", nullptr, MS_SLAVE | MS_REC, nullptr) != 0 ||
      (umount2("/sys", MNT_DETACH) != 0 && errno != EINVAL) ||
      mount(path.c_str(), "/sys", "sysfs", 0, nullptr) != 0)
    return "--netns " + path + ": mounting its sysfs on /sys: " + std::strerror(errno);
  if (!opts.advertise.empty()) return "";
  auto listen = benchfs::parse_host_port(opts.listen);
  if (!listen) return "";  // Server::start reports it
  auto bound = benchfs::net::resolve(listen->host, listen->port);
  if (!bound || !bound->is_wildcard()) return "";
  opts.advertise = benchfs::net::first_non_loopback_ipv4();
  if (opts.advertise.empty()) return "--netns " + path + ": no IPv4 address to advertise (give --advertise)";
  return "";
}

// A size option (k/m/g suffixes) as typed, converted once parsing is done.
struct SizeArg {
  const char* name;
  std::string text;
  uint64_t* out;
  bool allow_auto = false;  // "auto" leaves *out as it is
};

// What the command line gives besides ServerOptions' own fields.
struct ParsedArgs {
  std::deque<SizeArg> sizes;  // stable addresses: CLI11 writes into text
  std::string poll = "adaptive";
  std::string listener_mode = "multi";
  std::string progress_mode = "single";
};

void add_size(CLI::App& app, ParsedArgs& args, const char* name, uint64_t* out, const char* initial,
              const std::string& help, bool allow_auto = false) {
  args.sizes.push_back(SizeArg{name, initial, out, allow_auto});
  app.add_option(name, args.sizes.back().text, help)->capture_default_str();
}

// Chunks, memory and the buffers behind them.
void add_memory_options(CLI::App& app, ServerOptions& opts, ParsedArgs& args) {
  add_size(app, args, "--chunk-size", &opts.chunk_size, "1m",
           "File chunk size, a power of two (k/m/g suffixes)");
  add_size(app, args, "--memory-limit", &opts.memory_limit, "0",
           "Most bytes of file data this server holds (k/m/g suffixes; 0 = no limit); writes past it fail "
           "with ENOSPC");
  add_size(app, args, "--buffer-pool", &opts.buffer_pool, "1g",
           "Freed chunk buffers kept resident for the next writes (k/m/g suffixes; 0 = none)");
  add_size(app, args, "--prefault", &opts.prefault, "0",
           "Chunk buffer memory to make resident at start, so the first writes find it warm (k/m/g "
           "suffixes; at most --buffer-pool)");
  add_size(app, args, "--reserve", &opts.reserve, "auto",
           "Free chunk buffer memory a background thread keeps resident ahead of writes, so a first write "
           "phase does not wait for page faults (k/m/g suffixes; 0 = off; auto = 1/64 of the machine's "
           "memory, at most --buffer-pool and half of --memory-limit)",
           true);
  app.add_flag("--no-huge-pages{false}", opts.huge_pages,
               "Do not advise chunk buffers for transparent huge pages");
}

// The client registry: capacity, eviction, shards.
void add_client_options(CLI::App& app, ServerOptions& opts) {
  app.add_option(
         "--client-capacity", opts.client_capacity,
         "Registered clients kept before idle ones are evicted, least recently used first. Soft: "
         "clients that are working are never evicted; the server goes over capacity (and warns) "
         "instead. Evicted clients reconnect by themselves. The default is lowered where the descriptor "
         "limit (ulimit -n) cannot hold it")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1} << 30));
  app.add_option("--client-idle-ms", opts.client_idle_ms,
                 "A client may be evicted once it has no request in flight and sent none for this long "
                 "(0: as soon as nothing is in flight)")
      ->capture_default_str();
  app.add_option("--registry-shards", opts.registry_shards, "Shards of the client registry (power of two)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{4096}));
}

// Threads, polling and UCX's thread modes.
void add_progress_options(CLI::App& app, ServerOptions& opts, ParsedArgs& args, std::string& quarantine) {
  app.add_option("--threads", opts.threads,
                 "Progress threads (default: cores in this rank's cpuset - 1, >= 1)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--poll", args.poll, "Progress polling: busy, adaptive (spin then sleep) or blocking")
      ->capture_default_str()
      ->check(CLI::IsMember({"busy", "adaptive", "blocking"}));
  app.add_option("--spin-us", opts.spin_us,
                 "Adaptive polling: the longest a progress thread spins before sleeping, in microseconds "
                 "(its budget follows the gaps between requests below this)")
      ->capture_default_str();
  app.add_flag("--no-pin{false}", opts.pin, "Do not pin threads to cores");
  app.add_option("--listener-thread-mode", args.listener_mode,
                 "UCX thread mode of the listener's worker (single is for measurement: it aborted in UCX "
                 "1.13 before the hand-off waited for the listener's progress call)")
      ->capture_default_str()
      ->check(CLI::IsMember({"single", "multi"}));
  app.add_option("--progress-thread-mode", args.progress_mode, "UCX thread mode of the progress workers")
      ->capture_default_str()
      ->check(CLI::IsMember({"single", "multi"}));
  app.add_option("--socket-quarantine", quarantine,
                 "Hold a closed socket's descriptor number for 1 s before reuse: works around a UCX < 1.18 "
                 "abort under client churn (async.c \"handler->async == async\"); auto = on for such UCX")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "on", "off"}));
}

// Diagnostics, fault injection and test hooks.
void add_debug_options(CLI::App& app, ServerOptions& opts, std::string& log_level) {
  app.add_flag("--debug-endpoints", opts.debug_endpoints, "Log each client endpoint's UCX configuration");
  app.add_option("--drop-reply", opts.drop_reply,
                 "Fault injection for tests, OP:N: every Nth reply to OP (e.g. create:3) on each progress "
                 "thread is not sent; its connection is closed instead, as if the reply had been lost "
                 "with it");
  app.add_option("--stats", opts.stats_file,
                 "Write JSON statistics to this file at exit (%r = rank; else .<rank> is added when np > 1)");
  app.add_option("--netns", netns_path,
                 "For tests that model hosts as network namespaces: once MPI is up, join the network "
                 "namespace of this file (e.g. /var/run/netns/NAME; %r = rank) before UCX starts, with its "
                 "sysfs on /sys as `ip netns exec` does; MPI keeps its own connections. --listen then "
                 "takes an address of that namespace; with a wildcard --listen (0.0.0.0:0) and no "
                 "--advertise, the namespace's first non-loopback IPv4 address is advertised. Errors: "
                 "exit 2, nothing started");
  app.add_option("--shutdown-timeout-ms", opts.shutdown_timeout_ms,
                 "Bound on telling clients and flushing endpoints at shutdown")
      ->capture_default_str();
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error, critical or off (env BENCHFS_LOG_LEVEL)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
}

// Converts what parsing left as text into opts. Returns "" or the error.
std::string apply(const ParsedArgs& args, ServerOptions& opts) {
  for (const SizeArg& a : args.sizes) {
    if (a.allow_auto && a.text == "auto") continue;
    auto v = benchfs::parse_size(a.text);
    if (!v)
      return std::string(a.name) + ": " + v.status().message() + (a.allow_auto ? " (a size, 0 or auto)" : "");
    *a.out = *v;
  }
  opts.listener_multi = args.listener_mode == "multi";
  opts.progress_multi = args.progress_mode == "multi";
  opts.poll = *benchfs::net::parse_poll_mode(args.poll);
  return "";
}

// Parses the command line into opts. Returns an exit code >= 0 to exit with
// (help printed, or a usage error), -1 to go on.
int parse_options(int argc, char** argv, ServerOptions& opts, std::string& log_level,
                  std::string& quarantine) {
  CLI::App app{
      "benchfsd_mt: a BenchFS server. Start one per MPI rank, e.g.\n"
      "  mpirun -np 2 --bind-to none benchfsd_mt --registry /tmp/benchfs --threads 2\n"
      "Clients find the servers through <registry>/server_list.txt.",
      "benchfsd_mt"};
  if (const char* env = std::getenv("BENCHFS_REGISTRY")) opts.registry = env;
  app.add_option("--registry", opts.registry,
                 "Directory for server_list.txt (shared by servers and clients; env BENCHFS_REGISTRY)");
  app.add_option("--listen", opts.listen, "HOST:PORT for the UCX listener")->capture_default_str();
  app.add_option("--advertise", opts.advertise,
                 "Address written to the server list (default: the listen host, or this host's address "
                 "when listening on 0.0.0.0)");
  ParsedArgs args;
  add_memory_options(app, opts, args);
  add_client_options(app, opts);
  add_progress_options(app, opts, args, quarantine);
  add_debug_options(app, opts, log_level);
  try {
    app.parse(argc, argv);
    client_capacity_given = app.count("--client-capacity") > 0;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "benchfsd_mt: %s\nRun with --help for usage.\n", e.what());
    return 2;
  }
  if (std::string err = apply(args, opts); !err.empty()) {
    std::fprintf(stderr, "benchfsd_mt: %s\n", err.c_str());
    return 2;
  }
  if (auto st = benchfs::server::validate(opts); !st) {
    std::fprintf(stderr, "benchfsd_mt: %s\nRun with --help for usage.\n", st.message().c_str());
    return 2;
  }
  return -1;
}

// Waits for a barrier among all ranks, giving up after timeout_ms.
bool bounded_barrier(int timeout_ms) {
  MPI_Request req;
  MPI_Ibarrier(MPI_COMM_WORLD, &req);
  for (int waited = 0;; waited += 10) {
    int done = 0;
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (done) return true;
    if (waited >= timeout_ms) return false;
    struct timespec ts {
      0, 10'000'000
    };
    nanosleep(&ts, nullptr);
  }
}

}  // namespace

int main(int argc, char** argv) {
  ServerOptions opts;
  std::string log_level;
  std::string quarantine = "auto";
  if (int rc = parse_options(argc, argv, opts, log_level, quarantine); rc >= 0) return rc;

  // Signals are taken synchronously by the main thread; block them before any
  // thread (MPI's, UCX's, ours) starts so none of those receives them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (auto st = benchfs::init_logging("benchfsd." + std::to_string(rank), log_level); !st) {
    std::fprintf(stderr, "benchfsd_mt: %s\n", st.to_string().c_str());
    MPI_Abort(MPI_COMM_WORLD, 2);
  }

  const size_t fd_limit = raise_fd_limit();
  if (!client_capacity_given) {
    opts.client_capacity = default_client_capacity(fd_limit);
    if (opts.client_capacity < ServerOptions::kDefaultClientCapacity)
      spdlog::info("node {}: --client-capacity {} (the descriptor limit, {}, holds no more)", rank,
                   opts.client_capacity, fd_limit);
  } else if (opts.client_capacity > default_client_capacity(fd_limit) && rank == 0) {
    spdlog::warn(
        "node {}: --client-capacity {} may need more descriptors than the limit ({}) allows; "
        "raise it (ulimit -n) if connections fail with 'Too many open files'",
        rank, opts.client_capacity, fd_limit);
  }
  if (quarantine == "on" || (quarantine == "auto" && fdq::ucx_needs_it())) {
    // A number is held 1 s; at most a quarter of the descriptor limit is held.
    if (!fdq::enable(std::chrono::milliseconds(1000), std::max<size_t>(64, fd_limit / 4)))
      spdlog::warn("node {}: socket quarantine off: /dev/null: {}", rank, std::strerror(errno));
  }

  benchfs::server::Bootstrap boot;
  boot.rank = static_cast<uint32_t>(rank);
  boot.size = static_cast<uint32_t>(size);
  MPI_Comm node_comm;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node_comm);
  int local_rank = 0;
  MPI_Comm_rank(node_comm, &local_rank);
  MPI_Comm_free(&node_comm);
  boot.local_rank = static_cast<uint32_t>(local_rank);
  boot.barrier = [] { MPI_Barrier(MPI_COMM_WORLD); };
  boot.broadcast = [](uint64_t* v, int count) { MPI_Bcast(v, count, MPI_UINT64_T, 0, MPI_COMM_WORLD); };

  if (!netns_path.empty()) {
    if (const std::string err = enter_netns(rank, opts); !err.empty()) {
      std::fprintf(stderr, "benchfsd_mt: node %d: %s\n", rank, err.c_str());
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 2);
      return 2;
    }
    spdlog::info("node {}: in network namespace {} (advertising {})", rank, netns_path,
                 opts.advertise.empty() ? "the listen host" : opts.advertise);
  }
  std::unique_ptr<benchfs::server::Server> server;
  try {
    server = benchfs::server::Server::start(opts, boot);
  } catch (const std::exception& e) {
    spdlog::critical("node {}: cannot start: {}", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
  }

  const struct timespec tick { 0, 100'000'000 };
  for (;;) {
    siginfo_t info;
    const int sig = sigtimedwait(&sigs, &info, &tick);
    if (sig > 0) {
      spdlog::info("node {}: {} received, shutting down", rank, strsignal(sig));
      break;
    }
    if (server->stop_requested()) break;
    fdq::sweep();
  }
  server->stop();
  server.reset();
  if (const auto q = fdq::stats(); q.quarantined != 0)
    spdlog::debug("node {}: socket quarantine: {} sockets closed through it, {} numbers freed early", rank,
                  q.quarantined, q.released_early);
  // Other ranks stop on their own signal or SHUTDOWN; do not hang on one that never does.
  if (!bounded_barrier(static_cast<int>(opts.shutdown_timeout_ms) + 10'000)) {
    spdlog::warn("node {}: other servers are still running; exiting without them", rank);
    std::_Exit(0);
  }
  MPI_Finalize();
  return 0;
}
