#pragma once
// How a progress loop waits when it has nothing to do (DESIGN.md section 2):
//   busy      spin forever (lowest latency while threads <= cores)
//   blocking  arm the worker and sleep on its event fd at once
//   adaptive  spin for up to spin_ns, then sleep. It does not spin at all
//             while the machine has more runnable threads than CPUs (spinning
//             would then take a CPU from a thread with work), and its spin
//             budget halves whenever it is preempted while spinning.

#include <atomic>
#include <cstdint>
#include <string_view>

#include "benchfs/core/status.hpp"
#include "benchfs/net/ucx.hpp"

namespace benchfs::net {

enum class PollMode { kBusy, kAdaptive, kBlocking };

Result<PollMode> parse_poll_mode(std::string_view text);
std::string_view poll_mode_name(PollMode mode);

/// Whether the machine's CPUs are oversubscribed right now: more runnable
/// threads (the 4th field of /proc/loadavg) than online CPUs. Shared by the
/// threads of a process; re-read at most once per millisecond.
class CpuPressure {
 public:
  CpuPressure();
  ~CpuPressure();
  CpuPressure(const CpuPressure&) = delete;
  CpuPressure& operator=(const CpuPressure&) = delete;

  /// True while runnable threads clearly outnumber CPUs: their moving
  /// average is above cpus + 2 (it turns false again below cpus + 1).
  bool congested(uint64_t now_ns);
  [[nodiscard]] unsigned cpus() const { return cpus_; }
  /// The smoothed count of runnable threads (for logs and tests).
  [[nodiscard]] double smoothed_running() const { return static_cast<double>(avg16_.load()) / 16.0; }
  /// Runnable threads from a /proc/loadavg line ("0.1 0.2 0.3 4/321 999").
  static bool parse_running(std::string_view loadavg, unsigned* running);

 private:
  void refresh();
  int fd_ = -1;
  unsigned cpus_ = 1;
  std::atomic<uint64_t> next_ns_{0};
  std::atomic<bool> congested_{false};
  std::atomic<bool> refreshing_{false};
  std::atomic<int64_t> avg16_{0};  ///< smoothed runnable threads x 16 (written under refreshing_)
};

struct PollConfig {
  PollMode mode = PollMode::kAdaptive;
  uint64_t spin_ns = 50'000;
  /// Known at start: more polling threads than cores. Starts with a short
  /// spin budget instead of learning it.
  bool oversubscribed = false;
  /// Shared oversubscription signal (adaptive mode); may be null.
  CpuPressure* pressure = nullptr;
};

/// An adaptive spin budget, shared by the server's Idler and the client's
/// reply wait: halved whenever the spinning thread is found preempted (an
/// involuntary context switch during a spell: somebody else needed the
/// core), won back slowly after each sleep (1/32 of the maximum, at least
/// 0.5 us).
class SpinBudget {
 public:
  SpinBudget(uint64_t max_ns, uint64_t start_ns) : max_ns_(max_ns), ns_(start_ns) {}
  [[nodiscard]] uint64_t ns() const { return ns_; }
  /// Call at a spell's checkpoints: the first (`first`) takes the thread's
  /// involuntary switches as the baseline; a later one that finds more
  /// halves the budget and returns true (stop spinning).
  bool check_preempted(bool first);
  void after_sleep();

 private:
  uint64_t max_ns_;
  uint64_t ns_;
  uint64_t ivcsw_at_start_ = 0;
};

struct IdleStats {
  uint64_t sleeps = 0;
  uint64_t preempted_spins = 0;
  uint64_t congested_sleeps = 0;  ///< sleeps taken without spinning: CPUs oversubscribed
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

  [[nodiscard]] uint64_t spin_budget_ns() const { return budget_.ns(); }
  [[nodiscard]] const IdleStats& stats() const { return stats_; }

 private:
  bool keep_spinning();
  void sleep(int max_sleep_ms);

  Worker& worker_;
  PollConfig cfg_;
  SpinBudget budget_;
  uint64_t idle_since_ = 0;
  uint32_t idle_passes_ = 0;
  IdleStats stats_;
};

/// Involuntary context switches of the calling thread so far.
uint64_t thread_involuntary_switches();

}  // namespace benchfs::net
