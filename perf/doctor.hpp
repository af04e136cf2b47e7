#pragma once
// benchfs_bench doctor: can every rank reach every server of a registry?
// Per (rank, server): connect, register, ping, one small file written and
// read back, with the transports and devices UCX chose, the connect time
// and the RTT; a failure ends in a diagnosis and a non-zero exit.

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace benchfs::doctor {

struct Args {
  std::string registry;
  uint64_t timeout_ms = 3000;  ///< every attempt (registry wait, connect, each RPC)
  unsigned pings = 5;          ///< timed pings per server (the RTT is their median)
  std::string io_size = "4k";  ///< bytes of the file written and read back on each server
  bool verbose = false;        ///< also print UCX's description of every endpoint
};

/// Adds the `doctor` subcommand to app, filling args.
CLI::App* add_command(CLI::App& app, Args& args);

/// Runs the doctor on this rank (every rank of MPI_COMM_WORLD calls it).
/// Rank 0 prints every rank's lines and a summary. 0 when this rank
/// reached every server, 1 when it did not, 2 for bad arguments.
int run(const Args& args, int rank, int nranks);

}  // namespace benchfs::doctor
