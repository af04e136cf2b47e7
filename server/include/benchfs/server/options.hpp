#pragma once
// Settings of one BenchFS server (benchfsd_mt's options, also used by the
// in-process server of benchfs_server_start).

#include <cstdint>
#include <functional>
#include <string>

#include "benchfs/net/poll.hpp"

namespace benchfs::server {

struct ServerOptions {
  std::string registry;               ///< directory holding server_list.txt (required)
  unsigned threads = 0;               ///< progress threads; 0 = cores in the cpuset - 1 (>= 1)
  std::string listen = "0.0.0.0:0";   ///< HOST:PORT of the UCX listener
  std::string advertise;              ///< address written to the list; empty = listen host
                                      ///< (or this host's address when listening on 0.0.0.0)
  uint64_t chunk_size = 1ull << 20;   ///< published for clients
  uint64_t memory_limit = 0;          ///< file data bytes held at most (0 = no limit): ENOSPC past it
  uint64_t buffer_pool = 1ull << 30;  ///< freed chunk buffers kept resident for reuse (bytes)
  uint64_t prefault = 0;              ///< chunk buffer bytes made resident at start (<= buffer_pool)
  /// Free chunk buffers kept resident ahead of demand by a background thread
  /// (<= buffer_pool; 0 = off); kAutoReserve = default_reserve().
  uint64_t reserve = kAutoReserve;
  static constexpr uint64_t kAutoReserve = ~0ULL;
  bool huge_pages = true;  ///< advise chunk buffers for transparent huge pages
  /// Clients registered at once before idle ones are evicted (soft: a
  /// server with more clients, all active, keeps them all and warns).
  /// benchfsd_mt lowers the default where the descriptor limit is too small
  /// for it (default_client_capacity).
  size_t client_capacity = kDefaultClientCapacity;
  /// Room for 16 nodes x 256 ranks on every server; a registered client
  /// costs the server ~5-7 KiB and ~2 descriptors over tcp (perf/connections.sh).
  static constexpr size_t kDefaultClientCapacity = 4096;
  /// A client counts as idle (evictable) after this long without a request
  /// and with none in flight.
  uint64_t client_idle_ms = 1000;
  size_t registry_shards = 16;  ///< ClientRegistry shards (rounded to a power of two)
  net::PollMode poll = net::PollMode::kAdaptive;
  uint64_t spin_us = 2000;       ///< adaptive: the longest a progress thread spins before sleeping
  bool pin = true;               ///< pin threads to the cores of the cpuset with hwloc
  bool debug_endpoints = false;  ///< log ucp_ep_print_info of every registered client
  /// Fault injection (tests), "OP:N": every Nth reply to OP on each
  /// progress thread is dropped and its connection closed. Empty: off.
  std::string drop_reply;
  std::string stats_file;              ///< write JSON statistics here at exit ("%r" = rank;
                                       ///< without it, a multi-rank job appends ".<rank>")
  uint64_t shutdown_timeout_ms = 500;  ///< bound on telling clients and flushing endpoints
                                       ///< (under 1 s: mpirun kills ranks 1 s after a signal)
  /// UCX thread modes of the listener's worker and of the progress workers.
  /// The listener's is multi by default. Single aborted in UCX 1.13 when
  /// connection requests were handed to other workers while its progress call
  /// ran; since the hand-off waits for that call to return, single runs clean
  /// too (README "Design notes"; test_connect_storm), but multi stays the
  /// default. Progress workers are touched by their own thread only, and
  /// single mode spares them a lock per progress call.
  bool listener_multi = true;
  bool progress_multi = false;
};

/// What the caller of Server::start supplies about the job. The server never
/// calls MPI itself: benchfsd_mt (or the IOR backend) maps these onto MPI.
struct Bootstrap {
  uint32_t rank = 0;
  uint32_t size = 1;
  /// Rank among the servers on this machine: spreads their progress threads
  /// over the cores when several servers share one.
  uint32_t local_rank = 0;
  /// Waits for every rank.
  std::function<void()> barrier = [] {};
  /// Rank 0's value of `v` lands in every rank's `v`.
  std::function<void(uint64_t* v, int count)> broadcast = [](uint64_t*, int) {};
};

/// Checks option values (EINVAL with a message naming the option).
Status validate(const ServerOptions& opts);

/// --drop-reply parsed: the op (a wire::Op value) and N.
struct DropReply {
  uint8_t op = 0;  ///< 0: off
  uint64_t every = 0;
};
Result<DropReply> parse_drop_reply(const std::string& text);

/// The reserve a server keeps when none is given: 1/64 of this machine's
/// memory, at most the buffer pool and half the memory limit (384 MiB on a
/// 24 GiB machine, the 1 GiB pool default on a 512 GiB node).
uint64_t default_reserve(const ServerOptions& opts);

}  // namespace benchfs::server
