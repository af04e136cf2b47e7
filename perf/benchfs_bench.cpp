// benchfs_bench: the BenchFS benchmark client (run under mpirun, or alone).
//   benchfs_bench ping --registry DIR [--size 8,1k,1m] [--count N] [--warmup N] [--server I|all] [--json]
//   benchfs_bench shutdown --registry DIR
// Uses only the public C API (libbenchfs).

#include <mpi.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "benchfs/benchfs.h"
#include "benchfs/core/clock.hpp"
#include "benchfs/core/units.hpp"

namespace {

struct PingArgs {
  std::string registry;
  std::string sizes = "8";
  uint64_t count = 10000;
  uint64_t warmup = 1000;
  std::string server = "0";
  std::string poll;
  bool json = false;
  bool prewarm = true;
};

struct Summary {
  double min_us = 0, p50_us = 0, p99_us = 0, max_us = 0, mean_us = 0;
};

Summary summarize(std::vector<double>& v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&v](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  s.min_us = v.front();
  s.max_us = v.back();
  s.p50_us = at(0.50);
  s.p99_us = at(0.99);
  double sum = 0;
  for (double x : v) sum += x;
  s.mean_us = sum / static_cast<double>(v.size());
  return s;
}

int init_client(const std::string& registry, const std::string& poll, bool prewarm, int rank) {
  benchfs_config cfg;
  benchfs_config_init(&cfg);
  cfg.registry = registry.empty() ? nullptr : registry.c_str();
  cfg.prewarm = prewarm ? 1 : 0;
  cfg.poll = poll.empty() ? nullptr : poll.c_str();
  if (benchfs_init(&cfg) != 0) {
    std::fprintf(stderr, "benchfs_bench[%d]: benchfs_init: %s\n", rank, benchfs_last_error());
    return -1;
  }
  return 0;
}

int run_ping(const PingArgs& a, int rank, int nranks) {
  std::vector<uint64_t> sizes;
  size_t pos = 0;
  while (pos <= a.sizes.size()) {
    size_t comma = a.sizes.find(',', pos);
    if (comma == std::string::npos) comma = a.sizes.size();
    auto s = benchfs::parse_size(a.sizes.substr(pos, comma - pos));
    if (!s || *s > (4u << 20)) {
      if (rank == 0) std::fprintf(stderr, "benchfs_bench: bad --size '%s' (0 .. 4m each)\n", a.sizes.c_str());
      return 2;
    }
    sizes.push_back(*s);
    pos = comma + 1;
  }
  if (init_client(a.registry, a.poll, a.prewarm, rank) != 0) return 1;
  const int nservers = benchfs_server_count();
  std::vector<int> servers;
  if (a.server == "all") {
    for (int i = 0; i < nservers; ++i) servers.push_back(i);
  } else {
    auto s = benchfs::parse_u64(a.server);
    if (!s || *s >= static_cast<uint64_t>(nservers)) {
      if (rank == 0) std::fprintf(stderr, "benchfs_bench: --server must be 0..%d or all\n", nservers - 1);
      benchfs_finalize();
      return 2;
    }
    servers.push_back(static_cast<int>(*s));
  }
  if (!a.json && rank == 0)
    std::printf("%-8s %-6s %8s %10s %10s %10s %10s %12s %7s\n", "server", "size", "count", "min_us", "p50_us",
                "p99_us", "max_us", "ops_per_s", "errors");
  int failures = 0;
  for (int server : servers) {
    for (uint64_t size : sizes) {
      std::vector<unsigned char> payload(size), echo(size);
      for (size_t i = 0; i < size; ++i) payload[i] = static_cast<unsigned char>(i * 131 + rank * 7 + 1);
      for (uint64_t i = 0; i < a.warmup; ++i) benchfs_ping(server, payload.data(), size, echo.data());
      std::vector<double> lat;
      lat.reserve(a.count);
      uint64_t errors = 0;
      MPI_Barrier(MPI_COMM_WORLD);
      const uint64_t t0 = benchfs::now_ns();
      for (uint64_t i = 0; i < a.count; ++i) {
        const uint64_t s = benchfs::now_ns();
        const int rc = benchfs_ping(server, payload.data(), size, echo.data());
        const uint64_t e = benchfs::now_ns();
        if (rc != 0) {
          if (errors++ == 0)
            std::fprintf(stderr, "benchfs_bench[%d]: ping: %s\n", rank, benchfs_last_error());
          continue;
        }
        lat.push_back(static_cast<double>(e - s) / 1000.0);
        if (size > 0 && (echo[0] != payload[0] || echo[size - 1] != payload[size - 1])) ++errors;
      }
      const double secs = static_cast<double>(benchfs::now_ns() - t0) / 1e9;
      if (size > 0 && std::memcmp(echo.data(), payload.data(), size) != 0) ++errors;
      // Gather every rank's samples on rank 0.
      int n = static_cast<int>(lat.size());
      std::vector<int> counts(static_cast<size_t>(nranks)), displs(static_cast<size_t>(nranks));
      MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
      std::vector<double> all;
      if (rank == 0) {
        int total = 0;
        for (int r = 0; r < nranks; ++r) {
          displs[static_cast<size_t>(r)] = total;
          total += counts[static_cast<size_t>(r)];
        }
        all.resize(static_cast<size_t>(total));
      }
      MPI_Gatherv(lat.data(), n, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, 0,
                  MPI_COMM_WORLD);
      uint64_t total_errors = 0;
      double max_secs = 0;
      MPI_Reduce(&errors, &total_errors, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
      MPI_Reduce(&secs, &max_secs, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
      if (rank == 0) {
        const Summary s = summarize(all);
        const double ops = max_secs > 0 ? static_cast<double>(all.size()) / max_secs : 0.0;
        if (total_errors > 0) failures = 1;
        if (a.json) {
          std::printf(
              "{\"op\":\"ping\",\"size\":%llu,\"count\":%zu,\"server\":%d,\"ranks\":%d,\"min_us\":%.3f,"
              "\"p50_us\":%.3f,\"p99_us\":%.3f,\"max_us\":%.3f,\"mean_us\":%.3f,\"ops_per_s\":%.1f,"
              "\"errors\":%llu}\n",
              static_cast<unsigned long long>(size), all.size(), server, nranks, s.min_us, s.p50_us, s.p99_us,
              s.max_us, s.mean_us, ops, static_cast<unsigned long long>(total_errors));
        } else {
          std::printf("%-8d %-6s %8zu %10.3f %10.3f %10.3f %10.3f %12.1f %7llu\n", server,
                      benchfs::format_size(size).c_str(), all.size(), s.min_us, s.p50_us, s.p99_us, s.max_us,
                      ops, static_cast<unsigned long long>(total_errors));
        }
        std::fflush(stdout);
      }
    }
  }
  benchfs_finalize();
  return failures;
}

int run_shutdown(const std::string& registry, int rank) {
  if (rank != 0) return 0;
  if (init_client(registry, "", false, rank) != 0) return 1;
  int rc = 0;
  const int n = benchfs_server_count();
  for (int i = 0; i < n; ++i) {
    if (benchfs_shutdown_server(i) != 0) {
      std::fprintf(stderr, "benchfs_bench: shutdown of node_%d: %s\n", i, benchfs_last_error());
      rc = 1;
    }
  }
  benchfs_finalize();
  if (rc == 0) std::printf("asked %d server%s to shut down\n", n, n == 1 ? "" : "s");
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"benchfs_bench: BenchFS benchmark client (run alone or under mpirun)", "benchfs_bench"};
  app.require_subcommand(1);
  PingArgs ping;
  if (const char* env = std::getenv("BENCHFS_REGISTRY")) ping.registry = env;
  auto* p = app.add_subcommand("ping", "Round-trip latency of PING with a payload echoed back");
  p->add_option("--registry", ping.registry, "Registry directory (env BENCHFS_REGISTRY)");
  p->add_option("--size", ping.sizes, "Payload bytes, a comma list with k/m suffixes (0 .. 4m)")
      ->capture_default_str();
  p->add_option("--count", ping.count, "Timed pings per size and server")->capture_default_str();
  p->add_option("--warmup", ping.warmup, "Untimed pings first")->capture_default_str();
  p->add_option("--server", ping.server, "Server index, or all (one result per server)")
      ->capture_default_str();
  p->add_option("--poll", ping.poll, "Client polling: busy, adaptive or blocking (default: library's)")
      ->check(CLI::IsMember({"busy", "adaptive", "blocking"}));
  p->add_flag("--json", ping.json, "One JSON object per result line");
  std::string shut_registry = ping.registry;
  auto* s = app.add_subcommand("shutdown", "Ask every server of the registry to shut down");
  s->add_option("--registry", shut_registry, "Registry directory (env BENCHFS_REGISTRY)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "benchfs_bench: %s\nRun with --help for usage.\n", e.what());
    return 2;
  }
  MPI_Init(&argc, &argv);
  int rank = 0, nranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  int rc = 0;
  if (p->parsed()) rc = run_ping(ping, rank, nranks);
  if (s->parsed()) rc = run_shutdown(shut_registry, rank);
  int worst = rc;
  MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
