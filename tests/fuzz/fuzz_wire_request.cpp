// libFuzzer target: decode_request on arbitrary header and AM data bytes,
// every op. Besides not crashing, a request the decoder accepts must obey the
// limits codec.hpp and wire.hpp document, and must survive encode -> decode
// unchanged (the client's encoder and the server's decoder agree).

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "benchfs/protocol/codec.hpp"
#include "fuzz_common.hpp"

using namespace benchfs;
using namespace benchfs::wire;

namespace {

// The documented limits of an accepted request.
void check_limits(const Request& q, const AmData& data) {
  const auto op = static_cast<uint8_t>(q.op);
  BENCHFS_FUZZ_CHECK(is_request_op(op), "accepted a request with a non-request op");
  BENCHFS_FUZZ_CHECK((q.flags & ~allowed_flags(q.op)) == 0, "accepted flags the op does not allow");
  BENCHFS_FUZZ_CHECK(!((q.flags & kFlagRenameDetach) != 0 && (q.flags & kFlagRenameAttach) != 0),
                     "accepted rename detach + attach");
  if (has_path(q.op)) {
    BENCHFS_FUZZ_CHECK(!data.rndv, "accepted path bytes sent by rendezvous");
    BENCHFS_FUZZ_CHECK(validate_path(q.path).is_ok(), "accepted an invalid path");
    BENCHFS_FUZZ_CHECK(q.path.size() <= kMaxPath, "accepted a path over kMaxPath");
    if (q.op == Op::kRename) {
      BENCHFS_FUZZ_CHECK(validate_path(q.path2).is_ok(), "accepted an invalid rename destination");
    } else {
      BENCHFS_FUZZ_CHECK(q.path2.empty(), "path2 set for an op other than rename");
    }
    BENCHFS_FUZZ_CHECK(q.path.size() + q.path2.size() == data.size, "paths do not cover the AM data");
  } else {
    BENCHFS_FUZZ_CHECK(q.path.empty() && q.path2.empty(), "path set for an op without one");
  }
  if (q.op == Op::kRegisterClient) {
    BENCHFS_FUZZ_CHECK(!q.client_id.empty() && q.client_id.size() <= kMaxClientId, "client id length");
    BENCHFS_FUZZ_CHECK(q.client_id.size() == data.size && !data.rndv, "client id does not match the data");
  } else {
    BENCHFS_FUZZ_CHECK(q.client_id.empty(), "client id set for an op other than register");
  }
  if (op_traits(q.op).needs_inode) BENCHFS_FUZZ_CHECK(q.ino != 0, "accepted inode 0");
  switch (q.op) {
    case Op::kPing:
      BENCHFS_FUZZ_CHECK(q.length <= kMaxPingPayload && q.length == data.size, "ping payload");
      break;
    case Op::kWriteChunk:
      BENCHFS_FUZZ_CHECK(q.length > 0 && q.length == data.size, "write payload");
      [[fallthrough]];
    case Op::kReadChunk:
      BENCHFS_FUZZ_CHECK(q.length <= kMaxChunkIo && q.offset <= kMaxChunkIo, "chunk io limits");
      BENCHFS_FUZZ_CHECK(q.offset + q.length <= kMaxChunkIo, "chunk io past the largest chunk");
      if (q.op == Op::kReadChunk) BENCHFS_FUZZ_CHECK(data.size == 0, "read chunk with data");
      break;
    case Op::kShutdown:
    case Op::kStatfs:
    case Op::kRemoveChunks:
      BENCHFS_FUZZ_CHECK(data.size == 0, "data on an op that carries none");
      break;
    case Op::kReaddir:
      BENCHFS_FUZZ_CHECK(q.max_entries >= 1 && q.max_entries <= kMaxReaddirEntries, "readdir page size");
      break;
    case Op::kSetSize:
      BENCHFS_FUZZ_CHECK(q.ino != 0, "set_size without inode");
      break;
    default:
      break;
  }
}

// encode(q) must decode to q again, and encode to the same bytes twice.
void check_round_trip(const Request& q, const AmData& data, size_t header_len) {
  const Encoded hdr = encode_request_header(q);
  BENCHFS_FUZZ_CHECK(hdr.size == header_len, "re-encoded header has another size");
  BENCHFS_FUZZ_CHECK(hdr.size <= kMaxHeaderSize, "encoded header over kMaxHeaderSize");
  std::vector<std::byte> var(request_var_size(q));
  if (!var.empty()) encode_request_var(q, var.data());
  AmData again = data;
  if (!var.empty()) again = AmData{var.data(), var.size(), false};

  auto q2 = decode_request(hdr.data(), hdr.size, again);
  BENCHFS_FUZZ_CHECK(q2.ok(), "re-encoded request does not decode");
  BENCHFS_FUZZ_CHECK(q == *q2, "request changed in encode -> decode");
  const Encoded hdr2 = encode_request_header(*q2);
  BENCHFS_FUZZ_CHECK(hdr2.size == hdr.size && std::memcmp(hdr2.data(), hdr.data(), hdr.size) == 0,
                     "encoding is not stable");
  BENCHFS_FUZZ_CHECK(peek_request_id(hdr.data(), hdr.size) == q.request_id, "peek_request_id");
  BENCHFS_FUZZ_CHECK(peek_op(hdr.data(), hdr.size) == static_cast<uint8_t>(q.op), "peek_op");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* in, size_t size) {
  if (size < 2) return 0;
  const size_t header_len = std::min<size_t>(in[0], size - 2);
  const uint8_t mode = in[1];
  const auto header = fuzz::exact_copy(in + 2, header_len);
  const uint8_t* rest = in + 2 + header_len;
  const size_t rest_len = size - 2 - header_len;

  static const std::byte kEmpty{};
  std::vector<std::byte> payload;
  AmData data;
  if ((mode & fuzz::kModeRndv) != 0) {
    uint64_t n = 0;
    for (size_t i = 0; i < rest_len && i < 8; ++i) n |= static_cast<uint64_t>(rest[i]) << (8 * i);
    data = AmData{nullptr, static_cast<size_t>(n), true};
  } else {
    payload = fuzz::exact_copy(rest, rest_len);
    const void* p = payload.empty() ? ((mode & fuzz::kModeNonNullEmpty) != 0 ? &kEmpty : nullptr)
                                    : static_cast<const void*>(payload.data());
    data = AmData{p, payload.size(), false};
  }

  const void* hp = header.empty() ? nullptr : header.data();
  // The peeks run on every header the server sees, broken or not.
  (void)peek_request_id(hp, header.size());
  (void)peek_op(hp, header.size());

  auto q = decode_request(hp, header.size(), data);
  if (!q) {
    const int err = q.status().err();
    BENCHFS_FUZZ_CHECK(err == EPROTO || err == EINVAL || err == ENAMETOOLONG, "unexpected errno");
    BENCHFS_FUZZ_CHECK(!q.status().message().empty(), "error without a message");
    return 0;
  }
  check_limits(*q, data);
  check_round_trip(*q, data, header.size());
  return 0;
}
