#pragma once
// Monotonic clock helpers and deadlines.

#include <chrono>
#include <cstdint>
#include <ctime>

namespace benchfs {

/// Monotonic nanoseconds (CLOCK_MONOTONIC).
inline uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

/// A tick counter that costs a few cycles to read (the TSC on x86-64,
/// else now_ns()): for timing short spans on the hot path. Convert ticks to
/// time with a TickRate measured over the same run.
inline uint64_t ticks() {
#if defined(__x86_64__)
  return __builtin_ia32_rdtsc();
#else
  return now_ns();
#endif
}

/// Ticks per nanosecond, measured between construction and the call.
class TickRate {
 public:
  TickRate() : t0_(ticks()), n0_(now_ns()) {}
  [[nodiscard]] double per_ns() const {
    const uint64_t dn = now_ns() - n0_;
    return dn == 0 ? 1.0 : static_cast<double>(ticks() - t0_) / static_cast<double>(dn);
  }

 private:
  uint64_t t0_;
  uint64_t n0_;
};

/// Monotonic nanoseconds at the kernel tick's resolution (a few ms), cheaper
/// than now_ns(): for rate limiting.
inline uint64_t coarse_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

/// Wall-clock nanoseconds since the epoch (for timestamps shown to people).
inline uint64_t wall_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

/// A point in monotonic time after which an operation gives up.
class Deadline {
 public:
  static Deadline after_ms(uint64_t ms) { return Deadline(now_ns() + ms * 1'000'000ULL); }
  static Deadline after_ns(uint64_t ns) { return Deadline(now_ns() + ns); }
  static Deadline never() { return Deadline(UINT64_MAX); }
  [[nodiscard]] bool expired() const { return now_ns() >= at_ns_; }
  [[nodiscard]] bool expired(uint64_t now) const { return now >= at_ns_; }
  [[nodiscard]] uint64_t at_ns() const { return at_ns_; }
  /// Milliseconds left (0 when expired), capped for poll()/epoll_wait().
  [[nodiscard]] int remaining_ms() const {
    uint64_t now = now_ns();
    if (now >= at_ns_) return 0;
    uint64_t ms = (at_ns_ - now + 999'999) / 1'000'000;
    return ms > 1'000'000'000ULL ? 1'000'000'000 : static_cast<int>(ms);
  }

 private:
  explicit Deadline(uint64_t at) : at_ns_(at) {}
  uint64_t at_ns_;
};

}  // namespace benchfs
