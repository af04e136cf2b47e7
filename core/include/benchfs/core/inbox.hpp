#pragma once
// Inbox: the lock-free queue through which other threads hand work to a
// progress thread (moodycamel::ConcurrentQueue underneath). Producers that
// push often (the accept thread) hold a Producer token and are bounded by the
// preallocated capacity; rare control messages use push(), which may grow
// the queue rather than lose a message. One consumer drains in batches.

#include <concurrentqueue/concurrentqueue.h>

#include <cstddef>
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

  explicit Inbox(size_t capacity) : q_(capacity) {}
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  /// Bounded: false when the preallocated room is used up.
  bool try_push(Producer& p, T&& item) { return q_.try_enqueue(p.token_, std::move(item)); }
  /// Never loses the item (may allocate).
  void push(T&& item) { q_.enqueue(std::move(item)); }
  /// Consumer only: hands up to `batch` items at a time to f until empty.
  /// Returns the number handled.
  template <size_t Batch = 64, class F>
  size_t drain(F&& f) {
    T items[Batch];
    size_t total = 0;
    for (;;) {
      const size_t n = q_.try_dequeue_bulk(items, Batch);
      for (size_t i = 0; i < n; ++i) {
        f(items[i]);
        items[i] = T();
      }
      total += n;
      if (n < Batch) return total;
    }
  }
  /// Consumer only: pops one item.
  bool try_pop(T& out) { return q_.try_dequeue(out); }
  [[nodiscard]] size_t size_approx() const { return q_.size_approx(); }

 private:
  moodycamel::ConcurrentQueue<T> q_;
};

}  // namespace benchfs
