// The C API: one process-wide client engine behind a reference count. No C++
// exception crosses this boundary; failures become -1 + errno.

#include "benchfs/benchfs.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "benchfs/client/engine.hpp"
#include "benchfs/client/fs.hpp"
#include "benchfs/core/log.hpp"
#include "process.hpp"

using benchfs::Status;
using benchfs::capi::fail;
using benchfs::capi::guarded;
using benchfs::capi::process;
using benchfs::capi::Process;
using benchfs::capi::Use;
using benchfs::client::Client;
using benchfs::client::FileSystem;

namespace {
thread_local std::string t_last_error;
}  // namespace

int benchfs::capi::fail(const Status& st) {
  t_last_error = st.to_string();
  errno = st.err() != 0 ? st.err() : EIO;
  return -1;
}

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
    auto env = benchfs::client::options_from_env();
    if (!env) return fail(env.status());
    auto opts = std::move(*env);
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
      if (cfg->connect != nullptr) {
        auto m = benchfs::client::parse_connect_mode(cfg->connect);
        if (!m) return fail(m.status());
        opts.connect = *m;
      }
    }
    auto client = Client::create(opts);
    if (!client) return fail(client.status());
    p.owned = std::make_unique<FileSystem>(std::move(*client));
    p.fs.store(p.owned.get());
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
      if (const char* v = std::getenv("BENCHFS_CLIENT_STATS"); v != nullptr && *v != '\0' && *v != '0') {
        // One line per process on stderr, for runs of tools that cannot ask
        // (IOR, mdtest): how often the client slept waiting for replies.
        const benchfs::client::ClientStats s = p.owned->client().stats();
        std::fprintf(
            stderr,
            "benchfs client %s: {\"rpcs\":%llu,\"sleeps\":%llu,\"wakeups\":%llu,\"preempted_spins\":%llu,"
            "\"congested_sleeps\":%llu,\"yields\":%llu,\"connects\":%llu,\"reconnects\":%llu,\"retries\":%"
            "llu,\"timeouts\":%llu}\n",
            p.owned->client().client_id().c_str(), static_cast<unsigned long long>(s.rpcs),
            static_cast<unsigned long long>(s.sleeps), static_cast<unsigned long long>(s.wakeups),
            static_cast<unsigned long long>(s.preempted_spins),
            static_cast<unsigned long long>(s.congested_sleeps), static_cast<unsigned long long>(s.yields),
            static_cast<unsigned long long>(s.connects), static_cast<unsigned long long>(s.reconnects),
            static_cast<unsigned long long>(s.retries), static_cast<unsigned long long>(s.timeouts));
      }
      p.fs.store(nullptr);
      while (p.users.load() != 0) std::this_thread::yield();
      p.owned.reset();
    }
    return 0;
  });
}

int benchfs_server_count(void) {
  Use use;
  if (use.get() == nullptr) return benchfs::capi::not_initialized();
  return static_cast<int>(use.client()->server_count());
}

int benchfs_ping(int server, const void* payload, size_t len, void* echo) {
  return guarded([&] {
    Use use;
    if (use.get() == nullptr) return benchfs::capi::not_initialized();
    if (server < 0) return fail(EINVAL, "negative server index");
    Status st = use.client()->ping(static_cast<uint32_t>(server), payload, len, echo);
    return st ? 0 : fail(st);
  });
}

int benchfs_shutdown_server(int server) {
  return guarded([&] {
    Use use;
    if (use.get() == nullptr) return benchfs::capi::not_initialized();
    if (server < 0) return fail(EINVAL, "negative server index");
    Status st = use.client()->shutdown_server(static_cast<uint32_t>(server));
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
