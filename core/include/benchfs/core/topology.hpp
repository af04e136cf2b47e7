#pragma once
// hwloc topology: which cores this process may run on, and thread pinning.

#include <string>
#include <vector>

#include "benchfs/core/status.hpp"

struct hwloc_topology;

namespace benchfs {

/// One core inside the process's binding: the OS indices of its allowed PUs.
struct CoreSet {
  unsigned core_index = 0;  ///< logical index of the core in the machine
  std::vector<unsigned> pus;
  [[nodiscard]] std::string to_string() const;
};

/// RAII owner of an hwloc topology.
class Topology {
 public:
  /// Loads the machine topology. Throws Error on failure.
  Topology();
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;
  Topology(Topology&& other) noexcept;
  Topology& operator=(Topology&& other) noexcept;

  /// Cores of the current process binding (its cpuset as the launcher set
  /// it), each with its allowed PUs. Never empty: falls back to all cores.
  [[nodiscard]] std::vector<CoreSet> allowed_cores() const;
  /// The process binding as a list string ("0-1", "3").
  [[nodiscard]] std::string binding_string() const;
  /// Binds the calling thread to the PUs of `core`.
  Status bind_current_thread(const CoreSet& core) const;

 private:
  hwloc_topology* topo_ = nullptr;
};

/// Index into `ncores` for thread `i` of `nthreads` when thread 0 is the
/// accept thread: threads wrap around the cores.
inline size_t core_for_thread(size_t i, size_t ncores) { return ncores == 0 ? 0 : i % ncores; }

}  // namespace benchfs
