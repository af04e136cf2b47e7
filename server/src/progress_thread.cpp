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
      drop_(value_or_throw(parse_drop_reply(server.options().drop_reply))),
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
      if ((retiring_.empty() && closes_.empty()) || now_ns() >= drain_deadline_ns_) break;
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
    std::vector<uint64_t> failed;
    failed.swap(failed_);
    for (uint64_t id : failed) {
      Conn* conn = find_by_id(id);
      if (conn == nullptr || conn->state != Conn::State::kOpen) continue;
      ++stats_.ep_errors;
      close_conn(*conn, /*notify=*/false, wire::CloseReason::kError);
    }
    work += failed.size();
  }
  if (!retiring_.empty() || !closes_.empty()) work += advance_closes();
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
  conn->handle = conn->ep.get();
  spdlog::debug("thread {}: accepted connection {} from {}", index_, conn->id, conn->peer);
  by_ep_[conn->handle] = conn->id;
  conns_.emplace(conn->id, std::move(conn));
  counters_.accepted.fetch_add(1, std::memory_order_relaxed);
}

Conn* ProgressThread::find_by_ep(ucp_ep_h ep) {
  // Requests tend to come in runs from one client: remember the last one.
  if (ep == last_ep_ && ep != nullptr) return last_conn_;
  auto it = by_ep_.find(ep);
  if (it == by_ep_.end()) return nullptr;
  Conn* c = find_by_id(it->second);
  if (c != nullptr && c->state == Conn::State::kOpen) {
    last_ep_ = ep;
    last_conn_ = c;
  }
  return c;
}

Conn* ProgressThread::find_by_id(uint64_t id) {
  if (last_conn_ != nullptr && last_conn_->id == id) return last_conn_;
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

void ProgressThread::erase_conn(uint64_t id) {
  if (last_conn_ != nullptr && last_conn_->id == id) {
    last_ep_ = nullptr;
    last_conn_ = nullptr;
  }
  conns_.erase(id);
}

void ProgressThread::evict(const Command& c) {
  Conn* conn = find_by_id(c.conn_id);
  // The client may have gone or re-registered on this connection since.
  if (conn == nullptr || conn->state != Conn::State::kOpen || conn->session != c.session) return;
  spdlog::debug("thread {}: closing client '{}' ({})", index_, conn->client_id,
                wire::close_reason_name(c.reason));
  close_conn(*conn, /*notify=*/true, c.reason);
}

void ProgressThread::close_conn(Conn& conn, bool notify, wire::CloseReason reason) {
  if (conn.state != Conn::State::kOpen) return;
  conn.state = Conn::State::kDraining;
  if (last_conn_ == &conn) {
    last_ep_ = nullptr;
    last_conn_ = nullptr;
  }
  if (conn.session != 0) {
    // Drop the registry entry unless the client has registered anew elsewhere.
    server_.clients().erase(conn.client_id, conn.session);
  }
  if (notify) {
    wire::Notify n;
    n.reason = reason;
    n.session = conn.session;
    // The header must outlive the send: keep it in an OpCtx until completion.
    OpCtx* ctx = acquire_ctx();
    attach(ctx, conn);
    ctx->ep = conn.handle;
    ctx->reply_hdr = wire::encode_notify(n);
    net::Request r = net::am_send(conn.handle, wire::kAmNotify, ctx->reply_hdr.data(), ctx->reply_hdr.size,
                                  nullptr, 0, 0, &ProgressThread::send_done_cb, ctx);
    if (r.empty() || r.failed()) {
      release_ctx(ctx);
    } else {
      (void)r.release();  // send_done_cb recycles ctx and frees the request
    }
    ++stats_.notifications;
  }
  // UCX 1.13 (with indirect ids) aborts the process ("ucp_ep.c:437
  // Assertion ... proto_reqs") when the client's disconnect completes a
  // close we asked for while UCX still tracks a request of the endpoint (64
  // connections against capacity 16 did it within a second). So a draining
  // connection is closed once no request of ours is in flight (the
  // notification above among them) and UCX's own acknowledgements have had
  // kCloseGraceNs to go out; kDeferredCloseBoundNs bounds the wait.
  const uint64_t now = now_ns();
  conn.close_not_before_ns = notify || conn.inflight() != 0 ? now + kCloseGraceNs : now;
  conn.close_deadline_ns = now + kDeferredCloseBoundNs;
  ++stats_.closed;
  counters_.live.fetch_sub(1, std::memory_order_relaxed);
  if (conn.close_not_before_ns == now) {
    start_close(conn);  // may erase conn
  } else {
    retiring_.push_back(conn.id);
  }
}

void ProgressThread::start_close(Conn& conn) {
  by_ep_.erase(conn.handle);
  conn.state = Conn::State::kClosing;
  // Kept under conn's id until UCX finishes it (advance_closes erases conn then).
  if (!closes_.close(conn.ep, conn.id)) erase_conn(conn.id);
}

size_t ProgressThread::advance_closes() {
  size_t work = 0;
  const uint64_t now = now_ns();
  for (size_t i = 0; i < retiring_.size();) {
    Conn* c = find_by_id(retiring_[i]);
    bool done = c == nullptr || c->state != Conn::State::kDraining;
    if (!done &&
        ((c->inflight() == 0 && now >= c->close_not_before_ns) || now >= c->close_deadline_ns || stop_)) {
      start_close(*c);  // closing (in closes_) or gone
      done = true;
      ++work;
    }
    if (done) {
      retiring_[i] = retiring_.back();
      retiring_.pop_back();
    } else {
      ++i;
    }
  }
  work += closes_.reap([this](uint64_t id) { erase_conn(id); });
  return work;
}

void ProgressThread::begin_drain() {
  if (stop_) return;
  stop_ = true;
  drain_deadline_ns_ = now_ns() + server_.options().shutdown_timeout_ms * 1'000'000ULL;
  std::vector<Conn*> open;
  open.reserve(conns_.size());
  for (auto& [id, conn] : conns_)
    if (conn->state == Conn::State::kOpen) open.push_back(conn.get());
  // close_conn may erase a connection, never another one than its own.
  for (Conn* c : open) close_conn(*c, /*notify=*/c->session != 0, wire::CloseReason::kShutdown);
}

void ProgressThread::teardown() {
  // Whatever did not finish within the deadline is abandoned; the worker's
  // destruction releases it.
  std::vector<Conn*> open;
  for (auto& [id, conn] : conns_)
    if (conn->state == Conn::State::kOpen) open.push_back(conn.get());
  for (Conn* c : open) close_conn(*c, false, wire::CloseReason::kShutdown);
  for (auto& [id, conn] : conns_) {
    if (conn->state == Conn::State::kDraining) {
      conn->state = Conn::State::kClosing;
      closes_.close(conn->ep, id);
    }
  }
  closes_.abandon_all();
  conns_.clear();
  by_ep_.clear();
  retiring_.clear();
  last_ep_ = nullptr;
  last_conn_ = nullptr;
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
  Conn* conn = self->find_by_ep(ep);
  if (conn == nullptr) return;
  spdlog::debug("thread {}: connection {} from {} failed: {}", self->index_, conn->id, conn->peer,
                ucs_status_string(status));
  self->failed_.push_back(conn->id);
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
  Conn* conn = find_by_ep(ep);
  if (conn == nullptr && req && req->session == reply_ep_session_ && req->op != wire::Op::kRegisterClient) {
    conn = &reply_ep_conn_;
    ++stats_.reply_ep_requests;
  }
  // An endpoint already closing or closed is not ours to send on: nobody to answer.
  if (conn == nullptr) return UCS_OK;
  if (conn->state != Conn::State::kOpen) {
    // A connection we dropped (evicted) whose endpoint is not closed yet:
    // the client sent this before our notification reached it. Say so at
    // once, rather than leave it to notice the close.
    ++stats_.after_close;
    send_error_reply(*conn, wire::peek_op(header, header_len), wire::peek_request_id(header, header_len),
                     ENOTCONN);
    return UCS_OK;
  }
  if (!req) {
    send_error_reply(*conn, wire::peek_op(header, header_len), wire::peek_request_id(header, header_len),
                     req.status().err());
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
  attach(ctx, *conn);
  ctx->ep = ep;
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
  if ((req->flags & wire::kFlagOnce) == 0 || conn == &reply_ep_conn_)
    return handle_request(*this, *conn, ctx, *req, payload);
  // At most once: a repeat (sent again after a lost connection) gets the
  // first execution's reply. The ops allowed this flag reply before their
  // handler returns, so the slot outlives the reply it records.
  ReplyCache::Slot slot = server_.replies().enter(conn->client_id, req->request_id);
  if (const wire::Reply* first = slot.cached()) {
    ++stats_.once_repeats;
    wire::Reply r = *first;
    reply(ctx, r);
    return UCS_OK;
  }
  once_ctx_ = ctx;
  once_slot_ = &slot;
  const ucs_status_t st = handle_request(*this, *conn, ctx, *req, payload);
  once_ctx_ = nullptr;
  once_slot_ = nullptr;
  return st;
}

void ProgressThread::send_error_reply(Conn& c, uint8_t op, uint64_t request_id, int err) {
  OpCtx* ctx = acquire_ctx();
  attach(ctx, c);
  ctx->ep = c.handle;
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
  if (once_ctx_ == ctx) {
    once_slot_->record(r);
    once_ctx_ = nullptr;
  }
  if (drop_.op != 0 && drop_this(ctx)) return false;
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
  Conn* c = find_by_id(ctx->conn_id);
  return (c != nullptr && c->state == Conn::State::kOpen) ? c : nullptr;
}

bool ProgressThread::drop_this(OpCtx* ctx) {
  Conn* conn = conn_of(ctx);
  if (static_cast<uint8_t>(ctx->op) != drop_.op || conn == nullptr || conn == &reply_ep_conn_) return false;
  if (++drop_seen_ % drop_.every != 0) return false;
  spdlog::info("thread {}: --drop-reply: dropping the reply to {} #{} and closing connection {}", index_,
               wire::op_name(ctx->op), drop_seen_, conn->id);
  ++stats_.dropped_replies;
  release_ctx(ctx);
  close_conn(*conn, /*notify=*/false, wire::CloseReason::kError);
  return true;
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
  // ctx->ep may be UCX's reply endpoint, which no net::Endpoint owns.
  net::Request r = net::am_send(ctx->ep, wire::kAmReply, ctx->reply_hdr.data(), ctx->reply_hdr.size, data,
                                len, 0, &ProgressThread::send_done_cb, ctx);
  if (r.empty()) {
    release_ctx(ctx);
    return false;
  }
  if (r.failed()) {
    ++stats_.send_errors;
    spdlog::debug("thread {}: reply failed: {}", index_, ucs_status_string(r.status()));
    release_ctx(ctx);
    return false;
  }
  (void)r.release();
  return true;  // send_done_cb recycles ctx and frees the request
}

void ProgressThread::receive(OpCtx* ctx, void* desc, void* dst, size_t len,
                             void (*done)(OpCtx* ctx, ucs_status_t status, size_t length)) {
  ctx->on_received = done;
  net::Request r = worker_.am_recv_data(desc, dst, len, &ProgressThread::recv_done_cb, ctx);
  if (r.empty()) {
    done(ctx, UCS_OK, len);
  } else if (r.failed()) {
    done(ctx, r.status(), 0);
  } else {
    (void)r.release();  // recv_done_cb frees it
  }
}

// UCX hands each finished request of ours to these callbacks, which free it.

void ProgressThread::recv_done_cb(void* request, ucs_status_t status, size_t length, void* user_data) {
  auto* ctx = static_cast<OpCtx*>(user_data);
  net::Request(request).reset();
  ctx->on_received(ctx, status, length);
}

void ProgressThread::send_done_cb(void* request, ucs_status_t status, void* user_data) {
  auto* ctx = static_cast<OpCtx*>(user_data);
  auto* self = static_cast<ProgressThread*>(ctx->host);
  if (status != UCS_OK && status != UCS_ERR_CANCELED) ++self->stats_.send_errors;
  self->release_ctx(ctx);
  net::Request(request).reset();
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

void ProgressThread::attach(OpCtx* ctx, Conn& c) {
  ctx->conn_id = c.id;
  // Only this thread writes the count: no read-modify-write needed.
  c.activity->inflight.store(c.inflight() + 1, std::memory_order_relaxed);
}

void ProgressThread::release_ctx(OpCtx* ctx) {
  if (ctx->conn_id != 0) {
    Conn* c = ctx->conn_id == kReplyEpConnId ? &reply_ep_conn_ : find_by_id(ctx->conn_id);
    if (c != nullptr && c->inflight() > 0)
      c->activity->inflight.store(c->inflight() - 1, std::memory_order_relaxed);
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
