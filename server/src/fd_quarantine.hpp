#pragma once
// Socket descriptor quarantine: a workaround for a UCX bug, in benchfsd_mt
// only (the file defining it interposes close(3) for the whole process, so it
// must never go into a library a client links).
//
// The bug (UCX < 1.18, fixed upstream by openucx/ucx PR #9942): UCX's async
// thread queues a socket event for a worker whose async context is busy
// ("missed" events, keyed by descriptor number). When the endpoint is closed
// before that worker polls its queue, the entry stays; if the kernel hands
// the same descriptor number to a new connection of *another* worker (the
// accept thread's, or another progress thread's) in the meantime, the old
// worker finds that handler and aborts the server: "async.c:643 Assertion
// `handler->async == async' failed". Under client churn (eviction, many
// short IOR runs) this killed a server within seconds.
//
// While enabled, closing a socket replaces it in place with a /dev/null
// descriptor (dup3: the socket itself is closed at once, its peer sees the
// close as before) and only frees the number after `hold`. Every worker
// polls its queue far more often than that (a progress thread sleeps at
// most 100 ms), so a stale entry finds no handler and UCX skips it.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace benchfs::server::fd_quarantine {

/// True when the UCX in use has the bug (runtime version below 1.18).
bool ucx_needs_it();

/// Turns the quarantine on. `max_held` bounds the numbers held at once (the
/// oldest is freed early past it). False, with errno, if /dev/null cannot
/// be opened.
bool enable(std::chrono::milliseconds hold, size_t max_held);

/// Frees the numbers held longer than `hold`. Call periodically (closes
/// also do it).
void sweep();

struct Stats {
  uint64_t held = 0;            ///< numbers held now
  uint64_t quarantined = 0;     ///< sockets closed through the quarantine
  uint64_t released_early = 0;  ///< freed before `hold` because max_held was reached
};
Stats stats();

}  // namespace benchfs::server::fd_quarantine
