#include "progress_thread.hpp"

#include <spdlog/spdlog.h>

#include "benchfs/core/clock.hpp"
#include "handlers.hpp"
#include "server_impl.hpp"

namespace benchfs::server {

namespace {
constexpr size_t kInboxCapacity = 4096;
constexpr size_t kPooledBufferMax = 64 * 1024;
constexpr int kMaxSleepMs = 100;
constexpr int kPassesPerRound = 8;
constexpr uint64_t kTouchIntervalNs = 1'000'000;  // LRU recency: 1 ms (coarse clock: a few ms)
}  // namespace

ProgressThread::ProgressThread(ServerImpl& server, uint32_t index, const net::Context& ctx,
                               ucs_thread_mode_t mode, net::PollConfig poll)
    : RequestHost(server.meta(), server.chunks(),
                  ServerFacts{server.node(), server.server_count(), server.chunk_size(), server.capacity()}),
      server_(server),
      index_(index),
      reply_ep_session_(wire::reply_ep_session(server.secret())),
      worker_(ctx, mode, "benchfs-progress-" + std::to_string(index)),
      poll_(poll),
      inbox_(kInboxCapacity) {
  worker_.set_am_handler(wire::kAmRequest, &ProgressThread::am_request_cb, this);
  reply_ep_conn_.id = kReplyEpConnId;
  reply_ep_conn_.peer = "a worker-address endpoint";
  reply_ep_conn_.client_id = "reply_ep client";
  reply_ep_conn_.session = reply_ep_session_;
}

ProgressThread::~ProgressThread() {
  if (thread_.joinable()) thread_.join();
}

void ProgressThread::start(const CoreSet* core, const Topology* topo) {
  thread_ = std::thread([this, core, topo] { run(core, topo); });
}

void ProgressThread::join() {
  if (thread_.joinable()) thread_.join();
}

void ProgressThread::post(Command&& c) {
  inbox_.push(std::move(c));
  worker_.signal();
}

bool ProgressThread::post_accept(Inbox<Command>::Producer& producer, Command&& c) {
  if (!inbox_.try_push(producer, std::move(c))) return false;
  worker_.signal();
  return true;
}

// ------------------------------------------------------------------ loop

void ProgressThread::run(const CoreSet* core, const Topology* topo) {
  if (core != nullptr && topo != nullptr) {
    if (auto st = topo->bind_current_thread(*core); !st)
      spdlog::warn("progress thread {}: {}", index_, st.to_string());
  }
  net::Idler idler(worker_, poll_);
  for (;;) {
    // Progress first and often: requests arrive through the worker; the
    // inbox and deferred work are looked at between rounds of passes.
    size_t work = 0;
    for (int i = 0; i < kPassesPerRound; ++i) work += worker_.progress();
    work += drain_inbox();
    work += run_deferred();
    if (stop_) {
      if ((closing_.empty() && deferred_close_.empty()) || now_ns() >= drain_deadline_ns_) break;
    }
    idler.after_pass(
        work > 0, [this] { return inbox_.size_approx() > 0 || !failed_.empty(); }, stop_ ? 10 : kMaxSleepMs);
  }
  stats_.idle_sleeps = idler.stats().sleeps;
  stats_.idle_wakeups = idler.stats().wakeups;
  stats_.preempted_spins = idler.stats().preempted_spins;
  stats_.congested_sleeps = idler.stats().congested_sleeps;
  stats_.yields = idler.stats().yields;
  teardown();
}

size_t ProgressThread::drain_inbox() {
  return inbox_.drain([this](Command& c) {
    switch (c.kind) {
      case Command::Kind::kAccept:
        if (stop_) {
          c.conn.reject();
          counters_.live.fetch_sub(1, std::memory_order_relaxed);
        } else {
          accept(std::move(c.conn));
        }
        if (c.handed_off != nullptr) c.handed_off->fetch_sub(1, std::memory_order_release);
        break;
      case Command::Kind::kEvict:
        evict(c);
        break;
      case Command::Kind::kStop:
        begin_drain();
        break;
      case Command::Kind::kNone:
        break;
    }
  });
}

size_t ProgressThread::run_deferred() {
  size_t work = 0;
  if (!failed_.empty()) {
    std::vector<FailedEp> failed;
    failed.swap(failed_);
    for (const FailedEp& f : failed) {
      Conn* conn = find_conn(f.ep);
      if (conn == nullptr || conn->id != f.conn_id) continue;
      ++stats_.ep_errors;
      close_conn(f.ep, /*notify=*/false, wire::CloseReason::kError);
    }
    work += failed.size();
  }
  if (!deferred_close_.empty()) {
    const uint64_t now = now_ns();
    for (size_t i = 0; i < deferred_close_.size();) {
      DeferredClose& d = deferred_close_[i];
      if ((inflight(d.conn_id) == 0 && now >= d.not_before_ns) || now >= d.deadline_ns || stop_) {
        ops_by_conn_.erase(d.conn_id);
        ucs_status_ptr_t r = d.ep.close_nb();
        if (r != nullptr) closing_.push_back(r);
        deferred_close_[i] = std::move(deferred_close_.back());
        deferred_close_.pop_back();
        ++work;
      } else {
        ++i;
      }
    }
  }
  if (!closing_.empty()) {
    for (size_t i = 0; i < closing_.size();) {
      if (ucp_request_check_status(closing_[i]) != UCS_INPROGRESS) {
        ucp_request_free(closing_[i]);
        closing_[i] = closing_.back();
        closing_.pop_back();
        ++work;
      } else {
        ++i;
      }
    }
  }
  return work;
}

// ----------------------------------------------------------- connections

void ProgressThread::accept(net::ConnRequest&& req) {
  std::string peer = req.peer_address();
  auto ep = net::Endpoint::accept(worker_, std::move(req), &ProgressThread::ep_error_cb, this);
  if (!ep) {
    ++stats_.rejected_handoffs;
    counters_.live.fetch_sub(1, std::memory_order_relaxed);
    spdlog::warn("thread {}: cannot accept connection from {}: {}", index_, peer, ep.status().to_string());
    return;
  }
  auto conn = std::make_unique<Conn>();
  conn->id = next_conn_id_++;
  conn->peer = std::move(peer);
  conn->connected_at_ns = now_ns();
  conn->ep = std::move(*ep);
  ucp_ep_h h = conn->ep.get();
  spdlog::debug("thread {}: accepted connection {} from {}", index_, conn->id, conn->peer);
  conns_.emplace(h, std::move(conn));
  counters_.accepted.fetch_add(1, std::memory_order_relaxed);
}

Conn* ProgressThread::find_conn(ucp_ep_h ep) {
  // Requests tend to come in runs from one client: remember the last one.
  if (ep == last_ep_ && ep != nullptr) return last_conn_;
  auto it = conns_.find(ep);
  if (it == conns_.end()) return nullptr;
  last_ep_ = ep;
  last_conn_ = it->second.get();
  return last_conn_;
}

void ProgressThread::evict(const Command& c) {
  Conn* conn = find_conn(c.ep);
  // The client may have gone or re-registered on this connection since.
  if (conn == nullptr || conn->session != c.session) return;
  spdlog::debug("thread {}: closing client '{}' ({})", index_, conn->client_id,
                wire::close_reason_name(c.reason));
  close_conn(c.ep, /*notify=*/true, c.reason);
}

void ProgressThread::close_conn(ucp_ep_h ep, bool notify, wire::CloseReason reason) {
  auto it = conns_.find(ep);
  if (it == conns_.end()) return;
  std::unique_ptr<Conn> conn = std::move(it->second);
  conns_.erase(it);
  if (last_ep_ == ep) {
    last_ep_ = nullptr;
    last_conn_ = nullptr;
  }
  if (conn->session != 0) {
    // Drop the registry entry unless the client has registered anew elsewhere.
    server_.clients().erase(conn->client_id, conn->session);
  }
  if (notify) {
    wire::Notify n;
    n.reason = reason;
    n.session = conn->session;
    // The header must outlive the send: keep it in an OpCtx until completion.
    OpCtx* ctx = acquire_ctx();
    attach(ctx, ep, conn->id);
    ctx->reply_hdr = wire::encode_notify(n);
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    p.cb.send = &ProgressThread::send_done_cb;
    p.user_data = ctx;
    ucs_status_ptr_t r =
        ucp_am_send_nbx(ep, wire::kAmNotify, ctx->reply_hdr.data(), ctx->reply_hdr.size, nullptr, 0, &p);
    if (r == nullptr || UCS_PTR_IS_ERR(r)) release_ctx(ctx);
    ++stats_.notifications;
  }
  // UCX 1.13 (with indirect ids) aborts the process ("ucp_ep.c:437
  // Assertion ... proto_reqs") when the client's disconnect completes a
  // close we asked for while UCX still tracks a request of the endpoint (64
  // connections against capacity 16 did it within a second). So the close
  // waits until no request of ours is in flight (the notification above
  // among them) and UCX's own acknowledgements have had kCloseGraceNs to go
  // out; kDeferredCloseBoundNs bounds the wait.
  if (notify || inflight(conn->id) != 0) {
    const uint64_t now = now_ns();
    deferred_close_.push_back(
        DeferredClose{std::move(conn->ep), conn->id, now + kDeferredCloseBoundNs, now + kCloseGraceNs});
  } else {
    ops_by_conn_.erase(conn->id);
    ucs_status_ptr_t r = conn->ep.close_nb();
    if (r != nullptr) closing_.push_back(r);
  }
  ++stats_.closed;
  counters_.live.fetch_sub(1, std::memory_order_relaxed);
}

void ProgressThread::begin_drain() {
  if (stop_) return;
  stop_ = true;
  drain_deadline_ns_ = now_ns() + server_.options().shutdown_timeout_ms * 1'000'000ULL;
  std::vector<ucp_ep_h> eps;
  eps.reserve(conns_.size());
  for (auto& [ep, conn] : conns_) eps.push_back(ep);
  for (ucp_ep_h ep : eps) {
    Conn* c = find_conn(ep);
    close_conn(ep, /*notify=*/c != nullptr && c->session != 0, wire::CloseReason::kShutdown);
  }
}

void ProgressThread::teardown() {
  // Whatever did not finish within the deadline is abandoned; the worker's
  // destruction releases it.
  for (ucs_status_ptr_t r : closing_) ucp_request_free(r);
  closing_.clear();
  while (!conns_.empty()) close_conn(conns_.begin()->first, false, wire::CloseReason::kShutdown);
  for (DeferredClose& d : deferred_close_) {
    ucs_status_ptr_t r = d.ep.close_nb();
    if (r != nullptr) closing_.push_back(r);
  }
  deferred_close_.clear();
  for (ucs_status_ptr_t r : closing_) ucp_request_free(r);
  closing_.clear();
  // Reject hand-offs that arrived after the drain started.
  Command c;
  while (inbox_.try_pop(c)) {
    if (c.kind == Command::Kind::kAccept) {
      c.conn.reject();
      counters_.live.fetch_sub(1, std::memory_order_relaxed);
      if (c.handed_off != nullptr) c.handed_off->fetch_sub(1, std::memory_order_release);
    }
    c = Command();
  }
}

// --------------------------------------------------------- UCX callbacks

void ProgressThread::ep_error_cb(void* arg, ucp_ep_h ep, ucs_status_t status) {
  auto* self = static_cast<ProgressThread*>(arg);
  // Record which connection failed now: once an endpoint is closed its
  // address may be reused by the next one, so the handle alone is ambiguous
  // later. An endpoint we already closed needs nothing more.
  Conn* conn = self->find_conn(ep);
  if (conn == nullptr) return;
  spdlog::debug("thread {}: connection {} from {} failed: {}", self->index_, conn->id, conn->peer,
                ucs_status_string(status));
  self->failed_.push_back(FailedEp{ep, conn->id});
}

ucs_status_t ProgressThread::am_request_cb(void* arg, const void* header, size_t header_len, void* data,
                                           size_t len, const ucp_am_recv_param_t* param) {
  return static_cast<ProgressThread*>(arg)->on_request(header, header_len, data, len, param);
}

ucs_status_t ProgressThread::on_request(const void* header, size_t header_len, void* data, size_t len,
                                        const ucp_am_recv_param_t* param) {
  const uint64_t t0 = ticks();
  ucp_ep_h ep = (param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) != 0 ? param->reply_ep : nullptr;
  const bool rndv = (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) != 0;
  auto req = wire::decode_request(header, header_len, wire::AmData{rndv ? nullptr : data, len, rndv});
  if (!req) {
    ++stats_.decode_errors;
    spdlog::debug("thread {}: malformed request: {}", index_, req.status().to_string());
  }
  if (ep == nullptr) {
    ++stats_.no_reply_ep;
    return UCS_OK;
  }
  Conn* conn = find_conn(ep);
  if (conn == nullptr && req && req->session == reply_ep_session_ && req->op != wire::Op::kRegisterClient) {
    conn = &reply_ep_conn_;
    ++stats_.reply_ep_requests;
  }
  if (conn == nullptr) {
    // A connection we dropped (evicted) whose endpoint is not closed yet:
    // the client sent this before our notification reached it. Say so at
    // once, rather than leave it to notice the close. An endpoint already
    // closed is not ours to send on: nobody to answer.
    for (const DeferredClose& d : deferred_close_) {
      if (d.ep.get() == ep) {
        ++stats_.after_close;
        send_error_reply(ep, d.conn_id, wire::peek_op(header, header_len),
                         wire::peek_request_id(header, header_len), ENOTCONN);
        break;
      }
    }
    return UCS_OK;
  }
  if (!req) {
    send_error_reply(ep, conn->id, wire::peek_op(header, header_len),
                     wire::peek_request_id(header, header_len), req.status().err());
    return UCS_OK;
  }
  OpStats& os = stats_.ops[static_cast<size_t>(req->op)];
  ++os.count;
  // Metadata streams too keep the reserve's fill away: a thread faulting
  // pages beside mdtest's creates took them from ~250,000 to 20,000-80,000
  // per second in half the runs here (a vCPU stuck in a host page fault
  // runs nothing else).
  chunks().note_activity();

  OpCtx* ctx = acquire_ctx();
  attach(ctx, ep, conn->id);
  ctx->op = req->op;
  ctx->request_id = req->request_id;
  ctx->t0_ticks = t0;

  if (stop_) {
    reply_error(ctx, ESHUTDOWN);
    return UCS_OK;
  }
  if (req->op != wire::Op::kRegisterClient) {
    if (conn->session == 0 || req->session != conn->session) {
      ++stats_.unauthorized;
      reply_error(ctx, EACCES);
      return UCS_OK;
    }
    // Recency for the LRU, at most once per interval per connection: the
    // registry's shard lock stays off the per-request path.
    const uint64_t now = coarse_ns();
    if (conn != &reply_ep_conn_ && now - conn->last_touch_ns >= kTouchIntervalNs) {
      if (!server_.clients().touch(conn->client_id, conn->session)) {
        // Evicted or replaced; the close is on its way.
        reply_error(ctx, ENOTCONN);
        return UCS_OK;
      }
      conn->last_touch_ns = now;
    }
  }
  RequestData payload{data, len, rndv, param->recv_attr};
  return handle_request(*this, *conn, ctx, *req, payload);
}

void ProgressThread::send_error_reply(ucp_ep_h ep, uint64_t conn_id, uint8_t op, uint64_t request_id,
                                      int err) {
  OpCtx* ctx = acquire_ctx();
  attach(ctx, ep, conn_id);
  // An undecodable op is answered as op 0; clients match replies by request id.
  ctx->op = wire::is_request_op(op) ? static_cast<wire::Op>(op) : static_cast<wire::Op>(0);
  ctx->request_id = request_id;
  ctx->t0_ticks = 0;
  ctx->reply_hdr = wire::encode_error_reply(ctx->op, request_id, err);
  send_reply(ctx, nullptr, 0);
}

// ---------------------------------------------------------------- replies

bool ProgressThread::reply(OpCtx* ctx, wire::Reply& r, const void* data, size_t len) {
  r.op = ctx->op;
  r.request_id = ctx->request_id;
  ctx->reply_hdr = wire::encode_reply(r);
  if (r.status != 0) ++stats_.ops[static_cast<size_t>(ctx->op)].errors;
  return send_reply(ctx, data, len);
}

bool ProgressThread::receive_done(OpCtx* ctx, ucs_status_t status) {
  if (conn_of(ctx) == nullptr) {  // client gone meanwhile
    release_ctx(ctx);
    return false;
  }
  if (status != UCS_OK) {
    reply_error(ctx, net::ucs_to_errno(status));
    return false;
  }
  return true;
}

Conn* ProgressThread::conn_of(const OpCtx* ctx) {
  if (ctx->conn_id == kReplyEpConnId) return &reply_ep_conn_;
  Conn* c = find_conn(ctx->ep);
  return (c != nullptr && c->id == ctx->conn_id) ? c : nullptr;
}

void ProgressThread::reply_error(OpCtx* ctx, int err) {
  wire::Reply r;
  r.status = -std::abs(err);
  reply(ctx, r);
}

bool ProgressThread::send_reply(OpCtx* ctx, const void* data, size_t len) {
  if (ctx->t0_ticks != 0) {
    OpStats& os = stats_.ops[static_cast<size_t>(ctx->op)];
    os.latency_ticks.record(ticks() - ctx->t0_ticks);
    os.bytes_out += len;
  }
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  p.cb.send = &ProgressThread::send_done_cb;
  p.user_data = ctx;
  ucs_status_ptr_t r =
      ucp_am_send_nbx(ctx->ep, wire::kAmReply, ctx->reply_hdr.data(), ctx->reply_hdr.size, data, len, &p);
  if (r == nullptr) {
    release_ctx(ctx);
    return false;
  }
  if (UCS_PTR_IS_ERR(r)) {
    ++stats_.send_errors;
    spdlog::debug("thread {}: reply failed: {}", index_, ucs_status_string(UCS_PTR_STATUS(r)));
    release_ctx(ctx);
    return false;
  }
  return true;  // send_done_cb recycles ctx and frees the request
}

void ProgressThread::receive(OpCtx* ctx, void* desc, void* dst, size_t len,
                             void (*done)(OpCtx* ctx, ucs_status_t status, size_t length)) {
  ctx->on_received = done;
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  p.cb.recv_am = &ProgressThread::recv_done_cb;
  p.user_data = ctx;
  ucs_status_ptr_t r = ucp_am_recv_data_nbx(worker_.get(), desc, dst, len, &p);
  if (r == nullptr) {
    done(ctx, UCS_OK, len);
  } else if (UCS_PTR_IS_ERR(r)) {
    done(ctx, UCS_PTR_STATUS(r), 0);
  }
}

void ProgressThread::recv_done_cb(void* request, ucs_status_t status, size_t length, void* user_data) {
  auto* ctx = static_cast<OpCtx*>(user_data);
  ucp_request_free(request);
  ctx->on_received(ctx, status, length);
}

void ProgressThread::send_done_cb(void* request, ucs_status_t status, void* user_data) {
  auto* ctx = static_cast<OpCtx*>(user_data);
  auto* self = static_cast<ProgressThread*>(ctx->host);
  if (status != UCS_OK && status != UCS_ERR_CANCELED) ++self->stats_.send_errors;
  self->release_ctx(ctx);
  ucp_request_free(request);
}

// ------------------------------------------------------------- ctx pool

OpCtx* ProgressThread::acquire_ctx() {
  if (!ctx_free_.empty()) {
    OpCtx* ctx = ctx_free_.back();
    ctx_free_.pop_back();
    return ctx;
  }
  ctx_all_.push_back(std::make_unique<OpCtx>());
  ctx_all_.back()->host = this;
  return ctx_all_.back().get();
}

void ProgressThread::attach(OpCtx* ctx, ucp_ep_h ep, uint64_t conn_id) {
  ctx->ep = ep;
  ctx->conn_id = conn_id;
  if (conn_id != 0) ++ops_by_conn_[conn_id];  // the entry lives until the connection closes
}

uint32_t ProgressThread::inflight(uint64_t conn_id) const {
  auto it = ops_by_conn_.find(conn_id);
  return it == ops_by_conn_.end() ? 0 : it->second;
}

void ProgressThread::release_ctx(OpCtx* ctx) {
  if (ctx->conn_id != 0) {
    auto it = ops_by_conn_.find(ctx->conn_id);
    if (it != ops_by_conn_.end() && it->second > 0) --it->second;
  }
  if (ctx->am_desc != nullptr) {
    ucp_am_data_release(worker_.get(), ctx->am_desc);
    ctx->am_desc = nullptr;
  }
  ctx->write.reset();
  ctx->read.reset();
  if (ctx->buf.capacity() > kPooledBufferMax) {
    std::vector<std::byte>().swap(ctx->buf);
  } else {
    ctx->buf.clear();
  }
  ctx->ep = nullptr;
  ctx->conn_id = 0;
  ctx->on_received = nullptr;
  ctx_free_.push_back(ctx);
}

}  // namespace benchfs::server
