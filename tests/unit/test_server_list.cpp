// Server list and ready file: parsing, publishing, waiting, and concurrent
// appends from separate processes. Every test works in its own temp directory.

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "benchfs/core/clock.hpp"
#include "benchfs/registry/server_list.hpp"

namespace reg = benchfs::registry;
namespace fs = std::filesystem;

namespace {

class ServerListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/benchfs-test-server-list-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  static void write_file(const std::string& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << p;
  }
  static std::string read_file(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static unsigned mode_of(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  }
  std::vector<std::string> dir_entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir_;
};

reg::ReadyInfo sample_ready(uint32_t servers = 3) {
  return reg::ReadyInfo{servers, 1 << 20, 0x0123456789abcdefULL};
}

std::string line_for(const reg::ServerEntry& e) {
  auto line = reg::format_server_line(e);
  EXPECT_TRUE(line.ok()) << line.status().to_string();
  return line.ok() ? *line : std::string();
}

// ---- parse_server_list -------------------------------------------------------

TEST_F(ServerListTest, ParseRoundTrip) {
  const std::vector<reg::ServerEntry> entries = {
      {0, "10.0.0.11", 45678}, {1, "node-a.cluster.example", 1}, {2, "::1", 65535}, {3, "fe80::1%eth0", 80}};
  std::string text = "# BenchFS Server List\n# Format: node_id ip:port\n";
  for (const auto& e : entries) text += line_for(e);
  EXPECT_NE(text.find("node_2 [::1]:65535\n"), std::string::npos) << text;
  EXPECT_NE(text.find("node_0 10.0.0.11:45678\n"), std::string::npos) << text;

  auto parsed = reg::parse_server_list(text, "list");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  ASSERT_EQ(parsed->size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ((*parsed)[i].node, entries[i].node);
    EXPECT_EQ((*parsed)[i].host, entries[i].host);
    EXPECT_EQ((*parsed)[i].port, entries[i].port);
  }
}

TEST_F(ServerListTest, CommentsBlankLinesWhitespaceAndCrlf) {
  const std::string text =
      "# header\r\n"
      "\n"
      "   \n"
      "\t\n"
      "  # indented comment\n"
      "node_1\t\t10.0.0.2:2000   \r\n"
      "node_0    10.0.0.1:1000\t\n"
      "\r\n"
      "node_2 host-c:3000";  // no final newline
  auto parsed = reg::parse_server_list(text, "list");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ((*parsed)[0].host, "10.0.0.1");
  EXPECT_EQ((*parsed)[0].port, 1000);
  EXPECT_EQ((*parsed)[1].host, "10.0.0.2");
  EXPECT_EQ((*parsed)[1].port, 2000);
  EXPECT_EQ((*parsed)[2].host, "host-c");
  EXPECT_EQ((*parsed)[2].port, 3000);

  auto empty = reg::parse_server_list("# only comments\n\n", "list");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(ServerListTest, EveryBadLineFormIsRejectedWithItsLineNumber) {
  struct Case {
    std::string line;
    std::string what;
  };
  const std::vector<Case> cases = {
      {"node_0 10.0.0.1", "missing port"},
      {"node_0 10.0.0.1:", "missing port"},
      {"node_0 10.0.0.1:0", "port out of range"},
      {"node_0 10.0.0.1:70000", "port out of range"},
      {"node_0 10.0.0.1:99999999999999999999999", "port out of range"},
      {"node_0 10.0.0.1:12a", "bad port"},
      {"node_0 10.0.0.1:-1", "bad port"},
      {"nodeX 10.0.0.1:1", "expected node_<n>"},
      {"node_ 10.0.0.1:1", "missing node number"},
      {"node_a 10.0.0.1:1", "bad node number"},
      {"node_-1 10.0.0.1:1", "bad node number"},
      {"node_1x 10.0.0.1:1", "bad node number"},
      {"node_1000000 10.0.0.1:1", "node number too large"},
      {"node_01 10.0.0.1:1", "leading zeros"},
      {"node_0 :80", "missing host"},
      {"node_0 []:80", "missing host"},
      {"node_0", "missing address"},
      {"node_0   \t", "missing address"},
      {"this is garbage", "expected node_<n>"},
      {"\x01\x02\x03", "expected node_<n>"},
      {"node_0 h:1 extra", "unexpected text after address"},
      {"node_0 ::1:80", "IPv6 address must be in brackets"},
      {"node_0 [::1:80", "unterminated '['"},
      {"node_0 [zz::1]:80", "bad IPv6 address"},
      {"node_0 [10.0.0.1]:80", "bad IPv6 address"},
      {"node_0 [::1]80", "expected ':' after ']'"},
      {"node_0 bad!host:80", "bad character in host"},
      {"node_0 -host:80", "must start with a letter or digit"},
      {"node_0 a..b:80", "empty label"},
      {"node_0 " + std::string(2000, 'a') + ":80", "line too long (2010 bytes, max 1024)"},
  };
  for (const auto& c : cases) {
    // The bad line is line 4, after two comments and one good line.
    const std::string text =
        "# BenchFS Server List\n# Format\nnode_9 10.0.0.9:9\n" + c.line + "\nnode_8 h:8\n";
    auto parsed = reg::parse_server_list(text, "/x/server_list.txt");
    ASSERT_FALSE(parsed.ok()) << "accepted: " << c.line;
    EXPECT_EQ(parsed.status().err(), EINVAL) << c.line;
    const std::string msg = parsed.status().message();
    EXPECT_EQ(msg.rfind("/x/server_list.txt:4: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(c.what), std::string::npos) << "expected '" << c.what << "' in: " << msg;
    // The offending line is quoted (cut when long).
    EXPECT_NE(msg.find(": '"), std::string::npos) << msg;
    EXPECT_LT(msg.size(), 400u) << msg;
  }
}

// Found by fuzz_server_list (tests/fuzz/regressions): inet_pton stopped at
// the NUL, so "[::<NUL>...1]" was accepted as "::" with the NULs in the host.
TEST_F(ServerListTest, Ipv6HostWithNulOrStrayBytesIsRejected) {
  for (const std::string& host : {std::string("::") + '\0' + "1", std::string("::1") + '\0' + "junk",
                                  std::string("::1") + '\0' + "%eth0", std::string("::1") + '\0'}) {
    const std::string text = "node_0 [" + host + "]:80\n";
    auto parsed = reg::parse_server_list(text, "list");
    ASSERT_FALSE(parsed.ok()) << "accepted a host of " << host.size() << " bytes";
    EXPECT_NE(parsed.status().message().find("bad IPv6 address"), std::string::npos)
        << parsed.status().message();
    EXPECT_EQ(reg::format_server_line({0, host, 80}).status().err(), EINVAL);
  }
  auto zoned = reg::parse_server_list("node_0 [fe80::1%eth0]:80\n", "list");
  ASSERT_TRUE(zoned.ok()) << zoned.status().to_string();
  EXPECT_EQ((*zoned)[0].host, "fe80::1%eth0");
}

TEST_F(ServerListTest, DuplicateNodeNamesBothLines) {
  const std::string text = "# h\nnode_3 a:1\nnode_1 b:2\n\nnode_3 c:3\n";
  auto parsed = reg::parse_server_list(text, "src");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().err(), EINVAL);
  const std::string msg = parsed.status().message();
  EXPECT_EQ(msg.rfind("src:5: duplicate node_3", 0), 0u) << msg;
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'node_3 c:3'"), std::string::npos) << msg;
}

TEST_F(ServerListTest, OrderIsNumericNotLexical) {
  const std::string text = "node_10 h10:10\nnode_2 h2:2\nnode_1 h1:1\nnode_0 h0:100\nnode_100 h100:100\n";
  auto parsed = reg::parse_server_list(text, "list");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  std::vector<uint32_t> nodes;
  for (const auto& e : *parsed) nodes.push_back(e.node);
  EXPECT_EQ(nodes, (std::vector<uint32_t>{0, 1, 2, 10, 100}));
  EXPECT_EQ((*parsed)[3].host, "h10");
}

TEST_F(ServerListTest, FormatServerLineRejectsBadEntries) {
  EXPECT_EQ(reg::format_server_line({0, "", 80}).status().err(), EINVAL);
  EXPECT_EQ(reg::format_server_line({0, "h", 0}).status().err(), EINVAL);
  EXPECT_EQ(reg::format_server_line({0, "bad host", 80}).status().err(), EINVAL);
  EXPECT_EQ(reg::format_server_line({0, "zz::1", 80}).status().err(), EINVAL);
  EXPECT_EQ(reg::format_server_line({reg::kMaxNodes, "h", 80}).status().err(), EINVAL);
  // A bracketed IPv6 host is accepted as is.
  EXPECT_EQ(line_for({4, "[::1]", 80}), "node_4 [::1]:80\n");
}

// ---- ready file ----------------------------------------------------------------

TEST_F(ServerListTest, ReadyFormatParseRoundTrip) {
  const reg::ReadyInfo info = sample_ready(17);
  const std::string text = reg::format_ready(info);
  EXPECT_EQ(text, "# BenchFS ready\nservers 17\nchunk_size 1048576\nsecret 0123456789abcdef\n");
  auto parsed = reg::parse_ready(text, "ready");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->servers, 17u);
  EXPECT_EQ(parsed->chunk_size, 1u << 20);
  EXPECT_EQ(parsed->secret, 0x0123456789abcdefULL);

  // Unknown keys, comments, blank lines, CRLF and extra blanks are fine.
  auto loose = reg::parse_ready(
      "\r\n# c\nversion 2\nsecret\tFFFFFFFFFFFFFFFF \r\n  servers  1\nchunk_size 4096\n", "r");
  ASSERT_TRUE(loose.ok()) << loose.status().to_string();
  EXPECT_EQ(loose->servers, 1u);
  EXPECT_EQ(loose->chunk_size, 4096u);
  EXPECT_EQ(loose->secret, ~0ULL);
}

TEST_F(ServerListTest, ReadyMissingKeys) {
  struct Case {
    std::string text;
    std::string missing;
  };
  const std::vector<Case> cases = {
      {"chunk_size 4096\nsecret 0000000000000001\n", "'servers'"},
      {"servers 1\nsecret 0000000000000001\n", "'chunk_size'"},
      {"servers 1\nchunk_size 4096\n", "'secret'"},
      {"# nothing\n", "'servers', 'chunk_size', 'secret'"},
  };
  for (const auto& c : cases) {
    auto parsed = reg::parse_ready(c.text, "/r/server_list.ready");
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.status().err(), EINVAL);
    EXPECT_EQ(parsed.status().message(), "/r/server_list.ready: missing key " + c.missing);
  }
}

TEST_F(ServerListTest, ReadyBadValuesNameTheLine) {
  struct Case {
    std::string line;
    std::string what;
  };
  const std::vector<Case> cases = {
      {"servers 0", "servers must be at least 1"},
      {"servers x", "bad servers value"},
      {"servers -1", "bad servers value"},
      {"servers 1000001", "servers too large"},
      {"servers", "missing value for 'servers'"},
      {"servers 1 2", "unexpected text after value"},
      {"chunk_size 2048", "chunk_size must be at least 4096"},
      {"chunk_size 6000", "chunk_size must be a power of two"},
      {"chunk_size 1m", "bad chunk_size value"},
      {"chunk_size 99999999999999999999999", "chunk_size too large"},
      {"secret 0000000000000000", "secret must not be 0"},
      {"secret 1234", "secret must be 16 hex digits"},
      {"secret 0123456789abcdeg", "secret must be 16 hex digits"},
      {"secret 0123456789abcdef0", "secret must be 16 hex digits"},
      {std::string(1100, '#'), "line too long"},
  };
  // The bad line is line 4; the other keys are present and good.
  auto text_for = [](const std::string& bad) {
    const std::string key = bad.substr(0, bad.find(' '));
    std::string t = "# BenchFS ready\n";
    t += key == "servers" ? "\n" : "servers 1\n";
    t += "\n" + bad + "\n";
    if (key != "chunk_size") t += "chunk_size 4096\n";
    if (key != "secret") t += "secret 0000000000000001\n";
    return t;
  };
  for (const auto& c : cases) {
    auto parsed = reg::parse_ready(text_for(c.line), "rf");
    ASSERT_FALSE(parsed.ok()) << "accepted: " << c.line;
    EXPECT_EQ(parsed.status().err(), EINVAL);
    const std::string msg = parsed.status().message();
    EXPECT_EQ(msg.rfind("rf:4: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(c.what), std::string::npos) << "expected '" << c.what << "' in: " << msg;
  }

  auto dup = reg::parse_ready("servers 1\nchunk_size 4096\nsecret 0000000000000001\nservers 2\n", "rf");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().message(), "rf:4: duplicate key 'servers' (first on line 1): 'servers 2'");
}

TEST_F(ServerListTest, PublishReadyIsMode0600AndLeavesNoTempFile) {
  ASSERT_TRUE(reg::publish_ready(dir_, sample_ready()).is_ok());
  EXPECT_EQ(mode_of(path(reg::kReadyFile)), 0600u);
  EXPECT_EQ(dir_entries(), std::vector<std::string>{reg::kReadyFile});
  auto parsed = reg::parse_ready(read_file(path(reg::kReadyFile)), "ready");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->secret, sample_ready().secret);

  // Publishing again replaces the file atomically.
  ASSERT_TRUE(reg::publish_ready(dir_, sample_ready(5)).is_ok());
  EXPECT_EQ(dir_entries(), std::vector<std::string>{reg::kReadyFile});
  EXPECT_EQ(reg::parse_ready(read_file(path(reg::kReadyFile)), "ready")->servers, 5u);

  // Values that would not parse are refused and leave nothing behind.
  EXPECT_EQ(reg::publish_ready(dir_, {0, 4096, 1}).err(), EINVAL);
  EXPECT_EQ(reg::publish_ready(dir_, {1, 5000, 1}).err(), EINVAL);
  EXPECT_EQ(reg::publish_ready(dir_, {1, 4096, 0}).err(), EINVAL);
  EXPECT_EQ(dir_entries(), std::vector<std::string>{reg::kReadyFile});

  // A directory that does not exist: an error naming it.
  const auto s = reg::publish_ready(path("missing"), sample_ready());
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_NE(s.message().find(path("missing")), std::string::npos) << s.message();
}

// ---- directory ---------------------------------------------------------------

TEST_F(ServerListTest, PrepareDirectoryMakes0700) {
  const mode_t old_umask = ::umask(022);
  const std::string deep = path("a/b/c");
  EXPECT_TRUE(reg::prepare_directory(deep + "/").is_ok());
  ::umask(old_umask);
  EXPECT_EQ(mode_of(path("a")), 0700u);
  EXPECT_EQ(mode_of(path("a/b")), 0700u);
  EXPECT_EQ(mode_of(deep), 0700u);
  // Idempotent, and existing directories keep their mode.
  ASSERT_EQ(::chmod(path("a").c_str(), 0750), 0);
  EXPECT_TRUE(reg::prepare_directory(deep).is_ok());
  EXPECT_EQ(mode_of(path("a")), 0750u);

  write_file(path("file"), "x");
  const auto s = reg::prepare_directory(path("file/sub"));
  EXPECT_EQ(s.err(), ENOTDIR);
  EXPECT_NE(s.message().find(path("file")), std::string::npos) << s.message();
  EXPECT_EQ(reg::prepare_directory(path("file")).err(), ENOTDIR);
  EXPECT_EQ(reg::prepare_directory("").err(), EINVAL);
}

// ---- append / read -----------------------------------------------------------

TEST_F(ServerListTest, AppendThenReadServers) {
  const std::string reg_dir = path("registry");
  ASSERT_TRUE(reg::prepare_directory(reg_dir).is_ok());
  ASSERT_TRUE(reg::append_server(reg_dir, {2, "10.0.0.3", 3003}).is_ok());
  ASSERT_TRUE(reg::append_server(reg_dir, {0, "10.0.0.1", 3001}).is_ok());
  ASSERT_TRUE(reg::append_server(reg_dir, {1, "::1", 3002}).is_ok());
  const std::string list_path = reg_dir + "/" + reg::kListFile;
  EXPECT_EQ(mode_of(list_path), 0600u);
  EXPECT_EQ(read_file(list_path),
            "# BenchFS Server List\n# Format: node_id ip:port\n"
            "node_2 10.0.0.3:3003\nnode_0 10.0.0.1:3001\nnode_1 [::1]:3002\n");

  // Not ready until published.
  auto before = reg::read_servers(reg_dir);
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.status().err(), ENOENT);
  EXPECT_NE(before.status().message().find(reg::kReadyFile), std::string::npos);

  ASSERT_TRUE(reg::publish_ready(reg_dir, sample_ready(3)).is_ok());
  auto list = reg::read_servers(reg_dir);
  ASSERT_TRUE(list.ok()) << list.status().to_string();
  EXPECT_EQ(list->info.servers, 3u);
  EXPECT_EQ(list->info.chunk_size, 1u << 20);
  ASSERT_EQ(list->servers.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(list->servers[i].node, i);
  EXPECT_EQ(list->servers[1].host, "::1");
  EXPECT_EQ(list->servers[2].port, 3003);

  EXPECT_EQ(reg::append_server(reg_dir, {3, "h", 0}).err(), EINVAL);

  // withdraw removes both; a second withdraw (nothing left) is fine.
  ASSERT_TRUE(reg::withdraw(reg_dir).is_ok());
  EXPECT_FALSE(fs::exists(list_path));
  EXPECT_FALSE(fs::exists(reg_dir + "/" + reg::kReadyFile));
  EXPECT_TRUE(reg::withdraw(reg_dir).is_ok());
}

TEST_F(ServerListTest, ResetRemovesStaleFiles) {
  ASSERT_TRUE(reg::append_server(dir_, {0, "old", 1}).is_ok());
  ASSERT_TRUE(reg::publish_ready(dir_, sample_ready(1)).is_ok());
  ASSERT_TRUE(reg::reset(dir_).is_ok());
  EXPECT_TRUE(dir_entries().empty());
  EXPECT_TRUE(reg::reset(dir_).is_ok());
}

TEST_F(ServerListTest, TornLineFromACrashedWriterStaysVisible) {
  write_file(path(reg::kListFile), "# BenchFS Server List\n# Format: node_id ip:port\nnode_0 10.0.0.1:");
  ASSERT_TRUE(reg::append_server(dir_, {1, "10.0.0.2", 2}).is_ok());
  auto parsed = reg::parse_server_list(read_file(path(reg::kListFile)), "list");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message().rfind("list:3: missing port", 0), 0u) << parsed.status().message();
}

TEST_F(ServerListTest, ReadServersRejectsIncompleteOrOversizedLists) {
  ASSERT_TRUE(reg::append_server(dir_, {0, "a", 1}).is_ok());
  ASSERT_TRUE(reg::append_server(dir_, {2, "c", 3}).is_ok());
  ASSERT_TRUE(reg::publish_ready(dir_, sample_ready(4)).is_ok());
  auto incomplete = reg::read_servers(dir_);
  ASSERT_FALSE(incomplete.ok());
  EXPECT_EQ(incomplete.status().err(), EAGAIN);
  EXPECT_NE(incomplete.status().message().find("2 of 4"), std::string::npos) << incomplete.status().message();
  EXPECT_NE(incomplete.status().message().find("node_1, node_3"), std::string::npos)
      << incomplete.status().message();

  // More servers in the list than the ready file announces.
  ASSERT_TRUE(reg::publish_ready(dir_, sample_ready(2)).is_ok());
  auto oversized = reg::read_servers(dir_);
  ASSERT_FALSE(oversized.ok());
  EXPECT_EQ(oversized.status().err(), EINVAL);
  EXPECT_NE(oversized.status().message().find("node_2"), std::string::npos) << oversized.status().message();

  // A broken ready file.
  write_file(path(reg::kReadyFile), "servers 2\n");
  auto bad_ready = reg::read_servers(dir_);
  ASSERT_FALSE(bad_ready.ok());
  EXPECT_EQ(bad_ready.status().err(), EINVAL);
  EXPECT_NE(bad_ready.status().message().find(path(reg::kReadyFile)), std::string::npos);

  // No directory at all.
  auto none = reg::read_servers(path("nope"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().err(), ENOENT);
  EXPECT_NE(none.status().message().find(path("nope")), std::string::npos);
}

// ---- wait_for_servers --------------------------------------------------------

void expect_timeout(const std::string& dir, const std::string& missing) {
  constexpr uint64_t kWaitMs = 300;
  const uint64_t start = benchfs::now_ns();
  auto r = reg::wait_for_servers(dir, benchfs::Deadline::after_ms(kWaitMs));
  const uint64_t elapsed_ms = (benchfs::now_ns() - start) / 1'000'000;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), ETIMEDOUT);
  EXPECT_GE(elapsed_ms, kWaitMs);
  EXPECT_LE(elapsed_ms, kWaitMs + 200);
  const std::string msg = r.status().message();
  EXPECT_NE(msg.find("'" + dir + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("timed out after 0.3"), std::string::npos) << msg;
  EXPECT_NE(msg.find(missing), std::string::npos) << "expected '" << missing << "' in: " << msg;
}

TEST_F(ServerListTest, WaitTimesOutNamingWhatIsMissing) {
  expect_timeout(path("not-there"), "no directory");
  expect_timeout(dir_, "no server_list.ready");
  ASSERT_TRUE(reg::append_server(dir_, {1, "b", 2}).is_ok());
  ASSERT_TRUE(reg::publish_ready(dir_, sample_ready(2)).is_ok());
  expect_timeout(dir_, "list incomplete: 1 of 2 (missing node_0)");
}

TEST_F(ServerListTest, WaitSucceedsWhenPublishedMidway) {
  const std::string reg_dir = path("late/registry");
  std::thread publisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    ASSERT_TRUE(reg::prepare_directory(reg_dir).is_ok());
    ASSERT_TRUE(reg::append_server(reg_dir, {1, "10.0.0.2", 2}).is_ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(reg::append_server(reg_dir, {0, "10.0.0.1", 1}).is_ok());
    ASSERT_TRUE(reg::publish_ready(reg_dir, sample_ready(2)).is_ok());
  });
  const uint64_t start = benchfs::now_ns();
  auto r = reg::wait_for_servers(reg_dir, benchfs::Deadline::after_ms(10'000));
  const uint64_t elapsed_ms = (benchfs::now_ns() - start) / 1'000'000;
  publisher.join();
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->servers.size(), 2u);
  EXPECT_EQ(r->servers[0].host, "10.0.0.1");
  EXPECT_GE(elapsed_ms, 190u);
  EXPECT_LT(elapsed_ms, 2000u);
}

TEST_F(ServerListTest, WaitReturnsBrokenReadyRegistryAtOnce) {
  write_file(path(reg::kListFile), "node_0 a:1\nnode_0 b:2\n");
  ASSERT_TRUE(reg::publish_ready(dir_, sample_ready(1)).is_ok());
  const uint64_t start = benchfs::now_ns();
  auto r = reg::wait_for_servers(dir_, benchfs::Deadline::after_ms(10'000));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), EINVAL);
  EXPECT_NE(r.status().message().find("duplicate node_0"), std::string::npos) << r.status().message();
  EXPECT_LT((benchfs::now_ns() - start) / 1'000'000, 1000u);
}

// ---- concurrent appends from processes -------------------------------------

TEST_F(ServerListTest, ConcurrentAppendsFromEightProcesses) {
  constexpr int kProcs = 8;
  constexpr int kEach = 50;
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) {
      ::close(gate[1]);
      char c;
      while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {
      }  // EOF: everyone starts together
      int failures = 0;
      for (int i = 0; i < kEach; ++i) {
        const auto node = static_cast<uint32_t>(p * kEach + i);
        // Long host names make a torn or interleaved write easy to spot.
        const std::string host = "proc" + std::to_string(p) + "-" + std::string(200, 'x') + ".example";
        if (!reg::append_server(dir_, {node, host, static_cast<uint16_t>(10000 + node)}).is_ok()) ++failures;
      }
      ::_exit(failures == 0 ? 0 : 1);
    }
    pids.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }

  const std::string text = read_file(path(reg::kListFile));
  EXPECT_EQ(text.rfind("# BenchFS Server List\n# Format: node_id ip:port\n", 0), 0u);
  std::istringstream in(text);
  std::string line;
  int comments = 0;
  int servers = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '#')
      ++comments;
    else
      ++servers;
  }
  EXPECT_EQ(comments, 2);
  EXPECT_EQ(servers, kProcs * kEach);
  EXPECT_EQ(text.back(), '\n');

  auto parsed = reg::parse_server_list(text, "list");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  ASSERT_EQ(parsed->size(), static_cast<size_t>(kProcs * kEach));
  for (uint32_t i = 0; i < parsed->size(); ++i) {
    const auto& e = (*parsed)[i];
    EXPECT_EQ(e.node, i);
    EXPECT_EQ(e.port, 10000 + i);
    EXPECT_EQ(e.host, "proc" + std::to_string(i / kEach) + "-" + std::string(200, 'x') + ".example");
  }
}

}  // namespace

// ---- worker addresses (the reply_ep connection mode) ------------------------

TEST_F(ServerListTest, WorkerAddressesRoundTripAnyBytes) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes += static_cast<char>(b);
  const std::vector<std::string> addrs = {all_bytes, std::string("\0\x01\xff", 3), "x"};
  ASSERT_TRUE(reg::publish_worker_addresses(dir_, 7, addrs).is_ok());
  auto back = reg::read_worker_addresses(dir_, 7);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, addrs);
  // Published again (a new job): replaced whole, no temporary file left.
  ASSERT_TRUE(reg::publish_worker_addresses(dir_, 7, {"y"}).is_ok());
  back = reg::read_worker_addresses(dir_, 7);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, std::vector<std::string>{"y"});
  for (const auto& n : dir_entries()) EXPECT_EQ(n.find(".workers"), std::string::npos) << n;
  // A server that published nothing.
  EXPECT_EQ(reg::read_worker_addresses(dir_, 8).status().err(), ENOENT);
  EXPECT_EQ(reg::publish_worker_addresses(dir_, 1, {}).err(), EINVAL);
  EXPECT_EQ(reg::publish_worker_addresses(dir_, 1, {"a", ""}).err(), EINVAL);
}

TEST_F(ServerListTest, WorkerAddressFileErrorsNameTheLine) {
  auto ok = reg::parse_worker_addresses("# c\nthread 0 0aFf\r\n\nthread 1 00\n", "w");
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(*ok, (std::vector<std::string>{std::string("\x0a\xff", 2), std::string(1, '\0')}));
  for (const char* bad : {"thread 1 00\n", "thread 0 0\n", "thread 0 zz\n", "thread 0\n", "thread x 00\n",
                          "thread 0 00\nthread 0 00\n", "node 0 00\n", "thread 0 00 11\n", "# only\n", ""}) {
    auto r = reg::parse_worker_addresses(bad, "w");
    EXPECT_FALSE(r.ok()) << "accepted: '" << bad << "'";
    if (!r.ok()) {
      EXPECT_EQ(r.status().err(), EINVAL) << bad;
      EXPECT_EQ(r.status().message().rfind('w', 0), 0u) << r.status().message();
    }
  }
}
