// benchfs_find: a parallel find over libbenchfs (run under mpirun, or alone).
//   benchfs_find DIR [-newer FILE] [-size [+-]N[cwbkMG]] [-name PATTERN] [-type f|d]
//                [--registry DIR] [-q | --print] [-v] [--serial | --launch CMD] [-h]
// Tests are ANDed as in GNU find; DIR itself is an entry too. The last line
// on stdout is "MATCHED <matched>/<examined>", the form io500's [find]
// external-script must end with (tools/README.md).
//
// The walk is level by level: every rank holds the list of the directories
// of the current level, lists those whose index modulo the number of ranks
// is its own (benchfs_readdir_plus: names and attributes in a few RPCs per
// server, no stat per entry), tests every entry, and keeps the
// subdirectories; MPI_Allgatherv of those forms the next level. Matching
// paths go to rank 0, which prints them once per level, so the lines of
// different ranks never mix and all of them come before the MATCHED line.
// Uses only the public C API (libbenchfs).

#include <fnmatch.h>
#include <mpi.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "benchfs/benchfs.h"
#include "benchfs/benchfs_ior.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kMaxPath = 4096;

constexpr const char* kUsage =
    "Usage: benchfs_find DIR [TEST...] [OPTION...]\n"
    "   or: mpirun -np K benchfs_find DIR [TEST...] [OPTION...]\n"
    "Walks the BenchFS directory DIR (DIR included), in parallel over the MPI ranks, and prints the\n"
    "entries that pass every test, then a last line \"MATCHED <matched>/<examined>\".\n"
    "DIR is a BenchFS path, cleaned up as the BenchFS IOR backend does (a relative path is taken\n"
    "relative to \"/\"; \".\", \"..\", repeated and trailing slashes are resolved).\n"
    "\n"
    "Tests (GNU find semantics; all must hold, each may be given more than once):\n"
    "  -name PATTERN   the last path component matches the shell PATTERN (fnmatch, no flags)\n"
    "  -size [+|-]N[U] the size, rounded up to units U, is N (+N: more than N, -N: less than N);\n"
    "                  U: c bytes, w 2-byte words, b 512-byte blocks (the default), k KiB,\n"
    "                  M MiB, G GiB (so -size 3901c: exactly 3901 bytes; -size -1k: empty)\n"
    "  -newer FILE     modified strictly later than FILE; FILE is a local file, or, if there is\n"
    "                  no local file of that name, a BenchFS path\n"
    "  -type C         of type C: f (regular file) or d (directory); a comma list is any of them\n"
    "\n"
    "Options:\n"
    "  --registry DIR  registry directory of the servers (default: env BENCHFS_REGISTRY)\n"
    "  -q, --quiet     print only the MATCHED line (for io500)\n"
    "  --print, -print print the matching paths (the default)\n"
    "  -v, --verbose   statistics (entries, directories, time, rate) on stderr\n"
    "  --serial        do not initialize MPI: one process (for io500, whose rank 0 runs the\n"
    "                  external script itself; MPI_Init fails in a child of an MPI process)\n"
    "  --launch CMD    run as CMD benchfs_find ARGS..., CMD split at spaces (e.g. \"mpirun -np 4\"),\n"
    "                  without the MPI launcher variables this process inherited (so that io500\n"
    "                  can start a parallel find from inside its own MPI job)\n"
    "  -h, --help      this text\n"
    "\n"
    "Exit status: 0; 1 when something could not be read (a directory that vanished during the walk\n"
    "is only a warning); 2 for bad arguments.\n";

// ------------------------------------------------------------ arguments

enum TypeBit : unsigned { kTypeFile = 1u, kTypeDir = 2u, kTypeOther = 4u };

struct SizeTest {
  char cmp = '=';     // '+', '-' or '='
  uint64_t n = 0;     // in units
  uint64_t unit = 1;  // bytes per unit
};

struct NewerTest {
  std::string file;
  timespec mtime{};
};

struct Options {
  std::string dir;  // as given
  std::string registry;
  bool print = true;
  bool verbose = false;
  bool serial = false;
  std::string launch;             // --launch CMD
  std::vector<std::string> args;  // the arguments but --launch CMD
  bool help = false;
  std::vector<std::string> names;
  std::vector<SizeTest> sizes;
  std::vector<NewerTest> newer;
  unsigned types = kTypeFile | kTypeDir | kTypeOther;  // allowed types
};

// GNU find's -size argument: [+-]N[cwbkMG].
std::optional<SizeTest> parse_size(std::string_view s) {
  SizeTest t;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    t.cmp = s.front();
    s.remove_prefix(1);
  }
  t.unit = 512;  // GNU: no suffix means 512-byte blocks
  if (!s.empty() && (s.back() < '0' || s.back() > '9')) {
    switch (s.back()) {
      case 'c':
        t.unit = 1;
        break;
      case 'w':
        t.unit = 2;
        break;
      case 'b':
        t.unit = 512;
        break;
      case 'k':
        t.unit = 1024;
        break;
      case 'M':
        t.unit = 1024 * 1024;
        break;
      case 'G':
        t.unit = 1024 * 1024 * 1024;
        break;
      default:
        return std::nullopt;
    }
    s.remove_suffix(1);
  }
  if (s.empty()) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), t.n);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return t;
}

// GNU find's -type argument: one letter or a comma list of letters.
std::optional<unsigned> parse_type(std::string_view s) {
  unsigned bits = 0;
  bool expect_letter = true;
  for (char c : s) {
    if (!expect_letter) {
      if (c != ',') return std::nullopt;
      expect_letter = true;
      continue;
    }
    switch (c) {
      case 'f':
        bits |= kTypeFile;
        break;
      case 'd':
        bits |= kTypeDir;
        break;
      case 'l':
      case 'b':
      case 'c':
      case 'p':
      case 's':
      case 'D':
        bits |= kTypeOther;  // BenchFS has none of these
        break;
      default:
        return std::nullopt;
    }
    expect_letter = false;
  }
  if (bits == 0 || expect_letter) return std::nullopt;
  return bits;
}

// Parses argv into *o; on a usage error returns the message.
std::optional<std::string> parse_args(int argc, char** argv, Options* o) {
  if (const char* env = std::getenv("BENCHFS_REGISTRY")) o->registry = env;
  bool have_dir = false;
  for (int i = 1; i < argc; ++i) {
    const int first = i;
    const std::string_view a = argv[i];
    // A test or option with a value: the value is argv[i + 1].
    auto value = [&](std::string* out) -> std::optional<std::string> {
      if (i + 1 >= argc) return "missing argument to '" + std::string(a) + "'";
      *out = argv[++i];
      return std::nullopt;
    };
    std::string v;
    if (a == "-h" || a == "--help" || a == "-help") {
      o->help = true;
    } else if (a == "-q" || a == "--quiet") {
      o->print = false;
    } else if (a == "--print" || a == "-print") {
      o->print = true;
    } else if (a == "-v" || a == "--verbose") {
      o->verbose = true;
    } else if (a == "--serial") {
      o->serial = true;
    } else if (a == "--launch" || a.starts_with("--launch=")) {
      if (a == "--launch") {
        if (auto e = value(&v)) return e;
      } else {
        v = std::string(a.substr(std::strlen("--launch=")));
      }
      if (v.find_first_not_of(" \t") == std::string::npos) return std::string("empty --launch");
      o->launch = v;
      continue;  // not passed on
    } else if (a == "--registry" || a.starts_with("--registry=")) {
      if (a == "--registry") {
        if (auto e = value(&v)) return e;
      } else {
        v = std::string(a.substr(std::strlen("--registry=")));
      }
      if (v.empty()) return std::string("empty --registry");
      o->registry = v;
    } else if (a == "-name") {
      if (auto e = value(&v)) return e;
      o->names.push_back(v);
    } else if (a == "-size") {
      if (auto e = value(&v)) return e;
      auto t = parse_size(v);
      if (!t) return "invalid argument '" + v + "' to -size (expected [+|-]N[cwbkMG], e.g. 3901c)";
      o->sizes.push_back(*t);
    } else if (a == "-newer") {
      if (auto e = value(&v)) return e;
      if (v.empty()) return std::string("empty argument to -newer");
      o->newer.push_back(NewerTest{v, {}});
    } else if (a == "-type") {
      if (auto e = value(&v)) return e;
      auto t = parse_type(v);
      if (!t) return "invalid argument '" + v + "' to -type (expected f or d, or a comma list)";
      o->types &= *t;
    } else if (!a.empty() && a.front() == '-') {
      return "unknown test or option '" + std::string(a) + "'";
    } else {
      if (have_dir) return "more than one directory ('" + o->dir + "' and '" + std::string(a) + "')";
      if (a.empty()) return std::string("empty directory argument");
      o->dir = a;
      have_dir = true;
    }
    for (int k = first; k <= i; ++k) o->args.emplace_back(argv[k]);
  }
  if (o->help) return std::nullopt;
  if (!have_dir) return std::string("no directory given");
  if (o->serial && !o->launch.empty()) return std::string("--serial and --launch exclude each other");
  if (o->registry.empty()) return std::string("no registry: pass --registry DIR or set BENCHFS_REGISTRY");
  return std::nullopt;
}

// The rank a launcher gave this process, from its environment; 0 if none.
// Lets usage errors print once under mpirun before MPI is initialized.
int launcher_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') return std::atoi(v);
  }
  return 0;
}

// Variables an MPI launcher sets for the processes it starts. A child of
// such a process (io500's popen of the external script) inherits them, and
// then neither MPI_Init nor a nested mpirun works: both believe they are
// that process.
bool launcher_variable(std::string_view name) {
  if (name.starts_with("PMIX_") || name.starts_with("PMI_") || name.starts_with("HYDRA_") ||
      name.starts_with("HYDI_"))
    return true;
  if (!name.starts_with("OMPI_")) return false;
  if (name.starts_with("OMPI_ALLOW_RUN_AS_ROOT")) return false;  // the user's
  if (!name.starts_with("OMPI_MCA_")) return true;               // OMPI_COMM_WORLD_RANK, ...
  // MCA settings are the user's, except those of the launch itself.
  for (std::string_view p : {"OMPI_MCA_orte_", "OMPI_MCA_ess", "OMPI_MCA_pmix", "OMPI_MCA_initial_wdir",
                             "OMPI_MCA_shmem_RUNTIME_QUERY_hint", "OMPI_MCA_mpi_oversubscribe"})
    if (name.starts_with(p)) return true;
  return false;
}

// --launch: replaces this process by CMD... benchfs_find ARGS... with the
// launcher variables removed. Returns only on failure (status 1).
int relaunch(const Options& o) {
  std::vector<std::string> argv;
  size_t pos = 0;
  while ((pos = o.launch.find_first_not_of(" \t", pos)) != std::string::npos) {
    const size_t end = std::min(o.launch.find_first_of(" \t", pos), o.launch.size());
    argv.push_back(o.launch.substr(pos, end - pos));
    pos = end;
  }
  char self[PATH_MAX + 1] = {};
  const ssize_t n = readlink("/proc/self/exe", self, PATH_MAX);
  if (n <= 0) {
    std::fprintf(stderr, "benchfs_find: --launch: cannot find this program: %s\n", std::strerror(errno));
    return 1;
  }
  argv.emplace_back(self, static_cast<size_t>(n));
  for (const auto& a : o.args) argv.push_back(a);
  std::vector<std::string> drop;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view var(*e);
    const std::string_view name = var.substr(0, var.find('='));
    if (launcher_variable(name)) drop.emplace_back(name);
  }
  for (const auto& name : drop) unsetenv(name.c_str());
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  execvp(args[0], args.data());
  std::fprintf(stderr, "benchfs_find: --launch: cannot run %s: %s\n", args[0], std::strerror(errno));
  return 1;
}

// ------------------------------------------------------------ ranks

// The ranks of the walk: MPI_COMM_WORLD, or this process alone (--serial).
class Ranks {
 public:
  explicit Ranks(bool mpi) : mpi_(mpi) {
    if (mpi_) {
      MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
      MPI_Comm_size(MPI_COMM_WORLD, &size_);
    }
  }
  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] int size() const { return size_; }

  [[nodiscard]] int max(int v) const {
    int out = v;
    if (mpi_) MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return out;
  }
  void sum_to_root(uint64_t* v, int n) const {
    if (!mpi_) return;
    std::vector<uint64_t> out(static_cast<size_t>(n));
    MPI_Reduce(v, out.data(), n, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank_ == 0) std::copy(out.begin(), out.end(), v);
  }
  void bcast(void* p, int bytes) const {
    if (mpi_) MPI_Bcast(p, bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
  }

  // Concatenates every rank's `mine` (records ending in `sep`) in rank
  // order into *all, on every rank (to_root false) or on rank 0 only. Sent in
  // rounds of whole records, so that no count or offset overflows an int.
  void gather(const std::string& mine, char sep, bool to_root, std::string* all) const {
    all->clear();
    if (!mpi_) {
      *all = mine;
      return;
    }
    const size_t cap = std::max<size_t>(2 * kMaxPath, (INT_MAX / 2) / static_cast<size_t>(size_));
    std::vector<int> info(2 * static_cast<size_t>(size_));
    std::vector<int> counts(static_cast<size_t>(size_)), displs(static_cast<size_t>(size_));
    std::string buf;
    size_t off = 0;
    for (;;) {
      size_t n = mine.size() - off;
      if (n > cap) {
        const size_t cut = mine.rfind(sep, off + cap - 1);
        n = cut == std::string::npos || cut < off ? cap : cut + 1 - off;
      }
      const int mine_info[2] = {static_cast<int>(n), off + n < mine.size() ? 1 : 0};
      MPI_Allgather(mine_info, 2, MPI_INT, info.data(), 2, MPI_INT, MPI_COMM_WORLD);
      size_t total = 0;
      bool more = false;
      for (size_t r = 0; r < counts.size(); ++r) {
        counts[r] = info[2 * r];
        displs[r] = static_cast<int>(total);
        total += static_cast<size_t>(counts[r]);
        more = more || info[2 * r + 1] != 0;
      }
      if (total > 0) {
        buf.resize(total);
        if (to_root) {
          MPI_Gatherv(mine.data() + off, static_cast<int>(n), MPI_CHAR, buf.data(), counts.data(),
                      displs.data(), MPI_CHAR, 0, MPI_COMM_WORLD);
        } else {
          MPI_Allgatherv(mine.data() + off, static_cast<int>(n), MPI_CHAR, buf.data(), counts.data(),
                         displs.data(), MPI_CHAR, MPI_COMM_WORLD);
        }
        if (!to_root || rank_ == 0) all->append(buf);
      }
      off += n;
      if (!more) break;
    }
  }

 private:
  bool mpi_;
  int rank_ = 0;
  int size_ = 1;
};

// ------------------------------------------------------------ the walk

// "path: <why>" for the BenchFS call on `path` that just failed.
std::string failure(const std::string& path) {
  const int err = errno;
  const char* detail = benchfs_last_error();
  if (detail != nullptr && *detail != '\0') {
    if (std::strstr(detail, path.c_str()) != nullptr) return detail;
    return path + ": " + detail;
  }
  return path + ": " + std::strerror(err);
}

bool later(const timespec& a, const timespec& b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec > b.tv_nsec;
}

class Walker {
 public:
  Walker(const Options& o, const Ranks& ranks) : o_(o), ranks_(ranks) {}

  // The start directory (already cleaned up): examined by rank 0.
  void start(const std::string& dir) {
    if (ranks_.rank() != 0) return;
    struct stat st {};
    if (benchfs_stat(dir.c_str(), &st) != 0) {
      error(failure(dir));
      return;
    }
    const size_t slash = dir.rfind('/');
    const std::string name = dir == "/" ? dir : dir.substr(slash + 1);
    visit(dir, name.c_str(), st);
  }

  // Lists the directories of the current level this rank takes; true while
  // any rank found a directory for the next level.
  bool next_level() {
    ranks_.gather(next_, '\0', false, &level_);
    next_.clear();
    if (level_.empty()) return false;
    ++levels_;
    size_t index = 0;
    const auto me = static_cast<size_t>(ranks_.rank());
    const auto nranks = static_cast<size_t>(ranks_.size());
    for (size_t pos = 0; pos < level_.size(); ++index) {
      const size_t end = level_.find('\0', pos);
      if (index % nranks == me) list(level_.substr(pos, end - pos));
      pos = end + 1;
    }
    if (o_.print) {
      std::string all;
      ranks_.gather(out_, '\n', true, &all);
      out_.clear();
      write_out(all);
    }
    return true;
  }

  // Totals on rank 0: {matched, examined, directories, errors}.
  void totals(uint64_t v[4]) const {
    v[0] = matched_;
    v[1] = examined_;
    v[2] = dirs_;
    v[3] = errors_;
    ranks_.sum_to_root(v, 4);
  }
  [[nodiscard]] int status() const { return errors_ > 0 ? 1 : 0; }
  [[nodiscard]] uint64_t levels() const { return levels_; }

  void flush() {
    write_out(out_);
    out_.clear();
  }

 private:
  struct ListCtx {
    Walker* self;
    size_t prefix;     ///< bytes of path that are the directory and its '/'
    std::string path;  ///< "<dir>/" then each entry's name
  };

  static int on_entry(void* arg, const char* name, const struct stat* st) {
    auto* c = static_cast<ListCtx*>(arg);
    c->path.resize(c->prefix);
    c->path += name;
    c->self->visit(c->path, name, *st);
    return 0;
  }

  void list(const std::string& dir) {
    ListCtx ctx{this, 0, dir == "/" ? std::string("/") : dir + "/"};
    ctx.prefix = ctx.path.size();
    ctx.path.reserve(ctx.prefix + 256);
    if (benchfs_readdir_plus(dir.c_str(), &Walker::on_entry, &ctx) < 0) {
      if (errno == ENOENT) {
        std::fprintf(stderr, "benchfs_find: warning: %s vanished during the walk: %s\n", dir.c_str(),
                     benchfs_last_error());
      } else {
        error("cannot list " + failure(dir));
      }
    }
    // One rank alone prints as it goes; with several, rank 0 prints every
    // rank's lines at the end of the level.
    if (ranks_.size() == 1 && out_.size() >= (64u << 10)) flush();
  }

  void visit(const std::string& path, const char* name, const struct stat& st) {
    ++examined_;
    const bool is_dir = S_ISDIR(st.st_mode);
    if (is_dir) {
      ++dirs_;
      next_.append(path);
      next_.push_back('\0');
    }
    if (matches(name, st)) {
      ++matched_;
      if (o_.print) {
        out_.append(path);
        out_.push_back('\n');
      }
    }
  }

  [[nodiscard]] bool matches(const char* name, const struct stat& st) const {
    const unsigned type = S_ISREG(st.st_mode) ? kTypeFile : S_ISDIR(st.st_mode) ? kTypeDir : kTypeOther;
    if ((o_.types & type) == 0) return false;
    for (const std::string& p : o_.names)
      if (fnmatch(p.c_str(), name, 0) != 0) return false;
    const auto size = static_cast<uint64_t>(st.st_size < 0 ? 0 : st.st_size);
    for (const SizeTest& t : o_.sizes) {
      const uint64_t units = size / t.unit + (size % t.unit != 0 ? 1 : 0);  // rounded up, as GNU find
      if (t.cmp == '+' ? units <= t.n : t.cmp == '-' ? units >= t.n : units != t.n) return false;
    }
    for (const NewerTest& t : o_.newer)
      if (!later(st.st_mtim, t.mtime)) return false;
    return true;
  }

  void error(const std::string& what) {
    ++errors_;
    std::fprintf(stderr, "benchfs_find: %s\n", what.c_str());
  }

  static void write_out(const std::string& s) {
    if (s.empty()) return;
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  }

  const Options& o_;
  const Ranks& ranks_;
  std::string next_;   // directories found: the next level, NUL-separated
  std::string level_;  // the current level's directories
  std::string out_;    // matching paths not yet printed
  uint64_t matched_ = 0;
  uint64_t examined_ = 0;
  uint64_t dirs_ = 0;
  uint64_t errors_ = 0;
  uint64_t levels_ = 0;
};

// The mtime of each -newer FILE: the local file if there is one, else the
// BenchFS path. Rank 0 looks, every rank gets the result. False after an
// error (printed by rank 0).
bool resolve_newer(Options* o, const Ranks& ranks) {
  int ok = 1;
  for (NewerTest& t : o->newer) {
    if (ranks.rank() == 0) {
      struct stat st {};
      if (::stat(t.file.c_str(), &st) == 0) {
        t.mtime = st.st_mtim;
      } else if (errno != ENOENT) {
        std::fprintf(stderr, "benchfs_find: -newer %s: %s\n", t.file.c_str(), std::strerror(errno));
        ok = 0;
      } else {
        char path[kMaxPath + 1];
        if (benchfs_ior_path(t.file.c_str(), path, sizeof path) < 0 || benchfs_stat(path, &st) != 0) {
          std::fprintf(stderr,
                       "benchfs_find: -newer %s: no such local file, and not in BenchFS either (%s)\n",
                       t.file.c_str(), benchfs_last_error());
          ok = 0;
        } else {
          t.mtime = st.st_mtim;
        }
      }
    }
    ranks.bcast(&ok, sizeof ok);
    if (ok == 0) return false;
    int64_t ts[2] = {static_cast<int64_t>(t.mtime.tv_sec), static_cast<int64_t>(t.mtime.tv_nsec)};
    ranks.bcast(ts, sizeof ts);
    t.mtime.tv_sec = static_cast<time_t>(ts[0]);
    t.mtime.tv_nsec = static_cast<long>(ts[1]);
  }
  return true;
}

int run(Options& o, const Ranks& ranks) {
  const int rank = ranks.rank();
  char dir[kMaxPath + 1];
  if (benchfs_ior_path(o.dir.c_str(), dir, sizeof dir) < 0) {
    if (rank == 0) std::fprintf(stderr, "benchfs_find: %s: %s\n", o.dir.c_str(), benchfs_last_error());
    return 1;
  }
  benchfs_config cfg;
  benchfs_config_init(&cfg);
  cfg.registry = o.registry.c_str();
  int rc = 0;
  if (benchfs_init(&cfg) != 0) {
    std::fprintf(stderr, "benchfs_find[%d]: benchfs_init (registry %s): %s\n", rank, o.registry.c_str(),
                 benchfs_last_error());
    rc = 1;
  }
  if (ranks.max(rc) != 0) {
    if (rc == 0) benchfs_finalize();
    return 1;
  }
  if (!resolve_newer(&o, ranks)) {
    benchfs_finalize();
    return 1;
  }

  if (ranks.size() > 1) MPI_Barrier(MPI_COMM_WORLD);
  const auto t0 = std::chrono::steady_clock::now();
  Walker w(o, ranks);
  w.start(dir);
  while (w.next_level()) {
  }
  w.flush();
  uint64_t tot[4];
  w.totals(tot);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rc = ranks.max(w.status());
  if (rank == 0) {
    if (o.verbose) {
      std::fprintf(stderr,
                   "benchfs_find: %llu entries examined (%llu directories, %llu other) in %.3f s: %.0f "
                   "entries/s; %llu matched; %d rank%s, %llu levels, %llu errors\n",
                   static_cast<unsigned long long>(tot[1]), static_cast<unsigned long long>(tot[2]),
                   static_cast<unsigned long long>(tot[1] - tot[2]), secs,
                   secs > 0 ? static_cast<double>(tot[1]) / secs : 0.0,
                   static_cast<unsigned long long>(tot[0]), ranks.size(), ranks.size() == 1 ? "" : "s",
                   static_cast<unsigned long long>(w.levels()), static_cast<unsigned long long>(tot[3]));
    }
    std::printf("MATCHED %llu/%llu\n", static_cast<unsigned long long>(tot[0]),
                static_cast<unsigned long long>(tot[1]));
    std::fflush(stdout);
  }
  benchfs_finalize();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  const std::optional<std::string> bad = parse_args(argc, argv, &o);
  // Usage errors and --help before MPI: every rank sees the same arguments
  // and exits the same way, so none waits for another.
  if (bad || o.help) {
    if (launcher_rank() == 0) {
      if (o.help) {
        std::fputs(kUsage, stdout);
      } else {
        std::fprintf(stderr, "benchfs_find: %s\nTry 'benchfs_find --help'.\n", bad->c_str());
      }
    }
    return o.help ? 0 : kExitUsage;
  }
  if (!o.launch.empty()) return relaunch(o);
  if (!o.serial) MPI_Init(&argc, &argv);
  int rc = 0;
  {
    const Ranks ranks(!o.serial);
    rc = run(o, ranks);
  }
  if (!o.serial) MPI_Finalize();
  return rc;
}
