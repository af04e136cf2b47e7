// libFuzzer target: parse_ready on arbitrary text. An accepted file must obey
// the documented limits (1 <= servers <= kMaxNodes, chunk_size a power of two
// >= kMinChunkSize, secret != 0) and survive format -> parse unchanged; a
// rejected one is EINVAL naming the source.

#include <cerrno>
#include <string>
#include <string_view>

#include "benchfs/registry/server_list.hpp"
#include "fuzz_common.hpp"

using namespace benchfs;
using namespace benchfs::registry;

namespace {
constexpr std::string_view kSource = "fuzz/server_list.ready";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* in, size_t size) {
  const std::string text(reinterpret_cast<const char*>(in), size);
  auto info = parse_ready(text, kSource);
  if (fuzz::parse_rejected(info, kSource)) return 0;
  BENCHFS_FUZZ_CHECK(info->servers >= 1 && info->servers <= kMaxNodes, "servers out of range");
  BENCHFS_FUZZ_CHECK(info->chunk_size >= kMinChunkSize, "chunk_size below the minimum");
  BENCHFS_FUZZ_CHECK((info->chunk_size & (info->chunk_size - 1)) == 0, "chunk_size not a power of two");
  BENCHFS_FUZZ_CHECK(info->secret != 0, "secret 0 accepted");

  const std::string again = format_ready(*info);
  auto info2 = parse_ready(again, kSource);
  BENCHFS_FUZZ_CHECK(info2.ok(), "formatted ready file does not parse");
  BENCHFS_FUZZ_CHECK(info2->servers == info->servers && info2->chunk_size == info->chunk_size &&
                         info2->secret == info->secret,
                     "ready info changed in format -> parse");
  BENCHFS_FUZZ_CHECK(format_ready(*info2) == again, "format_ready is not stable");
  return 0;
}
