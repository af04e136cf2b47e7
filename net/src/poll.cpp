#include "benchfs/net/poll.hpp"

#include <poll.h>
#include <sys/resource.h>

#include <algorithm>

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

Idler::Idler(Worker& worker, PollConfig cfg)
    : worker_(worker), cfg_(cfg), budget_ns_(cfg.oversubscribed ? cfg.spin_ns / 16 : cfg.spin_ns) {}

bool Idler::keep_spinning() {
  // Check for preemption every this many idle passes (getrusage costs ~0.3 us).
  constexpr uint32_t kCheckEvery = 64;
  const uint64_t now = now_ns();
  if (idle_since_ == 0) {
    idle_since_ = now;
    idle_passes_ = 0;
    ivcsw_at_start_ = budget_ns_ > 0 ? thread_involuntary_switches() : 0;
  }
  if (now - idle_since_ >= budget_ns_) return false;
  if (++idle_passes_ % kCheckEvery == 0 && thread_involuntary_switches() != ivcsw_at_start_) {
    // Someone else needed this core while we spun: spin less from now on.
    budget_ns_ /= 2;
    ++stats_.preempted_spins;
    return false;
  }
  return true;
}

void Idler::sleep(int max_sleep_ms) {
  ++stats_.sleeps;
  pollfd p{worker_.event_fd(), POLLIN, 0};
  (void)::poll(&p, 1, max_sleep_ms);
  // Recover the spin budget slowly after each sleep that preemption did not cut short.
  if (cfg_.mode == PollMode::kAdaptive && budget_ns_ < cfg_.spin_ns)
    budget_ns_ = std::min(cfg_.spin_ns, budget_ns_ + std::max<uint64_t>(cfg_.spin_ns / 32, 500));
}

}  // namespace benchfs::net
