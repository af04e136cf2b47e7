#include "benchfs/client/engine.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <tuple>

#include "benchfs/core/clock.hpp"
#include "benchfs/core/copy.hpp"
#include "benchfs/core/random.hpp"
#include "benchfs/core/units.hpp"
#include "benchfs/registry/trust.hpp"
#include "engine_internal.hpp"
#include "stubs.hpp"

namespace benchfs::client {

namespace {

// Closing endpoints at exit: a live server answers a flush within
// milliseconds; a stopped one never does, and exit should not hang on it.
constexpr uint64_t kCloseBoundNs = 500 * kMs;
constexpr uint64_t kAbandonBoundNs = 1000 * kMs;
// Adaptive: the shortest spin budget of a reply wait.
constexpr uint64_t kMinSpinNs = 20'000;

std::atomic<uint64_t> g_instances{0};

std::string default_client_id() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + std::to_string(g_instances.fetch_add(1));
}

// Pause before recovery attempt `attempt` (0: none): 1, 2, 4 ... 64 ms, so
// that clients an overloaded server dropped do not all come back at once.
uint64_t backoff_ns(unsigned attempt) {
  if (attempt == 0) return 0;
  return std::min<uint64_t>(kMs << std::min(attempt - 1, 6u), 64 * kMs);
}

// Environment variable `name` as a number in [lo, hi] (k/m/g suffixes when
// `size`) into `out`; unset leaves `out` alone, anything else is EINVAL.
template <class T>
Status env_number(const char* name, uint64_t lo, uint64_t hi, bool size, T& out) {
  const char* v = std::getenv(name);
  if (v == nullptr) return Status();
  auto n = size ? parse_size(v) : parse_u64(v);
  if (!n) return Status(EINVAL, std::string(name) + ": " + n.status().message());
  if (*n < lo || *n > hi)
    return Status(EINVAL, std::string(name) + ": " + v + " is outside " + std::to_string(lo) + ".." +
                              std::to_string(hi));
  out = static_cast<T>(*n);
  return Status();
}

}  // namespace

Result<ConnectMode> parse_connect_mode(std::string_view text) {
  if (text == "persistent") return ConnectMode::kPersistent;
  if (text == "reply_ep") return ConnectMode::kReplyEp;
  return Status(EINVAL, "connection mode must be persistent or reply_ep, not '" + std::string(text) + "'");
}

std::string_view connect_mode_name(ConnectMode mode) {
  return mode == ConnectMode::kReplyEp ? "reply_ep" : "persistent";
}

Result<ClientOptions> options_from_env() {
  ClientOptions o;
  if (const char* v = std::getenv("BENCHFS_REGISTRY")) o.registry = v;
  if (const char* v = std::getenv("BENCHFS_CLIENT_ID")) o.client_id = v;
  if (const char* v = std::getenv("BENCHFS_POLL")) {
    auto m = net::parse_poll_mode(v);
    if (!m) return Status(EINVAL, "BENCHFS_POLL: " + m.status().message());
    o.poll = *m;
  }
  if (const char* v = std::getenv("BENCHFS_CONNECT")) {
    auto m = parse_connect_mode(v);
    if (!m) return Status(EINVAL, "BENCHFS_CONNECT: " + m.status().message());
    o.connect = *m;
  }
  uint64_t spin_us = o.spin_ns / 1000;
  for (const Status& st : {env_number("BENCHFS_RPC_TIMEOUT_MS", 1, 86'400'000, false, o.rpc_timeout_ms),
                           env_number("BENCHFS_SPIN_US", 0, 10'000'000, false, spin_us),
                           env_number("BENCHFS_EAGER_MAX", 0, 1ULL << 30, true, o.eager_max),
                           env_number("BENCHFS_IO_WINDOW", 1, 1024, false, o.io_window)})
    if (!st) return st;
  o.spin_ns = spin_us * 1000;
  return o;
}

Client::Client(const ClientOptions& opts)
    : opts_(opts), policy_(opts.poll, kMinSpinNs, opts.spin_ns, opts.spin_ns, &pressure_) {
  if (opts_.client_id.empty()) opts_.client_id = default_client_id();
  // Servers remember at-most-once replies by (client id, request id), also
  // across reconnects: an engine that reuses a client id (a fixed
  // BENCHFS_CLIENT_ID, IOR's sessions) must not reuse the ids of the one
  // before it. Start at a random point of a 2^62 space.
  next_request_id_ = (secure_random_u64() >> 2) + 1;
}

Result<std::unique_ptr<Client>> Client::create(const ClientOptions& opts) {
  if (opts.registry.empty()) return Status(EINVAL, "no registry directory given (set BENCHFS_REGISTRY)");
  if (opts.client_id.size() > wire::kMaxClientId) return Status(EINVAL, "client id longer than 256 bytes");
  if (opts.rpc_timeout_ms == 0) return Status(EINVAL, "rpc timeout must be positive");
  // spdlog builds its registry on first use behind a guard inside libspdlog,
  // which ThreadSanitizer cannot see: build it here, before the threads that
  // share engines log (the load test's clients did so all at once).
  static std::once_flag logging_ready;
  std::call_once(logging_ready, [] { (void)spdlog::default_logger_raw(); });
  std::unique_ptr<Client> c(new Client(opts));
  if (auto st = c->init(); !st) return st;
  return c;
}

Status Client::init() {
  auto list = registry::wait_for_servers(opts_.registry, Deadline::after_ms(opts_.wait_ready_ms));
  if (!list) return list.status();
  if (auto st = registry::check_trusted(opts_.registry); !st) return st;
  list_ = std::move(*list);
  secret_ = opts_.secret_override != 0 ? opts_.secret_override : list_.info.secret;
  for (const auto& s : list_.servers) {
    auto a = net::resolve(s.host, s.port);
    if (!a)
      return Status(a.status().err(), "server node_" + std::to_string(s.node) + ": " + a.status().message());
    addrs_.push_back(*a);
  }
  if (opts_.connect == ConnectMode::kReplyEp) {
    for (const auto& s : list_.servers) {
      auto w = registry::read_worker_addresses(opts_.registry, s.node);
      if (!w)
        return Status(w.status().err(), "reply_ep mode: server node_" + std::to_string(s.node) +
                                            " published no worker addresses: " + w.status().message());
      worker_addrs_.push_back(std::move(*w));
    }
  }
  try {
    // As the servers do: UCX's own ERROR lines (a flush to a server that has
    // died, on every rank) go unless UCX_LOG_LEVEL asks for them; our calls
    // report the failures.
    net::quiet_flush_errors();
    ctx_ = std::make_unique<net::Context>();
    // One mutex serializes every use of the worker, so SINGLE mode is enough.
    worker_ = std::make_unique<net::Worker>(*ctx_, UCS_THREAD_MODE_SINGLE, "benchfs-client");
    worker_->set_am_handler(wire::kAmReply, &Client::reply_cb, this);
    worker_->set_am_handler(wire::kAmNotify, &Client::notify_cb, this);
  } catch (const Error& e) {
    return e.status();
  }
  for (uint32_t i = 0; i < list_.servers.size(); ++i) {
    auto c = std::make_unique<Conn>();
    c->owner = this;
    c->index = i;
    conns_.push_back(std::move(c));
  }
  if (opts_.prewarm) return connect_all();
  return Status();
}

Client::~Client() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!worker_) return;
  for (auto& c : conns_) {
    closes_.close(c->ep);
    c->state = Conn::State::kDown;
  }
  for (auto& r : retiring_) closes_.close(r.ep);
  retiring_.clear();
  const uint64_t deadline = now_ns() + kCloseBoundNs;
  while (!closes_.empty() && now_ns() < deadline) {
    progress_until_idle();
    if (closes_.empty()) break;
    sleep_on_worker(lock, 5);
  }
  const size_t stuck = closes_.size() + orphans_.size();
  closes_.abandon_all();
  for (Orphan& o : orphans_) o.req.reset();
  conns_.clear();
  if (stuck != 0) {
    // An endpoint to a server that stopped answering still holds queued
    // sends, and UCX 1.13 aborts the process when a worker is destroyed
    // with such an endpoint (error mode NONE cannot force-close it). The
    // worker, its context and the buffers it may read are left to the
    // process's exit instead.
    spdlog::warn(
        "client {}: {} endpoint close(s) or send(s) did not finish within {} ms (a server stopped "
        "answering?): leaving the UCX worker to the process exit",
        opts_.client_id, stuck, kCloseBoundNs / kMs);
    // Kept reachable (not leaked) until exit: a process-lifetime graveyard.
    struct Graveyard {
      std::vector<std::unique_ptr<net::Context>> contexts;
      std::vector<std::unique_ptr<net::Worker>> workers;
      std::vector<std::unique_ptr<SendBuffers>> buffers;
    };
    static auto* graveyard = new Graveyard;
    graveyard->workers.push_back(std::move(worker_));
    graveyard->contexts.push_back(std::move(ctx_));
    for (Orphan& o : orphans_) graveyard->buffers.push_back(std::move(o.bufs));
    orphans_.clear();
    return;
  }
  worker_.reset();
  ctx_.reset();
  orphans_.clear();  // no UCX left to read the buffers
}

// ------------------------------------------------------------------ RPCs

Status Client::post(Conn& c, Pending& p, const wire::Request& req, const void* data, size_t len,
                    uint64_t request_id, bool once) {
  if (!c.ep) return Status(ENOTCONN, "no endpoint to node_" + std::to_string(c.index));
  p.id = request_id != 0 ? request_id : next_request_id_++;
  p.conn = &c;
  p.op = req.op;
  wire::Request r = req;
  r.request_id = p.id;
  r.session = c.session;
  if (once && wire::takes_once(r.op)) r.flags |= wire::kFlagOnce;
  if (!p.bufs) p.bufs = std::make_unique<SendBuffers>();
  SendBuffers& b = *p.bufs;
  b.hdr = wire::encode_request_header(r);
  // Paths and ids ride eagerly, and so does write data up to eager_max.
  bool eager = len > 0 && len <= opts_.eager_max;
  if (const size_t var = wire::request_var_size(r); var > 0) {
    eager = true;
    b.var.resize(var);
    wire::encode_request_var(r, b.var.data());
    data = b.var.data();
    len = var;
  }
  net::Request s = c.ep.am_send(wire::kAmRequest, b.hdr.data(), b.hdr.size, data, len,
                                UCP_AM_SEND_FLAG_REPLY | (eager ? UCP_AM_SEND_FLAG_EAGER : 0));
  if (s.failed()) return net::ucs_to_status(s.status(), "send");
  p.send_req = std::move(s);
  pending_.add(&p);
  ++stats_.rpcs;
  return Status();
}

bool Client::sleep_on_worker(std::unique_lock<std::mutex>& lock, int max_ms, bool* woken) {
  if (!worker_->arm()) return false;  // events pending: progress again
  ++sleepers_;
  lock.unlock();
  pollfd pfd{worker_->event_fd(), POLLIN, 0};
  const int n = ::poll(&pfd, 1, max_ms);
  if (woken != nullptr) *woken = n > 0;
  lock.lock();
  --sleepers_;
  return true;
}

unsigned Client::progress_until_idle() {
  unsigned events = 0;
  while (unsigned n = worker_->progress()) events += n;
  if (maintenance_) close_marked();
  // A finished orphan goes with its buffers (its Request frees the request).
  std::erase_if(orphans_, [](const Orphan& o) { return !o.req.in_progress(); });
  closes_.reap();
  return events;
}

Status Client::wait(std::unique_lock<std::mutex>& lock, Pending& p, uint64_t deadline_ns,
                    uint64_t max_spin_ns) {
  return wait_until(
      lock, [&] { return poll_pending(p); }, deadline_ns, max_spin_ns);
}

void Client::abandon(std::unique_lock<std::mutex>& lock, Pending& p) {
  (void)lock;
  pending_.remove(p.id);
  p.recv_req.cancel(*worker_);
  // A send UCX still holds (UCX 1.13 cannot cancel sends; an endpoint in
  // error mode NONE cannot be force-closed) keeps its header and fields
  // alive until it completes or the client goes: freeing them made a
  // stopped server later receive registrations with garbage ids.
  if (p.send_req.has_request()) {
    if (p.send_req.in_progress()) {
      orphans_.push_back(Orphan{std::move(p.send_req), std::move(p.bufs)});
    } else {
      p.send_req.reset();
    }
  }
  // A receive writes into the caller's buffer: it must be over before we
  // return. Its data moves locally (the peer need not run), so this is short.
  const uint64_t deadline = now_ns() + kAbandonBoundNs;
  while (p.recv_req.has_request() && now_ns() < deadline) progress_until_idle();
  if (p.recv_req.has_request()) {
    spdlog::warn("client {}: a cancelled receive did not finish within {} ms", opts_.client_id,
                 kAbandonBoundNs / kMs);
    p.recv_req.reset();
  }
}

Result<wire::Reply> Client::call_once(std::unique_lock<std::mutex>& lock, Conn& c, wire::Request& req,
                                      const void* send_data, size_t send_len, void* recv_buf, size_t recv_cap,
                                      uint64_t deadline_ns, size_t* recv_len, uint64_t* request_id,
                                      bool once) {
  Pending p;
  p.recv_buf = recv_buf;
  p.recv_cap = recv_cap;
  const Status posted = post(c, p, req, send_data, send_len, request_id != nullptr ? *request_id : 0, once);
  if (request_id != nullptr && posted) *request_id = p.id;
  if (auto st = posted; !st) {
    mark_broken(c, st.err(), "send failed");
    return st;
  }
  Status st = wait(lock, p, deadline_ns);
  pending_.remove(p.id);  // p lives on this stack frame only
  if (!st) {
    ++stats_.timeouts;
    abandon(lock, p);
    // An unresponsive server: start afresh next time.
    mark_broken(c, ETIMEDOUT, "request timed out");
    return Status(ETIMEDOUT, std::string(wire::op_name(req.op)) + " to node_" + std::to_string(c.index) +
                                 ": " + st.message());
  }
  if (auto out = p.outcome(); !out) return out;
  if (recv_len != nullptr) *recv_len = p.recv_len;
  return p.reply;
}

Result<wire::Reply> Client::call(uint32_t server, wire::Request& req, const void* send_data, size_t send_len,
                                 void* recv_buf, size_t recv_cap, bool idempotent) {
  if (server >= conns_.size()) return Status(EINVAL, "no server " + std::to_string(server));
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t deadline = now_ns() + opts_.rpc_timeout_ms * kMs;
  return call_recovering(lock, *conns_[server], req, send_data, send_len, recv_buf, recv_cap, idempotent,
                         deadline);
}

Status Client::back_off(std::unique_lock<std::mutex>& lock, unsigned attempt, uint64_t deadline_ns,
                        const std::string& what) {
  ++stats_.retries;
  const uint64_t until = std::min(now_ns() + backoff_ns(attempt), deadline_ns);
  for (uint64_t now = now_ns(); now < until; now = now_ns()) {
    progress_until_idle();  // retiring endpoints and closes move on meanwhile
    sleep_on_worker(lock, static_cast<int>((until - now) / kMs + 1));
  }
  if (now_ns() < deadline_ns) return Status();
  return Status(ETIMEDOUT, what + ": connection lost and not regained within " +
                               std::to_string(opts_.rpc_timeout_ms) + " ms");
}

Result<wire::Reply> Client::call_recovering(std::unique_lock<std::mutex>& lock, Conn& c, wire::Request& req,
                                            const void* send_data, size_t send_len, void* recv_buf,
                                            size_t recv_cap, bool idempotent, uint64_t deadline_ns,
                                            size_t* recv_len, uint64_t request_id, unsigned attempt) {
  const bool may_resend = idempotent || once_supported();
  for (;; ++attempt) {
    if (attempt > 0) {
      if (auto st = back_off(lock, attempt, deadline_ns,
                             std::string(wire::op_name(req.op)) + " to node_" + std::to_string(c.index));
          !st)
        return st;
    }
    if (auto st = connect_recovering(lock, c, deadline_ns); !st) return st;
    auto r = call_once(lock, c, req, send_data, send_len, recv_buf, recv_cap, deadline_ns, recv_len,
                       &request_id, !idempotent);
    const bool lost = (!r && lost_connection(r.status().err(), deadline_ns)) || (r && r->status == -ENOTCONN);
    if (!lost) return r;
    mark_broken(c, ENOTCONN, "connection closed by the server", /*server_closes=*/r.ok());
    if (!may_resend) return r;
  }
}

Status Client::ping(uint32_t server, const void* payload, size_t len, void* echo) {
  if (server >= conns_.size()) return Status(EINVAL, "no server " + std::to_string(server));
  if (len > wire::kMaxPingPayload) return Status(EINVAL, "ping payload over 4 MiB");
  if (len > 0 && payload == nullptr) return Status(EINVAL, "null ping payload");
  thread_local std::vector<std::byte> scratch;
  void* dst = echo;
  if (dst == nullptr && len > 0) {
    scratch.resize(len);
    dst = scratch.data();
  }
  wire::Request req = stub::ping(len);
  auto r = call(server, req, payload, len, dst, len, /*idempotent=*/true);
  if (!r) return r.status();
  if (r->status != 0) return Status(-r->status, "ping refused by node_" + std::to_string(server));
  if (r->length != len) return Status(EIO, "ping echo has the wrong length");
  return Status();
}

Status Client::shutdown_server(uint32_t server) {
  wire::Request req = stub::shutdown();
  auto r = call(server, req, nullptr, 0, nullptr, 0, /*idempotent=*/false);
  if (!r) return r.status();
  if (r->status != 0) return Status(-r->status, "shutdown refused by node_" + std::to_string(server));
  return Status();
}

ClientStats Client::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  ClientStats s = stats_;
  const net::IdleStats& p = policy_.stats();
  std::tie(s.sleeps, s.wakeups, s.preempted_spins, s.congested_sleeps, s.yields) =
      std::tie(p.sleeps, p.wakeups, p.preempted_spins, p.congested_sleeps, p.yields);
  return s;
}

// --------------------------------------------------------- UCX callbacks

ucs_status_t Client::reply_cb(void* arg, const void* header, size_t header_len, void* data, size_t len,
                              const ucp_am_recv_param_t* param) {
  return static_cast<Client*>(arg)->on_reply(header, header_len, data, len, param);
}

ucs_status_t Client::notify_cb(void* arg, const void* header, size_t header_len, void*, size_t,
                               const ucp_am_recv_param_t*) {
  return static_cast<Client*>(arg)->on_notify(header, header_len);
}

ucs_status_t Client::on_reply(const void* header, size_t header_len, void* data, size_t len,
                              const ucp_am_recv_param_t* param) {
  auto r = wire::decode_reply(header, header_len);
  if (!r) {
    ++stats_.stray_replies;
    return UCS_OK;
  }
  Pending* found = pending_.find(r->request_id);
  if (found == nullptr) {
    ++stats_.stray_replies;
    return UCS_OK;
  }
  Pending& p = *found;
  pending_.remove(p.id);
  p.reply = *r;
  p.done = true;
  if (p.op == wire::Op::kRegisterClient && r->status == 0 && p.conn != nullptr && p.conn->reg.get() == &p &&
      p.conn->state == Conn::State::kRegistering) {
    // Known from now on, not only once the registering thread runs again:
    // the server may evict this session at once, and its notification
    // (next on this endpoint) must find it.
    p.conn->session = r->session;
  }
  wake_sleepers();
  if (len == 0) return UCS_OK;
  if (r->status != 0 || p.recv_buf == nullptr || len > p.recv_cap) {
    p.err = EPROTO;
    p.err_msg = "unexpected reply data (" + std::to_string(len) + " bytes)";
    return UCS_OK;
  }
  if ((param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) == 0) {
    copy_bytes(p.recv_buf, data, len);
    p.recv_len = len;
    return UCS_OK;
  }
  // Rendezvous: straight into the caller's buffer.
  // recv_done_cb frees the request; p holds it meanwhile (abandon may cancel it).
  net::Request s = worker_->am_recv_data(data, p.recv_buf, len, &Client::recv_done_cb, &p);
  if (s.empty()) {
    p.recv_len = len;
  } else if (s.failed()) {
    p.err = request_errno(s.status());
    p.err_msg = "receiving reply data failed";
  } else {
    p.recv_req = std::move(s);
  }
  return UCS_INPROGRESS;
}

void Client::recv_done_cb(void* request, ucs_status_t status, size_t length, void* user_data) {
  auto* p = static_cast<Pending*>(user_data);
  if (status == UCS_OK) {
    p->recv_len = length;
  } else if (p->err == 0) {
    p->err = request_errno(status);
    p->err_msg = ucs_status_string(status);
  }
  // UCX hands the finished request to this callback, which frees it (p lets go of it first).
  if (p->recv_req.get() == request) (void)p->recv_req.release();
  net::Request(request).reset();
  p->conn->owner->wake_sleepers();
}

}  // namespace benchfs::client
