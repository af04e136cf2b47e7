#pragma once
// Log-linear latency histogram: 16 sub-buckets per power of two, so any
// recorded value is reported within ~6% of its true value. Single writer;
// merge per-thread copies to read them.

#include <array>
#include <cstdint>

namespace benchfs {

class Histogram {
 public:
  static constexpr unsigned kSubBits = 4;
  static constexpr unsigned kSub = 1u << kSubBits;
  static constexpr unsigned kBuckets = (64 - kSubBits + 1) * kSub;

  void record(uint64_t value) {
    ++buckets_[index_of(value)];
    ++count_;
    sum_ += value;
    if (value < min_) min_ = value;
    if (value > max_) max_ = value;
  }
  void merge(const Histogram& other);
  void reset() { *this = Histogram(); }

  [[nodiscard]] uint64_t count() const { return count_; }
  [[nodiscard]] uint64_t min() const { return count_ ? min_ : 0; }
  [[nodiscard]] uint64_t max() const { return max_; }
  [[nodiscard]] double mean() const {
    return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0;
  }
  /// Value at quantile q in [0,1] (the midpoint of its bucket, clamped to
  /// [min, max]); 0 when empty.
  [[nodiscard]] uint64_t quantile(double q) const;

  static unsigned index_of(uint64_t v) {
    if (v < kSub) return static_cast<unsigned>(v);
    unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(v));
    unsigned shift = msb - kSubBits;
    return (shift + 1) * kSub + static_cast<unsigned>((v >> shift) & (kSub - 1));
  }
  /// Smallest value that maps to bucket i.
  static uint64_t lower_bound_of(unsigned i) {
    if (i < kSub) return i;
    unsigned shift = i / kSub - 1;
    return (static_cast<uint64_t>(kSub + i % kSub)) << shift;
  }

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace benchfs
