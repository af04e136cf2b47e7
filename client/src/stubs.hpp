#pragma once
// Typed stubs of the RPCs: the wire::Request of each op the client sends
// (FileSystem's file-system calls, the engine's PING, SHUTDOWN and
// REGISTER_CLIENT), with the fields that op reads and nothing else. Paths
// and ids are views of the caller's strings, which must outlive the call.

#include <fcntl.h>

#include <cstdint>
#include <string_view>

#include "benchfs/protocol/codec.hpp"

namespace benchfs::client::stub {

inline wire::Request stat(std::string_view path) {
  wire::Request req;
  req.op = wire::Op::kStat;
  req.path = path;
  return req;
}

/// CREATE (O_CREAT in flags; mode's permission bits) or OPEN.
inline wire::Request open(std::string_view path, int flags, uint32_t mode) {
  wire::Request req;
  req.path = path;
  req.open_flags = static_cast<uint32_t>(flags);
  if ((flags & O_CREAT) != 0) {
    req.op = wire::Op::kCreate;
    req.mode = mode & 07777;
  } else {
    req.op = wire::Op::kOpen;
  }
  return req;
}

/// SET_SIZE: the file (path, ino) is at least `size` bytes long.
inline wire::Request set_size(std::string_view path, uint64_t ino, uint64_t size) {
  wire::Request req;
  req.op = wire::Op::kSetSize;
  req.path = path;
  req.ino = ino;
  req.length = size;
  return req;
}

/// WRITE_CHUNK or READ_CHUNK (op) of `length` bytes at `offset` inside
/// chunk `index` of inode `ino`.
inline wire::Request chunk(wire::Op op, uint64_t ino, uint64_t index, uint64_t offset, uint64_t length) {
  return wire::Request{.op = op, .ino = ino, .index = index, .offset = offset, .length = length};
}

/// REMOVE_CHUNKS: the chunks of `ino` a server holds, but its first `keep` bytes.
inline wire::Request remove_chunks(uint64_t ino, uint64_t keep) {
  wire::Request req;
  req.op = wire::Op::kRemoveChunks;
  req.ino = ino;
  req.length = keep;
  return req;
}

/// UNLINK; `drop_data`: the owner drops the chunks it holds with the entry.
inline wire::Request unlink(std::string_view path, bool drop_data) {
  wire::Request req;
  req.op = wire::Op::kUnlink;
  req.path = path;
  if (drop_data) req.flags = wire::kFlagUnlinkData;
  return req;
}

inline wire::Request truncate(std::string_view path, uint64_t length) {
  wire::Request req;
  req.op = wire::Op::kTruncate;
  req.path = path;
  req.length = length;
  return req;
}

/// SET_ATTR of what `flags` names: what's permission bits and times.
inline wire::Request setattr(std::string_view path, uint32_t flags, const wire::Attr& what) {
  wire::Request req;
  req.op = wire::Op::kSetAttr;
  req.flags = flags;
  req.path = path;
  req.attr.mode = what.mode & 07777;
  req.attr.atime_ns = what.atime_ns;
  req.attr.mtime_ns = what.mtime_ns;
  return req;
}

/// RENAME (flags 0: the whole move; else one phase of a move across
/// owners); `attr` (may be null): the inode an attach installs.
inline wire::Request rename(uint32_t flags, std::string_view from, std::string_view to,
                            const wire::Attr* attr) {
  wire::Request req;
  req.op = wire::Op::kRename;
  req.flags = flags;
  req.path = from;
  req.path2 = to;
  if (attr != nullptr) req.attr = *attr;
  return req;
}

inline wire::Request mkdir(std::string_view path, uint32_t mode) {
  wire::Request req;
  req.op = wire::Op::kMkdir;
  req.path = path;
  req.mode = mode & 07777;
  return req;
}

/// RMDIR; flags: the phase (0: remove, kFlagRmdirPrepare, kFlagRmdirAbort).
inline wire::Request rmdir(std::string_view path, uint32_t flags = 0) {
  wire::Request req;
  req.op = wire::Op::kRmdir;
  req.flags = flags;
  req.path = path;
  return req;
}

/// READDIR: a page of entries (with their attributes when `attrs`) from `cookie` on.
inline wire::Request readdir(std::string_view path, bool attrs, uint64_t cookie) {
  wire::Request req;
  req.op = wire::Op::kReaddir;
  req.flags = attrs ? wire::kFlagReaddirAttrs : wire::kFlagNone;
  req.path = path;
  req.cookie = cookie;
  req.max_entries = wire::kMaxReaddirEntries;
  return req;
}

/// PING with `length` bytes of payload, echoed back.
inline wire::Request ping(uint64_t length) { return wire::Request{.op = wire::Op::kPing, .length = length}; }

inline wire::Request shutdown() { return wire::Request{.op = wire::Op::kShutdown}; }

/// REGISTER_CLIENT: `client_id` proves itself with the registry's `secret`.
inline wire::Request register_client(uint64_t secret, std::string_view client_id) {
  wire::Request req;
  req.op = wire::Op::kRegisterClient;
  req.secret = secret;
  req.client_id = client_id;
  return req;
}

inline wire::Request statfs() {
  wire::Request req;
  req.op = wire::Op::kStatfs;
  return req;
}

}  // namespace benchfs::client::stub
