// Unit tests of the wire codec: every op round-trips, every malformed form
// is rejected with the documented errno, and random bytes never crash it.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "benchfs/protocol/codec.hpp"
#include "wire_requests.hpp"

using namespace benchfs;
using namespace benchfs::wire;
using benchfs::wire_test::chunk_op;
using benchfs::wire_test::path_op;

namespace {

struct Msg {
  Encoded hdr;
  std::vector<std::byte> data;
};

// Encodes a request the way the client sends it: header + AM data.
Msg encode(const Request& r, std::string_view payload = {}) {
  Msg m;
  m.hdr = encode_request_header(r);
  const size_t var = request_var_size(r);
  if (var > 0) {
    m.data.resize(var);
    encode_request_var(r, m.data.data());
  } else {
    const auto* p = reinterpret_cast<const std::byte*>(payload.data());
    m.data.assign(p, p + payload.size());
  }
  return m;
}

Result<Request> decode(const Msg& m) {
  return decode_request(m.hdr.data(), m.hdr.size, AmData{m.data.data(), m.data.size(), false});
}

Request base(Op op) {
  Request r;
  r.op = op;
  r.request_id = 0x1122334455667788ull;
  r.session = 0xdeadbeefcafef00dull;
  return r;
}

std::vector<Request> one_of_each() {
  std::vector<Request> v;
  Request r = base(Op::kRegisterClient);
  r.secret = 0x0123456789abcdefull;
  r.client_id = "host:123:0";
  v.push_back(r);
  r = base(Op::kPing);
  r.length = 5;
  v.push_back(r);
  v.push_back(base(Op::kShutdown));
  v.push_back(path_op(base(Op::kCreate), "/a/b", 0644, 0101));
  v.push_back(path_op(base(Op::kOpen), "/x", 0, 2));
  for (Op op : {Op::kStat, Op::kUnlink, Op::kRmdir}) v.push_back(path_op(base(op), "/dir/file"));
  v.push_back(path_op(base(Op::kMkdir), "/d", 0755));
  r = path_op(base(Op::kReaddir), "/");
  r.cookie = 77;
  r.max_entries = 100;
  v.push_back(r);
  r = path_op(base(Op::kRename), "/old");
  r.path2 = "/new/name";
  r.flags = kFlagRenameAttach;
  r.attr = Attr{77, 5000, 0100600, 1, 1, 2, 3};
  v.push_back(r);
  r = path_op(base(Op::kTruncate), "/t");
  r.length = 1ull << 40;
  v.push_back(r);
  r = path_op(base(Op::kSetSize), "/s");
  r.ino = 9;
  r.length = 12345;
  v.push_back(r);
  v.push_back(chunk_op(base(Op::kWriteChunk), 1, 2, 3, 5));
  v.push_back(chunk_op(base(Op::kReadChunk), 4, 5, 6, 7));
  v.push_back(chunk_op(base(Op::kRemoveChunks), 8, 0, 0, 4096));
  v.push_back(base(Op::kStatfs));
  r = path_op(base(Op::kSetAttr), "/m");
  r.flags = kFlagSetMode | kFlagSetMtime;
  r.attr.mode = 0640;
  r.attr.atime_ns = kTimeNow;
  r.attr.mtime_ns = -1'000'000'007;
  v.push_back(r);
  return v;
}

std::string payload_for(const Request& r) {
  if (r.op == Op::kPing || r.op == Op::kWriteChunk) return std::string(r.length, 'x');
  return {};
}

// Byte offset of a field in the header (header = 24 bytes, then fixed fields).
void poke_u32(Msg& m, size_t off, uint32_t v) { std::memcpy(m.hdr.bytes.data() + off, &v, 4); }

}  // namespace

TEST(Codec, EveryRequestOpRoundTrips) {
  auto all = one_of_each();
  ASSERT_EQ(all.size(), 18u);  // every request op of DESIGN.md section 3, STATFS and SETATTR
  ASSERT_EQ(all.size() + 1, kOpSlots);
  for (const Request& r : all) {
    SCOPED_TRACE(std::string(op_name(r.op)));
    Msg m = encode(r, payload_for(r));
    auto d = decode(m);
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    EXPECT_EQ(d->op, r.op);
    EXPECT_EQ(d->request_id, r.request_id);
    EXPECT_EQ(d->session, r.session);
    EXPECT_EQ(d->secret, r.secret);
    EXPECT_EQ(d->ino, r.ino);
    EXPECT_EQ(d->index, r.index);
    EXPECT_EQ(d->offset, r.offset);
    EXPECT_EQ(d->length, r.length);
    EXPECT_EQ(d->cookie, r.cookie);
    EXPECT_EQ(d->mode, r.mode);
    EXPECT_EQ(d->open_flags, r.open_flags);
    EXPECT_EQ(d->max_entries, r.max_entries);
    EXPECT_EQ(d->path, r.path);
    EXPECT_EQ(d->path2, r.path2);
    EXPECT_EQ(d->client_id, r.client_id);
    EXPECT_EQ(d->flags, r.flags);
    EXPECT_EQ(d->attr.ino, r.attr.ino);
    EXPECT_EQ(d->attr.size, r.attr.size);
    EXPECT_EQ(d->attr.mode, r.attr.mode);
    EXPECT_EQ(d->attr.ctime_ns, r.attr.ctime_ns);
    EXPECT_EQ(peek_request_id(m.hdr.data(), m.hdr.size), r.request_id);
    EXPECT_EQ(peek_op(m.hdr.data(), m.hdr.size), static_cast<uint8_t>(r.op));
  }
}

TEST(Codec, HeaderIsLittleEndianAndFixed) {
  Request r = base(Op::kShutdown);
  Encoded e = encode_request_header(r);
  ASSERT_EQ(e.size, kRequestHeaderSize);
  const auto* b = reinterpret_cast<const unsigned char*>(e.data());
  EXPECT_EQ(b[0], 0x5a);  // magic 0xBF5A, little endian
  EXPECT_EQ(b[1], 0xbf);
  EXPECT_EQ(b[2], kVersion);
  EXPECT_EQ(b[3], static_cast<uint8_t>(Op::kShutdown));
  EXPECT_EQ(b[8], 0x88);   // request id, low byte first
  EXPECT_EQ(b[16], 0x0d);  // session, low byte first
}

TEST(Codec, RejectsShortAndBadHeaders) {
  Msg m = encode(base(Op::kShutdown));
  for (size_t n = 0; n < kRequestHeaderSize; ++n) {
    auto d = decode_request(m.hdr.data(), n, AmData{});
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().err(), EPROTO) << n;
  }
  EXPECT_EQ(decode_request(nullptr, 24, AmData{}).status().err(), EPROTO);
  Msg bad = m;
  bad.hdr.bytes[0] = std::byte{0};
  EXPECT_EQ(decode(bad).status().err(), EPROTO);  // magic
  bad = m;
  bad.hdr.bytes[2] = std::byte{9};
  EXPECT_EQ(decode(bad).status().err(), EPROTO);  // version
  for (int op : {0, 18, 63, 64, 200, 255}) {
    bad = m;
    bad.hdr.bytes[3] = static_cast<std::byte>(op);
    EXPECT_EQ(decode(bad).status().err(), EPROTO) << op;  // unknown op (64 is a notification)
  }
  bad = m;
  poke_u32(bad, 4, 1);
  EXPECT_EQ(decode(bad).status().err(), EINVAL);  // unknown flags
}

TEST(Codec, FlagsAreAcceptedOnlyWhereTheyMeanSomething) {
  Request rm = base(Op::kRmdir);
  rm.path = "/d";
  rm.flags = kFlagRmdirPrepare;
  auto d = decode(encode(rm, ""));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->flags, kFlagRmdirPrepare);
  rm.flags = kFlagRenameDetach;
  EXPECT_EQ(decode(encode(rm, "")).status().err(), EINVAL);
  Request mv = base(Op::kRename);
  mv.path = "/a";
  mv.path2 = "/b";
  mv.flags = kFlagRenameDetach | kFlagRenameAttach;
  EXPECT_EQ(decode(encode(mv, "")).status().err(), EINVAL);
  mv.flags = kFlagRmdirPrepare;
  EXPECT_EQ(decode(encode(mv, "")).status().err(), EINVAL);
  Request st = base(Op::kStat);
  st.path = "/a";
  st.flags = kFlagRmdirPrepare;
  EXPECT_EQ(decode(encode(st, "")).status().err(), EINVAL);
  st.flags = kFlagSetMode;  // SETATTR's only
  EXPECT_EQ(decode(encode(st, "")).status().err(), EINVAL);
  Request sa = base(Op::kSetAttr);
  sa.path = "/a";
  EXPECT_EQ(decode(encode(sa, "")).status().err(), EINVAL) << "a SETATTR that sets nothing";
  sa.flags = kFlagSetMode;
  sa.attr.mode = 0100644;
  EXPECT_EQ(decode(encode(sa, "")).status().err(), EINVAL) << "type bits are no permission";
  sa.attr.mode = 07755;
  EXPECT_TRUE(decode(encode(sa, "")).ok());
  Request rd = base(Op::kReaddir);
  rd.path = "/";
  rd.max_entries = 1;
  rd.flags = kFlagReaddirAttrs;
  EXPECT_TRUE(decode(encode(rd, "")).ok());
}

TEST(Codec, RejectsWrongFixedSizeForEveryOp) {
  for (const Request& r : one_of_each()) {
    SCOPED_TRACE(std::string(op_name(r.op)));
    Msg m = encode(r, payload_for(r));
    // One byte short and one byte of trailing garbage.
    EXPECT_EQ(decode_request(m.hdr.data(), m.hdr.size - 1, AmData{m.data.data(), m.data.size(), false})
                  .status()
                  .err(),
              EPROTO);
    Msg longer = m;
    longer.hdr.size += 1;
    EXPECT_EQ(decode(longer).status().err(), EPROTO);
  }
}

TEST(Codec, RejectsDataThatDoesNotMatchLengths) {
  for (const Request& r : one_of_each()) {
    SCOPED_TRACE(std::string(op_name(r.op)));
    Msg m = encode(r, payload_for(r));
    Msg extra = m;
    extra.data.push_back(std::byte{'z'});
    EXPECT_FALSE(decode(extra).ok());
    if (!m.data.empty()) {
      Msg shorter = m;
      shorter.data.pop_back();
      EXPECT_FALSE(decode(shorter).ok());
    }
  }
}

TEST(Codec, InodeZeroIsNoFile) {
  // No file has inode 0: chunks stored under it could never be freed.
  for (Request r : one_of_each()) {
    if (r.op != Op::kWriteChunk && r.op != Op::kReadChunk && r.op != Op::kRemoveChunks &&
        r.op != Op::kSetSize)
      continue;
    SCOPED_TRACE(std::string(op_name(r.op)));
    ASSERT_TRUE(decode(encode(r, payload_for(r))).ok());
    r.ino = 0;
    auto d = decode(encode(r, payload_for(r)));
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().err(), EINVAL);
  }
}

TEST(Codec, PathRules) {
  Request r = base(Op::kStat);
  auto status_of = [&](const std::string& path) {
    r.path = path;
    return decode(encode(r)).status().err();
  };
  EXPECT_EQ(status_of("/ok/path"), 0);
  EXPECT_EQ(status_of("/"), 0);
  EXPECT_EQ(status_of("relative"), EINVAL);
  EXPECT_EQ(status_of("/a//b"), EINVAL);
  EXPECT_EQ(status_of("/a/"), EINVAL);
  EXPECT_EQ(status_of("/a/./b"), EINVAL);
  EXPECT_EQ(status_of("/a/../b"), EINVAL);
  EXPECT_EQ(status_of(std::string("/a\0b", 4)), EINVAL);
  EXPECT_EQ(status_of("/" + std::string(256, 'n')), ENAMETOOLONG);
  std::string long_path;
  while (long_path.size() <= kMaxPath) long_path += "/" + std::string(100, 'p');
  EXPECT_EQ(status_of(long_path), ENAMETOOLONG);
  // Empty path: length 0 in the header.
  EXPECT_EQ(status_of(""), EINVAL);
}

TEST(Codec, DeclaredPathLengthOverLimitIsNameTooLong) {
  Request r = base(Op::kStat);
  r.path = "/x";
  Msg m = encode(r);
  poke_u32(m, kRequestHeaderSize, 5000);  // path_len
  EXPECT_EQ(decode(m).status().err(), ENAMETOOLONG);
  poke_u32(m, kRequestHeaderSize, 0xffffffffu);
  EXPECT_EQ(decode(m).status().err(), ENAMETOOLONG);
}

TEST(Codec, RenameChecksBothPaths) {
  Request r = base(Op::kRename);
  r.path = "/a";
  r.path2 = "b";
  EXPECT_EQ(decode(encode(r)).status().err(), EINVAL);
  r.path2 = "/b";
  EXPECT_TRUE(decode(encode(r)).ok());
}

TEST(Codec, RegisterClientIdLimits) {
  Request r = base(Op::kRegisterClient);
  r.client_id = "";
  EXPECT_EQ(decode(encode(r)).status().err(), EINVAL);
  std::string id(kMaxClientId, 'c');
  r.client_id = id;
  EXPECT_TRUE(decode(encode(r)).ok());
  std::string big(kMaxClientId + 1, 'c');
  r.client_id = big;
  EXPECT_EQ(decode(encode(r)).status().err(), EINVAL);
}

TEST(Codec, PayloadAndOffsetLimits) {
  Request r = base(Op::kPing);
  r.length = kMaxPingPayload + 1;
  Msg m = encode(r);
  EXPECT_EQ(decode_request(m.hdr.data(), m.hdr.size, AmData{nullptr, r.length, true}).status().err(), EINVAL);
  r.length = kMaxPingPayload;
  m = encode(r);
  EXPECT_TRUE(
      decode_request(m.hdr.data(), m.hdr.size, AmData{nullptr, r.length, true}).ok());  // rndv payload

  Request w = base(Op::kWriteChunk);
  w.length = 16;
  w.offset = ~0ull - 8;  // offset + len overflows
  m = encode(w);
  EXPECT_EQ(decode_request(m.hdr.data(), m.hdr.size, AmData{nullptr, 16, true}).status().err(), EINVAL);
  w.offset = 0;
  w.length = 0;
  m = encode(w);
  EXPECT_EQ(decode_request(m.hdr.data(), m.hdr.size, AmData{}).status().err(), EINVAL);  // empty write
  w.length = kMaxChunkIo + 1;
  m = encode(w);
  EXPECT_EQ(decode_request(m.hdr.data(), m.hdr.size, AmData{nullptr, w.length, true}).status().err(), EINVAL);

  Request rd = base(Op::kReadChunk);
  rd.offset = kMaxChunkIo;
  rd.length = 1;
  EXPECT_EQ(decode(encode(rd)).status().err(), EINVAL);

  Request dir = base(Op::kReaddir);
  dir.path = "/";
  dir.max_entries = 0;
  EXPECT_EQ(decode(encode(dir)).status().err(), EINVAL);
  dir.max_entries = kMaxReaddirEntries + 1;
  EXPECT_EQ(decode(encode(dir)).status().err(), EINVAL);
}

TEST(Codec, MetadataFieldsMustBeEager) {
  Request r = base(Op::kStat);
  r.path = "/p";
  Msg m = encode(r);
  EXPECT_EQ(decode_request(m.hdr.data(), m.hdr.size, AmData{nullptr, m.data.size(), true}).status().err(),
            EPROTO);
  Request sh = base(Op::kShutdown);
  m = encode(sh);
  EXPECT_EQ(decode_request(m.hdr.data(), m.hdr.size, AmData{nullptr, 10, true}).status().err(), EPROTO);
}

TEST(Codec, RepliesRoundTrip) {
  for (const Request& q : one_of_each()) {
    SCOPED_TRACE(std::string(op_name(q.op)));
    Reply r;
    r.op = q.op;
    r.request_id = q.request_id;
    r.session = 11;
    r.thread = 2;
    r.node = 3;
    r.length = 44;
    r.count = 5;
    r.cookie = 66;
    r.eof = 1;
    r.attr = Attr{1, 2, 0100644, 1, 10, 20, 30};
    r.attr2 = Attr{9, 8, 0100600, 1, 7, 6, 5};
    r.capacity = 1ull << 33;
    r.used = 12345;
    r.files = 17;
    Encoded e = encode_reply(r);
    auto d = decode_reply(e.data(), e.size);
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    EXPECT_EQ(d->op, r.op);
    EXPECT_EQ(d->request_id, r.request_id);
    EXPECT_EQ(d->status, 0);
    switch (q.op) {
      // Each op's own reply fields, compared as one tuple per op.
      case Op::kRegisterClient:
        EXPECT_EQ(std::tie(d->session, d->thread, d->node), std::make_tuple(11u, 2u, 3u));
        break;
      case Op::kStat:
      case Op::kSetAttr:
        EXPECT_EQ(std::tie(d->attr.ino, d->attr.mode, d->attr.ctime_ns), std::make_tuple(1u, 0100644u, 30));
        break;
      case Op::kReaddir:
        EXPECT_EQ(std::tie(d->cookie, d->count, d->eof), std::make_tuple(66u, 5u, 1u));
        break;
      case Op::kReadChunk:
        EXPECT_EQ(d->length, 44u);
        break;
      case Op::kRename:
        EXPECT_EQ(std::tie(d->attr.ino, d->attr2.ino, d->attr2.size), std::make_tuple(1u, 9u, 8u));
        break;
      case Op::kStatfs:
        EXPECT_EQ(std::tie(d->capacity, d->used, d->files), std::make_tuple(1ull << 33, 12345u, 17u));
        break;
      default:
        break;
    }
    // Truncated and padded replies are rejected.
    if (e.size > kReplyHeaderSize) {
      EXPECT_FALSE(decode_reply(e.data(), e.size - 1).ok());
    }
    EXPECT_FALSE(decode_reply(e.data(), e.size + 1).ok());
  }
}

TEST(Codec, ErrorRepliesCarryOnlyTheHeader) {
  Encoded e = encode_error_reply(Op::kStat, 42, ENOENT);
  EXPECT_EQ(e.size, kReplyHeaderSize);
  auto d = decode_reply(e.data(), e.size);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status, -ENOENT);
  EXPECT_EQ(d->request_id, 42u);
  // Op 0 (request too broken to name one) is valid only as an error reply.
  Encoded z = encode_error_reply(static_cast<Op>(0), 7, EPROTO);
  ASSERT_TRUE(decode_reply(z.data(), z.size).ok());
  Reply ok0;
  ok0.op = static_cast<Op>(0);
  Encoded zz = encode_reply(ok0);
  EXPECT_FALSE(decode_reply(zz.data(), zz.size).ok());
  // Positive or absurd statuses are protocol errors.
  Encoded bad = encode_error_reply(Op::kPing, 1, 5);
  int32_t positive = 5;
  std::memcpy(bad.bytes.data() + 4, &positive, 4);
  EXPECT_FALSE(decode_reply(bad.data(), bad.size).ok());
  EXPECT_FALSE(decode_reply(nullptr, 0).ok());
}

TEST(Codec, NotifyRoundTripAndRejects) {
  Notify n;
  n.reason = CloseReason::kEviction;
  n.session = 99;
  Encoded e = encode_notify(n);
  auto d = decode_notify(e.data(), e.size);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->reason, CloseReason::kEviction);
  EXPECT_EQ(d->session, 99u);
  EXPECT_FALSE(decode_notify(e.data(), e.size - 1).ok());
  Encoded bad = e;
  bad.bytes[4] = std::byte{9};  // reason
  EXPECT_FALSE(decode_notify(bad.data(), bad.size).ok());
  bad = e;
  bad.bytes[3] = std::byte{2};  // not a notification op
  EXPECT_FALSE(decode_notify(bad.data(), bad.size).ok());
}

TEST(Codec, DirentsRoundTripAndRejects) {
  std::vector<std::byte> buf;
  append_dirent(buf, "file.1", FileType::kRegular);
  append_dirent(buf, "sub", FileType::kDirectory);
  auto d = decode_dirents(buf.data(), buf.size(), 2);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)[0].name, "file.1");
  EXPECT_EQ((*d)[1].type, FileType::kDirectory);
  EXPECT_FALSE(decode_dirents(buf.data(), buf.size(), 3).ok());
  EXPECT_FALSE(decode_dirents(buf.data(), buf.size() - 1, 2).ok());
  auto bad = buf;
  bad[0] = std::byte{7};
  EXPECT_FALSE(decode_dirents(bad.data(), bad.size(), 2).ok());
  EXPECT_FALSE(decode_dirents(buf.data(), buf.size(), kMaxReaddirEntries + 1).ok());
  EXPECT_TRUE(decode_dirents(nullptr, 0, 0).ok());
}

TEST(Codec, DirentsWithAttributes) {
  std::vector<std::byte> buf;
  Attr f;
  f.ino = 77;
  f.size = 123456789012;
  f.mode = S_IFREG | 0640;
  f.nlink = 1;
  f.atime_ns = 1;
  f.mtime_ns = 1'700'000'000'123'456'789;
  f.ctime_ns = -5;
  Attr d;
  d.ino = 78;
  d.mode = S_IFDIR | 0755;
  d.nlink = 2;
  append_dirent(buf, "file", FileType::kRegular, f);
  append_dirent(buf, "dir", FileType::kDirectory, d);
  EXPECT_EQ(buf.size(), 2 * dirent_overhead(true) + 7);
  auto got = decode_dirents(buf.data(), buf.size(), 2, true);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ((*got)[0].name, "file");
  EXPECT_EQ((*got)[0].attr, f);
  EXPECT_EQ((*got)[1].name, "dir");
  EXPECT_EQ((*got)[1].attr, d);
  // The same bytes read without attributes are not a listing.
  EXPECT_FALSE(decode_dirents(buf.data(), buf.size(), 2, false).ok());
  EXPECT_FALSE(decode_dirents(buf.data(), buf.size() - 1, 2, true).ok());
  // Attributes whose type contradicts the entry's.
  std::vector<std::byte> bad;
  append_dirent(bad, "x", FileType::kRegular, d);
  EXPECT_FALSE(decode_dirents(bad.data(), bad.size(), 1, true).ok());
  bad.clear();
  Attr none;
  append_dirent(bad, "y", FileType::kRegular, none);
  EXPECT_FALSE(decode_dirents(bad.data(), bad.size(), 1, true).ok());
}

// Found by fuzz_wire_reply (tests/fuzz/regressions): names no server can
// store reached the caller's readdir callback.
TEST(Codec, DirentNamesNoServerCouldStoreAreRejected) {
  for (const std::string& name : {std::string("a/b"), std::string("/"), std::string("."), std::string(".."),
                                  std::string("a") + '\0' + "b"}) {
    std::vector<std::byte> buf;
    append_dirent(buf, "ok", FileType::kRegular);
    append_dirent(buf, name, FileType::kRegular);
    auto d = decode_dirents(buf.data(), buf.size(), 2);
    ASSERT_FALSE(d.ok()) << "accepted a name of " << name.size() << " bytes";
    EXPECT_EQ(d.status().err(), EPROTO);
  }
  std::vector<std::byte> buf;
  append_dirent(buf, "...", FileType::kRegular);
  append_dirent(buf, ".hidden", FileType::kDirectory);
  EXPECT_TRUE(decode_dirents(buf.data(), buf.size(), 2).ok());
}

TEST(Codec, RandomBytesNeverCrash) {
  std::mt19937_64 rng(1234);
  std::vector<unsigned char> hdr(200), data(300);
  size_t accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    size_t hl = rng() % hdr.size();
    size_t dl = rng() % data.size();
    for (auto& b : hdr) b = static_cast<unsigned char>(rng());
    // Half the time start from a valid header so deeper checks run.
    if (i % 2 == 0) {
      hdr[0] = 0x5a;
      hdr[1] = 0xbf;
      hdr[2] = kVersion;
      hdr[3] = static_cast<unsigned char>(1 + rng() % 16);
      if (hl >= 8) std::memset(hdr.data() + 4, 0, 4);
    }
    if (i % 10 == 0) {  // a SHUTDOWN with random ids: valid
      hl = kRequestHeaderSize;
      hdr[3] = static_cast<unsigned char>(Op::kShutdown);
      dl = 0;
    }
    for (auto& b : data) b = static_cast<unsigned char>(rng());
    auto d = decode_request(hdr.data(), hl, AmData{data.data(), dl, (rng() & 7) == 0});
    if (d.ok()) {
      ++accepted;
      ASSERT_LE(d->path.size(), kMaxPath);
    }
    (void)decode_reply(hdr.data(), hl);
    (void)decode_notify(hdr.data(), hl);
    (void)decode_dirents(data.data(), dl, rng() % 8);
  }
  // Some random messages are valid (e.g. SHUTDOWN with any ids), most are not.
  EXPECT_GT(accepted, 0u);
  EXPECT_LT(accepted, 100000u);
}
