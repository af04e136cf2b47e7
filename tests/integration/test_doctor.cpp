// benchfs_bench doctor against real benchfsd_mt servers (2 ranks): live
// servers, alone and under mpirun (an OK line per rank and server, with RTT
// and transports, exit 0); a registry whose second server is a dead port
// (that pair fails with a "not answering" diagnosis within the timeout,
// exit non-zero); a registry copy with another job secret (wrong secret).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "benchfs/registry/server_list.hpp"
#include "harness.hpp"

using benchfs::test::JobOptions;
using benchfs::test::ServerJob;
using benchfs::test::TempDir;

namespace {

constexpr int kServers = 2;
constexpr int kCommandTimeoutMs = 60000;

// The lines of `out` that contain every one of `words`.
std::vector<std::string> lines_with(const std::string& out, const std::vector<std::string>& words) {
  std::vector<std::string> found;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    bool all = true;
    for (const std::string& w : words) all = all && line.find(w) != std::string::npos;
    if (all) found.push_back(line);
  }
  return found;
}

// A TCP port on 127.0.0.1 that nothing listens on (bound once, then closed).
uint16_t dead_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

// A registry in `dir` (mode 0700, files 0600, as servers write them) with
// these servers and ready info.
void write_registry(const std::string& dir, const std::vector<benchfs::registry::ServerEntry>& servers,
                    const benchfs::registry::ReadyInfo& info) {
  ASSERT_TRUE(benchfs::registry::prepare_directory(dir).is_ok());
  for (const auto& e : servers) ASSERT_TRUE(benchfs::registry::append_server(dir, e).is_ok());
  ASSERT_TRUE(benchfs::registry::publish_ready(dir, info).is_ok());
}

class Doctor : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("benchfs-doctor");
    auto opts = JobOptions::of(kServers, 1);
    opts.hard_timeout_s = 170;
    job_ = new ServerJob(dir_->path(), opts);
    ASSERT_JOB_READY(*job_);
  }
  static void TearDownTestSuite() {
    if (job_ != nullptr) {
      EXPECT_EQ(job_->terminate(20000), 0) << job_->log();
    }
    delete job_;
    job_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(job_ != nullptr && job_->running()) << job_->log(); }

  // benchfs_bench doctor --registry registry args..., alone or under mpirun with `ranks`.
  static int doctor(const std::string& registry, int ranks, const std::vector<std::string>& args,
                    std::string* out) {
    std::vector<std::string> argv;
    if (ranks > 0) argv = {"mpirun", "-np", std::to_string(ranks), "--bind-to", "none", "--oversubscribe"};
    argv.insert(argv.end(), {benchfs::test::bench_path(), "doctor", "--registry", registry});
    argv.insert(argv.end(), args.begin(), args.end());
    return benchfs::test::run_command(argv, kCommandTimeoutMs, out);
  }

  struct Run {
    std::string out;
    double secs = 0;  // how long doctor ran
  };
  // benchfs_bench doctor (`ranks` and `args` as doctor() takes them) on a
  // registry of its own in a new temp dir `name`: the live job's server list
  // and ready info as `edit` changes them. Expects doctor to fail and to
  // finish. After a fatal failure writing the registry, returns at once.
  template <class Edit>
  static Run doctor_on_edited_registry(const char* name, int ranks, const std::vector<std::string>& args,
                                       Edit edit) {
    auto list = job_->servers();
    edit(list);
    TempDir reg(name);
    const std::string dir = reg.sub("registry");
    write_registry(dir, list.servers, list.info);
    Run run;
    if (HasFatalFailure()) return run;
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = doctor(dir, ranks, args, &run.out);
    run.secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_NE(rc, 0) << run.out;
    EXPECT_NE(rc, -1) << "doctor did not finish: " << run.out;
    return run;
  }

  static TempDir* dir_;
  static ServerJob* job_;
};

TempDir* Doctor::dir_ = nullptr;
ServerJob* Doctor::job_ = nullptr;

TEST_F(Doctor, LiveServersGiveAnOkLinePerRankAndServer) {
  for (const int ranks : {0, 2}) {
    SCOPED_TRACE(ranks == 0 ? "alone" : "under mpirun");
    std::string out;
    ASSERT_EQ(doctor(job_->registry(), ranks, {}, &out), 0) << out;
    const int pairs = kServers * (ranks == 0 ? 1 : ranks);
    const auto ok = lines_with(out, {" OK connect ", " ms, register ok, rtt ", " us (median of 5)",
                                     "write+read 4 KiB ok", "transports "});
    EXPECT_EQ(ok.size(), static_cast<size_t>(pairs)) << out;
    for (int r = 0; r < (ranks == 0 ? 1 : ranks); ++r)
      for (int s = 0; s < kServers; ++s)
        EXPECT_EQ(lines_with(out, {"rank " + std::to_string(r) + " node_" + std::to_string(s) + " ", " OK "})
                      .size(),
                  1u)
            << "rank " << r << " server " << s << "\n"
            << out;
    EXPECT_TRUE(lines_with(out, {"FAIL"}).empty()) << out;
    EXPECT_EQ(lines_with(out, {"doctor: OK: every rank"}).size(), 1u) << out;
  }
}

TEST_F(Doctor, DeadPortIsDiagnosedAsNotAnsweringWithinTheTimeout) {
  // node_0 is the live server, node_1 a port nothing listens on.
  const auto [out, secs] =
      doctor_on_edited_registry("benchfs-doctor-dead", 0, {"--timeout-ms", "1500"}, [](auto& list) {
        list.info.servers = 2;
        list.servers = {list.servers[0], {1, "127.0.0.1", dead_port()}};
      });
  if (HasFatalFailure()) return;
  EXPECT_LT(secs, 15.0) << out;
  EXPECT_EQ(lines_with(out, {"rank 0 node_0 ", " OK connect "}).size(), 1u) << out;
  EXPECT_EQ(lines_with(out, {"rank 0 node_1 ", " FAIL at connect"}).size(), 1u) << out;
  EXPECT_EQ(lines_with(out, {"rank 0 node_1 diagnosis: server not answering"}).size(), 1u) << out;
  EXPECT_EQ(lines_with(out, {"doctor: FAILED: 1 of 2 rank-server pairs failed"}).size(), 1u) << out;
}

TEST_F(Doctor, WrongSecretIsDiagnosed) {
  // The live servers' list with another job's secret.
  const std::string out =
      doctor_on_edited_registry("benchfs-doctor-secret", 2, {"--timeout-ms", "2000"}, [](auto& list) {
        list.info.secret ^= 0x5a5a5a5a5a5a5a5aULL;
      }).out;
  if (HasFatalFailure()) return;
  EXPECT_EQ(lines_with(out, {"diagnosis: wrong secret"}).size(), static_cast<size_t>(2 * kServers)) << out;
  EXPECT_TRUE(lines_with(out, {" OK connect "}).empty()) << out;
  EXPECT_EQ(lines_with(out, {"doctor: FAILED: 4 of 4 rank-server pairs failed"}).size(), 1u) << out;
}

TEST_F(Doctor, MissingRegistryIsDiagnosed) {
  TempDir reg("benchfs-doctor-missing");
  std::string out;
  const int rc = doctor(reg.sub("nothing-here"), 0, {"--timeout-ms", "500"}, &out);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(rc, -1) << out;
  EXPECT_EQ(lines_with(out, {"rank 0 diagnosis: registry missing"}).size(), 1u) << out;
}

}  // namespace
