// The C API: one process-wide client engine behind a reference count. No C++
// exception crosses this boundary; failures become -1 + errno.

#include "benchfs/benchfs.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "benchfs/client/engine.hpp"
#include "benchfs/core/log.hpp"

namespace {

using benchfs::Status;
using benchfs::client::Client;

// The C API has no handle, so the engine is process state, behind a lock.
struct Process {
  std::shared_mutex mu;
  std::unique_ptr<Client> client;
  int refs = 0;
};

Process& process() {
  static Process p;
  return p;
}

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
    std::unique_lock lock(p.mu);
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
    p.client = std::move(*client);
    p.refs = 1;
    return 0;
  });
}

int benchfs_finalize(void) {
  return guarded([] {
    Process& p = process();
    std::unique_lock lock(p.mu);
    if (p.refs == 0) return fail(EINVAL, "benchfs_finalize without benchfs_init");
    if (--p.refs == 0) p.client.reset();
    return 0;
  });
}

int benchfs_server_count(void) {
  Process& p = process();
  std::shared_lock lock(p.mu);
  if (!p.client) return fail(EINVAL, "BenchFS is not initialized (call benchfs_init)");
  return static_cast<int>(p.client->server_count());
}

int benchfs_ping(int server, const void* payload, size_t len, void* echo) {
  return guarded([&] {
    Process& p = process();
    std::shared_lock lock(p.mu);
    if (!p.client) return fail(EINVAL, "BenchFS is not initialized (call benchfs_init)");
    if (server < 0) return fail(EINVAL, "negative server index");
    Status st = p.client->ping(static_cast<uint32_t>(server), payload, len, echo);
    return st ? 0 : fail(st);
  });
}

int benchfs_shutdown_server(int server) {
  return guarded([&] {
    Process& p = process();
    std::shared_lock lock(p.mu);
    if (!p.client) return fail(EINVAL, "BenchFS is not initialized (call benchfs_init)");
    if (server < 0) return fail(EINVAL, "negative server index");
    Status st = p.client->shutdown_server(static_cast<uint32_t>(server));
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
