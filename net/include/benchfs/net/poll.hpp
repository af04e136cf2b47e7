#pragma once
// How a progress loop waits when it has nothing to do (DESIGN.md section 2):
//   busy      spin forever (lowest latency while threads <= cores)
//   blocking  arm the worker and sleep on its event fd at once
//   adaptive  spin for up to spin_ns, then sleep; the spin budget halves
//             whenever the thread is preempted while spinning (the sign of
//             more busy threads than cores) and recovers slowly after quiet
//             sleeps, so oversubscribed machines fall back to sleeping early.

#include <cstdint>
#include <string_view>

#include "benchfs/core/status.hpp"
#include "benchfs/net/ucx.hpp"

namespace benchfs::net {

enum class PollMode { kBusy, kAdaptive, kBlocking };

Result<PollMode> parse_poll_mode(std::string_view text);
std::string_view poll_mode_name(PollMode mode);

struct PollConfig {
  PollMode mode = PollMode::kAdaptive;
  uint64_t spin_ns = 50'000;
  /// Known at start: more polling threads than cores. Starts with a short
  /// spin budget instead of learning it.
  bool oversubscribed = false;
};

struct IdleStats {
  uint64_t sleeps = 0;
  uint64_t preempted_spins = 0;
};

class Idler {
 public:
  Idler(Worker& worker, PollConfig cfg);

  /// Call after every pass of the loop. `did_work`: the pass made progress.
  /// `has_pending()` is called after arming, just before sleeping, to catch
  /// work that arrived through other channels (an inbox, a flag); returning
  /// true skips the sleep. A sleep lasts at most `max_sleep_ms`.
  template <class Pending>
  void after_pass(bool did_work, Pending&& has_pending, int max_sleep_ms) {
    if (did_work) {
      idle_since_ = 0;
      return;
    }
    if (cfg_.mode == PollMode::kBusy) return;
    if (cfg_.mode == PollMode::kAdaptive && keep_spinning()) return;
    if (worker_.arm() && !has_pending()) sleep(max_sleep_ms);
    idle_since_ = 0;
  }

  [[nodiscard]] uint64_t spin_budget_ns() const { return budget_ns_; }
  [[nodiscard]] const IdleStats& stats() const { return stats_; }

 private:
  bool keep_spinning();
  void sleep(int max_sleep_ms);

  Worker& worker_;
  PollConfig cfg_;
  uint64_t budget_ns_;
  uint64_t idle_since_ = 0;
  uint64_t ivcsw_at_start_ = 0;
  uint32_t idle_passes_ = 0;
  IdleStats stats_;
};

/// Involuntary context switches of the calling thread so far.
uint64_t thread_involuntary_switches();

}  // namespace benchfs::net
