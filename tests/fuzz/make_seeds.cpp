// Writes the seed corpora of the fuzz targets: valid messages of every op
// (requests, replies, error replies, notifications, READDIR entries) and
// typical registry files, framed as fuzz_common.hpp describes.
//   fuzz_make_seeds <dir>   writes <dir>/<target>/<name> (tests/fuzz/corpus)

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "benchfs/protocol/codec.hpp"
#include "benchfs/registry/server_list.hpp"
#include "fuzz_common.hpp"
#include "wire_requests.hpp"

using namespace benchfs;
using namespace benchfs::wire;
using benchfs::wire_test::chunk_op;
using benchfs::wire_test::path_op;
namespace fs = std::filesystem;

namespace {

class Corpus {
 public:
  Corpus(const fs::path& root, std::string_view target) : dir_(root / target) {
    fs::create_directories(dir_);
  }
  void add(const std::string& name, const std::vector<uint8_t>& bytes) {
    std::ofstream out(dir_ / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + (dir_ / name).string());
  }
  void add_text(const std::string& name, std::string_view text) {
    add(name, std::vector<uint8_t>(text.begin(), text.end()));
  }

 private:
  fs::path dir_;
};

void append(std::vector<uint8_t>& v, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  v.insert(v.end(), b, b + n);
}

// The AM data a client sends with r: its variable fields, or else `payload`.
std::vector<std::byte> am_data(const Request& r, std::string_view payload) {
  std::vector<std::byte> data(request_var_size(r));
  if (!data.empty()) {
    encode_request_var(r, data.data());
  } else {
    const auto* p = reinterpret_cast<const std::byte*>(payload.data());
    data.assign(p, p + payload.size());
  }
  return data;
}

// [header_len][mode][header][data]
std::vector<uint8_t> frame_request(const Request& r, std::string_view payload, uint8_t mode = 0) {
  const Encoded hdr = encode_request_header(r);
  std::vector<uint8_t> out{static_cast<uint8_t>(hdr.size), mode};
  append(out, hdr.data(), hdr.size);
  if (request_var_size(r) == 0 && (mode & fuzz::kModeRndv) != 0) {
    uint64_t n = r.length;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  } else {
    const std::vector<std::byte> data = am_data(r, payload);
    append(out, data.data(), data.size());
  }
  return out;
}

std::vector<uint8_t> frame(uint8_t kind, const void* p, size_t n) {
  std::vector<uint8_t> out{kind};
  append(out, p, n);
  return out;
}

Request base(Op op) {
  Request r;
  r.op = op;
  r.request_id = 42;
  r.session = 0x5eed5eed5eed5eedull;
  return r;
}

Attr sample_attr(uint64_t ino) {
  Attr a;
  a.ino = ino;
  a.size = 12345;
  a.mode = 0100644;
  a.nlink = 1;
  a.atime_ns = 1'700'000'000'000'000'000;
  a.mtime_ns = a.atime_ns + 1;
  a.ctime_ns = a.atime_ns + 2;
  return a;
}

void request_seeds(const fs::path& root) {
  Corpus c(root, "fuzz_wire_request");
  std::string op_label;
  for (uint8_t v = 1; is_request_op(v); ++v) {
    const auto op = static_cast<Op>(v);
    Request r = base(op);
    std::string payload;
    switch (op) {
      case Op::kRegisterClient:
        r.secret = 0x0123456789abcdefull;
        r.client_id = "node7:4242:0";
        break;
      case Op::kPing:
        payload = "ping!";
        r.length = payload.size();
        break;
      case Op::kCreate:
        r = path_op(base(op), "/dir/file", 0644, 0101);
        break;
      case Op::kOpen:
        r = path_op(base(op), "/dir/file", 0, 02);
        break;
      case Op::kMkdir:
        r = path_op(base(op), "/dir", 0755);
        break;
      case Op::kReaddir:
        r.cookie = 7;
        r.max_entries = kMaxReaddirEntries;
        r.path = "/dir";
        break;
      case Op::kRename:
        r = path_op(base(op), "/dir/a");
        r.path2 = "/other/b";
        break;
      case Op::kTruncate:
        r = path_op(base(op), "/dir/file");
        r.length = 1 << 20;
        break;
      case Op::kSetSize:
        r = path_op(base(op), "/dir/file");
        r.ino = 9;
        r.length = 4096;
        break;
      case Op::kWriteChunk:
        payload = "0123456789abcdef";
        r = chunk_op(base(op), 9, 3, 100, payload.size());
        break;
      case Op::kReadChunk:
        r = chunk_op(base(op), 9, 3, 100, 4096);
        break;
      case Op::kRemoveChunks:
        r = chunk_op(base(op), 9, 0, 0, 8192);
        break;
      case Op::kSetAttr:
        r.flags = kFlagSetMode | kFlagSetAtime | kFlagSetMtime;
        r.attr.mode = 0600;
        r.attr.atime_ns = kTimeNow;
        r.attr.mtime_ns = 1'700'000'000'000'000'000;
        r.path = "/dir/file";
        break;
      default:
        r.path = "/dir/file";  // STAT, UNLINK, RMDIR; ignored by SHUTDOWN, STATFS
        break;
    }
    c.add("req_" + std::string(op_name(op)), frame_request(r, payload));
  }
  // Flags, rendezvous payloads and the edges of the limits.
  Request r = base(Op::kRmdir);
  r.path = "/dir";
  r.flags = kFlagRmdirPrepare;
  c.add("req_rmdir_prepare", frame_request(r, {}));
  r.flags = kFlagRmdirAbort;
  c.add("req_rmdir_abort", frame_request(r, {}));
  r = base(Op::kRename);
  r.path = "/a";
  r.path2 = "/b/c";
  r.flags = kFlagRenameDetach;
  c.add("req_rename_detach", frame_request(r, {}));
  r.flags = kFlagRenameAttach;
  r.attr = sample_attr(77);
  c.add("req_rename_attach", frame_request(r, {}));
  r = base(Op::kWriteChunk);
  r.ino = 1;
  r.offset = 0;
  r.length = 1 << 20;
  c.add("req_write_chunk_rndv", frame_request(r, {}, fuzz::kModeRndv));
  r.offset = kMaxChunkIo - 1;
  r.length = 1;
  c.add("req_write_chunk_last_byte", frame_request(r, "x"));
  r = base(Op::kPing);
  r.length = 0;
  c.add("req_ping_empty", frame_request(r, {}, fuzz::kModeNonNullEmpty));
  r = base(Op::kStat);
  const std::string deep = "/" + std::string(255, 'n') + "/x";
  r.path = deep;
  c.add("req_stat_long_component", frame_request(r, {}));
}

// fuzz_dispatch: [config][records], record = [header_len][mode][data_len u16][header][data].
class Story {
 public:
  explicit Story(uint8_t config) : bytes_{config} {}
  Story& add(Request r, std::string_view payload = {}, uint8_t mode = 0) {
    r.request_id = ++next_id_;
    const Encoded hdr = encode_request_header(r);
    const std::vector<std::byte> data = am_data(r, payload);
    bytes_.push_back(static_cast<uint8_t>(hdr.size));
    bytes_.push_back(mode);
    bytes_.push_back(static_cast<uint8_t>(data.size()));
    bytes_.push_back(static_cast<uint8_t>(data.size() >> 8));
    append(bytes_, hdr.data(), hdr.size);
    append(bytes_, data.data(), data.size());
    return *this;
  }
  [[nodiscard]] const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
  uint64_t next_id_ = 0;
};

void dispatch_seeds(const fs::path& root) {
  Corpus c(root, "fuzz_dispatch");
  const std::string block(4096, 'b');
  const std::string small = "0123456789abcdef";
  Request ping = base(Op::kPing);
  ping.length = small.size();
  Request rename = path_op(base(Op::kRename), "/d/f");
  rename.path2 = "/d/g";
  Request readdir = path_op(base(Op::kReaddir), "/d");
  readdir.max_entries = 16;
  Request readdir_attrs = readdir;
  readdir_attrs.flags = kFlagReaddirAttrs;
  Request chmod = path_op(base(Op::kSetAttr), "/d/f");
  chmod.flags = kFlagSetMode | kFlagSetMtime;
  chmod.attr.mode = 0600;
  chmod.attr.mtime_ns = kTimeNow;
  Request set_size = path_op(base(Op::kSetSize), "/d/f");
  set_size.ino = 3;  // what node 0 gives /d/f after the root and /d
  set_size.length = 5000;
  Request truncate = path_op(base(Op::kTruncate), "/d/g");
  truncate.length = 100;
  Request keep = chunk_op(base(Op::kRemoveChunks), 1, 0, 0, 100);
  Request rmdir_prepare = path_op(base(Op::kRmdir), "/d");
  rmdir_prepare.flags = kFlagRmdirPrepare;
  Request rmdir_abort = rmdir_prepare;
  rmdir_abort.flags = kFlagRmdirAbort;
  // One file's life on a single server, every op once.
  Story life(0);
  life.add(path_op(base(Op::kMkdir), "/d", 0755))
      .add(path_op(base(Op::kCreate), "/d/f", 0644, 0101))
      .add(path_op(base(Op::kOpen), "/d/f", 0, 02))
      .add(chunk_op(base(Op::kWriteChunk), 1, 0, 10, small.size()), small)
      .add(chunk_op(base(Op::kWriteChunk), 1, 1, 0, block.size()), block, 1)
      .add(chunk_op(base(Op::kReadChunk), 1, 0, 0, 4096))
      .add(set_size)
      .add(path_op(base(Op::kStat), "/d/f"))
      .add(readdir)
      .add(chmod)
      .add(readdir_attrs)
      .add(rename)
      .add(truncate)
      .add(keep)
      .add(base(Op::kStatfs))
      .add(ping, small)
      .add(ping, small, 1)
      .add(rmdir_prepare)
      .add(path_op(base(Op::kUnlink), "/d/g"))
      .add(rmdir_prepare)
      .add(rmdir_abort)
      .add(path_op(base(Op::kRmdir), "/d"));
  c.add("story_file_life", life.bytes());
  // Four servers, this one node 1: chunks of other holders are refused.
  Story spread(1 << 2 | 3);
  for (uint64_t index = 0; index < 8; ++index)
    spread.add(chunk_op(base(Op::kWriteChunk), 7, index, 0, small.size()), small);
  spread.add(chunk_op(base(Op::kReadChunk), 7, 2, 0, 64)).add(chunk_op(base(Op::kRemoveChunks), 7, 0, 0, 0));
  c.add("story_four_servers", spread.bytes());
  // Past the memory limit (16 chunks): ENOSPC, then room again after removal.
  Story full(0);
  for (uint64_t index = 0; index < 18; ++index)
    full.add(chunk_op(base(Op::kWriteChunk), 3, index, 0, block.size()), block, index % 2);
  full.add(chunk_op(base(Op::kRemoveChunks), 3, 0, 0, 0))
      .add(chunk_op(base(Op::kWriteChunk), 3, 0, 0, 16), small);
  c.add("story_memory_limit", full.bytes());
  // A client gone in the middle of rendezvous writes and a ping.
  Story gone(0);
  gone.add(chunk_op(base(Op::kWriteChunk), 5, 0, 0, block.size()), block, 3)
      .add(chunk_op(base(Op::kReadChunk), 5, 0, 0, 4096))
      .add(ping, small, 3)
      .add(chunk_op(base(Op::kWriteChunk), 5, 0, 100, small.size()), small, 1)
      .add(chunk_op(base(Op::kReadChunk), 5, 0, 0, 200));
  c.add("story_receive_fails", gone.bytes());
  // Ops only a progress thread takes, answered EINVAL here.
  Request reg = base(Op::kRegisterClient);
  reg.client_id = "node7:4242:0";
  Story other(0);
  other.add(reg).add(base(Op::kShutdown));
  c.add("story_register_shutdown", other.bytes());
}

void reply_seeds(const fs::path& root) {
  Corpus c(root, "fuzz_wire_reply");
  for (uint8_t v = 1; is_request_op(v); ++v) {
    Reply r;
    r.op = static_cast<Op>(v);
    r.request_id = 42;
    r.session = 0x5eed5eed5eed5eedull;
    r.thread = 1;
    r.node = 2;
    r.length = 4096;
    r.count = r.op == Op::kReaddir ? 2 : 5;
    r.cookie = 3;
    r.eof = 1;
    r.attr = sample_attr(9);
    r.attr2 = r.op == Op::kRename ? sample_attr(10) : Attr{};
    r.capacity = 1ull << 34;
    r.used = 1ull << 20;
    r.files = 12;
    const Encoded e = encode_reply(r);
    c.add("reply_" + std::string(op_name(r.op)), frame(fuzz::kKindReply, e.data(), e.size));
  }
  Encoded e = encode_error_reply(Op::kOpen, 42, ENOENT);
  c.add("reply_error_enoent", frame(fuzz::kKindReply, e.data(), e.size));
  e = encode_error_reply(static_cast<Op>(0), 0, EPROTO);
  c.add("reply_error_op0", frame(fuzz::kKindReply, e.data(), e.size));
  for (uint32_t reason = 1; reason <= 4; ++reason) {
    Notify n;
    n.reason = static_cast<CloseReason>(reason);
    n.session = 0x5eed5eed5eed5eedull;
    e = encode_notify(n);
    c.add("notify_" + std::string(close_reason_name(n.reason)), frame(fuzz::kKindNotify, e.data(), e.size));
  }
  std::vector<std::byte> ents;
  append_dirent(ents, "file.txt", FileType::kRegular);
  append_dirent(ents, "sub", FileType::kDirectory);
  append_dirent(ents, std::string(255, 'z'), FileType::kRegular);
  std::vector<uint8_t> d{fuzz::kKindDirents, 3, 0};
  append(d, ents.data(), ents.size());
  c.add("dirents_three", d);
  c.add("dirents_empty", {fuzz::kKindDirents, 0, 0});
}

void registry_seeds(const fs::path& root) {
  Corpus list(root, "fuzz_server_list");
  std::string text = "# BenchFS Server List\n# Format: node_id ip:port\n";
  for (uint32_t node : {0u, 1u, 2u}) {
    registry::ServerEntry e{node, "10.0.0." + std::to_string(11 + node), static_cast<uint16_t>(45678 + node)};
    text += *registry::format_server_line(e);
  }
  list.add_text("list_ipv4", text);
  list.add_text("list_names_unordered",
                "node_1 host-b.example.org:7001\nnode_0 host_a:7000\n\nnode_10 c:1\n");
  list.add_text("list_ipv6", "node_0 [::1]:5000\r\nnode_1 [fe80::1%eth0]:5001\r\n");
  list.add_text("list_blanks", "  # comment\n\t node_3   h:65535 \t\n");
  list.add_text("list_bad_line", "node_0 h:1\nnode_01 h:2\n");

  Corpus ready(root, "fuzz_ready_file");
  ready.add_text("ready_formatted", registry::format_ready({2, 1 << 20, 0x0123456789abcdefull}));
  ready.add_text("ready_extra_keys",
                 "# BenchFS ready\r\nsecret FFFFFFFFFFFFFFFF\r\nversion 2\r\nservers 1000000\r\n"
                 "chunk_size 4096\r\n");
  ready.add_text("ready_duplicate", "servers 1\nservers 2\nchunk_size 65536\nsecret 0000000000000001\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  request_seeds(root);
  dispatch_seeds(root);
  reply_seeds(root);
  registry_seeds(root);
  return 0;
}
