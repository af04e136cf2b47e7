#pragma once
// A BenchFS server: an accept thread that owns the UCX listener and hands
// each connection request to one of N progress threads, each owning one UCX
// worker, through lock-free inboxes (DESIGN.md section 2).

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "benchfs/core/status.hpp"
#include "benchfs/server/options.hpp"

namespace benchfs::server {

class ServerImpl;

class Server {
 public:
  /// Starts threads and listener, appends this rank to the server list and,
  /// on rank 0 after the barrier, publishes the list. Throws Error.
  static std::unique_ptr<Server> start(const ServerOptions& opts, const Bootstrap& boot);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Asks the server to stop (thread-safe, returns at once).
  void request_stop();
  /// True once a stop was requested (SHUTDOWN RPC or request_stop).
  [[nodiscard]] bool stop_requested() const;
  /// Waits up to `timeout_ms` for a stop request; true if one came.
  bool wait_for_stop_request(int timeout_ms);
  /// Stops: closes the listener, sends CONNECTION_CLOSE(shutdown) to every
  /// client, flushes and closes endpoints (bounded by shutdown_timeout_ms),
  /// joins the threads, withdraws the list (rank 0) and writes --stats.
  /// Idempotent.
  void stop();

  /// "host:port" as written to the server list.
  [[nodiscard]] std::string address() const;
  [[nodiscard]] unsigned threads() const;
  /// Statistics as written to the stats file (complete once stopped).
  [[nodiscard]] nlohmann::json stats_json() const;

 private:
  explicit Server(std::unique_ptr<ServerImpl> impl);
  std::unique_ptr<ServerImpl> impl_;
};

}  // namespace benchfs::server
