// Unit tests of storage/ MetadataStore: every error number, readdir paging,
// the listing rule for replicated directories, rename / attach / detach and
// concurrent changes.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "benchfs/protocol/placement.hpp"
#include "benchfs/storage/metadata_store.hpp"

using namespace benchfs;
using namespace benchfs::storage;
using benchfs::placement::inode_owner;
using benchfs::placement::metadata_owner;
using benchfs::placement::path_hash;

namespace {

// Every entry of a directory, paging with the given limits; counts how often each name appears.
std::map<std::string, int> list_all(const MetadataStore& m, const std::string& dir, uint32_t max_entries,
                                    size_t max_bytes, size_t* pages = nullptr,
                                    std::map<std::string, bool>* is_dir = nullptr) {
  std::map<std::string, int> seen;
  uint64_t cookie = 0;
  size_t n = 0;
  for (;;) {
    auto p = m.readdir(dir, cookie, max_entries, max_bytes);
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    if (!p.ok()) break;
    ++n;
    for (const auto& e : p->entries) {
      ++seen[e.name];
      if (is_dir != nullptr) (*is_dir)[e.name] = e.is_dir;
    }
    if (p->eof) break;
    EXPECT_FALSE(p->entries.empty());
    EXPECT_GT(p->next_cookie, cookie);
    if (p->entries.empty() || n > 100000) break;
    cookie = p->next_cookie;
  }
  if (pages != nullptr) *pages = n;
  return seen;
}

int err_of(const Status& s) { return s.err(); }
template <class T>
int err_of(const Result<T>& r) {
  return r.status().err();
}

}  // namespace

TEST(MetadataStore, RootAlwaysExists) {
  MetadataStore m(0, 1);
  auto root = m.lookup("/");
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(root->is_dir());
  EXPECT_EQ(root->mode, static_cast<uint32_t>(S_IFDIR | 0755));
  EXPECT_EQ(m.stats().dirs, 1u);
  EXPECT_EQ(m.stats().files, 0u);
  EXPECT_EQ(err_of(m.rmdir_check("/")), EBUSY);
  EXPECT_EQ(err_of(m.rmdir("/")), EBUSY);
  EXPECT_EQ(err_of(m.mkdir("/", 0755)), EEXIST);
  EXPECT_EQ(err_of(m.create("/", 0644, false)), EISDIR);
  EXPECT_EQ(err_of(m.unlink("/")), EISDIR);
  EXPECT_EQ(err_of(m.detach("/")), EXDEV);
  EXPECT_TRUE(m.lookup("/").ok());
  auto page = m.readdir("/", 0, 10, 4096);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->entries.empty());
  EXPECT_TRUE(page->eof);
}

TEST(MetadataStore, CreateLookupUnlink) {
  MetadataStore m(3, 4);
  auto c = m.create("/a", 0644, true);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_TRUE(c->created);
  const Inode in = c->inode;
  EXPECT_EQ(inode_owner(in.ino), 3u);
  EXPECT_EQ(in.mode, static_cast<uint32_t>(S_IFREG | 0644));
  EXPECT_FALSE(in.is_dir());
  EXPECT_EQ(in.size, 0u);
  EXPECT_GT(in.mtime_ns, 0);
  EXPECT_EQ(in.atime_ns, in.mtime_ns);
  EXPECT_EQ(in.ctime_ns, in.mtime_ns);

  auto again = m.create("/a", 0600, false);  // open: the existing inode
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->inode.ino, in.ino);
  EXPECT_EQ(again->inode.mode, in.mode);
  EXPECT_EQ(err_of(m.create("/a", 0644, true)), EEXIST);

  auto b = m.create("/b", 0600, false);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->created);
  EXPECT_NE(b->inode.ino, in.ino);
  EXPECT_EQ(inode_owner(b->inode.ino), 3u);

  auto l = m.lookup("/a");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->ino, in.ino);
  EXPECT_EQ(m.stats().files, 2u);

  auto u = m.unlink("/a");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->ino, in.ino);
  EXPECT_EQ(err_of(m.lookup("/a")), ENOENT);
  EXPECT_EQ(err_of(m.unlink("/a")), ENOENT);
  EXPECT_EQ(m.stats().files, 1u);
  // Re-created: a new inode number.
  auto c2 = m.create("/a", 0644, true);
  ASSERT_TRUE(c2.ok());
  EXPECT_NE(c2->inode.ino, in.ino);
}

TEST(MetadataStore, CreateErrors) {
  MetadataStore m(0, 1);
  EXPECT_EQ(err_of(m.create("/nodir/f", 0644, false)), ENOENT);
  EXPECT_EQ(err_of(m.create("/x/y/z", 0644, true)), ENOENT);
  ASSERT_TRUE(m.create("/f", 0644, true).ok());
  EXPECT_EQ(err_of(m.create("/f/g", 0644, false)), ENOTDIR);
  ASSERT_TRUE(m.mkdir("/d", 0755).is_ok());
  EXPECT_EQ(err_of(m.create("/d", 0644, false)), EISDIR);
  EXPECT_EQ(err_of(m.create("/d", 0644, true)), EISDIR);
  auto nested = m.create("/d/f", 0644, true);
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(m.stats().files, 2u);
  EXPECT_EQ(m.stats().dirs, 2u);
}

TEST(MetadataStore, ExtendAndTruncate) {
  MetadataStore m(0, 1);
  auto c = m.create("/f", 0644, true);
  ASSERT_TRUE(c.ok());
  const uint64_t ino = c->inode.ino;
  const int64_t t0 = c->inode.mtime_ns;

  auto e = m.extend_size("/f", ino, 1000);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->size, 1000u);
  EXPECT_GE(e->mtime_ns, t0);
  EXPECT_GE(e->ctime_ns, t0);
  e = m.extend_size("/f", ino, 500);  // max semantics
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->size, 1000u);
  EXPECT_EQ(m.lookup("/f")->size, 1000u);
  EXPECT_EQ(err_of(m.extend_size("/f", ino + 1, 5000)), ENOENT);  // another inode now
  EXPECT_EQ(m.lookup("/f")->size, 1000u);
  EXPECT_EQ(err_of(m.extend_size("/missing", ino, 5)), ENOENT);
  ASSERT_TRUE(m.mkdir("/d", 0755).is_ok());
  EXPECT_EQ(err_of(m.extend_size("/d", m.lookup("/d")->ino, 5)), EISDIR);

  auto t = m.truncate("/f", 10);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->size, 10u);
  EXPECT_GE(t->mtime_ns, e->mtime_ns);
  t = m.truncate("/f", 1 << 20);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(m.lookup("/f")->size, 1u << 20);
  EXPECT_EQ(m.lookup("/f")->ino, ino);
  EXPECT_EQ(err_of(m.truncate("/missing", 0)), ENOENT);
  EXPECT_EQ(err_of(m.truncate("/d", 0)), EISDIR);
  EXPECT_EQ(err_of(m.truncate("/", 0)), EISDIR);
}

TEST(MetadataStore, MkdirRmdirErrors) {
  MetadataStore m(0, 1);
  EXPECT_EQ(err_of(m.mkdir("/a/b", 0755)), ENOENT);
  ASSERT_TRUE(m.mkdir("/a", 0700).is_ok());
  auto a = m.lookup("/a");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->is_dir());
  EXPECT_EQ(a->mode, static_cast<uint32_t>(S_IFDIR | 0700));
  EXPECT_EQ(err_of(m.mkdir("/a", 0755)), EEXIST);
  ASSERT_TRUE(m.mkdir("/a/b", 0755).is_ok());
  ASSERT_TRUE(m.create("/a/f", 0644, true).ok());
  EXPECT_EQ(err_of(m.mkdir("/a/f", 0755)), EEXIST);     // a file is there
  EXPECT_EQ(err_of(m.mkdir("/a/f/g", 0755)), ENOTDIR);  // parent is a file
  EXPECT_EQ(m.stats().dirs, 3u);

  EXPECT_EQ(err_of(m.rmdir("/nope")), ENOENT);
  EXPECT_EQ(err_of(m.rmdir_check("/nope")), ENOENT);
  EXPECT_EQ(err_of(m.rmdir("/a/f")), ENOTDIR);
  EXPECT_EQ(err_of(m.rmdir_check("/a/f")), ENOTDIR);
  EXPECT_EQ(err_of(m.rmdir_check("/a")), ENOTEMPTY);
  EXPECT_EQ(err_of(m.rmdir("/a")), ENOTEMPTY);
  EXPECT_TRUE(m.rmdir_check("/a/b").is_ok());
  EXPECT_TRUE(m.lookup("/a/b").ok());  // the check changed nothing
  ASSERT_TRUE(m.rmdir("/a/b").is_ok());
  EXPECT_EQ(err_of(m.lookup("/a/b")), ENOENT);
  EXPECT_EQ(err_of(m.rmdir_check("/a")), ENOTEMPTY);  // the file is still there
  ASSERT_TRUE(m.unlink("/a/f").ok());
  EXPECT_TRUE(m.rmdir_check("/a").is_ok());
  ASSERT_TRUE(m.rmdir("/a").is_ok());
  EXPECT_EQ(err_of(m.lookup("/a")), ENOENT);
  EXPECT_EQ(m.stats().dirs, 1u);
  EXPECT_EQ(m.stats().files, 0u);
  auto root = m.readdir("/", 0, 100, 1 << 16);
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(root->entries.empty());
}

TEST(MetadataStore, ReaddirErrorsAndKinds) {
  MetadataStore m(0, 1);
  ASSERT_TRUE(m.create("/f", 0644, true).ok());
  ASSERT_TRUE(m.mkdir("/d", 0755).is_ok());
  EXPECT_EQ(err_of(m.readdir("/missing", 0, 10, 4096)), ENOENT);
  EXPECT_EQ(err_of(m.readdir("/f", 0, 10, 4096)), ENOTDIR);
  std::map<std::string, bool> kinds;
  auto seen = list_all(m, "/", 10, 4096, nullptr, &kinds);
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen["f"], 1);
  EXPECT_EQ(seen["d"], 1);
  EXPECT_FALSE(kinds["f"]);
  EXPECT_TRUE(kinds["d"]);
  // Names are the last component.
  ASSERT_TRUE(m.create("/d/inner", 0644, true).ok());
  auto p = m.readdir("/d", 0, 10, 4096);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->entries.size(), 1u);
  EXPECT_EQ(p->entries[0].name, "inner");
  EXPECT_TRUE(p->eof);
}

TEST(MetadataStore, ReaddirPagingReturnsEachOnce) {
  MetadataStore m(0, 1);
  ASSERT_TRUE(m.mkdir("/big", 0755).is_ok());
  std::set<std::string> want;
  for (int i = 0; i < 1100; ++i) {
    const std::string name = "entry_" + std::to_string(i);
    if (i % 10 == 0) {
      ASSERT_TRUE(m.mkdir("/big/" + name, 0755).is_ok());
    } else {
      ASSERT_TRUE(m.create("/big/" + name, 0644, true).ok());
    }
    want.insert(name);
  }
  size_t pages = 0;
  std::map<std::string, bool> kinds;
  auto seen = list_all(m, "/big", 7, 1 << 20, &pages, &kinds);
  EXPECT_EQ(seen.size(), want.size());
  for (const auto& [name, count] : seen) {
    EXPECT_EQ(count, 1) << name;
    EXPECT_EQ(want.count(name), 1u) << name;
    EXPECT_EQ(kinds[name], std::stoi(name.substr(6)) % 10 == 0) << name;
  }
  EXPECT_EQ(pages, (1100 + 6) / 7);

  // Pages are in hash order and respect max_entries.
  uint64_t cookie = 0;
  uint64_t last_hash = 0;
  size_t total = 0;
  for (;;) {
    auto p = m.readdir("/big", cookie, 13, 1 << 20);
    ASSERT_TRUE(p.ok());
    EXPECT_LE(p->entries.size(), 13u);
    for (const auto& e : p->entries) {
      const uint64_t h = path_hash(e.name);
      EXPECT_GE(h, last_hash);
      EXPECT_GE(h, cookie);
      last_hash = h;
    }
    total += p->entries.size();
    if (p->eof) break;
    EXPECT_EQ(p->entries.size(), 13u);
    cookie = p->next_cookie;
  }
  EXPECT_EQ(total, 1100u);

  // A byte budget limits the page; a name longer than the budget still comes
  // alone, so paging progresses.
  seen = list_all(m, "/big", 1000, 40, &pages);
  EXPECT_EQ(seen.size(), 1100u);
  EXPECT_GE(pages, 1100u * 9 / 40);
  auto p = m.readdir("/big", 0, 1000, 40);
  ASSERT_TRUE(p.ok());
  size_t bytes = 0;
  for (const auto& e : p->entries) bytes += e.name.size();
  EXPECT_LE(bytes, 40u);
  seen = list_all(m, "/big", 1000, 1, &pages);
  EXPECT_EQ(seen.size(), 1100u);
  EXPECT_EQ(pages, 1100u);
  // max_entries 0 still makes progress (one entry per page).
  seen = list_all(m, "/big", 0, 1 << 20, &pages);
  EXPECT_EQ(seen.size(), 1100u);
  EXPECT_EQ(pages, 1100u);
}

TEST(MetadataStore, ReaddirPagingWhileChanging) {
  MetadataStore m(0, 1);
  std::set<std::string> originals;
  for (int i = 0; i < 1000; ++i) {
    const std::string name = "o" + std::to_string(i);
    ASSERT_TRUE(m.create("/" + name, 0644, true).ok());
    originals.insert(name);
  }
  std::map<std::string, int> seen;
  uint64_t cookie = 0;
  int added = 0;
  for (int guard = 0; guard < 10000; ++guard) {
    auto p = m.readdir("/", cookie, 9, 1 << 20);
    ASSERT_TRUE(p.ok());
    for (const auto& e : p->entries) ++seen[e.name];
    // Changes between pages: new files, and removal of one already listed.
    for (int k = 0; k < 5; ++k) {
      ASSERT_TRUE(m.create("/n" + std::to_string(added++), 0644, true).ok());
    }
    if (!p->entries.empty() && p->entries[0].name[0] == 'n') {
      ASSERT_TRUE(m.unlink("/" + p->entries[0].name).ok());
    }
    if (p->eof) break;
    cookie = p->next_cookie;
  }
  for (const auto& name : originals) EXPECT_EQ(seen[name], 1) << name;
  for (const auto& [name, count] : seen) EXPECT_EQ(count, 1) << name;
  EXPECT_GT(added, 0);
}

TEST(MetadataStore, SubdirectoryListedOnlyByOwner) {
  constexpr uint32_t kServers = 2;
  MetadataStore s0(0, kServers);
  MetadataStore s1(1, kServers);
  std::set<std::string> dirs;
  for (int i = 0; i < 40; ++i) {
    const std::string path = "/dir" + std::to_string(i);
    ASSERT_TRUE(s0.mkdir(path, 0755).is_ok());
    ASSERT_TRUE(s1.mkdir(path, 0755).is_ok());
    dirs.insert(path.substr(1));
  }
  auto l0 = list_all(s0, "/", 5, 1 << 20);
  auto l1 = list_all(s1, "/", 5, 1 << 20);
  size_t owned_by_0 = 0;
  for (const auto& name : dirs) {
    const uint32_t owner = metadata_owner("/" + name, kServers);
    owned_by_0 += owner == 0 ? 1 : 0;
    EXPECT_EQ(l0.count(name), owner == 0 ? 1u : 0u) << name;
    EXPECT_EQ(l1.count(name), owner == 1 ? 1u : 0u) << name;
  }
  EXPECT_EQ(l0.size() + l1.size(), dirs.size());  // merged: each once
  EXPECT_GT(owned_by_0, 0u);                      // both servers list some
  EXPECT_LT(owned_by_0, dirs.size());
  // Both hold every directory, listed or not.
  EXPECT_EQ(s0.stats().dirs, 41u);
  EXPECT_EQ(s1.stats().dirs, 41u);
  for (const auto& name : dirs) EXPECT_TRUE(s0.lookup("/" + name).ok());

  // A directory whose subdirectory is owned by the other server is empty
  // here (rmdir goes to all servers, each checks its own listing).
  std::string parent;
  for (const auto& name : dirs) {
    if (metadata_owner("/" + name + "/sub", kServers) == 1) {
      parent = "/" + name;
      break;
    }
  }
  ASSERT_FALSE(parent.empty());
  ASSERT_TRUE(s0.mkdir(parent + "/sub", 0755).is_ok());
  ASSERT_TRUE(s1.mkdir(parent + "/sub", 0755).is_ok());
  EXPECT_TRUE(s0.rmdir_check(parent).is_ok());
  EXPECT_EQ(err_of(s1.rmdir_check(parent)), ENOTEMPTY);

  // Files are always listed where they live, whatever the path hash says.
  std::string foreign;
  for (int i = 0;; ++i) {
    foreign = "/file" + std::to_string(i);
    if (metadata_owner(foreign, kServers) == 1) break;
  }
  ASSERT_TRUE(s0.create(foreign, 0644, true).ok());
  EXPECT_EQ(list_all(s0, "/", 5, 1 << 20).count(foreign.substr(1)), 1u);
}

TEST(MetadataStore, RenameMovesAndReplaces) {
  MetadataStore m(0, 1);
  ASSERT_TRUE(m.mkdir("/d", 0755).is_ok());
  auto a = m.create("/a", 0644, true);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(m.extend_size("/a", a->inode.ino, 123).ok());
  const Inode before = *m.lookup("/a");

  auto r = m.rename("/a", "/d/b");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->moved.ino, before.ino);
  EXPECT_FALSE(r->replaced.has_value());
  EXPECT_EQ(err_of(m.lookup("/a")), ENOENT);
  auto b = m.lookup("/d/b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->ino, before.ino);
  EXPECT_EQ(b->size, 123u);
  EXPECT_EQ(b->mtime_ns, before.mtime_ns);
  auto root = list_all(m, "/", 10, 4096);
  EXPECT_EQ(root.count("a"), 0u);
  EXPECT_EQ(root.count("d"), 1u);
  auto dl = list_all(m, "/d", 10, 4096);
  EXPECT_EQ(dl.size(), 1u);
  EXPECT_EQ(dl["b"], 1);
  EXPECT_EQ(m.stats().files, 1u);

  // Replacing an existing file returns it.
  auto c = m.create("/d/c", 0600, true);
  ASSERT_TRUE(c.ok());
  r = m.rename("/d/b", "/d/c");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->replaced.has_value());
  EXPECT_EQ(r->replaced->ino, c->inode.ino);
  EXPECT_EQ(r->moved.ino, before.ino);
  EXPECT_EQ(m.lookup("/d/c")->ino, before.ino);
  EXPECT_EQ(m.lookup("/d/c")->mode, before.mode);
  EXPECT_EQ(err_of(m.lookup("/d/b")), ENOENT);
  dl = list_all(m, "/d", 10, 4096);
  EXPECT_EQ(dl.size(), 1u);
  EXPECT_EQ(dl["c"], 1);
  EXPECT_EQ(m.stats().files, 1u);

  // src == dst: nothing changes.
  r = m.rename("/d/c", "/d/c");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->moved.ino, before.ino);
  EXPECT_FALSE(r->replaced.has_value());
  EXPECT_TRUE(m.lookup("/d/c").ok());
  EXPECT_EQ(list_all(m, "/d", 10, 4096).size(), 1u);

  // Errors leave both sides alone.
  EXPECT_EQ(err_of(m.rename("/missing", "/x")), ENOENT);
  EXPECT_EQ(err_of(m.rename("/d", "/e")), EXDEV);
  EXPECT_EQ(err_of(m.rename("/d/c", "/d")), EISDIR);
  EXPECT_EQ(err_of(m.rename("/d/c", "/")), EISDIR);
  EXPECT_EQ(err_of(m.rename("/d/c", "/nodir/x")), ENOENT);
  EXPECT_EQ(err_of(m.rename("/d/c", "/d/c/x")), ENOTDIR);
  EXPECT_EQ(m.lookup("/d/c")->ino, before.ino);
  EXPECT_EQ(m.stats().files, 1u);
  EXPECT_TRUE(m.lookup("/d").ok());
}

TEST(MetadataStore, DetachAttachRoundTrip) {
  MetadataStore src(0, 2);
  MetadataStore dst(1, 2);
  ASSERT_TRUE(src.mkdir("/d", 0755).is_ok());
  ASSERT_TRUE(dst.mkdir("/d", 0755).is_ok());
  auto c = src.create("/d/f", 0640, true);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(src.extend_size("/d/f", c->inode.ino, 4096).ok());
  const Inode in = *src.lookup("/d/f");

  EXPECT_EQ(err_of(src.detach("/d")), EXDEV);
  EXPECT_EQ(err_of(src.detach("/d/nope")), ENOENT);
  auto det = src.detach("/d/f");
  ASSERT_TRUE(det.ok());
  EXPECT_EQ(det->ino, in.ino);
  EXPECT_EQ(det->size, 4096u);
  EXPECT_EQ(err_of(src.lookup("/d/f")), ENOENT);
  EXPECT_TRUE(list_all(src, "/d", 10, 4096).empty());
  EXPECT_EQ(src.stats().files, 0u);

  // Attach: the inode unchanged (number, size, times, mode).
  EXPECT_EQ(err_of(dst.attach("/d", *det)), EISDIR);
  EXPECT_EQ(err_of(dst.attach("/nodir/g", *det)), ENOENT);
  auto att = dst.attach("/d/g", *det);
  ASSERT_TRUE(att.ok());
  EXPECT_FALSE(att->replaced.has_value());
  auto g = dst.lookup("/d/g");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->ino, in.ino);
  EXPECT_EQ(inode_owner(g->ino), 0u);
  EXPECT_EQ(g->size, in.size);
  EXPECT_EQ(g->mode, in.mode);
  EXPECT_EQ(g->atime_ns, in.atime_ns);
  EXPECT_EQ(g->mtime_ns, in.mtime_ns);
  EXPECT_EQ(g->ctime_ns, in.ctime_ns);
  EXPECT_EQ(list_all(dst, "/d", 10, 4096)["g"], 1);
  EXPECT_EQ(dst.stats().files, 1u);
  // The extend check uses the unchanged inode number.
  EXPECT_TRUE(dst.extend_size("/d/g", in.ino, 5000).ok());

  // Attach over an existing file replaces it.
  auto h = dst.create("/d/h", 0644, true);
  ASSERT_TRUE(h.ok());
  auto g2 = dst.detach("/d/g");
  ASSERT_TRUE(g2.ok());
  att = dst.attach("/d/h", *g2);
  ASSERT_TRUE(att.ok());
  ASSERT_TRUE(att->replaced.has_value());
  EXPECT_EQ(att->replaced->ino, h->inode.ino);
  EXPECT_EQ(dst.lookup("/d/h")->ino, in.ino);
  auto listing = list_all(dst, "/d", 10, 4096);
  EXPECT_EQ(listing.size(), 1u);
  EXPECT_EQ(listing["h"], 1);
  EXPECT_EQ(dst.stats().files, 1u);

  // Undo of a detach: attach back at the source.
  auto back = src.attach("/d/f", in);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(src.lookup("/d/f")->ino, in.ino);
  EXPECT_EQ(list_all(src, "/d", 10, 4096)["f"], 1);
  EXPECT_EQ(src.stats().files, 1u);
}

TEST(MetadataStore, StatsCount) {
  MetadataStore m(0, 1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(m.mkdir("/d" + std::to_string(i), 0755).is_ok());
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(m.create("/d0/f" + std::to_string(i), 0644, true).ok());
  EXPECT_EQ(m.stats().dirs, 6u);
  EXPECT_EQ(m.stats().files, 7u);
  ASSERT_TRUE(m.create("/d0/f0", 0644, false).ok());  // open, not a new file
  EXPECT_EQ(m.stats().files, 7u);
  ASSERT_TRUE(m.rmdir("/d4").is_ok());
  ASSERT_TRUE(m.unlink("/d0/f6").ok());
  ASSERT_TRUE(m.rename("/d0/f0", "/d0/f1").ok());
  EXPECT_EQ(m.stats().dirs, 5u);
  EXPECT_EQ(m.stats().files, 5u);
  EXPECT_EQ(err_of(m.mkdir("/d0", 0755)), EEXIST);
  EXPECT_EQ(m.stats().dirs, 5u);
}

TEST(MetadataStore, ConcurrentCreatesAndUnlinks) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  MetadataStore m(2, 4);
  ASSERT_TRUE(m.mkdir("/c", 0755).is_ok());
  std::atomic<int> failures{0};
  std::atomic<bool> stop{false};
  std::vector<std::vector<uint64_t>> inos(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string p = "/c/t" + std::to_string(t) + "_" + std::to_string(i);
        auto c = m.create(p, 0644, true);
        if (!c.ok()) {
          failures.fetch_add(1);
          continue;
        }
        inos[t].push_back(c->inode.ino);
        if (!m.extend_size(p, c->inode.ino, static_cast<uint64_t>(i)).ok()) failures.fetch_add(1);
        // Every other file goes again; everyone also opens a shared one.
        if (i % 2 == 1 && !m.unlink(p).ok()) failures.fetch_add(1);
        if (!m.create("/c/shared", 0644, false).ok()) failures.fetch_add(1);
      }
    });
  }
  std::thread reader([&] {
    while (!stop.load()) {
      auto seen = list_all(m, "/c", 16, 1 << 20);
      for (const auto& [name, count] : seen) {
        if (count != 1) failures.fetch_add(1);
      }
      (void)m.lookup("/c/t0_0");
      (void)m.stats();
    }
  });
  for (auto& th : ts) th.join();
  stop.store(true);
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(m.stats().files, static_cast<uint64_t>(kThreads * kPerThread / 2 + 1));
  auto seen = list_all(m, "/c", 50, 1 << 20);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread / 2 + 1));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; i += 2) {
      const std::string name = "t" + std::to_string(t) + "_" + std::to_string(i);
      EXPECT_EQ(seen[name], 1) << name;
      auto l = m.lookup("/c/" + name);
      ASSERT_TRUE(l.ok());
      EXPECT_EQ(l->size, static_cast<uint64_t>(i));
    }
  }
  std::set<uint64_t> unique;
  for (const auto& v : inos) unique.insert(v.begin(), v.end());
  EXPECT_EQ(unique.size(), static_cast<size_t>(kThreads * kPerThread));
}
