// Hostile input against a real benchfsd_mt: peers without the job secret or
// with a forged session reach no data, claims past the size limits are
// answered with errors and allocate nothing, and clients refuse a registry
// other users could have written. Every case prints a RELIABILITY line.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "benchfs/client/engine.hpp"
#include "benchfs/core/log.hpp"
#include "benchfs/protocol/wire.hpp"
#include "harness.hpp"

using namespace benchfs;
using namespace benchfs::client;
using namespace benchfs::test;

namespace {

void report(const char* what, const std::string& result) {
  std::printf("RELIABILITY: hostile input | %s | %s\n", what, result.c_str());
}

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    (void)init_logging("test");
    JobOptions opts;
    opts.ranks = 1;
    opts.threads = 1;
    // No reserve of resident chunk buffers: the RSS check below measures
    // what hostile claims make the server allocate.
    opts.extra_args = {"--reserve", "0"};
    job_ = std::make_unique<ServerJob>(dir_.path(), opts);
    ASSERT_JOB_READY(*job_);
    list_ = job_->servers();
    ClientOptions o;
    o.registry = job_->registry();
    o.prewarm = true;
    o.rpc_timeout_ms = 10000;
    auto c = Client::create(o);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    client_ = std::move(*c);
  }
  void TearDown() override {
    client_.reset();
    if (HasFailure() && job_) {
      job_->kill_all();
      std::printf("---- server log ----\n%s\n---- end of server log ----\n", job_->log().c_str());
    }
  }
  // Creates `path` through the real client and writes `data` at offset 0.
  uint64_t make_file(const std::string& path, const std::vector<unsigned char>& data) {
    wire::Request c;
    c.op = wire::Op::kCreate;
    c.path = path;
    c.mode = 0644;
    c.open_flags = O_CREAT | O_RDWR;
    auto r = client_->call(0, c, nullptr, 0, nullptr, 0, false);
    EXPECT_TRUE(r.ok() && r->status == 0) << (r.ok() ? std::to_string(r->status) : r.status().to_string());
    if (!r.ok()) return 0;
    const uint64_t ino = r->attr.ino;
    wire::Request w;
    w.op = wire::Op::kWriteChunk;
    w.ino = ino;
    w.length = data.size();
    auto wr = client_->call(0, w, data.data(), data.size(), nullptr, 0, true);
    EXPECT_TRUE(wr.ok() && wr->status == 0);
    return ino;
  }
  std::vector<unsigned char> read_back(uint64_t ino, size_t n) {
    std::vector<unsigned char> back(n, 0xEE);
    wire::Request rd;
    rd.op = wire::Op::kReadChunk;
    rd.ino = ino;
    rd.length = n;
    auto r = client_->call(0, rd, nullptr, 0, back.data(), back.size(), true);
    EXPECT_TRUE(r.ok() && r->status == 0);
    return back;
  }
  // The server's statistics, read after the job stops.
  nlohmann::json stop_and_stats() {
    client_.reset();
    EXPECT_EQ(job_->terminate(20000), 0) << job_->log();
    return job_->stats(0);
  }

  TempDir dir_{"benchfs-hostile"};
  std::unique_ptr<ServerJob> job_;
  registry::ServerList list_;
  std::unique_ptr<Client> client_;
};

TEST_F(Hostile, PeersWithoutTheSecretOrWithAForgedSessionReachNoData) {
  std::vector<unsigned char> data(300'000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 7 + 3);
  const uint64_t ino = make_file("/secret", data);
  ASSERT_NE(ino, 0u);

  RawClient raw;
  ASSERT_TRUE(raw.connect("127.0.0.1", list_.servers[0].port).is_ok());
  int refused = 0;
  auto expect_refused = [&](wire::Request req, const void* payload, size_t len, const char* what) {
    auto r = raw.call(req, payload, len);
    ASSERT_TRUE(r.ok()) << what << ": " << r.status().to_string();
    EXPECT_EQ(r->status, -EACCES) << what;
    EXPECT_TRUE(raw.last_data().empty()) << what << " returned data";
    ++refused;
  };
  // Never registered: every data and metadata op is refused.
  wire::Request rd;
  rd.op = wire::Op::kReadChunk;
  rd.ino = ino;
  rd.length = data.size();
  expect_refused(rd, nullptr, 0, "READ_CHUNK unregistered");
  wire::Request wr;
  wr.op = wire::Op::kWriteChunk;
  wr.ino = ino;
  wr.length = 16;
  expect_refused(wr, "AAAAAAAAAAAAAAAA", 16, "WRITE_CHUNK unregistered");
  wire::Request st;
  st.op = wire::Op::kStat;
  st.path = "/secret";
  expect_refused(st, nullptr, 0, "STAT unregistered");
  wire::Request un;
  un.op = wire::Op::kUnlink;
  un.path = "/secret";
  expect_refused(un, nullptr, 0, "UNLINK unregistered");
  wire::Request rm;
  rm.op = wire::Op::kRemoveChunks;
  rm.ino = ino;
  expect_refused(rm, nullptr, 0, "REMOVE_CHUNKS unregistered");
  // A wrong secret does not register.
  uint64_t session = 0;
  Status bad = raw.register_client("intruder", list_.info.secret ^ 1, &session);
  EXPECT_FALSE(bad.is_ok());
  // A forged session on a registered connection is refused too.
  ASSERT_TRUE(raw.register_client("peer", list_.info.secret, &session).is_ok());
  rd.session = session + 1;
  expect_refused(rd, nullptr, 0, "READ_CHUNK forged session");
  wr.session = session ^ 0xffff;
  expect_refused(wr, "AAAAAAAAAAAAAAAA", 16, "WRITE_CHUNK forged session");
  raw.close();

  // Nothing changed.
  EXPECT_EQ(read_back(ino, data.size()), data);
  auto j = stop_and_stats();
  EXPECT_EQ(j["unauthorized"].get<uint64_t>(), static_cast<uint64_t>(refused));
  EXPECT_GE(j["auth_failures"].get<uint64_t>(), 1u);
  EXPECT_EQ(j["store"]["files"].get<uint64_t>(), 1u);
  report("unregistered peer, wrong secret, forged session: READ/WRITE_CHUNK, STAT, UNLINK, REMOVE_CHUNKS",
         "all " + std::to_string(refused) + " refused (EACCES, counted as unauthorized), data unchanged");
}

TEST_F(Hostile, ClaimsPastTheLimitsAreRefusedAndAllocateNothing) {
  RawClient raw;
  ASSERT_TRUE(raw.connect("127.0.0.1", list_.servers[0].port).is_ok());
  uint64_t session = 0;
  ASSERT_TRUE(raw.register_client("limits", list_.info.secret, &session).is_ok());
  const uint64_t cs = list_.info.chunk_size;
  int answered = 0;
  auto expect_error = [&](wire::Request req, const void* payload, size_t len, int err, const char* what) {
    auto r = raw.call(req, payload, len);
    ASSERT_TRUE(r.ok()) << what << ": " << r.status().to_string();
    EXPECT_EQ(r->status, -err) << what;
    ++answered;
  };
  const std::string eight = "12345678";
  wire::Request w;
  w.op = wire::Op::kWriteChunk;
  w.ino = 77;
  // More than a chunk, and a range that ends past the chunk.
  w.length = cs + 1;
  std::vector<unsigned char> big(cs + 1, 1);
  expect_error(w, big.data(), big.size(), EINVAL, "WRITE_CHUNK over the chunk size");
  w.offset = cs - 1;
  w.length = 2;
  expect_error(w, "ab", 2, EINVAL, "WRITE_CHUNK across the chunk end");
  // A 1 GiB claim with 8 bytes behind it.
  w.offset = 0;
  w.length = 1ULL << 30;
  expect_error(w, eight.data(), 8, EPROTO, "WRITE_CHUNK claiming 1 GiB");
  // Offsets that would overflow.
  w.offset = UINT64_MAX - 3;
  w.length = 8;
  expect_error(w, eight.data(), 8, EINVAL, "WRITE_CHUNK offset overflow");
  wire::Request r;
  r.op = wire::Op::kReadChunk;
  r.ino = 77;
  r.length = 1ULL << 30;
  expect_error(r, nullptr, 0, EINVAL, "READ_CHUNK claiming 1 GiB");
  wire::Request p;
  p.op = wire::Op::kPing;
  p.length = 1ULL << 30;
  expect_error(p, eight.data(), 8, EINVAL, "PING claiming 1 GiB");
  // A header whose path length field claims 1 GiB.
  wire::Request s;
  s.op = wire::Op::kStat;
  s.request_id = raw.next_id();
  s.session = session;
  s.path = "/x";
  auto h = wire::encode_request_header(s);
  const uint32_t gib = 1u << 30;
  std::memcpy(h.bytes.data() + wire::kRequestHeaderSize, &gib, 4);
  ASSERT_TRUE(raw.send(h.data(), h.size, "/x", 2).is_ok());
  auto rep = raw.wait_reply(s.request_id, 5000);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->status, -ENAMETOOLONG);
  ++answered;
  // The largest header UCX carries here, all garbage after a valid start.
  std::vector<unsigned char> junk(h.size, 0);
  std::memcpy(junk.data(), h.data(), h.size);
  junk.resize(8192, 0xA5);
  s.request_id = raw.next_id();
  std::memcpy(junk.data() + 8, &s.request_id, 8);  // after magic u16, version u8, op u8, flags u32
  if (raw.send(junk.data(), junk.size(), nullptr, 0).is_ok()) {
    auto jr = raw.wait_reply(s.request_id, 5000);
    ASSERT_TRUE(jr.ok());
    EXPECT_NE(jr->status, 0);
    ++answered;
  }
  // READDIR asking for 4 billion entries is refused; the largest page
  // allowed is bounded in bytes.
  wire::Request d;
  d.op = wire::Op::kReaddir;
  d.path = "/";
  d.max_entries = UINT32_MAX;
  expect_error(d, nullptr, 0, EINVAL, "READDIR of 2^32 entries");
  d.max_entries = wire::kMaxReaddirEntries;
  auto dr = raw.call(d);
  ASSERT_TRUE(dr.ok());
  EXPECT_EQ(dr->status, 0);
  EXPECT_LE(raw.last_data().size(), wire::kMaxReaddirBytes);
  // The connection still works, and nothing was stored.
  p.length = 8;
  auto ok = raw.call(p, eight.data(), 8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 0);
  raw.close();
  const auto pids = job_->server_pids();
  ASSERT_FALSE(pids.empty());
  long rss_kb = 0;
  std::ifstream in("/proc/" + std::to_string(pids.back()) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) rss_kb = std::stol(line.substr(6));
  EXPECT_LT(rss_kb, 256 * 1024) << "server RSS after the claims: " << rss_kb << " KiB";
  auto j = stop_and_stats();
  EXPECT_EQ(j["store"]["bytes_used"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["store"]["chunks"].get<uint64_t>(), 0u);
  report(
      "size claims: WRITE_CHUNK > chunk / across its end / 1 GiB / overflowing offset, READ_CHUNK and PING "
      "1 GiB, 1 GiB path length, 8 KiB garbage header, READDIR of 2^32 entries",
      std::to_string(answered) + " answered with errors; 0 bytes stored; server RSS " +
          std::to_string(rss_kb / 1024) + " MiB");
}

TEST_F(Hostile, ClientsRefuseARegistryOthersCouldWrite) {
  const std::string ready = job_->registry() + "/" + registry::kReadyFile;
  ClientOptions o;
  o.registry = job_->registry();
  o.wait_ready_ms = 2000;
  ASSERT_EQ(::chmod(ready.c_str(), 0644), 0);
  auto c = Client::create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().err(), EACCES);
  EXPECT_NE(c.status().message().find("secret"), std::string::npos) << c.status().message();
  ASSERT_EQ(::chmod(ready.c_str(), 0600), 0);
  ASSERT_EQ(::chmod(job_->registry().c_str(), 0777), 0);
  c = Client::create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("mode 0777"), std::string::npos) << c.status().message();
  ASSERT_EQ(::chmod(job_->registry().c_str(), 0700), 0);
  c = Client::create(o);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  report("registry with a world-readable ready file / a world-writable directory",
         "client refused with EACCES naming the file and its mode; accepted again once 0600/0700");
}

}  // namespace
