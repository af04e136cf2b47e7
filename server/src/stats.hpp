#pragma once
// Per-thread server statistics. Each progress thread writes only its own
// ThreadStats; they are merged after the threads are joined. The few values
// other threads read while running are atomics in ThreadCounters, on their
// own cache line.

#include <array>
#include <atomic>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "benchfs/core/histogram.hpp"
#include "benchfs/protocol/wire.hpp"

namespace benchfs::server {

struct alignas(64) ThreadCounters {
  std::atomic<uint32_t> live{0};      ///< connections owned now (incl. hand-offs queued)
  std::atomic<uint64_t> accepted{0};  ///< endpoints created over the run
};

struct OpStats {
  uint64_t count = 0;
  uint64_t errors = 0;  ///< replies with a non-zero status
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  Histogram latency_ticks;  ///< request arrival -> reply posted, in ticks()
};

struct ThreadStats {
  std::array<OpStats, wire::kOpSlots> ops{};
  uint64_t decode_errors = 0;      ///< malformed requests (answered with an error)
  uint64_t unauthorized = 0;       ///< requests without a valid session
  uint64_t auth_failures = 0;      ///< REGISTER_CLIENT with a wrong secret
  uint64_t no_reply_ep = 0;        ///< requests sent without a reply endpoint (dropped)
  uint64_t after_close = 0;        ///< requests on a connection we had closed (answered ENOTCONN)
  uint64_t ep_errors = 0;          ///< endpoint error callbacks (peer gone)
  uint64_t closed = 0;             ///< endpoints we closed
  uint64_t notifications = 0;      ///< CONNECTION_CLOSE sent
  uint64_t send_errors = 0;        ///< replies UCX failed to send
  uint64_t rejected_handoffs = 0;  ///< conn requests that failed to become endpoints
  uint64_t writes_rndv = 0;        ///< WRITE_CHUNK received by rendezvous straight into the chunk
  uint64_t writes_eager = 0;       ///< WRITE_CHUNK with eager data (copied from UCX's buffer)
  uint64_t bytes_copied = 0;       ///< payload bytes memcpy'd by the server (eager writes only)
  uint64_t reads_zero_copy = 0;    ///< READ_CHUNK replies sent from the chunk buffer
  uint64_t dropped_replies = 0;    ///< --drop-reply: replies not sent (fault injection)
  uint64_t once_repeats = 0;       ///< kFlagOnce requests answered with their first reply (not run again)
  uint64_t reply_ep_requests = 0;  ///< requests of reply_ep-mode clients (answered on UCX's reply endpoint)
  uint64_t idle_sleeps = 0;
  uint64_t idle_wakeups = 0;  ///< sleeps ended by an event (not by their timeout)
  uint64_t preempted_spins = 0;
  uint64_t congested_sleeps = 0;
  uint64_t yields = 0;  ///< sched_yield calls while spinning (threads waiting for a CPU)

  void merge(const ThreadStats& o);
};

/// Per-op JSON; latencies converted to microseconds with `ticks_per_ns`.
nlohmann::json ops_json(const ThreadStats& s, double ticks_per_ns);

}  // namespace benchfs::server
