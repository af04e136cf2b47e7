#pragma once
// Inbox: the lock-free queue through which other threads hand work to a
// progress thread (moodycamel::ConcurrentQueue underneath). Producers that
// push often (the accept thread) hold a Producer token and are bounded by the
// capacity given at construction (counted in items, not in the queue's
// blocks: moodycamel keeps a token producer's blocks for that producer, so a
// bound made of its preallocated blocks alone lets one producer hoard them
// and starve the others for good); rare control messages use push(), which
// may grow the queue rather than lose a message. One consumer drains in
// batches.

#include <concurrentqueue/concurrentqueue.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace benchfs {

template <class T>
class Inbox {
 public:
  class Producer {
   public:
    explicit Producer(Inbox& inbox) : token_(inbox.q_) {}

   private:
    friend class Inbox;
    moodycamel::ProducerToken token_;
  };

  explicit Inbox(size_t capacity) : q_(capacity), capacity_(static_cast<int64_t>(capacity)) {}
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  /// Bounded: false while `capacity` items wait (concurrent token producers
  /// may overshoot by one item each). The room comes back as the consumer
  /// drains, to every producer alike.
  bool try_push(Producer& p, T&& item) {
    if (count_.load(std::memory_order_acquire) >= capacity_) return false;  // signed: see count_
    q_.enqueue(p.token_, std::move(item));
    count_.fetch_add(1, std::memory_order_release);
    return true;
  }
  /// Never loses the item (may allocate).
  void push(T&& item) {
    q_.enqueue(std::move(item));
    count_.fetch_add(1, std::memory_order_release);
  }
  /// Consumer only: hands the queued items to f, a batch at a time, until
  /// empty. Returns the number handled.
  template <class F>
  size_t drain(F&& f) {
    // One shared load decides an empty pass; the queue's own emptiness check
    // walks every producer.
    if (count_.load(std::memory_order_acquire) <= 0) return 0;
    size_t total = 0;
    for (;;) {
      const size_t n = q_.try_dequeue_bulk(batch_.begin(), batch_.size());
      for (size_t i = 0; i < n; ++i) {
        f(batch_[i]);
        batch_[i] = T();  // release what the item held now, not at the next batch
      }
      total += n;
      count_.fetch_sub(static_cast<int64_t>(n), std::memory_order_relaxed);
      if (n < batch_.size()) return total;
    }
  }
  /// Consumer only: pops one item.
  bool try_pop(T& out) {
    if (!q_.try_dequeue(out)) return false;
    count_.fetch_sub(1, std::memory_order_relaxed);
    return true;
  }
  /// Items pushed and not yet taken (exact once pushes have returned).
  [[nodiscard]] size_t size_approx() const {
    const int64_t n = count_.load(std::memory_order_acquire);
    return n > 0 ? static_cast<size_t>(n) : 0;
  }

 private:
  moodycamel::ConcurrentQueue<T> q_;
  const int64_t capacity_;
  /// Items pushed minus items taken. Signed: a producer counts its item
  /// after enqueueing it, so the consumer may take (and subtract) it first,
  /// and the count dips below zero until that producer runs again. Unsigned,
  /// that dip read as a huge count, and try_push turned connections away for
  /// as long as the producer stayed off the CPU (seconds, under TSan and 64
  /// clients: Load.SixtyFourConnectionsAgainstCapacitySixteen timed out).
  std::atomic<int64_t> count_{0};
  // The consumer's landing slots, made once: an empty pass costs no
  // construction of items.
  std::array<T, 64> batch_{};
};

}  // namespace benchfs
