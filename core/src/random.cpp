#include "benchfs/core/random.hpp"

#include <sys/random.h>

#include <cstdio>

namespace benchfs {

uint64_t secure_random_u64() {
  for (;;) {
    uint64_t v = 0;
    auto* p = reinterpret_cast<unsigned char*>(&v);
    size_t got = 0;
    while (got < sizeof v) {
      ssize_t n = getrandom(p + got, sizeof v - got, 0);
      if (n > 0)
        got += static_cast<size_t>(n);
      else if (errno != EINTR)
        throw Error(errno, "getrandom");
    }
    if (v != 0) return v;
  }
}

std::string to_hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

Result<uint64_t> parse_hex64(std::string_view text) {
  if (text.size() != 16) return Status(EINVAL, "expected 16 hex digits");
  uint64_t v = 0;
  for (char c : text) {
    unsigned d = 0;
    if (c >= '0' && c <= '9')
      d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      d = static_cast<unsigned>(c - 'A' + 10);
    else
      return Status(EINVAL, "bad hex digit");
    v = (v << 4) | d;
  }
  return v;
}

}  // namespace benchfs
