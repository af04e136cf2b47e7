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

}  // namespace benchfs::test
