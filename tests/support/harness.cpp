#include "harness.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "benchfs/core/clock.hpp"

namespace benchfs::test {

namespace fs = std::filesystem;

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + ".XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw Error(errno, "mkdtemp");
  path_ = buf.data();
}

TempDir::~TempDir() {
  // BENCHFS_TEST_KEEP=1 leaves the directory (logs, registry) for a look.
  if (const char* keep = std::getenv("BENCHFS_TEST_KEEP"); keep != nullptr && *keep == '1') {
    std::fprintf(stderr, "kept %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void set_test_environment() {
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  // Single-machine tests: UCX on loopback (the CM needs tcp on lo).
  setenv("UCX_NET_DEVICES", "lo", 0);
  // MPI itself: shared memory only, never a network interface.
  setenv("OMPI_MCA_pml", "ob1", 0);
  setenv("OMPI_MCA_btl", "self,vader", 0);
  setenv("OMPI_MCA_oob_tcp_if_include", "lo", 0);
  setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
#ifdef BENCHFS_ASAN
  // Servers and clients built with ASan: full stacks so that leaks inside
  // Open MPI can be told from ours (see sanitizers/lsan.supp), and MPI's
  // components kept loaded so their frames have names.
  setenv("ASAN_OPTIONS", "fast_unwind_on_malloc=0:detect_leaks=1", 0);
  setenv("LSAN_OPTIONS", "suppressions=" BENCHFS_LSAN_SUPPRESSIONS ":print_suppressions=0", 0);
  setenv("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1", 0);
  setenv("OMPI_MCA_mca_base_component_disable_dlclose", "1", 0);
  setenv("PMIX_MCA_mca_base_component_disable_dlclose", "1", 0);
#endif
#ifdef BENCHFS_TSAN
  // UCX's memory-event hooks (libucm patching mmap/munmap/brk for its
  // registration cache) crash ThreadSanitizer's interceptors; shared memory,
  // cma and tcp, all this suite uses, need no registration cache.
  setenv("UCX_MEM_EVENTS", "no", 0);
  // ThreadSanitizer does not intercept shmat/shmdt: when UCX detaches a
  // SysV shared-memory segment (an evicted client's endpoint) and attaches
  // another at the same address, the old accesses' shadow stays and TSan
  // reports a race inside UCX's copy into the new segment (load test in CI:
  // ucp_dt_pack / ucs_iov_copy on "SYSV00000000 (deleted)"). POSIX shared
  // memory is mmap'ed, and TSan resets the shadow at munmap.
  setenv("UCX_TLS", "^sysv", 0);
#endif
}

size_t open_fds() {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/self/fd", ec); !ec && it != fs::directory_iterator();
       it.increment(ec))
    ++n;
  return n;
}

std::string benchfsd_path() { return BENCHFSD_PATH; }
std::string bench_path() { return std::string(BENCHFS_BINARY_DIR) + "/perf/benchfs_bench"; }

std::vector<pid_t> descendants(pid_t root) {
  // Parent of every process, from /proc.
  std::map<pid_t, std::vector<pid_t>> children;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
      if (pid <= 0) continue;
      std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
      std::string line;
      if (!std::getline(stat, line)) continue;
      const size_t close = line.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(line.substr(close + 2));
      char state = 0;
      pid_t ppid = 0;
      rest >> state >> ppid;
      children[ppid].push_back(pid);
    }
    closedir(d);
  }
  std::vector<pid_t> out;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    const pid_t p = todo.back();
    todo.pop_back();
    for (pid_t c : children[p]) {
      out.push_back(c);
      todo.push_back(c);
    }
  }
  return out;
}

pid_t spawn(const std::vector<std::string>& argv, int log_fd, const std::map<std::string, std::string>& env,
            int death_signal) {
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw Error(errno, "fork");
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, death_signal);
    if (getppid() != parent) _exit(127);
    if (log_fd >= 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
    }
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  return pid;
}

int exit_code(int raw) {
  if (WIFEXITED(raw)) return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
  return -1;
}

char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 'X';
  const size_t close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

int env_positive_int(const char* name, int def) {
  const char* v = std::getenv(name);
  const int n = v != nullptr ? std::atoi(v) : 0;
  return n > 0 ? n : def;
}

int mpi_rank_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string var;
  const std::string key = "OMPI_COMM_WORLD_RANK=";
  while (std::getline(in, var, '\0')) {
    if (var.compare(0, key.size(), key) == 0) return std::atoi(var.c_str() + key.size());
  }
  return -1;
}

namespace {

void kill_tree(pid_t pid, int sig) {
  for (pid_t p : descendants(pid)) ::kill(p, sig);
  ::kill(pid, sig);
}

// Waits up to timeout_ms for pid; its wait status or -1.
int wait_for(pid_t pid, int timeout_ms, int* raw_status) {
  const uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_ms) * 1'000'000ULL;
  for (;;) {
    int st = 0;
    const pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      *raw_status = st;
      return 0;
    }
    if (r < 0) return -1;
    if (now_ns() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

int run_command(const std::vector<std::string>& argv, int timeout_ms, std::string* out,
                const std::map<std::string, std::string>& env) {
  set_test_environment();
  char tmpl[] = "/tmp/benchfs-cmd.XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) throw Error(errno, "mkstemp");
  unlink(tmpl);
  const pid_t pid = spawn(argv, fd, env);
  int raw = 0;
  int rc = -1;
  if (wait_for(pid, timeout_ms, &raw) == 0) {
    rc = exit_code(raw);
  } else {
    kill_tree(pid, SIGKILL);
    waitpid(pid, &raw, 0);
  }
  if (out != nullptr) {
    out->clear();
    lseek(fd, 0, SEEK_SET);
    char buf[4096];
    ssize_t n = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return rc;
}

// ------------------------------------------------------------------ ServerJob

ServerJob::ServerJob(const std::string& dir, const JobOptions& opts)
    : dir_(dir), registry_(dir + "/registry"), opts_(opts) {
  set_test_environment();
  std::vector<std::string> argv;
  if (opts.hard_timeout_s > 0) argv = {"timeout", "-k", "5", std::to_string(opts.hard_timeout_s)};
  for (const std::string& a :
       {std::string("mpirun"), std::string("-np"), std::to_string(opts.ranks), std::string("--bind-to"),
        std::string("none"), std::string("--oversubscribe"), benchfsd_path(), std::string("--registry"),
        registry_, std::string("--listen"), opts.listen, std::string("--stats"), dir + "/stats.json.%r",
        std::string("--threads"), std::to_string(opts.threads)})
    argv.push_back(a);
  if (!opts.netns.empty()) {
    argv.push_back("--netns");
    argv.push_back(opts.netns);
  }
  for (const auto& a : opts.extra_args) argv.push_back(a);
  const int fd = ::open((dir + "/servers.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  pid_ = spawn(argv, fd, opts.env);
  ::close(fd);
}

ServerJob::~ServerJob() {
  if (!reaped_ && pid_ > 0) {
    if (terminate(5000) < 0) kill_all();
  }
}

Status ServerJob::wait_ready(int timeout_ms) {
  const uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_ms) * 1'000'000ULL;
  for (;;) {
    if (!running()) return Status(ECHILD, "server job exited early; log:\n" + log());
    auto list = registry::read_servers(registry_);
    if (list) return Status();
    if (now_ns() >= deadline)
      return Status(ETIMEDOUT, "servers not ready: " + list.status().to_string() + "\n" + log());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

registry::ServerList ServerJob::servers() const {
  auto list = registry::read_servers(registry_);
  if (!list) throw Error(list.status());
  return *list;
}

bool ServerJob::running() {
  if (reaped_) return false;
  int st = 0;
  const pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = exit_code(st);
    return false;
  }
  return r == 0;
}

int ServerJob::signal_mpirun(int sig) { return ::kill(pid_, sig); }

int ServerJob::wait_exit(int timeout_ms) {
  if (reaped_) return status_;
  int raw = 0;
  if (wait_for(pid_, timeout_ms, &raw) != 0) return -1;
  reaped_ = true;
  status_ = exit_code(raw);
  return status_;
}

int ServerJob::terminate(int timeout_ms) {
  if (reaped_) return status_;
  // SIGTERM to every server: each shuts down and finalizes MPI, and mpirun
  // exits 0. (mpirun itself forwards a SIGTERM too, but then exits 1.)
  auto pids = server_pids();
  if (pids.empty()) ::kill(pid_, SIGTERM);
  for (pid_t p : pids) ::kill(p, SIGTERM);
  const int rc = wait_exit(timeout_ms);
  if (rc < 0) {
    kill_all();
    return -1;
  }
  return rc;
}

void ServerJob::kill_all() {
  if (reaped_) return;
  kill_tree(pid_, SIGKILL);
  int raw = 0;
  waitpid(pid_, &raw, 0);
  reaped_ = true;
  status_ = -1;
}

std::string ServerJob::log() const { return read_file(dir_ + "/servers.log"); }

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

nlohmann::json ServerJob::stats(int rank) const {
  std::ifstream in(dir_ + "/stats.json." + std::to_string(rank));
  if (!in) return nlohmann::json();
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

std::vector<pid_t> ServerJob::server_pids() const {
  std::vector<pid_t> out;
  for (pid_t p : descendants(pid_)) {
    char exe[4096] = {};
    const std::string link = "/proc/" + std::to_string(p) + "/exe";
    const ssize_t n = readlink(link.c_str(), exe, sizeof exe - 1);
    if (n > 0 && std::string(exe, static_cast<size_t>(n)).find("benchfsd_mt") != std::string::npos)
      out.push_back(p);
  }
  return out;
}

pid_t ServerJob::server_pid(int rank) const {
  for (pid_t p : server_pids())
    if (mpi_rank_of(p) == rank) return p;
  return -1;
}

// ------------------------------------------------------------------ RawClient

RawClient::RawClient() {
  set_test_environment();
  ctx_ = std::make_unique<net::Context>();
  worker_ = std::make_unique<net::Worker>(*ctx_, UCS_THREAD_MODE_SINGLE, "raw-client");
  worker_->set_am_handler(wire::kAmReply, &RawClient::reply_cb, this);
  worker_->set_am_handler(wire::kAmNotify, &RawClient::notify_cb, this);
}

RawClient::~RawClient() {
  close();
  ep_ = net::Endpoint();
  worker_.reset();
  ctx_.reset();
}

Status RawClient::connect(const std::string& host, uint16_t port) {
  close();
  auto addr = net::resolve(host, port);
  if (!addr) return addr.status();
  ep_failed_ = false;
  auto ep = net::Endpoint::connect(*worker_, *addr, &RawClient::err_cb, this);
  if (!ep) return ep.status();
  ep_ = std::move(*ep);
  return Status();
}

void RawClient::close() {
  net::Request r = ep_.close_nb();
  if (!r.has_request()) return;
  progress_until([&r] { return !r.in_progress(); }, 3000);
}

bool RawClient::progress_until(const std::function<bool()>& done, int timeout_ms) {
  const uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_ms) * 1'000'000ULL;
  while (!done()) {
    if (worker_->progress() == 0) {
      if (now_ns() >= deadline) return false;
      std::this_thread::yield();
    }
  }
  return true;
}

Status RawClient::send(const void* header, size_t header_len, const void* data, size_t len, bool reply_flag,
                       bool eager) {
  if (!ep_) return Status(ENOTCONN, "not connected");
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  p.flags = (reply_flag ? UCP_AM_SEND_FLAG_REPLY : 0) | (eager ? UCP_AM_SEND_FLAG_EAGER : 0);
  ucs_status_ptr_t r = ucp_am_send_nbx(ep_.get(), wire::kAmRequest, header, header_len, data, len, &p);
  if (UCS_PTR_IS_ERR(r)) return net::ucs_to_status(UCS_PTR_STATUS(r), "send");
  if (r == nullptr) return Status();
  const bool ok = progress_until([r] { return ucp_request_check_status(r) != UCS_INPROGRESS; }, 5000);
  const ucs_status_t s = ok ? ucp_request_check_status(r) : UCS_ERR_TIMED_OUT;
  if (!ok) ucp_request_cancel(worker_->get(), r);
  ucp_request_free(r);
  return net::ucs_to_status(s, "send");
}

Result<wire::Reply> RawClient::wait_reply(uint64_t request_id, int timeout_ms) {
  if (!progress_until([&] { return replies_.count(request_id) > 0 || ep_failed_; }, timeout_ms))
    return Status(ETIMEDOUT, "no reply to request " + std::to_string(request_id));
  auto it = replies_.find(request_id);
  if (it == replies_.end()) return Status(ECONNRESET, "endpoint failed");
  wire::Reply r = it->second;
  replies_.erase(it);
  return r;
}

Result<wire::Reply> RawClient::call(wire::Request req, const void* data, size_t len, int timeout_ms) {
  if (req.request_id == 0) req.request_id = next_id();
  if (req.session == 0 && req.op != wire::Op::kRegisterClient) req.session = session_;
  wire::Encoded h = wire::encode_request_header(req);
  std::vector<std::byte> var(wire::request_var_size(req));
  if (!var.empty()) {
    wire::encode_request_var(req, var.data());
    data = var.data();
    len = var.size();
  }
  if (auto st = send(h.data(), h.size, data, len, true, !var.empty()); !st) return st;
  return wait_reply(req.request_id, timeout_ms);
}

Status RawClient::register_client(const std::string& id, uint64_t secret, uint64_t* session) {
  wire::Request req;
  req.op = wire::Op::kRegisterClient;
  req.secret = secret;
  req.client_id = id;
  auto r = call(req);
  if (!r) return r.status();
  if (r->status != 0) return Status(-r->status, "register");
  session_ = r->session;
  if (session != nullptr) *session = r->session;
  return Status();
}

ucs_status_t RawClient::reply_cb(void* arg, const void* header, size_t header_len, void* data, size_t len,
                                 const ucp_am_recv_param_t* param) {
  auto* self = static_cast<RawClient*>(arg);
  auto r = wire::decode_reply(header, header_len);
  if (!r) return UCS_OK;
  if ((param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) == 0 && len > 0) {
    const auto* p = static_cast<const std::byte*>(data);
    self->last_data_.assign(p, p + len);
  } else {
    self->last_data_.clear();
  }
  self->replies_[r->request_id] = *r;
  return UCS_OK;
}

ucs_status_t RawClient::notify_cb(void* arg, const void*, size_t, void*, size_t, const ucp_am_recv_param_t*) {
  ++static_cast<RawClient*>(arg)->notifications_;
  return UCS_OK;
}

void RawClient::err_cb(void* arg, ucp_ep_h, ucs_status_t) { static_cast<RawClient*>(arg)->ep_failed_ = true; }

}  // namespace benchfs::test
