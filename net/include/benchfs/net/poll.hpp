#pragma once
// How a progress loop waits when it has nothing to do (DESIGN.md section 2):
//   busy      spin forever (lowest latency while threads <= cores)
//   blocking  arm the worker and sleep on its event fd at once
//   adaptive  spin for a budget that follows the gaps between work, then
//             sleep; no spinning while the CPUs are oversubscribed
//             (SpinPolicy below: one policy for the server's progress
//             loops and the client's reply waits).

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
  /// True while runnable threads (smoothed, as of the last congested()
  /// call) are more than the CPUs by half a thread: somebody is waiting for
  /// a CPU, so a spinner should offer its own (sched_yield) between looks.
  [[nodiscard]] bool contended() const {
    return avg16_.load(std::memory_order_relaxed) > static_cast<int64_t>(cpus_) * 16 + 8;
  }
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
  uint64_t spin_ns = 2'000'000;  ///< adaptive: the longest a spell spins (the budget's ceiling)
  /// Known at start: more polling threads than cores. Starts with a short
  /// spin budget instead of learning it.
  bool oversubscribed = false;
  /// Shared oversubscription signal (adaptive mode); may be null.
  CpuPressure* pressure = nullptr;
};

struct IdleStats {
  uint64_t sleeps = 0;
  uint64_t wakeups = 0;           ///< sleeps ended by an event (not by their timeout)
  uint64_t preempted_spins = 0;   ///< spins preempted again soon after a first time (halved or yielded)
  uint64_t congested_sleeps = 0;  ///< sleeps taken without spinning: CPUs oversubscribed
  uint64_t budget_raises = 0;     ///< sleeps ended by work soon after they began: spin longer
  uint64_t yields = 0;            ///< sched_yield calls while spinning with threads waiting for a CPU
};

/// When a thread that waits for work (the server's progress loop) or for a
/// reply (the client) spins and when it sleeps: the one policy of both.
///
///   busy      always spin;  blocking  always sleep;
///   adaptive  spin for a budget, then sleep. The budget follows the gaps
///             the thread sees: a sleep that work ends soon after it began
///             (the gap was a little longer than the budget: a stream of
///             requests has begun) puts it back at max_ns; sleeps that last
///             long (the gaps are long: idle phases) shrink it by a quarter,
///             down to min_ns. On a machine
///             whose idle CPUs take up to a millisecond to wake (VMs), a
///             sleep in a stream of small requests costs the client that
///             much, so spinning through the gaps is what makes adaptive as
///             fast as busy while a core is free.
///             It does not spin while the CPUs are oversubscribed (the
///             shared CpuPressure), yields between looks while threads
///             queue for a CPU, and a spinner preempted twice within
///             kPreemptWindowNs halves its budget if threads queue for the
///             CPUs, else yields at its next look. (A kernel worker, an
///             async thread or mpirun waking is not oversubscription, and
///             halving on every preemption made sleeps, with their slow
///             wake-ups, the rule in mdtest runs here.)
class SpinPolicy {
 public:
  SpinPolicy(PollMode mode, uint64_t min_ns, uint64_t max_ns, uint64_t start_ns, CpuPressure* pressure);

  [[nodiscard]] PollMode mode() const { return mode_; }
  [[nodiscard]] uint64_t budget_ns() const { return ns_; }
  [[nodiscard]] const IdleStats& stats() const { return stats_; }

  /// Whether a waiting spell that began at `since` keeps spinning at `now`
  /// (at most `cap_ns`, whatever the budget). `check_preempt`: look at the
  /// thread's involuntary context switches this time (getrusage, ~0.3 us;
  /// the first look of a spell takes the baseline).
  bool keep_spinning(uint64_t since, uint64_t now, bool check_preempt, uint64_t cap_ns = UINT64_MAX);
  /// After keep_spinning() returned true: offers the CPU to a waiting
  /// thread (sched_yield) when more threads are runnable than CPUs. Handing
  /// the core over beats both spinning through the waiter's time slice and
  /// sleeping (a wake-up costs up to a millisecond on a VM).
  void maybe_yield();
  /// The decision of maybe_yield() alone (counted): for a caller that
  /// yields after releasing a lock the policy's state is guarded by.
  bool want_yield();
  /// The spell goes to sleep now (counted).
  void sleeping();
  /// The sleep is over: it lasted slept_ns, and `woken` says an event
  /// ended it (not its timeout).
  void slept(uint64_t slept_ns, bool woken);

  static constexpr uint64_t kPreemptWindowNs = 50'000'000;

 private:
  PollMode mode_;
  uint64_t min_ns_;
  uint64_t max_ns_;
  uint64_t ns_;
  CpuPressure* pressure_;
  uint64_t baseline_since_ = 0;  ///< the spell (its `since`) ivcsw_at_start_ was taken in
  uint64_t ivcsw_at_start_ = 0;
  uint64_t last_preempt_ns_ = 0;
  bool yield_next_ = false;  ///< preempted twice lately: yield at the next look
  IdleStats stats_;
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
    if (policy_.mode() == PollMode::kBusy) return;
    if (policy_.mode() == PollMode::kAdaptive && keep_spinning()) {
      if (idle_passes_ % kClockEvery == 0) policy_.maybe_yield();
      return;
    }
    if (worker_.arm() && !has_pending()) sleep(max_sleep_ms);
    idle_since_ = 0;
  }

  [[nodiscard]] uint64_t spin_budget_ns() const { return policy_.budget_ns(); }
  [[nodiscard]] const IdleStats& stats() const { return policy_.stats(); }

 private:
  bool keep_spinning();
  void sleep(int max_sleep_ms);
  /// Idle passes between clock reads (a read costs about as much as a pass).
  static constexpr uint32_t kClockEvery = 16;

  Worker& worker_;
  SpinPolicy policy_;
  uint64_t idle_since_ = 0;
  uint32_t idle_passes_ = 0;
};

/// Involuntary context switches of the calling thread so far.
uint64_t thread_involuntary_switches();

}  // namespace benchfs::net
