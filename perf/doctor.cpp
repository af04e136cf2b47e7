// benchfs_bench doctor --registry DIR [--timeout-ms MS] [--pings N] [--io-size SIZE] [--verbose]
//
// Every rank checks the registry (present, readable, trusted, ready), then
// each server in turn: connect and register (timed), the transports and
// devices UCX chose for the endpoint, the median RTT of a few pings, and a
// small file created on that server, written, read back, compared and
// removed. One line per (rank, server); a failure adds a diagnosis line.
// Rank 0 prints every rank's lines in rank order, then a summary. Every
// step is bounded by --timeout-ms: nothing waits longer.
//
// Uses the C++ client engine (not the C API) to reach one server at a time
// and to ask UCX about the endpoint.

#include "doctor.hpp"

#include <fcntl.h>
#include <mpi.h>
#include <sys/stat.h>
#include <ucp/api/ucp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "benchfs/client/engine.hpp"
#include "benchfs/client/fs.hpp"
#include "benchfs/core/clock.hpp"
#include "benchfs/core/status.hpp"
#include "benchfs/core/units.hpp"
#include "benchfs/protocol/placement.hpp"
#include "benchfs/protocol/wire.hpp"
#include "benchfs/registry/server_list.hpp"
#include "benchfs/registry/trust.hpp"

namespace benchfs::doctor {

namespace {

constexpr uint64_t kMaxIoBytes = 64ULL << 20;
constexpr size_t kPingBytes = 8;

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::string(fallback);
}

// The UCX settings that decide which devices and transports may be used.
std::string ucx_devices() {
  return "UCX_NET_DEVICES=" + env_or("UCX_NET_DEVICES", "(unset: all)") +
         " UCX_TLS=" + env_or("UCX_TLS", "(unset: all)");
}

double ms_since(uint64_t t0_ns) { return static_cast<double>(now_ns() - t0_ns) / 1e6; }

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string host_name() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

// ---------------------------------------------------------------- registry

// Why a registry that wait_for_servers or check_trusted refused cannot be used.
std::string registry_diagnosis(const Status& st, const Args& a) {
  switch (st.err()) {
    case ETIMEDOUT:
      return "registry missing or incomplete: " + st.message() +
             " (are the servers running, with this --registry? a directory of an old job?)";
    case EACCES:
    case EPERM:
      return "registry unreadable: " + st.message();
    case EINVAL:
      return "registry unreadable: malformed: " + st.message();
    default:
      return "registry unreadable: " + a.registry + ": " + st.to_string();
  }
}

// The servers of the registry, or why this rank cannot use it (*diagnosis).
Result<registry::ServerList> check_registry(const Args& a, std::string* diagnosis) {
  if (a.registry.empty()) {
    *diagnosis = "registry missing: no --registry given and BENCHFS_REGISTRY is not set";
    return Status(EINVAL, "no registry");
  }
  struct stat st {};
  if (::stat(a.registry.c_str(), &st) != 0) {
    const int err = errno;
    *diagnosis =
        std::string(err == ENOENT ? "registry missing: " : "registry unreadable: ") + a.registry + ": " +
        std::strerror(err) +
        (err == ENOENT ? " (servers not started with this --registry, or a path this node does not see)"
                       : "");
    return Status(err, a.registry);
  }
  if (!S_ISDIR(st.st_mode)) {
    *diagnosis = "registry unreadable: " + a.registry + " is not a directory";
    return Status(ENOTDIR, a.registry);
  }
  if (::access(a.registry.c_str(), R_OK | X_OK) != 0) {
    const int err = errno;
    *diagnosis = "registry unreadable: cannot list " + a.registry + ": " + std::strerror(err);
    return Status(err, a.registry);
  }
  auto list = registry::wait_for_servers(a.registry, Deadline::after_ms(a.timeout_ms));
  if (!list) {
    *diagnosis = registry_diagnosis(list.status(), a);
    return list.status();
  }
  if (auto trusted = registry::check_trusted(a.registry); !trusted) {
    *diagnosis = "registry untrusted: " + trusted.message();
    return trusted;
  }
  return list;
}

// ------------------------------------------------------------------ servers

// What one rank found out about one server.
struct Pair {
  uint32_t server = 0;
  std::string address;           ///< host:port from the registry
  std::string step;              ///< the step that failed; empty: all passed
  Status error;                  ///< its error
  uint64_t stray_replies = 0;    ///< replies the client could not decode, during the checks
  uint64_t endpoint_errors = 0;  ///< endpoints UCX reported failed, during the checks
  double elapsed_ms = 0;         ///< from the start of the checks to the failure
  double connect_ms = 0;
  double rtt_us = 0;
  std::string transports;
  std::string ep_info;  ///< ucp_ep_print_info, for --verbose
  std::string diagnosis;
};

// One lane of ucp_ep_print_info, the text after "lane[N]:":
//   " 2:sysv/memory.0 md[2]  -> md[2]/sysv/sysdev[255] am am_bw#0" -> "sysv/memory(am,am_bw)"
//   " cm rdmacm"                                                 -> "cm:rdmacm"
std::string describe_lane(const std::string& text) {
  std::istringstream words(text);
  std::string first;
  words >> first;
  std::string word;
  if (first == "cm") return words >> word ? "cm:" + word : "cm";
  if (const size_t rsc = first.find(':'); rsc != std::string::npos) first = first.substr(rsc + 1);
  if (const size_t dot = first.find('.', first.find('/')); dot != std::string::npos) first.resize(dot);
  // Then "md[i]", "->", "md[j]/<tl>/sysdev[k]", and the operations of the lane.
  std::string ops;
  bool after_arrow = false, after_remote = false;
  while (words >> word) {
    if (word == "->") {
      after_arrow = true;
    } else if (after_arrow && !after_remote) {
      after_remote = true;
    } else if (after_remote) {
      if (const size_t hash = word.find('#'); hash != std::string::npos) word.resize(hash);
      ops += (ops.empty() ? "" : ",") + word;
    }
  }
  return ops.empty() ? first : first + "(" + ops + ")";
}

// The transport and device of every lane, from ucp_ep_print_info, e.g.
// "cm:rdmacm sysv/memory(am,am_bw) cma/memory(rma_bw)".
std::string transports_of(const std::string& info) {
  std::vector<std::string> lanes;
  std::istringstream in(info);
  std::string line;
  while (std::getline(in, line)) {
    const size_t lane = line.find("lane[");
    const size_t colon = lane == std::string::npos ? lane : line.find("]:", lane);
    if (colon == std::string::npos) continue;
    std::string d = describe_lane(line.substr(colon + 2));
    if (!d.empty() && std::find(lanes.begin(), lanes.end(), d) == lanes.end()) lanes.push_back(std::move(d));
  }
  std::string out;
  for (const std::string& l : lanes) out += (out.empty() ? "" : " ") + l;
  return out.empty() ? "(unknown)" : out;
}

// The median RTT of n pings of kPingBytes to server (after one untimed).
Status measure_rtt(client::Client& c, uint32_t server, unsigned n, double* median_us) {
  unsigned char out[kPingBytes] = {'d', 'o', 'c', 't', 'o', 'r', '!', '\n'};
  unsigned char back[kPingBytes] = {};
  if (auto st = c.ping(server, out, sizeof out, back); !st) return st;
  std::vector<double> us;
  us.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    out[0] = static_cast<unsigned char>(i);
    const uint64_t t0 = now_ns();
    if (auto st = c.ping(server, out, sizeof out, back); !st) return st;
    us.push_back(static_cast<double>(now_ns() - t0) / 1e3);
    if (std::memcmp(out, back, sizeof out) != 0) return Status(EIO, "ping echo differs from what was sent");
  }
  std::sort(us.begin(), us.end());
  *median_us = us.empty() ? 0.0 : us[us.size() / 2];
  return Status();
}

// A path whose metadata (and, for a file within one chunk, whose data) lives
// on `server`, private to this process and rank.
std::string probe_path(uint32_t servers, uint32_t server, int rank) {
  const std::string base = "/.benchfs-doctor." + host_name() + "." + std::to_string(getpid()) + ".r" +
                           std::to_string(rank) + ".s" + std::to_string(server) + ".";
  for (uint64_t k = 0;; ++k) {
    std::string path = base + std::to_string(k);
    if (placement::metadata_owner(path, servers) == server) return path;
  }
}

// Creates a file on `server`, writes n bytes (at most a chunk, so that
// the data is on `server` too), reads them back, compares,
// removes it. The first failure is the result (the file is removed anyway).
Status write_and_read(client::FileSystem& fs, uint32_t server, uint64_t n, int rank) {
  const std::string path = probe_path(fs.client().server_count(), server, rank);
  std::vector<unsigned char> out(n), back(n);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<unsigned char>(i * 131 + server * 7 + 1);
  auto fd = fs.open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
  if (!fd) return fd.status();
  Status result;
  if (auto w = fs.pwrite(*fd, out.data(), out.size(), 0); !w) {
    result = w.status();
  } else if (*w != n) {
    result = Status(EIO, "short write: " + std::to_string(*w) + " of " + std::to_string(n) + " bytes");
  } else if (auto synced = fs.fsync(*fd); !synced) {
    result = synced;
  } else if (auto r = fs.pread(*fd, back.data(), back.size(), 0); !r) {
    result = r.status();
  } else if (*r != n || std::memcmp(out.data(), back.data(), n) != 0) {
    result = Status(EIO, "data read back differs from what was written (" + std::to_string(*r) + " of " +
                             std::to_string(n) + " bytes read)");
  }
  Status closed = fs.close(*fd);
  Status removed = fs.unlink(path);
  if (result && !closed) result = closed;
  if (result && !removed) result = removed;
  return result;
}

// The connect, ping and write+read steps against p.server; the first
// failure stops them (p.step, p.error).
void check_server(client::FileSystem& fs, const Args& a, uint64_t io_bytes, int rank, Pair& p) {
  client::Client& c = fs.client();
  const client::ClientStats before = c.stats();
  const uint64_t t0 = now_ns();
  auto fail = [&](const char* step, const Status& st) {
    p.step = step;
    p.error = st;
    p.elapsed_ms = ms_since(t0);
    const client::ClientStats after = c.stats();
    p.stray_replies = after.stray_replies - before.stray_replies;
    p.endpoint_errors = after.endpoint_errors - before.endpoint_errors;
  };
  const Status connected = c.connect(p.server);
  p.connect_ms = ms_since(t0);
  if (!connected) return fail("connect/register", connected);
  p.ep_info = c.endpoint_info(p.server);
  p.transports = transports_of(p.ep_info);
  if (auto st = measure_rtt(c, p.server, a.pings, &p.rtt_us); !st) return fail("ping", st);
  if (auto st = write_and_read(fs, p.server, io_bytes, rank); !st) return fail("write+read", st);
}

// Why a step against a server failed, in words, with what to do about it.
std::string diagnose(const Pair& p, const Args& a) {
  const std::string who = "node_" + std::to_string(p.server) + " at " + p.address;
  const int err = p.error.err();
  if (err == EACCES)
    return "wrong secret: " + who +
           " rejected this client's job secret (the registry's server_list.ready is from another job or was "
           "changed; use the registry the running servers wrote)";
  if (err == EPROTO || p.stray_replies > 0)
    return "version mismatch: " + who + " and this client (wire protocol version " +
           std::to_string(wire::kVersion) +
           ") do not understand each other's messages; run the same BenchFS build on servers and clients";
  if (err == ECONNREFUSED)
    return "server not answering: nothing accepts connections at " + p.address +
           " (connection refused): the server has exited or the registry is stale; restart the servers or "
           "use the registry of the running job";
  if (err == EHOSTUNREACH || err == ENETUNREACH || err == EADDRNOTAVAIL || err == ENODEV)
    return "address unreachable with " + ucx_devices() + ": UCX has no route to " + p.address +
           " over these devices; set UCX_NET_DEVICES to a device on the servers' network (ucx_info -d) or "
           "start the servers with --advertise an address clients can reach";
  if (err == ETIMEDOUT && p.step == "connect/register" && p.endpoint_errors > 0)
    return "server not answering: every connection to " + p.address + " failed (" +
           std::to_string(p.endpoint_errors) + " endpoint errors in " + std::to_string(a.timeout_ms) +
           " ms: nothing listens there, or the connection is refused or reset with " + ucx_devices() +
           "): the server has exited or the registry is stale; restart the servers or use the registry of "
           "the "
           "running job";
  if (err == ETIMEDOUT)
    return "server not answering within " + std::to_string(a.timeout_ms) + " ms: " + who + " (" + p.step +
           ") is stopped, hung or overloaded, or the network drops the traffic (" + ucx_devices() + ")";
  if (err == ECONNRESET || err == ENOTCONN || err == EPIPE || err == ECONNABORTED)
    return "connection lost: " + who + " closed or reset the connection during " + p.step +
           " (the server exiting, or evicting clients?)";
  if (err == ESHUTDOWN)
    return "server shutting down: " + who + " refused " + p.step + " because it is stopping";
  if (err == ENOSPC) return "server full: " + who + " has no memory left for the test file (--memory-limit)";
  return p.step + " failed: " + p.error.to_string();
}

// ------------------------------------------------------------------ output

std::string pair_lines(int rank, const Pair& p, const Args& a, uint64_t io_bytes) {
  const std::string who = "rank " + std::to_string(rank) + " node_" + std::to_string(p.server) + " ";
  std::string s = who + p.address;
  if (p.step.empty()) {
    s += " OK connect " + fixed(p.connect_ms, 2) + " ms, register ok, rtt " + fixed(p.rtt_us, 1) +
         " us (median of " + std::to_string(a.pings) + "), write+read " + format_size(io_bytes) +
         " ok, transports " + p.transports + "\n";
  } else {
    s += " FAIL at " + p.step + " after " + fixed(p.elapsed_ms, 2) + " ms: " + p.error.to_string() + "\n" +
         who + "diagnosis: " + p.diagnosis + "\n";
  }
  if (a.verbose && !p.ep_info.empty()) {
    std::istringstream in(p.ep_info);
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) s.append(who).append("ucx: ").append(line).append("\n");
  }
  return s;
}

// Rank 0: every rank's text, in rank order. Others: "".
std::string gather_text(const std::string& mine, int rank, int nranks) {
  const int len = static_cast<int>(mine.size());
  std::vector<int> lens(static_cast<size_t>(nranks)), displs(static_cast<size_t>(nranks));
  MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  std::string all;
  if (rank == 0) {
    int total = 0;
    for (size_t r = 0; r < lens.size(); ++r) {
      displs[r] = total;
      total += lens[r];
    }
    all.resize(static_cast<size_t>(total));
  }
  MPI_Gatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, 0,
              MPI_COMM_WORLD);
  return all;
}

// This rank's checks of every server of `list`; their lines into *out.
// Returns the pairs that failed.
uint64_t check_all(const Args& a, const registry::ServerList& list, uint64_t io_bytes, int rank,
                   std::string* out) {
  std::vector<Pair> pairs(list.servers.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    pairs[i].server = static_cast<uint32_t>(i);
    const auto& e = list.servers[i];
    pairs[i].address =
        (e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port);
  }
  client::ClientOptions opts;
  opts.registry = a.registry;
  opts.rpc_timeout_ms = a.timeout_ms;
  opts.wait_ready_ms = a.timeout_ms;
  opts.client_id = "doctor:" + host_name() + ":" + std::to_string(getpid()) + ":" + std::to_string(rank);
  auto client = client::Client::create(opts);
  std::unique_ptr<client::FileSystem> fs;
  if (client) fs = std::make_unique<client::FileSystem>(std::move(*client));
  uint64_t failed = 0;
  for (Pair& p : pairs) {
    if (fs) {
      check_server(*fs, a, io_bytes, rank, p);
    } else {
      p.step = "client setup";
      p.error = client.status();
    }
    if (!p.step.empty()) {
      p.diagnosis = diagnose(p, a);
      ++failed;
    }
    *out += pair_lines(rank, p, a, io_bytes);
  }
  return failed;
}

std::string header(const Args& a, int nranks, uint64_t io_bytes) {
  return "doctor: registry " + a.registry + ", " + std::to_string(nranks) + " rank" +
         (nranks == 1 ? "" : "s") + ", timeout " + std::to_string(a.timeout_ms) + " ms, " +
         std::to_string(a.pings) + " pings, write+read " + format_size(io_bytes) + ", " + ucx_devices() +
         ", UCX " + ucp_get_version_string() + ", wire protocol " + std::to_string(wire::kVersion) + "\n";
}

void print_summary(int nranks, uint64_t failed, uint64_t pairs, uint64_t no_registry) {
  const auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  if (failed == 0 && no_registry == 0) {
    std::printf("doctor: OK: every rank (%d) reached every server (%llu rank-server pair%s)\n", nranks,
                u(pairs), pairs == 1 ? "" : "s");
  } else {
    std::printf("doctor: FAILED:");
    if (pairs != 0) std::printf(" %llu of %llu rank-server pairs failed", u(failed), u(pairs));
    if (no_registry != 0)
      std::printf("%s %llu of %d rank%s could not use the registry", pairs != 0 ? "," : "", u(no_registry),
                  nranks, nranks == 1 ? "" : "s");
    std::printf("; see the diagnosis lines\n");
  }
  std::fflush(stdout);
}

}  // namespace

CLI::App* add_command(CLI::App& app, Args& args) {
  auto* d = app.add_subcommand(
      "doctor",
      "Connectivity check: every rank connects, registers, pings, writes and reads a small file on every "
      "server; prints per pair the transports UCX chose, connect time and RTT, and diagnoses failures");
  d->add_option("--registry", args.registry, "Registry directory (env BENCHFS_REGISTRY)");
  d->add_option("--timeout-ms", args.timeout_ms, "Limit of every step (registry wait, connect, each call)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{600'000}));
  d->add_option("--pings", args.pings, "Timed pings per server (the RTT printed is their median)")
      ->capture_default_str()
      ->check(CLI::Range(1U, 100'000U));
  d->add_option("--io-size", args.io_size, "Bytes written and read back on each server (k/m suffixes)")
      ->capture_default_str();
  d->add_flag("--verbose", args.verbose,
              "Also print UCX's description of every endpoint (ucp_ep_print_info)");
  return d;
}

int run(const Args& a, int rank, int nranks) {
  auto io = parse_size(a.io_size);
  if (!io || *io == 0 || *io > kMaxIoBytes) {
    if (rank == 0)
      std::fprintf(stderr, "benchfs_bench doctor: bad --io-size '%s' (1 .. 64m)\n", a.io_size.c_str());
    return 2;
  }
  std::string out;
  uint64_t failed = 0;
  uint64_t pairs = 0;
  uint64_t no_registry = 0;
  std::string diagnosis;
  auto list = check_registry(a, &diagnosis);
  if (!list) {
    const std::string who = "rank " + std::to_string(rank);
    out =
        who + " registry FAIL: " + list.status().to_string() + "\n" + who + " diagnosis: " + diagnosis + "\n";
    no_registry = 1;
  } else {
    // A file within one chunk, so that its data stays on the server checked.
    const uint64_t io_bytes = std::min(*io, list->info.chunk_size);
    if (rank == 0) std::fputs(header(a, nranks, io_bytes).c_str(), stdout);
    pairs = list->servers.size();
    failed = check_all(a, *list, io_bytes, rank, &out);
  }
  const std::string all = gather_text(out, rank, nranks);
  uint64_t mine[3] = {failed, pairs, no_registry};
  uint64_t sums[3] = {0, 0, 0};
  MPI_Reduce(mine, sums, 3, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    std::fputs(all.c_str(), stdout);
    print_summary(nranks, sums[0], sums[1], sums[2]);
  }
  failed += no_registry;
  return failed == 0 ? 0 : 1;
}

}  // namespace benchfs::doctor
