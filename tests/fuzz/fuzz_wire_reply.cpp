// libFuzzer target: what a client decodes from a server: reply headers of
// every op, CONNECTION_CLOSE notifications and READDIR entries. Whatever the
// decoders accept must re-encode to exactly the bytes they were given (the
// reply layout has no reserved or ignored bits) and obey the documented limits.

#include <cerrno>
#include <cstring>
#include <string_view>

#include "benchfs/protocol/codec.hpp"
#include "fuzz_common.hpp"

using namespace benchfs;
using namespace benchfs::wire;

namespace {

bool same_bytes(const Encoded& e, const std::vector<std::byte>& b) {
  return e.size == b.size() && (b.empty() || std::memcmp(e.data(), b.data(), b.size()) == 0);
}

void fuzz_reply(const std::vector<std::byte>& bytes) {
  auto r = decode_reply(fuzz::data_or_null(bytes), bytes.size());
  if (fuzz::rejected(r, EPROTO, "reply rejected with an errno other than EPROTO")) return;
  BENCHFS_FUZZ_CHECK(r->status <= 0 && r->status >= -4095, "reply status out of range");
  const auto op = static_cast<uint8_t>(r->op);
  BENCHFS_FUZZ_CHECK(is_request_op(op) || (op == 0 && r->status != 0), "reply for an unknown op");
  if (r->status != 0) BENCHFS_FUZZ_CHECK(bytes.size() == kReplyHeaderSize, "error reply with fields");
  if (r->op == Op::kReaddir) BENCHFS_FUZZ_CHECK(r->count <= UINT32_MAX, "readdir count over u32");
  BENCHFS_FUZZ_CHECK(same_bytes(encode_reply(*r), bytes), "reply does not re-encode to its bytes");
  if (r->status != 0) {
    const Encoded e = encode_error_reply(r->op, r->request_id, r->status);
    BENCHFS_FUZZ_CHECK(same_bytes(e, bytes), "error reply does not re-encode to its bytes");
  }
}

void fuzz_notify(const std::vector<std::byte>& bytes) {
  auto n = decode_notify(fuzz::data_or_null(bytes), bytes.size());
  if (fuzz::rejected(n, EPROTO, "notification rejected with an errno other than EPROTO")) return;
  BENCHFS_FUZZ_CHECK(n->op == Op::kConnectionClose, "notification op");
  BENCHFS_FUZZ_CHECK(close_reason_name(n->reason) != "unknown", "unknown close reason accepted");
  BENCHFS_FUZZ_CHECK(same_bytes(encode_notify(*n), bytes), "notification does not re-encode to its bytes");
}

void fuzz_dirents(const std::vector<std::byte>& bytes) {
  if (bytes.size() < 2) return;
  const uint64_t count =
      static_cast<uint64_t>(bytes[0]) | (static_cast<uint64_t>(static_cast<uint8_t>(bytes[1])) << 8);
  const std::vector<std::byte> body(bytes.begin() + 2, bytes.end());
  auto ents = decode_dirents(fuzz::data_or_null(body), body.size(), count);
  if (fuzz::rejected(ents, EPROTO, "dirents rejected with an errno other than EPROTO")) return;
  BENCHFS_FUZZ_CHECK(ents->size() == count && count <= kMaxReaddirEntries, "dirent count");
  std::vector<std::byte> again;
  for (const DirentView& e : *ents) {
    BENCHFS_FUZZ_CHECK(!e.name.empty() && e.name.size() <= 255, "dirent name length");
    BENCHFS_FUZZ_CHECK(e.type == FileType::kRegular || e.type == FileType::kDirectory, "dirent type");
    // A name the servers could never have stored (they validate every path)
    // must not reach the caller's readdir callback.
    BENCHFS_FUZZ_CHECK(e.name.find('/') == std::string_view::npos, "dirent name with '/'");
    BENCHFS_FUZZ_CHECK(e.name.find('\0') == std::string_view::npos, "dirent name with NUL");
    BENCHFS_FUZZ_CHECK(e.name != "." && e.name != "..", "dirent named '.' or '..'");
    append_dirent(again, e.name, e.type);
  }
  BENCHFS_FUZZ_CHECK(again == body, "dirents do not re-encode to their bytes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* in, size_t size) {
  if (size < 1) return 0;
  const auto bytes = fuzz::exact_copy(in + 1, size - 1);
  switch (in[0] % 3) {
    case fuzz::kKindReply:
      fuzz_reply(bytes);
      break;
    case fuzz::kKindNotify:
      fuzz_notify(bytes);
      break;
    default:
      fuzz_dirents(bytes);
      break;
  }
  return 0;
}
