// The polling policy: /proc/loadavg parsing, the oversubscription signal, and
// that a sleeping progress loop wakes when another thread signals its worker.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "benchfs/core/clock.hpp"
#include "benchfs/net/poll.hpp"

using namespace benchfs;
using namespace benchfs::net;

TEST(CpuPressure, ParsesRunnableThreads) {
  unsigned n = 0;
  EXPECT_TRUE(CpuPressure::parse_running("0.10 0.20 0.30 4/321 999\n", &n));
  EXPECT_EQ(n, 4u);
  EXPECT_TRUE(CpuPressure::parse_running("12.00 1.00 0.50 17/2000 1", &n));
  EXPECT_EQ(n, 17u);
  EXPECT_FALSE(CpuPressure::parse_running("", &n));
  EXPECT_FALSE(CpuPressure::parse_running("0.1 0.2 0.3", &n));
  EXPECT_FALSE(CpuPressure::parse_running("0.1 0.2 0.3 x/4 5", &n));
  EXPECT_FALSE(CpuPressure::parse_running("0.1 0.2 0.3 4 5", &n));
}

TEST(CpuPressure, ReadsThisMachine) {
  CpuPressure p;
  EXPECT_GE(p.cpus(), 1u);
  for (int i = 0; i < 20; ++i) {
    (void)p.congested(now_ns());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // This thread is runnable whenever it samples.
  EXPECT_GT(p.smoothed_running(), 0.0);
}

TEST(Idler, BlockingSleepWakesOnSignal) {
  Context ctx;
  Worker w(ctx, UCS_THREAD_MODE_MULTI, "idler-test");
  while (w.progress() != 0) {
  }
  Idler idler(w, PollConfig{PollMode::kBlocking, 0, false, nullptr});
  std::thread signaller([&w] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    w.signal();
  });
  const uint64_t t0 = now_ns();
  // Sleeps until the signal (or UCX wakes it earlier), never the full 5 s.
  for (int i = 0; i < 100 && now_ns() - t0 < 40'000'000ull; ++i) {
    idler.after_pass(
        w.progress() > 0, [] { return false; }, 5000);
  }
  const double ms = static_cast<double>(now_ns() - t0) / 1e6;
  signaller.join();
  EXPECT_LT(ms, 2000.0);
  EXPECT_GE(idler.stats().sleeps, 1u);
}

TEST(Idler, BusyNeverSleepsAndPendingWorkSkipsTheSleep) {
  Context ctx;
  Worker w(ctx, UCS_THREAD_MODE_SINGLE, "idler-test");
  Idler busy(w, PollConfig{PollMode::kBusy, 0, false, nullptr});
  for (int i = 0; i < 1000; ++i)
    busy.after_pass(
        false, [] { return false; }, 1000);
  EXPECT_EQ(busy.stats().sleeps, 0u);
  Idler blocking(w, PollConfig{PollMode::kBlocking, 0, false, nullptr});
  const uint64_t t0 = now_ns();
  for (int i = 0; i < 10; ++i)
    blocking.after_pass(
        false, [] { return true; }, 1000);
  EXPECT_LT(static_cast<double>(now_ns() - t0) / 1e6, 500.0);  // never slept a full second
  EXPECT_EQ(blocking.stats().sleeps, 0u);
}

TEST(Idler, AdaptiveSpinsThenSleeps) {
  Context ctx;
  Worker w(ctx, UCS_THREAD_MODE_SINGLE, "idler-test");
  Idler adaptive(w, PollConfig{PollMode::kAdaptive, 2'000'000, false, nullptr});  // 2 ms spin
  const uint64_t t0 = now_ns();
  while (adaptive.stats().sleeps == 0 && now_ns() - t0 < 2'000'000'000ull)
    adaptive.after_pass(
        false, [] { return false; }, 1);
  const double ms = static_cast<double>(now_ns() - t0) / 1e6;
  EXPECT_EQ(adaptive.stats().sleeps, 1u);
  // Spun for its budget first, unless preempted while spinning (then it
  // rightly gives up early).
  if (adaptive.stats().preempted_spins == 0) {
    EXPECT_GE(ms, 1.9);
  }
  EXPECT_LT(ms, 1000.0);
}

TEST(SpinPolicy, BudgetFollowsTheGaps) {
  // 20 us .. 2 ms, starting at 100 us; no pressure signal.
  SpinPolicy p(PollMode::kAdaptive, 20'000, 2'000'000, 100'000, nullptr);
  EXPECT_TRUE(p.keep_spinning(1000, 1000 + 50'000, false));
  EXPECT_FALSE(p.keep_spinning(1000, 1000 + 100'000, false));
  EXPECT_FALSE(p.keep_spinning(1000, 1000 + 50'000, false, 10'000)) << "the cap bounds the spin";
  // Long sleeps (idle phases) shrink it by a quarter each, down to the minimum.
  p.slept(100'000'000, false);
  EXPECT_EQ(p.budget_ns(), 75'000u);
  for (int i = 0; i < 100; ++i) p.slept(100'000'000, false);
  EXPECT_EQ(p.budget_ns(), 20'000u);
  // Work came 30 us into a sleep: the gap was a little longer than the
  // budget (a stream has begun), so it goes back to the maximum at once.
  p.sleeping();
  p.slept(30'000, true);
  EXPECT_EQ(p.budget_ns(), 2'000'000u);
  EXPECT_EQ(p.stats().budget_raises, 1u);
  EXPECT_EQ(p.stats().wakeups, 1u);
  EXPECT_EQ(p.stats().sleeps, 1u);
  // An event that ends a sleep only after the ceiling is not a short gap.
  p.slept(100'000'000, false);
  p.slept(5'000'000, true);
  EXPECT_EQ(p.budget_ns(), 1'125'000u);
  EXPECT_EQ(p.stats().budget_raises, 1u);
}

TEST(SpinPolicy, BusyAndBlockingIgnoreTheBudget) {
  SpinPolicy busy(PollMode::kBusy, 0, 0, 0, nullptr);
  EXPECT_TRUE(busy.keep_spinning(0, 1'000'000'000, true));
  SpinPolicy blocking(PollMode::kBlocking, 0, 1'000'000, 1'000'000, nullptr);
  EXPECT_FALSE(blocking.keep_spinning(0, 0, false));
  blocking.slept(10, true);
  EXPECT_EQ(blocking.budget_ns(), 1'000'000u);
}
