// The client's connection set: one Conn per server, connected (and
// registered) on first use or all at once, marked broken when lost and
// closed by the progress loop; an endpoint the server is closing retires
// until its disconnect arrives.

#include <spdlog/spdlog.h>

#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "benchfs/client/engine.hpp"
#include "benchfs/core/clock.hpp"
#include "engine_internal.hpp"
#include "stubs.hpp"

namespace benchfs::client {

namespace {

constexpr uint64_t kRetireBoundNs = 1000 * kMs;
// Adaptive: the most a wait for a connection to come up spins before sleeping.
constexpr uint64_t kConnectSpinNs = 20'000;

}  // namespace

void Client::start_connect(Conn& c) {
  closes_.close(c.ep);
  c.needs_close = false;
  c.session = 0;
  c.thread = -1;
  auto reg = std::make_shared<Pending>();
  c.reg = reg;
  auto fail = [&reg](const Status& st) {
    reg->done = true;
    reg->err = st.err();
    reg->err_msg = st.message();
  };
  const bool reply_ep = opts_.connect == ConnectMode::kReplyEp;
  // reply_ep: straight to one progress thread's worker (spread over the
  // threads by client id); persistent: to the listener.
  size_t thread = 0;
  Result<net::Endpoint> ep = Status(EINVAL, "unset");
  if (reply_ep) {
    const auto& workers = worker_addrs_[c.index];
    thread = (std::hash<std::string>{}(opts_.client_id) + c.index) % workers.size();
    ep = net::Endpoint::connect_to_worker(*worker_, workers[thread], &Client::ep_error_cb, &c);
  } else {
    ep = net::Endpoint::connect(*worker_, addrs_[c.index], &Client::ep_error_cb, &c);
  }
  if (!ep) {
    fail(ep.status());
    c.state = Conn::State::kDown;
    return;
  }
  c.ep = std::move(*ep);
  if (c.ever_connected) ++stats_.reconnects;
  ++stats_.connects;
  if (reply_ep) {  // nothing to register: usable at once
    c.session = wire::reply_ep_session(secret_);
    c.thread = static_cast<int>(thread);
    c.state = Conn::State::kUp;
    c.ever_connected = true;
    c.reg.reset();
    return;
  }
  c.state = Conn::State::kRegistering;
  if (auto st = post(c, *reg, stub::register_client(secret_, opts_.client_id), nullptr, 0); !st) fail(st);
}

bool Client::is_retiring(const Conn& c) const {
  for (const auto& r : retiring_)
    if (r.conn == &c) return true;
  return false;
}

Status Client::ensure_connected(std::unique_lock<std::mutex>& lock, Conn& c, uint64_t deadline_ns) {
  if (c.state == Conn::State::kUp) return Status();
  // A new endpoint to a server whose close of our previous one is still in
  // flight fails in UCX 1.13: let that close finish first (bounded).
  while (c.state == Conn::State::kDown && is_retiring(c) && now_ns() < deadline_ns) {
    if (progress_until_idle() > 0 || !is_retiring(c)) continue;
    sleep_on_worker(lock, 1);
  }
  if (c.state == Conn::State::kDown) start_connect(c);
  if (c.state == Conn::State::kUp) return Status();  // reply_ep mode: nothing to wait for
  std::shared_ptr<Pending> reg = c.reg;
  const std::string where =
      "server node_" + std::to_string(c.index) + " (" + addrs_[c.index].to_string() + ")";
  // A connection being made waits on TCP and the peer's wire-up (UCX's
  // async thread does that work), not on a reply that is about to come:
  // spin only briefly. (Spinning the long reply budget here also left UCX's
  // async thread mid-dispatch when a client of a stopped server gave up and
  // exited, a race inside libucs that ThreadSanitizer reports.)
  Status st = wait(lock, *reg, deadline_ns, kConnectSpinNs);
  if (c.reg != reg) {
    // Another thread finished (or restarted) this registration meanwhile.
    return c.state == Conn::State::kUp ? Status() : Status(ENOTCONN, "cannot connect to " + where);
  }
  c.reg.reset();
  if (!st) {
    abandon(lock, *reg);
    mark_broken(c, st.err(), "registration timed out");
    return Status(st.err(), "connecting to " + where + ": " + st.message());
  }
  if (reg->err != 0) {
    mark_broken(c, reg->err, "registration failed");
    return Status(reg->err, "connecting to " + where + (reg->err_msg.empty() ? "" : ": " + reg->err_msg));
  }
  if (reg->reply.status != 0) {
    mark_broken(c, -reg->reply.status, "registration rejected");
    if (reg->reply.status == -EACCES)
      return Status(EACCES,
                    where + " rejected this client: wrong job secret (is the registry from another job?)");
    return Status(-reg->reply.status, "registering with " + where);
  }
  if (c.state != Conn::State::kRegistering) {
    // Lost after the server answered (evicted at once, under churn): the
    // endpoint is closing or gone; the caller may connect again.
    return Status(ENOTCONN, "connection to " + where + " lost while registering");
  }
  // c.session was set when the reply arrived (on_reply).
  c.thread = static_cast<int>(reg->reply.thread);
  c.state = Conn::State::kUp;
  c.ever_connected = true;
  return Status();
}

Status Client::connect_all() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t deadline = now_ns() + opts_.rpc_timeout_ms * kMs;
  for (auto& c : conns_)
    if (c->state == Conn::State::kDown) start_connect(*c);  // all in flight at once
  for (auto& c : conns_)
    if (auto st = connect_recovering(lock, *c, deadline); !st) return st;
  return Status();
}

Status Client::connect_recovering(std::unique_lock<std::mutex>& lock, Conn& c, uint64_t deadline_ns) {
  // ECONNREFUSED: nothing listens (a server that died) or the server turned
  // the connection away (its accept queue full): a few tries, not the
  // whole deadline, so that a dead server's error comes soon.
  constexpr unsigned kRefusedTries = 4;
  unsigned refused = 0;
  for (unsigned attempt = 0;; ++attempt) {
    if (attempt > 0) {
      if (auto st = back_off(lock, attempt, deadline_ns, "connecting to node_" + std::to_string(c.index));
          !st)
        return st;
    }
    // Nothing is sent before the connection is up: trying again is safe.
    // (A timeout before the deadline is UCX's endpoint timeout: a wire-up
    // the server, flooded with connections, did not finish.)
    Status st = ensure_connected(lock, c, deadline_ns);
    if (st ||
        !(lost_connection(st.err(), deadline_ns) || (st.err() == ECONNREFUSED && ++refused < kRefusedTries)))
      return st;
  }
}

Status Client::connect(uint32_t server) {
  if (server >= conns_.size()) return Status(EINVAL, "no server " + std::to_string(server));
  std::unique_lock<std::mutex> lock(mu_);
  return connect_recovering(lock, *conns_[server], now_ns() + opts_.rpc_timeout_ms * kMs);
}

std::string Client::endpoint_info(uint32_t server) {
  std::lock_guard<std::mutex> lock(mu_);
  if (server >= conns_.size() || conns_[server]->state != Conn::State::kUp) return "";
  return conns_[server]->ep.info();
}

int Client::server_thread(uint32_t server) {
  std::lock_guard<std::mutex> lock(mu_);
  if (server >= conns_.size() || conns_[server]->state != Conn::State::kUp) return -1;
  return conns_[server]->thread;
}

void Client::mark_broken(Conn& c, int err, const char* why, bool server_closes) {
  if (c.state == Conn::State::kDown && !c.ep) return;
  spdlog::debug("client {}: connection to node_{} lost ({}: {})", opts_.client_id, c.index, why,
                std::strerror(err));
  c.state = Conn::State::kDown;
  if (server_closes && c.ep) {
    // UCX 1.13 keeps a client endpoint (and its socket) until the worker is
    // destroyed when the client starts the disconnect; when the server
    // starts it, closing after its disconnect arrives frees everything. So
    // wait for that disconnect (bounded), then close.
    retiring_.push_back(Retiring{&c, std::move(c.ep), now_ns() + kRetireBoundNs, false});
  } else {
    c.needs_close = true;
  }
  maintenance_ = true;
  wake_sleepers();
  // Calls on this connection fail now; their waiters still wait for UCX to
  // let go of their buffers (Pending::finished) before returning.
  std::vector<uint64_t> failed;
  pending_.for_each([&](Pending* p) {
    if (p->conn == &c && !p->done) {
      p->done = true;
      p->err = err;
      p->err_msg = why;
      failed.push_back(p->id);
    }
  });
  for (uint64_t id : failed) pending_.remove(id);
}

void Client::close_marked() {
  maintenance_ = false;
  for (auto& c : conns_) {
    if (c->needs_close) {
      c->needs_close = false;
      closes_.close(c->ep);
    }
  }
  if (!retiring_.empty()) {
    const uint64_t now = now_ns();
    for (size_t i = 0; i < retiring_.size();) {
      Retiring& r = retiring_[i];
      if (r.failed || now >= r.deadline_ns) {
        closes_.close(r.ep);
        retiring_[i] = std::move(retiring_.back());
        retiring_.pop_back();
      } else {
        ++i;
      }
    }
    maintenance_ = !retiring_.empty();  // look again until all are gone
  }
}

// ----------------------------------------------- connection events (UCX)

ucs_status_t Client::on_notify(const void* header, size_t header_len) {
  auto n = wire::decode_notify(header, header_len);
  if (!n) return UCS_OK;
  for (auto& c : conns_) {
    if (c->session == n->session && c->state != Conn::State::kDown) {
      ++stats_.close_notifications;
      spdlog::debug("client {}: node_{} closed the connection ({})", opts_.client_id, c->index,
                    wire::close_reason_name(n->reason));
      mark_broken(*c, ENOTCONN, "closed by the server", /*server_closes=*/true);
    }
  }
  return UCS_OK;
}

void Client::ep_error_cb(void* arg, ucp_ep_h ep, ucs_status_t status) {
  auto* c = static_cast<Conn*>(arg);
  Client* self = c->owner;
  if (c->ep.get() != ep) {
    // A retiring endpoint's disconnect: close it now.
    for (auto& r : self->retiring_)
      if (r.ep.get() == ep) r.failed = true;
    self->maintenance_ = true;
    return;
  }
  ++self->stats_.endpoint_errors;
  // Calls waiting on this connection fail now rather than at their deadline;
  // the endpoint is closed by the loop, not inside UCX's callback.
  self->mark_broken(*c, net::ucs_to_errno(status) == 0 ? ECONNRESET : net::ucs_to_errno(status),
                    ucs_status_string(status));
}

}  // namespace benchfs::client
