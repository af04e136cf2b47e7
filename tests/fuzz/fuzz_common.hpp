#pragma once
// Shared by the libFuzzer targets and the seed generator: how one fuzz input
// is framed for each target, and the check that turns a broken property into
// a crash libFuzzer records.
//
// fuzz_wire_request:  [header_len u8][mode u8][header bytes][AM data]
//                     mode bit 0: rendezvous (data pointer null; the size is
//                     the next up to 8 bytes, little-endian); bit 1: pass a
//                     non-null pointer for empty data.
// fuzz_wire_reply:    [kind u8][bytes]  kind % 3: 0 reply header, 1 notification,
//                     2 READDIR entries ([count u16][entries]).
// fuzz_server_list,
// fuzz_ready_file:    the file's text, as is.
// fuzz_dispatch:      [config u8][records]; see fuzz_dispatch.cpp.

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace benchfs::fuzz {

inline constexpr uint8_t kModeRndv = 1u << 0;
inline constexpr uint8_t kModeNonNullEmpty = 1u << 1;

inline constexpr uint8_t kKindReply = 0;
inline constexpr uint8_t kKindNotify = 1;
inline constexpr uint8_t kKindDirents = 2;

/// Aborts (a crash libFuzzer saves as an artifact) when a property fails.
#define BENCHFS_FUZZ_CHECK(cond, what)                                                                   \
  do {                                                                                                   \
    if (!(cond)) {                                                                                       \
      std::fprintf(stderr, "fuzz property failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, what, #cond); \
      std::abort();                                                                                      \
    }                                                                                                    \
  } while (0)

/// Whether `result` (a benchfs::Result) is an error; if it is, its errno
/// must be `err` (else the property `what` fails).
template <class R>
bool rejected(const R& result, int err, const char* what) {
  if (result) return false;
  BENCHFS_FUZZ_CHECK(result.status().err() == err, what);
  return true;
}

/// Whether a registry parser rejected its input: then with EINVAL and a
/// bounded message that starts with the name of the source.
template <class R>
bool parse_rejected(const R& result, std::string_view source) {
  if (!rejected(result, EINVAL, "rejected with an errno other than EINVAL")) return false;
  const auto st = result.status();
  const std::string& msg = st.message();
  BENCHFS_FUZZ_CHECK(msg.compare(0, source.size(), source) == 0, "error does not name the source");
  BENCHFS_FUZZ_CHECK(msg.size() < 1024, "error message not bounded");
  return true;
}

/// The data of `bytes` for a decoder: null when there are none.
inline const std::byte* data_or_null(const std::vector<std::byte>& bytes) {
  return bytes.empty() ? nullptr : bytes.data();
}

/// A copy of `n` bytes in its own allocation, so that ASan sees any read past them.
inline std::vector<std::byte> exact_copy(const uint8_t* p, size_t n) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(p[i]);
  v.shrink_to_fit();
  return v;
}

}  // namespace benchfs::fuzz
