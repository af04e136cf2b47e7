#include "benchfs/net/ucx.hpp"

#include <ucs/config/global_opts.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace benchfs::net {

int ucs_to_errno(ucs_status_t s) {
  switch (s) {
    case UCS_OK:
      return 0;
    case UCS_ERR_NO_MEMORY:
      return ENOMEM;
    case UCS_ERR_INVALID_PARAM:
      return EINVAL;
    case UCS_ERR_UNREACHABLE:
      return EHOSTUNREACH;
    case UCS_ERR_INVALID_ADDR:
      return EADDRNOTAVAIL;
    case UCS_ERR_BUSY:
      return EBUSY;
    case UCS_ERR_TIMED_OUT:
    case UCS_ERR_ENDPOINT_TIMEOUT:
      return ETIMEDOUT;
    case UCS_ERR_CANCELED:
      return ECANCELED;
    case UCS_ERR_MESSAGE_TRUNCATED:
      return EMSGSIZE;
    case UCS_ERR_NOT_CONNECTED:
      return ENOTCONN;
    case UCS_ERR_CONNECTION_RESET:
      return ECONNRESET;
    case UCS_ERR_REJECTED:
      return ECONNREFUSED;
    case UCS_ERR_ALREADY_EXISTS:
      return EEXIST;
    case UCS_ERR_NO_ELEM:
      return ENOENT;
    case UCS_ERR_UNSUPPORTED:
      return ENOTSUP;
    case UCS_ERR_EXCEEDS_LIMIT:
      return E2BIG;
    default:
      return EIO;
  }
}

Status ucs_to_status(ucs_status_t s, std::string_view what) {
  if (s == UCS_OK) return Status();
  return Status(ucs_to_errno(s), std::string(what) + ": " + ucs_status_string(s));
}

// ------------------------------------------------------------------ Context

// With error mode NONE (see Endpoint::accept), UCX 1.13 logs every failed
// flush at ERROR level, and closing the endpoint of a peer that has just
// gone is such a flush: each client exit printed three "error during flush:
// Endpoint timeout" lines on its servers, and IOR's output filled with them.
// Failures reach us as statuses anyway.
void quiet_flush_errors() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("UCX_LOG_LEVEL") == nullptr)
      ucs_global_opts.log_component.log_level = UCS_LOG_LEVEL_FATAL;
  });
}

Context::Context() {
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED | UCP_PARAM_FIELD_NAME;
  params.features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
  params.mt_workers_shared = 1;
  params.name = "benchfs";
  ucp_config_t* config = nullptr;
  ucs_status_t s = ucp_config_read(nullptr, nullptr, &config);
  if (s != UCS_OK) throw Error(ucs_to_status(s, "ucp_config_read"));
  // With error mode NONE, UCX 1.13 names endpoints on the wire by their
  // addresses: a message that arrives after its endpoint was destroyed (a
  // client evicted mid-request, a peer gone) would be dispatched to freed or
  // reused memory. Indirect ids make such a message a lookup miss, dropped.
  if (std::getenv("UCX_PROTO_INDIRECT_ID") == nullptr) {
    s = ucp_config_modify(config, "PROTO_INDIRECT_ID", "on");
    if (s != UCS_OK) {
      ucp_config_release(config);
      throw Error(ucs_to_status(s, "ucp_config_modify(PROTO_INDIRECT_ID)"));
    }
  }
  s = ucp_init(&params, config, &ctx_);
  ucp_config_release(config);
  if (s != UCS_OK) throw Error(ucs_to_status(s, "ucp_init"));
}

Context::~Context() {
  if (ctx_ != nullptr) ucp_cleanup(ctx_);
}

Context& Context::operator=(Context&& o) noexcept {
  if (this != &o) {
    if (ctx_ != nullptr) ucp_cleanup(ctx_);
    ctx_ = std::exchange(o.ctx_, nullptr);
  }
  return *this;
}

// ------------------------------------------------------------------- Worker

Worker::Worker(const Context& ctx, ucs_thread_mode_t mode, std::string_view name) {
  ucp_worker_params_t params{};
  std::string n(name);
  params.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE | UCP_WORKER_PARAM_FIELD_NAME;
  params.thread_mode = mode;
  params.name = n.c_str();
  ucs_status_t s = ucp_worker_create(ctx.get(), &params, &w_);
  if (s != UCS_OK) throw Error(ucs_to_status(s, "ucp_worker_create"));
  s = ucp_worker_get_efd(w_, &efd_);
  if (s != UCS_OK) {
    ucp_worker_destroy(w_);
    w_ = nullptr;
    throw Error(ucs_to_status(s, "ucp_worker_get_efd"));
  }
}

Worker::~Worker() {
  if (w_ != nullptr) ucp_worker_destroy(w_);
}

Worker& Worker::operator=(Worker&& o) noexcept {
  if (this != &o) {
    if (w_ != nullptr) ucp_worker_destroy(w_);
    w_ = std::exchange(o.w_, nullptr);
    efd_ = std::exchange(o.efd_, -1);
  }
  return *this;
}

bool Worker::arm() { return ucp_worker_arm(w_) == UCS_OK; }

void Worker::signal() { (void)ucp_worker_signal(w_); }

size_t Worker::max_am_header() const {
  ucp_worker_attr_t attr{};
  attr.field_mask = UCP_WORKER_ATTR_FIELD_MAX_AM_HEADER;
  if (ucp_worker_query(w_, &attr) != UCS_OK) return 0;
  return attr.max_am_header;
}

void Worker::set_am_handler(unsigned id, ucp_am_recv_callback_t cb, void* arg, uint32_t flags) {
  ucp_am_handler_param_t p{};
  p.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                 UCP_AM_HANDLER_PARAM_FIELD_ARG | UCP_AM_HANDLER_PARAM_FIELD_FLAGS;
  p.id = id;
  p.cb = cb;
  p.arg = arg;
  p.flags = flags;
  ucs_status_t s = ucp_worker_set_am_recv_handler(w_, &p);
  if (s != UCS_OK) throw Error(ucs_to_status(s, "ucp_worker_set_am_recv_handler"));
}

std::string Worker::address() const {
  ucp_address_t* addr = nullptr;
  size_t len = 0;
  ucs_status_t s = ucp_worker_get_address(w_, &addr, &len);
  if (s != UCS_OK) throw Error(ucs_to_status(s, "ucp_worker_get_address"));
  std::string out(reinterpret_cast<const char*>(addr), len);
  ucp_worker_release_address(w_, addr);
  return out;
}

// -------------------------------------------------------------- ConnRequest

ConnRequest::~ConnRequest() { reject(); }

ConnRequest& ConnRequest::operator=(ConnRequest&& o) noexcept {
  if (this != &o) {
    reject();
    listener_ = std::exchange(o.listener_, nullptr);
    req_ = std::exchange(o.req_, nullptr);
  }
  return *this;
}

void ConnRequest::reject() {
  if (req_ != nullptr && listener_ != nullptr) (void)ucp_listener_reject(listener_, req_);
  req_ = nullptr;
}

std::string ConnRequest::peer_address() const {
  if (req_ == nullptr) return "?";
  ucp_conn_request_attr_t attr{};
  attr.field_mask = UCP_CONN_REQUEST_ATTR_FIELD_CLIENT_ADDR;
  if (ucp_conn_request_query(req_, &attr) != UCS_OK) return "?";
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&attr.client_address)).to_string();
}

// ----------------------------------------------------------------- Listener

Listener::Listener(Worker& worker, const SockAddr& addr, ucp_listener_conn_callback_t cb, void* arg) {
  ucp_listener_params_t p{};
  p.field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER;
  p.sockaddr.addr = addr.get();
  p.sockaddr.addrlen = addr.len;
  p.conn_handler.cb = cb;
  p.conn_handler.arg = arg;
  ucs_status_t s = ucp_listener_create(worker.get(), &p, &l_);
  if (s != UCS_OK) throw Error(ucs_to_status(s, "cannot listen on " + addr.to_string()));
  ucp_listener_attr_t attr{};
  attr.field_mask = UCP_LISTENER_ATTR_FIELD_SOCKADDR;
  s = ucp_listener_query(l_, &attr);
  if (s != UCS_OK) {
    ucp_listener_destroy(l_);
    l_ = nullptr;
    throw Error(ucs_to_status(s, "ucp_listener_query"));
  }
  bound_ = from_sockaddr(reinterpret_cast<const sockaddr*>(&attr.sockaddr));
}

Listener::~Listener() {
  if (l_ != nullptr) ucp_listener_destroy(l_);
}

Listener& Listener::operator=(Listener&& o) noexcept {
  if (this != &o) {
    if (l_ != nullptr) ucp_listener_destroy(l_);
    l_ = std::exchange(o.l_, nullptr);
    bound_ = o.bound_;
  }
  return *this;
}

// ----------------------------------------------------------------- Endpoint

Result<Endpoint> Endpoint::accept(Worker& worker, ConnRequest&& req, ucp_err_handler_cb_t on_error,
                                  void* arg) {
  ucp_ep_params_t p{};
  p.field_mask =
      UCP_EP_PARAM_FIELD_CONN_REQUEST | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
  p.conn_request = req.get();
  // Mode NONE keeps the shared-memory lanes (PEER restricts to tcp: ~40x
  // slower small messages here); dead peers are found by the connection
  // manager's disconnect events and our own timeouts.
  p.err_mode = UCP_ERR_HANDLING_MODE_NONE;
  p.err_handler.cb = on_error;
  p.err_handler.arg = arg;
  ucp_ep_h ep = nullptr;
  ucs_status_t s = ucp_ep_create(worker.get(), &p, &ep);
  // UCX owns the conn request from here on, whatever the outcome.
  req.release();
  if (s != UCS_OK) return ucs_to_status(s, "ucp_ep_create (accept)");
  return Endpoint(ep);
}

Result<Endpoint> Endpoint::connect(Worker& worker, const SockAddr& addr, ucp_err_handler_cb_t on_error,
                                   void* arg) {
  ucp_ep_params_t p{};
  p.field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR |
                 UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
  p.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER;
  p.sockaddr.addr = addr.get();
  p.sockaddr.addrlen = addr.len;
  p.err_mode = UCP_ERR_HANDLING_MODE_NONE;
  p.err_handler.cb = on_error;
  p.err_handler.arg = arg;
  ucp_ep_h ep = nullptr;
  ucs_status_t s = ucp_ep_create(worker.get(), &p, &ep);
  if (s != UCS_OK) return ucs_to_status(s, "connect to " + addr.to_string());
  return Endpoint(ep);
}

Result<Endpoint> Endpoint::connect_to_worker(Worker& worker, std::string_view address,
                                             ucp_err_handler_cb_t on_error, void* arg) {
  if (address.empty()) return Status(EINVAL, "empty worker address");
  ucp_ep_params_t p{};
  p.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                 UCP_EP_PARAM_FIELD_ERR_HANDLER;
  p.address = reinterpret_cast<const ucp_address_t*>(address.data());
  p.err_mode = UCP_ERR_HANDLING_MODE_NONE;  // as accept(): keeps the shared-memory lanes
  p.err_handler.cb = on_error;
  p.err_handler.arg = arg;
  ucp_ep_h ep = nullptr;
  ucs_status_t s = ucp_ep_create(worker.get(), &p, &ep);
  if (s != UCS_OK) return ucs_to_status(s, "connect to a worker address");
  return Endpoint(ep);
}

Endpoint::~Endpoint() { close_nb().reset(); }

Endpoint& Endpoint::operator=(Endpoint&& o) noexcept {
  if (this != &o) {
    close_nb().reset();
    ep_ = std::exchange(o.ep_, nullptr);
  }
  return *this;
}

Request Endpoint::close_nb() {
  ucp_ep_h ep = std::exchange(ep_, nullptr);
  if (ep == nullptr) return Request();
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  p.flags = 0;
  ucs_status_ptr_t r = ucp_ep_close_nbx(ep, &p);
  return Request(UCS_PTR_IS_ERR(r) ? nullptr : r);
}

std::string Endpoint::info() const {
  if (ep_ == nullptr) return "(closed)";
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (f == nullptr) return "?";
  ucp_ep_print_info(ep_, f);
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  return out;
}

}  // namespace benchfs::net
