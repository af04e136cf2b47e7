#include "handlers.hpp"

#include <spdlog/spdlog.h>

#include <cstring>

#include "benchfs/core/clock.hpp"
#include "benchfs/core/random.hpp"
#include "server_impl.hpp"

namespace benchfs::server {

namespace {

// Compares secrets without an early exit.
bool secret_matches(uint64_t a, uint64_t b) {
  volatile uint64_t diff = a ^ b;
  return diff == 0;
}

ucs_status_t handle_register(ProgressThread& t, Conn& conn, OpCtx* ctx, const wire::Request& req) {
  ServerImpl& server = t.server();
  if (!secret_matches(req.secret, server.secret())) {
    ++t.mutable_stats().auth_failures;
    spdlog::warn("thread {}: rejected client '{}' from {}: wrong job secret", t.index(), req.client_id,
                 conn.peer);
    t.reply_error(ctx, EACCES);
    return UCS_OK;
  }
  if (conn.session != 0) server.clients().erase(conn.client_id, conn.session);

  const uint64_t now = now_ns();
  registry::ClientEntry entry;
  entry.client_id = std::string(req.client_id);
  entry.thread = t.index();
  entry.conn = conn.id;
  entry.activity = conn.activity;
  entry.session = secure_random_u64();
  entry.peer = conn.peer;
  entry.connected_at_ns = conn.connected_at_ns;
  entry.last_used_ns = now;
  conn.client_id = entry.client_id;
  conn.session = entry.session;
  conn.last_touch_ns = coarse_ns();
  auto result = server.clients().insert(std::move(entry));

  wire::Reply r;
  r.session = conn.session;
  r.thread = t.index();
  r.node = server.node();
  t.reply(ctx, r);
  spdlog::debug("thread {}: registered client '{}' from {}", t.index(), conn.client_id, conn.peer);
  if (server.options().debug_endpoints)
    spdlog::info("thread {}: endpoint of client '{}' ({}):\n{}", t.index(), conn.client_id, conn.peer,
                 conn.ep.info());

  if (result.replaced && (result.replaced->thread != t.index() || result.replaced->conn != conn.id))
    server.close_client(*result.replaced, wire::CloseReason::kReplaced);
  if (result.over_capacity) server.note_over_capacity();
  for (const auto& evicted : result.evicted) server.close_client(evicted, wire::CloseReason::kEviction);
  return UCS_OK;
}

void ping_recv_done(OpCtx* ctx, ucs_status_t status, size_t length) {
  RequestHost& t = *ctx->host;
  if (!t.receive_done(ctx, status)) return;
  wire::Reply r;
  r.length = length;
  t.reply(ctx, r, ctx->buf.data(), length);
}

ucs_status_t handle_ping(RequestHost& t, OpCtx* ctx, const wire::Request& req, const RequestData& d) {
  const uint64_t n = req.length;
  t.mutable_stats().ops[static_cast<size_t>(wire::Op::kPing)].bytes_in += n;
  wire::Reply r;
  r.length = n;
  if (n == 0) {
    t.reply(ctx, r);
    return UCS_OK;
  }
  if (d.rndv) {
    // Receive straight into the echo buffer, reply when it has landed.
    ctx->buf.resize(n);
    t.receive(ctx, d.data, ctx->buf.data(), n, &ping_recv_done);
    return UCS_INPROGRESS;
  }
  if ((d.recv_attr & UCP_AM_RECV_ATTR_FLAG_DATA) != 0) {
    // Persistent eager data: echo it in place, hold it until the send is done.
    if (t.reply(ctx, r, d.data, n)) {
      ctx->am_desc = d.data;
      return UCS_INPROGRESS;
    }
    return UCS_OK;
  }
  // Transient eager data (small): copy, since the send may outlive this callback.
  const auto* p = static_cast<const std::byte*>(d.data);
  ctx->buf.assign(p, p + n);
  t.reply(ctx, r, ctx->buf.data(), n);
  return UCS_OK;
}

}  // namespace

ucs_status_t handle_request(ProgressThread& t, Conn& conn, OpCtx* ctx, const wire::Request& req,
                            const RequestData& data) {
  switch (req.op) {
    case wire::Op::kRegisterClient:
      return handle_register(t, conn, ctx, req);
    case wire::Op::kShutdown: {
      wire::Reply r;
      t.reply(ctx, r);
      spdlog::info("shutdown requested by client '{}' ({})", conn.client_id, conn.peer);
      t.server().request_stop();
      return UCS_OK;
    }
    default:
      return handle_host_request(t, ctx, req, data);
  }
}

ucs_status_t handle_host_request(RequestHost& h, OpCtx* ctx, const wire::Request& req,
                                 const RequestData& data) {
  switch (req.op) {
    case wire::Op::kPing:
      return handle_ping(h, ctx, req, data);
    case wire::Op::kRegisterClient:
    case wire::Op::kShutdown:
      h.reply_error(ctx, EINVAL);  // only handle_request takes these (they need the whole server)
      return UCS_OK;
    default:
      return handle_fs_request(h, ctx, req, data);
  }
}

}  // namespace benchfs::server
