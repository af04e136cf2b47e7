// The in-process server of the C API (benchfs_server_start / stop /
// address): a benchfs::server::Server inside the calling process, as the IOR
// mini deployment (--benchfs.servers) runs them.

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "benchfs/benchfs.h"
#include "benchfs/core/log.hpp"
#include "benchfs/net/poll.hpp"
#include "benchfs/server/server.hpp"
#include "process.hpp"

using benchfs::capi::fail;
using benchfs::capi::guarded;

struct benchfs_server {
  std::unique_ptr<benchfs::server::Server> server;
  std::string address;
};

extern "C" {

void benchfs_server_config_init(benchfs_server_config* cfg) {
  if (cfg == nullptr) return;
  std::memset(cfg, 0, sizeof *cfg);
}

benchfs_server* benchfs_server_start(const benchfs_server_config* cfg) {
  benchfs_server* out = nullptr;
  const int rc = guarded([&]() -> int {
    if (cfg == nullptr) return fail(EINVAL, "null server config");
    if (cfg->registry == nullptr || *cfg->registry == '\0') return fail(EINVAL, "server config: no registry");
    if (cfg->threads < 0 || cfg->client_capacity < 0 || cfg->rank < 0 || cfg->size < 0 || cfg->local_rank < 0)
      return fail(EINVAL, "server config: negative value");
    const int size = cfg->size == 0 ? 1 : cfg->size;
    if (cfg->rank >= size) return fail(EINVAL, "server config: rank must be below size");
    if (size > 1 && (cfg->barrier == nullptr || cfg->broadcast == nullptr))
      return fail(EINVAL, "server config: size > 1 needs barrier and broadcast");
    (void)benchfs::init_logging("benchfs-server");
    benchfs::server::ServerOptions o;
    o.registry = cfg->registry;
    o.threads = cfg->threads == 0 ? 1 : static_cast<unsigned>(cfg->threads);
    if (cfg->listen != nullptr && *cfg->listen != '\0') o.listen = cfg->listen;
    if (cfg->chunk_size != 0) o.chunk_size = cfg->chunk_size;
    o.memory_limit = cfg->memory_limit;
    if (cfg->client_capacity != 0) o.client_capacity = static_cast<size_t>(cfg->client_capacity);
    if (cfg->poll != nullptr) {
      auto m = benchfs::net::parse_poll_mode(cfg->poll);
      if (!m) return fail(m.status());
      o.poll = *m;
    }
    o.pin = cfg->pin != 0;
    if (auto st = benchfs::server::validate(o); !st) return fail(st);
    benchfs::server::Bootstrap boot;
    boot.rank = static_cast<uint32_t>(cfg->rank);
    boot.size = static_cast<uint32_t>(size);
    boot.local_rank = static_cast<uint32_t>(cfg->local_rank);
    if (size > 1) {
      auto barrier = cfg->barrier;
      auto broadcast = cfg->broadcast;
      void* arg = cfg->arg;
      boot.barrier = [barrier, arg] { barrier(arg); };
      boot.broadcast = [broadcast, arg](uint64_t* v, int n) { broadcast(arg, v, n); };
    }
    auto s = std::make_unique<benchfs_server>();
    s->server = benchfs::server::Server::start(o, boot);
    s->address = s->server->address();
    out = s.release();
    return 0;
  });
  return rc == 0 ? out : nullptr;
}

int benchfs_server_stop(benchfs_server* server) {
  return guarded([&]() -> int {
    if (server == nullptr) return fail(EINVAL, "null server");
    std::unique_ptr<benchfs_server> owned(server);
    owned->server->stop();
    return 0;
  });
}

const char* benchfs_server_address(const benchfs_server* server) {
  return server == nullptr ? "" : server->address.c_str();
}

}  // extern "C"
