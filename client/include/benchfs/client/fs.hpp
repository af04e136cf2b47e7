#pragma once
// The file-system client behind libbenchfs (DESIGN.md sections 6 and 7):
// paths go to their metadata owner, file data is split into chunk RPCs
// issued concurrently to the chunk holders straight from / into the
// caller's buffer, and open files live in a descriptor table of this
// process. Thread safe. Errors are Status values with POSIX errno.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "benchfs/client/engine.hpp"
#include "benchfs/core/status.hpp"
#include "benchfs/protocol/wire.hpp"

namespace benchfs::client {

/// Totals over all servers (for statfs).
struct FsTotals {
  uint64_t capacity = 0;  ///< bytes the servers may hold
  uint64_t used = 0;      ///< bytes held
  uint64_t inodes = 0;    ///< files and directories (directories counted on every server)
};

class FileSystem {
 public:
  explicit FileSystem(std::unique_ptr<Client> client);
  ~FileSystem();
  FileSystem(const FileSystem&) = delete;
  FileSystem& operator=(const FileSystem&) = delete;

  Client& client() { return *client_; }

  Result<int> open(std::string_view path, int flags, uint32_t mode);
  Status close(int fd);
  Result<size_t> pwrite(int fd, const void* buf, size_t len, int64_t offset);
  Result<size_t> pread(int fd, void* buf, size_t len, int64_t offset);
  Result<size_t> write(int fd, const void* buf, size_t len);
  Result<size_t> read(int fd, void* buf, size_t len);
  Result<int64_t> lseek(int fd, int64_t offset, int whence);
  Status fsync(int fd);
  Result<wire::Attr> stat(std::string_view path);
  Result<wire::Attr> fstat(int fd);
  Status unlink(std::string_view path);
  Status truncate(std::string_view path, int64_t length);
  Status ftruncate(int fd, int64_t length);
  Status rename(std::string_view from, std::string_view to);
  /// Sets what `flags` names (wire::kFlagSetMode / kFlagSetAtime /
  /// kFlagSetMtime) of `what` (times may be wire::kTimeNow): on the owner,
  /// and for a directory on every server (it is replicated). flags 0: a
  /// stat (nothing changes, but the file must exist).
  Result<wire::Attr> setattr(std::string_view path, uint32_t flags, const wire::Attr& what);
  /// setattr of an open file; first pushes its size, so that the times set
  /// are not overwritten by a later close.
  Result<wire::Attr> fsetattr(int fd, uint32_t flags, const wire::Attr& what);
  Status access(std::string_view path, int mode);
  Status mkdir(std::string_view path, uint32_t mode);
  Status rmdir(std::string_view path);
  /// Calls fn(name, is_dir) per entry until it returns false; returns the
  /// entries passed.
  Result<size_t> readdir(std::string_view path, const std::function<bool(std::string_view, bool)>& fn);
  /// readdir with each entry's attributes, as stat would give them, from
  /// the same RPCs (one or a few per server, not one per entry).
  Result<size_t> readdir_attrs(std::string_view path,
                               const std::function<bool(std::string_view, const wire::Attr&)>& fn);
  Result<FsTotals> statfs();

  /// Descriptors open now (for tests and leak checks).
  [[nodiscard]] size_t open_files() const;

 private:
  struct File;
  /// The open file behind fd, or EBADF.
  Result<std::shared_ptr<File>> file(int fd) const;
  uint32_t owner(std::string_view path) const;
  /// One metadata RPC; a non-zero reply status becomes the Status.
  Result<wire::Reply> meta_call(uint32_t server, wire::Request& req, void* recv_buf = nullptr,
                                size_t recv_cap = 0, bool idempotent = true);
  /// Sends req to every server at once; the calls' results in server order.
  std::vector<Call> on_every_server(const wire::Request& req, bool idempotent = true);
  /// Frees a removed file's data now, or at the last close of its
  /// descriptors in this process.
  Status release_data(uint64_t ino);
  /// Frees the data of `ino` past byte `keep` on every server.
  Status remove_chunks(uint64_t ino, uint64_t keep);
  /// The first failure of a batch of REMOVE_CHUNKS calls, if any.
  static Status removed(const std::vector<Call>& calls);
  /// Frees all data of `ino` on the servers holding its chunks up to byte
  /// `size`, except server `done` (which already did).
  Status remove_chunks_beyond(uint64_t ino, uint64_t size, uint32_t done);
  /// The directory listing behind readdir and readdir_attrs.
  Result<size_t> list(std::string_view path, bool attrs,
                      const std::function<bool(const wire::DirentView&)>& fn);
  /// Raises a.size to what this process wrote to the file and has not pushed.
  void add_unpushed(wire::Attr& a) const;
  /// Some descriptor of this process has `path` open.
  [[nodiscard]] bool open_by_path(std::string_view path) const;
  /// ENOENT for `path`: ENOTDIR instead when an ancestor is a file.
  Status refine_enoent(std::string_view path, Status st);
  /// The same for a rename: the source's path first, then the destination's.
  Status refine_rename(std::string_view from, std::string_view to, Status st);
  /// Pushes the size written through f to its metadata owner.
  Status push_size(File& f);
  /// The file's size as far as this process knows, asking the owner first
  /// when `refresh`.
  Result<uint64_t> file_size(File& f, bool refresh);
  /// Chunk RPCs for [offset, offset + len) of inode ino, straight from / into buf.
  Status chunk_io(uint64_t ino, bool write, std::byte* buf, size_t len, uint64_t offset);
  /// write / read at fd's position (its end first, for O_APPEND writes):
  /// io(offset) does the transfer, and the position moves past what it did.
  Result<size_t> at_position(int fd, bool write, const std::function<Result<size_t>(int64_t)>& io);
  /// Lowers what the open descriptors of `ino` remember writing (truncate).
  void clamp_written(uint64_t ino, uint64_t size);

  std::unique_ptr<Client> client_;
  const uint32_t servers_;
  const uint64_t chunk_size_;
  mutable std::shared_mutex fds_mu_;
  std::vector<std::shared_ptr<File>> fds_;
  std::vector<int> free_fds_;
};

}  // namespace benchfs::client
