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

#include "benchfs/net/codec.hpp"
#include "benchfs/registry/server_list.hpp"
#include "fuzz_common.hpp"

using namespace benchfs;
using namespace benchfs::wire;
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

// [header_len][mode][header][data]
std::vector<uint8_t> frame_request(const Request& r, std::string_view payload, uint8_t mode = 0) {
  const Encoded hdr = encode_request_header(r);
  std::vector<uint8_t> out{static_cast<uint8_t>(hdr.size), mode};
  append(out, hdr.data(), hdr.size);
  std::vector<std::byte> var(request_var_size(r));
  if (!var.empty()) {
    encode_request_var(r, var.data());
    append(out, var.data(), var.size());
  } else if ((mode & fuzz::kModeRndv) != 0) {
    uint64_t n = r.length;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  } else {
    append(out, payload.data(), payload.size());
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
        r.mode = 0644;
        r.open_flags = 0101;
        r.path = "/dir/file";
        break;
      case Op::kOpen:
        r.open_flags = 02;
        r.path = "/dir/file";
        break;
      case Op::kMkdir:
        r.mode = 0755;
        r.path = "/dir";
        break;
      case Op::kReaddir:
        r.cookie = 7;
        r.max_entries = kMaxReaddirEntries;
        r.path = "/dir";
        break;
      case Op::kRename:
        r.path = "/dir/a";
        r.path2 = "/other/b";
        break;
      case Op::kTruncate:
        r.length = 1 << 20;
        r.path = "/dir/file";
        break;
      case Op::kSetSize:
        r.ino = 9;
        r.length = 4096;
        r.path = "/dir/file";
        break;
      case Op::kWriteChunk:
        payload = "0123456789abcdef";
        r.ino = 9;
        r.index = 3;
        r.offset = 100;
        r.length = payload.size();
        break;
      case Op::kReadChunk:
        r.ino = 9;
        r.index = 3;
        r.offset = 100;
        r.length = 4096;
        break;
      case Op::kRemoveChunks:
        r.ino = 9;
        r.length = 8192;
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
  reply_seeds(root);
  registry_seeds(root);
  return 0;
}
