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
#include "benchfs/net/codec.hpp"
#include "benchfs/net/poll.hpp"
#include "benchfs/net/ucx.hpp"
#include "benchfs/storage/chunk_store.hpp"
#include "request_host.hpp"
#include "stats.hpp"

namespace benchfs::server {

class ServerImpl;

/// Work sent to a progress thread by other threads.
struct Command {
  enum class Kind : uint8_t { kNone, kAccept, kEvict, kStop };
  Kind kind = Kind::kNone;
  net::ConnRequest conn;  ///< kAccept
  ucp_ep_h ep = nullptr;  ///< kEvict: endpoint of the evicted client
  uint64_t session = 0;   ///< kEvict: its session (ignored if it re-registered since)
  wire::CloseReason reason = wire::CloseReason::kEviction;
  /// kAccept: decremented once the request has become an endpoint or been
  /// rejected (the accept thread waits for it).
  std::atomic<uint32_t>* handed_off = nullptr;
};

/// A client connection (one endpoint on this thread's worker).
struct Conn {
  uint64_t id = 0;
  net::Endpoint ep;
  std::string peer;
  uint64_t connected_at_ns = 0;
  std::string client_id;       ///< empty until REGISTER_CLIENT
  uint64_t session = 0;        ///< 0 until registered
  uint64_t last_touch_ns = 0;  ///< when the registry last heard this client was active
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
  Conn* find_conn(ucp_ep_h ep);
  OpCtx* acquire_ctx();
  /// Ties ctx to a connection (counted in ops_by_conn_ until release_ctx).
  void attach(OpCtx* ctx, ucp_ep_h ep, uint64_t conn_id);
  /// Requests of connection conn_id in flight.
  [[nodiscard]] uint32_t inflight(uint64_t conn_id) const;
  void release_ctx(OpCtx* ctx);

 private:
  void run(const CoreSet* core, const Topology* topo);
  size_t drain_inbox();
  size_t run_deferred();
  void accept(net::ConnRequest&& req);
  void evict(const Command& c);
  void close_conn(ucp_ep_h ep, bool notify, wire::CloseReason reason);
  void begin_drain();
  void teardown();

  ucs_status_t on_request(const void* header, size_t header_len, void* data, size_t len,
                          const ucp_am_recv_param_t* param);
  static ucs_status_t am_request_cb(void* arg, const void* header, size_t header_len, void* data, size_t len,
                                    const ucp_am_recv_param_t* param);
  static void ep_error_cb(void* arg, ucp_ep_h ep, ucs_status_t status);
  static void send_done_cb(void* request, ucs_status_t status, void* user_data);
  static void recv_done_cb(void* request, ucs_status_t status, size_t length, void* user_data);
  void send_error_reply(ucp_ep_h ep, uint64_t conn_id, uint8_t op, uint64_t request_id, int err);

  ServerImpl& server_;
  const uint32_t index_;
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

  std::unordered_map<ucp_ep_h, std::unique_ptr<Conn>> conns_;
  uint64_t next_conn_id_ = 1;
  ucp_ep_h last_ep_ = nullptr;  ///< find_conn's one-entry cache
  Conn* last_conn_ = nullptr;
  struct FailedEp {
    ucp_ep_h ep;
    uint64_t conn_id;
  };
  std::vector<FailedEp> failed_;           ///< recorded by ep_error_cb
  std::vector<ucs_status_ptr_t> closing_;  ///< close requests still in flight
  /// Requests in flight (OpCtx attached) per connection id; an entry is
  /// made by the connection's first request and dropped when it closes (no
  /// allocation per request).
  std::unordered_map<uint64_t, uint32_t> ops_by_conn_;
  /// Connections dropped but not closed yet (see close_conn): closed once
  /// none of their requests is in flight and not before not_before_ns, or
  /// after kDeferredCloseBoundNs.
  struct DeferredClose {
    net::Endpoint ep;
    uint64_t conn_id = 0;
    uint64_t deadline_ns = 0;
    uint64_t not_before_ns = 0;
  };
  std::vector<DeferredClose> deferred_close_;
  static constexpr uint64_t kDeferredCloseBoundNs = 2'000'000'000ULL;
  static constexpr uint64_t kCloseGraceNs = 20'000'000ULL;
  std::vector<std::unique_ptr<OpCtx>> ctx_all_;  ///< owns every OpCtx ever made
  std::vector<OpCtx*> ctx_free_;
  bool stop_ = false;  ///< Stop command seen: draining
  uint64_t drain_deadline_ns_ = 0;
};

}  // namespace benchfs::server
