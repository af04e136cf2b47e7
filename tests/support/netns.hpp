#pragma once
// Multi-host tests on one machine: "hosts" as Linux network namespaces on a
// private subnet, each with one veth whose peer is a port of a bridge in a
// hub namespace. Nothing of the root namespace is touched: no address, no
// interface, no route (the veths are made inside the hub and the hosts).
// Names carry the test's pid; the destructor kills what still runs in the
// namespaces and deletes them, also when an assertion failed. And a
// benchfsd_mt job whose ranks each join a host namespace (--netns).

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "benchfs/core/status.hpp"
#include "benchfs/registry/server_list.hpp"

namespace benchfs::test {

/// "" when this process can make network namespaces and veths and run
/// commands in them (root, `ip`, CAP_SYS_ADMIN), else why not. Makes and
/// removes a probe namespace.
std::string netns_unavailable();

/// The hosts of one test: namespace "<prefix><host>" for each name, plus
/// "<prefix>hub" with the bridge. prefix() is "bfsmh<pid>-".
class NetnsNetwork {
 public:
  /// Host i gets 10.(200 + pid % 50).(pid % 250).(10 + i)/24 on "veth0".
  /// Throws benchfs::Error naming the command that failed (after removing
  /// what it had made).
  explicit NetnsNetwork(const std::vector<std::string>& hosts);
  ~NetnsNetwork();
  NetnsNetwork(const NetnsNetwork&) = delete;
  NetnsNetwork& operator=(const NetnsNetwork&) = delete;

  [[nodiscard]] const std::string& prefix() const { return prefix_; }
  [[nodiscard]] size_t size() const { return hosts_.size(); }
  /// Namespace name of host i.
  [[nodiscard]] std::string name(size_t i) const { return prefix_ + hosts_[i]; }
  /// Its file for setns (/var/run/netns/NAME).
  [[nodiscard]] std::string netns_file(size_t i) const;
  /// Its IPv4 address.
  [[nodiscard]] const std::string& address(size_t i) const { return addresses_[i]; }
  [[nodiscard]] const std::string& subnet() const { return subnet_; }
  /// argv run inside host i: {"ip", "netns", "exec", name(i), argv...}.
  [[nodiscard]] std::vector<std::string> exec(size_t i, const std::vector<std::string>& argv) const;
  /// PIDs of the processes in host i's namespace.
  [[nodiscard]] std::vector<pid_t> pids(size_t i) const;
  /// Kills (SIGKILL) what runs in the namespaces, then deletes them. Also
  /// done by the destructor.
  void teardown();

 private:
  std::vector<std::string> hosts_;
  std::vector<std::string> addresses_;
  std::string prefix_;
  std::string subnet_;
  bool up_ = false;
};

}  // namespace benchfs::test
