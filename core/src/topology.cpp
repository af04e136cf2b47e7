#include "benchfs/core/topology.hpp"

#include <hwloc.h>

#include <cstdlib>
#include <memory>
#include <utility>

namespace benchfs {

namespace {

struct BitmapDeleter {
  void operator()(hwloc_bitmap_s* b) const { hwloc_bitmap_free(b); }
};
using Bitmap = std::unique_ptr<hwloc_bitmap_s, BitmapDeleter>;

Bitmap make_bitmap() {
  Bitmap b(hwloc_bitmap_alloc());
  if (!b) throw Error(ENOMEM, "hwloc_bitmap_alloc");
  return b;
}

std::string list_string(hwloc_const_bitmap_t set) {
  char* s = nullptr;
  if (hwloc_bitmap_list_asprintf(&s, set) < 0 || s == nullptr) return "?";
  std::string out(s);
  std::free(s);
  return out;
}

}  // namespace

std::string CoreSet::to_string() const {
  std::string s = "core " + std::to_string(core_index) + " (pu";
  for (size_t i = 0; i < pus.size(); ++i) s += (i == 0 ? " " : ",") + std::to_string(pus[i]);
  return s + ")";
}

Topology::Topology() {
  if (hwloc_topology_init(&topo_) != 0) throw Error(errno ? errno : EIO, "hwloc_topology_init");
  if (hwloc_topology_load(topo_) != 0) {
    hwloc_topology_destroy(topo_);
    topo_ = nullptr;
    throw Error(errno ? errno : EIO, "hwloc_topology_load");
  }
}

Topology::~Topology() {
  if (topo_ != nullptr) hwloc_topology_destroy(topo_);
}

Topology::Topology(Topology&& other) noexcept : topo_(std::exchange(other.topo_, nullptr)) {}

Topology& Topology::operator=(Topology&& other) noexcept {
  if (this != &other) {
    if (topo_ != nullptr) hwloc_topology_destroy(topo_);
    topo_ = std::exchange(other.topo_, nullptr);
  }
  return *this;
}

std::string Topology::binding_string() const {
  auto set = make_bitmap();
  if (hwloc_get_cpubind(topo_, set.get(), HWLOC_CPUBIND_PROCESS) != 0) return "unknown";
  return list_string(set.get());
}

std::vector<CoreSet> Topology::allowed_cores() const {
  auto set = make_bitmap();
  if (hwloc_get_cpubind(topo_, set.get(), HWLOC_CPUBIND_PROCESS) != 0 || hwloc_bitmap_iszero(set.get()))
    hwloc_bitmap_copy(set.get(), hwloc_topology_get_allowed_cpuset(topo_));
  std::vector<CoreSet> cores;
  const int n = hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_CORE);
  for (int i = 0; i < n; ++i) {
    hwloc_obj_t core = hwloc_get_obj_by_type(topo_, HWLOC_OBJ_CORE, static_cast<unsigned>(i));
    if (core == nullptr || core->cpuset == nullptr) continue;
    CoreSet cs;
    cs.core_index = core->logical_index;
    unsigned pu = 0;
    hwloc_bitmap_foreach_begin(pu, core->cpuset) {
      if (hwloc_bitmap_isset(set.get(), pu)) cs.pus.push_back(pu);
    }
    hwloc_bitmap_foreach_end();
    if (!cs.pus.empty()) cores.push_back(std::move(cs));
  }
  if (cores.empty()) {
    // No core objects (some VMs): one pseudo-core per allowed PU.
    unsigned pu = 0;
    unsigned idx = 0;
    hwloc_bitmap_foreach_begin(pu, set.get()) { cores.push_back(CoreSet{idx++, {pu}}); }
    hwloc_bitmap_foreach_end();
  }
  return cores;
}

Status Topology::bind_current_thread(const CoreSet& core) const {
  auto set = make_bitmap();
  for (unsigned pu : core.pus) hwloc_bitmap_set(set.get(), pu);
  if (hwloc_set_cpubind(topo_, set.get(), HWLOC_CPUBIND_THREAD) != 0)
    return Status(errno ? errno : EINVAL, "binding thread to " + core.to_string());
  return Status();
}

}  // namespace benchfs
