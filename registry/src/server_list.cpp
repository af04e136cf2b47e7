#include "benchfs/registry/server_list.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "benchfs/core/random.hpp"

namespace benchfs::registry {
namespace {

constexpr std::string_view kListHeader = "# BenchFS Server List\n# Format: node_id ip:port\n";
constexpr std::string_view kNodePrefix = "node_";
constexpr size_t kMaxFileSize = 64u << 20;  // 1M lines of ~40 bytes fit easily
constexpr size_t kMaxHostLength = 253;
constexpr size_t kQuotedLineMax = 120;

// ---- small helpers ---------------------------------------------------------

/// Owns one file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] bool valid() const { return fd_ >= 0; }
  /// Closes now and reports close(2)'s error (which can carry a deferred write error).
  int close() { return ::close(std::exchange(fd_, -1)) == 0 ? 0 : errno; }

 private:
  int fd_;
};

std::string join(const std::string& dir, std::string_view name) {
  std::string p = dir;
  if (!p.empty() && p.back() != '/') p += '/';
  p += name;
  return p;
}

Status sys_error(int err, std::string what) { return Status(err, std::move(what)); }

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

/// Splits `s` at its first run of blanks: {first token, rest after the blanks}.
std::pair<std::string_view, std::string_view> split_token(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && !is_blank(s[i])) ++i;
  std::string_view head = s.substr(0, i);
  while (i < s.size() && is_blank(s[i])) ++i;
  return {head, s.substr(i)};
}

/// Iterates over lines; the line ending ("\n" or "\r\n") is not part of a line.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}
  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) end = text_.size();
    line = text_.substr(pos_, end - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = end + 1;
    ++lineno_;
    return true;
  }
  [[nodiscard]] size_t lineno() const { return lineno_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  size_t lineno_ = 0;
};

/// The line as shown in an error: control bytes replaced, long lines cut.
std::string quote(std::string_view line) {
  std::string out;
  size_t n = std::min(line.size(), kQuotedLineMax);
  out.reserve(n + 5);
  out += '\'';
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  out += '\'';
  if (line.size() > n) out += "...";
  return out;
}

Status line_error(std::string_view source, size_t lineno, std::string_view what, std::string_view line) {
  std::string msg;
  msg.reserve(source.size() + what.size() + line.size() + 32);
  msg.append(source).append(":").append(std::to_string(lineno)).append(": ").append(what);
  msg.append(": ").append(quote(line));
  return Status(EINVAL, std::move(msg));
}

/// An error naming the line when it is longer than kMaxLineLength.
Status check_length(std::string_view source, size_t lineno, std::string_view line) {
  if (line.size() <= kMaxLineLength) return Status();
  return line_error(
      source, lineno,
      "line too long (" + std::to_string(line.size()) + " bytes, max " + std::to_string(kMaxLineLength) + ")",
      line);
}

enum class NumberError { ok, empty, not_a_number, too_large };

/// Decimal digits only (no sign, no blanks), value <= max.
NumberError parse_decimal(std::string_view s, uint64_t max, uint64_t& out) {
  if (s.empty()) return NumberError::empty;
  uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return NumberError::not_a_number;
  }
  for (char c : s) {
    auto d = static_cast<uint64_t>(c - '0');
    if (v > (max - d) / 10) return NumberError::too_large;
    v = v * 10 + d;
  }
  out = v;
  return NumberError::ok;
}

bool is_ipv6_literal(std::string_view host) {
  // Optional zone id ("fe80::1%eth0").
  std::string_view addr = host;
  size_t pct = host.find('%');
  if (pct != std::string_view::npos) {
    std::string_view zone = host.substr(pct + 1);
    if (zone.empty()) return false;
    for (char c : zone) {
      if (!is_alnum(c) && c != '.' && c != '_' && c != '-') return false;
    }
    addr = host.substr(0, pct);
  }
  if (addr.empty() || addr.size() >= INET6_ADDRSTRLEN) return false;
  // inet_pton reads a C string: a NUL inside `addr` would hide what follows it.
  for (char c : addr) {
    if (!is_hex(c) && c != ':' && c != '.') return false;
  }
  in6_addr tmp{};
  return inet_pton(AF_INET6, std::string(addr).c_str(), &tmp) == 1;
}

/// Empty when `host` is a plausible host name or IPv4 address, else what is wrong.
std::string check_hostname(std::string_view host) {
  if (host.empty()) return "missing host";
  if (host.size() > kMaxHostLength) return "host name too long (max 253)";
  if (!is_alnum(host.front())) return "host must start with a letter or digit";
  char prev = 0;
  for (char c : host) {
    if (!is_alnum(c) && c != '-' && c != '.' && c != '_') return "bad character in host";
    if (c == '.' && prev == '.') return "empty label in host";
    prev = c;
  }
  return {};
}

/// Parses "<host>:<port>" or "[<ipv6>]:<port>" into `out`; empty or what is wrong.
std::string parse_address(std::string_view addr, ServerEntry& out) {
  std::string_view host;
  std::string_view port_text;
  if (addr.front() == '[') {
    size_t close = addr.find(']');
    if (close == std::string_view::npos) return "unterminated '[' in address";
    host = addr.substr(1, close - 1);
    if (host.empty()) return "missing host";
    if (!is_ipv6_literal(host)) return "bad IPv6 address in brackets";
    std::string_view rest = addr.substr(close + 1);
    if (rest.empty() || rest == ":") return "missing port";
    if (rest.front() != ':') return "expected ':' after ']'";
    port_text = rest.substr(1);
  } else {
    size_t colon = addr.rfind(':');
    if (colon == std::string_view::npos) return "missing port";
    host = addr.substr(0, colon);
    port_text = addr.substr(colon + 1);
    if (host.empty()) return "missing host";
    if (host.find(':') != std::string_view::npos) return "IPv6 address must be in brackets";
    if (std::string bad = check_hostname(host); !bad.empty()) return bad;
  }
  uint64_t port = 0;
  switch (parse_decimal(port_text, 65535, port)) {
    case NumberError::empty:
      return "missing port";
    case NumberError::not_a_number:
      return "bad port";
    case NumberError::too_large:
      return "port out of range 1..65535";
    case NumberError::ok:
      break;
  }
  if (port == 0) return "port out of range 1..65535";
  out.host.assign(host);
  out.port = static_cast<uint16_t>(port);
  return {};
}

/// Parses "node_<n>"; empty or what is wrong.
std::string parse_node(std::string_view token, uint32_t& node) {
  if (token.substr(0, kNodePrefix.size()) != kNodePrefix) return "expected node_<n> <host>:<port>";
  std::string_view digits = token.substr(kNodePrefix.size());
  uint64_t v = 0;
  switch (parse_decimal(digits, kMaxNodes - 1, v)) {
    case NumberError::empty:
      return "missing node number";
    case NumberError::not_a_number:
      return "bad node number";
    case NumberError::too_large:
      return "node number too large (max " + std::to_string(kMaxNodes - 1) + ")";
    case NumberError::ok:
      break;
  }
  if (digits.size() > 1 && digits.front() == '0') return "node number has leading zeros";
  node = static_cast<uint32_t>(v);
  return {};
}

Status validate_ready(const ReadyInfo& info) {
  if (info.servers < 1 || info.servers > kMaxNodes)
    return Status(EINVAL, "servers must be in 1.." + std::to_string(kMaxNodes));
  if (info.chunk_size < kMinChunkSize || (info.chunk_size & (info.chunk_size - 1)) != 0)
    return Status(EINVAL, "chunk_size must be a power of two >= " + std::to_string(kMinChunkSize));
  if (info.secret == 0) return Status(EINVAL, "secret must not be 0");
  return Status::ok();
}

Result<std::string> read_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return sys_error(errno, "cannot open '" + path + "'");
  std::string data;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error(errno, "cannot read '" + path + "'");
    }
    if (n == 0) break;
    if (data.size() + static_cast<size_t>(n) > kMaxFileSize)
      return Status(EFBIG, "'" + path + "' is larger than " + std::to_string(kMaxFileSize) + " bytes");
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error(errno, "cannot write '" + path + "'");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::ok();
}

Status fsync_fd(int fd, const std::string& path) {
  if (::fsync(fd) != 0) return sys_error(errno, "cannot fsync '" + path + "'");
  return Status::ok();
}

Status fsync_dir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return sys_error(errno, "cannot open directory '" + dir + "'");
  // Some file systems refuse fsync on directories; the rename itself is what matters there.
  if (::fsync(fd.get()) != 0 && errno != EINVAL && errno != ENOTSUP)
    return sys_error(errno, "cannot fsync directory '" + dir + "'");
  return Status::ok();
}

Status remove_if_exists(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sys_error(errno, "cannot remove '" + path + "'");
  return Status::ok();
}

/// flock that retries on EINTR.
int lock_fd(int fd, int op) {
  for (;;) {
    if (::flock(fd, op) == 0) return 0;
    if (errno != EINTR) return errno;
  }
}

/// One read of the registry, with whether waiting longer could help.
struct Attempt {
  Result<ServerList> result = Status(EINVAL, "not attempted");
  bool retry = false;
  std::string missing;  // for the timeout message
};

Attempt not_ready(int err, std::string msg, std::string missing) {
  return Attempt{Status(err, std::move(msg)), true, std::move(missing)};
}

Attempt broken(Status s) { return Attempt{std::move(s), false, {}}; }

/// Reads one file of the registry into *text: nothing when it could, else
/// the attempt's outcome (missing: not ready yet, `why` ends the message;
/// any other error: broken).
std::optional<Attempt> read_part(const std::string& path, const char* name, const char* why,
                                 std::string* text) {
  auto r = read_file(path);
  if (r) {
    *text = std::move(*r);
    return std::nullopt;
  }
  if (r.status().err() == ENOENT) {
    return not_ready(ENOENT, "'" + path + "' does not exist" + why, std::string("no ") + name);
  }
  return broken(r.status());
}

Attempt try_read(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return not_ready(ENOENT, "registry directory '" + dir + "' does not exist", "no directory");
    }
    return broken(sys_error(err, "cannot stat registry directory '" + dir + "'"));
  }
  if (!S_ISDIR(st.st_mode)) return broken(Status(ENOTDIR, "registry '" + dir + "' is not a directory"));

  const std::string ready_path = join(dir, kReadyFile);
  std::string ready_text;
  if (auto failed = read_part(ready_path, kReadyFile, ": servers not ready", &ready_text))
    return std::move(*failed);
  auto info = parse_ready(ready_text, ready_path);
  if (!info) return broken(info.status());

  const std::string list_path = join(dir, kListFile);
  std::string list_text;
  if (auto failed = read_part(list_path, kListFile, " although the registry is ready", &list_text))
    return std::move(*failed);
  auto entries = parse_server_list(list_text, list_path);
  if (!entries) return broken(entries.status());

  const uint32_t n = info->servers;
  for (const ServerEntry& e : *entries) {
    if (e.node >= n) {
      std::string msg = list_path;
      msg += ": node_" + std::to_string(e.node);
      msg += " is outside node_0..node_" + std::to_string(n - 1);
      msg += " (" + ready_path;
      msg += " says " + std::to_string(n) + " servers)";
      return broken(Status(EINVAL, msg));
    }
  }
  if (entries->size() < n) {
    // Nodes are unique, sorted and < n: walk once to name the first few gaps.
    std::string gaps;
    size_t named = 0;
    size_t idx = 0;
    for (uint32_t node = 0; node < n && named < 5; ++node) {
      if (idx < entries->size() && (*entries)[idx].node == node) {
        ++idx;
        continue;
      }
      gaps += (named++ == 0 ? "node_" : ", node_") + std::to_string(node);
    }
    if (n - entries->size() > named) gaps += ", ...";
    std::string what = "list incomplete: " + std::to_string(entries->size()) + " of " + std::to_string(n) +
                       " (missing " + gaps + ")";
    return not_ready(EAGAIN, list_path + ": " + what, what);
  }

  ServerList list;
  list.info = *info;
  list.servers = std::move(*entries);
  return Attempt{std::move(list), false, {}};
}

std::string format_seconds(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(ns) / 1e9);
  return buf;
}

}  // namespace

// ---- directory -------------------------------------------------------------

Status prepare_directory(const std::string& dir) {
  if (dir.empty()) return Status(EINVAL, "registry directory path is empty");
  auto not_a_dir = [&dir](const std::string& prefix) {
    return Status(ENOTDIR, "cannot create registry directory '" + dir + "': '" + prefix +
                               "' exists and is not a directory");
  };
  // Every prefix that ends before a '/', then the whole path.
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos < dir.size() && dir[pos] != '/') continue;
    if (dir[pos - 1] == '/') continue;  // "a//b" or a trailing '/'
    const std::string prefix = dir.substr(0, pos);
    struct stat st {};
    if (::stat(prefix.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) return not_a_dir(prefix);
      continue;
    }
    if (errno != ENOENT) {
      const int err = errno;
      std::string msg = "cannot create registry directory '" + dir;
      msg += "': '" + prefix + "'";
      return sys_error(err, msg);
    }
    if (::mkdir(prefix.c_str(), 0700) != 0) {
      int err = errno;
      if (err == EEXIST) {  // another rank was faster: fine if it made a directory
        if (::stat(prefix.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
        return not_a_dir(prefix);
      }
      return sys_error(err, "cannot create registry directory '" + prefix + "'");
    }
    // mkdir's mode is filtered by the umask; make ours exactly 0700.
    if (::chmod(prefix.c_str(), 0700) != 0) return sys_error(errno, "cannot chmod 0700 '" + prefix + "'");
  }
  return Status::ok();
}

Status reset(const std::string& dir) {
  // Same order as withdraw: a client polling during the reset never sees a
  // ready file next to a list that is already gone.
  return withdraw(dir);
}

Status withdraw(const std::string& dir) {
  if (Status s = remove_if_exists(join(dir, kReadyFile)); !s) return s;
  return remove_if_exists(join(dir, kListFile));
}

// ---- list ------------------------------------------------------------------

Result<std::string> format_server_line(const ServerEntry& e) {
  if (e.node >= kMaxNodes) return Status(EINVAL, "node number " + std::to_string(e.node) + " too large");
  if (e.port == 0) return Status(EINVAL, "port 0 cannot be published for node_" + std::to_string(e.node));
  std::string_view host = e.host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const bool v6 = host.find(':') != std::string_view::npos;
  if (v6) {
    if (!is_ipv6_literal(host)) return Status(EINVAL, "bad IPv6 address '" + e.host + "'");
  } else if (std::string bad = check_hostname(host); !bad.empty()) {
    return Status(EINVAL, bad + ": '" + e.host + "'");
  }
  std::string line = "node_" + std::to_string(e.node) + ' ';
  if (v6) line += '[';
  line += host;
  if (v6) line += ']';
  line += ':' + std::to_string(e.port) + '\n';
  return line;
}

Status append_server(const std::string& dir, const ServerEntry& e) {
  auto line = format_server_line(e);
  if (!line) return line.status();
  const std::string path = join(dir, kListFile);
  Fd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return sys_error(errno, "cannot open '" + path + "' for appending");
  if (int err = lock_fd(fd.get(), LOCK_EX); err != 0) return sys_error(err, "cannot lock '" + path + "'");

  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return sys_error(errno, "cannot stat '" + path + "'");
  std::string data;
  if (st.st_size == 0) {
    ::fchmod(fd.get(), 0600);  // whatever the umask did
    data = kListHeader;
  } else {
    // A writer that died mid-line must not glue its fragment to our line (hence
    // O_RDWR, for this pread): the fragment stays a malformed line readers report.
    char last = '\n';
    if (::pread(fd.get(), &last, 1, st.st_size - 1) == 1 && last != '\n') data = "\n";
  }
  data += *line;
  if (Status s = write_all(fd.get(), data, path); !s) return s;
  if (Status s = fsync_fd(fd.get(), path); !s) return s;
  if (st.st_size == 0) {
    if (Status s = fsync_dir(dir); !s) return s;
  }
  lock_fd(fd.get(), LOCK_UN);  // close would drop it too; unlock explicitly before close
  if (int err = fd.close(); err != 0) return sys_error(err, "cannot close '" + path + "'");
  return Status::ok();
}

// Calls fn(lineno, line, trimmed line) for each line of `text` that is not
// blank or a comment; stops at the first error: a line too long, or fn's.
template <typename Fn>
Status each_content_line(std::string_view text, std::string_view source, Fn&& fn) {
  LineReader reader(text);
  std::string_view line;
  while (reader.next(line)) {
    const size_t lineno = reader.lineno();
    if (Status st = check_length(source, lineno, line); !st) return st;
    std::string_view t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    if (Status st = fn(lineno, line, t); !st) return st;
  }
  return Status::ok();
}

Result<std::vector<ServerEntry>> parse_server_list(std::string_view text, std::string_view source) {
  struct Parsed {
    ServerEntry entry;
    size_t lineno;
  };
  std::vector<Parsed> parsed;
  std::unordered_map<uint32_t, size_t> first_line;  // node -> line number
  Status lines = each_content_line(
      text, source, [&](size_t lineno, std::string_view line, std::string_view t) -> Status {
        auto [node_token, rest] = split_token(t);
        ServerEntry e;
        if (std::string bad = parse_node(node_token, e.node); !bad.empty())
          return line_error(source, lineno, bad, line);
        auto [addr, extra] = split_token(rest);
        if (addr.empty()) return line_error(source, lineno, "missing address", line);
        if (!extra.empty()) return line_error(source, lineno, "unexpected text after address", line);
        if (std::string bad = parse_address(addr, e); !bad.empty())
          return line_error(source, lineno, bad, line);

        auto [it, inserted] = first_line.emplace(e.node, lineno);
        if (!inserted) {
          return line_error(source, lineno,
                            "duplicate node_" + std::to_string(e.node) + " (already on line " +
                                std::to_string(it->second) + ")",
                            line);
        }
        parsed.push_back(Parsed{std::move(e), lineno});
        return Status::ok();
      });
  if (!lines) return lines;
  std::sort(parsed.begin(), parsed.end(),
            [](const Parsed& a, const Parsed& b) { return a.entry.node < b.entry.node; });
  std::vector<ServerEntry> out;
  out.reserve(parsed.size());
  for (Parsed& p : parsed) out.push_back(std::move(p.entry));
  return out;
}

// ---- ready file ------------------------------------------------------------

std::string format_ready(const ReadyInfo& info) {
  return "# BenchFS ready\nservers " + std::to_string(info.servers) + "\nchunk_size " +
         std::to_string(info.chunk_size) + "\nsecret " + to_hex64(info.secret) + "\n";
}

Result<ReadyInfo> parse_ready(std::string_view text, std::string_view source) {
  ReadyInfo info;
  size_t servers_line = 0;
  size_t chunk_line = 0;
  size_t secret_line = 0;
  Status lines = each_content_line(
      text, source, [&](size_t lineno, std::string_view line, std::string_view t) -> Status {
        auto [key, rest] = split_token(t);
        size_t* seen = nullptr;
        if (key == "servers")
          seen = &servers_line;
        else if (key == "chunk_size")
          seen = &chunk_line;
        else if (key == "secret")
          seen = &secret_line;
        else
          return Status::ok();  // unknown keys: room for later additions
        const std::string k(key);
        if (*seen != 0) {
          return line_error(source, lineno,
                            "duplicate key '" + k + "' (first on line " + std::to_string(*seen) + ")", line);
        }
        *seen = lineno;
        auto [value, extra] = split_token(rest);
        if (value.empty()) return line_error(source, lineno, "missing value for '" + k + "'", line);
        if (!extra.empty())
          return line_error(source, lineno, "unexpected text after value of '" + k + "'", line);

        if (key == "secret") {
          auto v = parse_hex64(value);
          if (!v) return line_error(source, lineno, "secret must be 16 hex digits", line);
          if (*v == 0) return line_error(source, lineno, "secret must not be 0", line);
          info.secret = *v;
          return Status::ok();
        }
        uint64_t v = 0;
        const uint64_t max = key == "servers" ? kMaxNodes : UINT64_MAX;
        switch (parse_decimal(value, max, v)) {
          case NumberError::ok:
            break;
          case NumberError::too_large:
            return line_error(source, lineno, k + " too large", line);
          default:
            return line_error(source, lineno, "bad " + k + " value (expected a decimal number)", line);
        }
        if (key == "servers") {
          if (v == 0) return line_error(source, lineno, "servers must be at least 1", line);
          info.servers = static_cast<uint32_t>(v);
        } else {
          if (v < kMinChunkSize)
            return line_error(source, lineno, "chunk_size must be at least " + std::to_string(kMinChunkSize),
                              line);
          if ((v & (v - 1)) != 0)
            return line_error(source, lineno, "chunk_size must be a power of two", line);
          info.chunk_size = v;
        }
        return Status::ok();
      });
  if (!lines) return lines;
  std::string missing;
  for (auto [name, at] :
       {std::pair{"servers", servers_line}, {"chunk_size", chunk_line}, {"secret", secret_line}}) {
    if (at != 0) continue;
    missing += missing.empty() ? "'" : ", '";
    missing += name;
    missing += "'";
  }
  if (!missing.empty()) return Status(EINVAL, std::string(source) + ": missing key " + missing);
  return info;
}

namespace {

/// Writes `text` to <dir>/<name> atomically: temp file (mode 0600) + fsync +
/// rename + fsync of the directory.
Status publish_file(const std::string& dir, const std::string& name, std::string_view text) {
  const std::string final_path = join(dir, name);
  std::string tmp = join(dir, "." + name + ".XXXXXX");
  Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd.valid()) return sys_error(errno, "cannot create a temporary file in '" + dir + "'");

  Status s;
  if (::fchmod(fd.get(), 0600) != 0) s = sys_error(errno, "cannot chmod '" + tmp + "'");
  if (s) s = write_all(fd.get(), text, tmp);
  if (s) s = fsync_fd(fd.get(), tmp);
  if (s) {
    if (int err = fd.close(); err != 0) s = sys_error(err, "cannot close '" + tmp + "'");
  }
  if (s && ::rename(tmp.c_str(), final_path.c_str()) != 0) {
    s = sys_error(errno, "cannot rename '" + tmp + "' to '" + final_path + "'");
  }
  if (!s) {
    ::unlink(tmp.c_str());
    return s;
  }
  return fsync_dir(dir);
}

std::string workers_file(uint32_t node) { return kWorkersFilePrefix + std::to_string(node); }

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Status publish_ready(const std::string& dir, const ReadyInfo& info) {
  if (Status s = validate_ready(info); !s) return Status(EINVAL, "refusing to publish: " + s.message());
  return publish_file(dir, kReadyFile, format_ready(info));
}

Status publish_worker_addresses(const std::string& dir, uint32_t node,
                                const std::vector<std::string>& addresses) {
  if (addresses.empty()) return Status(EINVAL, "no worker addresses to publish");
  if (node >= kMaxNodes) return Status(EINVAL, "node " + std::to_string(node) + " out of range");
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text = "# BenchFS worker addresses of node_" + std::to_string(node) + " (thread <i> <hex>)\n";
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (addresses[i].empty()) return Status(EINVAL, "empty worker address for thread " + std::to_string(i));
    text += "thread " + std::to_string(i) + " ";
    for (char c : addresses[i]) {
      const auto b = static_cast<unsigned char>(c);
      text += kDigits[b >> 4];
      text += kDigits[b & 15];
    }
    text += '\n';
  }
  return publish_file(dir, workers_file(node), text);
}

Result<std::vector<std::string>> parse_worker_addresses(std::string_view text, std::string_view source) {
  std::vector<std::string> out;
  LineReader lines(text);
  std::string_view raw;
  while (lines.next(raw)) {
    const size_t lineno = lines.lineno();
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    auto [key, rest] = split_token(line);
    auto [index, hex] = split_token(rest);
    uint64_t thread = 0;
    if (key != "thread" || parse_decimal(index, kMaxNodes, thread) != NumberError::ok)
      return Status(EINVAL,
                    std::string(source) + ":" + std::to_string(lineno) + ": expected 'thread <i> <hex>'");
    if (thread != out.size())
      return Status(EINVAL, std::string(source) + ":" + std::to_string(lineno) + ": thread " +
                                std::to_string(thread) + " out of order (expected " +
                                std::to_string(out.size()) + ")");
    if (hex.empty() || hex.size() % 2 != 0 || hex.find_first_of(" \t") != std::string_view::npos)
      return Status(EINVAL, std::string(source) + ":" + std::to_string(lineno) + ": bad address");
    std::string bytes(hex.size() / 2, '\0');
    for (size_t i = 0; i < bytes.size(); ++i) {
      const int hi = hex_value(hex[2 * i]);
      const int lo = hex_value(hex[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return Status(EINVAL, std::string(source) + ":" + std::to_string(lineno) + ": address is not hex");
      bytes[i] = static_cast<char>(hi * 16 + lo);
    }
    out.push_back(std::move(bytes));
  }
  if (out.empty()) return Status(EINVAL, std::string(source) + ": no worker addresses");
  return out;
}

Result<std::vector<std::string>> read_worker_addresses(const std::string& dir, uint32_t node) {
  const std::string path = join(dir, workers_file(node));
  auto text = read_file(path);
  if (!text) return text.status();
  return parse_worker_addresses(*text, path);
}

// ---- readers ---------------------------------------------------------------

Result<ServerList> read_servers(const std::string& dir) { return try_read(dir).result; }

Result<ServerList> wait_for_servers(const std::string& dir, Deadline deadline) {
  constexpr uint64_t kFirstPollNs = 10'000'000;
  constexpr uint64_t kMaxPollNs = 100'000'000;
  const uint64_t start = now_ns();
  uint64_t interval = kFirstPollNs;
  for (;;) {
    Attempt a = try_read(dir);
    if (a.result.ok() || !a.retry) return std::move(a.result);
    const uint64_t now = now_ns();
    if (deadline.expired(now)) {
      return Status(ETIMEDOUT, "timed out after " + format_seconds(now - start) +
                                   " waiting for BenchFS servers in '" + dir + "': " + a.missing);
    }
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min(interval, deadline.at_ns() - now)));
    interval = std::min(interval * 3 / 2, kMaxPollNs);
  }
}

}  // namespace benchfs::registry
