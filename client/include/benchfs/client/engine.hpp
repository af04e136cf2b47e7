#pragma once
// The client engine behind libbenchfs: one UCX worker, one persistent
// endpoint per server (opened lazily or all at start with prewarm), client
// registration, RPCs with deadlines, reconnect on CONNECTION_CLOSE or
// endpoint errors. Thread safe: one mutex guards the worker and the state;
// a waiting thread progresses the worker for everyone.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "benchfs/client/pending_table.hpp"
#include "benchfs/core/status.hpp"
#include "benchfs/net/poll.hpp"
#include "benchfs/net/ucx.hpp"
#include "benchfs/protocol/codec.hpp"
#include "benchfs/registry/server_list.hpp"

namespace benchfs::client {

/// How a client reaches the servers.
///   persistent  one endpoint per server through the server's listener,
///               REGISTER_CLIENT, replies on that endpoint (the default)
///   reply_ep    one endpoint per server made from a progress thread's
///               published worker address, no listener and no
///               registration; the server answers on the reply endpoint
///               UCX hands it with each request (the method the persistent
///               design replaced, kept to measure the two side by side)
enum class ConnectMode { kPersistent, kReplyEp };
Result<ConnectMode> parse_connect_mode(std::string_view text);
std::string_view connect_mode_name(ConnectMode mode);

struct ClientOptions {
  std::string registry;              ///< directory of server_list.txt
  std::string client_id;             ///< empty: "<host>:<pid>:<n>"
  bool prewarm = false;              ///< connect to every server at start
  uint64_t rpc_timeout_ms = 10'000;  ///< no call waits longer than this
  uint64_t wait_ready_ms = 30'000;   ///< how long start waits for the registry to become ready
  net::PollMode poll = net::PollMode::kAdaptive;
  /// Adaptive: how long a caller waiting for a reply spins before it sleeps
  /// on the worker (env BENCHFS_SPIN_US). A reply is due, so the budget is
  /// long: with 20 us, a 64 KiB write (the server copies for ~20 us) slept
  /// on almost every call and ran at half the speed of a busy client. It is
  /// cut short when the CPUs are oversubscribed or the thread is preempted.
  uint64_t spin_ns = 1'000'000;
  /// Secret to present instead of the registry's (tests of rejection only).
  uint64_t secret_override = 0;
  /// Most RPCs one call_all keeps in flight (env BENCHFS_IO_WINDOW).
  size_t io_window = 16;
  ConnectMode connect = ConnectMode::kPersistent;  ///< env BENCHFS_CONNECT
  /// Request payloads (WRITE_CHUNK and PING data) up to this size are sent
  /// eagerly (env BENCHFS_EAGER_MAX, k/m suffixes; 0 = never): copied
  /// through UCX's buffers instead of a rendezvous in which the server pins
  /// the caller's pages one by one.
  size_t eager_max = 64 * 1024;
};

/// One RPC of a batch (Client::call_all).
struct Call {
  uint32_t server = 0;
  wire::Request req;
  const void* send_data = nullptr;  ///< AM data (payload); must stay valid until call_all returns
  size_t send_len = 0;
  void* recv_buf = nullptr;  ///< reply data lands here (rendezvous: straight from the network)
  size_t recv_cap = 0;
  /// True: may simply be sent again after a lost connection. False: sent
  /// again only at most once (kFlagOnce, persistent mode), else its loss is
  /// the caller's error.
  bool idempotent = true;
  // ---- results ----
  Status status;      ///< local failure (timeout, connection); ok: see reply.status
  wire::Reply reply;  ///< the server's answer when status is ok
  size_t recv_len = 0;
};

struct ClientStats {
  uint64_t rpcs = 0;
  uint64_t timeouts = 0;
  uint64_t connects = 0;
  uint64_t reconnects = 0;
  uint64_t retries = 0;
  uint64_t close_notifications = 0;
  uint64_t endpoint_errors = 0;
  uint64_t stray_replies = 0;
  // From the SpinPolicy of reply waits:
  uint64_t sleeps = 0;            ///< waits for a reply that slept on the worker
  uint64_t wakeups = 0;           ///< such sleeps ended by an event (not by their timeout)
  uint64_t preempted_spins = 0;   ///< spins cut short by an involuntary context switch
  uint64_t congested_sleeps = 0;  ///< sleeps without spinning: CPUs oversubscribed
  uint64_t yields = 0;            ///< CPU offered while spinning (threads waiting for one)
};

/// Fills defaults from the environment: BENCHFS_REGISTRY, BENCHFS_CLIENT_ID,
/// BENCHFS_RPC_TIMEOUT_MS, BENCHFS_POLL, BENCHFS_SPIN_US, BENCHFS_IO_WINDOW,
/// BENCHFS_CONNECT.
/// A BENCHFS_POLL or BENCHFS_CONNECT that does not parse is an EINVAL
/// naming the variable; other unparsable values keep their defaults.
Result<ClientOptions> options_from_env();

class Client {
 public:
  /// Waits for the registry, reads it and sets up UCX (and connects to every
  /// server with prewarm).
  static Result<std::unique_ptr<Client>> create(const ClientOptions& opts);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  [[nodiscard]] uint32_t server_count() const { return static_cast<uint32_t>(list_.servers.size()); }
  [[nodiscard]] uint64_t chunk_size() const { return list_.info.chunk_size; }
  [[nodiscard]] const std::string& client_id() const { return opts_.client_id; }
  [[nodiscard]] const registry::ServerList& servers() const { return list_; }
  [[nodiscard]] const ClientOptions& options() const { return opts_; }

  /// Sends `len` bytes to server `server` and receives them back into `echo`
  /// (may be null). EINVAL for a bad server index or a size over 4 MiB,
  /// EIO if the echo differs in length, ETIMEDOUT, ECONNREFUSED, ...
  Status ping(uint32_t server, const void* payload, size_t len, void* echo);
  /// Asks server `server` to shut down.
  Status shutdown_server(uint32_t server);
  /// Connects and registers with every server not yet connected.
  Status connect_all();
  /// Progress thread of server `server` serving this client, or -1.
  int server_thread(uint32_t server);
  /// Connects (and registers) with server `server` alone, within
  /// rpc_timeout_ms; nothing to do when connected (benchfs_bench doctor).
  Status connect(uint32_t server);
  /// ucp_ep_print_info of the endpoint to server `server`: the lanes,
  /// transports and devices UCX chose ("" when not connected).
  std::string endpoint_info(uint32_t server);

  /// One RPC: sends req (with send_data as its AM data) and waits for the
  /// reply; reply data lands in recv_buf (at most recv_cap bytes). A lost
  /// connection (eviction, endpoint error) is recovered within the RPC
  /// timeout: reconnect, re-register, send again (see call_recovering).
  Result<wire::Reply> call(uint32_t server, wire::Request& req, const void* send_data, size_t send_len,
                           void* recv_buf, size_t recv_cap, bool idempotent);

  /// Runs every call of `calls`, at most opts.io_window at once, spread
  /// over their servers; returns once all have completed or failed (each
  /// call's status / reply says which). No call waits past rpc_timeout_ms
  /// from the start of the batch, except that a call whose connection was
  /// lost recovers (call_recovering) within a timeout of its own after it.
  void call_all(Call* calls, size_t n);

  [[nodiscard]] ClientStats stats() const;

 private:
  struct Conn;
  struct Pending;
  struct SendBuffers;
  class Batch;  ///< one call_all's window of requests in flight
  explicit Client(const ClientOptions& opts);
  Status init();

  // ---- the connection set (connections.cpp)
  Status ensure_connected(std::unique_lock<std::mutex>& lock, Conn& c, uint64_t deadline_ns);
  /// ensure_connected, tried again (with backoff) after a connection lost
  /// while connecting or registering (evicted at once, reset) until the
  /// deadline; a refused connection a few times only.
  Status connect_recovering(std::unique_lock<std::mutex>& lock, Conn& c, uint64_t deadline_ns);
  [[nodiscard]] bool is_retiring(const Conn& c) const;
  void start_connect(Conn& c);
  /// Fails the calls on c and takes it down. `server_closes`: the server is
  /// closing its side (eviction), so ours waits for that disconnect.
  void mark_broken(Conn& c, int err, const char* why, bool server_closes = false);
  /// progress_until_idle's upkeep when maintenance_ is set: closes the
  /// connections marked broken and the retiring endpoints whose disconnect
  /// came (or whose wait for it ran out).
  void close_marked();

  // ---- RPCs (engine.cpp; call_all's Batch in batch.cpp)
  /// Sends req on c as p. request_id 0: a new id; else the id of an
  /// earlier attempt of the same call. `once`: at-most-once (kFlagOnce).
  Status post(Conn& c, Pending& p, const wire::Request& req, const void* data, size_t len,
              uint64_t request_id = 0, bool once = false);
  Status wait(std::unique_lock<std::mutex>& lock, Pending& p, uint64_t deadline_ns,
              uint64_t max_spin_ns = UINT64_MAX);
  /// Frees p's send request once UCX completed it; true when p is finished.
  bool poll_pending(Pending& p);
  /// Progresses (spinning, then sleeping as the poll mode says) until
  /// done() is true or the deadline passes. Adaptive mode spins at most
  /// max_spin_ns (and the current budget) before it sleeps.
  template <class Done>
  Status wait_until(std::unique_lock<std::mutex>& lock, Done&& done, uint64_t deadline_ns,
                    uint64_t max_spin_ns = UINT64_MAX);
  void abandon(std::unique_lock<std::mutex>& lock, Pending& p);
  /// Arms the worker and sleeps on its event fd (lock released) for at most
  /// max_ms. False, without sleeping, when events are already pending.
  bool sleep_on_worker(std::unique_lock<std::mutex>& lock, int max_ms, bool* woken = nullptr);
  /// Progresses the worker until it is idle, then closes connections marked
  /// broken and reaps finished closes. Returns the events progressed.
  unsigned progress_until_idle();
  /// Another thread may sleep on the worker's fd while this one completed
  /// its call: wake it.
  void wake_sleepers() {
    if (sleepers_ > 0) worker_->signal();
  }
  /// One attempt of a call. *request_id (if given): the id to send with
  /// (0: a new one, stored back).
  Result<wire::Reply> call_once(std::unique_lock<std::mutex>& lock, Conn& c, wire::Request& req,
                                const void* send_data, size_t send_len, void* recv_buf, size_t recv_cap,
                                uint64_t deadline_ns, size_t* recv_len = nullptr,
                                uint64_t* request_id = nullptr, bool once = false);
  /// A call that recovers from lost connections: reconnects, re-registers
  /// and sends again with backoff until deadline_ns. Every attempt carries
  /// the same request id; calls that are not idempotent go at most once
  /// (kFlagOnce: the server answers a repeat with its first reply).
  /// request_id: the id an earlier attempt used (0: none yet).
  Result<wire::Reply> call_recovering(std::unique_lock<std::mutex>& lock, Conn& c, wire::Request& req,
                                      const void* send_data, size_t send_len, void* recv_buf, size_t recv_cap,
                                      bool idempotent, uint64_t deadline_ns, size_t* recv_len = nullptr,
                                      uint64_t request_id = 0, unsigned attempt = 0);
  /// Counts recovery attempt `attempt` and waits (lock released,
  /// progressing) before it; ETIMEDOUT, naming `what`, once the deadline has
  /// passed.
  Status back_off(std::unique_lock<std::mutex>& lock, unsigned attempt, uint64_t deadline_ns,
                  const std::string& what);
  /// May a call that is not idempotent be sent again? Only with at-most-once.
  [[nodiscard]] bool once_supported() const { return opts_.connect == ConnectMode::kPersistent; }

  // ---- UCX callbacks (engine.cpp; on_notify and ep_error_cb, the connection
  // events, in connections.cpp)
  ucs_status_t on_reply(const void* header, size_t header_len, void* data, size_t len,
                        const ucp_am_recv_param_t* param);
  ucs_status_t on_notify(const void* header, size_t header_len);
  static ucs_status_t reply_cb(void* arg, const void* header, size_t header_len, void* data, size_t len,
                               const ucp_am_recv_param_t* param);
  static ucs_status_t notify_cb(void* arg, const void* header, size_t header_len, void* data, size_t len,
                                const ucp_am_recv_param_t* param);
  static void ep_error_cb(void* arg, ucp_ep_h ep, ucs_status_t status);
  static void recv_done_cb(void* request, ucs_status_t status, size_t length, void* user_data);

  ClientOptions opts_;
  registry::ServerList list_;
  uint64_t secret_ = 0;
  std::vector<net::SockAddr> addrs_;
  /// reply_ep mode: each server's progress-thread worker addresses.
  std::vector<std::vector<std::string>> worker_addrs_;

  mutable std::mutex mu_;
  std::unique_ptr<net::Context> ctx_;
  std::unique_ptr<net::Worker> worker_;
  std::vector<std::unique_ptr<Conn>> conns_;
  PendingTable<Pending> pending_;  ///< calls awaiting replies, by request id
  /// Flushing closes of our endpoints (closes_.close(ep)); progress_until_idle reaps them.
  net::CloseReaper closes_;
  /// Sends given up on while UCX still held them, with the buffers they read.
  struct Orphan {
    net::Request req;
    std::unique_ptr<SendBuffers> bufs;
  };
  std::vector<Orphan> orphans_;
  /// Endpoints the server is closing: closed once its disconnect arrives.
  struct Retiring {
    Conn* conn = nullptr;
    net::Endpoint ep;
    uint64_t deadline_ns = 0;
    bool failed = false;
  };
  std::vector<Retiring> retiring_;
  net::CpuPressure pressure_;  ///< adaptive waiting spins only while CPUs are not oversubscribed
  net::SpinPolicy policy_;     ///< when a reply wait spins and when it sleeps (guarded by mu_)
  uint64_t next_request_id_ = 1;
  int sleepers_ = 0;          ///< threads sleeping on the worker's event fd
  bool maintenance_ = false;  ///< some connection needs closing
  ClientStats stats_;
};

}  // namespace benchfs::client
