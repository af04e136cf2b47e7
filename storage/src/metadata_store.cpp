#include "benchfs/storage/metadata_store.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <functional>
#include <iterator>
#include <map>
#include <unordered_map>
#include <utility>

#include "benchfs/protocol/placement.hpp"

namespace benchfs::storage {

bool Inode::is_dir() const { return S_ISDIR(mode); }

namespace {

constexpr uint32_t kPermMask = 07777;

int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

// Paths are validated: absolute, no trailing slash except "/".
std::string_view parent_of(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == 0 ? std::string_view("/") : path.substr(0, slash);
}

std::string_view name_of(std::string_view path) { return path.substr(path.rfind('/') + 1); }

// Children are ordered by (hash of the name, name): the hash is the cookie,
// the name breaks (rare) ties so equal hashes coexist.
using ChildKey = std::pair<uint64_t, std::string>;

ChildKey child_key(std::string_view path) {
  const std::string_view name = name_of(path);
  return {placement::path_hash(name), std::string(name)};
}

// Lets lookups by string_view skip building a std::string.
struct PathHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct MetadataStore::Impl {
  struct Entry {
    Inode inode;
    std::map<ChildKey, bool> children;  ///< directories only: listed children -> is_dir
    bool removing = false;              ///< rmdir_prepare'd: takes no new children
  };

  uint32_t node;
  uint32_t servers;
  mutable std::shared_mutex mu;
  std::unordered_map<std::string, Entry, PathHash, std::equal_to<>> entries;
  uint64_t counter = 0;
  uint64_t files = 0;
  uint64_t dirs = 0;

  Impl(uint32_t n, uint32_t s) : node(n), servers(s) {}

  Entry* find(std::string_view path) {
    auto it = entries.find(path);
    return it == entries.end() ? nullptr : &it->second;
  }
  const Entry* find(std::string_view path) const {
    auto it = entries.find(path);
    return it == entries.end() ? nullptr : &it->second;
  }

  // The directory that would hold `path`: ENOENT when missing, ENOTDIR when a file.
  Result<Entry*> parent_dir(std::string_view path) {
    Entry* p = find(parent_of(path));
    if (p == nullptr) return Status(ENOENT, "parent directory missing");
    if (!p->inode.is_dir()) return Status(ENOTDIR, "parent is not a directory");
    if (p->removing) return Status(ENOENT, "parent directory is being removed");
    return p;
  }

  Inode new_inode(uint32_t mode) {
    Inode in;
    in.ino = placement::make_inode(node, ++counter);
    in.mode = mode;
    in.atime_ns = in.mtime_ns = in.ctime_ns = realtime_ns();
    return in;
  }

  // Removes the file at path (entry and listing) and returns its inode.
  Inode erase_file(std::string_view path) {
    auto it = entries.find(path);
    Inode in = it->second.inode;
    entries.erase(it);
    if (Entry* p = find(parent_of(path))) p->children.erase(child_key(path));
    --files;
    return in;
  }

  // Removes the file at path, for unlink and a rename's detach: ENOENT when
  // there is none, dir_err (dir_msg) when it is a directory.
  Result<Inode> erase_file_checked(std::string_view path, int dir_err, const char* dir_msg) {
    const Entry* e = find(path);
    if (e == nullptr) return Status(ENOENT, "no such file");
    if (e->inode.is_dir()) return Status(dir_err, dir_msg);
    return erase_file(path);
  }

  // Installs a file at path under parent `p` (path must be free, or hold a
  // file that the caller has just erased).
  void put_file(std::string_view path, Entry& p, const Inode& in) {
    p.children[child_key(path)] = false;
    Entry e;
    e.inode = in;
    entries.emplace(std::string(path), std::move(e));
    ++files;
  }

  Status rmdir_check(std::string_view path) const {
    if (path == "/") return Status(EBUSY, "cannot remove \"/\"");
    const Entry* e = find(path);
    if (e == nullptr) return Status(ENOENT, "no such directory");
    if (!e->inode.is_dir()) return Status(ENOTDIR, "not a directory");
    if (!e->children.empty()) return Status(ENOTEMPTY, "directory not empty");
    return Status::ok();
  }

  // rename/attach: destination checks, and removal of a file found there.
  Result<Entry*> prepare_destination(std::string_view dst, std::optional<Inode>& replaced) {
    if (const Entry* d = find(dst)) {
      if (d->inode.is_dir()) return Status(EISDIR, "destination is a directory");
    }
    auto parent = parent_dir(dst);
    if (!parent.ok()) return parent.status();
    if (find(dst) != nullptr) replaced = erase_file(dst);
    return parent;
  }
};

MetadataStore::MetadataStore(uint32_t node, uint32_t servers)
    : impl_(std::make_unique<Impl>(node, servers == 0 ? 1 : servers)) {
  Impl::Entry root;
  root.inode = impl_->new_inode(S_IFDIR | 0755);
  impl_->entries.emplace("/", std::move(root));
  impl_->dirs = 1;
}

MetadataStore::~MetadataStore() = default;

Result<CreateResult> MetadataStore::create(std::string_view path, uint32_t mode, bool exclusive) {
  Impl& m = *impl_;
  if (!exclusive) {
    // Fast path for opening an existing file: shared lock only.
    std::shared_lock lock(m.mu);
    if (const Impl::Entry* e = m.find(path); e != nullptr && !e->inode.is_dir()) {
      return CreateResult{e->inode, false};
    }
  }
  std::unique_lock lock(m.mu);
  if (const Impl::Entry* e = m.find(path)) {
    if (e->inode.is_dir()) return Status(EISDIR, "is a directory");
    if (exclusive) return Status(EEXIST, "file exists");
    return CreateResult{e->inode, false};
  }
  auto parent = m.parent_dir(path);
  if (!parent.ok()) return parent.status();
  const Inode in = m.new_inode(S_IFREG | (mode & kPermMask));
  m.put_file(path, **parent, in);
  return CreateResult{in, true};
}

Result<Inode> MetadataStore::lookup(std::string_view path) const {
  std::shared_lock lock(impl_->mu);
  const Impl::Entry* e = impl_->find(path);
  if (e == nullptr) return Status(ENOENT, "no such file or directory");
  return e->inode;
}

Result<Inode> MetadataStore::unlink(std::string_view path) {
  std::unique_lock lock(impl_->mu);
  return impl_->erase_file_checked(path, EISDIR, "is a directory");
}

Result<Inode> MetadataStore::extend_size(std::string_view path, uint64_t ino, uint64_t size) {
  std::unique_lock lock(impl_->mu);
  Impl::Entry* e = impl_->find(path);
  if (e == nullptr) return Status(ENOENT, "no such file");
  if (e->inode.is_dir()) return Status(EISDIR, "is a directory");
  if (e->inode.ino != ino) return Status(ENOENT, "file replaced");
  e->inode.size = std::max(e->inode.size, size);
  e->inode.mtime_ns = e->inode.ctime_ns = realtime_ns();
  return e->inode;
}

Result<Inode> MetadataStore::truncate(std::string_view path, uint64_t size) {
  std::unique_lock lock(impl_->mu);
  Impl::Entry* e = impl_->find(path);
  if (e == nullptr) return Status(ENOENT, "no such file");
  if (e->inode.is_dir()) return Status(EISDIR, "is a directory");
  e->inode.size = size;
  e->inode.mtime_ns = e->inode.ctime_ns = realtime_ns();
  return e->inode;
}

Result<Inode> MetadataStore::setattr(std::string_view path, const SetAttr& what) {
  std::unique_lock lock(impl_->mu);
  Impl::Entry* e = impl_->find(path);
  if (e == nullptr) return Status(ENOENT, "no such file or directory");
  Inode& in = e->inode;
  const int64_t now = realtime_ns();
  if (what.mode) in.mode = (in.mode & ~kPermMask) | (*what.mode & kPermMask);
  if (what.atime_now)
    in.atime_ns = now;
  else if (what.atime_ns)
    in.atime_ns = *what.atime_ns;
  if (what.mtime_now)
    in.mtime_ns = now;
  else if (what.mtime_ns)
    in.mtime_ns = *what.mtime_ns;
  in.ctime_ns = now;
  return in;
}

// Times stay unchanged, as they do across servers (attach), so a rename
// looks the same whichever servers own the two paths.
Result<RenameResult> MetadataStore::rename(std::string_view src, std::string_view dst) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu);
  const Impl::Entry* s = m.find(src);
  if (s == nullptr) return Status(ENOENT, "no such file");
  if (s->inode.is_dir()) return Status(EXDEV, "directory rename is not supported");
  RenameResult res;
  res.moved = s->inode;
  if (src == dst) return res;
  auto parent = m.prepare_destination(dst, res.replaced);
  if (!parent.ok()) return parent.status();
  m.erase_file(src);
  m.put_file(dst, **parent, res.moved);
  return res;
}

Result<RenameResult> MetadataStore::attach(std::string_view dst, const Inode& inode) {
  Impl& m = *impl_;
  if (inode.is_dir()) return Status(EXDEV, "directory rename is not supported");
  std::unique_lock lock(m.mu);
  RenameResult res;
  res.moved = inode;
  auto parent = m.prepare_destination(dst, res.replaced);
  if (!parent.ok()) return parent.status();
  m.put_file(dst, **parent, inode);
  return res;
}

Result<Inode> MetadataStore::detach(std::string_view src) {
  std::unique_lock lock(impl_->mu);
  return impl_->erase_file_checked(src, EXDEV, "directory rename is not supported");
}

Status MetadataStore::mkdir(std::string_view path, uint32_t mode) {
  Impl& m = *impl_;
  if (path == "/") return Status(EEXIST, "\"/\" exists");
  std::unique_lock lock(m.mu);
  auto parent = m.parent_dir(path);
  if (!parent.ok()) return parent.status();
  if (m.find(path) != nullptr) return Status(EEXIST, "exists");
  Impl::Entry& p = **parent;
  // Every server holds the directory; only its owner lists it, so a merged
  // READDIR shows it once.
  if (placement::metadata_owner(path, m.servers) == m.node) p.children[child_key(path)] = true;
  Impl::Entry e;
  e.inode = m.new_inode(S_IFDIR | (mode & kPermMask));
  m.entries.emplace(std::string(path), std::move(e));
  ++m.dirs;
  return Status::ok();
}

Status MetadataStore::rmdir_check(std::string_view path) const {
  std::shared_lock lock(impl_->mu);
  return impl_->rmdir_check(path);
}

Status MetadataStore::rmdir_prepare(std::string_view path) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu);
  Status st = m.rmdir_check(path);
  if (!st.is_ok()) return st;
  m.find(path)->removing = true;
  return Status::ok();
}

void MetadataStore::rmdir_abort(std::string_view path) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu);
  if (Impl::Entry* e = m.find(path); e != nullptr && e->inode.is_dir()) e->removing = false;
}

Status MetadataStore::rmdir(std::string_view path) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu);
  Status st = m.rmdir_check(path);
  if (!st.is_ok()) return st;
  m.entries.erase(m.entries.find(path));
  if (Impl::Entry* p = m.find(parent_of(path))) p->children.erase(child_key(path));
  --m.dirs;
  return Status::ok();
}

// A page never ends inside a run of equal hashes: the cookie resumes at a
// hash, so a split run would lose its tail. A run that does not fit is left
// for the next page, or, when it is the whole page, taken in full even past
// the limits (at least one entry per page, so paging always progresses).
// next_cookie is 0 once eof is set.
Result<DirPage> MetadataStore::readdir(std::string_view path, uint64_t cookie, uint32_t max_entries,
                                       size_t max_bytes, size_t entry_overhead, bool with_inodes) const {
  std::shared_lock lock(impl_->mu);
  const Impl::Entry* d = impl_->find(path);
  if (d == nullptr) return Status(ENOENT, "no such directory");
  if (!d->inode.is_dir()) return Status(ENOTDIR, "not a directory");
  const auto& ch = d->children;
  const size_t max_n = std::max<uint32_t>(max_entries, 1);
  DirPage page;
  auto it = ch.lower_bound(ChildKey{cookie, std::string()});
  auto run_start = it;     // first child of the run of equal hashes `it` is in
  size_t run_entries = 0;  // page entries taken from that run
  size_t bytes = 0;
  while (it != ch.end()) {
    if (it != run_start && it->first.first != std::prev(it)->first.first) {
      run_start = it;
      run_entries = 0;
    }
    const size_t len = it->first.second.size() + entry_overhead;
    const bool fits = page.entries.size() < max_n && bytes + len <= max_bytes;
    if (!fits && !page.entries.empty()) {
      if (run_entries == page.entries.size()) {
        // The page is one run: finish it.
        for (; it != ch.end() && it->first.first == run_start->first.first; ++it) {
          page.entries.push_back(DirEntry{it->first.second, it->second, Inode{}});
        }
      } else if (run_entries > 0) {
        // Give back the run's part already taken; the next page starts it.
        page.entries.resize(page.entries.size() - run_entries);
        it = run_start;
      }
      break;
    }
    page.entries.push_back(DirEntry{it->first.second, it->second, Inode{}});
    bytes += len;
    ++run_entries;
    ++it;
  }
  if (with_inodes) {
    std::string child(path);
    if (child.size() > 1) child.push_back('/');
    const size_t base = child.size();
    for (DirEntry& e : page.entries) {
      child.resize(base);
      child += e.name;
      const Impl::Entry* c = impl_->find(child);
      // Always found: this server holds what it lists.
      if (c != nullptr)
        e.inode = c->inode;
      else
        e.inode.mode = e.is_dir ? S_IFDIR : S_IFREG;
    }
  }
  if (it == ch.end()) {
    page.eof = true;
    return page;
  }
  // Entries remain after a complete run, so its hash is below UINT64_MAX.
  page.next_cookie = std::prev(it)->first.first + 1;
  return page;
}

MetadataStats MetadataStore::stats() const {
  std::shared_lock lock(impl_->mu);
  MetadataStats s;
  s.files = impl_->files;
  s.dirs = impl_->dirs;
  return s;
}

}  // namespace benchfs::storage
