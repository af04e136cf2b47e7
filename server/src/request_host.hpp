#pragma once
// What the request handlers need from the thread that received a request:
// the stores, facts about this server, replying, and receiving a rendezvous
// payload. ProgressThread is the real host (UCX sends and receives);
// tests/fuzz/fuzz_dispatch.cpp runs the same handlers through a host of its
// own, in-process and without UCX.

#include <ucp/api/ucp.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "benchfs/protocol/codec.hpp"
#include "benchfs/storage/chunk_store.hpp"
#include "benchfs/storage/metadata_store.hpp"
#include "stats.hpp"

namespace benchfs::server {

class RequestHost;

/// State of one request from arrival to reply completion. Pooled per host.
struct OpCtx {
  RequestHost* host = nullptr;
  uint64_t conn_id = 0;
  ucp_ep_h ep = nullptr;
  wire::Op op{};
  uint64_t request_id = 0;
  uint64_t t0_ticks = 0;       ///< arrival, in ticks(); 0 = not timed
  wire::Encoded reply_hdr;     ///< must live until the reply send completes
  std::vector<std::byte> buf;  ///< payload received by rendezvous / copied eager data
  void* am_desc = nullptr;     ///< held eager AM data, released after the reply
  storage::WriteLease write;   ///< WRITE_CHUNK: the chunk range a rendezvous lands in
  storage::ReadLease read;     ///< READ_CHUNK: the chunk bytes the reply is sent from
  /// Set by RequestHost::receive: called once the payload has landed (or not).
  void (*on_received)(OpCtx* ctx, ucs_status_t status, size_t length) = nullptr;
};

/// The AM data as received: eager bytes, or a rendezvous descriptor.
struct RequestData {
  void* data = nullptr;
  size_t len = 0;
  bool rndv = false;
  uint64_t recv_attr = 0;
};

/// Facts about this server the handlers answer with or check against.
struct ServerFacts {
  uint32_t node = 0;
  uint32_t servers = 1;
  uint64_t chunk_size = 0;
  uint64_t capacity = 0;  ///< STATFS: the memory limit, or the machine's memory
};

class RequestHost {
 public:
  RequestHost(storage::MetadataStore& meta, storage::ChunkStore& chunks, ServerFacts facts)
      : meta_(meta), chunks_(chunks), facts_(facts) {}
  virtual ~RequestHost() = default;
  RequestHost(const RequestHost&) = delete;
  RequestHost& operator=(const RequestHost&) = delete;

  storage::MetadataStore& meta() { return meta_; }
  storage::ChunkStore& chunks() { return chunks_; }
  [[nodiscard]] const ServerFacts& facts() const { return facts_; }
  ThreadStats& mutable_stats() { return stats_; }

  /// Encodes `r` (op and request id taken from ctx) and sends it with
  /// optional data; ctx is recycled once the send is done. True while the
  /// send is in flight (ctx stays alive and `data` must stay valid until
  /// then); false once ctx has been recycled.
  virtual bool reply(OpCtx* ctx, wire::Reply& r, const void* data = nullptr, size_t len = 0) = 0;
  virtual void reply_error(OpCtx* ctx, int err) = 0;
  /// Receives the rendezvous payload `desc` into dst[0, len); `done` runs
  /// exactly once, possibly before this returns.
  virtual void receive(OpCtx* ctx, void* desc, void* dst, size_t len,
                       void (*done)(OpCtx* ctx, ucs_status_t status, size_t length)) = 0;
  /// The end of a rendezvous receive for ctx: recycles ctx if its client is
  /// gone, answers the error if the receive failed. True when neither
  /// happened and the caller should send its reply.
  virtual bool receive_done(OpCtx* ctx, ucs_status_t status) = 0;

 protected:
  ThreadStats stats_;

 private:
  storage::MetadataStore& meta_;
  storage::ChunkStore& chunks_;
  const ServerFacts facts_;
};

}  // namespace benchfs::server
