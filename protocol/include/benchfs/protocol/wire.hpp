#pragma once
// The BenchFS wire protocol (DESIGN.md section 3): three UCX active-message
// ids, a fixed little-endian header per message, per-op fixed fields after it,
// and the op's variable bytes (paths, client id, payload) as the AM data.
//
// Request AM header  = RequestHeader (24 B) + the op's fixed fields.
// Request AM data    = PING / WRITE_CHUNK: the payload; metadata ops: the
//                      path bytes (then the second path for RENAME), never
//                      NUL-terminated, lengths given by the fixed fields;
//                      REGISTER_CLIENT: the client id.
// Reply AM header    = ReplyHeader (16 B) + the op's reply fields.
// Reply AM data      = PING: the echoed payload; READ_CHUNK: the bytes read;
//                      READDIR: packed directory entries.
// Notification (AM id kAmNotify) = NotifyHeader (16 B), no data.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace benchfs::protocol::wire {

inline constexpr uint16_t kMagic = 0xBF5A;
inline constexpr uint8_t kVersion = 1;

inline constexpr unsigned kAmRequest = 1;
inline constexpr unsigned kAmReply = 2;
inline constexpr unsigned kAmNotify = 3;

inline constexpr size_t kRequestHeaderSize = 24;
inline constexpr size_t kReplyHeaderSize = 16;
inline constexpr size_t kNotifyHeaderSize = 16;
/// Upper bound of any encoded header (fixed part) in either direction.
inline constexpr size_t kMaxHeaderSize = 128;

inline constexpr size_t kMaxPath = 4096;
inline constexpr size_t kMaxClientId = 256;
inline constexpr uint64_t kMaxPingPayload = 4ull << 20;
/// Largest single chunk transfer any server accepts (chunk sizes are <= this).
inline constexpr uint64_t kMaxChunkIo = 1ull << 30;
inline constexpr uint32_t kMaxReaddirEntries = 4096;

/// The session a client of the reply_ep connection mode presents in every
/// request (it never registers): derived from the job secret, so only
/// clients that can read the registry are served. Never 0 (0 means "not
/// registered"); a registered session equal to it is as likely as guessing
/// the secret.
constexpr uint64_t reply_ep_session(uint64_t secret) {
  uint64_t x = secret ^ 0x7265706c795f6570ULL;  // "reply_ep"
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x == 0 ? 1 : x;
}
/// Most bytes of packed entries one READDIR reply carries.
inline constexpr size_t kMaxReaddirBytes = 256 * 1024;

enum class Op : uint8_t {
  kRegisterClient = 1,
  kPing = 2,
  kShutdown = 3,
  kCreate = 4,
  kOpen = 5,
  kStat = 6,
  kUnlink = 7,
  kMkdir = 8,
  kRmdir = 9,
  kReaddir = 10,
  kRename = 11,
  kTruncate = 12,
  kSetSize = 13,
  kWriteChunk = 14,
  kReadChunk = 15,
  kRemoveChunks = 16,
  kStatfs = 17,           ///< capacity and use of one server (for statfs)
  kSetAttr = 18,          ///< permission bits and times (chmod, utimensat)
  kConnectionClose = 64,  ///< notification only (server -> client)
};
inline constexpr unsigned kOpSlots = 19;  ///< request ops are 1..18; index 0 = invalid

/// True for request ops (not notifications, not unknown values).
constexpr bool is_request_op(uint8_t op) { return op >= 1 && op < kOpSlots; }

/// Reason carried by CONNECTION_CLOSE.
enum class CloseReason : uint32_t { kEviction = 1, kShutdown = 2, kError = 3, kReplaced = 4 };
std::string_view close_reason_name(CloseReason r);

/// Request header flags (each valid with the ops named only).
inline constexpr uint32_t kFlagNone = 0;
/// RMDIR phase 1: check that the directory could be removed here and stop
/// new entries from being made in it until phase 2 or the abort.
inline constexpr uint32_t kFlagRmdirPrepare = 1u << 0;
/// RMDIR: undo kFlagRmdirPrepare (another server refused).
inline constexpr uint32_t kFlagRmdirAbort = 1u << 3;
/// RENAME across metadata owners, phase 1 on the source's owner: remove the
/// source entry and return its attributes.
inline constexpr uint32_t kFlagRenameDetach = 1u << 1;
/// RENAME across owners, phase 2 on the destination's owner: install the
/// request's attributes at path2 (path names the source, for the log).
inline constexpr uint32_t kFlagRenameAttach = 1u << 2;
/// UNLINK: also drop the inode's chunks this server holds (the client has
/// the file open nowhere; it removes the chunks other servers hold itself,
/// if the file's size says there are any). One RPC for a small file.
inline constexpr uint32_t kFlagUnlinkData = 1u << 4;
/// Execute at most once: the server keeps its reply under (client id,
/// request id) and answers a repeat of the request (the client sends it
/// again, same id, after a lost connection) with that reply. For the
/// namespace changes a second execution would answer differently.
inline constexpr uint32_t kFlagOnce = 1u << 5;
/// READDIR: every entry carries the child's attributes (48 B after its
/// name), as its metadata owner (the server listing it) holds them. One RPC
/// per server for `ls -l` or find, instead of one STAT per entry.
inline constexpr uint32_t kFlagReaddirAttrs = 1u << 6;
/// SETATTR: which of the request attr's fields to set (at least one).
inline constexpr uint32_t kFlagSetMode = 1u << 7;   ///< permission bits of attr.mode
inline constexpr uint32_t kFlagSetAtime = 1u << 8;  ///< attr.atime_ns
inline constexpr uint32_t kFlagSetMtime = 1u << 9;  ///< attr.mtime_ns
/// SETATTR: a time of this value means "the server's clock, now".
inline constexpr int64_t kTimeNow = INT64_MIN;
/// What the AM data of an op's request holds.
enum class OpData : uint8_t {
  kNone,      ///< nothing (data must be empty)
  kPayload,   ///< bytes of the length field (PING, WRITE_CHUNK); may come by rendezvous
  kClientId,  ///< the client id (eager)
  kPath,      ///< one path (eager)
  kTwoPaths,  ///< path and path2 back to back (eager)
};

/// Everything about an op except its field layout (codec.cpp's
/// request_fields / reply_fields): declared once per op, here.
struct OpTraits {
  std::string_view name;
  OpData data = OpData::kNone;
  bool needs_inode = false;  ///< the request names a file by inode (0 is never one)
  uint32_t flags = 0;        ///< request flags the op accepts
};

constexpr OpTraits op_traits(Op op) {
  switch (op) {
    // clang-format off
    case Op::kRegisterClient: return {"register_client", OpData::kClientId};
    case Op::kPing:           return {"ping", OpData::kPayload};
    case Op::kShutdown:       return {"shutdown"};
    case Op::kCreate:         return {"create", OpData::kPath, false, kFlagOnce};
    case Op::kOpen:           return {"open", OpData::kPath};
    case Op::kStat:           return {"stat", OpData::kPath};
    case Op::kUnlink:         return {"unlink", OpData::kPath, false, kFlagOnce | kFlagUnlinkData};
    case Op::kMkdir:          return {"mkdir", OpData::kPath, false, kFlagOnce};
    case Op::kRmdir:          return {"rmdir", OpData::kPath, false, kFlagOnce | kFlagRmdirPrepare | kFlagRmdirAbort};
    case Op::kReaddir:        return {"readdir", OpData::kPath, false, kFlagReaddirAttrs};
    case Op::kRename:         return {"rename", OpData::kTwoPaths, false, kFlagOnce | kFlagRenameDetach | kFlagRenameAttach};
    case Op::kTruncate:       return {"truncate", OpData::kPath, false, kFlagOnce};
    case Op::kSetSize:        return {"set_size", OpData::kPath, true};
    case Op::kWriteChunk:     return {"write_chunk", OpData::kPayload, true};
    case Op::kReadChunk:      return {"read_chunk", OpData::kNone, true};
    case Op::kRemoveChunks:   return {"remove_chunks", OpData::kNone, true, kFlagOnce};
    case Op::kStatfs:         return {"statfs"};
    case Op::kSetAttr:        return {"setattr", OpData::kPath, false, kFlagSetMode | kFlagSetAtime | kFlagSetMtime};
    case Op::kConnectionClose: return {"connection_close"};
      // clang-format on
  }
  return {"unknown"};
}
constexpr std::string_view op_name(Op op) { return op_traits(op).name; }
static_assert(op_traits(static_cast<Op>(kOpSlots - 1)).name != "unknown" &&
                  op_traits(static_cast<Op>(kOpSlots)).name == "unknown",
              "kOpSlots is one past the last request op");
/// Ops that take kFlagOnce: they answer before their handler returns.
constexpr bool takes_once(Op op) { return (op_traits(op).flags & kFlagOnce) != 0; }
/// Flags each op accepts.
constexpr uint32_t allowed_flags(Op op) { return op_traits(op).flags; }
/// Ops whose request data holds paths.
constexpr bool has_path(Op op) {
  const OpData d = op_traits(op).data;
  return d == OpData::kPath || d == OpData::kTwoPaths;
}

/// File types carried in Attr::mode (POSIX S_IFMT bits) and in dirents.
enum class FileType : uint8_t { kRegular = 1, kDirectory = 2 };

/// Attributes returned by CREATE / OPEN / STAT (48 bytes on the wire).
struct Attr {
  uint64_t ino = 0;
  uint64_t size = 0;
  uint32_t mode = 0;  ///< S_IFMT type bits | permission bits
  uint32_t nlink = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool operator==(const Attr&) const = default;
};
inline constexpr size_t kAttrSize = 48;

}  // namespace benchfs::protocol::wire

namespace benchfs {
/// The protocol module's parts by their short names (benchfs::wire).
namespace wire = protocol::wire;
}  // namespace benchfs
