// Client::call_all: a batch of calls, at most io_window of them in flight.

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "benchfs/client/engine.hpp"
#include "benchfs/core/clock.hpp"
#include "engine_internal.hpp"

namespace benchfs::client {

/// One call_all: up to `window` of its calls in flight at a time, in slots
/// the pending table points into (so the slots never move), and the calls
/// whose connection was lost, to be recovered one by one at the end.
/// Runs under the client's lock.
class Client::Batch {
 public:
  Batch(Client& cl, std::unique_lock<std::mutex>& lock, Call* calls, size_t n, uint64_t deadline)
      : cl_(cl),
        lock_(lock),
        calls_(calls),
        n_(n),
        deadline_(deadline),
        window_(std::max<size_t>(1, std::min(cl.opts_.io_window, n))),
        slots_(window_),
        slot_call_(window_, SIZE_MAX),
        may_resend_all_(cl.once_supported()) {
    for (size_t i = window_; i-- > 0;) free_slots_.push_back(i);
  }

  /// Sends and completes every call, or fails it (time out, lost connection).
  void run() {
    while (next_ < n_ || active_ > 0) {
      send_more();
      if (active_ == 0) break;
      size_t finished = SIZE_MAX;
      Status st = cl_.wait_until(
          lock_, [&] { return (finished = completed_slot()) != SIZE_MAX; }, deadline_);
      if (!st) {
        time_out(st);
        break;
      }
      finish(finished);
      // Collect everything else that completed meanwhile.
      for (size_t si = 0; si < window_; ++si)
        if (slot_call_[si] != SIZE_MAX && cl_.poll_pending(slots_[si])) finish(si);
    }
  }

  /// Calls whose connection was lost: each recovers on its own (reconnect,
  /// send again with the same request id) within a deadline of its own.
  void recover() {
    for (const Retry& rt : retry_) {
      Call& call = calls_[rt.call];
      Conn& c = *cl_.conns_[call.server];
      const uint64_t retry_deadline = now_ns() + cl_.opts_.rpc_timeout_ms * kMs;
      size_t got = 0;
      auto r = cl_.call_recovering(lock_, c, call.req, call.send_data, call.send_len, call.recv_buf,
                                   call.recv_cap, call.idempotent, retry_deadline, &got, rt.request_id,
                                   /*attempt=*/1);
      if (r) {
        call.status = Status();
        call.reply = *r;
        call.recv_len = got;
      } else {
        call.status = r.status();
      }
    }
  }

 private:
  struct Retry {
    size_t call;
    uint64_t request_id;  ///< of the attempt that was lost (0: not sent)
  };

  [[nodiscard]] bool resendable(const Call& call) const { return call.idempotent || may_resend_all_; }

  /// Posts the next calls while slots are free.
  void send_more() {
    while (next_ < n_ && !free_slots_.empty()) {
      Call& call = calls_[next_];
      const size_t ci = next_++;
      if (!call.status) continue;
      Conn& c = *cl_.conns_[call.server];
      if (auto st = cl_.ensure_connected(lock_, c, deadline_); !st) {
        call.status = st;
        // Nothing sent: the recovering path may connect again.
        if (is_connection_error(st.err())) retry_.push_back(Retry{ci, 0});
        continue;
      }
      const size_t si = free_slots_.back();
      Pending& p = slots_[si];
      p = Pending{};
      p.recv_buf = call.recv_buf;
      p.recv_cap = call.recv_cap;
      if (auto st = cl_.post(c, p, call.req, call.send_data, call.send_len, 0, !call.idempotent); !st) {
        cl_.mark_broken(c, st.err(), "send failed");
        call.status = st;
        if (resendable(call) && is_connection_error(st.err())) retry_.push_back(Retry{ci, p.id});
        continue;
      }
      free_slots_.pop_back();
      slot_call_[si] = ci;
      ++active_;
    }
  }

  /// A slot whose request has completed, or SIZE_MAX.
  size_t completed_slot() {
    for (size_t si = 0; si < window_; ++si)
      if (slot_call_[si] != SIZE_MAX && cl_.poll_pending(slots_[si])) return si;
    return SIZE_MAX;
  }

  /// The completed request of slot si into its call; the slot is free again.
  void finish(size_t si) {
    Pending& p = slots_[si];
    Call& call = calls_[slot_call_[si]];
    call.status = p.outcome();
    if (call.status) {
      call.reply = p.reply;
      call.recv_len = p.recv_len;
    }
    const bool lost = (!call.status && is_connection_error(call.status.err())) ||
                      (call.status && call.reply.status == -ENOTCONN);
    if (lost) {
      cl_.mark_broken(*p.conn, ENOTCONN, "connection closed by the server",
                      /*server_closes=*/call.status.is_ok());
      if (resendable(call)) retry_.push_back(Retry{slot_call_[si], p.id});
    }
    p = Pending{};
    slot_call_[si] = SIZE_MAX;
    free_slots_.push_back(si);
    --active_;
  }

  /// Out of time: gives up on everything in flight and everything not sent.
  void time_out(const Status& st) {
    ++cl_.stats_.timeouts;
    for (size_t si = 0; si < window_; ++si) {
      if (slot_call_[si] == SIZE_MAX) continue;
      Pending& p = slots_[si];
      cl_.abandon(lock_, p);
      cl_.mark_broken(*p.conn, ETIMEDOUT, "request timed out");
      calls_[slot_call_[si]].status =
          Status(ETIMEDOUT, std::string(wire::op_name(p.op)) + " to node_" + std::to_string(p.conn->index) +
                                ": " + st.message());
      slot_call_[si] = SIZE_MAX;
      --active_;
    }
    for (; next_ < n_; ++next_) calls_[next_].status = Status(ETIMEDOUT, "batch ran out of time");
  }

  Client& cl_;
  std::unique_lock<std::mutex>& lock_;
  Call* const calls_;
  const size_t n_;
  const uint64_t deadline_;
  const size_t window_;
  std::vector<Pending> slots_;     // never resized: the pending table points into it
  std::vector<size_t> slot_call_;  // the call in each slot, SIZE_MAX: free
  std::vector<size_t> free_slots_;
  std::vector<Retry> retry_;
  const bool may_resend_all_;
  size_t next_ = 0;    // first call not yet started
  size_t active_ = 0;  // slots in flight
};

void Client::call_all(Call* calls, size_t n) {
  if (n == 0) return;
  for (size_t i = 0; i < n; ++i) {
    calls[i].status = calls[i].server < conns_.size()
                          ? Status()
                          : Status(EINVAL, "no server " + std::to_string(calls[i].server));
  }
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t deadline = now_ns() + opts_.rpc_timeout_ms * kMs;
  // Connect every server involved at once (one connect delay, not n).
  for (size_t i = 0; i < n; ++i) {
    Conn& c = *conns_[calls[i].server % conns_.size()];
    if (calls[i].status && c.state == Conn::State::kDown && !is_retiring(c)) start_connect(c);
  }
  Batch batch(*this, lock, calls, n, deadline);
  batch.run();
  batch.recover();
}

}  // namespace benchfs::client
