// The C API: one process-wide client engine behind a reference count. No C++
// exception crosses this boundary; failures become -1 + errno.

#include "benchfs/benchfs.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "benchfs/client/engine.hpp"
#include "benchfs/core/log.hpp"

namespace {

using benchfs::Status;
using benchfs::client::Client;

// The C API has no handle, so the engine is process state. Calls find it
// through an atomic pointer and announce themselves in `users`; finalize
// clears the pointer and waits for the calls already inside to leave
// (seq_cst on both sides: a call either sees null or is waited for).
struct Process {
  std::mutex mu;  ///< serializes init / finalize
  std::atomic<Client*> client{nullptr};
  std::atomic<int> users{0};
  std::unique_ptr<Client> owned;
  int refs = 0;
};

Process& process() {
  static Process p;
  return p;
}

/// A call's hold on the engine; null client when not initialized.
class Use {
 public:
  Use() : p_(process()) {
    p_.users.fetch_add(1);
    client_ = p_.client.load();
  }
  ~Use() { p_.users.fetch_sub(1); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  Client* get() const { return client_; }

 private:
  Process& p_;
  Client* client_ = nullptr;
};

thread_local std::string t_last_error;

int fail(const Status& st) {
  t_last_error = st.to_string();
  errno = st.err() != 0 ? st.err() : EIO;
  return -1;
}

int fail(int err, const char* msg) { return fail(Status(err, msg)); }

template <class F>
int guarded(F&& f) {
  try {
    return f();
  } catch (const benchfs::Error& e) {
    return fail(e.status());
  } catch (const std::bad_alloc&) {
    return fail(ENOMEM, "out of memory");
  } catch (const std::exception& e) {
    return fail(EIO, e.what());
  } catch (...) {
    return fail(EIO, "unknown error");
  }
}

}  // namespace

extern "C" {

void benchfs_config_init(benchfs_config* cfg) {
  if (cfg == nullptr) return;
  std::memset(cfg, 0, sizeof *cfg);
}

int benchfs_init(const benchfs_config* cfg) {
  return guarded([cfg] {
    Process& p = process();
    std::lock_guard lock(p.mu);
    if (p.refs > 0) {
      ++p.refs;
      return 0;
    }
    (void)benchfs::init_logging("benchfs");
    auto opts = benchfs::client::options_from_env();
    if (cfg != nullptr) {
      if (cfg->registry != nullptr && *cfg->registry != '\0') opts.registry = cfg->registry;
      if (cfg->client_id != nullptr && *cfg->client_id != '\0') opts.client_id = cfg->client_id;
      opts.prewarm = cfg->prewarm != 0;
      if (cfg->rpc_timeout_ms < 0 || cfg->wait_ready_ms < 0 || cfg->spin_us < 0)
        return fail(EINVAL, "negative timeout or spin setting");
      if (cfg->rpc_timeout_ms > 0) opts.rpc_timeout_ms = static_cast<uint64_t>(cfg->rpc_timeout_ms);
      if (cfg->wait_ready_ms > 0) opts.wait_ready_ms = static_cast<uint64_t>(cfg->wait_ready_ms);
      if (cfg->spin_us > 0) opts.spin_ns = static_cast<uint64_t>(cfg->spin_us) * 1000;
      if (cfg->poll != nullptr) {
        auto m = benchfs::net::parse_poll_mode(cfg->poll);
        if (!m) return fail(m.status());
        opts.poll = *m;
      }
    }
    auto client = Client::create(opts);
    if (!client) return fail(client.status());
    p.owned = std::move(*client);
    p.client.store(p.owned.get());
    p.refs = 1;
    return 0;
  });
}

int benchfs_finalize(void) {
  return guarded([] {
    Process& p = process();
    std::lock_guard lock(p.mu);
    if (p.refs == 0) return fail(EINVAL, "benchfs_finalize without benchfs_init");
    if (--p.refs == 0) {
      p.client.store(nullptr);
      while (p.users.load() != 0) std::this_thread::yield();
      p.owned.reset();
    }
    return 0;
  });
}

int benchfs_server_count(void) {
  Use use;
  if (use.get() == nullptr) return fail(EINVAL, "BenchFS is not initialized (call benchfs_init)");
  return static_cast<int>(use.get()->server_count());
}

int benchfs_ping(int server, const void* payload, size_t len, void* echo) {
  return guarded([&] {
    Use use;
    if (use.get() == nullptr) return fail(EINVAL, "BenchFS is not initialized (call benchfs_init)");
    if (server < 0) return fail(EINVAL, "negative server index");
    Status st = use.get()->ping(static_cast<uint32_t>(server), payload, len, echo);
    return st ? 0 : fail(st);
  });
}

int benchfs_shutdown_server(int server) {
  return guarded([&] {
    Use use;
    if (use.get() == nullptr) return fail(EINVAL, "BenchFS is not initialized (call benchfs_init)");
    if (server < 0) return fail(EINVAL, "negative server index");
    Status st = use.get()->shutdown_server(static_cast<uint32_t>(server));
    return st ? 0 : fail(st);
  });
}

const char* benchfs_strerror(int errnum) {
  thread_local char buf[256];
  const char* s = strerror_r(errnum, buf, sizeof buf);
  return s != nullptr ? s : "unknown error";
}

const char* benchfs_last_error(void) { return t_last_error.c_str(); }

}  // extern "C"
