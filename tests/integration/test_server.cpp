// Integration tests: real benchfsd_mt jobs under mpirun, real clients over
// UCX on loopback. Every job is killed with its process tree on teardown.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>

#include "benchfs/client/engine.hpp"
#include "benchfs/core/clock.hpp"
#include "benchfs/core/log.hpp"
#include "harness.hpp"

using namespace benchfs;
using namespace benchfs::client;
using namespace benchfs::test;

namespace {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { (void)init_logging("test"); }  // BENCHFS_LOG_LEVEL applies to the clients here
  void TearDown() override {
    // The servers' side of a failure, before the temp dir goes.
    if (HasFailure() && job_) {
      job_->kill_all();
      std::printf("---- server log ----\n%s\n---- end of server log ----\n", job_->log().c_str());
    }
  }

  void start(int ranks, unsigned threads, std::vector<std::string> extra = {},
             const std::string& listen = "127.0.0.1:0") {
    JobOptions opts;
    opts.ranks = ranks;
    opts.threads = threads;
    opts.extra_args = std::move(extra);
    opts.listen = listen;
    job_ = std::make_unique<ServerJob>(dir_.path(), opts);
    ASSERT_JOB_READY(*job_);
  }

  std::unique_ptr<Client> connect(bool prewarm = true, uint64_t timeout_ms = 10000) {
    ClientOptions o;
    o.registry = job_->registry();
    o.prewarm = prewarm;
    o.rpc_timeout_ms = timeout_ms;
    o.wait_ready_ms = 5000;
    auto c = Client::create(o);
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return c.ok() ? std::move(*c) : nullptr;
  }

  static std::vector<unsigned char> pattern(size_t n, unsigned seed) {
    std::vector<unsigned char> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<unsigned char>(i * 31 + seed * 17 + (i >> 8));
    return v;
  }

  static Status ping_checked(Client& c, uint32_t server, size_t n, unsigned seed) {
    auto out = pattern(n, seed);
    std::vector<unsigned char> back(n, 0xEE);
    Status st = c.ping(server, out.data(), n, back.data());
    if (!st) return st;
    if (out != back) return Status(EIO, "echo differs");
    return Status();
  }

  TempDir dir_{"benchfs-it"};
  std::unique_ptr<ServerJob> job_;
};

double seconds_since(uint64_t t0) { return static_cast<double>(now_ns() - t0) / 1e9; }

}  // namespace

TEST_F(ServerTest, RegistryIsPublishedWithPrivatePermissions) {
  start(3, 1);
  auto list = job_->servers();
  ASSERT_EQ(list.servers.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(list.servers[i].node, i);
    EXPECT_EQ(list.servers[i].host, "127.0.0.1");
    EXPECT_NE(list.servers[i].port, 0);
  }
  EXPECT_EQ(list.info.chunk_size, 1u << 20);
  EXPECT_NE(list.info.secret, 0u);
  struct stat st {};
  ASSERT_EQ(::stat(job_->registry().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((job_->registry() + "/server_list.ready").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(job_->terminate(20000), 0) << job_->log();
  // Rank 0 withdraws the list at shutdown.
  EXPECT_NE(::stat((job_->registry() + "/server_list.ready").c_str(), &st), 0);
}

TEST_F(ServerTest, EightClientsRegisterAndPingAcrossBothProgressThreads) {
  start(2, 2);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(connect());
    ASSERT_NE(clients.back(), nullptr);
  }
  std::set<int> threads_seen[2];
  constexpr int kRounds = 50;
  for (int round = 0; round < kRounds; ++round) {
    for (size_t i = 0; i < clients.size(); ++i) {
      for (uint32_t s = 0; s < 2; ++s) {
        const Status st = ping_checked(*clients[i], s, 64 + round, static_cast<unsigned>(i + round));
        ASSERT_TRUE(st.is_ok()) << "client " << i << " server " << s << ": " << st.to_string();
      }
    }
  }
  for (auto& c : clients)
    for (uint32_t s = 0; s < 2; ++s) threads_seen[s].insert(c->server_thread(s));
  EXPECT_EQ(threads_seen[0], (std::set<int>{0, 1}));
  EXPECT_EQ(threads_seen[1], (std::set<int>{0, 1}));
  ASSERT_EQ(job_->terminate(20000), 0) << job_->log();
  for (int rank = 0; rank < 2; ++rank) {
    auto j = job_->stats(rank);
    ASSERT_TRUE(j.is_object()) << "no stats for rank " << rank;
    EXPECT_EQ(j["ops"]["ping"]["count"].get<uint64_t>(), 8u * kRounds);
    EXPECT_EQ(j["ops"]["ping"]["errors"].get<uint64_t>(), 0u);
    EXPECT_EQ(j["ops"]["register_client"]["count"].get<uint64_t>(), 8u);
    EXPECT_EQ(j["registry"]["evictions"].get<uint64_t>(), 0u);
    EXPECT_GE(j["registry"]["hits"].get<uint64_t>(), 8u);  // touched at most once a millisecond per client
    EXPECT_EQ(j["decode_errors"].get<uint64_t>(), 0u);
    // Connections spread over both progress threads (fewest live wins: 4 + 4).
    const auto& per = j["connections"]["per_thread"];
    ASSERT_EQ(per.size(), 2u);
    EXPECT_EQ(per[0]["accepted"].get<uint64_t>(), 4u);
    EXPECT_EQ(per[1]["accepted"].get<uint64_t>(), 4u);
    EXPECT_GT(per[0]["requests"].get<uint64_t>(), 0u);
    EXPECT_GT(per[1]["requests"].get<uint64_t>(), 0u);
    EXPECT_TRUE(j["ops"]["ping"]["latency_us"].contains("p99"));
  }
}

TEST_F(ServerTest, EvictionBeyondCapacityKeepsEveryClientWorking) {
  // Idle 0: evictable whenever nothing is in flight, so 8 clients taking
  // turns against room for 4 are evicted all the time.
  start(1, 2, {"--client-capacity", "4", "--client-idle-ms", "0"});
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(connect(/*prewarm=*/false));
    ASSERT_NE(clients.back(), nullptr);
  }
  // Warm up (every client connected once), then count descriptors: the
  // reconnects that eviction forces must not leak any (UCX 1.13 keeps a
  // client-closed endpoint's socket until its worker goes away).
  for (size_t i = 0; i < clients.size(); ++i) ASSERT_TRUE(ping_checked(*clients[i], 0, 8, 1).is_ok());
  const size_t fds_before = test::open_fds();
  constexpr int kRounds = 40;
  for (int round = 0; round < kRounds; ++round) {
    for (size_t i = 0; i < clients.size(); ++i) {
      const Status st = ping_checked(*clients[i], 0, 8, static_cast<unsigned>(round * 8 + i));
      ASSERT_TRUE(st.is_ok()) << "round " << round << " client " << i << ": " << st.to_string();
    }
  }
  const size_t fds_after = test::open_fds();
  uint64_t reconnects = 0;
  uint64_t notices = 0;
  for (auto& c : clients) {
    reconnects += c->stats().reconnects;
    notices += c->stats().close_notifications;
  }
  EXPECT_GT(reconnects, 100u);
  EXPECT_GT(notices, 100u);
  EXPECT_LT(fds_after, fds_before + 40) << reconnects << " reconnects";
  clients.clear();
  ASSERT_EQ(job_->terminate(20000), 0) << job_->log();
  auto j = job_->stats(0);
  ASSERT_TRUE(j.is_object());
  EXPECT_GT(j["registry"]["evictions"].get<uint64_t>(), 0u);
  EXPECT_LE(j["registry"]["capacity"].get<uint64_t>(), 4u);
  EXPECT_EQ(j["ops"]["ping"]["errors"].get<uint64_t>(), 0u);
  uint64_t notified = 0;
  for (const auto& t : j["connections"]["per_thread"]) notified += t["notifications"].get<uint64_t>();
  EXPECT_GT(notified, 0u);
}

TEST_F(ServerTest, WrongSecretIsRejectedAndLeavesNoEntry) {
  start(1, 1);
  ClientOptions o;
  o.registry = job_->registry();
  o.prewarm = true;
  o.rpc_timeout_ms = 5000;
  o.secret_override = 0x1234;
  auto bad = Client::create(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().err(), EACCES);
  EXPECT_NE(bad.status().message().find("secret"), std::string::npos) << bad.status().message();
  auto good = connect();
  ASSERT_NE(good, nullptr);
  EXPECT_TRUE(ping_checked(*good, 0, 8, 1).is_ok());
  good.reset();
  ASSERT_EQ(job_->terminate(20000), 0);
  auto j = job_->stats(0);
  EXPECT_GE(j["auth_failures"].get<uint64_t>(), 1u);
  EXPECT_EQ(j["ops"]["register_client"]["count"].get<uint64_t>(), 2u);
  EXPECT_EQ(j["ops"]["register_client"]["errors"].get<uint64_t>(), 1u);
}

TEST_F(ServerTest, MalformedMessagesGetErrorRepliesAndTheServerKeepsServing) {
  start(1, 2);
  const auto list = job_->servers();
  RawClient raw;
  ASSERT_TRUE(raw.connect("127.0.0.1", list.servers[0].port).is_ok());

  auto header = [](wire::Op op, uint64_t id) {
    wire::Request r;
    r.op = op;
    r.request_id = id;
    return wire::encode_request_header(r);
  };
  auto expect_error = [&](const void* hdr, size_t hl, const void* data, size_t dl, uint64_t id, int err) {
    ASSERT_TRUE(raw.send(hdr, hl, data, dl).is_ok());
    auto r = raw.wait_reply(id, 5000);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->status, -err) << "request " << id;
  };
  int malformed = 0;

  // Too short to carry a request id: answered as request 0.
  unsigned char tiny[10] = {0x5a, 0xbf, 1, 2};
  expect_error(tiny, sizeof tiny, nullptr, 0, 0, EPROTO);
  ++malformed;
  // Bad magic, bad version, unknown op.
  auto h = header(wire::Op::kShutdown, 101);
  h.bytes[0] = std::byte{0x00};
  expect_error(h.data(), h.size, nullptr, 0, 101, EPROTO);
  h = header(wire::Op::kShutdown, 102);
  h.bytes[2] = std::byte{7};
  expect_error(h.data(), h.size, nullptr, 0, 102, EPROTO);
  h = header(wire::Op::kShutdown, 103);
  h.bytes[3] = std::byte{99};
  expect_error(h.data(), h.size, nullptr, 0, 103, EPROTO);
  malformed += 3;
  // A path length over 4096.
  wire::Request stat;
  stat.op = wire::Op::kStat;
  stat.request_id = 104;
  stat.path = "/x";
  h = wire::encode_request_header(stat);
  const uint32_t huge = 5000;
  std::memcpy(h.bytes.data() + wire::kRequestHeaderSize, &huge, 4);
  expect_error(h.data(), h.size, "/x", 2, 104, ENAMETOOLONG);
  // A ping whose payload does not match its declared length.
  wire::Request ping;
  ping.op = wire::Op::kPing;
  ping.request_id = 105;
  ping.length = 100;
  h = wire::encode_request_header(ping);
  expect_error(h.data(), h.size, "abc", 3, 105, EPROTO);
  // A ping claiming more than 4 MiB.
  ping.request_id = 106;
  ping.length = 5u << 20;
  h = wire::encode_request_header(ping);
  expect_error(h.data(), h.size, "abcdefgh", 8, 106, EINVAL);
  // An empty client id.
  wire::Request reg;
  reg.op = wire::Op::kRegisterClient;
  reg.request_id = 107;
  reg.secret = list.info.secret;
  h = wire::encode_request_header(reg);
  expect_error(h.data(), h.size, nullptr, 0, 107, EINVAL);
  // Trailing bytes after the fixed fields.
  h = header(wire::Op::kShutdown, 108);
  h.size += 4;
  expect_error(h.data(), h.size, nullptr, 0, 108, EPROTO);
  malformed += 5;
  // Garbage without a reply endpoint: counted, nothing to answer.
  ASSERT_TRUE(raw.send(tiny, sizeof tiny, nullptr, 0, /*reply_flag=*/false).is_ok());
  ++malformed;

  // Well-formed requests from a peer that never registered, or with a forged token.
  wire::Request p8;
  p8.op = wire::Op::kPing;
  p8.length = 8;
  auto r = raw.call(p8, "12345678", 8);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, -EACCES);
  uint64_t session = 0;
  ASSERT_TRUE(raw.register_client("raw-client", list.info.secret, &session).is_ok());
  p8.session = session ^ 0x5555;
  r = raw.call(p8, "12345678", 8);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, -EACCES);
  // The same connection still works.
  p8.session = 0;
  r = raw.call(p8, "abcdefgh", 8);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 0);
  ASSERT_EQ(raw.last_data().size(), 8u);
  EXPECT_EQ(std::memcmp(raw.last_data().data(), "abcdefgh", 8), 0);
  // And other clients are served.
  auto c = connect();
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(ping_checked(*c, 0, 1000, 3).is_ok());
  c.reset();
  raw.close();
  ASSERT_EQ(job_->terminate(20000), 0) << job_->log();
  auto j = job_->stats(0);
  EXPECT_EQ(j["decode_errors"].get<uint64_t>(), static_cast<uint64_t>(malformed));
  EXPECT_EQ(j["no_reply_ep"].get<uint64_t>(), 1u);
  EXPECT_EQ(j["unauthorized"].get<uint64_t>(), 2u);
}

TEST_F(ServerTest, OneClientSharedByFourThreads) {
  start(2, 2);
  auto c = connect(/*prewarm=*/false);
  ASSERT_NE(c, nullptr);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const Status st = ping_checked(*c, static_cast<uint32_t>((i + t) % 2), 8 + (i % 3) * 4000,
                                       static_cast<unsigned>(t * 1000 + i));
        if (!st && failures.fetch_add(1) < 3) ADD_FAILURE() << "thread " << t << ": " << st.to_string();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(c->stats().connects, 2u);  // one connection per server, shared
  EXPECT_EQ(c->stats().timeouts, 0u);
}

TEST_F(ServerTest, ClientIdOver256BytesIsRejected) {
  start(1, 1);
  ClientOptions o;
  o.registry = job_->registry();
  o.client_id = std::string(257, 'x');
  EXPECT_EQ(Client::create(o).status().err(), EINVAL);
  RawClient raw;
  const auto list = job_->servers();
  ASSERT_TRUE(raw.connect("127.0.0.1", list.servers[0].port).is_ok());
  EXPECT_EQ(raw.register_client(std::string(257, 'x'), list.info.secret, nullptr).err(), EINVAL);
  EXPECT_TRUE(raw.register_client(std::string(256, 'x'), list.info.secret, nullptr).is_ok());
  raw.close();
  ASSERT_EQ(job_->terminate(20000), 0);
  auto j = job_->stats(0);
  EXPECT_EQ(j["decode_errors"].get<uint64_t>(), 1u);
  EXPECT_EQ(j["registry"]["evictions"].get<uint64_t>(), 0u);
}

TEST(Daemon, RejectsBadOptionsWithAClearMessage) {
  std::string out;
  EXPECT_EQ(
      test::run_command({test::benchfsd_path(), "--registry", "/tmp/x", "--chunk-size", "3000"}, 20000, &out),
      2);
  EXPECT_NE(out.find("chunk-size"), std::string::npos) << out;
  EXPECT_EQ(
      test::run_command({test::benchfsd_path(), "--registry", "/tmp/x", "--poll", "sometimes"}, 20000, &out),
      2);
  EXPECT_NE(out.find("poll"), std::string::npos) << out;
  EXPECT_EQ(test::run_command({test::benchfsd_path(), "--threads", "0", "--registry", "/tmp/x"}, 20000, &out),
            2);
  EXPECT_EQ(test::run_command({test::benchfsd_path()}, 20000, &out, {{"BENCHFS_REGISTRY", ""}}), 2);
  EXPECT_NE(out.find("--registry"), std::string::npos) << out;
  EXPECT_EQ(test::run_command({test::benchfsd_path(), "--help"}, 20000, &out), 0);
  EXPECT_NE(out.find("--client-capacity"), std::string::npos);
}

// A thread that waits for the one server of `registry`, pings it if asked,
// and shuts it down.
std::thread stop_when_ready(const std::string& registry, bool ping) {
  return std::thread([registry, ping] {
    auto list = registry::wait_for_servers(registry, Deadline::after_ms(30000));
    if (!list) return;
    ClientOptions o;
    o.registry = registry;
    auto c = Client::create(o);
    if (!c.ok()) return;
    if (ping) {
      EXPECT_TRUE((*c)->ping(0, "single", 6, nullptr).is_ok());
    }
    EXPECT_TRUE((*c)->shutdown_server(0).is_ok());
  });
}

TEST(Daemon, RunsAsAnMpiSingleton) {
  TempDir dir("benchfs-single");
  test::set_test_environment();
  // No mpirun: MPI_Init makes this process a one-rank job.
  std::string out;
  std::thread stopper = stop_when_ready(dir.sub("registry"), /*ping=*/true);
  const int rc = test::run_command(
      {test::benchfsd_path(), "--registry", dir.sub("registry"), "--threads", "1", "--listen", "127.0.0.1:0"},
      60000, &out);
  stopper.join();
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("published 1 server"), std::string::npos) << out;
}

// The default --client-capacity (4096) shrinks to what the descriptor limit
// holds (~2 per connection, a quarter kept for the socket quarantine); one
// given explicitly is kept, with a warning.
TEST(Daemon, DefaultClientCapacityFitsTheDescriptorLimit) {
  test::set_test_environment();
  for (const bool given : {false, true}) {
    TempDir dir(given ? "benchfs-cap-given" : "benchfs-cap-default");
    std::thread stopper = stop_when_ready(dir.sub("registry"), /*ping=*/false);
    std::vector<std::string> cmd = {"prlimit",
                                    "--nofile=1024:1024",
                                    test::benchfsd_path(),
                                    "--registry",
                                    dir.sub("registry"),
                                    "--threads",
                                    "1",
                                    "--listen",
                                    "127.0.0.1:0",
                                    "--reserve",
                                    "0",
                                    "--log-level",
                                    "info",
                                    "--stats",
                                    dir.sub("stats.json")};
    if (given) {
      cmd.push_back("--client-capacity");
      cmd.push_back("5000");
    }
    std::string out;
    const int rc = test::run_command(cmd, 60000, &out);
    stopper.join();
    ASSERT_EQ(rc, 0) << out;
    std::ifstream in(dir.sub("stats.json"));
    const auto j = nlohmann::json::parse(in);
    if (given) {
      EXPECT_EQ(j["registry"]["capacity"].get<size_t>(), 5000u);
      EXPECT_NE(out.find("may need more descriptors than the limit (1024)"), std::string::npos) << out;
    } else {
      EXPECT_EQ(j["registry"]["capacity"].get<size_t>(), 256u);  // (1024 * 3 / 4 - 256) / 2
      EXPECT_NE(out.find("--client-capacity 256 (the descriptor limit, 1024, holds no more)"),
                std::string::npos)
          << out;
    }
  }
}

// Without --listen the server listens on every interface and advertises an
// address of the devices UCX_NET_DEVICES allows (lo here, as the tests and
// scripts/env.sh set it), which the clients, restricted alike, reach. An
// address on no such device is advertised as asked, with a warning.
TEST_F(ServerTest, DefaultListenAdvertisesAnAddressClientsCanReach) {
  start(1, 1, {}, "0.0.0.0:0");
  const auto servers = job_->servers();
  ASSERT_EQ(servers.servers.size(), 1u);
  EXPECT_EQ(servers.servers[0].host, "127.0.0.1");
  auto c = connect();
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(ping_checked(*c, 0, 100, 1).is_ok());
  EXPECT_EQ(job_->log().find("not on a device UCX_NET_DEVICES"), std::string::npos) << job_->log();
  c.reset();
  ASSERT_EQ(job_->terminate(20000), 0);

  job_.reset();
  start(1, 1, {"--advertise", "198.51.100.77"}, "0.0.0.0:0");  // TEST-NET-2: on no interface here
  EXPECT_EQ(job_->servers().servers[0].host, "198.51.100.77");
  EXPECT_NE(
      job_->log().find("advertised address 198.51.100.77 is on no interface of this host, not on a device "
                       "UCX_NET_DEVICES=lo allows"),
      std::string::npos)
      << job_->log();
}

TEST_F(ServerTest, PingEchoesEverySizeUpTo4MiB) {
  start(1, 1);
  auto c = connect();
  ASSERT_NE(c, nullptr);
  for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{4096}, size_t{8192}, size_t{65536}, size_t{65537},
                   size_t{1} << 20, size_t{4} << 20}) {
    for (unsigned rep = 0; rep < 3; ++rep) {
      const Status st = ping_checked(*c, 0, n, rep);
      ASSERT_TRUE(st.is_ok()) << n << " bytes: " << st.to_string();
    }
  }
  std::vector<unsigned char> big((4u << 20) + 1);
  EXPECT_EQ(c->ping(0, big.data(), big.size(), nullptr).err(), EINVAL);
  EXPECT_EQ(c->ping(7, big.data(), 8, nullptr).err(), EINVAL);
  EXPECT_TRUE(c->ping(0, big.data(), 8, nullptr).is_ok());  // echo may be discarded
}

TEST_F(ServerTest, SigtermStopsEveryServerWithinItsBoundAndTellsClients) {
  start(2, 2);
  auto a = connect();
  auto b = connect();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(ping_checked(*a, 0, 8, 1).is_ok());
  ASSERT_TRUE(ping_checked(*b, 1, 8, 1).is_ok());
  // SIGTERM as a user's kill or a batch system sends it: to mpirun, which
  // forwards it to every rank (and then exits 1 by Open MPI's convention).
  const uint64_t t0 = now_ns();
  ASSERT_EQ(job_->signal_mpirun(SIGTERM), 0);
  const int rc = job_->wait_exit(15000);
  const double took = seconds_since(t0);
  ASSERT_GE(rc, 0) << "job still running 15 s after SIGTERM\n" << job_->log();
  EXPECT_LT(took, 10.0);
  const std::string log = job_->log();
  EXPECT_NE(log.find("node 0: stopped in"), std::string::npos) << log;
  EXPECT_NE(log.find("node 1: stopped in"), std::string::npos) << log;
  EXPECT_TRUE(job_->stats(0).is_object());
  EXPECT_TRUE(job_->stats(1).is_object());
  EXPECT_TRUE(job_->server_pids().empty());
  // The clients learn it on their next call, and fail fast instead of hanging.
  const uint64_t t1 = now_ns();
  EXPECT_FALSE(a->ping(0, "x", 1, nullptr).is_ok());
  EXPECT_LT(seconds_since(t1), 10.5);
  EXPECT_GE(a->stats().close_notifications + a->stats().endpoint_errors, 1u);
}

TEST_F(ServerTest, ShutdownRpcStopsTheJob) {
  start(2, 1);
  auto c = connect();
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->shutdown_server(0).is_ok());
  EXPECT_TRUE(c->shutdown_server(1).is_ok());
  EXPECT_EQ(job_->wait_exit(20000), 0) << job_->log();
  auto j = job_->stats(1);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["ops"]["shutdown"]["count"].get<uint64_t>(), 1u);
}

TEST_F(ServerTest, StoppedServerTimesOutInsteadOfHanging) {
  start(1, 1);
  auto c = connect(true, /*timeout_ms=*/1000);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(ping_checked(*c, 0, 8, 1).is_ok());
  auto pids = job_->server_pids();
  ASSERT_EQ(pids.size(), 1u);
  ASSERT_EQ(::kill(pids[0], SIGSTOP), 0);
  // Signals land asynchronously: wait until the server really is stopped.
  for (int i = 0; i < 1000 && benchfs::test::process_state(pids[0]) != 'T'; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(benchfs::test::process_state(pids[0]), 'T');
  uint64_t t0 = now_ns();
  Status st = c->ping(0, "12345678", 8, nullptr);
  double took = seconds_since(t0);
  ::kill(pids[0], SIGCONT);
  EXPECT_EQ(st.err(), ETIMEDOUT) << st.to_string();
  EXPECT_GT(took, 0.9);
  EXPECT_LT(took, 3.5);
  // Once the server runs again the client reconnects by itself.
  st = ping_checked(*c, 0, 8, 2);
  if (!st) st = ping_checked(*c, 0, 8, 3);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  // A killed server: an error within the timeout, not a hang.
  ::kill(pids[0], SIGKILL);
  t0 = now_ns();
  st = c->ping(0, "12345678", 8, nullptr);
  EXPECT_FALSE(st.is_ok());
  EXPECT_LT(seconds_since(t0), 3.5);
  job_->kill_all();
}

TEST_F(ServerTest, RegistryThatNeverBecomesReadyGivesAClearError) {
  ClientOptions o;
  o.registry = dir_.sub("nothing-here");
  o.wait_ready_ms = 300;
  const uint64_t t0 = now_ns();
  auto c = Client::create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().err(), ETIMEDOUT);
  EXPECT_NE(c.status().message().find(o.registry), std::string::npos) << c.status().message();
  EXPECT_LT(seconds_since(t0), 2.0);
}

TEST_F(ServerTest, BenchPingUnderMpirunFromFourRanks) {
  start(2, 1);
  std::string out;
  const int rc = test::run_command(
      {"mpirun", "-np", "4", "--bind-to", "none", "--oversubscribe", test::bench_path(), "ping", "--registry",
       job_->registry(), "--count", "200", "--warmup", "20", "--size", "8,64k", "--server", "all", "--json"},
      120000, &out);
  ASSERT_EQ(rc, 0) << out;
  size_t lines = 0;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '{') continue;
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["op"], "ping");
    EXPECT_EQ(j["count"].get<int>(), 4 * 200);
    EXPECT_EQ(j["errors"].get<int>(), 0);
    EXPECT_GT(j["p50_us"].get<double>(), 0.0);
    EXPECT_LE(j["min_us"].get<double>(), j["p50_us"].get<double>());
    EXPECT_LE(j["p50_us"].get<double>(), j["p99_us"].get<double>());
    EXPECT_LE(j["p99_us"].get<double>(), j["max_us"].get<double>());
    EXPECT_GT(j["ops_per_s"].get<double>(), 0.0);
    ++lines;
  }
  EXPECT_EQ(lines, 4u);  // 2 sizes x 2 servers
}
