// benchfs_find (tools/) against real benchfsd_mt servers (2 ranks): a tree
// made through the C API (nested directories, files of many sizes, names
// with and without "01", files written before and after a timestamp file),
// searched with benchfs_find under mpirun with 1 and 2 ranks and with
// --serial. The paths printed and the MATCHED line must be exactly what the
// test computes from the attributes benchfs_stat reports, and the io500
// query must find exactly the files made for it. Bad arguments, a missing
// DIR and a missing -newer file must fail.
//
// BENCHFS_FIND_PERF=1 adds a timing run instead (10 directories of 10,000
// files, or BENCHFS_FIND_PERF_DIRS x BENCHFS_FIND_PERF_FILES): benchfs_find
// with 1 and 2 ranks, times printed (see tools/README.md).

#include <fcntl.h>
#include <fnmatch.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "benchfs/benchfs.h"
#include "fs_fixture.hpp"
#include "harness.hpp"

using benchfs::test::JobOptions;

namespace {

constexpr int kToolTimeoutMs = 60000;

std::string why() { return std::string(std::strerror(errno)) + ": " + benchfs_last_error(); }

// One entry of the test tree as benchfs_stat reports it.
struct Entry {
  std::string path;
  std::string name;
  bool dir = false;
  uint64_t size = 0;
  timespec mtime{};
};

bool later(const timespec& a, const timespec& b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec > b.tv_nsec;
}

// GNU find's -size with units of `unit` bytes: the size rounded up.
uint64_t units(uint64_t size, uint64_t unit) { return (size + unit - 1) / unit; }

// What benchfs_find printed: stdout lines, stderr, exit status.
struct FindRun {
  int rc = -1;
  std::vector<std::string> lines;  // stdout
  std::string err;                 // stderr (and mpirun's own messages)
  std::string all;                 // for failure messages

  // The paths printed: every stdout line but the last (a multiset, so that a
  // path printed twice shows).
  [[nodiscard]] std::multiset<std::string> paths() const {
    std::multiset<std::string> s;
    for (size_t i = 0; i + 1 < lines.size(); ++i) s.insert(lines[i]);
    return s;
  }
  [[nodiscard]] std::string last() const { return lines.empty() ? std::string() : lines.back(); }
};

using benchfs::test::read_file;
using benchfs::test::shell_quote;

class FindTest : public benchfs::test::FsJobTest {
 protected:
  FindTest() : FsJobTest("benchfs-find") {}

  void start() {
    auto opts = JobOptions::of(2, 1);
    opts.hard_timeout_s = 600;
    ASSERT_NO_FATAL_FAILURE(start_job(opts, 20000));
  }

  // benchfs_find with `args`: under mpirun with `np` ranks, or directly
  // (np 0). stdout and stderr are kept apart.
  FindRun find(int np, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> argv;
    if (np > 0) {
      argv = {"mpirun", "-np", std::to_string(np), "--bind-to", "none", "--oversubscribe"};
    }
    argv.push_back(BENCHFS_FIND);
    for (const auto& a : args) argv.push_back(a);
    const std::string out_file = dir_.sub("find.out"), err_file = dir_.sub("find.err");
    std::string cmd = "exec";
    for (const auto& a : argv) cmd += " " + shell_quote(a);
    cmd += " >" + shell_quote(out_file) + " 2>" + shell_quote(err_file);
    FindRun r;
    std::string ignored;
    r.rc = benchfs::test::run_command({"sh", "-c", cmd}, kToolTimeoutMs, &ignored, env);
    const std::string out = read_file(out_file);
    r.err = read_file(err_file);
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) r.lines.push_back(line);
    r.all = "command: " + cmd + "\nexit status " + std::to_string(r.rc) + "\n---- stdout ----\n" + out +
            "---- stderr ----\n" + r.err + ignored;
    EXPECT_TRUE(out.empty() || out.back() == '\n') << "stdout does not end with a newline\n" << r.all;
    return r;
  }

  // The same with --registry of this job.
  FindRun find_in_job(int np, std::vector<std::string> args) {
    args.push_back("--registry");
    args.push_back(registry_);
    return find(np, args);
  }

  void mkdir(const std::string& path) {
    ASSERT_EQ(benchfs_mkdir(path.c_str(), 0755), 0) << path << ": " << why();
  }

  void write_file(const std::string& path, uint64_t size) {
    const int fd = benchfs_open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
    ASSERT_GE(fd, 0) << path << ": " << why();
    if (size > 0) {
      std::vector<char> buf(size, 'x');
      ASSERT_EQ(benchfs_pwrite(fd, buf.data(), size, 0), static_cast<ssize_t>(size)) << path << ": " << why();
    }
    ASSERT_EQ(benchfs_close(fd), 0) << path << ": " << why();
  }

  // Sleeps long enough that later mtimes differ from earlier ones, local
  // file-system timestamps (which take a coarse clock) included.
  static void tick() { std::this_thread::sleep_for(std::chrono::milliseconds(40)); }

  // Every entry under (and including) root, from benchfs_stat / readdir.
  std::vector<Entry> snapshot(const std::string& root) {
    std::vector<Entry> out;
    std::vector<std::string> todo{root};
    while (!todo.empty()) {
      const std::string p = todo.back();
      todo.pop_back();
      struct stat st {};
      EXPECT_EQ(benchfs_stat(p.c_str(), &st), 0) << p << ": " << why();
      Entry e;
      e.path = p;
      e.name = p == "/" ? p : p.substr(p.rfind('/') + 1);
      e.dir = S_ISDIR(st.st_mode);
      e.size = static_cast<uint64_t>(st.st_size);
      e.mtime = st.st_mtim;
      out.push_back(e);
      if (!e.dir) continue;
      std::vector<std::string> names;
      auto fn = [](void* arg, const char* name, unsigned char) -> int {
        static_cast<std::vector<std::string>*>(arg)->push_back(name);
        return 0;
      };
      EXPECT_GE(benchfs_readdir(p.c_str(), fn, &names), 0) << p << ": " << why();
      for (const auto& n : names) todo.push_back(p + "/" + n);
    }
    return out;
  }

  // The local timestamp file, touched between the old and the new files.
  std::string local_stamp() const { return dir_.sub("timestampfile"); }

  // The tree of the tests. Returns nothing; fills tree_ and the stamps.
  void make_tree() {
    mkdir("/io500");
    mkdir("/io500/data");
    mkdir("/io500/data/a");
    mkdir("/io500/data/a/b");
    mkdir("/io500/data/a/b/c");
    mkdir("/io500/data/dir01");
    mkdir("/io500/data/empty");
    // Before the timestamp file.
    for (const auto& [path, size] : std::vector<std::pair<std::string, uint64_t>>{
             {"/io500/data/old01", 3901},
             {"/io500/data/a/file.01.old", 3901},
             {"/io500/data/a/zero", 0},
             {"/io500/data/a/b/one01", 1},
             {"/io500/data/dir01/plain", 3901},
             {"/io500/data/a/b/c/big01", 1 << 20},
         })
      ASSERT_NO_FATAL_FAILURE(write_file(path, size));
    tick();
    {
      std::ofstream touch(local_stamp());
      ASSERT_TRUE(touch.good()) << local_stamp();
    }
    // A timestamp file inside BenchFS too (outside the searched tree).
    ASSERT_NO_FATAL_FAILURE(write_file("/io500/stamp", 0));
    tick();
    // After it: the io500 query (-size 3901c -name *01*) finds exactly these.
    io500_hits_ = {"/io500/data/new01", "/io500/data/a/b/c/x01y", "/io500/data/dir01/0101",
                   "/io500/data/a/b/file.01"};
    for (const auto& p : io500_hits_) ASSERT_NO_FATAL_FAILURE(write_file(p, 3901));
    for (const auto& [path, size] : std::vector<std::pair<std::string, uint64_t>>{
             {"/io500/data/new02", 3901},          // name does not match
             {"/io500/data/a/new01.small", 3900},  // size does not match
             {"/io500/data/a/new01.large", 3902},
             {"/io500/data/a/b/c/513", 513},
             {"/io500/data/a/b/c/4096", 4096},
             {"/io500/data/a/b/c/4097", 4097},
             {"/io500/data/a/b/c/3072", 3072},
             {"/io500/data/a/b/c/3073", 3073},
             {"/io500/data/empty01", 0},
         })
      ASSERT_NO_FATAL_FAILURE(write_file(path, size));
    mkdir("/io500/data/a/newdir01");
    tree_ = snapshot("/io500/data");
    ASSERT_EQ(tree_.size(), 7u + 6u + 4u + 9u);  // directories, old files, new files
    struct stat st {};
    ASSERT_EQ(::stat(local_stamp().c_str(), &st), 0);
    local_mtime_ = st.st_mtim;
    ASSERT_EQ(benchfs_stat("/io500/stamp", &st), 0) << why();
    benchfs_mtime_ = st.st_mtim;
  }

  // Paths of tree_ for which pred holds.
  template <class Pred>
  std::multiset<std::string> expected(Pred pred) const {
    std::multiset<std::string> s;
    for (const Entry& e : tree_)
      if (pred(e)) s.insert(e.path);
    return s;
  }

  // Runs the query with np ranks (0: no mpirun; -1: --serial) and checks the
  // paths and the MATCHED line against `want`.
  void check(int np, std::vector<std::string> args, const std::multiset<std::string>& want,
             size_t examined = 0) {
    if (examined == 0) examined = tree_.size();
    if (np < 0) args.push_back("--serial");
    const FindRun r = find_in_job(np < 0 ? 0 : np, args);
    ASSERT_EQ(r.rc, 0) << r.all;
    EXPECT_EQ(r.last(), "MATCHED " + std::to_string(want.size()) + "/" + std::to_string(examined)) << r.all;
    EXPECT_EQ(r.paths(), want) << r.all;
  }

  std::vector<Entry> tree_;
  std::vector<std::string> io500_hits_;
  timespec local_mtime_{};
  timespec benchfs_mtime_{};
};

TEST_F(FindTest, Io500QueryAndGnuSemanticsWithOneAndTwoRanks) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(make_tree());
  const timespec stamp = local_mtime_;
  const auto io500 = expected([&](const Entry& e) {
    return later(e.mtime, stamp) && e.size == 3901 && fnmatch("*01*", e.name.c_str(), 0) == 0;
  });
  // The attributes say what the test meant to make.
  ASSERT_EQ(io500, std::multiset<std::string>(io500_hits_.begin(), io500_hits_.end()));

  const std::vector<std::string> query = {"/io500/data", "-newer", local_stamp(), "-size",
                                          "3901c",       "-name",  "*01*"};
  for (int np : {1, 2, 0, -1}) {
    SCOPED_TRACE("np " + std::to_string(np));
    ASSERT_NO_FATAL_FAILURE(check(np, query, io500));
  }
  // Everything (DIR included).
  const auto all = expected([](const Entry&) { return true; });
  for (int np : {1, 2}) {
    SCOPED_TRACE("np " + std::to_string(np));
    ASSERT_NO_FATAL_FAILURE(check(np, {"/io500/data"}, all));
    // -name also matches directories, and the start directory's own name.
    ASSERT_NO_FATAL_FAILURE(check(np, {"/io500/data", "-name", "*01*"}, expected([](const Entry& e) {
                                    return fnmatch("*01*", e.name.c_str(), 0) == 0;
                                  })));
    ASSERT_NO_FATAL_FAILURE(check(np, {"/io500/data", "-name", "data"}, {"/io500/data"}));
    ASSERT_NO_FATAL_FAILURE(
        check(np, {"/io500/data", "-type", "d"}, expected([](const Entry& e) { return e.dir; })));
    ASSERT_NO_FATAL_FAILURE(
        check(np, {"/io500/data", "-type", "f", "-name", "*01*"},
              expected([](const Entry& e) { return !e.dir && fnmatch("*01*", e.name.c_str(), 0) == 0; })));
  }
  // -size, GNU rules: sizes rounded up to the unit; +N more, -N less.
  const auto files = [](auto pred) { return [pred](const Entry& e) { return !e.dir && pred(e.size); }; };
  struct SizeCase {
    std::string arg;
    std::function<bool(uint64_t)> pred;
  };
  const std::vector<SizeCase> sizes = {
      {"3901c", [](uint64_t s) { return s == 3901; }},
      {"+3901c", [](uint64_t s) { return s > 3901; }},
      {"-3901c", [](uint64_t s) { return s < 3901; }},
      {"4k", [](uint64_t s) { return units(s, 1024) == 4; }},  // 3073 .. 4096 bytes
      {"-1k", [](uint64_t s) { return s == 0; }},              // rounded up: only empty files
      {"+3k", [](uint64_t s) { return s > 3072; }},
      {"8", [](uint64_t s) { return units(s, 512) == 8; }},  // 512-byte blocks: 3585 .. 4096
      {"2b", [](uint64_t s) { return s > 512 && s <= 1024; }},
      {"1M", [](uint64_t s) { return s > 0 && s <= (1u << 20); }},
      {"+0G", [](uint64_t s) { return s > 0; }},
      {"2049w", [](uint64_t s) { return s == 4097 || s == 4098; }},
  };
  // Directories have a size too: do not let it decide.
  for (const auto& c : sizes) {
    SCOPED_TRACE("-size " + c.arg);
    ASSERT_NO_FATAL_FAILURE(check(2, {"/io500/data", "-type", "f", "-size", c.arg}, expected(files(c.pred))));
  }
  // Hand-counted, in case the expectations above share a mistake with the tool.
  ASSERT_NO_FATAL_FAILURE(
      check(1, {"/io500/data", "-type", "f", "-size", "4k"},
            {"/io500/data/old01", "/io500/data/a/file.01.old", "/io500/data/dir01/plain", "/io500/data/new01",
             "/io500/data/a/b/c/x01y", "/io500/data/dir01/0101", "/io500/data/a/b/file.01",
             "/io500/data/new02", "/io500/data/a/new01.small", "/io500/data/a/new01.large",
             "/io500/data/a/b/c/4096", "/io500/data/a/b/c/3073"}));
  ASSERT_NO_FATAL_FAILURE(
      check(2, {"/io500/data", "-type", "f", "-size", "-1k"}, {"/io500/data/a/zero", "/io500/data/empty01"}));
  // -newer: strictly later mtimes; a BenchFS path when there is no local file.
  const timespec bstamp = benchfs_mtime_;
  for (int np : {1, 2}) {
    SCOPED_TRACE("np " + std::to_string(np));
    ASSERT_NO_FATAL_FAILURE(check(np, {"/io500/data", "-newer", local_stamp()},
                                  expected([&](const Entry& e) { return later(e.mtime, stamp); })));
    ASSERT_NO_FATAL_FAILURE(
        check(np, {"/io500/data", "-newer", "/io500/stamp", "-type", "f"},
              expected([&](const Entry& e) { return !e.dir && later(e.mtime, bstamp); })));
  }
  EXPECT_EQ(expected([&](const Entry& e) { return !e.dir && later(e.mtime, bstamp); }).size(), 13u);
  // DIR as io500 writes it (trailing slash), or relative: the paths printed
  // are cleaned up BenchFS paths.
  ASSERT_NO_FATAL_FAILURE(
      check(2, {"/io500/data/", "-name", "*01*", "-newer", local_stamp(), "-size", "3901c"}, io500));
  ASSERT_NO_FATAL_FAILURE(
      check(1, {"io500//data/./", "-newer", local_stamp(), "-size", "3901c", "-name", "*01*"}, io500));
  // A subtree, and a file as DIR.
  ASSERT_NO_FATAL_FAILURE(check(2, {"/io500/data/a/b/c", "-type", "f", "-size", "+4k"},
                                {"/io500/data/a/b/c/big01", "/io500/data/a/b/c/4097"}, 8));
  ASSERT_NO_FATAL_FAILURE(check(2, {"/io500/data/new01", "-name", "new*"}, {"/io500/data/new01"}, 1));
}

TEST_F(FindTest, QuietRegistryFromEnvironmentAndOptionsBeforeDir) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(make_tree());
  const std::string n = std::to_string(tree_.size());
  const std::string hits = std::to_string(io500_hits_.size());
  // io500 runs "<external-mpi-args> <script> <external-extra-args> <datadir> -newer ...".
  for (int np : {1, 2}) {
    SCOPED_TRACE("np " + std::to_string(np));
    const FindRun r = find(np, {"-q", "--registry", registry_, "/io500/data/", "-newer", local_stamp(),
                                "-size", "3901c", "-name", "*01*"});
    ASSERT_EQ(r.rc, 0) << r.all;
    EXPECT_EQ(r.lines, std::vector<std::string>{"MATCHED " + hits + "/" + n}) << r.all;
    // BENCHFS_REGISTRY instead of --registry; -v adds statistics on stderr.
    const FindRun e = find(np, {"/io500/data", "-q", "-v"}, {{"BENCHFS_REGISTRY", registry_}});
    ASSERT_EQ(e.rc, 0) << e.all;
    EXPECT_EQ(e.lines, std::vector<std::string>{"MATCHED " + n + "/" + n}) << e.all;
    EXPECT_NE(e.err.find("entries examined"), std::string::npos) << e.all;
    // --print after -q prints again.
    const FindRun p = find_in_job(np, {"/io500/data", "-q", "--print", "-name", "*01*", "-type", "d"});
    ASSERT_EQ(p.rc, 0) << p.all;
    EXPECT_EQ(p.paths(), (std::multiset<std::string>{"/io500/data/dir01", "/io500/data/a/newdir01"}))
        << p.all;
  }
}

// io500 runs "<external-mpi-args> <script> <external-extra-args> <datadir>
// -newer <resultdir>/timestampfile -size 3901c -name "*01*"" through popen
// from its rank 0, and takes the last line. MPI_Init would fail there (the
// child inherits rank 0's launcher variables): --serial runs without MPI,
// --launch starts a parallel find with those variables removed.
TEST_F(FindTest, FromInsideAnMpiJobAsIo500RunsIt) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(make_tree());
  const std::string tail =
      " /io500/data -newer " + shell_quote(local_stamp()) + " -size 3901c -name \"*01*\"";
  const std::string tool = shell_quote(BENCHFS_FIND) + " --registry " + shell_quote(registry_);
  const std::string matched =
      "out: MATCHED " + std::to_string(io500_hits_.size()) + "/" + std::to_string(tree_.size());
  struct Case {
    std::string cmd;
    bool print;
  };
  const std::vector<Case> cases = {
      {tool + " --serial -q" + tail, false},
      {tool + " --serial" + tail, true},
      {tool + " --launch 'mpirun -np 2 --bind-to none --oversubscribe' -q" + tail, false},
      {tool + " --launch 'mpirun -np 2 --bind-to none --oversubscribe'" + tail, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.cmd);
    std::string out;
    const int rc = benchfs::test::run_command(
        {"mpirun", "-np", "2", "--bind-to", "none", "--oversubscribe", FIND_POPEN_RANK, c.cmd},
        kToolTimeoutMs, &out);
    ASSERT_EQ(rc, 0) << out;
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
      if (line.starts_with("out: ") || line.starts_with("status ")) lines.push_back(line);
    ASSERT_GE(lines.size(), 2u) << out;
    EXPECT_EQ(lines.back(), "status 0") << out;
    EXPECT_EQ(lines[lines.size() - 2], matched) << out;
    std::multiset<std::string> paths;
    for (size_t i = 0; i + 2 < lines.size(); ++i) paths.insert(lines[i].substr(5));
    const std::multiset<std::string> want =
        c.print ? std::multiset<std::string>(io500_hits_.begin(), io500_hits_.end())
                : std::multiset<std::string>();
    EXPECT_EQ(paths, want) << out;
  }
}

TEST_F(FindTest, MissingDirAndMissingNewerFileFail) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(mkdir("/there"));
  for (int np : {1, 2}) {
    SCOPED_TRACE("np " + std::to_string(np));
    const FindRun r = find_in_job(np, {"/not/there", "-name", "*"});
    EXPECT_EQ(r.rc, 1) << r.all;
    EXPECT_NE(r.err.find("/not/there"), std::string::npos) << r.all;
    EXPECT_EQ(r.last(), "MATCHED 0/0") << r.all;
    const FindRun n = find_in_job(np, {"/there", "-newer", dir_.sub("no-such-stamp")});
    EXPECT_NE(n.rc, 0) << n.all;
    EXPECT_NE(n.err.find("no-such-stamp"), std::string::npos) << n.all;
    EXPECT_TRUE(n.lines.empty()) << n.all;
  }
}

// Needs no servers: arguments are checked before anything is done.
TEST(FindArgs, BadArgumentsExitTwoWithAMessage) {
  benchfs::test::TempDir dir("benchfs-find-args");
  const std::map<std::string, std::string> env = {{"BENCHFS_REGISTRY", dir.path()}};
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"/d", "-size", "12x"}, "invalid argument '12x' to -size"},
      {{"/d", "-size", "k"}, "invalid argument 'k' to -size"},
      {{"/d", "-size", "99999999999999999999c"}, "to -size"},
      {{"/d", "-type", "q"}, "invalid argument 'q' to -type"},
      {{"/d", "-bogus"}, "unknown test or option '-bogus'"},
      {{"/d", "-name"}, "missing argument to '-name'"},
      {{"/d", "/e"}, "more than one directory"},
      {{"-name", "x"}, "no directory given"},
      {{"/d", "--serial", "--launch", "mpirun"}, "--serial and --launch exclude each other"},
      {{"/d", "--launch", " "}, "empty --launch"},
  };
  for (int np : {0, 2}) {
    for (const Case& c : cases) {
      std::vector<std::string> argv;
      if (np > 0) argv = {"mpirun", "-np", std::to_string(np), "--bind-to", "none", "--oversubscribe"};
      argv.push_back(BENCHFS_FIND);
      for (const auto& a : c.args) argv.push_back(a);
      std::string out;
      const int rc = benchfs::test::run_command(argv, kToolTimeoutMs, &out, env);
      SCOPED_TRACE("np " + std::to_string(np) + ": " + c.message);
      EXPECT_EQ(rc, 2) << out;  // not -1: every rank exits, none hangs
      EXPECT_NE(out.find(c.message), std::string::npos) << out;
      // Printed once, by the first rank.
      EXPECT_EQ(out.find(c.message), out.rfind(c.message)) << out;
      EXPECT_EQ(out.find("MATCHED"), std::string::npos) << out;
    }
  }
  // No registry at all.
  std::string out;
  const int rc =
      benchfs::test::run_command({"env", "-u", "BENCHFS_REGISTRY", BENCHFS_FIND, "/d"}, kToolTimeoutMs, &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("no registry"), std::string::npos) << out;
  // --help: the usage on stdout, status 0.
  EXPECT_EQ(benchfs::test::run_command({BENCHFS_FIND, "--help"}, kToolTimeoutMs, &out), 0) << out;
  EXPECT_NE(out.find("Usage: benchfs_find DIR"), std::string::npos) << out;
}

// ------------------------------------------------------------ timing

TEST_F(FindTest, PerfManyFiles) {
  if (benchfs::test::env_positive_int("BENCHFS_FIND_PERF", 0) == 0)
    GTEST_SKIP() << "timing run: set BENCHFS_FIND_PERF=1";
  ASSERT_NO_FATAL_FAILURE(start());
  const int dirs = benchfs::test::env_positive_int("BENCHFS_FIND_PERF_DIRS", 10);
  const int per_dir = benchfs::test::env_positive_int("BENCHFS_FIND_PERF_FILES", 10000);
  ASSERT_NO_FATAL_FAILURE(mkdir("/perf"));
  for (int d = 0; d < dirs; ++d) ASSERT_NO_FATAL_FAILURE(mkdir("/perf/d" + std::to_string(d)));
  // Every 100th file has 3901 bytes (so 99 of 10,000 per directory match
  // the query); names as mdtest's "file.mdtest.<rank>.<n>".
  const auto t0 = std::chrono::steady_clock::now();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int d = 0; d < dirs; ++d) {
    threads.emplace_back([&, d] {
      std::vector<char> buf(3901, 'x');
      for (int i = 0; i < per_dir; ++i) {
        const std::string p =
            "/perf/d" + std::to_string(d) + "/file.mdtest." + std::to_string(d) + "." + std::to_string(i);
        const int fd = benchfs_open(p.c_str(), O_CREAT | O_WRONLY, 0644);
        if (fd < 0 || (i % 100 == 1 && benchfs_pwrite(fd, buf.data(), buf.size(), 0) != 3901) ||
            benchfs_close(fd) != 0)
          failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  const double make_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const uint64_t total = 1 + static_cast<uint64_t>(dirs) * (1 + static_cast<uint64_t>(per_dir));
  std::printf("made %d x %d files in %.2f s\n", dirs, per_dir, make_s);
  uint64_t want = 0;
  for (int d = 0; d < dirs; ++d)
    for (int i = 1; i < per_dir; i += 100) {
      const std::string n = "file.mdtest." + std::to_string(d) + "." + std::to_string(i);
      if (fnmatch("*01*", n.c_str(), 0) == 0) ++want;
    }
  ASSERT_GT(want, 0u);
  for (int round = 0; round < 2; ++round) {
    for (int np : {-1, 1, 2}) {  // -1: --serial, without mpirun
      for (bool print : {false, true}) {
        std::vector<std::string> args = {"/perf", "-size", "3901c", "-name", "*01*", "-v"};
        if (!print) args.push_back("-q");
        if (np < 0) args.push_back("--serial");
        const auto s = std::chrono::steady_clock::now();
        const FindRun r = find_in_job(std::max(np, 0), args);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count();
        ASSERT_EQ(r.rc, 0) << r.all;
        EXPECT_EQ(r.last(), "MATCHED " + std::to_string(want) + "/" + std::to_string(total)) << r.all;
        EXPECT_EQ(r.paths().size(), print ? want : 0u) << r.all;
        std::printf("np %2d %-6s: %.3f s with startup (%.0f entries/s); %s", np, print ? "print" : "-q", secs,
                    static_cast<double>(total) / secs, r.err.c_str());
      }
    }
  }
}

}  // namespace
