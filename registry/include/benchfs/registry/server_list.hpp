#pragma once
// The server list: how clients find the servers of a job (DESIGN.md section 4).
//
// <dir>/server_list.txt    one "node_<n> <host>:<port>" line per server, appended
//                          by each server under an exclusive flock, fsync'd.
// <dir>/server_list.ready  written atomically by rank 0 once every server has
//                          appended: server count, chunk size and job secret.
//
// The directory is typically on a file system shared by all nodes of the job.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "benchfs/core/clock.hpp"
#include "benchfs/core/status.hpp"

namespace benchfs::registry {

/// One server as written in the list. `host` is a host name, an IPv4 address
/// or an IPv6 address *without* brackets (brackets are added in the file).
struct ServerEntry {
  uint32_t node = 0;
  std::string host;
  uint16_t port = 0;
};

/// The contents of the ready file.
struct ReadyInfo {
  uint32_t servers = 0;
  uint64_t chunk_size = 0;
  uint64_t secret = 0;
};

/// A complete, validated registry: servers[i].node == i for every i.
struct ServerList {
  ReadyInfo info;
  std::vector<ServerEntry> servers;
};

inline constexpr const char* kListFile = "server_list.txt";
inline constexpr const char* kReadyFile = "server_list.ready";
/// Longest line accepted in either file (without its line ending).
inline constexpr size_t kMaxLineLength = 1024;
/// Node numbers are below this; the server count is at most this.
inline constexpr uint32_t kMaxNodes = 1'000'000;
/// Smallest chunk size accepted in the ready file.
inline constexpr uint64_t kMinChunkSize = 4096;

/// mkdir -p `dir`; directories it creates get mode 0700 (existing ones are left
/// as they are). ENOTDIR when a component exists but is not a directory; every
/// error names the path.
Status prepare_directory(const std::string& dir);

/// Removes a stale ready file, then a stale list (rank 0, before the servers of
/// a new job append). Files that are missing are fine.
Status reset(const std::string& dir);

/// The list line for `e` ("node_<n> <host>:<port>\n", IPv6 in brackets; a host
/// that already carries brackets is accepted). EINVAL for an empty or
/// malformed host, port 0 or node >= kMaxNodes.
Result<std::string> format_server_line(const ServerEntry& e);

/// Appends `e` to <dir>/server_list.txt (created mode 0600) under an exclusive
/// flock, writing the two '#' header lines first when the file is empty, then
/// fsync. Safe across processes and nodes that share the file system's locks.
Status append_server(const std::string& dir, const ServerEntry& e);

/// Parses list text. '#' lines and blank lines are skipped; CR before LF and
/// blanks around a line are tolerated; node numbers have no leading zeros.
/// A malformed line gives EINVAL "<source>:<lineno>: <what>: '<line>'"; a
/// duplicate node names both line numbers. Sorted by node number.
Result<std::vector<ServerEntry>> parse_server_list(std::string_view text, std::string_view source);

/// "# BenchFS ready\nservers <n>\nchunk_size <bytes>\nsecret <16 hex>\n".
std::string format_ready(const ReadyInfo& info);

/// Parses ready text: servers, chunk_size and secret are all required (each
/// once), unknown keys are ignored, '#' and blank lines skipped. Requires
/// 1 <= servers <= kMaxNodes, chunk_size a power of two >= kMinChunkSize and
/// secret != 0. EINVAL with "<source>:<lineno>: ..." or "<source>: missing ...".
Result<ReadyInfo> parse_ready(std::string_view text, std::string_view source);

/// Atomically publishes the ready file: temp file (mode 0600) + fsync + rename
/// to kReadyFile + fsync of the directory. EINVAL if `info` would not parse.
Status publish_ready(const std::string& dir, const ReadyInfo& info);

/// <dir>/workers.node_<n>: the UCX worker addresses of server n's progress
/// threads ("thread <i> <hex>" lines), for clients of the reply_ep
/// connection mode, which connect to a worker directly instead of to the
/// listener. Each server publishes its own (atomically) before it appends
/// itself to the list.
inline constexpr const char* kWorkersFilePrefix = "workers.node_";
Status publish_worker_addresses(const std::string& dir, uint32_t node,
                                const std::vector<std::string>& addresses);
/// Parses a worker-address file: threads numbered from 0 in order, each
/// with a non-empty even-length hex address. EINVAL "<source>:<line>: ...".
Result<std::vector<std::string>> parse_worker_addresses(std::string_view text, std::string_view source);
/// Reads server `node`'s worker addresses (ENOENT if it published none).
Result<std::vector<std::string>> read_worker_addresses(const std::string& dir, uint32_t node);

/// Removes the ready file first (so no client starts using a list that is
/// about to vanish), then the list. Missing files are fine.
Status withdraw(const std::string& dir);

/// Reads a published registry. Not ready yet: ENOENT (no directory, no ready
/// file, no list) or EAGAIN (list incomplete: the message names the missing
/// nodes). Broken: EINVAL (parse errors, a node outside 0..servers-1), ENOTDIR,
/// or the errno of a failed read.
Result<ServerList> read_servers(const std::string& dir);

/// Polls read_servers (every 10 ms, growing to 100 ms) until it succeeds or
/// `deadline` passes. A registry that is ready but broken (EINVAL) is returned
/// at once. On timeout: ETIMEDOUT naming the directory, the time waited and
/// what was missing (no directory / no server_list.ready / list incomplete).
Result<ServerList> wait_for_servers(const std::string& dir, Deadline deadline);

}  // namespace benchfs::registry
