#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "benchfs/core/clock.hpp"
#include "benchfs/core/topology.hpp"
#include "benchfs/net/ucx.hpp"
#include "benchfs/registry/client_registry.hpp"
#include "benchfs/server/options.hpp"
#include "benchfs/storage/chunk_store.hpp"
#include "benchfs/storage/metadata_store.hpp"
#include "progress_thread.hpp"
#include "reply_cache.hpp"

namespace benchfs::server {

class ServerImpl {
 public:
  ServerImpl(const ServerOptions& opts, const Bootstrap& boot);
  ~ServerImpl();
  ServerImpl(const ServerImpl&) = delete;
  ServerImpl& operator=(const ServerImpl&) = delete;

  void start();
  void stop();
  void request_stop();
  [[nodiscard]] bool stop_requested() const { return stop_requested_.load(std::memory_order_acquire); }
  bool wait_for_stop_request(int timeout_ms);

  [[nodiscard]] const ServerOptions& options() const { return opts_; }
  [[nodiscard]] uint32_t node() const { return boot_.rank; }
  [[nodiscard]] uint64_t secret() const { return secret_; }
  [[nodiscard]] uint64_t chunk_size() const { return chunk_size_; }
  [[nodiscard]] const std::string& address() const { return address_; }
  [[nodiscard]] unsigned thread_count() const { return static_cast<unsigned>(threads_.size()); }
  registry::ClientRegistry& clients() { return clients_; }
  /// Replies of at-most-once requests, by client id (survives evictions).
  ReplyCache& replies() { return replies_; }
  [[nodiscard]] uint32_t server_count() const { return boot_.size; }
  /// File data and namespace held here (shared by the progress threads).
  storage::ChunkStore& chunks() { return *chunks_; }
  storage::MetadataStore& meta() { return *meta_; }
  /// Bytes of file data this server may hold: the limit, or the machine's memory.
  [[nodiscard]] uint64_t capacity() const;

  /// Routes the close of a replaced or evicted client to its owning thread.
  void close_client(const registry::ClientEntry& e, wire::CloseReason reason);
  /// A registration left the registry over capacity: warns, at most every 10 s.
  void note_over_capacity();

  [[nodiscard]] nlohmann::json stats_json() const;

 private:
  static void conn_cb(ucp_conn_request_h req, void* arg);
  void log_reserve(bool full) const;
  void on_conn_request(ucp_conn_request_h req);
  /// Warns when `host` is on no device UCX_NET_DEVICES allows.
  void warn_if_unreachable(const std::string& host) const;
  void accept_loop();
  void hand_off_arrived();
  void plan_threads();
  void write_stats_file() const;

  ServerOptions opts_;
  Bootstrap boot_;
  uint64_t secret_ = 0;
  uint64_t chunk_size_ = 0;
  uint64_t started_ns_ = 0;
  TickRate tick_rate_;  ///< converts the latency histograms' ticks to time
  std::string address_;

  std::unique_ptr<Topology> topo_;
  std::vector<CoreSet> cores_;
  CoreSet accept_core_;
  std::vector<CoreSet> thread_cores_;

  registry::ClientRegistry clients_;
  ReplyCache replies_;
  // Declared before the threads: in-flight replies hold chunk leases.
  std::unique_ptr<storage::ChunkStore> chunks_;
  std::unique_ptr<storage::MetadataStore> meta_;
  net::CpuPressure pressure_;  ///< shared by the progress threads' idlers
  std::unique_ptr<net::Context> ctx_;
  std::unique_ptr<net::Worker> listen_worker_;
  std::unique_ptr<net::Listener> listener_;
  std::vector<std::unique_ptr<ProgressThread>> threads_;
  std::vector<Inbox<Command>::Producer> producers_;  ///< the accept thread's, one per inbox
  std::thread accept_thread_;
  std::atomic<bool> accept_stop_{false};
  /// Connection requests of the current listener-worker progress call;
  /// handed off once it has returned (see hand_off_arrived).
  std::vector<net::ConnRequest> arrived_;
  std::atomic<uint32_t> handoffs_in_flight_{0};
  uint64_t slow_handoffs_ = 0;
  uint64_t rejected_while_stopping_ = 0;
  uint64_t rejected_inbox_full_ = 0;
  std::atomic<uint64_t> over_capacity_warned_ns_{0};

  std::atomic<bool> stop_requested_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool started_ = false;
  bool stopped_ = false;
  ThreadStats totals_;
};

}  // namespace benchfs::server
