// File-system handlers (DESIGN.md section 6): metadata ops against the
// MetadataStore, chunk I/O against the ChunkStore. Payloads never take an
// extra copy on the rendezvous path: a write is received straight into the
// chunk buffer, a read is answered from it, each under a lease that keeps
// the buffer in place until UCX is done with it.

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstring>

#include "benchfs/protocol/placement.hpp"
#include "handlers.hpp"

namespace benchfs::server {

namespace {

using storage::ChunkKey;
using storage::Inode;

wire::Attr to_attr(const Inode& in) {
  wire::Attr a;
  a.ino = in.ino;
  a.size = in.size;
  a.mode = in.mode;
  a.nlink = S_ISDIR(in.mode) ? 2 : 1;
  a.atime_ns = in.atime_ns;
  a.mtime_ns = in.mtime_ns;
  a.ctime_ns = in.ctime_ns;
  return a;
}

Inode from_attr(const wire::Attr& a) {
  return Inode{.ino = a.ino,
               .mode = a.mode,
               .size = a.size,
               .atime_ns = a.atime_ns,
               .mtime_ns = a.mtime_ns,
               .ctime_ns = a.ctime_ns};
}

void reply_attr(RequestHost& t, OpCtx* ctx, const Result<Inode>& r) {
  if (!r) {
    t.reply_error(ctx, r.status().err());
    return;
  }
  wire::Reply rep;
  rep.attr = to_attr(*r);
  t.reply(ctx, rep);
}

void reply_status(RequestHost& t, OpCtx* ctx, const Status& st) {
  if (!st) {
    t.reply_error(ctx, st.err());
    return;
  }
  wire::Reply rep;
  t.reply(ctx, rep);
}

// ---- metadata ----

void handle_create(RequestHost& t, OpCtx* ctx, const wire::Request& req) {
  storage::MetadataStore& meta = t.meta();
  auto r = meta.create(req.path, req.mode & 07777, (req.open_flags & O_EXCL) != 0);
  if (!r) {
    t.reply_error(ctx, r.status().err());
    return;
  }
  Inode in = r->inode;
  // O_TRUNC on an existing file: the size drops here; the client frees the
  // chunks on their holders.
  if (!r->created && (req.open_flags & O_TRUNC) != 0 && in.size != 0) {
    auto tr = meta.truncate(req.path, 0);
    if (!tr) {
      t.reply_error(ctx, tr.status().err());
      return;
    }
    in = *tr;
  }
  wire::Reply rep;
  rep.attr = to_attr(in);
  t.reply(ctx, rep);
}

void handle_open(RequestHost& t, OpCtx* ctx, const wire::Request& req) {
  storage::MetadataStore& meta = t.meta();
  auto r = meta.lookup(req.path);
  if (!r) {
    t.reply_error(ctx, r.status().err());
    return;
  }
  if (r->is_dir() && (req.open_flags & O_ACCMODE) != O_RDONLY) {
    t.reply_error(ctx, EISDIR);
    return;
  }
  if (!r->is_dir() && (req.open_flags & O_TRUNC) != 0 && (req.open_flags & O_ACCMODE) != O_RDONLY &&
      r->size != 0) {
    reply_attr(t, ctx, meta.truncate(req.path, 0));
    return;
  }
  reply_attr(t, ctx, r);
}

void handle_readdir(RequestHost& t, OpCtx* ctx, const wire::Request& req) {
  const bool attrs = (req.flags & wire::kFlagReaddirAttrs) != 0;
  auto page = t.meta().readdir(req.path, req.cookie, req.max_entries, wire::kMaxReaddirBytes,
                               wire::dirent_overhead(attrs), attrs);
  if (!page) {
    t.reply_error(ctx, page.status().err());
    return;
  }
  ctx->buf.clear();
  for (const auto& e : page->entries) {
    const auto type = e.is_dir ? wire::FileType::kDirectory : wire::FileType::kRegular;
    if (attrs)
      wire::append_dirent(ctx->buf, e.name, type, to_attr(e.inode));
    else
      wire::append_dirent(ctx->buf, e.name, type);
  }
  wire::Reply rep;
  rep.cookie = page->next_cookie;
  rep.count = page->entries.size();
  rep.eof = page->eof ? 1 : 0;
  t.reply(ctx, rep, ctx->buf.data(), ctx->buf.size());
}

void handle_setattr(RequestHost& t, OpCtx* ctx, const wire::Request& req) {
  storage::MetadataStore::SetAttr what;
  if ((req.flags & wire::kFlagSetMode) != 0) what.mode = req.attr.mode;
  if ((req.flags & wire::kFlagSetAtime) != 0) {
    what.atime_now = req.attr.atime_ns == wire::kTimeNow;
    what.atime_ns = req.attr.atime_ns;
  }
  if ((req.flags & wire::kFlagSetMtime) != 0) {
    what.mtime_now = req.attr.mtime_ns == wire::kTimeNow;
    what.mtime_ns = req.attr.mtime_ns;
  }
  reply_attr(t, ctx, t.meta().setattr(req.path, what));
}

void handle_rename(RequestHost& t, OpCtx* ctx, const wire::Request& req) {
  storage::MetadataStore& meta = t.meta();
  wire::Reply rep;
  if ((req.flags & wire::kFlagRenameDetach) != 0) {
    auto r = meta.detach(req.path);
    if (!r) {
      t.reply_error(ctx, r.status().err());
      return;
    }
    rep.attr = to_attr(*r);
    t.reply(ctx, rep);
    return;
  }
  Result<storage::RenameResult> r = (req.flags & wire::kFlagRenameAttach) != 0
                                        ? meta.attach(req.path2, from_attr(req.attr))
                                        : meta.rename(req.path, req.path2);
  if (!r) {
    t.reply_error(ctx, r.status().err());
    return;
  }
  rep.attr = to_attr(r->moved);
  if (r->replaced) rep.attr2 = to_attr(*r->replaced);
  t.reply(ctx, rep);
}

void handle_set_size(RequestHost& t, OpCtx* ctx, const wire::Request& req) {
  auto r = t.meta().extend_size(req.path, req.ino, req.length);
  if (!r) {
    t.reply_error(ctx, r.status().err());
    return;
  }
  wire::Reply rep;
  rep.length = r->size;
  t.reply(ctx, rep);
}

void handle_statfs(RequestHost& t, OpCtx* ctx) {
  const auto ms = t.meta().stats();
  wire::Reply rep;
  rep.capacity = t.facts().capacity;
  rep.used = t.chunks().bytes_used();
  rep.files = ms.files + ms.dirs;
  t.reply(ctx, rep);
}

// ---- chunk I/O ----

// A chunk request must come to the chunk's holder and stay inside the chunk.
Status check_chunk(const ServerFacts& s, const wire::Request& req) {
  if (placement::chunk_holder(req.ino, req.index, s.servers) != s.node)
    return Status(EINVAL, "chunk sent to the wrong server");
  if (req.offset > s.chunk_size || req.length > s.chunk_size - req.offset)
    return Status(EINVAL, "range outside the chunk");
  return Status();
}

void write_recv_done(OpCtx* ctx, ucs_status_t status, size_t length) {
  RequestHost& t = *ctx->host;
  if (status == UCS_OK && length == ctx->write.length()) ctx->write.commit();
  ctx->write.reset();
  if (!t.receive_done(ctx, status)) return;
  wire::Reply rep;
  rep.length = length;
  t.reply(ctx, rep);
}

ucs_status_t handle_write_chunk(RequestHost& t, OpCtx* ctx, const wire::Request& req, const RequestData& d) {
  t.mutable_stats().ops[static_cast<size_t>(wire::Op::kWriteChunk)].bytes_in += req.length;
  if (auto st = check_chunk(t.facts(), req); !st) {
    t.reply_error(ctx, st.err());
    return UCS_OK;
  }
  const ChunkKey key{req.ino, req.index};
  wire::Reply rep;
  rep.length = req.length;
  if (!d.rndv) {
    // Eager: UCX already holds the bytes; one copy into the chunk.
    ++t.mutable_stats().writes_eager;
    t.mutable_stats().bytes_copied += req.length;
    Status st = t.chunks().write(key, req.offset, d.data, req.length);
    if (!st) {
      t.reply_error(ctx, st.err());
    } else {
      t.reply(ctx, rep);
    }
    return UCS_OK;
  }
  auto lease = t.chunks().begin_write(key, req.offset, req.length);
  if (!lease) {
    // The data stays with the sender; UCX drops the descriptor we decline.
    t.reply_error(ctx, lease.status().err());
    return UCS_OK;
  }
  ++t.mutable_stats().writes_rndv;
  ctx->write = std::move(*lease);
  t.receive(ctx, d.data, ctx->write.data(), req.length, &write_recv_done);
  return UCS_INPROGRESS;
}

void handle_read_chunk(RequestHost& t, OpCtx* ctx, const wire::Request& req) {
  if (auto st = check_chunk(t.facts(), req); !st) {
    t.reply_error(ctx, st.err());
    return;
  }
  auto lease = t.chunks().begin_read(ChunkKey{req.ino, req.index}, req.offset, req.length);
  if (!lease) {
    t.reply_error(ctx, lease.status().err());
    return;
  }
  // The reply is sent from the chunk buffer; the lease (in ctx) keeps it in
  // place until the send completes and ctx is recycled.
  ctx->read = std::move(*lease);
  wire::Reply rep;
  rep.length = ctx->read.length();
  if (rep.length != 0) ++t.mutable_stats().reads_zero_copy;
  t.reply(ctx, rep, ctx->read.data(), ctx->read.length());
}

void handle_remove_chunks(RequestHost& t, OpCtx* ctx, const wire::Request& req) {
  const auto r = t.chunks().remove(req.ino, req.length);
  wire::Reply rep;
  rep.count = r.chunks;
  rep.length = r.bytes;
  t.reply(ctx, rep);
}

}  // namespace

ucs_status_t handle_fs_request(RequestHost& t, OpCtx* ctx, const wire::Request& req,
                               const RequestData& data) {
  storage::MetadataStore& meta = t.meta();
  switch (req.op) {
    case wire::Op::kCreate:
      handle_create(t, ctx, req);
      break;
    case wire::Op::kOpen:
      handle_open(t, ctx, req);
      break;
    case wire::Op::kStat:
      reply_attr(t, ctx, meta.lookup(req.path));
      break;
    case wire::Op::kUnlink: {
      auto r = meta.unlink(req.path);
      if (r && (req.flags & wire::kFlagUnlinkData) != 0) (void)t.chunks().remove(r->ino, 0);
      reply_attr(t, ctx, r);
      break;
    }
    case wire::Op::kMkdir:
      reply_status(t, ctx, meta.mkdir(req.path, req.mode & 07777));
      break;
    case wire::Op::kRmdir:
      if ((req.flags & wire::kFlagRmdirAbort) != 0) {
        meta.rmdir_abort(req.path);
        reply_status(t, ctx, Status());
      } else if ((req.flags & wire::kFlagRmdirPrepare) != 0) {
        reply_status(t, ctx, meta.rmdir_prepare(req.path));
      } else {
        reply_status(t, ctx, meta.rmdir(req.path));
      }
      break;
    case wire::Op::kReaddir:
      handle_readdir(t, ctx, req);
      break;
    case wire::Op::kRename:
      handle_rename(t, ctx, req);
      break;
    case wire::Op::kTruncate:
      reply_attr(t, ctx, meta.truncate(req.path, req.length));
      break;
    case wire::Op::kSetSize:
      handle_set_size(t, ctx, req);
      break;
    case wire::Op::kWriteChunk:
      return handle_write_chunk(t, ctx, req, data);
    case wire::Op::kReadChunk:
      handle_read_chunk(t, ctx, req);
      break;
    case wire::Op::kRemoveChunks:
      handle_remove_chunks(t, ctx, req);
      break;
    case wire::Op::kStatfs:
      handle_statfs(t, ctx);
      break;
    case wire::Op::kSetAttr:
      handle_setattr(t, ctx, req);
      break;
    default:
      t.reply_error(ctx, ENOSYS);
      break;
  }
  return UCS_OK;
}

}  // namespace benchfs::server
