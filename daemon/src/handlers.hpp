#pragma once
// RPC handlers: one function per op, called on the progress thread that
// received the request, after decoding and session checks. Each handler
// answers exactly once (possibly later, from a completion callback).

#include <ucp/api/ucp.h>

#include "benchfs/net/codec.hpp"
#include "progress_thread.hpp"

namespace benchfs::server {

/// The AM data as received: eager bytes, or a rendezvous descriptor.
struct RequestData {
  void* data = nullptr;
  size_t len = 0;
  bool rndv = false;
  uint64_t recv_attr = 0;
};

/// Dispatches by op. Returns what the AM callback must return to UCX
/// (UCS_INPROGRESS when the data descriptor was kept or a receive started).
ucs_status_t handle_request(ProgressThread& t, Conn& conn, OpCtx* ctx, const wire::Request& req,
                            const RequestData& data);

/// File-system ops (fs_handlers.cpp).
ucs_status_t handle_fs_request(ProgressThread& t, OpCtx* ctx, const wire::Request& req,
                               const RequestData& data);

}  // namespace benchfs::server
