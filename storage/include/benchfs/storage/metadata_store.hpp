#pragma once
// MetadataStore (DESIGN.md section 6): the namespace one server holds.
//
// - Files live on their metadata owner only (metadata_owner(path, servers)).
// - Directories are replicated on every server: MKDIR and RMDIR go to all,
//   so a server checks a new entry's parent locally. "/" always exists.
// - A directory lists, on each server, the children that server owns: its
//   files, and the subdirectories whose owner (by path hash) is this server.
//   READDIR merges the servers' pages; no entry appears twice.
// - Listing order is by a 64-bit hash of the child name; a READDIR cookie is
//   the hash to continue from, so paging survives concurrent changes.
//
// Thread safe: one std::shared_mutex (lookups shared, changes exclusive).
// Paths given here are already validated (wire::validate_path): absolute,
// no "." / ".." / empty components, no trailing slash except "/".

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "benchfs/core/status.hpp"

namespace benchfs::storage {

struct Inode {
  uint64_t ino = 0;
  uint32_t mode = 0;  ///< S_IFREG / S_IFDIR | permission bits
  uint64_t size = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  [[nodiscard]] bool is_dir() const;
};

struct DirEntry {
  std::string name;  ///< last component only
  bool is_dir = false;
  Inode inode;  ///< readdir with_inodes only
};

struct DirPage {
  std::vector<DirEntry> entries;
  uint64_t next_cookie = 0;  ///< pass back to continue
  bool eof = false;
};

struct CreateResult {
  Inode inode;
  bool created = false;  ///< false: the file existed (and was opened)
};

struct RenameResult {
  Inode moved;                    ///< the renamed file (its inode is unchanged)
  std::optional<Inode> replaced;  ///< a file that was at the destination (its data must be removed)
};

struct MetadataStats {
  uint64_t files = 0;
  uint64_t dirs = 0;  ///< including "/"
};

class MetadataStore {
 public:
  /// `node`: this server's index (the high bits of the inode numbers it
  /// assigns); `servers`: how many servers share the namespace.
  MetadataStore(uint32_t node, uint32_t servers);
  ~MetadataStore();
  MetadataStore(const MetadataStore&) = delete;
  MetadataStore& operator=(const MetadataStore&) = delete;

  // ---- files (this server is the path's owner) ----
  /// Creates a regular file. Parent missing here: ENOENT. Path is a
  /// directory: EISDIR. Exists as a file: EEXIST when `exclusive`, else the
  /// existing inode (created = false).
  Result<CreateResult> create(std::string_view path, uint32_t mode, bool exclusive);
  /// The inode at path (file or directory). ENOENT.
  Result<Inode> lookup(std::string_view path) const;
  /// Removes a file and returns its inode. ENOENT; EISDIR for a directory.
  Result<Inode> unlink(std::string_view path);
  /// Raises the size of the file at path, whose inode must be `ino`, to at
  /// least `size` (max semantics); returns the result. ENOENT (missing or
  /// another inode now), EISDIR.
  Result<Inode> extend_size(std::string_view path, uint64_t ino, uint64_t size);
  /// Sets the size exactly (truncate). ENOENT, EISDIR.
  Result<Inode> truncate(std::string_view path, uint64_t size);

  // ---- rename of files ----
  /// Both paths owned here. Source missing: ENOENT; source a directory:
  /// EXDEV (directory rename is not supported); destination a directory:
  /// EISDIR; destination parent missing: ENOENT. src == dst: no-op.
  Result<RenameResult> rename(std::string_view src, std::string_view dst);
  /// Cross-owner rename, phase 2 on the destination's owner: installs
  /// `inode` (unchanged number, size, times) at dst, replacing a file there.
  /// EISDIR, ENOENT (parent) as for rename.
  Result<RenameResult> attach(std::string_view dst, const Inode& inode);
  /// Cross-owner rename, phase 1 on the source's owner: unlink that keeps
  /// the inode for attach (EXDEV for a directory). Undo with attach(src, ...).
  Result<Inode> detach(std::string_view src);

  // ---- directories (replicated on every server) ----
  /// Parent missing: ENOENT; parent is a file here: ENOTDIR; path exists
  /// (file or directory): EEXIST.
  Status mkdir(std::string_view path, uint32_t mode);
  /// Checks what rmdir would do without changing anything: ENOENT, ENOTDIR
  /// (a file owned here), EBUSY for "/", ENOTEMPTY (children listed here).
  Status rmdir_check(std::string_view path) const;
  /// rmdir_check, then marks the directory as being removed: from now on
  /// nothing new is made in it here (ENOENT), so the emptiness checked on
  /// every server still holds when rmdir follows on all of them.
  Status rmdir_prepare(std::string_view path);
  /// Clears rmdir_prepare's mark (another server refused the removal).
  void rmdir_abort(std::string_view path);
  /// rmdir_check, then removes the directory.
  Status rmdir(std::string_view path);
  /// Sets what is given (nullopt: left as it is) of a file or directory
  /// here: permission bits, access and modification time (ns since the
  /// epoch; `now` for the clock's current time). ctime becomes now. ENOENT.
  struct SetAttr {
    std::optional<uint32_t> mode;
    std::optional<int64_t> atime_ns;
    std::optional<int64_t> mtime_ns;
    bool atime_now = false;
    bool mtime_now = false;
  };
  Result<Inode> setattr(std::string_view path, const SetAttr& what);
  /// Up to max_entries children listed here, starting at `cookie` (0 =
  /// start), whose names plus `entry_overhead` bytes each fit in max_bytes
  /// (a run of equal name hashes is never split, so a page may pass it by
  /// that run). with_inodes: each entry carries the child's inode (this
  /// server lists only children it holds). ENOENT; ENOTDIR.
  Result<DirPage> readdir(std::string_view path, uint64_t cookie, uint32_t max_entries, size_t max_bytes,
                          size_t entry_overhead = 0, bool with_inodes = false) const;

  [[nodiscard]] MetadataStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace benchfs::storage
