#include "benchfs/net/codec.hpp"

#include <sys/stat.h>

#include <bit>
#include <cstring>
#include <limits>
#include <string>

namespace benchfs::wire {

// Fixed request fields after the 24-byte header, per op:
//   REGISTER_CLIENT  secret u64, id_len u32, reserved u32          (data: id)
//   PING             length u64                                    (data: payload)
//   SHUTDOWN         -
//   CREATE           mode u32, open_flags u32, path_len u32, rsv   (data: path)
//   OPEN             open_flags u32, path_len u32                  (data: path)
//   STAT/UNLINK/RMDIR path_len u32, reserved u32                   (data: path)
//   MKDIR            mode u32, path_len u32                        (data: path)
//   READDIR          cookie u64, max_entries u32, path_len u32     (data: path)
//   RENAME           path_len u32, path2_len u32, attr (48 B)      (data: path, path2)
//   TRUNCATE         length u64, path_len u32, reserved u32        (data: path)
//   SET_SIZE         ino u64, length u64, path_len u32, reserved   (data: path)
//   WRITE_CHUNK      ino u64, index u64, offset u64, length u64    (data: payload)
//   READ_CHUNK       ino u64, index u64, offset u64, length u64
//   REMOVE_CHUNKS    ino u64, length u64 (bytes kept)
//   STATFS           -
//   SETATTR          mode u32, path_len u32, atime i64, mtime i64  (data: path)
// Reply fields after the 16-byte reply header (status 0 only):
//   REGISTER_CLIENT  session u64, thread u32, node u32
//   PING, WRITE_CHUNK, READ_CHUNK, SET_SIZE   length u64
//   CREATE, OPEN, STAT, UNLINK, TRUNCATE      attr (48 B)
//   READDIR          cookie u64, count u32, eof u32                (data: dirents)
//   REMOVE_CHUNKS    count u64, length u64
//   RENAME           attr (moved), attr (replaced; ino 0 = none)
//   STATFS           capacity u64, used u64, files u64
//   SETATTR          attr (48 B)
//   SHUTDOWN, MKDIR, RMDIR                    -

namespace {

class Writer {
 public:
  explicit Writer(Encoded& e) : e_(e) {}
  template <class T>
  void put(T v) {
    static_assert(std::is_integral_v<T>);
    if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1) v = byteswap(v);
    std::memcpy(e_.bytes.data() + e_.size, &v, sizeof v);
    e_.size += sizeof v;
  }

 private:
  template <class T>
  static T byteswap(T v) {
    T out{};
    auto* src = reinterpret_cast<const unsigned char*>(&v);
    auto* dst = reinterpret_cast<unsigned char*>(&out);
    for (size_t i = 0; i < sizeof(T); ++i) dst[i] = src[sizeof(T) - 1 - i];
    return out;
  }
  Encoded& e_;
};

class Reader {
 public:
  Reader(const void* p, size_t n) : p_(static_cast<const unsigned char*>(p)), left_(p == nullptr ? 0 : n) {}
  template <class T>
  T get() {
    T v{};
    if (left_ < sizeof(T)) {
      short_ = true;
      return v;
    }
    std::memcpy(&v, p_, sizeof v);
    if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1) {
      T out{};
      auto* s = reinterpret_cast<const unsigned char*>(&v);
      auto* d = reinterpret_cast<unsigned char*>(&out);
      for (size_t i = 0; i < sizeof(T); ++i) d[i] = s[sizeof(T) - 1 - i];
      v = out;
    }
    p_ += sizeof v;
    left_ -= sizeof v;
    return v;
  }
  [[nodiscard]] size_t left() const { return left_; }
  [[nodiscard]] bool short_read() const { return short_; }

 private:
  const unsigned char* p_;
  size_t left_;
  bool short_ = false;
};

// Size of the fixed request fields of each op (after the header).
constexpr size_t request_fixed_size(Op op) {
  switch (op) {
    case Op::kRegisterClient:
      return 16;
    case Op::kPing:
      return 8;
    case Op::kShutdown:
      return 0;
    case Op::kCreate:
      return 16;
    case Op::kOpen:
    case Op::kStat:
    case Op::kUnlink:
    case Op::kRmdir:
    case Op::kMkdir:
      return 8;
    case Op::kReaddir:
      return 16;
    case Op::kRename:
      return 8 + kAttrSize;
    case Op::kTruncate:
      return 16;
    case Op::kSetSize:
      return 24;
    case Op::kWriteChunk:
    case Op::kReadChunk:
      return 32;
    case Op::kRemoveChunks:
      return 16;
    case Op::kSetAttr:
      return 24;
    case Op::kStatfs:
    case Op::kConnectionClose:
      return 0;
  }
  return 0;
}

constexpr size_t reply_fixed_size(Op op) {
  switch (op) {
    case Op::kRegisterClient:
      return 16;
    case Op::kPing:
    case Op::kWriteChunk:
    case Op::kReadChunk:
    case Op::kSetSize:
      return 8;
    case Op::kCreate:
    case Op::kOpen:
    case Op::kStat:
    case Op::kUnlink:
    case Op::kTruncate:
    case Op::kSetAttr:
      return kAttrSize;
    case Op::kReaddir:
    case Op::kRemoveChunks:
      return 16;
    case Op::kRename:
      return 2 * kAttrSize;
    case Op::kStatfs:
      return 24;
    case Op::kShutdown:
    case Op::kMkdir:
    case Op::kRmdir:
    case Op::kConnectionClose:
      return 0;
  }
  return 0;
}

// Ops whose AM data holds path / id bytes (must arrive eagerly).
constexpr bool has_var_fields(Op op) {
  switch (op) {
    case Op::kRegisterClient:
    case Op::kCreate:
    case Op::kOpen:
    case Op::kStat:
    case Op::kUnlink:
    case Op::kMkdir:
    case Op::kRmdir:
    case Op::kReaddir:
    case Op::kRename:
    case Op::kTruncate:
    case Op::kSetSize:
    case Op::kSetAttr:
      return true;
    default:
      return false;
  }
}

Status proto(const std::string& what) { return Status(EPROTO, what); }

void put_attr(Writer& w, const Attr& a) {
  w.put(a.ino);
  w.put(a.size);
  w.put(a.mode);
  w.put(a.nlink);
  w.put(a.atime_ns);
  w.put(a.mtime_ns);
  w.put(a.ctime_ns);
}

Attr get_attr(Reader& r) {
  Attr a;
  a.ino = r.get<uint64_t>();
  a.size = r.get<uint64_t>();
  a.mode = r.get<uint32_t>();
  a.nlink = r.get<uint32_t>();
  a.atime_ns = r.get<int64_t>();
  a.mtime_ns = r.get<int64_t>();
  a.ctime_ns = r.get<int64_t>();
  return a;
}

}  // namespace

std::string_view op_name(Op op) {
  switch (op) {
    case Op::kRegisterClient:
      return "register_client";
    case Op::kPing:
      return "ping";
    case Op::kShutdown:
      return "shutdown";
    case Op::kCreate:
      return "create";
    case Op::kOpen:
      return "open";
    case Op::kStat:
      return "stat";
    case Op::kUnlink:
      return "unlink";
    case Op::kMkdir:
      return "mkdir";
    case Op::kRmdir:
      return "rmdir";
    case Op::kReaddir:
      return "readdir";
    case Op::kRename:
      return "rename";
    case Op::kTruncate:
      return "truncate";
    case Op::kSetSize:
      return "set_size";
    case Op::kWriteChunk:
      return "write_chunk";
    case Op::kReadChunk:
      return "read_chunk";
    case Op::kRemoveChunks:
      return "remove_chunks";
    case Op::kStatfs:
      return "statfs";
    case Op::kSetAttr:
      return "setattr";
    case Op::kConnectionClose:
      return "connection_close";
  }
  return "unknown";
}

std::string_view close_reason_name(CloseReason r) {
  switch (r) {
    case CloseReason::kEviction:
      return "eviction";
    case CloseReason::kShutdown:
      return "shutdown";
    case CloseReason::kError:
      return "error";
    case CloseReason::kReplaced:
      return "replaced";
  }
  return "unknown";
}

Status validate_path(std::string_view path) {
  if (path.empty()) return Status(EINVAL, "empty path");
  if (path.size() > kMaxPath) return Status(ENAMETOOLONG, "path longer than 4096 bytes");
  if (path.front() != '/') return Status(EINVAL, "path is not absolute");
  if (path.find('\0') != std::string_view::npos) return Status(EINVAL, "path contains NUL");
  if (path.size() == 1) return Status();
  if (path.back() == '/') return Status(EINVAL, "path ends with '/'");
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view comp = path.substr(pos, next - pos);
    if (comp.empty()) return Status(EINVAL, "path has an empty component");
    if (comp == "." || comp == "..") return Status(EINVAL, "path has a '.' or '..' component");
    if (comp.size() > 255) return Status(ENAMETOOLONG, "path component longer than 255 bytes");
    pos = next + 1;
  }
  return Status();
}

// ---------------------------------------------------------------- requests

Encoded encode_request_header(const Request& r) {
  Encoded e;
  Writer w(e);
  w.put(kMagic);
  w.put(kVersion);
  w.put(static_cast<uint8_t>(r.op));
  w.put(r.flags);
  w.put(r.request_id);
  w.put(r.session);
  const auto plen = static_cast<uint32_t>(r.path.size());
  switch (r.op) {
    case Op::kRegisterClient:
      w.put(r.secret);
      w.put(static_cast<uint32_t>(r.client_id.size()));
      w.put(uint32_t{0});
      break;
    case Op::kPing:
      w.put(r.length);
      break;
    case Op::kShutdown:
    case Op::kStatfs:
    case Op::kConnectionClose:
      break;
    case Op::kCreate:
      w.put(r.mode);
      w.put(r.open_flags);
      w.put(plen);
      w.put(uint32_t{0});
      break;
    case Op::kOpen:
      w.put(r.open_flags);
      w.put(plen);
      break;
    case Op::kStat:
    case Op::kUnlink:
    case Op::kRmdir:
      w.put(plen);
      w.put(uint32_t{0});
      break;
    case Op::kMkdir:
      w.put(r.mode);
      w.put(plen);
      break;
    case Op::kReaddir:
      w.put(r.cookie);
      w.put(r.max_entries);
      w.put(plen);
      break;
    case Op::kRename:
      w.put(plen);
      w.put(static_cast<uint32_t>(r.path2.size()));
      put_attr(w, r.attr);
      break;
    case Op::kTruncate:
      w.put(r.length);
      w.put(plen);
      w.put(uint32_t{0});
      break;
    case Op::kSetSize:
      w.put(r.ino);
      w.put(r.length);
      w.put(plen);
      w.put(uint32_t{0});
      break;
    case Op::kSetAttr:
      w.put(r.attr.mode);
      w.put(plen);
      w.put(r.attr.atime_ns);
      w.put(r.attr.mtime_ns);
      break;
    case Op::kWriteChunk:
    case Op::kReadChunk:
      w.put(r.ino);
      w.put(r.index);
      w.put(r.offset);
      w.put(r.length);
      break;
    case Op::kRemoveChunks:
      w.put(r.ino);
      w.put(r.length);
      break;
  }
  return e;
}

size_t request_var_size(const Request& r) {
  if (!has_var_fields(r.op)) return 0;
  if (r.op == Op::kRegisterClient) return r.client_id.size();
  return r.path.size() + (r.op == Op::kRename ? r.path2.size() : 0);
}

void encode_request_var(const Request& r, std::byte* out) {
  if (!has_var_fields(r.op)) return;
  if (r.op == Op::kRegisterClient) {
    std::memcpy(out, r.client_id.data(), r.client_id.size());
    return;
  }
  std::memcpy(out, r.path.data(), r.path.size());
  if (r.op == Op::kRename) std::memcpy(out + r.path.size(), r.path2.data(), r.path2.size());
}

uint64_t peek_request_id(const void* header, size_t header_len) {
  if (header == nullptr || header_len < 16) return 0;
  Reader r(static_cast<const std::byte*>(header) + 8, 8);
  return r.get<uint64_t>();
}

uint8_t peek_op(const void* header, size_t header_len) {
  if (header == nullptr || header_len < 4) return 0;
  return static_cast<const uint8_t*>(header)[3];
}

Result<Request> decode_request(const void* header, size_t header_len, AmData data) {
  if (header == nullptr || header_len < kRequestHeaderSize)
    return proto("request header too short (" + std::to_string(header_len) + " bytes)");
  Reader rd(header, header_len);
  Request q;
  const auto magic = rd.get<uint16_t>();
  const auto version = rd.get<uint8_t>();
  const auto op = rd.get<uint8_t>();
  q.flags = rd.get<uint32_t>();
  q.request_id = rd.get<uint64_t>();
  q.session = rd.get<uint64_t>();
  if (magic != kMagic) return proto("bad magic");
  if (version != kVersion) return proto("unsupported protocol version " + std::to_string(version));
  if (!is_request_op(op)) return proto("unknown op " + std::to_string(op));
  q.op = static_cast<Op>(op);
  if ((q.flags & ~allowed_flags(q.op)) != 0) return Status(EINVAL, "unknown request flags");
  if ((q.flags & kFlagRenameDetach) != 0 && (q.flags & kFlagRenameAttach) != 0)
    return Status(EINVAL, "rename: detach and attach at once");
  const size_t fixed = request_fixed_size(q.op);
  if (header_len != kRequestHeaderSize + fixed)
    return proto(std::string(op_name(q.op)) + ": header is " + std::to_string(header_len) +
                 " bytes, expected " + std::to_string(kRequestHeaderSize + fixed));

  uint32_t plen = 0;
  uint32_t plen2 = 0;
  uint32_t idlen = 0;
  switch (q.op) {
    case Op::kRegisterClient:
      q.secret = rd.get<uint64_t>();
      idlen = rd.get<uint32_t>();
      (void)rd.get<uint32_t>();
      break;
    case Op::kPing:
      q.length = rd.get<uint64_t>();
      break;
    case Op::kShutdown:
    case Op::kStatfs:
    case Op::kConnectionClose:
      break;
    case Op::kCreate:
      q.mode = rd.get<uint32_t>();
      q.open_flags = rd.get<uint32_t>();
      plen = rd.get<uint32_t>();
      (void)rd.get<uint32_t>();
      break;
    case Op::kOpen:
      q.open_flags = rd.get<uint32_t>();
      plen = rd.get<uint32_t>();
      break;
    case Op::kStat:
    case Op::kUnlink:
    case Op::kRmdir:
      plen = rd.get<uint32_t>();
      (void)rd.get<uint32_t>();
      break;
    case Op::kMkdir:
      q.mode = rd.get<uint32_t>();
      plen = rd.get<uint32_t>();
      break;
    case Op::kReaddir:
      q.cookie = rd.get<uint64_t>();
      q.max_entries = rd.get<uint32_t>();
      plen = rd.get<uint32_t>();
      break;
    case Op::kRename:
      plen = rd.get<uint32_t>();
      plen2 = rd.get<uint32_t>();
      q.attr = get_attr(rd);
      break;
    case Op::kTruncate:
      q.length = rd.get<uint64_t>();
      plen = rd.get<uint32_t>();
      (void)rd.get<uint32_t>();
      break;
    case Op::kSetSize:
      q.ino = rd.get<uint64_t>();
      q.length = rd.get<uint64_t>();
      plen = rd.get<uint32_t>();
      (void)rd.get<uint32_t>();
      break;
    case Op::kSetAttr:
      q.attr.mode = rd.get<uint32_t>();
      plen = rd.get<uint32_t>();
      q.attr.atime_ns = rd.get<int64_t>();
      q.attr.mtime_ns = rd.get<int64_t>();
      break;
    case Op::kWriteChunk:
    case Op::kReadChunk:
      q.ino = rd.get<uint64_t>();
      q.index = rd.get<uint64_t>();
      q.offset = rd.get<uint64_t>();
      q.length = rd.get<uint64_t>();
      break;
    case Op::kRemoveChunks:
      q.ino = rd.get<uint64_t>();
      q.length = rd.get<uint64_t>();
      break;
  }
  if (rd.short_read()) return proto("truncated fixed fields");
  // Inode 0 is never a file's (placement.hpp): data stored under it could
  // never be found, nor freed by any unlink.
  if ((q.op == Op::kWriteChunk || q.op == Op::kReadChunk || q.op == Op::kRemoveChunks ||
       q.op == Op::kSetSize) &&
      q.ino == 0)
    return Status(EINVAL, std::string(op_name(q.op)) + ": inode 0 is no file's");

  // Payload ops: the AM data is the payload.
  switch (q.op) {
    case Op::kPing:
      if (q.length > kMaxPingPayload) return Status(EINVAL, "ping payload over 4 MiB");
      if (data.size != q.length) return proto("ping payload length does not match its header");
      return q;
    case Op::kWriteChunk:
      if (q.length == 0) return Status(EINVAL, "empty chunk write");
      if (q.length > kMaxChunkIo || q.offset > kMaxChunkIo || q.offset + q.length > kMaxChunkIo)
        return Status(EINVAL, "chunk write past the largest chunk size");
      if (data.size != q.length) return proto("write payload length does not match its header");
      return q;
    case Op::kReadChunk:
      if (q.length > kMaxChunkIo || q.offset > kMaxChunkIo || q.offset + q.length > kMaxChunkIo)
        return Status(EINVAL, "chunk read past the largest chunk size");
      [[fallthrough]];
    case Op::kShutdown:
    case Op::kStatfs:
    case Op::kRemoveChunks:
      if (data.size != 0) return proto(std::string(op_name(q.op)) + " carries no data");
      return q;
    default:
      break;
  }

  // Metadata ops: the AM data holds the variable fields and must be eager.
  if (data.rndv) return proto(std::string(op_name(q.op)) + ": variable fields must be sent eagerly");
  if (q.op == Op::kRegisterClient) {
    if (idlen == 0 || idlen > kMaxClientId) return Status(EINVAL, "client id must be 1..256 bytes");
    if (data.size != idlen || data.ptr == nullptr) return proto("client id length does not match its header");
    q.client_id = std::string_view(static_cast<const char*>(data.ptr), idlen);
    return q;
  }
  if (plen > kMaxPath || plen2 > kMaxPath) return Status(ENAMETOOLONG, "path longer than 4096 bytes");
  if (data.size != static_cast<size_t>(plen) + plen2 || (data.size != 0 && data.ptr == nullptr))
    return proto(std::string(op_name(q.op)) + ": path lengths do not match the data");
  const char* base = static_cast<const char*>(data.ptr);
  q.path = std::string_view(base == nullptr ? "" : base, plen);
  if (auto st = validate_path(q.path); !st) return st;
  if (q.op == Op::kRename) {
    q.path2 = std::string_view(base + plen, plen2);
    if (auto st = validate_path(q.path2); !st) return st;
  }
  if (q.op == Op::kReaddir && (q.max_entries == 0 || q.max_entries > kMaxReaddirEntries))
    return Status(EINVAL, "readdir page size must be 1..4096 entries");
  if (q.op == Op::kSetSize && q.ino == 0) return Status(EINVAL, "set_size without inode");
  if (q.op == Op::kSetAttr) {
    if ((q.flags & (kFlagSetMode | kFlagSetAtime | kFlagSetMtime)) == 0)
      return Status(EINVAL, "setattr sets nothing");
    if ((q.attr.mode & ~07777u) != 0) return Status(EINVAL, "setattr: mode beyond the permission bits");
  }
  return q;
}

// ----------------------------------------------------------------- replies

Encoded encode_reply(const Reply& r) {
  Encoded e;
  Writer w(e);
  w.put(kMagic);
  w.put(kVersion);
  w.put(static_cast<uint8_t>(r.op));
  w.put(r.status);
  w.put(r.request_id);
  if (r.status != 0) return e;
  switch (r.op) {
    case Op::kRegisterClient:
      w.put(r.session);
      w.put(r.thread);
      w.put(r.node);
      break;
    case Op::kPing:
    case Op::kWriteChunk:
    case Op::kReadChunk:
    case Op::kSetSize:
      w.put(r.length);
      break;
    case Op::kCreate:
    case Op::kOpen:
    case Op::kStat:
    case Op::kUnlink:
    case Op::kTruncate:
    case Op::kSetAttr:
      put_attr(w, r.attr);
      break;
    case Op::kReaddir:
      w.put(r.cookie);
      w.put(static_cast<uint32_t>(r.count));
      w.put(r.eof);
      break;
    case Op::kRemoveChunks:
      w.put(r.count);
      w.put(r.length);
      break;
    case Op::kRename:
      put_attr(w, r.attr);
      put_attr(w, r.attr2);
      break;
    case Op::kStatfs:
      w.put(r.capacity);
      w.put(r.used);
      w.put(r.files);
      break;
    case Op::kShutdown:
    case Op::kMkdir:
    case Op::kRmdir:
    case Op::kConnectionClose:
      break;
  }
  return e;
}

Encoded encode_error_reply(Op op, uint64_t request_id, int err) {
  Reply r;
  r.op = op;
  r.request_id = request_id;
  r.status = err > 0 ? -err : (err == 0 ? -EIO : err);
  return encode_reply(r);
}

Result<Reply> decode_reply(const void* header, size_t header_len) {
  if (header == nullptr || header_len < kReplyHeaderSize) return proto("reply header too short");
  Reader rd(header, header_len);
  Reply r;
  const auto magic = rd.get<uint16_t>();
  const auto version = rd.get<uint8_t>();
  const auto op = rd.get<uint8_t>();
  r.status = rd.get<int32_t>();
  r.request_id = rd.get<uint64_t>();
  if (magic != kMagic) return proto("bad reply magic");
  if (version != kVersion) return proto("unsupported reply version");
  if (r.status > 0 || r.status < -4095) return proto("bad reply status");
  r.op = static_cast<Op>(op);
  // Op 0 answers a request too broken to name its op; only as an error.
  if (!is_request_op(op) && !(op == 0 && r.status != 0)) return proto("reply for unknown op");
  if (r.status != 0) {
    if (header_len != kReplyHeaderSize) return proto("error reply with fields");
    return r;
  }
  if (header_len != kReplyHeaderSize + reply_fixed_size(r.op))
    return proto("reply header size does not match op");
  switch (r.op) {
    case Op::kRegisterClient:
      r.session = rd.get<uint64_t>();
      r.thread = rd.get<uint32_t>();
      r.node = rd.get<uint32_t>();
      break;
    case Op::kPing:
    case Op::kWriteChunk:
    case Op::kReadChunk:
    case Op::kSetSize:
      r.length = rd.get<uint64_t>();
      break;
    case Op::kCreate:
    case Op::kOpen:
    case Op::kStat:
    case Op::kUnlink:
    case Op::kTruncate:
    case Op::kSetAttr:
      r.attr = get_attr(rd);
      break;
    case Op::kReaddir:
      r.cookie = rd.get<uint64_t>();
      r.count = rd.get<uint32_t>();
      r.eof = rd.get<uint32_t>();
      break;
    case Op::kRemoveChunks:
      r.count = rd.get<uint64_t>();
      r.length = rd.get<uint64_t>();
      break;
    case Op::kRename:
      r.attr = get_attr(rd);
      r.attr2 = get_attr(rd);
      break;
    case Op::kStatfs:
      r.capacity = rd.get<uint64_t>();
      r.used = rd.get<uint64_t>();
      r.files = rd.get<uint64_t>();
      break;
    default:
      break;
  }
  if (rd.short_read()) return proto("truncated reply fields");
  return r;
}

// ----------------------------------------------------------- notifications

Encoded encode_notify(const Notify& n) {
  Encoded e;
  Writer w(e);
  w.put(kMagic);
  w.put(kVersion);
  w.put(static_cast<uint8_t>(n.op));
  w.put(static_cast<uint32_t>(n.reason));
  w.put(n.session);
  return e;
}

Result<Notify> decode_notify(const void* header, size_t header_len) {
  if (header == nullptr || header_len != kNotifyHeaderSize) return proto("bad notification size");
  Reader rd(header, header_len);
  Notify n;
  const auto magic = rd.get<uint16_t>();
  const auto version = rd.get<uint8_t>();
  const auto op = rd.get<uint8_t>();
  const auto reason = rd.get<uint32_t>();
  n.session = rd.get<uint64_t>();
  if (magic != kMagic || version != kVersion) return proto("bad notification magic/version");
  if (op != static_cast<uint8_t>(Op::kConnectionClose)) return proto("unknown notification");
  if (reason < 1 || reason > 4) return proto("unknown close reason");
  n.reason = static_cast<CloseReason>(reason);
  return n;
}

// ------------------------------------------------------------------ dirents

void append_dirent(std::vector<std::byte>& out, std::string_view name, FileType type) {
  const auto n = static_cast<uint16_t>(name.size());
  out.push_back(static_cast<std::byte>(type));
  out.push_back(static_cast<std::byte>(n & 0xff));
  out.push_back(static_cast<std::byte>(n >> 8));
  const auto* p = reinterpret_cast<const std::byte*>(name.data());
  out.insert(out.end(), p, p + n);
}

void append_dirent(std::vector<std::byte>& out, std::string_view name, FileType type, const Attr& attr) {
  append_dirent(out, name, type);
  Encoded e;
  Writer w(e);
  put_attr(w, attr);
  const auto* p = reinterpret_cast<const std::byte*>(e.bytes.data());
  out.insert(out.end(), p, p + e.size);
}

Result<std::vector<DirentView>> decode_dirents(const void* data, size_t len, uint64_t expected_count,
                                               bool with_attrs) {
  std::vector<DirentView> out;
  if (expected_count > kMaxReaddirEntries) return proto("too many directory entries");
  out.reserve(expected_count);
  const auto* p = static_cast<const unsigned char*>(data);
  size_t pos = 0;
  while (pos < len) {
    if (p == nullptr || len - pos < kDirentOverhead) return proto("truncated directory entry");
    const uint8_t type = p[pos];
    const size_t n = static_cast<size_t>(p[pos + 1]) | (static_cast<size_t>(p[pos + 2]) << 8);
    pos += kDirentOverhead;
    if (type != static_cast<uint8_t>(FileType::kRegular) &&
        type != static_cast<uint8_t>(FileType::kDirectory))
      return proto("bad directory entry type");
    if (n == 0 || n > 255 || len - pos < n) return proto("bad directory entry name length");
    const std::string_view name(reinterpret_cast<const char*>(p + pos), n);
    // Names the servers could never have stored must not reach the caller.
    if (name == "." || name == ".." ||
        name.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos)
      return proto("bad directory entry name");
    pos += n;
    DirentView d{name, static_cast<FileType>(type), Attr{}};
    if (with_attrs) {
      if (len - pos < kAttrSize) return proto("truncated directory entry attributes");
      Reader rd(p + pos, kAttrSize);
      d.attr = get_attr(rd);
      pos += kAttrSize;
      const bool dir = (d.attr.mode & S_IFMT) == S_IFDIR;
      if (dir != (d.type == FileType::kDirectory) || (!dir && (d.attr.mode & S_IFMT) != S_IFREG))
        return proto("directory entry attributes do not match its type");
    }
    out.push_back(d);
  }
  if (out.size() != expected_count) return proto("directory entry count does not match the reply");
  return out;
}

}  // namespace benchfs::wire
