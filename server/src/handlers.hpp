#pragma once
// RPC handlers: one function per op, called on the progress thread that
// received the request, after decoding and session checks. Each handler
// answers exactly once (possibly later, from a completion callback).

#include <ucp/api/ucp.h>

#include "benchfs/protocol/codec.hpp"
#include "progress_thread.hpp"

namespace benchfs::server {

/// Dispatches by op. Returns what the AM callback must return to UCX
/// (UCS_INPROGRESS when the data descriptor was kept or a receive started).
ucs_status_t handle_request(ProgressThread& t, Conn& conn, OpCtx* ctx, const wire::Request& req,
                            const RequestData& data);

/// Every op but REGISTER_CLIENT and SHUTDOWN (answered EINVAL here): PING
/// and the file-system ops, which need only what a RequestHost gives.
ucs_status_t handle_host_request(RequestHost& h, OpCtx* ctx, const wire::Request& req,
                                 const RequestData& data);

/// File-system ops (fs_handlers.cpp).
ucs_status_t handle_fs_request(RequestHost& h, OpCtx* ctx, const wire::Request& req, const RequestData& data);

}  // namespace benchfs::server
