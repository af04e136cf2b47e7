#include "benchfs/protocol/codec.hpp"

#include <sys/stat.h>

#include <bit>
#include <cstring>
#include <limits>
#include <string>

namespace benchfs::protocol::wire {

// Each op's request and reply fields are declared once, in request_fields
// and reply_fields below; its name, data kind, flags and inode rule in
// wire.hpp's op_traits. Requests have a 24-byte header (magic u16, version
// u8, op u8, flags u32, request id u64, session u64), replies a 16-byte one
// (magic, version, op, status i32, request id); all little-endian.

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

// Which variable-length field a length field gives the size of.
enum class Len { kClientId, kPath, kPath2 };

// The fixed fields of each op's request, in wire order: the one place the
// layout (the table at the top of this file) is written in code. Walked by
// Put (encode), Get (decode) and Count (sizes): v(x) is a field of x's type,
// v.len(which) a u32 length of a variable field, v.pad() a reserved u32 and
// v.attr(a) a 48-byte Attr.
template <class Q, class V>
void request_fields(Q& q, V& v) {
  switch (q.op) {
    case Op::kRegisterClient:
      v(q.secret);
      v.len(Len::kClientId);
      v.pad();
      break;
    case Op::kPing:
      v(q.length);
      break;
    case Op::kShutdown:
    case Op::kStatfs:
    case Op::kConnectionClose:
      break;
    case Op::kCreate:
      v(q.mode);
      v(q.open_flags);
      v.len(Len::kPath);
      v.pad();
      break;
    case Op::kOpen:
      v(q.open_flags);
      v.len(Len::kPath);
      break;
    case Op::kStat:
    case Op::kUnlink:
    case Op::kRmdir:
      v.len(Len::kPath);
      v.pad();
      break;
    case Op::kMkdir:
      v(q.mode);
      v.len(Len::kPath);
      break;
    case Op::kReaddir:
      v(q.cookie);
      v(q.max_entries);
      v.len(Len::kPath);
      break;
    case Op::kRename:
      v.len(Len::kPath);
      v.len(Len::kPath2);
      v.attr(q.attr);
      break;
    case Op::kTruncate:
      v(q.length);
      v.len(Len::kPath);
      v.pad();
      break;
    case Op::kSetSize:
      v(q.ino);
      v(q.length);
      v.len(Len::kPath);
      v.pad();
      break;
    case Op::kSetAttr:
      v(q.attr.mode);
      v.len(Len::kPath);
      v(q.attr.atime_ns);
      v(q.attr.mtime_ns);
      break;
    case Op::kWriteChunk:
    case Op::kReadChunk:
      v(q.ino);
      v(q.index);
      v(q.offset);
      v(q.length);
      break;
    case Op::kRemoveChunks:
      v(q.ino);
      v(q.length);
      break;
  }
}

// The fixed fields of each op's successful reply, in wire order (error
// replies have none). v.u32(x) is a 64-bit field sent as a u32.
template <class R, class V>
void reply_fields(R& r, V& v) {
  switch (r.op) {
    case Op::kRegisterClient:
      v(r.session);
      v(r.thread);
      v(r.node);
      break;
    case Op::kPing:
    case Op::kWriteChunk:
    case Op::kReadChunk:
    case Op::kSetSize:
      v(r.length);
      break;
    case Op::kCreate:
    case Op::kOpen:
    case Op::kStat:
    case Op::kUnlink:
    case Op::kTruncate:
    case Op::kSetAttr:
      v.attr(r.attr);
      break;
    case Op::kReaddir:
      v(r.cookie);
      v.u32(r.count);
      v(r.eof);
      break;
    case Op::kRemoveChunks:
      v(r.count);
      v(r.length);
      break;
    case Op::kRename:
      v.attr(r.attr);
      v.attr(r.attr2);
      break;
    case Op::kStatfs:
      v(r.capacity);
      v(r.used);
      v(r.files);
      break;
    case Op::kShutdown:
    case Op::kMkdir:
    case Op::kRmdir:
    case Op::kConnectionClose:
      break;
  }
}

// Encodes the fields it visits (lengths from the request's strings).
struct Put {
  Writer& w;
  const Request* q = nullptr;
  template <class T>
  void operator()(const T& x) {
    w.put(x);
  }
  void len(Len which) {
    const std::string_view s = which == Len::kClientId ? q->client_id
                               : which == Len::kPath   ? q->path
                                                       : q->path2;
    w.put(static_cast<uint32_t>(s.size()));
  }
  void pad() { w.put(uint32_t{0}); }
  void u32(uint64_t x) { w.put(static_cast<uint32_t>(x)); }
  void attr(const Attr& a) { put_attr(w, a); }
};

// Decodes the fields it visits; lengths are kept for the variable fields.
struct Get {
  Reader& rd;
  uint32_t lens[3] = {0, 0, 0};  // indexed by Len
  template <class T>
  void operator()(T& x) {
    x = rd.get<T>();
  }
  void len(Len which) { lens[static_cast<int>(which)] = rd.get<uint32_t>(); }
  void pad() { (void)rd.get<uint32_t>(); }
  void u32(uint64_t& x) { x = rd.get<uint32_t>(); }
  void attr(Attr& a) { a = get_attr(rd); }
};

// Adds up the sizes of the fields it visits.
struct Count {
  size_t n = 0;
  template <class T>
  void operator()(const T&) {
    n += sizeof(T);
  }
  void len(Len) { n += 4; }
  void pad() { n += 4; }
  void u32(uint64_t) { n += 4; }
  void attr(const Attr&) { n += kAttrSize; }
};

// Fixed field sizes of every op's request (after the header) and reply.
struct FixedSizes {
  size_t request[kOpSlots] = {};
  size_t reply[kOpSlots] = {};
  FixedSizes() {
    for (unsigned op = 1; op < kOpSlots; ++op) {
      Request q;
      q.op = static_cast<Op>(op);
      Count c;
      request_fields(q, c);
      request[op] = c.n;
      Reply r;
      r.op = q.op;
      Count d;
      reply_fields(r, d);
      reply[op] = d.n;
    }
  }
};
const FixedSizes kFixed;

}  // namespace

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
  Put put{w, &r};
  request_fields(r, put);
  return e;
}

size_t request_var_size(const Request& r) {
  switch (op_traits(r.op).data) {
    case OpData::kClientId:
      return r.client_id.size();
    case OpData::kPath:
      return r.path.size();
    case OpData::kTwoPaths:
      return r.path.size() + r.path2.size();
    default:
      return 0;
  }
}

void encode_request_var(const Request& r, std::byte* out) {
  const OpData d = op_traits(r.op).data;
  if (d == OpData::kClientId) std::memcpy(out, r.client_id.data(), r.client_id.size());
  if (d == OpData::kPath || d == OpData::kTwoPaths) std::memcpy(out, r.path.data(), r.path.size());
  if (d == OpData::kTwoPaths) std::memcpy(out + r.path.size(), r.path2.data(), r.path2.size());
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
  const size_t fixed = kFixed.request[op];
  if (header_len != kRequestHeaderSize + fixed)
    return proto(std::string(op_name(q.op)) + ": header is " + std::to_string(header_len) +
                 " bytes, expected " + std::to_string(kRequestHeaderSize + fixed));

  Get get{rd};
  request_fields(q, get);
  const uint32_t idlen = get.lens[static_cast<int>(Len::kClientId)];
  const uint32_t plen = get.lens[static_cast<int>(Len::kPath)];
  const uint32_t plen2 = get.lens[static_cast<int>(Len::kPath2)];
  if (rd.short_read()) return proto("truncated fixed fields");
  // Inode 0 is never a file's (placement.hpp): data stored under it could
  // never be found, nor freed by any unlink.
  if (op_traits(q.op).needs_inode && q.ino == 0)
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
  Put put{w};
  reply_fields(r, put);
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
  if (header_len != kReplyHeaderSize + kFixed.reply[op]) return proto("reply header size does not match op");
  Get get{rd};
  reply_fields(r, get);
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

}  // namespace benchfs::protocol::wire
