#include "benchfs/server/server.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "benchfs/core/clock.hpp"
#include "benchfs/core/random.hpp"
#include "benchfs/core/units.hpp"
#include "benchfs/registry/server_list.hpp"
#include "server_impl.hpp"

namespace benchfs::server {

Status validate(const ServerOptions& o) {
  if (o.registry.empty()) return Status(EINVAL, "--registry is required (or set BENCHFS_REGISTRY)");
  if (o.chunk_size < 4096 || (o.chunk_size & (o.chunk_size - 1)) != 0 || o.chunk_size > wire::kMaxChunkIo)
    return Status(EINVAL, "--chunk-size must be a power of two between 4 KiB and 1 GiB");
  if (o.client_capacity == 0) return Status(EINVAL, "--client-capacity must be at least 1");
  if (o.registry_shards == 0 || o.registry_shards > 4096)
    return Status(EINVAL, "--registry-shards must be between 1 and 4096");
  if (o.threads > 1024) return Status(EINVAL, "--threads must be at most 1024");
  if (auto hp = parse_host_port(o.listen); !hp) return Status(EINVAL, "--listen: " + hp.status().message());
  if (auto d = parse_drop_reply(o.drop_reply); !d) return d.status();
  return Status();
}

Result<DropReply> parse_drop_reply(const std::string& text) {
  if (text.empty()) return DropReply{};
  const size_t colon = text.find(':');
  auto n =
      colon == std::string::npos ? Result<uint64_t>(Status(EINVAL, "")) : parse_u64(text.substr(colon + 1));
  const std::string name = text.substr(0, colon);
  for (unsigned op = 1; op < wire::kOpSlots; ++op) {
    // Not register_client or shutdown: their handlers use the connection after replying.
    const auto o = static_cast<wire::Op>(op);
    if (o == wire::Op::kRegisterClient || o == wire::Op::kShutdown) continue;
    if (wire::op_name(o) == name && n && *n > 0) return DropReply{static_cast<uint8_t>(op), *n};
  }
  return Status(EINVAL,
                "--drop-reply: expected OP:N (a request op other than register_client and shutdown, such as "
                "create, and "
                "N >= 1), not '" +
                    text + "'");
}

namespace {

// The reserve fills while the rest of start-up runs; start waits for it at
// most this long (what remains fills in the background).
constexpr int kReserveWaitMs = 300;

uint64_t physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}
}  // namespace

uint64_t default_reserve(const ServerOptions& o) {
  uint64_t r = std::min(physical_memory() / 64, o.buffer_pool);
  if (o.memory_limit != 0) r = std::min(r, o.memory_limit / 2);
  return r & ~((1ULL << 20) - 1);  // whole MiB
}

// ------------------------------------------------------------------ ServerImpl

ServerImpl::ServerImpl(const ServerOptions& opts, const Bootstrap& boot)
    : opts_(opts),
      boot_(boot),
      clients_(opts.client_capacity, opts.registry_shards, opts.client_idle_ms * 1'000'000ULL) {}

ServerImpl::~ServerImpl() { stop(); }

void ServerImpl::plan_threads() {
  topo_ = std::make_unique<Topology>();
  cores_ = topo_->allowed_cores();
  const size_t ncores = cores_.size();
  if (opts_.threads == 0) opts_.threads = static_cast<unsigned>(ncores > 1 ? ncores - 1 : 1);
  accept_core_ = cores_[0];
  thread_cores_.clear();
  // Servers sharing a machine start their progress threads at different
  // cores; the accept thread mostly sleeps and stays on the first.
  const size_t first = 1 + static_cast<size_t>(boot_.local_rank) * opts_.threads;
  for (unsigned i = 0; i < opts_.threads; ++i)
    thread_cores_.push_back(cores_[core_for_thread(first + i, ncores)]);
  spdlog::info("node {}: cpuset {} ({} core{}), {} progress thread{}, poll {}{}", boot_.rank,
               topo_->binding_string(), ncores, ncores == 1 ? "" : "s", opts_.threads,
               opts_.threads == 1 ? "" : "s", net::poll_mode_name(opts_.poll),
               opts_.pin ? "" : ", not pinned");
  if (opts_.pin) {
    spdlog::info("node {}: accept thread -> {}", boot_.rank, accept_core_.to_string());
    for (unsigned i = 0; i < opts_.threads; ++i)
      spdlog::info("node {}: progress thread {} -> {}", boot_.rank, i, thread_cores_[i].to_string());
  }
  if (opts_.threads + 1 > ncores)
    spdlog::warn(
        "node {}: {} threads share {} core{} (wrapping); if the launcher bound this rank to one core, "
        "start it with --bind-to none or give it more cores",
        boot_.rank, opts_.threads + 1, ncores, ncores == 1 ? "" : "s");
}

void ServerImpl::start() {
  throw_if_error(validate(opts_));
  const auto listen = value_or_throw(parse_host_port(opts_.listen));

  // Rank 0 clears what a previous job left, then tells everyone the secret
  // and chunk size (the broadcast also orders the reset before the appends).
  uint64_t shared[2] = {0, opts_.chunk_size};
  if (boot_.rank == 0) {
    throw_if_error(registry::prepare_directory(opts_.registry));
    throw_if_error(registry::reset(opts_.registry));
    shared[0] = secure_random_u64();
  }
  boot_.broadcast(shared, 2);
  secret_ = shared[0];
  chunk_size_ = shared[1];
  if (chunk_size_ != opts_.chunk_size)
    spdlog::warn("node {}: using rank 0's chunk size {} instead of {}", boot_.rank, format_size(chunk_size_),
                 format_size(opts_.chunk_size));

  if (opts_.reserve == ServerOptions::kAutoReserve) opts_.reserve = default_reserve(opts_);
  storage::PoolOptions pool;
  pool.retain = opts_.buffer_pool;
  pool.huge_pages = opts_.huge_pages;
  pool.reserve = opts_.reserve;
  chunks_ = std::make_unique<storage::ChunkStore>(chunk_size_, opts_.memory_limit, std::move(pool));
  if (opts_.prefault != 0) {
    const uint64_t t0 = now_ns();
    const uint64_t warm = chunks_->prefault(opts_.prefault);
    spdlog::info("node {}: {} of chunk buffers resident in {:.0f} ms", boot_.rank, format_size(warm),
                 static_cast<double>(now_ns() - t0) / 1e6);
  }
  meta_ = std::make_unique<storage::MetadataStore>(boot_.rank, boot_.size);
  plan_threads();
  auto mode_of = [](bool multi) { return multi ? UCS_THREAD_MODE_MULTI : UCS_THREAD_MODE_SINGLE; };
  const ucs_thread_mode_t mode = mode_of(opts_.progress_multi);
  net::quiet_flush_errors();
  ctx_ = std::make_unique<net::Context>();
  listen_worker_ = std::make_unique<net::Worker>(*ctx_, mode_of(opts_.listener_multi), "benchfs-accept");
  auto addr = value_or_throw(net::resolve(listen.host, listen.port));
  listener_ = std::make_unique<net::Listener>(*listen_worker_, addr, &ServerImpl::conn_cb, this);

  net::PollConfig poll{opts_.poll, opts_.spin_us * 1000, opts_.threads + 1 > cores_.size(), &pressure_};
  for (unsigned i = 0; i < opts_.threads; ++i)
    threads_.push_back(std::make_unique<ProgressThread>(*this, i, *ctx_, mode, poll));
  for (auto& t : threads_) producers_.push_back(t->make_producer());
  // For clients of the reply_ep connection mode, which connect to a worker
  // by its address: published before the list has us, so it is there when
  // the registry is ready.
  std::vector<std::string> worker_addresses;
  for (auto& t : threads_) worker_addresses.push_back(t->worker().address());
  throw_if_error(registry::publish_worker_addresses(opts_.registry, boot_.rank, worker_addresses));
  for (unsigned i = 0; i < opts_.threads; ++i)
    threads_[i]->start(opts_.pin ? &thread_cores_[i] : nullptr, opts_.pin ? topo_.get() : nullptr);
  accept_thread_ = std::thread([this] { accept_loop(); });
  started_ = true;
  started_ns_ = now_ns();

  std::string host = opts_.advertise;
  if (host.empty()) host = listener_->bound().is_wildcard() ? net::default_advertise_host() : listen.host;
  warn_if_unreachable(host);
  const uint16_t port = listener_->bound().port();
  address_ = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  // Clients may come once the list has us: by then the reserve is full, or
  // kReserveWaitMs have passed.
  log_reserve(chunks_->wait_reserve(kReserveWaitMs));
  throw_if_error(registry::append_server(opts_.registry, registry::ServerEntry{boot_.rank, host, port}));
  boot_.barrier();
  if (boot_.rank == 0) {
    registry::ReadyInfo info{boot_.size, chunk_size_, secret_};
    throw_if_error(registry::publish_ready(opts_.registry, info));
    spdlog::info("node 0: published {} server{} in {}", boot_.size, boot_.size == 1 ? "" : "s",
                 opts_.registry);
  }
  spdlog::info("node {}: listening on {} (advertised {}), chunk size {}", boot_.rank,
               listener_->bound().to_string(), address_, format_size(chunk_size_));
}

// Clients whose UCX may use only the devices of UCX_NET_DEVICES (the same
// setting as ours, under one mpirun) cannot reach an address on another
// device; "No route to host" at their end says little, so say it here.
void ServerImpl::warn_if_unreachable(const std::string& host) const {
  const char* devices = std::getenv("UCX_NET_DEVICES");
  const auto allowed = net::allowed_net_devices(devices);
  if (allowed.empty()) return;
  const std::string dev = net::interface_of(host);
  if (std::find(allowed.begin(), allowed.end(), dev) != allowed.end()) return;
  spdlog::warn(
      "node {}: advertised address {} is {}, not on a device UCX_NET_DEVICES={} allows: clients with that "
      "setting cannot reach it (give --listen or --advertise an address of those devices)",
      boot_.rank, host, dev.empty() ? "on no interface of this host" : "on " + dev, devices);
}

void ServerImpl::conn_cb(ucp_conn_request_h req, void* arg) {
  static_cast<ServerImpl*>(arg)->on_conn_request(req);
}

void ServerImpl::on_conn_request(ucp_conn_request_h req) {
  net::ConnRequest conn(listener_->get(), req);
  if (accept_stop_.load(std::memory_order_acquire)) {
    ++rejected_while_stopping_;
    return;  // rejected by ConnRequest's destructor
  }
  arrived_.push_back(std::move(conn));
}

// Hands the connection requests that arrived to the progress threads and
// waits until each has become an endpoint (or been rejected), without
// touching the listener's worker meanwhile. Creating the endpoint moves the
// connection's socket from the listener worker's UCX async context to the
// progress worker's; UCX < 1.18 aborts ("async.c:643 handler->async ==
// async") if the listener worker then polls a socket event it had queued
// for it while busy. Its queue is empty when its progress call returns and
// nothing blocks it while this thread waits, so no such event can be
// queued across the move.
void ServerImpl::hand_off_arrived() {
  for (net::ConnRequest& conn : arrived_) {
    // Fewest live connections wins; count it at once so a burst spreads out.
    size_t best = 0;
    uint32_t best_live = UINT32_MAX;
    for (size_t i = 0; i < threads_.size(); ++i) {
      const uint32_t live = threads_[i]->counters().live.load(std::memory_order_relaxed);
      if (live < best_live) {
        best_live = live;
        best = i;
      }
    }
    ProgressThread& t = *threads_[best];
    t.counters().live.fetch_add(1, std::memory_order_relaxed);
    handoffs_in_flight_.fetch_add(1, std::memory_order_relaxed);
    Command c;
    c.kind = Command::Kind::kAccept;
    c.conn = std::move(conn);
    c.handed_off = &handoffs_in_flight_;
    if (!t.post_accept(producers_[best], std::move(c))) {
      t.counters().live.fetch_sub(1, std::memory_order_relaxed);
      handoffs_in_flight_.fetch_sub(1, std::memory_order_relaxed);
      ++rejected_inbox_full_;
      spdlog::warn("progress thread {} inbox full: connection rejected", best);
    }
  }
  arrived_.clear();
  // Bounded: a progress thread stuck for kHandoffBoundNs costs the guard, not
  // the accept thread.
  constexpr uint64_t kHandoffBoundNs = 2'000'000'000ULL;
  const uint64_t t0 = now_ns();
  for (unsigned spins = 0; handoffs_in_flight_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 64) {
      std::this_thread::yield();
      continue;
    }
    if (now_ns() - t0 > kHandoffBoundNs) {
      if (slow_handoffs_++ == 0) spdlog::warn("accept thread: progress threads slow to take connections");
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

void ServerImpl::accept_loop() {
  if (opts_.pin) {
    if (auto st = topo_->bind_current_thread(accept_core_); !st)
      spdlog::warn("accept thread: {}", st.to_string());
  }
  net::Idler idler(*listen_worker_, net::PollConfig{net::PollMode::kBlocking, 0, false});
  while (!accept_stop_.load(std::memory_order_acquire)) {
    unsigned n = 0;
    for (;;) {
      const unsigned k = listen_worker_->progress();
      n += k;
      if (!arrived_.empty()) hand_off_arrived();
      if (k == 0) break;
    }
    idler.after_pass(
        n > 0, [this] { return accept_stop_.load(std::memory_order_acquire); }, 100);
  }
  // Requests that arrived with the stop are rejected by their destructors.
  rejected_while_stopping_ += arrived_.size();
  arrived_.clear();
}

void ServerImpl::close_client(const registry::ClientEntry& e, wire::CloseReason reason) {
  if (e.thread >= threads_.size()) return;
  Command c;
  c.kind = Command::Kind::kEvict;
  c.conn_id = e.conn;
  c.session = e.session;
  c.reason = reason;
  threads_[e.thread]->post(std::move(c));
}

void ServerImpl::note_over_capacity() {
  constexpr uint64_t kWarnIntervalNs = 10'000'000'000ULL;
  const uint64_t now = now_ns();
  uint64_t last = over_capacity_warned_ns_.load(std::memory_order_relaxed);
  if (last != 0 && now - last < kWarnIntervalNs) return;
  if (!over_capacity_warned_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
  const auto c = clients_.counters();
  spdlog::warn(
      "node {}: {} clients registered, over --client-capacity {}: none was idle for {} ms, so none was "
      "evicted ({} registrations over capacity so far). Capacity bounds memory, not correctness; raise it "
      "for jobs this size",
      boot_.rank, c.live, clients_.capacity(), opts_.client_idle_ms, c.over_capacity);
}

void ServerImpl::request_stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_requested_.store(true, std::memory_order_release);
  }
  stop_cv_.notify_all();
}

bool ServerImpl::wait_for_stop_request(int timeout_ms) {
  std::unique_lock<std::mutex> lock(stop_mu_);
  return stop_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return stop_requested(); });
}

void ServerImpl::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  const uint64_t t0 = now_ns();
  if (boot_.rank == 0) {
    // New clients must not find a server that is going away.
    if (auto st = registry::withdraw(opts_.registry); !st)
      spdlog::warn("withdrawing the server list: {}", st.to_string());
  }
  accept_stop_.store(true, std::memory_order_release);
  listen_worker_->signal();
  if (accept_thread_.joinable()) accept_thread_.join();
  for (auto& t : threads_) {
    Command c;
    c.kind = Command::Kind::kStop;
    t->post(std::move(c));
  }
  for (auto& t : threads_) t->join();
  producers_.clear();
  listener_.reset();
  for (auto& t : threads_) totals_.merge(t->stats());
  spdlog::info("node {}: stopped in {:.1f} ms", boot_.rank, static_cast<double>(now_ns() - t0) / 1e6);
  if (!opts_.stats_file.empty()) write_stats_file();
}

void ServerImpl::log_reserve(bool full) const {
  const auto p = chunks_->stats().pool;
  if (p.reserve_bytes == 0) {
    spdlog::info("node {}: no chunk buffer reserve (--reserve below one chunk)", boot_.rank);
    return;
  }
  spdlog::info("node {}: reserve of {} chunk buffer memory ({}): {} resident {}", boot_.rank,
               format_size(p.reserve_bytes), opts_.huge_pages ? "huge pages" : "4 KiB pages",
               format_size(p.warm_bytes),
               full ? fmt::format("after {:.0f} ms", static_cast<double>(p.reserve_full_ns) / 1e6)
                    : std::string("so far, the rest fills in the background"));
}

uint64_t ServerImpl::capacity() const {
  return opts_.memory_limit != 0 ? opts_.memory_limit : physical_memory();
}

static std::string stats_path(const std::string& path, uint32_t rank, uint32_t size) {
  // "%r" becomes the rank; without it, ranks of a multi-rank job add ".<rank>".
  if (auto pos = path.find("%r"); pos != std::string::npos)
    return path.substr(0, pos) + std::to_string(rank) + path.substr(pos + 2);
  return size > 1 ? path + "." + std::to_string(rank) : path;
}

void ServerImpl::write_stats_file() const {
  const std::string path = stats_path(opts_.stats_file, boot_.rank, boot_.size);
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp);
    out << stats_json().dump(2) << "\n";
    if (!out) {
      spdlog::error("cannot write stats to {}", path);
      return;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    spdlog::error("cannot write stats to {}: {}", path, std::strerror(errno));
  else
    spdlog::info("node {}: statistics written to {}", boot_.rank, path);
}

// ---------------------------------------------------------------------- Server

Server::Server(std::unique_ptr<ServerImpl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

std::unique_ptr<Server> Server::start(const ServerOptions& opts, const Bootstrap& boot) {
  auto impl = std::make_unique<ServerImpl>(opts, boot);
  impl->start();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::request_stop() { impl_->request_stop(); }
bool Server::stop_requested() const { return impl_->stop_requested(); }
bool Server::wait_for_stop_request(int timeout_ms) { return impl_->wait_for_stop_request(timeout_ms); }
void Server::stop() { impl_->stop(); }
std::string Server::address() const { return impl_->address(); }
unsigned Server::threads() const { return impl_->thread_count(); }
nlohmann::json Server::stats_json() const { return impl_->stats_json(); }

}  // namespace benchfs::server
