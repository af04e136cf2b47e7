// Randomized model test of the file-system C API: 4 client threads of one
// process run thousands of random operations against 2 real benchfsd_mt
// servers (chunk 64 KiB), each thread in its own subtree /t<i>, and compare
// every result (data, sizes, types, listings, errno) with an in-memory model.
// Then all threads write disjoint ranges of one shared file, verified byte by
// byte. A second test races the threads on the same names (one winner, no
// orphan file in a removed directory, no data left on the servers).
//
// The seed is printed and recorded; BENCHFS_MODEL_SEED=<n> replays a run,
// BENCHFS_MODEL_OPS=<n> sets the operations per thread (default 2000).

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "benchfs/benchfs.h"
#include "fault_common.hpp"
#include "fs_fixture.hpp"
#include "fs_listing.hpp"
#include "harness.hpp"

using benchfs::faults::pattern_byte;
using benchfs::test::JobOptions;

namespace {

constexpr uint64_t kChunk = 64 * 1024;
constexpr int kThreads = 4;
constexpr uint64_t kSparseBase = 5ull << 30;  // the rare writes beyond 4 GiB
constexpr size_t kMaxIo = 300 * 1024;

std::string errname(int e) {
  if (e == 0) return "success";
  const char* n = strerrorname_np(e);
  return n != nullptr ? std::string(n) : "errno " + std::to_string(e);
}

uint64_t env_u64(const char* name, uint64_t dflt) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 0) : dflt;
}

// ------------------------------------------------------------------ model

/// File contents as 4 KiB pages (absent pages read as zeros), so that files
/// of several GiB with a few written pages stay small.
class SparseBytes {
 public:
  static constexpr uint64_t kPage = 4096;

  [[nodiscard]] uint64_t size() const { return size_; }

  void write(uint64_t off, const uint8_t* p, size_t n) {
    size_t done = 0;
    while (done < n) {
      const uint64_t pos = off + done;
      auto& page = pages_[pos / kPage];
      if (page.empty()) page.assign(kPage, 0);
      const size_t in = static_cast<size_t>(pos % kPage);
      const size_t k = std::min(n - done, static_cast<size_t>(kPage) - in);
      std::memcpy(page.data() + in, p + done, k);
      done += k;
    }
    size_ = std::max(size_, off + n);
  }

  /// Bytes [off, off + n) regardless of the size (zeros where unwritten).
  void read(uint64_t off, uint8_t* p, size_t n) const {
    if (n == 0) return;
    std::memset(p, 0, n);
    for (auto it = pages_.lower_bound(off / kPage); it != pages_.end() && it->first * kPage < off + n; ++it) {
      const uint64_t start = std::max(off, it->first * kPage);
      const uint64_t end = std::min(off + n, (it->first + 1) * kPage);
      std::memcpy(p + (start - off), it->second.data() + (start - it->first * kPage), end - start);
    }
  }

  void truncate(uint64_t len) {
    if (len < size_) {
      pages_.erase(pages_.lower_bound((len + kPage - 1) / kPage), pages_.end());
      if (auto it = pages_.find(len / kPage); it != pages_.end() && len % kPage != 0) {
        std::memset(it->second.data() + len % kPage, 0, kPage - len % kPage);
      }
    }
    size_ = len;
  }

  /// Offsets of the written pages (ascending), for checking large files.
  [[nodiscard]] std::vector<uint64_t> page_offsets() const {
    std::vector<uint64_t> out;
    for (const auto& [idx, page] : pages_) out.push_back(idx * kPage);
    return out;
  }

 private:
  std::map<uint64_t, std::vector<uint8_t>> pages_;
  uint64_t size_ = 0;
};

struct Node {
  bool dir = false;
  SparseBytes data;
};

std::string parent_of(const std::string& p) {
  const size_t slash = p.rfind('/');
  return slash == 0 ? "/" : p.substr(0, slash);
}

/// Depth below "/" ("/t0" is 1).
int depth_of(const std::string& p) { return static_cast<int>(std::count(p.begin(), p.end(), '/')); }

/// One thread's subtree. Paths are absolute; the root /t<i> always exists.
class Model {
 public:
  explicit Model(std::string root) : root_(std::move(root)) { nodes_[root_].dir = true; }

  [[nodiscard]] const std::string& root() const { return root_; }
  Node* find(const std::string& p) {
    auto it = nodes_.find(p);
    return it == nodes_.end() ? nullptr : &it->second;
  }
  [[nodiscard]] const std::map<std::string, Node>& nodes() const { return nodes_; }

  /// 0 if every ancestor of p is an existing directory, else ENOENT (the
  /// first missing one) or ENOTDIR (the first that is a file). Ancestors
  /// above the root always exist.
  int parent_state(const std::string& p) const {
    for (size_t slash = root_.size(); slash < p.size(); slash = p.find('/', slash + 1)) {
      if (slash == std::string::npos) break;
      const std::string anc = p.substr(0, slash);
      auto it = nodes_.find(anc);
      if (it == nodes_.end()) return ENOENT;
      if (!it->second.dir) return ENOTDIR;
    }
    return 0;
  }

  [[nodiscard]] std::map<std::string, unsigned char> children(const std::string& dir) const {
    std::map<std::string, unsigned char> out;
    const std::string prefix = dir + "/";
    for (auto it = nodes_.lower_bound(prefix);
         it != nodes_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      if (it->first.find('/', prefix.size()) == std::string::npos) {
        out[it->first.substr(prefix.size())] = it->second.dir ? DT_DIR : DT_REG;
      }
    }
    return out;
  }

  [[nodiscard]] std::vector<std::string> paths(bool dirs) const {
    std::vector<std::string> out;
    for (const auto& [p, n] : nodes_) {
      if (n.dir == dirs) out.push_back(p);
    }
    return out;
  }

  Node& create_file(const std::string& p) {
    Node& n = nodes_[p];
    n.dir = false;
    return n;
  }
  void make_dir(const std::string& p) { nodes_[p].dir = true; }
  void erase(const std::string& p) { nodes_.erase(p); }
  void move(const std::string& from, const std::string& to) {
    Node n = std::move(nodes_.at(from));
    nodes_.erase(from);
    nodes_[to] = std::move(n);
  }

 private:
  std::string root_;
  std::map<std::string, Node> nodes_;
};

// ------------------------------------------------------------------ worker

using Errs = std::set<int>;  // acceptable errno values; empty: must succeed

std::string errs_text(const Errs& e) {
  if (e.empty()) return "success";
  std::string out;
  for (int x : e) out += (out.empty() ? "" : "|") + errname(x);
  return out;
}

struct Mismatch {
  std::string what;
};

class Worker {
 public:
  Worker(int index, uint64_t seed, int ops)
      : index_(index),
        seed_(seed),
        ops_(ops),
        rng_(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(index) + 1),
        model_("/t" + std::to_string(index)) {}

  /// Runs the random operations, then checks the whole subtree. Returns ""
  /// or a description of the first difference.
  std::string run() {
    try {
      if (benchfs_mkdir(model_.root().c_str(), 0755) != 0) fail("mkdir " + model_.root() + ": " + syserr());
      for (op_ = 0; op_ < ops_; ++op_) step();
      op_ = -1;
      verify_all();
    } catch (const Mismatch& m) {
      std::ostringstream out;
      out << "seed " << seed_ << " (replay: BENCHFS_MODEL_SEED=" << seed_ << "), thread " << index_;
      if (op_ >= 0) {
        out << ", op #" << op_;
      } else {
        out << ", final check";
      }
      out << ": " << m.what << "\n  recent operations of this thread:\n";
      for (const auto& h : history_) out << "    " << h << "\n";
      return out.str();
    }
    return "";
  }

  [[nodiscard]] uint64_t ops_done() const { return done_; }
  /// Checked outcomes: "call" (successes) or "call ERRNO" -> count.
  [[nodiscard]] const std::map<std::string, uint64_t>& tally() const { return tally_; }
  [[nodiscard]] uint64_t bytes_written() const { return written_; }

 private:
  // ---------------------------------------------------------- randomness
  uint64_t rnd(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + rnd(hi - lo + 1); }
  bool chance(unsigned percent) { return rnd(100) < percent; }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(rnd(v.size()))];
  }

  void fill_random(std::vector<uint8_t>& buf) {
    uint64_t x = rng_();
    for (size_t i = 0; i < buf.size(); i += 8) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      std::memcpy(buf.data() + i, &x, std::min<size_t>(8, buf.size() - i));
    }
  }

  // A name from a small pool shared by files and directories, so that
  // operations collide with what exists (EEXIST, EISDIR, ENOTDIR, replace).
  std::string name() {
    static const char* const kNames[] = {"a", "b", "c", "d", "e", "f", "g"};
    return kNames[rnd(7)];
  }

  // A path under an existing directory (10%: under a child of one, which may
  // be missing or a file). Dirs at most 3 levels below the root.
  std::string any_path() {
    const auto dirs = model_.paths(true);
    std::string dir = pick(dirs);
    std::string p = dir + "/" + name();
    if (chance(10)) p += "/" + name();
    return p;
  }

  std::string existing(bool dirs, unsigned percent) {
    if (chance(percent)) {
      auto v = model_.paths(dirs);
      if (dirs) v.erase(std::remove(v.begin(), v.end(), model_.root()), v.end());
      if (!v.empty()) return pick(v);
    }
    return any_path();
  }

  // An existing directory that is neither `p` nor below it.
  std::string outside(const std::string& p) {
    std::vector<std::string> v;
    for (const auto& d : model_.paths(true)) {
      if (d != p && d.compare(0, p.size() + 1, p + "/") != 0) v.push_back(d);
    }
    return pick(v);
  }

  uint64_t io_size() {
    const uint64_t r = rnd(100);
    if (r < 45) return range(1, 4096);
    if (r < 80) return range(4097, 100 * 1024);
    return range(100 * 1024 + 1, kMaxIo);
  }

  uint64_t io_offset(uint64_t size) {
    const uint64_t r = rnd(100);
    if (r < 20) {  // just before or after a chunk boundary
      const uint64_t boundary = range(1, 16) * kChunk;
      return chance(50) ? boundary - range(0, 300) : boundary + range(0, 300);
    }
    if (r < 35 && size > 0) return range(size > 4096 ? size - 4096 : 0, size + 4096);  // around EOF
    return range(0, 1 << 20);
  }

  // ---------------------------------------------------------- checking
  [[noreturn]] void fail(const std::string& what) { throw Mismatch{what}; }

  static std::string syserr() { return errname(errno) + " (" + benchfs_last_error() + ")"; }

  void note(const std::string& what) {
    history_.push_back("#" + std::to_string(op_) + " " + what);
    if (history_.size() > 12) history_.pop_front();
  }

  // Checks the outcome of a call against the acceptable errno set.
  void expect(long long rc, int err, const Errs& want, const std::string& what) {
    ++tally_[what.substr(0, what.find('(')) + (want.empty() ? "" : " " + errname(*want.begin()))];
    if (want.empty()) {
      if (rc < 0)
        fail(what + ": failed with " + errname(err) + " (" + benchfs_last_error() + "), expected success");
      return;
    }
    if (rc >= 0) fail(what + ": succeeded (" + std::to_string(rc) + "), expected " + errs_text(want));
    if (rc != -1) fail(what + ": returned " + std::to_string(rc) + ", expected -1");
    if (want.count(err) == 0) {
      fail(what + ": failed with " + errname(err) + " (" + benchfs_last_error() + "), expected " +
           errs_text(want));
    }
  }

  // benchfs_open(p, flags, mode), checked as expect() checks a call: the
  // descriptor, or < 0 when it failed (as wanted or not).
  int open_checked(const std::string& p, int flags, mode_t mode, const Errs& want, const std::string& what) {
    errno = 0;
    const int fd = benchfs_open(p.c_str(), flags, mode);
    const int open_err = errno;
    expect(fd, open_err, want, what);
    return fd;
  }

  // Runs `call` and checks its outcome (errno read right after it).
  template <class F>
  void expect_call(F&& call, const Errs& want, const std::string& what) {
    errno = 0;
    const long long rc = call();
    const int err = errno;
    expect(rc, err, want, what);
  }

  // Errors for a path whose parent chain is bad: `strict` calls document
  // ENOTDIR for a file parent; others may answer ENOENT as well.
  Errs parent_errs(int ps, bool strict) {
    if (ps == ENOTDIR && !strict) return {ENOTDIR, ENOENT};
    return {ps};
  }

  enum class Kind { kAny, kFile, kDir };
  // What an op on the existing entry p (model node n, null if missing) must
  // fail with: the parent's error, ENOENT, or EISDIR / ENOTDIR when p is not
  // of `kind`; empty when it must succeed as far as lookup goes.
  Errs lookup_errs(const std::string& p, const Node* n, Kind kind, bool strict) {
    const int ps = model_.parent_state(p);
    if (ps != 0) return parent_errs(ps, strict);
    if (n == nullptr) return {ENOENT};
    if (kind == Kind::kFile && n->dir) return {EISDIR};
    if (kind == Kind::kDir && !n->dir) return {ENOTDIR};
    return {};
  }

  void compare_stat(const std::string& p, const Node& n, const struct stat& st, const std::string& what) {
    if (n.dir != S_ISDIR(st.st_mode) || (!n.dir && !S_ISREG(st.st_mode))) {
      fail(what + ": mode " + std::to_string(st.st_mode) + ", expected a " + (n.dir ? "directory" : "file"));
    }
    if (!n.dir && static_cast<uint64_t>(st.st_size) != n.data.size()) {
      fail(what + ": " + p + " has size " + std::to_string(st.st_size) + ", expected " +
           std::to_string(n.data.size()));
    }
  }

  // Reads [off, off + len) through fd and compares with the model.
  void check_read(int fd, const Node& n, uint64_t off, size_t len, const std::string& what) {
    std::vector<uint8_t> got(len, 0xEE);
    errno = 0;
    const ssize_t r = benchfs_pread(fd, got.data(), len, static_cast<off_t>(off));
    const uint64_t size = n.data.size();
    const size_t want = off >= size ? 0 : static_cast<size_t>(std::min<uint64_t>(len, size - off));
    if (r != static_cast<ssize_t>(want)) {
      fail(what + ": pread(" + std::to_string(len) + " at " + std::to_string(off) + ") returned " +
           std::to_string(r) + (r < 0 ? " " + syserr() : "") + ", expected " + std::to_string(want) +
           " (size " + std::to_string(size) + ")");
    }
    std::vector<uint8_t> exp(want);
    n.data.read(off, exp.data(), want);
    for (size_t i = 0; i < want; ++i) {
      if (got[i] != exp[i]) {
        fail(what + ": pread(" + std::to_string(len) + " at " + std::to_string(off) + "): byte at offset " +
             std::to_string(off + i) + " is " + std::to_string(got[i]) + ", expected " +
             std::to_string(exp[i]));
      }
    }
  }

  // ---------------------------------------------------------- operations
  void step() {
    ++done_;
    const uint64_t r = rnd(100);
    if (r < 12) return op_create();
    if (r < 34) return op_write();
    if (r < 52) return op_read();
    if (r < 59) return op_truncate();
    if (r < 67) return op_rename();
    if (r < 73) return op_unlink();
    if (r < 79) return op_mkdir();
    if (r < 84) return op_rmdir();
    if (r < 91) return op_readdir();
    return op_stat();
  }

  void op_create() {
    const std::string p = existing(false, 30);
    int flags = (chance(30) ? O_RDWR : O_WRONLY) | O_CREAT;
    if (chance(25)) flags |= O_EXCL;
    if (chance(25)) flags |= O_TRUNC;
    const bool excl = (flags & O_EXCL) != 0;
    const std::string what = "open(" + p + ", O_CREAT" + (excl ? "|O_EXCL" : "") +
                             (flags & O_TRUNC ? "|O_TRUNC" : "") +
                             ((flags & O_ACCMODE) == O_RDWR ? "|O_RDWR" : "|O_WRONLY") + ")";
    note(what);
    Errs want;
    const int ps = model_.parent_state(p);
    Node* n = model_.find(p);
    if (ps != 0) {
      want = parent_errs(ps, true);
    } else if (n != nullptr && n->dir) {
      want = excl ? Errs{EEXIST, EISDIR} : Errs{EISDIR};  // both apply with O_EXCL
    } else if (n != nullptr && excl) {
      want = {EEXIST};
    }
    const int fd = open_checked(p, flags, 0644, want, what);
    if (fd < 0) return;
    Node& f = n != nullptr ? *n : model_.create_file(p);
    if (flags & O_TRUNC) f.data.truncate(0);
    if (chance(40)) {
      struct stat st {};
      if (benchfs_fstat(fd, &st) != 0) fail(what + ": fstat: " + syserr());
      compare_stat(p, f, st, what + ": fstat");
    }
    if (benchfs_close(fd) != 0) fail(what + ": close: " + syserr());
  }

  void op_write() {
    const std::string p = existing(false, 75);
    const bool append = chance(10);
    const bool rdwr = chance(30);
    const int flags = (rdwr ? O_RDWR : O_WRONLY) | (append ? O_APPEND : 0);
    const std::string what =
        std::string("open(") + p + (rdwr ? ", O_RDWR" : ", O_WRONLY") + (append ? "|O_APPEND" : "") + ")";
    note(what);
    Node* n = model_.find(p);
    const int fd = open_checked(p, flags, 0, lookup_errs(p, n, Kind::kFile, true), what);
    if (fd < 0) return;
    const int writes = static_cast<int>(range(1, 3));
    for (int w = 0; w < writes; ++w) {
      std::vector<uint8_t> buf;
      uint64_t off = 0;
      if (chance(1)) {  // rare: a small write far beyond 4 GiB
        buf.resize(range(1, 4096));
        off = kSparseBase + range(0, 1 << 20);
      } else {
        buf.resize(io_size());
        off = io_offset(n->data.size());
      }
      fill_random(buf);
      std::string desc;
      ssize_t rc = 0;
      errno = 0;
      if (append) {
        off = n->data.size();
        desc = "write(" + std::to_string(buf.size()) + ") with O_APPEND at size " + std::to_string(off);
        rc = benchfs_write(fd, buf.data(), buf.size());
      } else {
        desc = "pwrite(" + std::to_string(buf.size()) + " at " + std::to_string(off) + ")";
        rc = benchfs_pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(off));
      }
      note("  " + desc);
      if (rc != static_cast<ssize_t>(buf.size())) {
        fail(what + ": " + desc + " returned " + std::to_string(rc) + (rc < 0 ? " " + syserr() : ""));
      }
      n->data.write(off, buf.data(), buf.size());
      written_ += buf.size();
    }
    if (chance(30)) {
      struct stat st {};
      if (benchfs_fstat(fd, &st) != 0) fail(what + ": fstat: " + syserr());
      compare_stat(p, *n, st, what + ": fstat before close");
    }
    if (rdwr && chance(50)) {  // read back through the writing descriptor
      const uint64_t off = io_offset(n->data.size());
      check_read(fd, *n, off, io_size(), what + ": read through the writer");
    }
    if (benchfs_close(fd) != 0) fail(what + ": close: " + syserr());
  }

  void op_read() {
    std::string p = existing(false, 80);
    Node* n = model_.find(p);
    if (n != nullptr && n->dir) return op_stat_of(p);
    const std::string what = "open(" + p + ", O_RDONLY)";
    note(what);
    const int fd = open_checked(p, O_RDONLY, 0, lookup_errs(p, n, Kind::kAny, true), what);
    if (fd < 0) return;
    const int reads = static_cast<int>(range(1, 3));
    const uint64_t size = n->data.size();
    for (int i = 0; i < reads; ++i) {
      uint64_t off = 0;
      const auto pages = n->data.page_offsets();
      if (size > (64u << 20) && !pages.empty() && chance(70)) {
        const uint64_t page = pick(pages);  // near the data of a sparse file
        off = page - std::min<uint64_t>(page, range(0, 8192));
      } else if (chance(15)) {
        off = size + range(0, 200000);  // past EOF
      } else {
        off = range(0, size + 1000);
      }
      const size_t len = io_size();
      note("  pread(" + std::to_string(len) + " at " + std::to_string(off) + ")");
      check_read(fd, *n, off, len, what);
    }
    if (chance(20)) {
      const off_t end = benchfs_lseek(fd, 0, SEEK_END);
      if (end != static_cast<off_t>(size)) {
        fail(what + ": lseek(SEEK_END) returned " + std::to_string(end) + ", size " + std::to_string(size));
      }
      // Sequential read from an offset.
      const uint64_t start = range(0, size);
      if (benchfs_lseek(fd, static_cast<off_t>(start), SEEK_SET) != static_cast<off_t>(start)) {
        fail(what + ": lseek(SEEK_SET) " + syserr());
      }
      const size_t len = io_size();
      std::vector<uint8_t> got(len);
      const ssize_t rd = benchfs_read(fd, got.data(), len);
      const size_t want_n = static_cast<size_t>(std::min<uint64_t>(len, size - start));
      if (rd != static_cast<ssize_t>(want_n)) {
        fail(what + ": read(" + std::to_string(len) + ") at position " + std::to_string(start) +
             " returned " + std::to_string(rd));
      }
      std::vector<uint8_t> exp(want_n);
      n->data.read(start, exp.data(), want_n);
      if (want_n > 0 && std::memcmp(got.data(), exp.data(), want_n) != 0)
        fail(what + ": read at position: data differs");
      if (benchfs_lseek(fd, 0, SEEK_CUR) != static_cast<off_t>(start + want_n)) {
        fail(what + ": the position did not advance by the bytes read");
      }
    }
    if (benchfs_close(fd) != 0) fail(what + ": close: " + syserr());
  }

  void op_truncate() {
    const std::string p = existing(false, 80);
    Node* n = model_.find(p);
    uint64_t len = 0;
    const uint64_t size = n != nullptr && !n->dir ? n->data.size() : 0;
    const uint64_t r = rnd(100);
    if (r < 40) {
      len = range(0, size);
    } else if (r < 80) {
      len = size + range(0, 200000);
    } else if (r < 90) {
      len = range(0, 16) * kChunk;
    }
    const std::string what = "truncate(" + p + ", " + std::to_string(len) + ")";
    note(what);
    const Errs want = lookup_errs(p, n, Kind::kFile, false);
    errno = 0;
    expect_call([&] { return benchfs_truncate(p.c_str(), static_cast<off_t>(len)); }, want, what);
    if (want.empty()) n->data.truncate(len);
  }

  void op_rename() {
    std::string from;
    std::string to;
    const uint64_t r = rnd(100);
    Errs want;
    if (r < 10) {  // a directory: EXDEV (into a directory outside it: not EINVAL)
      from = existing(true, 100);
      to = outside(from) + "/zz";
      Node* n = model_.find(from);
      const int ps = model_.parent_state(from);
      if (ps != 0) {
        want = parent_errs(ps, false);
      } else if (n == nullptr) {
        want = {ENOENT};
      } else if (n->dir) {
        want = {EXDEV};
      } else {
        want = {};
      }
    } else {
      from = existing(false, 85);
      Node* n = model_.find(from);
      const int ps = model_.parent_state(from);
      if (ps != 0 || n == nullptr) {
        to = outside(from) + "/zz";
        want = ps != 0 ? parent_errs(ps, false) : Errs{ENOENT};
      } else if (n->dir) {
        to = outside(from) + "/zz";
        want = {EXDEV};
      } else {
        // Same directory or another one; the target may exist (replaced),
        // be a directory (EISDIR) or have a missing parent (ENOENT).
        to = chance(40) ? parent_of(from) + "/" + name() : any_path();
        if (to == from) to = parent_of(from) + "/zz";
        const int tps = model_.parent_state(to);
        Node* t = model_.find(to);
        if (tps != 0) {
          want = parent_errs(tps, false);
          // Below itself (the file as the new parent): EINVAL as well.
          if (to.compare(0, from.size() + 1, from + "/") == 0) want.insert(EINVAL);
        } else if (t != nullptr && t->dir) {
          want = {EISDIR};
        }
      }
    }
    if (to == from) return;  // renaming onto itself: not specified
    const std::string what = "rename(" + from + ", " + to + ")";
    note(what);
    errno = 0;
    expect_call([&] { return benchfs_rename(from.c_str(), to.c_str()); }, want, what);
    if (want.empty()) model_.move(from, to);
  }

  void op_unlink() {
    const std::string p = existing(false, 70);
    const std::string what = "unlink(" + p + ")";
    note(what);
    const Errs want = lookup_errs(p, model_.find(p), Kind::kFile, false);
    errno = 0;
    expect_call([&] { return benchfs_unlink(p.c_str()); }, want, what);
    if (want.empty()) model_.erase(p);
  }

  void op_mkdir() {
    std::string p = any_path();
    while (depth_of(p) > 4) p = parent_of(p);  // at most /tN/x/y/z
    const std::string what = "mkdir(" + p + ")";
    note(what);
    const int ps = model_.parent_state(p);
    Errs want;
    if (ps != 0) {
      want = parent_errs(ps, true);
    } else if (model_.find(p) != nullptr) {
      want = {EEXIST};
    }
    errno = 0;
    expect_call([&] { return benchfs_mkdir(p.c_str(), 0755); }, want, what);
    if (want.empty()) model_.make_dir(p);
  }

  void op_rmdir() {
    const std::string p = existing(true, 60);
    if (p == model_.root()) return;
    const std::string what = "rmdir(" + p + ")";
    note(what);
    Errs want = lookup_errs(p, model_.find(p), Kind::kDir, false);
    if (want.empty() && !model_.children(p).empty()) want = {ENOTEMPTY};
    errno = 0;
    expect_call([&] { return benchfs_rmdir(p.c_str()); }, want, what);
    if (want.empty()) model_.erase(p);
  }

  void check_listing(const std::string& p, const std::string& what) {
    benchfs::test::Listing got;
    int calls = 0;
    errno = 0;
    const int rc = benchfs::test::list_dir(p, &got, &calls);
    if (rc < 0) fail(what + ": " + syserr());
    const auto want = model_.children(p);
    if (rc != calls || static_cast<size_t>(calls) != got.size()) {
      fail(what + ": returned " + std::to_string(rc) + " after " + std::to_string(calls) + " callbacks for " +
           std::to_string(got.size()) + " distinct names");
    }
    if (got != want) {
      std::string g;
      std::string w;
      for (const auto& [nm, t] : got) g += " " + nm + (t == DT_DIR ? "/" : "");
      for (const auto& [nm, t] : want) w += " " + nm + (t == DT_DIR ? "/" : "");
      fail(what + ": listed {" + g + " }, expected {" + w + " }");
    }
  }

  void op_readdir() {
    const std::string p = existing(true, 80);
    const std::string what = "readdir(" + p + ")";
    note(what);
    Node* n = model_.find(p);
    const Errs want = lookup_errs(p, n, Kind::kDir, false);
    if (!want.empty()) {
      errno = 0;
      expect_call(
          [&] {
            return benchfs_readdir(
                p.c_str(), [](void*, const char*, unsigned char) { return 0; }, nullptr);
          },
          want, what);
      return;
    }
    check_listing(p, what);
  }

  void op_stat() { op_stat_of(chance(50) ? existing(chance(50), 100) : any_path()); }

  void op_stat_of(const std::string& p) {
    const std::string what = "stat(" + p + ")";
    note(what);
    Node* n = model_.find(p);
    const Errs want = lookup_errs(p, n, Kind::kAny, false);
    struct stat st {};
    errno = 0;
    expect_call([&] { return benchfs_stat(p.c_str(), &st); }, want, what);
    if (want.empty()) compare_stat(p, *n, st, what);
    errno = 0;
    expect_call([&] { return benchfs_access(p.c_str(), F_OK); }, want, "access(" + p + ")");
  }

  // Every node of the subtree: type, size, listing, content.
  void verify_all() {
    note("final check of " + model_.root());
    for (const auto& [p, n] : model_.nodes()) {
      struct stat st {};
      if (benchfs_stat(p.c_str(), &st) != 0) fail("stat(" + p + "): " + syserr());
      compare_stat(p, n, st, "stat(" + p + ")");
      if (n.dir) {
        check_listing(p, "readdir(" + p + ")");
        continue;
      }
      const int fd = benchfs_open(p.c_str(), O_RDONLY, 0);
      if (fd < 0) fail("open(" + p + "): " + syserr());
      const uint64_t size = n.data.size();
      if (size <= (8u << 20)) {
        for (uint64_t off = 0; off < size + 1; off += kMaxIo)
          check_read(fd, n, off, kMaxIo, "final read of " + p);
      } else {  // sparse: the written pages, some holes, the end
        for (const uint64_t off : n.data.page_offsets()) check_read(fd, n, off, 4096, "final read of " + p);
        for (int i = 0; i < 8; ++i) check_read(fd, n, range(0, size), 65536, "final hole read of " + p);
        check_read(fd, n, size - std::min<uint64_t>(size, 5000), 10000, "final read of the end of " + p);
      }
      if (benchfs_close(fd) != 0) fail("close(" + p + "): " + syserr());
    }
    // Nothing else at the top of the subtree.
    struct stat st {};
    if (benchfs_stat(model_.root().c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      fail("stat(" + model_.root() + "): " + syserr());
    }
  }

  int index_;
  uint64_t seed_;
  int ops_;
  std::mt19937_64 rng_;
  Model model_;
  int op_ = -1;
  uint64_t done_ = 0;
  uint64_t written_ = 0;
  std::map<std::string, uint64_t> tally_;
  std::deque<std::string> history_;
};

// ------------------------------------------------------------------ fixture

// "" if the file `p` holds exactly `want`.
std::string check_file_bytes(const std::string& p, const std::string& want) {
  const int fd = benchfs_open(p.c_str(), O_RDONLY, 0);
  if (fd < 0) return "open " + p + ": " + errname(errno);
  std::string got(want.size() + 1, '\0');
  const ssize_t r = benchfs_pread(fd, got.data(), got.size(), 0);
  benchfs_close(fd);
  if (r < 0) return "read " + p + ": " + errname(errno);
  got.resize(static_cast<size_t>(r));
  return got == want ? "" : p + " holds \"" + got + "\"";
}

class FsModel : public benchfs::test::FsJobTest {
 protected:
  FsModel() : FsJobTest("benchfs-fsmodel") {}

  void start() {
    auto opts = JobOptions::of(2, 1);
    opts.extra_args = {"--chunk-size", "64k"};
    ASSERT_NO_FATAL_FAILURE(start_job(opts, 20000));
    ASSERT_EQ(benchfs_chunk_size(), static_cast<long long>(kChunk)) << benchfs_last_error();
  }
};

}  // namespace

TEST_F(FsModel, RandomOperationsMatchTheModel) {
  const uint64_t seed = env_u64(
      "BENCHFS_MODEL_SEED", (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}());
  const int ops = static_cast<int>(env_u64("BENCHFS_MODEL_OPS", 2000));
  RecordProperty("seed", std::to_string(seed));
  SCOPED_TRACE("seed " + std::to_string(seed) + " (replay with BENCHFS_MODEL_SEED=" + std::to_string(seed) +
               ")");
  std::printf("model seed %llu, %d operations per thread\n", static_cast<unsigned long long>(seed), ops);
  std::fflush(stdout);
  ASSERT_NO_FATAL_FAILURE(start());

  // Phase 1: each thread in its own subtree.
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::string> results(kThreads);
  for (int t = 0; t < kThreads; ++t) workers.push_back(std::make_unique<Worker>(t, seed, ops));
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { results[t] = workers[t]->run(); });
    for (auto& th : threads) th.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(results[t], "") << "thread " << t;
  }
  uint64_t total = 0;
  std::map<std::string, uint64_t> tally;
  uint64_t written = 0;
  for (const auto& w : workers) {
    total += w->ops_done();
    written += w->bytes_written();
    for (const auto& [k, v] : w->tally()) tally[k] += v;
  }
  std::string summary;
  for (const auto& [k, v] : tally) summary += " " + k + ":" + std::to_string(v);
  std::printf("%llu operations, %llu bytes written; outcomes:%s\n", static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(written), summary.c_str());
  RecordProperty("operations", std::to_string(total));
  ASSERT_FALSE(HasFailure());
  // The subtrees are all there is at the top.
  {
    std::set<std::string> names;
    const int n = benchfs_readdir(
        "/",
        [](void* arg, const char* nm, unsigned char type) {
          static_cast<std::set<std::string>*>(arg)->insert(std::string(nm) + (type == DT_DIR ? "/" : ""));
          return 0;
        },
        &names);
    EXPECT_EQ(n, kThreads) << errname(errno);
    EXPECT_EQ(names, (std::set<std::string>{"t0/", "t1/", "t2/", "t3/"}));
  }

  // Phase 2: disjoint, unaligned segments of one shared file, written by
  // all threads at once through their own descriptors.
  constexpr uint64_t kSegment = 100003;
  constexpr int kSegments = 24;
  constexpr uint64_t kShared = kSegment * kSegments;
  const char* shared = "/shared";
  {
    const int fd = benchfs_open(shared, O_WRONLY | O_CREAT | O_EXCL, 0644);
    ASSERT_GE(fd, 0) << errname(errno) << ": " << benchfs_last_error();
    ASSERT_EQ(benchfs_close(fd), 0);
  }
  std::vector<std::string> errors(kThreads);
  // body(t, fd) on kThreads threads at once, each with a descriptor of its
  // own of `shared` opened with `flags` (an open failure: errors[t]).
  const auto on_each_thread = [&](int flags, auto body) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const int fd = benchfs_open(shared, flags, 0);
        if (fd < 0) {
          errors[t] = std::string("open: ") + errname(errno);
          return;
        }
        body(t, fd);
      });
    }
    for (auto& th : threads) th.join();
  };
  on_each_thread(O_WRONLY, [&](int t, int fd) {
    std::vector<uint8_t> buf(kSegment);
    // Segments t, t + 4, ... in descending order: sizes arrive out of order.
    for (int s = kSegments - kThreads + t; s >= 0; s -= kThreads) {
      const uint64_t off = static_cast<uint64_t>(s) * kSegment;
      for (uint64_t i = 0; i < kSegment; ++i) buf[i] = pattern_byte(seed, off + i);
      const ssize_t w = benchfs_pwrite(fd, buf.data(), kSegment, static_cast<off_t>(off));
      if (w != static_cast<ssize_t>(kSegment)) {
        errors[t] = "pwrite of segment " + std::to_string(s) + " returned " + std::to_string(w) + ": " +
                    errname(errno) + " " + benchfs_last_error();
        break;
      }
    }
    if (benchfs_close(fd) != 0 && errors[t].empty()) errors[t] = std::string("close: ") + errname(errno);
  });
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "") << "writer thread " << t;
  }
  ASSERT_FALSE(HasFailure());
  struct stat st {};
  ASSERT_EQ(benchfs_stat(shared, &st), 0) << errname(errno);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kShared);
  // Every thread reads the whole file back at once, in different read sizes.
  on_each_thread(O_RDONLY, [&](int t, int fd) {
    const size_t len = 131071 + static_cast<size_t>(t) * 50000;
    std::vector<uint8_t> buf(len);
    uint64_t off = 0;
    while (errors[t].empty()) {
      const ssize_t r = benchfs_pread(fd, buf.data(), len, static_cast<off_t>(off));
      if (r < 0) {
        errors[t] = "pread at " + std::to_string(off) + ": " + errname(errno);
        break;
      }
      if (r == 0) break;
      for (size_t i = 0; i < static_cast<size_t>(r); ++i) {
        if (buf[i] != pattern_byte(seed, off + i)) {
          errors[t] = "byte at offset " + std::to_string(off + i) + " differs (segment " +
                      std::to_string((off + i) / kSegment) + ")";
          break;
        }
      }
      off += static_cast<uint64_t>(r);
    }
    if (errors[t].empty() && off != kShared) errors[t] = "read " + std::to_string(off) + " bytes in all";
    benchfs_close(fd);
  });
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "") << "reader thread " << t;
  }
}

// Concurrent operations on the same names, started together round after
// round: exactly one winner where exactly one can win, no orphan file in a
// removed directory, replaced data freed.
TEST_F(FsModel, ConcurrentRacesHaveConsistentOutcomes) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_EQ(benchfs_mkdir("/race", 0755), 0) << benchfs_last_error();
  constexpr int kRounds = 40;
  using Outcomes = std::vector<std::array<int, kThreads>>;  // 0 or errno, per round and thread
  // Runs op(round, thread) in kThreads threads, all starting each round together.
  auto race = [&](auto&& op) {
    Outcomes out(kRounds);
    std::barrier sync(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int r = 0; r < kRounds; ++r) {
          sync.arrive_and_wait();
          errno = 0;
          const int rc = op(r, t);
          out[static_cast<size_t>(r)][static_cast<size_t>(t)] = rc < 0 ? errno : 0;
        }
      });
    }
    for (auto& th : threads) th.join();
    return out;
  };
  auto text = [](const std::array<int, kThreads>& a) {
    std::string s;
    for (int e : a) s += " " + errname(e);
    return s;
  };
  auto one_winner = [&](const Outcomes& out, int loser_errno, const std::string& what) {
    for (int r = 0; r < kRounds; ++r) {
      const auto& a = out[static_cast<size_t>(r)];
      int wins = 0;
      bool other = false;
      for (int e : a) {
        wins += e == 0 ? 1 : 0;
        other = other || (e != 0 && e != loser_errno);
      }
      EXPECT_TRUE(wins == 1 && !other)
          << what << " round " << r << ": outcomes" << text(a) << ", expected one "
          << "success and " << errname(loser_errno) << " for the others";
    }
  };
  auto write_file = [](const std::string& p, size_t n, uint64_t seed) {
    const int fd = benchfs_open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return false;
    std::vector<uint8_t> buf(n);
    for (size_t i = 0; i < n; ++i) buf[i] = pattern_byte(seed, i);
    const bool ok = benchfs_pwrite(fd, buf.data(), n, 0) == static_cast<ssize_t>(n);
    return benchfs_close(fd) == 0 && ok;
  };
  // "" if p holds n bytes of the pattern of seed.
  auto check_file = [](const std::string& p, size_t n, uint64_t seed) -> std::string {
    struct stat st {};
    if (benchfs_stat(p.c_str(), &st) != 0) return "stat " + p + ": " + errname(errno);
    if (static_cast<size_t>(st.st_size) != n) return p + " has size " + std::to_string(st.st_size);
    const int fd = benchfs_open(p.c_str(), O_RDONLY, 0);
    if (fd < 0) return "open " + p + ": " + errname(errno);
    std::vector<uint8_t> buf(n + 1);
    const ssize_t r = benchfs_pread(fd, buf.data(), n + 1, 0);
    benchfs_close(fd);
    if (r != static_cast<ssize_t>(n)) return "read " + p + " returned " + std::to_string(r);
    for (size_t i = 0; i < n; ++i) {
      if (buf[i] != pattern_byte(seed, i)) return p + ": byte " + std::to_string(i) + " differs";
    }
    return "";
  };
  auto exists = [](const std::string& p) {
    struct stat st {};
    return benchfs_stat(p.c_str(), &st) == 0;
  };
  auto name = [](const char* prefix, int r, int t = -1) {
    return std::string("/race/") + prefix + std::to_string(r) + (t >= 0 ? "." + std::to_string(t) : "");
  };

  // mkdir of one name: one success, EEXIST for the others.
  one_winner(race([&](int r, int) { return benchfs_mkdir(name("m", r).c_str(), 0755); }), EEXIST, "mkdir");
  // unlink of one file (data on both servers): one success, ENOENT.
  for (int r = 0; r < kRounds; ++r) ASSERT_TRUE(write_file(name("u", r), 100000, r)) << errname(errno);
  one_winner(race([&](int r, int) { return benchfs_unlink(name("u", r).c_str()); }), ENOENT, "unlink");
  // rmdir of one directory: one success, ENOENT.
  one_winner(race([&](int r, int) { return benchfs_rmdir(name("m", r).c_str()); }), ENOENT, "rmdir");
  // One source renamed to several targets: one success, ENOENT; the file
  // is at the winner's target only.
  for (int r = 0; r < kRounds; ++r) ASSERT_TRUE(write_file(name("s", r), 70000, 100 + r)) << errname(errno);
  const Outcomes moved =
      race([&](int r, int t) { return benchfs_rename(name("s", r).c_str(), name("d", r, t).c_str()); });
  one_winner(moved, ENOENT, "rename of one source");
  for (int r = 0; r < kRounds; ++r) {
    EXPECT_FALSE(exists(name("s", r)));
    for (int t = 0; t < kThreads; ++t) {
      if (moved[static_cast<size_t>(r)][static_cast<size_t>(t)] == 0) {
        EXPECT_EQ(check_file(name("d", r, t), 70000, 100 + r), "");
        EXPECT_EQ(benchfs_unlink(name("d", r, t).c_str()), 0) << errname(errno);
      } else {
        EXPECT_FALSE(exists(name("d", r, t))) << name("d", r, t) << " exists but its rename failed";
      }
    }
  }
  // Several sources renamed onto one target: all succeed; the target holds
  // one of them, whole; the replaced ones' data is freed (checked at exit).
  for (int r = 0; r < kRounds; ++r) {
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_TRUE(write_file(name("a", r, t), 30000 * static_cast<size_t>(t + 1), 1000 + r * 10 + t))
          << errname(errno);
    }
  }
  const Outcomes onto =
      race([&](int r, int t) { return benchfs_rename(name("a", r, t).c_str(), name("T", r).c_str()); });
  for (int r = 0; r < kRounds; ++r) {
    const auto& a = onto[static_cast<size_t>(r)];
    EXPECT_EQ(a, (std::array<int, kThreads>{})) << "renames onto one target, round " << r << ":" << text(a);
    struct stat st {};
    ASSERT_EQ(benchfs_stat(name("T", r).c_str(), &st), 0) << errname(errno);
    const int t = static_cast<int>(st.st_size / 30000) - 1;
    ASSERT_TRUE(t >= 0 && t < kThreads && st.st_size % 30000 == 0) << "size " << st.st_size;
    EXPECT_EQ(check_file(name("T", r), 30000 * static_cast<size_t>(t + 1), 1000 + r * 10 + t), "");
    for (int k = 0; k < kThreads; ++k) EXPECT_FALSE(exists(name("a", r, k)));
    EXPECT_EQ(benchfs_unlink(name("T", r).c_str()), 0) << errname(errno);
  }
  // Creates in a directory racing with its removal: never both (an orphan).
  for (int r = 0; r < kRounds; ++r) ASSERT_EQ(benchfs_mkdir(name("x", r).c_str(), 0755), 0) << errname(errno);
  const Outcomes mixed = race([&](int r, int t) {
    const std::string dir = name("x", r);
    if (t >= 2) return benchfs_rmdir(dir.c_str());
    const std::string f = dir + "/f" + std::to_string(t);
    const int fd = benchfs_open(f.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return -1;
    const int w = benchfs_pwrite(fd, "0123456789", 10, 0) == 10 ? 0 : -1;
    const int saved = errno;
    const int c = benchfs_close(fd);
    errno = w != 0 ? saved : errno;
    return w != 0 || c != 0 ? -1 : 0;
  });
  for (int r = 0; r < kRounds; ++r) {
    const auto& a = mixed[static_cast<size_t>(r)];
    const bool created = a[0] == 0 || a[1] == 0;
    const int removed = (a[2] == 0 ? 1 : 0) + (a[3] == 0 ? 1 : 0);
    const std::string dir = name("x", r);
    EXPECT_LE(removed, 1) << dir << ":" << text(a);
    EXPECT_FALSE(created && removed > 0)
        << dir << ": a file was created in it and it was removed:" << text(a);
    for (int t = 0; t < 2; ++t) {
      const std::string f = dir + "/f" + std::to_string(t);
      if (a[static_cast<size_t>(t)] == 0) {
        EXPECT_EQ(check_file_bytes(f, "0123456789"), "");
        EXPECT_EQ(benchfs_unlink(f.c_str()), 0) << f << ": " << errname(errno);
      } else {
        EXPECT_EQ(a[static_cast<size_t>(t)], ENOENT) << f << ":" << text(a);
        EXPECT_FALSE(exists(f)) << f << " exists but its create failed";
      }
    }
    for (int t = 2; t < 4; ++t) {
      const int e = a[static_cast<size_t>(t)];
      EXPECT_TRUE(e == 0 || e == ENOENT || e == ENOTEMPTY) << dir << ":" << text(a);
    }
    if (removed == 0) {
      EXPECT_EQ(benchfs_rmdir(dir.c_str()), 0) << dir << ": " << errname(errno);
    }
    EXPECT_FALSE(exists(dir));
  }
  // Nothing left, and the servers hold no data.
  EXPECT_EQ(benchfs_rmdir("/race"), 0) << errname(errno) << " " << benchfs_last_error();
  ASSERT_NO_FATAL_FAILURE(expect_store_empty());
}
