// libFuzzer target: the server's request dispatch fed raw bytes in-process.
// Each input is a sequence of requests (header bytes + AM data, eager or
// rendezvous) decoded as a progress thread decodes them and handed to the
// real handlers (server/src/handlers.cpp, fs_handlers.cpp) running against a
// real MetadataStore and ChunkStore, through a RequestHost that replies and
// "receives" rendezvous data in memory instead of over UCX.
//
// Properties, besides no crash / leak / undefined behaviour:
//  - every request is answered exactly once, with a reply header the client
//    decodes, carrying the op and request id asked; READ_CHUNK / PING data
//    match the reply's length, READDIR data decode as its entry count says;
//  - a rendezvous receive never asks for more bytes than the sender sent;
//  - a write the server acknowledged reads back byte for byte at once;
//  - the chunk store never holds more than its memory limit, and removing
//    every file's chunks at the end leaves it empty.
//
// Input: [config u8][record]...; record: [header_len u8][mode u8]
// [data_len u16 LE][header][data]. config: servers = 1 + (c & 3), this
// server's node = (c >> 2) % servers. mode bit 0: the data comes by
// rendezvous; bit 1: that receive fails (the client went away mid-transfer).

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

#include "benchfs/protocol/codec.hpp"
#include "benchfs/storage/chunk_store.hpp"
#include "benchfs/storage/metadata_store.hpp"
#include "fuzz_common.hpp"
#include "handlers.hpp"
#include "request_host.hpp"

using namespace benchfs;
using namespace benchfs::server;

namespace {

constexpr uint64_t kChunkSize = 4096;
constexpr uint64_t kMemoryLimit = 16 * kChunkSize;
constexpr uint8_t kModeRndv = 1u << 0;
constexpr uint8_t kModeReceiveFails = 1u << 1;

// What the fuzz input sent by rendezvous (the "descriptor" UCX would give).
struct Payload {
  const std::byte* bytes = nullptr;
  size_t size = 0;
  bool fail = false;
};

struct Answer {
  wire::Reply reply;
  std::vector<std::byte> data;
};

class FuzzHost final : public RequestHost {
 public:
  FuzzHost(storage::MetadataStore& meta, storage::ChunkStore& chunks, ServerFacts facts)
      : RequestHost(meta, chunks, facts) {
    ctx_.host = this;
  }

  // Runs one decoded request through the handlers; returns the one answer.
  Answer run(const wire::Request& req, const RequestData& data) {
    answers_.clear();
    ctx_.op = req.op;
    ctx_.request_id = req.request_id;
    const ucs_status_t st = handle_host_request(*this, &ctx_, req, data);
    BENCHFS_FUZZ_CHECK(st == UCS_OK || st == UCS_INPROGRESS, "handler returned an unexpected status");
    BENCHFS_FUZZ_CHECK(answers_.size() == 1, "request not answered exactly once");
    BENCHFS_FUZZ_CHECK(ctx_.write.data() == nullptr, "write lease still held after the reply");
    recycle();
    return std::move(answers_.front());
  }

  bool reply(OpCtx* ctx, wire::Reply& r, const void* data, size_t len) override {
    BENCHFS_FUZZ_CHECK(ctx == &ctx_, "reply for a context not handed out");
    r.op = ctx->op;
    r.request_id = ctx->request_id;
    const wire::Encoded hdr = wire::encode_reply(r);
    auto back = wire::decode_reply(hdr.data(), hdr.size);
    BENCHFS_FUZZ_CHECK(back.ok(), "the client cannot decode the server's reply");
    BENCHFS_FUZZ_CHECK(back->op == ctx->op && back->request_id == ctx->request_id, "reply op / id");
    BENCHFS_FUZZ_CHECK(back->status == r.status, "reply status changed on the wire");
    Answer a;
    a.reply = *back;
    const auto* p = static_cast<const std::byte*>(data);
    if (len != 0) a.data.assign(p, p + len);
    answers_.push_back(std::move(a));
    return false;  // "sent" at once; the caller must not touch ctx again
  }

  void reply_error(OpCtx* ctx, int err) override {
    BENCHFS_FUZZ_CHECK(err != 0, "error reply without an error");
    wire::Reply r;
    r.status = -std::abs(err);
    reply(ctx, r, nullptr, 0);
  }

  void receive(OpCtx* ctx, void* desc, void* dst, size_t len,
               void (*done)(OpCtx* ctx, ucs_status_t status, size_t length)) override {
    const auto* p = static_cast<const Payload*>(desc);
    BENCHFS_FUZZ_CHECK(len <= p->size, "rendezvous receive of more bytes than were sent");
    if (p->fail) {
      done(ctx, UCS_ERR_CONNECTION_RESET, 0);
      return;
    }
    if (len != 0) std::memcpy(dst, p->bytes, len);
    done(ctx, UCS_OK, len);
  }

  bool receive_done(OpCtx* ctx, ucs_status_t status) override {
    if (status != UCS_OK) {
      reply_error(ctx, ECONNRESET);
      return false;
    }
    return true;
  }

 private:
  void recycle() {
    ctx_.write.reset();
    ctx_.read.reset();
    ctx_.buf.clear();
    ctx_.am_desc = nullptr;
    ctx_.on_received = nullptr;
  }

  OpCtx ctx_;
  std::vector<Answer> answers_;
};

void check_answer(const wire::Request& req, const Answer& a) {
  if (a.reply.status != 0) {
    BENCHFS_FUZZ_CHECK(a.data.empty(), "error reply with data");
    return;
  }
  switch (req.op) {
    case wire::Op::kReadChunk:
      BENCHFS_FUZZ_CHECK(a.reply.length == a.data.size() && a.data.size() <= req.length, "read reply length");
      break;
    case wire::Op::kPing:
      BENCHFS_FUZZ_CHECK(a.reply.length == req.length && a.data.size() == req.length, "ping echo length");
      break;
    case wire::Op::kReaddir:
      BENCHFS_FUZZ_CHECK(wire::decode_dirents(a.data.data(), a.data.size(), a.reply.count,
                                              (req.flags & wire::kFlagReaddirAttrs) != 0)
                             .ok(),
                         "READDIR entries the client cannot decode");
      BENCHFS_FUZZ_CHECK(a.data.size() <= wire::kMaxReaddirBytes, "READDIR reply over the client's buffer");
      break;
    default:
      BENCHFS_FUZZ_CHECK(a.data.empty(), "data on a reply that carries none");
      break;
  }
}

// An acknowledged write reads back at once, byte for byte.
void check_read_back(FuzzHost& host, const wire::Request& w, const std::byte* bytes) {
  wire::Request r;
  r.op = wire::Op::kReadChunk;
  r.request_id = w.request_id + 1;
  r.ino = w.ino;
  r.index = w.index;
  r.offset = w.offset;
  r.length = w.length;
  const Answer a = host.run(r, RequestData{});
  BENCHFS_FUZZ_CHECK(a.reply.status == 0, "an acknowledged write does not read back");
  BENCHFS_FUZZ_CHECK(a.data.size() == w.length, "an acknowledged write reads back short");
  BENCHFS_FUZZ_CHECK(std::memcmp(a.data.data(), bytes, w.length) == 0,
                     "an acknowledged write reads back wrong");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* in, size_t n) {
  if (n < 1) return 0;
  const uint32_t servers = 1 + (in[0] & 3u);
  const uint32_t node = static_cast<uint32_t>(in[0] >> 2) % servers;
  storage::MetadataStore meta(node, servers);
  storage::PoolOptions pool;  // no reserve: a refill thread per input would only slow the fuzzer
  pool.retain = kMemoryLimit;
  pool.huge_pages = false;
  storage::ChunkStore chunks(kChunkSize, kMemoryLimit, std::move(pool));
  FuzzHost host(meta, chunks, ServerFacts{node, servers, kChunkSize, kMemoryLimit});
  std::set<uint64_t> inodes;
  static const bool trace = std::getenv("BENCHFS_FUZZ_TRACE") != nullptr;  // op -> status, per request

  size_t pos = 1;
  while (n - pos >= 4) {
    const size_t header_len = in[pos];
    const uint8_t mode = in[pos + 1];
    const size_t data_len = static_cast<size_t>(in[pos + 2]) | (static_cast<size_t>(in[pos + 3]) << 8);
    pos += 4;
    if (n - pos < header_len + data_len) break;
    // Own allocations, so that ASan sees any read past the bytes sent.
    const auto header = fuzz::exact_copy(in + pos, header_len);
    const auto data = fuzz::exact_copy(in + pos + header_len, data_len);
    pos += header_len + data_len;

    const bool rndv = (mode & kModeRndv) != 0;
    void* data_ptr = data_len == 0 ? nullptr : const_cast<std::byte*>(data.data());
    auto req = wire::decode_request(header.data(), header.size(),
                                    wire::AmData{rndv ? nullptr : data_ptr, data_len, rndv});
    if (!req) continue;  // answered with an error reply by the progress thread; handlers never see it
    if (req->ino != 0) inodes.insert(req->ino);

    Payload payload{data.data(), data.size(), (mode & kModeReceiveFails) != 0};
    RequestData rd;
    rd.data = rndv ? static_cast<void*>(&payload) : data_ptr;
    rd.len = data_len;
    rd.rndv = rndv;
    const Answer a = host.run(*req, rd);
    if (trace)
      std::fprintf(stderr, "%.*s ino %lu index %lu -> %d\n", static_cast<int>(wire::op_name(req->op).size()),
                   wire::op_name(req->op).data(), static_cast<unsigned long>(req->ino),
                   static_cast<unsigned long>(req->index), a.reply.status);
    check_answer(*req, a);
    if (a.reply.status == 0 && a.reply.attr.ino != 0) inodes.insert(a.reply.attr.ino);
    if (req->op == wire::Op::kWriteChunk && a.reply.status == 0) {
      BENCHFS_FUZZ_CHECK(!(rndv && payload.fail), "a failed receive was acknowledged");
      BENCHFS_FUZZ_CHECK(a.reply.length == req->length, "write acknowledged with another length");
      check_read_back(host, *req, data.data());
    }
    BENCHFS_FUZZ_CHECK(chunks.bytes_used() <= kMemoryLimit, "chunk store past its memory limit");
  }

  for (uint64_t ino : inodes) (void)chunks.remove(ino, 0);
  BENCHFS_FUZZ_CHECK(chunks.bytes_used() == 0, "bytes still counted after every file's chunks were removed");
  return 0;
}
