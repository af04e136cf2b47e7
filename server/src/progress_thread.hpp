#pragma once
// One progress thread: owns one UCX worker, the endpoints created on it and
// the state of their clients. Other threads reach it only through its inbox
// (+ Worker::signal). UCX callbacks only record; teardown happens in the loop.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "benchfs/core/inbox.hpp"
#include "benchfs/core/topology.hpp"
#include "benchfs/net/poll.hpp"
#include "benchfs/net/ucx.hpp"
#include "benchfs/protocol/codec.hpp"
#include "benchfs/registry/client_registry.hpp"
#include "benchfs/server/options.hpp"
#include "benchfs/storage/chunk_store.hpp"
#include "reply_cache.hpp"
#include "request_host.hpp"
#include "stats.hpp"

namespace benchfs::server {

class ServerImpl;

/// Work sent to a progress thread by other threads.
struct Command {
  enum class Kind : uint8_t { kNone, kAccept, kEvict, kStop };
  Kind kind = Kind::kNone;
  net::ConnRequest conn;  ///< kAccept
  uint64_t conn_id = 0;   ///< kEvict: connection of the evicted client
  uint64_t session = 0;   ///< kEvict: its session (ignored if it re-registered since)
  wire::CloseReason reason = wire::CloseReason::kEviction;
  /// kAccept: decremented once the request has become an endpoint or been
  /// rejected (the accept thread waits for it).
  std::atomic<uint32_t>* handed_off = nullptr;
};

/// A client connection: one endpoint on this thread's worker, and
/// everything this thread knows of it, from accept to the end of its close.
///   open      requests are served
///   draining  dropped (evicted, failed, shutting down): requests get
///             ENOTCONN; the endpoint is closed once none of ours is in flight
///   closing   the endpoint's close request is in flight (in the thread's
///             CloseReaper, under the connection's id)
struct Conn {
  enum class State : uint8_t { kOpen, kDraining, kClosing };
  uint64_t id = 0;  ///< never reused on this thread (UCX reuses endpoint handles)
  State state = State::kOpen;
  net::Endpoint ep;
  ucp_ep_h handle = nullptr;  ///< ep's handle, kept for the lookup once ep is closed
  std::string peer;
  uint64_t connected_at_ns = 0;
  std::string client_id;       ///< empty until REGISTER_CLIENT
  uint64_t session = 0;        ///< 0 until registered
  uint64_t last_touch_ns = 0;  ///< when the registry last heard this client was active
  /// Requests in flight (attached OpCtx), shared with the registry entry so
  /// that eviction can pass over a client that is working.
  std::shared_ptr<registry::ClientActivity> activity = std::make_shared<registry::ClientActivity>();
  uint64_t close_not_before_ns = 0;  ///< draining: not closed before (UCX's acks go out)
  uint64_t close_deadline_ns = 0;    ///< draining: closed then even with requests in flight

  [[nodiscard]] uint32_t inflight() const { return activity->inflight.load(std::memory_order_relaxed); }
};

class ProgressThread final : public RequestHost {
 public:
  ProgressThread(ServerImpl& server, uint32_t index, const net::Context& ctx, ucs_thread_mode_t mode,
                 net::PollConfig poll);
  ~ProgressThread() override;
  ProgressThread(const ProgressThread&) = delete;
  ProgressThread& operator=(const ProgressThread&) = delete;

  void start(const CoreSet* core, const Topology* topo);
  void join();

  /// From any thread. False only when the inbox is full (conn requests).
  void post(Command&& c);
  bool post_accept(Inbox<Command>::Producer& producer, Command&& c);
  Inbox<Command>::Producer make_producer() { return Inbox<Command>::Producer(inbox_); }

  [[nodiscard]] uint32_t index() const { return index_; }
  ThreadCounters& counters() { return counters_; }
  /// Valid after join().
  [[nodiscard]] const ThreadStats& stats() const { return stats_; }

  // ---- used by the request handlers (on this thread only) ----
  ServerImpl& server() { return server_; }
  net::Worker& worker() { return worker_; }
  /// Sends ctx's reply (header already in ctx->reply_hdr) with optional data,
  /// then recycles ctx once UCX is done with it (as reply() does).
  bool send_reply(OpCtx* ctx, const void* data, size_t len);
  bool reply(OpCtx* ctx, wire::Reply& r, const void* data = nullptr, size_t len = 0) override;
  void reply_error(OpCtx* ctx, int err) override;
  void receive(OpCtx* ctx, void* desc, void* dst, size_t len,
               void (*done)(OpCtx* ctx, ucs_status_t status, size_t length)) override;
  bool receive_done(OpCtx* ctx, ucs_status_t status) override;
  /// The connection ctx was received on, if it is still open.
  Conn* conn_of(const OpCtx* ctx);
  OpCtx* acquire_ctx();
  /// Ties ctx to connection c (counted in its in-flight requests until release_ctx).
  void attach(OpCtx* ctx, Conn& c);
  void release_ctx(OpCtx* ctx);

 private:
  void run(const CoreSet* core, const Topology* topo);
  size_t drain_inbox();
  size_t run_deferred();
  void accept(net::ConnRequest&& req);
  void evict(const Command& c);
  /// Open -> draining: drops c's registration, optionally notifies the
  /// client, and closes the endpoint now or (requests in flight, notice
  /// sent) once they are done.
  void close_conn(Conn& c, bool notify, wire::CloseReason reason);
  /// Draining -> closing (or gone, when UCX closes at once).
  void start_close(Conn& c);
  /// Moves draining connections on and erases those whose close finished;
  /// returns the steps taken.
  size_t advance_closes();
  /// The connection with endpoint handle ep, open or draining.
  Conn* find_by_ep(ucp_ep_h ep);
  Conn* find_by_id(uint64_t id);
  void erase_conn(uint64_t id);
  void begin_drain();
  void teardown();

  ucs_status_t on_request(const void* header, size_t header_len, void* data, size_t len,
                          const ucp_am_recv_param_t* param);
  static ucs_status_t am_request_cb(void* arg, const void* header, size_t header_len, void* data, size_t len,
                                    const ucp_am_recv_param_t* param);
  static void ep_error_cb(void* arg, ucp_ep_h ep, ucs_status_t status);
  static void send_done_cb(void* request, ucs_status_t status, void* user_data);
  static void recv_done_cb(void* request, ucs_status_t status, size_t length, void* user_data);
  void send_error_reply(Conn& c, uint8_t op, uint64_t request_id, int err);

  ServerImpl& server_;
  const uint32_t index_;
  /// The request being handled under an at-most-once slot (reply() records its reply).
  const OpCtx* once_ctx_ = nullptr;
  ReplyCache::Slot* once_slot_ = nullptr;
  /// --drop-reply: the fault to inject and the replies to its op so far.
  const DropReply drop_;
  uint64_t drop_seen_ = 0;
  /// True when this reply is to be dropped (fault injection).
  bool drop_this(OpCtx* ctx);
  /// Clients of the reply_ep connection mode have no connection of ours:
  /// they reach this worker by its address and present reply_ep_session_
  /// (derived from the job secret) instead of a registered session. Their
  /// requests share this one Conn (id kReplyEpConnId) and are answered on
  /// the reply endpoint UCX hands the AM callback.
  static constexpr uint64_t kReplyEpConnId = UINT64_MAX;
  const uint64_t reply_ep_session_;
  Conn reply_ep_conn_;
  net::Worker worker_;  // declared before everything holding endpoints
  net::PollConfig poll_;
  Inbox<Command> inbox_;
  ThreadCounters counters_;
  std::thread thread_;

  /// Every connection of this thread, by id, from accept until its close
  /// has completed: the one place a connection's state lives.
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  /// Endpoint handle -> id for open and draining connections (UCX's
  /// callbacks name the endpoint); an entry goes when the close starts.
  std::unordered_map<ucp_ep_h, uint64_t> by_ep_;
  /// Ids of the draining connections (advance_closes' work list).
  std::vector<uint64_t> retiring_;
  /// Close requests of the closing connections, by connection id.
  net::CloseReaper closes_;
  /// Connections whose endpoint failed (recorded by ep_error_cb, closed by the loop).
  std::vector<uint64_t> failed_;
  uint64_t next_conn_id_ = 1;
  ucp_ep_h last_ep_ = nullptr;  ///< find_by_ep's one-entry cache (open connections only)
  Conn* last_conn_ = nullptr;
  static constexpr uint64_t kDeferredCloseBoundNs = 2'000'000'000ULL;
  static constexpr uint64_t kCloseGraceNs = 20'000'000ULL;
  std::vector<std::unique_ptr<OpCtx>> ctx_all_;  ///< owns every OpCtx ever made
  std::vector<OpCtx*> ctx_free_;
  bool stop_ = false;  ///< Stop command seen: draining
  uint64_t drain_deadline_ns_ = 0;
};

}  // namespace benchfs::server
