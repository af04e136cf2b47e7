#include "benchfs/client/fs.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "benchfs/core/clock.hpp"
#include "benchfs/core/copy.hpp"
#include "benchfs/protocol/codec.hpp"
#include "benchfs/protocol/placement.hpp"
#include "stubs.hpp"

namespace benchfs::client {

namespace {

constexpr size_t kMaxFds = 1 << 20;

Status check_path(std::string_view path) { return wire::validate_path(path); }

std::string_view parent_of(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == 0 ? std::string_view("/") : path.substr(0, slash);
}

Status reply_status(const wire::Reply& r, std::string_view what) {
  if (r.status == 0) return Status();
  return Status(-r.status, std::string(what));
}

// Read bounce: on this kind of machine a cross-process copy (UCX's cma
// rendezvous, process_vm_readv) into a destination that is not at the same
// offset modulo 64 bytes as its source runs at about 1.2 GB/s, against
// 3.7-4.3 GB/s when both line up, while copy_bytes between any two buffers
// runs at 35-45 GB/s (glibc's memcpy has the kernel's trait between 4 KiB
// and 512 KiB: 256 KiB reads ran at 1,500 MiB/s through a memcpy'd bounce
// and at 5,500-6,100 through copy_bytes). A chunk's data sits at its file offset in a
// page-aligned server buffer, so a read whose buffer is not 64-byte aligned
// relative to its file offset (malloc's 16-byte-aligned heap memory, say)
// lands in a bounce buffer of the calling thread at the right alignment and
// is copied from there: 1 MiB reads went from 1,300 to 3,500 MiB/s.
// Aligned buffers (IOR's are page aligned) are read into directly.
// BENCHFS_READ_BOUNCE=off disables it.
constexpr size_t kBounceMin = 256 * 1024;   // smaller reads: eager data or short copies anyway
constexpr size_t kBounceMax = 64ULL << 20;  // larger reads go direct rather than hold more
constexpr uintptr_t kCopyAlign = 64;
constexpr uintptr_t kHugePage = 2ULL << 20;

class Bounce {
 public:
  Bounce() = default;
  ~Bounce() {
    if (base_ != nullptr) munmap(base_, cap_);
  }
  Bounce(const Bounce&) = delete;
  Bounce& operator=(const Bounce&) = delete;

  // At least n bytes of huge-page advised memory, or nullptr.
  std::byte* get(size_t n) {
    if (n <= cap_) return base_;
    const size_t cap = (n + kHugePage - 1) / kHugePage * kHugePage;
    void* p = mmap(nullptr, cap + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    // Trim to a 2 MiB-aligned range so that every 2 MiB of it can be one huge page.
    auto at = reinterpret_cast<uintptr_t>(p);
    const uintptr_t aligned = (at + kHugePage - 1) & ~(kHugePage - 1);
    if (aligned > at) munmap(p, aligned - at);
    munmap(reinterpret_cast<void*>(aligned + cap), kHugePage - (aligned - at));
    madvise(reinterpret_cast<void*>(aligned), cap, MADV_HUGEPAGE);
    if (base_ != nullptr) munmap(base_, cap_);
    base_ = reinterpret_cast<std::byte*>(aligned);
    cap_ = cap;
    return base_;
  }

 private:
  std::byte* base_ = nullptr;
  size_t cap_ = 0;
};

bool bounce_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("BENCHFS_READ_BOUNCE");
    return v == nullptr || std::string_view(v) != "off";
  }();
  return on;
}

// Where a read of n bytes at file offset `off` into buf should land: buf
// itself, or the thread's bounce buffer at off's alignment.
std::byte* read_target(std::byte* buf, size_t n, uint64_t off) {
  if (n < kBounceMin || n > kBounceMax || (reinterpret_cast<uintptr_t>(buf) - off) % kCopyAlign == 0 ||
      !bounce_enabled())
    return buf;
  thread_local Bounce bounce;
  std::byte* b = bounce.get(n + kCopyAlign);
  return b != nullptr ? b + off % kCopyAlign : buf;
}

}  // namespace

struct FileSystem::File {
  std::mutex mu;  ///< guards the fields below
  std::string path;
  uint64_t ino = 0;
  int flags = 0;
  bool is_dir = false;
  uint64_t pos = 0;
  uint64_t size = 0;      ///< size last heard from the metadata owner
  uint64_t written = 0;   ///< end of the furthest write through this descriptor
  uint64_t pushed = 0;    ///< what the owner was last told
  bool orphaned = false;  ///< removed while open here: its data goes at the last close
  wire::Attr attr;        ///< as the owner answered at open (fstat of an orphan)
  [[nodiscard]] bool readable() const { return (flags & O_ACCMODE) != O_WRONLY; }
  [[nodiscard]] bool writable() const { return (flags & O_ACCMODE) != O_RDONLY; }
};

FileSystem::FileSystem(std::unique_ptr<Client> client)
    : client_(std::move(client)), servers_(client_->server_count()), chunk_size_(client_->chunk_size()) {}

FileSystem::~FileSystem() = default;

uint32_t FileSystem::owner(std::string_view path) const { return placement::metadata_owner(path, servers_); }

Result<std::shared_ptr<FileSystem::File>> FileSystem::file(int fd) const {
  std::shared_lock lock(fds_mu_);
  if (fd < 0 || static_cast<size_t>(fd) >= fds_.size() || !fds_[static_cast<size_t>(fd)])
    return Status(EBADF, "bad BenchFS file descriptor " + std::to_string(fd));
  return fds_[static_cast<size_t>(fd)];
}

size_t FileSystem::open_files() const {
  std::shared_lock lock(fds_mu_);
  return static_cast<size_t>(
      std::count_if(fds_.begin(), fds_.end(), [](const auto& f) { return f != nullptr; }));
}

Result<wire::Reply> FileSystem::meta_call(uint32_t server, wire::Request& req, void* recv_buf,
                                          size_t recv_cap, bool idempotent) {
  auto r = client_->call(server, req, nullptr, 0, recv_buf, recv_cap, idempotent);
  if (!r) return r.status();
  if (r->status != 0) {
    std::string what = std::string(wire::op_name(req.op));
    if (!req.path.empty()) what += " " + std::string(req.path);
    return Status(-r->status, what);
  }
  return r;
}

std::vector<Call> FileSystem::on_every_server(const wire::Request& req, bool idempotent) {
  std::vector<Call> calls(servers_);
  for (uint32_t s = 0; s < servers_; ++s) {
    calls[s].server = s;
    calls[s].req = req;
    calls[s].idempotent = idempotent;
  }
  client_->call_all(calls.data(), calls.size());
  return calls;
}

Status FileSystem::remove_chunks(uint64_t ino, uint64_t keep) {
  wire::Request req = stub::remove_chunks(ino, keep);
  // At most once, as the truncate or O_TRUNC open it completes: repeated
  // after a lost reply, it would cut away what another client wrote past
  // `keep` in between.
  return removed(on_every_server(req, /*idempotent=*/false));
}

Status FileSystem::removed(const std::vector<Call>& calls) {
  for (const Call& c : calls) {
    if (!c.status) return c.status;
    if (auto st = reply_status(c.reply, "remove_chunks"); !st) return st;
  }
  return Status();
}

Status FileSystem::refine_enoent(std::string_view path, Status st) {
  if (st.err() != ENOENT) return st;
  // POSIX says ENOTDIR when a component on the way is not a directory. The
  // nearest existing ancestor decides: a directory keeps ENOENT, a file
  // makes it ENOTDIR. Only failing calls pay for this walk.
  for (std::string_view p = path; p != "/";) {
    p = parent_of(p);
    if (p == "/") break;
    wire::Request req = stub::stat(p);
    auto r = meta_call(owner(p), req);
    if (r) {
      if (!S_ISDIR(r->attr.mode)) return Status(ENOTDIR, std::string(p) + " is not a directory");
      break;
    }
    if (r.status().err() != ENOENT) break;
  }
  return st;
}

// ------------------------------------------------------------ open / close

Result<int> FileSystem::open(std::string_view path, int flags, uint32_t mode) {
  if (auto st = check_path(path); !st) return st;
  if ((flags & O_ACCMODE) == O_ACCMODE) return Status(EINVAL, "bad access mode in open flags");
  const bool writable = (flags & O_ACCMODE) != O_RDONLY;
  wire::Request req = stub::open(path, flags, mode);
  // CREATE with O_EXCL is not idempotent (a plain retry would see its own
  // file): it goes at most once.
  auto r = meta_call(owner(path), req, nullptr, 0, (flags & O_EXCL) == 0);
  if (!r) return refine_enoent(path, r.status());
  const bool is_dir = S_ISDIR(r->attr.mode);
  if (is_dir && writable) return Status(EISDIR, std::string(path) + " is a directory");
  if ((flags & O_TRUNC) != 0 && writable && !is_dir) {
    // The owner dropped the size; the chunk holders drop the data.
    if (auto st = remove_chunks(r->attr.ino, 0); !st) return st;
  }
  auto f = std::make_shared<File>();
  f->path = std::string(path);
  f->ino = r->attr.ino;
  f->flags = flags;
  f->is_dir = is_dir;
  f->size = r->attr.size;
  f->pushed = r->attr.size;
  f->attr = r->attr;
  std::unique_lock lock(fds_mu_);
  int fd;
  if (!free_fds_.empty()) {
    fd = free_fds_.back();
    free_fds_.pop_back();
    fds_[static_cast<size_t>(fd)] = std::move(f);
  } else {
    if (fds_.size() >= kMaxFds) return Status(EMFILE, "too many open BenchFS files");
    fd = static_cast<int>(fds_.size());
    fds_.push_back(std::move(f));
  }
  return fd;
}

Status FileSystem::close(int fd) {
  std::shared_ptr<File> f;
  {
    std::unique_lock lock(fds_mu_);
    if (fd < 0 || static_cast<size_t>(fd) >= fds_.size() || !fds_[static_cast<size_t>(fd)])
      return Status(EBADF, "bad BenchFS file descriptor " + std::to_string(fd));
    f = std::move(fds_[static_cast<size_t>(fd)]);
    free_fds_.push_back(fd);
  }
  std::unique_lock lock(f->mu);
  if (f->orphaned) {
    const uint64_t ino = f->ino;
    lock.unlock();
    return release_data(ino);  // frees it unless another descriptor still has it open
  }
  Status st = push_size(*f);
  // A file removed while open closes fine, as in POSIX.
  if (st.err() == ENOENT) return Status();
  return st;
}

Status FileSystem::release_data(uint64_t ino) {
  {
    // As in POSIX, a file removed while open here keeps its data until its
    // last descriptor in this process closes (reads and writes through the
    // descriptors still work meanwhile).
    std::shared_lock lock(fds_mu_);
    bool open_here = false;
    for (const auto& f : fds_) {
      if (f && f->ino == ino) {
        std::lock_guard fl(f->mu);
        f->orphaned = true;
        open_here = true;
      }
    }
    if (open_here) return Status();
  }
  return remove_chunks(ino, 0);
}

Status FileSystem::push_size(File& f) {
  if (f.is_dir || f.orphaned || f.written <= f.pushed) return Status();
  wire::Request req = stub::set_size(f.path, f.ino, f.written);
  auto r = meta_call(owner(f.path), req);
  if (!r) return r.status();
  f.pushed = f.written;
  f.size = std::max(f.size, r->length);
  return Status();
}

Status FileSystem::fsync(int fd) {
  auto fr = file(fd);
  if (!fr) return fr.status();
  auto f = std::move(*fr);
  std::lock_guard lock(f->mu);
  return push_size(*f);
}

Result<uint64_t> FileSystem::file_size(File& f, bool refresh) {
  if (refresh) {
    wire::Request req = stub::stat(f.path);
    auto r = meta_call(owner(f.path), req);
    if (!r) return r.status();
    if (r->attr.ino != f.ino) return Status(ENOENT, f.path + " was replaced by another file");
    f.size = r->attr.size;
  }
  return std::max(f.size, f.written);
}

// --------------------------------------------------------------- data I/O

Status FileSystem::chunk_io(uint64_t ino, bool write, std::byte* buf, size_t len, uint64_t offset) {
  const uint64_t cs = chunk_size_;
  const uint64_t first = offset / cs;
  const uint64_t last = (offset + len - 1) / cs;
  const wire::Op op = write ? wire::Op::kWriteChunk : wire::Op::kReadChunk;
  auto fill = [&](Call& c, uint64_t k) {
    const uint64_t lo = std::max(offset, k * cs);
    const uint64_t hi = std::min(offset + len, (k + 1) * cs);
    c = Call{};
    c.server = placement::chunk_holder(ino, k, servers_);
    c.req = stub::chunk(op, ino, k, lo - k * cs, hi - lo);
    std::byte* at = buf + (lo - offset);
    if (write) {
      c.send_data = at;
      c.send_len = hi - lo;
    } else {
      c.recv_buf = at;
      c.recv_cap = hi - lo;
    }
  };
  thread_local std::vector<Call> calls;
  calls.resize(last - first + 1);
  for (uint64_t k = first; k <= last; ++k) fill(calls[k - first], k);

  const uint64_t deadline = now_ns() + client_->options().rpc_timeout_ms * 1'000'000ULL;
  std::vector<Call> again;
  for (;;) {
    if (calls.size() == 1) {
      Call& c = calls[0];
      auto r = client_->call(c.server, c.req, c.send_data, c.send_len, c.recv_buf, c.recv_cap, true);
      c.status = r ? Status() : r.status();
      if (r) {
        c.reply = *r;
        c.recv_len = c.recv_cap == 0 ? 0 : r->length;
      }
    } else {
      client_->call_all(calls.data(), calls.size());
    }
    again.clear();
    for (Call& c : calls) {
      if (!c.status) return c.status;
      if (c.reply.status == -EAGAIN) {
        // The chunk was growing under another transfer: send this piece again.
        again.push_back(c);
        continue;
      }
      if (c.reply.status != 0)
        return Status(-c.reply.status, std::string(wire::op_name(op)) + " of inode " + std::to_string(ino) +
                                           " chunk " + std::to_string(c.req.index));
      if (!write && c.reply.length < c.req.length) {
        // Past the chunk's data: a hole, which reads as zeros.
        std::memset(static_cast<std::byte*>(c.recv_buf) + c.reply.length, 0, c.req.length - c.reply.length);
      }
    }
    if (again.empty()) return Status();
    if (now_ns() >= deadline) return Status(ETIMEDOUT, "chunk stayed busy past the RPC timeout");
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    calls.assign(again.begin(), again.end());
  }
}

Result<size_t> FileSystem::pwrite(int fd, const void* buf, size_t len, int64_t offset) {
  auto fr = file(fd);
  if (!fr) return fr.status();
  auto f = std::move(*fr);
  if (!f->writable()) return Status(EBADF, "descriptor " + std::to_string(fd) + " is not open for writing");
  if (offset < 0) return Status(EINVAL, "negative offset");
  if (len > static_cast<size_t>(SSIZE_MAX) || static_cast<uint64_t>(offset) > UINT64_MAX / 2 - len)
    return Status(EINVAL, "offset + length overflows");
  if (len == 0) return size_t{0};
  if (buf == nullptr) return Status(EFAULT, "null buffer");
  // The inode never changes after open (a rename changes the path only).
  if (auto st = chunk_io(f->ino, true, static_cast<std::byte*>(const_cast<void*>(buf)), len,
                         static_cast<uint64_t>(offset));
      !st)
    return st;
  std::lock_guard lock(f->mu);
  f->written = std::max<uint64_t>(f->written, static_cast<uint64_t>(offset) + len);
  return len;
}

Result<size_t> FileSystem::pread(int fd, void* buf, size_t len, int64_t offset) {
  auto fr = file(fd);
  if (!fr) return fr.status();
  auto f = std::move(*fr);
  if (f->is_dir) return Status(EISDIR, "descriptor " + std::to_string(fd) + " is a directory");
  if (!f->readable()) return Status(EBADF, "descriptor " + std::to_string(fd) + " is not open for reading");
  if (offset < 0) return Status(EINVAL, "negative offset");
  if (len > static_cast<size_t>(SSIZE_MAX)) return Status(EINVAL, "length too large");
  if (len == 0) return size_t{0};
  if (buf == nullptr) return Status(EFAULT, "null buffer");
  const auto off = static_cast<uint64_t>(offset);
  uint64_t size;
  {
    std::lock_guard lock(f->mu);
    auto sz = file_size(*f, false);
    // Past what this process knows: another writer may have grown the file.
    if (*sz < off + len) sz = file_size(*f, true);
    if (!sz) return sz.status();
    size = *sz;
  }
  if (off >= size) return size_t{0};
  const size_t n = static_cast<size_t>(std::min<uint64_t>(len, size - off));
  std::byte* dst = static_cast<std::byte*>(buf);
  std::byte* at = read_target(dst, n, off);
  if (auto st = chunk_io(f->ino, false, at, n, off); !st) return st;
  if (at != dst) copy_bytes(dst, at, n);
  return n;
}

Result<size_t> FileSystem::at_position(int fd, bool write, const std::function<Result<size_t>(int64_t)>& io) {
  auto fr = file(fd);
  if (!fr) return fr.status();
  auto f = std::move(*fr);
  uint64_t at;
  {
    std::lock_guard lock(f->mu);
    if (write && (f->flags & O_APPEND) != 0) {
      auto sz = file_size(*f, true);
      if (!sz) return sz.status();
      f->pos = *sz;
    }
    at = f->pos;
  }
  auto r = io(static_cast<int64_t>(at));
  if (!r) return r;
  std::lock_guard lock(f->mu);
  f->pos = at + *r;
  return r;
}

Result<size_t> FileSystem::write(int fd, const void* buf, size_t len) {
  return at_position(fd, true, [&](int64_t at) { return pwrite(fd, buf, len, at); });
}

Result<size_t> FileSystem::read(int fd, void* buf, size_t len) {
  return at_position(fd, false, [&](int64_t at) { return pread(fd, buf, len, at); });
}

Result<int64_t> FileSystem::lseek(int fd, int64_t offset, int whence) {
  auto fr = file(fd);
  if (!fr) return fr.status();
  auto f = std::move(*fr);
  std::lock_guard lock(f->mu);
  int64_t base;
  switch (whence) {
    case SEEK_SET:
      base = 0;
      break;
    case SEEK_CUR:
      base = static_cast<int64_t>(f->pos);
      break;
    case SEEK_END: {
      auto sz = file_size(*f, true);
      if (!sz) return sz.status();
      base = static_cast<int64_t>(*sz);
      break;
    }
    default:
      return Status(EINVAL, "bad whence " + std::to_string(whence));
  }
  if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0)
    return Status(EINVAL, "resulting offset out of range");
  f->pos = static_cast<uint64_t>(base + offset);
  return static_cast<int64_t>(f->pos);
}

// --------------------------------------------------------------- metadata

Result<wire::Attr> FileSystem::stat(std::string_view path) {
  if (auto st = check_path(path); !st) return st;
  wire::Request req = stub::stat(path);
  auto r = meta_call(owner(path), req);
  if (!r) return refine_enoent(path, r.status());
  wire::Attr a = r->attr;
  add_unpushed(a);
  return a;
}

void FileSystem::add_unpushed(wire::Attr& a) const {
  std::shared_lock lock(fds_mu_);
  for (const auto& f : fds_) {
    if (f && f->ino == a.ino) {
      std::lock_guard fl(f->mu);
      a.size = std::max(a.size, f->written);
    }
  }
}

Result<wire::Attr> FileSystem::fstat(int fd) {
  auto fr = file(fd);
  if (!fr) return fr.status();
  auto f = std::move(*fr);
  std::string path;
  {
    std::lock_guard lock(f->mu);
    if (f->orphaned) {
      // Removed while open here: what this descriptor knows, with no links.
      wire::Attr a = f->attr;
      a.size = std::max(f->size, f->written);
      a.nlink = 0;
      return a;
    }
    path = f->path;
  }
  return stat(path);
}

Status FileSystem::unlink(std::string_view path) {
  if (auto st = check_path(path); !st) return st;
  // Not open here (by this name): the metadata owner drops the chunks it
  // holds with the entry, and only servers the file's size reaches beyond
  // it are asked to drop theirs: a small file costs one RPC. Open here: its
  // data stays until the last descriptor closes (release_data), as in POSIX.
  const bool open_here = open_by_path(path);
  wire::Request req = stub::unlink(path, /*drop_data=*/!open_here);
  const uint32_t meta_owner = owner(path);
  auto r = meta_call(meta_owner, req, nullptr, 0, /*idempotent=*/false);
  if (!r) return refine_enoent(path, r.status());
  if (open_here) return release_data(r->attr.ino);
  return remove_chunks_beyond(r->attr.ino, r->attr.size, meta_owner);
}

bool FileSystem::open_by_path(std::string_view path) const {
  std::shared_lock lock(fds_mu_);
  for (const auto& f : fds_)
    if (f && f->path == path) return true;
  return false;
}

Status FileSystem::remove_chunks_beyond(uint64_t ino, uint64_t size, uint32_t done) {
  // Servers holding chunks 0 .. ceil(size / chunk) - 1, except `done`.
  const uint64_t chunk = client_->chunk_size();
  const uint64_t chunks = chunk == 0 ? 0 : size / chunk + (size % chunk != 0 ? 1 : 0);
  std::vector<Call> calls;
  for (uint64_t k = 0; k < std::min<uint64_t>(chunks, servers_); ++k) {
    const uint32_t s = placement::chunk_holder(ino, k, servers_);
    if (s == done) continue;
    Call c;
    c.server = s;
    c.req = stub::remove_chunks(ino, 0);
    c.idempotent = false;  // as remove_chunks()
    calls.push_back(std::move(c));
  }
  if (calls.empty()) return Status();
  client_->call_all(calls.data(), calls.size());
  return removed(calls);
}

void FileSystem::clamp_written(uint64_t ino, uint64_t size) {
  std::shared_lock lock(fds_mu_);
  for (const auto& f : fds_) {
    if (f && f->ino == ino) {
      std::lock_guard fl(f->mu);
      f->written = std::min(f->written, size);
      f->pushed = std::min(f->pushed, size);
      f->size = size;
    }
  }
}

Status FileSystem::truncate(std::string_view path, int64_t length) {
  if (auto st = check_path(path); !st) return st;
  if (length < 0) return Status(EINVAL, "negative length");
  wire::Request req = stub::truncate(path, static_cast<uint64_t>(length));
  // At most once: a truncate repeated after a lost reply would cut away
  // what another client wrote past `length` in between.
  auto r = meta_call(owner(path), req, nullptr, 0, /*idempotent=*/false);
  if (!r) return refine_enoent(path, r.status());
  clamp_written(r->attr.ino, req.length);
  return remove_chunks(r->attr.ino, req.length);
}

Status FileSystem::ftruncate(int fd, int64_t length) {
  auto fr = file(fd);
  if (!fr) return fr.status();
  auto f = std::move(*fr);
  if (!f->writable()) return Status(EINVAL, "descriptor " + std::to_string(fd) + " is not open for writing");
  std::string path;
  {
    std::lock_guard lock(f->mu);
    path = f->path;
  }
  return truncate(path, length);
}

Result<wire::Attr> FileSystem::setattr(std::string_view path, uint32_t flags, const wire::Attr& what) {
  if (flags == 0) return stat(path);  // nothing to set: the file must still exist
  if (auto st = check_path(path); !st) return st;
  wire::Request req = stub::setattr(path, flags, what);
  const uint32_t own = owner(path);
  auto r = meta_call(own, req);
  if (!r) return refine_enoent(path, r.status());
  wire::Attr a = r->attr;
  if (S_ISDIR(a.mode) && servers_ > 1) {
    // The replicas take the owner's resolved times, so they agree.
    req.attr.atime_ns = a.atime_ns;
    req.attr.mtime_ns = a.mtime_ns;
    std::vector<Call> calls;
    for (uint32_t s = 0; s < servers_; ++s) {
      if (s == own) continue;
      Call c;
      c.server = s;
      c.req = req;
      calls.push_back(c);
    }
    client_->call_all(calls.data(), calls.size());
    for (const Call& c : calls) {
      if (!c.status) return c.status;
      if (auto st = reply_status(c.reply, "setattr " + std::string(path)); !st) return st;
    }
  }
  add_unpushed(a);
  return a;
}

Result<wire::Attr> FileSystem::fsetattr(int fd, uint32_t flags, const wire::Attr& what) {
  if (flags == 0) return fstat(fd);
  auto fr = file(fd);
  if (!fr) return fr.status();
  auto f = std::move(*fr);
  std::string path;
  {
    std::lock_guard lock(f->mu);
    if (f->orphaned) return Status(ENOENT, f->path + " was removed while open");
    if (!f->is_dir) {
      if (auto st = push_size(*f); !st) return st;
    }
    path = f->path;
  }
  return setattr(path, flags, what);
}

Status FileSystem::refine_rename(std::string_view from, std::string_view to, Status st) {
  st = refine_enoent(from, std::move(st));
  return st.err() == ENOENT ? refine_enoent(to, std::move(st)) : st;
}

Status FileSystem::rename(std::string_view from, std::string_view to) {
  if (auto st = check_path(from); !st) return st;
  if (auto st = check_path(to); !st) return st;
  if (from == "/" || to == "/") return Status(EBUSY, "cannot rename /");
  if (to.size() > from.size() && to.substr(0, from.size()) == from && to[from.size()] == '/')
    return Status(EINVAL, "cannot move a path below itself");
  const uint32_t a = owner(from);
  const uint32_t b = owner(to);
  wire::Attr moved;
  wire::Attr replaced;
  // One RENAME (flags 0: the whole move; else one phase of a move across
  // owners), at most once.
  auto rename_call = [this](uint32_t server, uint32_t flags, std::string_view p, std::string_view p2,
                            const wire::Attr* attr) {
    wire::Request req = stub::rename(flags, p, p2, attr);
    return meta_call(server, req, nullptr, 0, /*idempotent=*/false);
  };
  if (a == b) {
    auto r = rename_call(a, 0, from, to, nullptr);
    if (!r) return refine_rename(from, to, r.status());
    moved = r->attr;
    replaced = r->attr2;
  } else {
    // Across owners: take the entry off the source's owner, install it at
    // the destination's owner, put it back if that fails. The inode (and so
    // where its chunks live) does not change.
    auto d = rename_call(a, wire::kFlagRenameDetach, from, to, nullptr);
    if (!d) return refine_enoent(from, d.status());
    auto r = rename_call(b, wire::kFlagRenameAttach, from, to, &d->attr);
    if (!r) {
      (void)rename_call(a, wire::kFlagRenameAttach, to, from, &d->attr);
      return refine_rename(from, to, r.status());
    }
    moved = r->attr;
    replaced = r->attr2;
  }
  {
    // Descriptors of this process follow the file to its new name.
    std::shared_lock lock(fds_mu_);
    for (const auto& f : fds_) {
      if (f && f->ino == moved.ino) {
        std::lock_guard fl(f->mu);
        f->path = std::string(to);
      }
    }
  }
  if (replaced.ino != 0 && replaced.ino != moved.ino) return release_data(replaced.ino);
  return Status();
}

Status FileSystem::access(std::string_view path, int mode) {
  if ((mode & ~(R_OK | W_OK | X_OK)) != 0) return Status(EINVAL, "bad access mode");
  auto r = stat(path);
  return r ? Status() : r.status();
}

Status FileSystem::mkdir(std::string_view path, uint32_t mode) {
  if (auto st = check_path(path); !st) return st;
  if (path == "/") return Status(EEXIST, "/ exists");
  // Every server at once; the owner's answer decides. Where the owner
  // refuses, the replicas others made are taken back.
  const uint32_t own = owner(path);
  wire::Request req = stub::mkdir(path, mode);
  std::vector<Call> calls = on_every_server(req, /*idempotent=*/false);
  Status st =
      calls[own].status ? reply_status(calls[own].reply, "mkdir " + std::string(path)) : calls[own].status;
  if (st) return st;
  std::vector<Call> undo;
  for (uint32_t s = 0; s < servers_; ++s) {
    if (s != own && calls[s].status && calls[s].reply.status == 0) {
      Call c;
      c.server = s;
      c.req = stub::rmdir(path);
      undo.push_back(c);
    }
  }
  if (!undo.empty()) client_->call_all(undo.data(), undo.size());
  return refine_enoent(path, st);
}

Status FileSystem::rmdir(std::string_view path) {
  if (auto st = check_path(path); !st) return st;
  if (path == "/") return Status(EBUSY, "cannot remove /");
  const uint32_t own = owner(path);
  // Phase 1, on every server: empty here? Then take no new entries (so a
  // create racing this rmdir fails instead of leaving an orphan).
  wire::Request req = stub::rmdir(path, wire::kFlagRmdirPrepare);
  std::vector<Call> calls = on_every_server(req);
  Status refused;
  if (!calls[own].status) {
    refused = calls[own].status;
  } else if (auto st = reply_status(calls[own].reply, "rmdir " + std::string(path)); !st) {
    refused = refine_enoent(path, st);
  } else {
    for (const Call& c : calls) {
      if (!c.status) refused = c.status;
      if (c.status && c.reply.status == -ENOTEMPTY) refused = Status(ENOTEMPTY, "rmdir " + std::string(path));
      if (!refused.is_ok()) break;
    }
  }
  if (!refused.is_ok()) {
    std::vector<Call> undo;
    for (const Call& c : calls) {
      if (c.status && c.reply.status == 0) {
        Call u;
        u.server = c.server;
        u.req = stub::rmdir(path, wire::kFlagRmdirAbort);
        undo.push_back(u);
      }
    }
    if (!undo.empty()) client_->call_all(undo.data(), undo.size());
    return refused;
  }
  // Phase 2: remove it everywhere.
  for (Call& c : calls) {
    c.req = stub::rmdir(path);
    c.idempotent = false;
    c.status = Status();
    c.reply = wire::Reply{};
  }
  client_->call_all(calls.data(), calls.size());
  if (!calls[own].status) return calls[own].status;
  return reply_status(calls[own].reply, "rmdir " + std::string(path));
}

Result<size_t> FileSystem::readdir(std::string_view path,
                                   const std::function<bool(std::string_view, bool)>& fn) {
  return list(path, false,
              [&](const wire::DirentView& e) { return fn(e.name, e.type == wire::FileType::kDirectory); });
}

Result<size_t> FileSystem::readdir_attrs(std::string_view path,
                                         const std::function<bool(std::string_view, const wire::Attr&)>& fn) {
  return list(path, true, [&](const wire::DirentView& e) {
    wire::Attr a = e.attr;
    if (e.type != wire::FileType::kDirectory) add_unpushed(a);
    return fn(e.name, a);
  });
}

Result<size_t> FileSystem::list(std::string_view path, bool attrs,
                                const std::function<bool(const wire::DirentView&)>& fn) {
  if (auto st = check_path(path); !st) return st;
  std::vector<std::byte> buf(wire::kMaxReaddirBytes);
  size_t count = 0;
  // The owner first: it alone can say "not a directory" for a file.
  const uint32_t own = owner(path);
  for (uint32_t i = 0; i < servers_; ++i) {
    const uint32_t s = (own + i) % servers_;
    uint64_t cookie = 0;
    for (;;) {
      Call c;
      c.server = s;
      c.req = stub::readdir(path, attrs, cookie);
      c.recv_buf = buf.data();
      c.recv_cap = buf.size();
      client_->call_all(&c, 1);
      if (!c.status) return c.status;
      if (auto st = reply_status(c.reply, "readdir " + std::string(path)); !st)
        return refine_enoent(path, st);
      auto ents = wire::decode_dirents(buf.data(), c.recv_len, c.reply.count, attrs);
      if (!ents) return ents.status();
      for (const auto& e : *ents) {
        ++count;
        if (!fn(e)) return count;
      }
      if (c.reply.eof != 0) break;
      if (c.reply.cookie <= cookie && c.reply.count == 0)
        return Status(EPROTO, "readdir made no progress on node_" + std::to_string(s));
      cookie = c.reply.cookie;
    }
  }
  return count;
}

Result<FsTotals> FileSystem::statfs() {
  wire::Request req = stub::statfs();
  std::vector<Call> calls = on_every_server(req);
  FsTotals t;
  for (const Call& c : calls) {
    if (!c.status) return c.status;
    if (auto st = reply_status(c.reply, "statfs"); !st) return st;
    t.capacity += c.reply.capacity;
    t.used += c.reply.used;
    t.inodes += c.reply.files;
  }
  return t;
}

}  // namespace benchfs::client
