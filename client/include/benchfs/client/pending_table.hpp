#pragma once
// The client engine's calls awaiting replies, by request id: a slot per id
// modulo the table size (no allocation per call), an overflow map for the
// rare collision. Holds pointers only: whoever adds a call removes it before
// the call goes. Not thread safe (the engine's mutex guards it); every
// operation is inline, as it is on every RPC's path.

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace benchfs::client {

/// P: a call with a `uint64_t id`, unique among the calls in the table.
template <class P>
class PendingTable {
 public:
  static constexpr size_t kSlots = 1024;

  void add(P* p) {
    P*& slot = slots_[p->id % kSlots];
    if (slot == nullptr) {
      slot = p;
    } else {
      overflow_.emplace(p->id, p);
    }
  }

  /// The call with this id, or null.
  [[nodiscard]] P* find(uint64_t id) const {
    P* p = slots_[id % kSlots];
    if (p != nullptr && p->id == id) return p;
    if (overflow_.empty()) return nullptr;
    auto it = overflow_.find(id);
    return it == overflow_.end() ? nullptr : it->second;
  }

  /// Removes the call with this id; nothing when there is none.
  void remove(uint64_t id) {
    P*& slot = slots_[id % kSlots];
    if (slot != nullptr && slot->id == id) {
      slot = nullptr;
    } else if (!overflow_.empty()) {
      overflow_.erase(id);
    }
  }

  /// f(P*) for every call; f must not add or remove.
  template <class F>
  void for_each(F&& f) {
    for (P* p : slots_)
      if (p != nullptr) f(p);
    for (auto& [id, p] : overflow_) f(p);
  }

 private:
  std::vector<P*> slots_ = std::vector<P*>(kSlots, nullptr);
  std::unordered_map<uint64_t, P*> overflow_;
};

}  // namespace benchfs::client
