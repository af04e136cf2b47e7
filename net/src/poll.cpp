#include "benchfs/net/poll.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "benchfs/core/clock.hpp"

namespace benchfs::net {

Result<PollMode> parse_poll_mode(std::string_view text) {
  if (text == "busy") return PollMode::kBusy;
  if (text == "adaptive") return PollMode::kAdaptive;
  if (text == "blocking") return PollMode::kBlocking;
  return Status(EINVAL, "poll mode must be busy, adaptive or blocking, not '" + std::string(text) + "'");
}

std::string_view poll_mode_name(PollMode mode) {
  switch (mode) {
    case PollMode::kBusy:
      return "busy";
    case PollMode::kAdaptive:
      return "adaptive";
    case PollMode::kBlocking:
      return "blocking";
  }
  return "?";
}

uint64_t thread_involuntary_switches() {
  rusage ru{};
  if (getrusage(RUSAGE_THREAD, &ru) != 0) return 0;
  return static_cast<uint64_t>(ru.ru_nivcsw);
}

// ------------------------------------------------------------- CpuPressure

CpuPressure::CpuPressure() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  cpus_ = n > 0 ? static_cast<unsigned>(n) : 1;
  fd_ = ::open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
}

CpuPressure::~CpuPressure() {
  if (fd_ >= 0) ::close(fd_);
}

bool CpuPressure::parse_running(std::string_view loadavg, unsigned* running) {
  // "<1min> <5min> <15min> <running>/<total> <last pid>"
  size_t pos = 0;
  for (int field = 0; field < 3; ++field) {
    pos = loadavg.find(' ', pos);
    if (pos == std::string_view::npos) return false;
    ++pos;
  }
  unsigned v = 0;
  bool any = false;
  for (; pos < loadavg.size() && loadavg[pos] >= '0' && loadavg[pos] <= '9'; ++pos) {
    v = v * 10 + static_cast<unsigned>(loadavg[pos] - '0');
    any = true;
  }
  if (!any || pos >= loadavg.size() || loadavg[pos] != '/') return false;
  *running = v;
  return true;
}

void CpuPressure::refresh() {
  char buf[128];
  const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
  unsigned running = 0;
  if (n <= 0 || !parse_running(std::string_view(buf, static_cast<size_t>(n)), &running)) return;
  // The count is a snapshot: smooth it (moving average, 1/8 weight per
  // sample, in 1/16ths), then compare with hysteresis: congested once two
  // whole threads more than the CPUs are runnable on average, free again
  // below cpus + 1. The count includes the reading thread itself, and with
  // one spinning thread per CPU (a client and a server on two cores) it sat
  // at cpus + 1 to cpus + 2 here (kernel threads, MPI's daemons, UCX's async
  // threads waking): a threshold of cpus + 1 made both sides stop spinning
  // and halved 64 KiB write bandwidth. Milder oversubscription is caught by
  // the spinners themselves (involuntary context switches).
  int64_t avg = avg16_.load(std::memory_order_relaxed);
  avg += (static_cast<int64_t>(running) * 16 - avg) / 8;
  avg16_.store(avg, std::memory_order_relaxed);
  const int64_t cpus16 = static_cast<int64_t>(cpus_) * 16;
  if (avg > cpus16 + 32) {
    congested_.store(true, std::memory_order_relaxed);
  } else if (avg < cpus16 + 16) {
    congested_.store(false, std::memory_order_relaxed);
  }
}

bool CpuPressure::congested(uint64_t now_ns) {
  if (fd_ < 0) return false;
  if (now_ns >= next_ns_.load(std::memory_order_relaxed) &&
      !refreshing_.exchange(true, std::memory_order_acquire)) {
    next_ns_.store(now_ns + 1'000'000, std::memory_order_relaxed);
    refresh();
    refreshing_.store(false, std::memory_order_release);
  }
  return congested_.load(std::memory_order_relaxed);
}

// -------------------------------------------------------------- SpinPolicy

SpinPolicy::SpinPolicy(PollMode mode, uint64_t min_ns, uint64_t max_ns, uint64_t start_ns,
                       CpuPressure* pressure)
    : mode_(mode),
      min_ns_(std::min(min_ns, max_ns)),
      max_ns_(max_ns),
      ns_(std::clamp(start_ns, std::min(min_ns, max_ns), max_ns)),
      pressure_(pressure) {}

bool SpinPolicy::keep_spinning(uint64_t since, uint64_t now, bool check_preempt, uint64_t cap_ns) {
  if (mode_ == PollMode::kBusy) return true;
  if (mode_ == PollMode::kBlocking) return false;
  if (now - since >= std::min(ns_, cap_ns)) return false;
  if (pressure_ != nullptr && pressure_->congested(now)) {
    ++stats_.congested_sleeps;
    return false;
  }
  if (!check_preempt) return true;
  const uint64_t ivcsw = thread_involuntary_switches();
  if (since != baseline_since_) {  // a new spell: only preemptions from now on count
    baseline_since_ = since;
    ivcsw_at_start_ = ivcsw;
    return true;
  }
  if (ivcsw == ivcsw_at_start_) return true;
  ivcsw_at_start_ = ivcsw;
  // Somebody else needed this core while we spun. Once is chance; again
  // within the window, and the core is wanted.
  const bool again = last_preempt_ns_ != 0 && now - last_preempt_ns_ < kPreemptWindowNs;
  last_preempt_ns_ = now;
  if (!again) return true;
  ++stats_.preempted_spins;
  if (pressure_ != nullptr && pressure_->contended()) {
    // More threads runnable than CPUs, and they keep taking this one:
    // spin less from now on.
    ns_ = std::max(min_ns_, ns_ / 2);
    return false;
  }
  // Preempted again with no queue for the CPUs (a short-lived thread):
  // offer the core at the next look instead of giving up the spin (a sleep
  // here costs a slow wake-up, and such sleeps fed each other between
  // client and server).
  yield_next_ = true;
  return true;
}

bool SpinPolicy::want_yield() {
  if (mode_ != PollMode::kAdaptive) return false;
  const bool preempted = std::exchange(yield_next_, false);
  if (!preempted && (pressure_ == nullptr || !pressure_->contended())) return false;
  ++stats_.yields;
  return true;
}

void SpinPolicy::maybe_yield() {
  if (want_yield()) sched_yield();
}

void SpinPolicy::sleeping() { ++stats_.sleeps; }

void SpinPolicy::slept(uint64_t slept_ns, bool woken) {
  if (woken) ++stats_.wakeups;
  if (mode_ != PollMode::kAdaptive) return;
  if (woken && slept_ns < max_ns_) {
    // Work came a little after the budget ran out: a longer spin would have
    // caught it without the sleep and its wake-up. Straight back to the
    // ceiling: a stream of requests has begun (doubling from the floor took
    // up to seven sleeps, each a slow wake-up, at the start of every phase).
    if (ns_ < max_ns_) {
      ns_ = max_ns_;
      ++stats_.budget_raises;
    }
  } else if (ns_ > min_ns_) {
    // A long gap (an idle phase): spinning through it was wasted.
    ns_ = std::max(min_ns_, ns_ - ns_ / 4);
  }
}

// ------------------------------------------------------------------- Idler

namespace {
// Adaptive: the shortest budget a progress loop keeps (a few request gaps).
constexpr uint64_t kMinSpinNs = 20'000;
}  // namespace

Idler::Idler(Worker& worker, PollConfig cfg)
    : worker_(worker),
      policy_(cfg.mode, kMinSpinNs, cfg.spin_ns, cfg.oversubscribed ? cfg.spin_ns / 16 : cfg.spin_ns,
              cfg.pressure) {}

bool Idler::keep_spinning() {
  // Idle passes between preemption checks (getrusage costs ~0.3 us).
  constexpr uint32_t kPreemptCheckEvery = 256;
  if (idle_since_ == 0) {
    idle_since_ = now_ns();
    idle_passes_ = 0;
    return policy_.keep_spinning(idle_since_, idle_since_, false);
  }
  if (++idle_passes_ % kClockEvery != 0) return true;
  return policy_.keep_spinning(idle_since_, now_ns(), idle_passes_ % kPreemptCheckEvery == 0);
}

void Idler::sleep(int max_sleep_ms) {
  policy_.sleeping();
  pollfd p{worker_.event_fd(), POLLIN, 0};
  const uint64_t t0 = now_ns();
  const bool woken = ::poll(&p, 1, max_sleep_ms) > 0;
  policy_.slept(now_ns() - t0, woken);
}

}  // namespace benchfs::net
