#pragma once
// RAII owners of UCX handles: Context, Worker, Listener, ConnRequest,
// Endpoint. One owner class per handle; copy deleted, move via std::exchange,
// destructors never throw. A Worker (and every Endpoint on it) is touched only
// by the thread that owns it, except Worker::signal().

#include <ucp/api/ucp.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

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
  /// Starts a flushing close and gives up the handle. Returns the close
  /// request to progress (null when it finished at once or failed); the
  /// caller frees it with ucp_request_free once done or abandoned. (UCX
  /// refuses a forced close unless the endpoint uses error mode PEER.)
  ucs_status_ptr_t close_nb();
  /// ucp_ep_print_info into a string.
  [[nodiscard]] std::string info() const;

 private:
  ucp_ep_h ep_ = nullptr;
};

}  // namespace benchfs::net
