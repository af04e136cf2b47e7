#pragma once
// Test support: temporary directories, real benchfsd_mt jobs under mpirun
// (killed with their whole process tree on teardown), stats files, and a raw
// UCX client that speaks the wire protocol by hand.

#include <sys/types.h>

#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "benchfs/core/status.hpp"
#include "benchfs/net/ucx.hpp"
#include "benchfs/protocol/codec.hpp"
#include "benchfs/registry/server_list.hpp"

namespace benchfs::test {

/// A fresh directory under /tmp, removed with its contents on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "benchfs-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct JobOptions {
  int ranks = 2;
  unsigned threads = 2;
  std::vector<std::string> extra_args;
  std::map<std::string, std::string> env;
  std::string listen = "127.0.0.1:0";
  /// benchfsd_mt --netns PATTERN (%r = rank; tests/support/netns.hpp): each
  /// server in a network namespace of its own. Empty: none.
  std::string netns;
  /// > 0: mpirun runs under `timeout -k 5 <this>`, so it never outlives a
  /// forgotten test.
  int hard_timeout_s = 0;

  /// `ranks` servers of `threads` progress threads each, the rest default.
  static JobOptions of(int ranks, unsigned threads) {
    JobOptions o;
    o.ranks = ranks;
    o.threads = threads;
    return o;
  }
};

/// Fails the test, and returns from the function, unless `job` (a ServerJob)
/// is ready within 60 s; the message says why and holds the job's log.
#define ASSERT_JOB_READY(job)                                                         \
  do {                                                                                \
    const ::benchfs::Status job_ready_ = (job).wait_ready(60000);                     \
    ASSERT_TRUE(job_ready_.is_ok()) << job_ready_.to_string() << "\n" << (job).log(); \
  } while (false)

/// A benchfsd_mt job: `mpirun -np ranks --bind-to none benchfsd_mt ...` with
/// its log in <dir>/servers.log and stats in <dir>/stats.json.<rank>.
class ServerJob {
 public:
  ServerJob(const std::string& dir, const JobOptions& opts);
  ~ServerJob();
  ServerJob(const ServerJob&) = delete;
  ServerJob& operator=(const ServerJob&) = delete;

  [[nodiscard]] const std::string& registry() const { return registry_; }
  /// Waits until the registry is ready (and the job still runs).
  Status wait_ready(int timeout_ms);
  [[nodiscard]] registry::ServerList servers() const;
  [[nodiscard]] bool running();
  /// SIGTERM to every server process, then waits. Returns mpirun's exit
  /// status, or -1 when the job had to be killed after timeout_ms.
  int terminate(int timeout_ms);
  /// Sends a signal to mpirun itself (which forwards it to the servers).
  int signal_mpirun(int sig);
  /// Waits for the job to end by itself. Exit status, or -1 on timeout.
  int wait_exit(int timeout_ms);
  /// SIGKILL to the whole process tree.
  void kill_all();
  [[nodiscard]] std::string log() const;
  [[nodiscard]] nlohmann::json stats(int rank) const;
  /// PIDs of the benchfsd_mt processes of this job.
  [[nodiscard]] std::vector<pid_t> server_pids() const;
  /// PID of rank's benchfsd_mt, -1 if none.
  [[nodiscard]] pid_t server_pid(int rank) const;

 private:
  std::string dir_;
  std::string registry_;
  JobOptions opts_;
  pid_t pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
};

/// Runs argv with a timeout; output (stdout+stderr) into *out. Returns the
/// exit status, or -1 on timeout (the process tree is killed).
int run_command(const std::vector<std::string>& argv, int timeout_ms, std::string* out,
                const std::map<std::string, std::string>& env = {});

/// fork + exec of argv with stdout and stderr on log_fd (if >= 0), stdin on
/// /dev/null, `env` added, in its own process group; the child gets
/// death_signal when the test dies. Throws on fork failure.
pid_t spawn(const std::vector<std::string>& argv, int log_fd, const std::map<std::string, std::string>& env,
            int death_signal = SIGTERM);

/// A wait status as an exit code: the status, 128 + signal, or -1.
int exit_code(int raw);

/// The state letter of /proc/<pid>/stat ('T' once a SIGSTOP has taken
/// effect), 'X' when the process is gone.
char process_state(pid_t pid);

/// The MPI rank of an Open MPI process, from its environment (-1 if unknown).
int mpi_rank_of(pid_t pid);

/// A positive integer from the environment variable `name`, else `def` (unset,
/// not a number, or not above 0). For tests a user may lengthen by hand.
int env_positive_int(const char* name, int def);

/// Every descendant of pid (children first found, recursively).
std::vector<pid_t> descendants(pid_t pid);

/// Open file descriptors of this process.
size_t open_fds();

/// Environment every test process sets for UCX and Open MPI on this machine.
void set_test_environment();

/// The whole content of a file ("" if it cannot be read).
std::string read_file(const std::string& path);

/// `s` as one word for bash -c (single quotes, embedded ones escaped).
std::string shell_quote(const std::string& s);

std::string benchfsd_path();
std::string bench_path();

/// A client that talks the wire protocol directly over UCX, for malformed
/// messages and connect storms.
class RawClient {
 public:
  RawClient();
  ~RawClient();
  Status connect(const std::string& host, uint16_t port);
  void close();
  /// Sends an AM request (header + data) and waits for its send completion.
  Status send(const void* header, size_t header_len, const void* data, size_t len, bool reply_flag = true,
              bool eager = true);
  /// Waits for the reply with this request id.
  Result<wire::Reply> wait_reply(uint64_t request_id, int timeout_ms);
  /// Encodes and sends `req`, waits for its reply.
  Result<wire::Reply> call(wire::Request req, const void* data = nullptr, size_t len = 0,
                           int timeout_ms = 5000);
  Status register_client(const std::string& id, uint64_t secret, uint64_t* session);
  [[nodiscard]] uint64_t next_id() { return next_id_++; }
  [[nodiscard]] size_t notifications() const { return notifications_; }
  [[nodiscard]] bool ep_failed() const { return ep_failed_; }
  [[nodiscard]] uint64_t session() const { return session_; }
  [[nodiscard]] const std::vector<std::byte>& last_data() const { return last_data_; }

 private:
  static ucs_status_t reply_cb(void* arg, const void* header, size_t header_len, void* data, size_t len,
                               const ucp_am_recv_param_t* param);
  static ucs_status_t notify_cb(void* arg, const void* header, size_t header_len, void* data, size_t len,
                                const ucp_am_recv_param_t* param);
  static void err_cb(void* arg, ucp_ep_h ep, ucs_status_t status);
  bool progress_until(const std::function<bool()>& done, int timeout_ms);

  std::unique_ptr<net::Context> ctx_;
  std::unique_ptr<net::Worker> worker_;
  net::Endpoint ep_;
  std::map<uint64_t, wire::Reply> replies_;
  std::vector<std::byte> last_data_;
  size_t notifications_ = 0;
  bool ep_failed_ = false;
  uint64_t next_id_ = 1;
  uint64_t session_ = 0;
};

}  // namespace benchfs::test
