#pragma once
// A memory copy that stays fast whatever the buffers' relative alignment.

#include <cstddef>

namespace benchfs {

/// Copies n bytes from src to dst (the ranges must not overlap), like
/// std::memcpy. On x86-64 glibc copies from a few KiB up to the size of the
/// L2 cache with `rep movsb`, which on some CPUs (the AMD EPYC machines this
/// was measured on) runs at 1.5-2.8 GB/s instead of 35-45 GB/s when the
/// destination sits 1-31 bytes past the source modulo 64: a 64 KiB copy from
/// a page-aligned chunk into a malloc'd buffer (16 bytes into a line) is one
/// such case. This copy uses vector loads and aligned stores when the two
/// are not 32-byte aligned to each other, and std::memcpy otherwise, for
/// short copies and on other architectures. The kernel's copies (cma's
/// process_vm_readv) have the same trait, which is why the client reads
/// misaligned buffers through a bounce buffer (client/src/fs.cpp).
/// perf/copy_bench measures both on the machine at hand.
void copy_bytes(void* dst, const void* src, size_t n);

}  // namespace benchfs
