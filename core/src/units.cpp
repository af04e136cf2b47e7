#include "benchfs/core/units.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace benchfs {

Result<uint64_t> parse_u64(std::string_view text) {
  uint64_t v = 0;
  if (text.empty()) return Status(EINVAL, "empty number");
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range) return Status(ERANGE, "number too large: " + std::string(text));
  if (ec != std::errc() || ptr != text.data() + text.size())
    return Status(EINVAL, "not a number: '" + std::string(text) + "'");
  return v;
}

Result<uint64_t> parse_size(std::string_view text) {
  std::string_view digits = text;
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) ++i;
  digits = text.substr(0, i);
  std::string suffix;
  for (char c : text.substr(i))
    suffix.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  auto n = parse_u64(digits);
  if (!n) return Status(EINVAL, "bad size '" + std::string(text) + "' (expected e.g. 4096, 64k, 1m, 2g)");
  unsigned shift = 0;
  if (suffix.empty() || suffix == "b") {
    shift = 0;
  } else if (suffix == "k" || suffix == "kb" || suffix == "kib") {
    shift = 10;
  } else if (suffix == "m" || suffix == "mb" || suffix == "mib") {
    shift = 20;
  } else if (suffix == "g" || suffix == "gb" || suffix == "gib") {
    shift = 30;
  } else if (suffix == "t" || suffix == "tb" || suffix == "tib") {
    shift = 40;
  } else {
    return Status(EINVAL, "bad size suffix in '" + std::string(text) + "' (use k, m, g or t)");
  }
  if (shift > 0 && *n > (UINT64_MAX >> shift)) return Status(ERANGE, "size too large: " + std::string(text));
  return *n << shift;
}

Result<std::vector<uint64_t>> parse_size_list(std::string_view text) {
  std::vector<uint64_t> out;
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string_view item = text.substr(at, comma - at);
    auto v = parse_size(item);
    if (!v) return Status(v.status().err(), "'" + std::string(item) + "': " + v.status().message());
    out.push_back(*v);
    at = comma + 1;
  }
  return out;
}

std::string format_size(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  unsigned u = 0;
  while (u + 1 < std::size(kUnits) && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return std::to_string(bytes) + " " + kUnits[u];
}

Result<HostPort> parse_host_port(std::string_view text) {
  HostPort hp;
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return Status(EINVAL, "missing ']' in '" + std::string(text) + "'");
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Status(EINVAL, "expected ':' after ']' in '" + std::string(text) + "'");
      port = rest.substr(1);
    }
  } else if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
    if (text.find(':') != colon)
      return Status(EINVAL, "IPv6 addresses need brackets: '" + std::string(text) + "'");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  hp.host = host.empty() ? "0.0.0.0" : std::string(host);
  if (!port.empty()) {
    auto p = parse_u64(port);
    if (!p || *p > 65535) return Status(EINVAL, "bad port in '" + std::string(text) + "'");
    hp.port = static_cast<uint16_t>(*p);
  } else if (text.find(':') != std::string_view::npos && text.front() != '[') {
    return Status(EINVAL, "empty port in '" + std::string(text) + "'");
  }
  return hp;
}

}  // namespace benchfs
