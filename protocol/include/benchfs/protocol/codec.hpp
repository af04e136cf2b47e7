#pragma once
// Encode / decode of every wire header (pure functions, no UCX). See wire.hpp
// for where each field travels. Decoders never trust a length: a message that
// does not match its op's layout exactly is rejected with EPROTO, a bad value
// with EINVAL, an over-long path with ENAMETOOLONG.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "benchfs/core/status.hpp"
#include "benchfs/protocol/wire.hpp"

namespace benchfs::protocol::wire {

/// A decoded or to-be-encoded request. Which fields are meaningful depends on
/// `op` (see the table in codec.cpp); the string views point into the AM data
/// of a decoded request, or at caller memory when encoding.
struct Request {
  Op op{};
  uint32_t flags = 0;
  uint64_t request_id = 0;
  uint64_t session = 0;

  uint64_t secret = 0;       ///< REGISTER_CLIENT: job secret
  uint64_t ino = 0;          ///< SET_SIZE, WRITE/READ_CHUNK, REMOVE_CHUNKS
  uint64_t index = 0;        ///< WRITE/READ_CHUNK: chunk index
  uint64_t offset = 0;       ///< WRITE/READ_CHUNK: offset inside the chunk
  uint64_t length = 0;       ///< PING/WRITE/READ: bytes; TRUNCATE/SET_SIZE: size;
                             ///< REMOVE_CHUNKS: bytes of the file to keep
  uint64_t cookie = 0;       ///< READDIR: where to continue (0 = start)
  uint32_t mode = 0;         ///< CREATE, MKDIR: permission bits
  uint32_t open_flags = 0;   ///< CREATE, OPEN: O_* flags
  uint32_t max_entries = 0;  ///< READDIR: page size
  Attr attr{};               ///< RENAME with kFlagRenameAttach: the inode to install

  std::string_view path{};       ///< metadata ops
  std::string_view path2{};      ///< RENAME: destination
  std::string_view client_id{};  ///< REGISTER_CLIENT
  /// Field by field (the views by their bytes).
  bool operator==(const Request&) const = default;
};

/// A decoded or to-be-encoded reply. An error reply (status != 0) carries
/// the base header only.
struct Reply {
  Op op{};
  int32_t status = 0;  ///< 0 or -errno
  uint64_t request_id = 0;

  uint64_t session = 0;   ///< REGISTER_CLIENT
  uint32_t thread = 0;    ///< REGISTER_CLIENT: serving progress thread
  uint32_t node = 0;      ///< REGISTER_CLIENT: server node index
  uint64_t length = 0;    ///< PING/READ_CHUNK: data bytes; WRITE_CHUNK: written;
                          ///< SET_SIZE: resulting size; REMOVE_CHUNKS: bytes freed
  uint64_t count = 0;     ///< READDIR: entries in data; REMOVE_CHUNKS: chunks removed
  uint64_t cookie = 0;    ///< READDIR: next cookie
  uint32_t eof = 0;       ///< READDIR: 1 when the listing is complete
  Attr attr;              ///< CREATE, OPEN, STAT, UNLINK, TRUNCATE; RENAME: the moved file
  Attr attr2;             ///< RENAME: the file replaced at the destination (ino 0: none)
  uint64_t capacity = 0;  ///< STATFS: bytes this server may hold (its limit, or its memory)
  uint64_t used = 0;      ///< STATFS: bytes held
  uint64_t files = 0;     ///< STATFS: files and directories here
};

/// Server -> client notification.
struct Notify {
  Op op = Op::kConnectionClose;
  CloseReason reason = CloseReason::kError;
  uint64_t session = 0;
};

/// Fixed-capacity encoded header: no allocation on the hot path.
struct Encoded {
  std::array<std::byte, kMaxHeaderSize> bytes;  // only the first `size` are meaningful
  size_t size = 0;
  [[nodiscard]] const void* data() const { return bytes.data(); }
};

/// The AM data as the receive callback saw it. For a rendezvous message the
/// bytes are not available yet: ptr is null, rndv is true, size is the length.
struct AmData {
  const void* ptr = nullptr;
  size_t size = 0;
  bool rndv = false;
};

// ---- requests ----
Encoded encode_request_header(const Request& r);
/// Bytes of AM data the op's variable fields need (paths / client id; 0 for
/// ops whose data is a payload or absent).
size_t request_var_size(const Request& r);
/// Writes path, then path2 (RENAME), or the client id into `out`
/// (request_var_size(r) bytes).
void encode_request_var(const Request& r, std::byte* out);
/// Decodes and validates a request. Views in the result point into `data`.
Result<Request> decode_request(const void* header, size_t header_len, AmData data);
/// Request id / op of a header too broken to decode (0 when too short).
uint64_t peek_request_id(const void* header, size_t header_len);
uint8_t peek_op(const void* header, size_t header_len);

// ---- replies ----
Encoded encode_reply(const Reply& r);
/// An error reply (header only) for request `request_id` of `op`.
Encoded encode_error_reply(Op op, uint64_t request_id, int err);
Result<Reply> decode_reply(const void* header, size_t header_len);

// ---- notifications ----
Encoded encode_notify(const Notify& n);
Result<Notify> decode_notify(const void* header, size_t header_len);

// ---- READDIR entries (reply data): type u8, name_len u16, name, and with
// kFlagReaddirAttrs the child's attr (48 B) ----
struct DirentView {
  std::string_view name;
  FileType type = FileType::kRegular;
  Attr attr;  ///< with attributes only (else all zero)
};
inline constexpr size_t kDirentOverhead = 3;
/// Bytes an entry takes besides its name.
constexpr size_t dirent_overhead(bool with_attrs) { return kDirentOverhead + (with_attrs ? kAttrSize : 0); }
void append_dirent(std::vector<std::byte>& out, std::string_view name, FileType type);
/// An entry of a kFlagReaddirAttrs listing.
void append_dirent(std::vector<std::byte>& out, std::string_view name, FileType type, const Attr& attr);
/// EPROTO unless `len` bytes hold exactly `expected_count` entries (at most
/// kMaxReaddirEntries), each a regular file or directory whose name is 1..255
/// bytes without '/' or NUL and is not "." or ".."; with_attrs: each followed
/// by an attr whose type bits match the entry's type.
Result<std::vector<DirentView>> decode_dirents(const void* data, size_t len, uint64_t expected_count,
                                               bool with_attrs = false);

/// Validates a path as the servers accept it: absolute, no NUL, no empty or
/// "." / ".." components, length 1..kMaxPath.
Status validate_path(std::string_view path);

}  // namespace benchfs::protocol::wire
