#pragma once
// RAII owners of UCX handles: Context, Worker, Listener, ConnRequest,
// Endpoint, Request. One owner class per handle; copy deleted, move via
// std::exchange, destructors never throw. A Worker (and every Endpoint and
// Request on it) is touched only by the thread that owns it, except
// Worker::signal(). The UCX operations BenchFS uses are here too: active
// message sends (Endpoint::am_send, am_send on a raw handle), receives of
// rendezvous data (Worker::am_recv_data), endpoint closes (Endpoint::close_nb)
// and the one place closes in flight wait for UCX (CloseReaper).

#include <ucp/api/ucp.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "benchfs/core/status.hpp"
#include "benchfs/net/sockaddr.hpp"

namespace benchfs::net {

/// Status from a UCX status code (mapped onto the closest errno).
Status ucs_to_status(ucs_status_t s, std::string_view what);
int ucs_to_errno(ucs_status_t s);

/// Servers call this before their first UCX context: UCX (error mode NONE)
/// logs an ERROR for every flush that fails, and closing the endpoint of a
/// client that has just exited is one; unless UCX_LOG_LEVEL is set, UCX
/// then logs fatal errors only (process-wide; failures still reach us as
/// statuses).
void quiet_flush_errors();

class Worker;

/// The outcome of a nonblocking UCX call (ucs_status_ptr_t): empty (the
/// operation finished inside the call), an error (failed inside the call), or
/// a request, freed with ucp_request_free on destruction, reset() or move
/// assignment. A request that has a completion callback belongs to UCX until
/// the callback, which frees it: release() it after the call.
class Request {
 public:
  Request() = default;
  /// Adopts what a *_nbx call returned (or the request a callback was handed).
  explicit Request(ucs_status_ptr_t r) : r_(r) {}
  ~Request() { reset(); }
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  Request(Request&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  Request& operator=(Request&& o) noexcept {
    if (this != &o) {
      reset();
      r_ = std::exchange(o.r_, nullptr);
    }
    return *this;
  }

  /// Neither a request nor an error: finished inside the call (or freed,
  /// released, moved from).
  [[nodiscard]] bool empty() const { return r_ == nullptr; }
  /// The call failed; status() says how.
  [[nodiscard]] bool failed() const { return UCS_PTR_IS_ERR(r_); }
  /// A request is held, completed or not.
  [[nodiscard]] bool has_request() const { return UCS_PTR_IS_PTR(r_); }
  /// A request is held that UCX has not completed.
  [[nodiscard]] bool in_progress() const {
    return UCS_PTR_IS_PTR(r_) && ucp_request_check_status(r_) == UCS_INPROGRESS;
  }
  /// UCS_OK when empty, the error when failed, else the request's status
  /// (UCS_INPROGRESS until it completes).
  [[nodiscard]] ucs_status_t status() const {
    return UCS_PTR_IS_PTR(r_) ? ucp_request_check_status(r_) : UCS_PTR_STATUS(r_);
  }
  /// The request (or status pointer) held.
  [[nodiscard]] ucs_status_ptr_t get() const { return r_; }
  /// Asks UCX to cancel the request (it completes with UCS_ERR_CANCELED; it
  /// stays held until freed).
  void cancel(const Worker& worker);
  /// Gives the request up without freeing it (its callback frees it).
  ucs_status_ptr_t release() { return std::exchange(r_, nullptr); }
  /// Frees the request now, whatever its state: UCX goes on with the
  /// operation but calls no callback of it any more.
  void reset() {
    if (UCS_PTR_IS_PTR(r_)) ucp_request_free(r_);
    r_ = nullptr;
  }

 private:
  ucs_status_ptr_t r_ = nullptr;
};

/// ucp_am_send_nbx of active message `id` (header + data, UCP_AM_SEND_FLAG_*
/// `flags`) on `ep`, which may be a handle no Endpoint owns (the reply
/// endpoint UCX hands an AM callback). With `done`, UCX calls done(request,
/// status, user_data) on completion unless the send finished or failed
/// inside the call, and the callback frees the request (release() the
/// result); without, the caller holds it. Parameter fields are named only
/// when used, as a hand-built call would.
[[nodiscard]] inline Request am_send(ucp_ep_h ep, unsigned id, const void* header, size_t header_len,
                                     const void* data, size_t len, uint32_t flags,
                                     ucp_send_nbx_callback_t done = nullptr, void* user_data = nullptr) {
  ucp_request_param_t p{};
  if (flags != 0) {
    p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    p.flags = flags;
  }
  if (done != nullptr) {
    p.op_attr_mask |= UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    p.cb.send = done;
    p.user_data = user_data;
  }
  return Request(ucp_am_send_nbx(ep, id, header, header_len, data, len, &p));
}

class Context {
 public:
  /// AM + WAKEUP features, shared by workers of several threads. Throws Error.
  Context();
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  Context(Context&& o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)) {}
  Context& operator=(Context&& o) noexcept;
  [[nodiscard]] ucp_context_h get() const { return ctx_; }

 private:
  ucp_context_h ctx_ = nullptr;
};

class Worker {
 public:
  /// Throws Error. `mode` is the UCX thread mode of this worker.
  Worker(const Context& ctx, ucs_thread_mode_t mode, std::string_view name);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  Worker(Worker&& o) noexcept : w_(std::exchange(o.w_, nullptr)), efd_(std::exchange(o.efd_, -1)) {}
  Worker& operator=(Worker&& o) noexcept;

  [[nodiscard]] ucp_worker_h get() const { return w_; }
  unsigned progress() { return ucp_worker_progress(w_); }
  /// Arms wakeup. True when armed (safe to sleep on event_fd()), false when
  /// events are pending and the caller must progress again.
  bool arm();
  /// Wakes the owning thread from any thread.
  void signal();
  [[nodiscard]] int event_fd() const { return efd_; }
  [[nodiscard]] size_t max_am_header() const;
  /// Installs a receive callback for active-message id `id`.
  void set_am_handler(unsigned id, ucp_am_recv_callback_t cb, void* arg, uint32_t flags = 0);
  /// This worker's UCX address (what Endpoint::connect_to_worker takes),
  /// as bytes. Throws Error.
  [[nodiscard]] std::string address() const;
  /// ucp_am_recv_data_nbx: receives the `len` bytes of rendezvous data
  /// descriptor `desc` (an AM callback's data) into `dst`. With `done`, UCX
  /// calls done(request, status, length, user_data) on completion unless the
  /// receive finished or failed inside the call, and the callback frees the
  /// request; the caller may still cancel it until then.
  [[nodiscard]] Request am_recv_data(void* desc, void* dst, size_t len,
                                     ucp_am_recv_data_nbx_callback_t done = nullptr,
                                     void* user_data = nullptr) {
    ucp_request_param_t p{};
    if (done != nullptr) {
      p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
      p.cb.recv_am = done;
      p.user_data = user_data;
    }
    return Request(ucp_am_recv_data_nbx(w_, desc, dst, len, &p));
  }

 private:
  ucp_worker_h w_ = nullptr;
  int efd_ = -1;
};

/// A connection request handed from the listener to the thread that will
/// own the endpoint. Rejected on destruction unless consumed.
class ConnRequest {
 public:
  ConnRequest() = default;
  ConnRequest(ucp_listener_h listener, ucp_conn_request_h req) : listener_(listener), req_(req) {}
  ~ConnRequest();
  ConnRequest(const ConnRequest&) = delete;
  ConnRequest& operator=(const ConnRequest&) = delete;
  ConnRequest(ConnRequest&& o) noexcept
      : listener_(std::exchange(o.listener_, nullptr)), req_(std::exchange(o.req_, nullptr)) {}
  ConnRequest& operator=(ConnRequest&& o) noexcept;

  [[nodiscard]] ucp_conn_request_h get() const { return req_; }
  explicit operator bool() const { return req_ != nullptr; }
  /// The client's socket address ("?" if UCX cannot tell).
  [[nodiscard]] std::string peer_address() const;
  /// Gives up ownership (the caller created an endpoint from it).
  ucp_conn_request_h release() { return std::exchange(req_, nullptr); }
  /// Rejects the request now.
  void reject();

 private:
  ucp_listener_h listener_ = nullptr;
  ucp_conn_request_h req_ = nullptr;
};

class Listener {
 public:
  /// Listens on `addr` (port 0 = any). Throws Error naming the address.
  Listener(Worker& worker, const SockAddr& addr, ucp_listener_conn_callback_t cb, void* arg);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  Listener(Listener&& o) noexcept : l_(std::exchange(o.l_, nullptr)), bound_(o.bound_) {}
  Listener& operator=(Listener&& o) noexcept;

  [[nodiscard]] ucp_listener_h get() const { return l_; }
  /// The address actually bound (with the chosen port).
  [[nodiscard]] const SockAddr& bound() const { return bound_; }

 private:
  ucp_listener_h l_ = nullptr;
  SockAddr bound_;
};

class Endpoint {
 public:
  Endpoint() = default;
  /// Creates the server side of a connection on `worker` (the caller's own).
  static Result<Endpoint> accept(Worker& worker, ConnRequest&& req, ucp_err_handler_cb_t on_error, void* arg);
  /// Connects to a listener by socket address.
  static Result<Endpoint> connect(Worker& worker, const SockAddr& addr, ucp_err_handler_cb_t on_error,
                                  void* arg);
  /// Connects to a worker by its UCX address (Worker::address()): no
  /// listener and no connection request on the other side, whose worker
  /// answers on the reply endpoint UCX hands its AM callbacks.
  static Result<Endpoint> connect_to_worker(Worker& worker, std::string_view address,
                                            ucp_err_handler_cb_t on_error, void* arg);
  /// Adopts a raw handle.
  explicit Endpoint(ucp_ep_h ep) : ep_(ep) {}
  /// Starts a flushing close if still open; never blocks.
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;
  Endpoint(Endpoint&& o) noexcept : ep_(std::exchange(o.ep_, nullptr)) {}
  Endpoint& operator=(Endpoint&& o) noexcept;

  [[nodiscard]] ucp_ep_h get() const { return ep_; }
  explicit operator bool() const { return ep_ != nullptr; }
  /// net::am_send on this endpoint (which must be open).
  [[nodiscard]] Request am_send(unsigned id, const void* header, size_t header_len, const void* data,
                                size_t len, uint32_t flags, ucp_send_nbx_callback_t done = nullptr,
                                void* user_data = nullptr) const {
    return net::am_send(ep_, id, header, header_len, data, len, flags, done, user_data);
  }
  /// Starts a flushing close and gives up the handle. Returns the close
  /// request to progress (empty when it finished at once or failed), freed
  /// once done or abandoned (a CloseReaper does both). (UCX refuses a forced
  /// close unless the endpoint uses error mode PEER.)
  [[nodiscard]] Request close_nb();
  /// ucp_ep_print_info into a string.
  [[nodiscard]] std::string info() const;

 private:
  ucp_ep_h ep_ = nullptr;
};

/// Endpoint closes in flight, until UCX finishes them: the client's and each
/// progress thread's one list of them. Each close may carry an id (the
/// caller's name for its connection) that reap() reports when it is done.
/// Used by the thread that owns the worker only.
class CloseReaper {
 public:
  /// Starts ep's close (Endpoint::close_nb) and keeps its request. False
  /// when there is none to keep (the close finished at once, or failed).
  bool close(Endpoint& ep, uint64_t id = 0) { return add(ep.close_nb(), id); }
  /// Keeps close request `req`; false (nothing kept) when it holds none.
  bool add(Request&& req, uint64_t id = 0) {
    if (!req.has_request()) return false;
    closes_.push_back(Close{std::move(req), id});
    return true;
  }
  /// Frees the closes UCX has finished, calling closed(id) after freeing
  /// each. Returns how many.
  template <class F>
  size_t reap(F&& closed) {
    size_t n = 0;
    for (size_t i = 0; i < closes_.size();) {
      if (closes_[i].req.in_progress()) {
        ++i;
        continue;
      }
      const uint64_t id = closes_[i].id;
      closes_[i].req.reset();
      closes_[i] = std::move(closes_.back());
      closes_.pop_back();
      ++n;
      closed(id);
    }
    return n;
  }
  size_t reap() {
    return reap([](uint64_t) {});
  }
  /// Frees every close still held, finished or not (UCX goes on with the
  /// unfinished ones, unwatched). Returns how many.
  size_t abandon_all() {
    const size_t n = closes_.size();
    closes_.clear();
    return n;
  }
  [[nodiscard]] size_t size() const { return closes_.size(); }
  [[nodiscard]] bool empty() const { return closes_.empty(); }

 private:
  struct Close {
    Request req;
    uint64_t id = 0;
  };
  std::vector<Close> closes_;
};

inline void Request::cancel(const Worker& worker) {
  if (UCS_PTR_IS_PTR(r_)) ucp_request_cancel(worker.get(), r_);
}

}  // namespace benchfs::net
