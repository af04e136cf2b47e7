#pragma once
// Internals of the client engine shared by its translation units
// (engine.cpp: setup, RPCs, callbacks; connections.cpp: the connection set;
// batch.cpp: call_all's Batch): the types behind Client's private
// declarations, and what each of them waits with (poll_pending, the
// wait_until template), here so that it inlines into every caller as it did
// in one file.

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "benchfs/client/engine.hpp"
#include "benchfs/core/clock.hpp"

namespace benchfs::client {

inline constexpr uint64_t kMs = 1'000'000ULL;
inline constexpr int kMaxSleepMs = 50;

// The errno of a request UCX completed with `st`. UCX cancels a request of
// ours only when its endpoint closes (a send cannot be canceled alone in UCX
// 1.13), e.g. under a server's eviction: a lost connection, retried as one.
inline int request_errno(ucs_status_t st) {
  return st == UCS_ERR_CANCELED ? ECONNRESET : net::ucs_to_errno(st);
}

// Errors of a connection the server dropped (eviction, a lost endpoint, a
// canceled request): reconnecting and sending again is the cure. Not
// ESHUTDOWN (the server is stopping) nor ECONNREFUSED (nothing listens).
inline bool is_connection_error(int err) {
  return err == ENOTCONN || err == ECONNRESET || err == EPIPE || err == ECONNABORTED;
}

// A call or connection attempt that failed with err lost its connection:
// a connection error, or a timeout before the deadline (UCX's endpoint
// timeout; ours comes only at the deadline).
inline bool lost_connection(int err, uint64_t deadline_ns) {
  return is_connection_error(err) || (err == ETIMEDOUT && now_ns() < deadline_ns);
}

struct Client::SendBuffers {
  wire::Encoded hdr;
  std::vector<std::byte> var;  ///< variable fields of metadata ops
};

struct Client::Pending {
  uint64_t id = 0;
  Conn* conn = nullptr;
  wire::Op op{};
  bool done = false;
  int err = 0;  ///< positive errno for a local failure (the reply status is in reply)
  std::string err_msg;
  wire::Reply reply;
  void* recv_buf = nullptr;
  size_t recv_cap = 0;
  size_t recv_len = 0;
  net::Request send_req;
  net::Request recv_req;
  /// Header and variable fields: UCX reads them until the send completes,
  /// which may be after the call gave up (Client::abandon keeps them).
  std::unique_ptr<SendBuffers> bufs;
  [[nodiscard]] bool finished() const { return done && !send_req.has_request() && !recv_req.has_request(); }
  /// A finished request's outcome: its local failure, a reply whose data
  /// does not match its header (EPROTO), or ok (the reply is in `reply`).
  [[nodiscard]] Status outcome() const {
    if (err != 0) return Status(err, std::string(wire::op_name(op)) + ": " + err_msg);
    if (recv_len != 0 && reply.length != recv_len && (op == wire::Op::kPing || op == wire::Op::kReadChunk))
      return Status(EPROTO, "reply data length does not match its header");
    return Status();
  }
};

struct Client::Conn {
  Client* owner = nullptr;
  uint32_t index = 0;
  net::Endpoint ep;
  enum class State { kDown, kRegistering, kUp } state = State::kDown;
  bool needs_close = false;
  bool ever_connected = false;
  uint64_t session = 0;
  int thread = -1;
  std::shared_ptr<Pending> reg;  ///< registration in flight
};

// Inline: call_all polls every slot of its window with it.
inline bool Client::poll_pending(Pending& p) {
  if (p.send_req.has_request() && !p.send_req.in_progress()) {
    const ucs_status_t st = p.send_req.status();
    p.send_req.reset();
    if (st != UCS_OK && !p.done) {
      p.done = true;
      p.err = request_errno(st);
      p.err_msg = ucs_status_string(st);
      pending_.remove(p.id);
    }
  }
  return p.finished();
}

template <class Done>
Status Client::wait_until(std::unique_lock<std::mutex>& lock, Done&& done, uint64_t deadline_ns,
                          uint64_t max_spin_ns) {
  // Passes between clock reads and lock hand-overs: reading the clock costs
  // as much as a pass, and the reply is usually a few passes away.
  constexpr unsigned kPassesPerCheck = 16;
  // Rounds (of kPassesPerCheck passes) between preemption checks: getrusage
  // costs ~0.3 us.
  constexpr unsigned kRoundsPerPreemptCheck = 16;
  uint64_t idle_since = 0;
  unsigned idle_rounds = 0;
  for (;;) {
    unsigned events = 0;
    for (unsigned i = 0; i < kPassesPerCheck; ++i) {
      events += progress_until_idle();
      if (done()) return Status();
    }
    const uint64_t now = now_ns();
    if (now >= deadline_ns)
      return Status(ETIMEDOUT, "no reply within " + std::to_string(opts_.rpc_timeout_ms) + " ms");
    if (events > 0 || idle_since == 0) {
      idle_since = now;
      idle_rounds = 0;
    }
    // A reply is due: spin for it (SpinPolicy: within the budget, unless
    // the CPUs are oversubscribed or somebody else keeps needing this core).
    if (policy_.keep_spinning(idle_since, now, ++idle_rounds % kRoundsPerPreemptCheck == 0, max_spin_ns)) {
      // Let other threads of this process in between rounds, and offer the
      // CPU to a waiting thread (the server, on a small machine).
      const bool yield = policy_.want_yield();  // decided under the lock: the policy is guarded by it
      lock.unlock();
      if (yield) sched_yield();
      lock.lock();
      continue;
    }
    bool woken = false;
    if (sleep_on_worker(
            lock, static_cast<int>(std::min<uint64_t>((deadline_ns - now) / kMs + 1, kMaxSleepMs)), &woken)) {
      policy_.sleeping();
      policy_.slept(now_ns() - now, woken);
      idle_since = 0;
    }
  }
}

}  // namespace benchfs::client
