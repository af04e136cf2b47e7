#include "netns.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "benchfs/core/clock.hpp"
#include "harness.hpp"

namespace benchfs::test {

namespace {

constexpr const char* kNetnsDir = "/var/run/netns";
constexpr const char* kPrefix = "bfsmh";
constexpr int kIpTimeoutMs = 10000;

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Runs an `ip` (or other) command; "" or what went wrong.
std::string run_ip(const std::vector<std::string>& argv, std::string* out = nullptr) {
  std::string text;
  const int rc = run_command(argv, kIpTimeoutMs, &text);
  if (out != nullptr) *out = text;
  if (rc == 0) return "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return "`" + join(argv) + "` " + (rc < 0 ? "timed out" : "exited " + std::to_string(rc)) +
         (text.empty() ? "" : ": " + text);
}

void throw_if(const std::string& err) {
  if (!err.empty()) throw Error(EPERM, err);
}

bool netns_exists(const std::string& name) {
  return ::access((std::string(kNetnsDir) + "/" + name).c_str(), F_OK) == 0;
}

std::vector<pid_t> netns_pids(const std::string& name) {
  std::string out;
  std::vector<pid_t> pids;
  if (!run_ip({"ip", "netns", "pids", name}, &out).empty()) return pids;
  std::istringstream in(out);
  for (long p = 0; in >> p;)
    if (p > 0 && p != getpid()) pids.push_back(static_cast<pid_t>(p));
  return pids;
}

// Kills what still runs in the namespace, then deletes it.
void remove_netns(const std::string& name) {
  if (!netns_exists(name)) return;
  const uint64_t deadline = now_ns() + 5'000'000'000ULL;
  for (auto pids = netns_pids(name); !pids.empty() && now_ns() < deadline; pids = netns_pids(name)) {
    for (pid_t p : pids) ::kill(p, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  run_ip({"ip", "netns", "del", name});
}

// Namespaces of earlier runs whose test process is gone (killed with -9):
// "bfsmh<pid>-..." with no process <pid>.
void remove_stale() {
  DIR* d = opendir(kNetnsDir);
  if (d == nullptr) return;
  std::vector<std::string> stale;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind(kPrefix, 0) != 0) continue;
    const long pid = std::atol(name.c_str() + std::char_traits<char>::length(kPrefix));
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(name);
  }
  closedir(d);
  for (const auto& name : stale) remove_netns(name);
}

void kill_tree(pid_t pid, int sig) {
  for (pid_t p : descendants(pid)) ::kill(p, sig);
  ::kill(pid, sig);
}

}  // namespace

std::string netns_unavailable() {
  if (geteuid() != 0) return "not root: network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN";
  std::string out;
  if (run_command({"ip", "-V"}, kIpTimeoutMs, &out) != 0) return "no `ip` command (iproute2): " + out;
  const std::string probe = std::string(kPrefix) + std::to_string(getpid()) + "-probe";
  std::string err = run_ip({"ip", "netns", "add", probe});
  if (err.empty()) {
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"ip", "netns", "exec", probe, "true"},
             {"ip", "-n", probe, "link", "add", "br0", "type", "bridge"},
             {"ip", "-n", probe, "link", "add", "va", "type", "veth", "peer", "name", "vb"}}) {
      err = run_ip(argv);
      if (!err.empty()) break;
    }
  }
  remove_netns(probe);
  return err;
}

NetnsNetwork::NetnsNetwork(const std::vector<std::string>& hosts) : hosts_(hosts) {
  const long pid = getpid();
  prefix_ = std::string(kPrefix) + std::to_string(pid) + "-";
  const std::string net = "10." + std::to_string(200 + pid % 50) + "." + std::to_string(pid % 250) + ".";
  subnet_ = net + "0/24";
  for (size_t i = 0; i < hosts_.size(); ++i) addresses_.push_back(net + std::to_string(10 + i));
  remove_stale();
  up_ = true;
  try {
    const std::string hub = prefix_ + "hub";
    throw_if(run_ip({"ip", "netns", "add", hub}));
    throw_if(run_ip({"ip", "-n", hub, "link", "set", "lo", "up"}));
    throw_if(run_ip({"ip", "-n", hub, "link", "add", "br0", "type", "bridge", "stp_state", "0"}));
    throw_if(run_ip({"ip", "-n", hub, "link", "set", "br0", "up"}));
    for (size_t i = 0; i < hosts_.size(); ++i) {
      const std::string host = name(i);
      const std::string port = "p" + std::to_string(i);
      throw_if(run_ip({"ip", "netns", "add", host}));
      throw_if(run_ip({"ip", "-n", host, "link", "set", "lo", "up"}));
      // Both ends are made inside namespaces of this test.
      throw_if(run_ip(
          {"ip", "-n", hub, "link", "add", port, "type", "veth", "peer", "name", "veth0", "netns", host}));
      throw_if(run_ip({"ip", "-n", hub, "link", "set", port, "master", "br0"}));
      throw_if(run_ip({"ip", "-n", hub, "link", "set", port, "up"}));
      throw_if(run_ip({"ip", "-n", host, "addr", "add", addresses_[i] + "/24", "dev", "veth0"}));
      throw_if(run_ip({"ip", "-n", host, "link", "set", "veth0", "up"}));
    }
    // Ready once every bridge port forwards (no STP: at once, but the
    // carrier of a veth comes up asynchronously).
    const uint64_t deadline = now_ns() + 5'000'000'000ULL;
    for (;;) {
      std::string out;
      throw_if(run_ip({"bridge", "-n", hub, "link", "show"}, &out));
      size_t forwarding = 0;
      for (size_t at = out.find("state forwarding"); at != std::string::npos;
           at = out.find("state forwarding", at + 1))
        ++forwarding;
      if (forwarding == hosts_.size()) break;
      if (now_ns() > deadline) throw Error(ETIMEDOUT, "bridge ports not forwarding after 5 s:\n" + out);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } catch (...) {
    teardown();
    throw;
  }
}

NetnsNetwork::~NetnsNetwork() { teardown(); }

void NetnsNetwork::teardown() {
  if (!up_) return;
  up_ = false;
  for (size_t i = 0; i < hosts_.size(); ++i) remove_netns(name(i));
  remove_netns(prefix_ + "hub");
}

std::string NetnsNetwork::netns_file(size_t i) const { return std::string(kNetnsDir) + "/" + name(i); }

std::vector<std::string> NetnsNetwork::exec(size_t i, const std::vector<std::string>& argv) const {
  std::vector<std::string> out = {"ip", "netns", "exec", name(i)};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::vector<pid_t> NetnsNetwork::pids(size_t i) const { return netns_pids(name(i)); }

// ------------------------------------------------------------ NetnsServerJob

NetnsServerJob::NetnsServerJob(const std::string& dir, const std::string& netns_pattern, int ranks,
                               const NetnsJobOptions& opts)
    : dir_(dir), registry_(dir + "/registry") {
  set_test_environment();
  std::vector<std::string> argv = {"timeout",
                                   "-k",
                                   "5",
                                   std::to_string(opts.hard_timeout_s),
                                   "mpirun",
                                   "-np",
                                   std::to_string(ranks),
                                   "--bind-to",
                                   "none",
                                   "--oversubscribe",
                                   benchfsd_path(),
                                   "--registry",
                                   registry_,
                                   "--netns",
                                   netns_pattern,
                                   "--listen",
                                   "0.0.0.0:0",
                                   "--stats",
                                   dir + "/stats.json.%r",
                                   "--threads",
                                   std::to_string(opts.threads)};
  for (const auto& a : opts.extra_args) argv.push_back(a);
  const int fd = ::open((dir + "/servers.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  pid_ = spawn(argv, fd, opts.env);
  if (fd >= 0) ::close(fd);
}

NetnsServerJob::~NetnsServerJob() {
  if (!reaped_ && pid_ > 0 && terminate(5000) < 0) kill_all();
}

Status NetnsServerJob::wait_ready(int timeout_ms) {
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

registry::ServerList NetnsServerJob::servers() const {
  auto list = registry::read_servers(registry_);
  if (!list) throw Error(list.status());
  return *list;
}

bool NetnsServerJob::running() {
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

pid_t NetnsServerJob::server_pid(int rank) const {
  if (reaped_) return -1;
  for (pid_t p : descendants(pid_)) {
    char exe[4096] = {};
    const std::string link = "/proc/" + std::to_string(p) + "/exe";
    const ssize_t n = readlink(link.c_str(), exe, sizeof exe - 1);
    if (n > 0 && std::string(exe, static_cast<size_t>(n)).find("benchfsd_mt") != std::string::npos &&
        mpi_rank_of(p) == rank)
      return p;
  }
  return -1;
}

int NetnsServerJob::wait_exit(int timeout_ms) {
  const uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_ms) * 1'000'000ULL;
  while (running()) {
    if (now_ns() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_;
}

int NetnsServerJob::terminate(int timeout_ms) {
  if (reaped_) return status_;
  // SIGTERM to every server: each shuts down and finalizes MPI (after its
  // namespace switch), and mpirun exits 0.
  bool any = false;
  for (pid_t p : descendants(pid_)) {
    char exe[4096] = {};
    const std::string link = "/proc/" + std::to_string(p) + "/exe";
    const ssize_t n = readlink(link.c_str(), exe, sizeof exe - 1);
    if (n > 0 && std::string(exe, static_cast<size_t>(n)).find("benchfsd_mt") != std::string::npos) {
      ::kill(p, SIGTERM);
      any = true;
    }
  }
  if (!any) ::kill(pid_, SIGTERM);
  const int rc = wait_exit(timeout_ms);
  if (rc < 0) {
    kill_all();
    return -1;
  }
  return rc;
}

void NetnsServerJob::kill_all() {
  if (reaped_) return;
  kill_tree(pid_, SIGKILL);
  int raw = 0;
  waitpid(pid_, &raw, 0);
  reaped_ = true;
  status_ = -1;
}

std::string NetnsServerJob::log() const {
  std::ifstream in(dir_ + "/servers.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json NetnsServerJob::stats(int rank) const {
  std::ifstream in(dir_ + "/stats.json." + std::to_string(rank));
  if (!in) return nlohmann::json();
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

}  // namespace benchfs::test
