// copy_bench: std::memcpy against benchfs::copy_bytes (core/copy.hpp) on
// this machine, per copy size and destination offset past the source modulo
// 64 bytes. Prints MiB/s as median [min-max] over rounds, the spread
// ((max - min) / median) and copy_bytes over memcpy; both run in the same
// round, interleaved.
//   copy_bench [--sizes 4k,64k,256k,1m] [--offsets 0,16,32,48] [--rounds 7] [--bytes 512m]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "benchfs/core/copy.hpp"
#include "benchfs/core/units.hpp"

namespace {

std::vector<uint64_t> parse_list(const std::string& text) {
  auto v = benchfs::parse_size_list(text);
  if (!v) throw CLI::ValidationError(v.status().message());
  return *v;
}

// MiB/s of `bytes` worth of copies of n bytes from src to dst.
template <class Copy>
double rate(Copy copy, unsigned char* dst, const unsigned char* src, size_t n, uint64_t bytes) {
  const uint64_t reps = std::max<uint64_t>(1, bytes / n);
  const auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < reps; ++i) {
    copy(dst, src, n);
    asm volatile("" ::"r"(dst) : "memory");
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(reps * n) / s / (1 << 20);
}

struct Figures {
  double median, min, max;
};

Figures figures(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"memcpy against benchfs::copy_bytes by size and destination offset (modulo 64)"};
  std::string sizes_text = "4k,64k,256k,1m";
  std::string offsets_text = "0,16,32,48";
  std::string bytes_text = "512m";
  unsigned rounds = 7;
  app.add_option("--sizes", sizes_text, "Copy sizes (k/m suffixes)");
  app.add_option("--offsets", offsets_text, "Destination offsets past the source, modulo 64 (0-63)");
  app.add_option("--rounds", rounds, "Rounds (each measures both copies)")->check(CLI::Range(1u, 1000u));
  app.add_option("--bytes", bytes_text, "Bytes copied per measurement (k/m/g suffixes)");
  CLI11_PARSE(app, argc, argv);
  std::vector<uint64_t> sizes;
  std::vector<uint64_t> offsets;
  uint64_t bytes = 0;
  try {
    sizes = parse_list(sizes_text);
    offsets = parse_list(offsets_text);
    auto b = benchfs::parse_size(bytes_text);
    if (!b || *b == 0) throw CLI::ValidationError("--bytes: a size > 0, not '" + bytes_text + "'");
    bytes = *b;
    for (uint64_t s : sizes)
      if (s == 0 || s > (1ULL << 30)) throw CLI::ValidationError("sizes must be 1 B to 1 GiB");
    for (uint64_t o : offsets)
      if (o > 63) throw CLI::ValidationError("offsets must be 0 to 63");
  } catch (const CLI::Error& e) {
    return app.exit(e);
  }
  const size_t biggest = *std::max_element(sizes.begin(), sizes.end());
  // Page-aligned source (a chunk buffer's layout), destination 4 KiB further.
  std::vector<unsigned char> mem(2 * biggest + 3 * 4096);
  auto* base =
      reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(mem.data()) + 4095) & ~uintptr_t{4095});
  unsigned char* src = base;
  std::memset(mem.data(), 1, mem.size());
  std::printf("MiB/s, median [min-max] over %u rounds, spread = (max-min)/median\n", rounds);
  std::printf("%8s %6s | %-28s | %-28s | %s\n", "size", "offset", "memcpy", "copy_bytes",
              "copy_bytes/memcpy");
  for (uint64_t n : sizes) {
    for (uint64_t off : offsets) {
      unsigned char* dst = base + ((biggest + 4095) & ~uint64_t{4095}) + 4096 + off;
      std::vector<double> libc;
      std::vector<double> ours;
      for (unsigned r = 0; r < rounds; ++r) {
        libc.push_back(
            rate([](void* d, const void* s, size_t k) { std::memcpy(d, s, k); }, dst, src, n, bytes));
        ours.push_back(rate(benchfs::copy_bytes, dst, src, n, bytes));
      }
      const Figures a = figures(libc);
      const Figures b = figures(ours);
      auto cell = [](const Figures& f) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%7.0f [%6.0f-%6.0f] %3.0f%%", f.median, f.min, f.max,
                      100.0 * (f.max - f.min) / f.median);
        return std::string(buf);
      };
      std::printf("%8s %6llu | %-28s | %-28s | %.2f\n", benchfs::format_size(n).c_str(),
                  static_cast<unsigned long long>(off), cell(a).c_str(), cell(b).c_str(),
                  b.median / a.median);
    }
  }
  return 0;
}
