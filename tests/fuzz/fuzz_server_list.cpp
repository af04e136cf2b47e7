// libFuzzer target: parse_server_list on arbitrary text. An accepted list must
// obey the limits server_list.hpp documents (sorted unique nodes below
// kMaxNodes, ports 1..65535, lines within kMaxLineLength, hosts the formatter
// accepts) and survive format -> parse unchanged; a rejected one is EINVAL
// naming the source.

#include <cerrno>
#include <string>
#include <string_view>

#include "benchfs/registry/server_list.hpp"
#include "fuzz_common.hpp"

using namespace benchfs;
using namespace benchfs::registry;

namespace {

constexpr std::string_view kSource = "fuzz/server_list.txt";

bool host_char_ok(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
         c == '_' || c == ':' || c == '%';
}

bool same_entries(const std::vector<ServerEntry>& a, const std::vector<ServerEntry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].node != b[i].node || a[i].host != b[i].host || a[i].port != b[i].port) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* in, size_t size) {
  const std::string text(reinterpret_cast<const char*>(in), size);
  auto list = parse_server_list(text, kSource);
  if (fuzz::parse_rejected(list, kSource)) return 0;
  // Every line of an accepted file is within the limit.
  size_t line_start = 0;
  size_t lines = 0;
  while (line_start < text.size()) {
    size_t end = text.find('\n', line_start);
    if (end == std::string::npos) end = text.size();
    size_t len = end - line_start;
    if (len > 0 && text[end - 1] == '\r') --len;
    BENCHFS_FUZZ_CHECK(len <= kMaxLineLength, "accepted a line over kMaxLineLength");
    ++lines;
    line_start = end + 1;
  }
  BENCHFS_FUZZ_CHECK(list->size() <= lines, "more entries than lines");

  std::string again;
  for (size_t i = 0; i < list->size(); ++i) {
    const ServerEntry& e = (*list)[i];
    BENCHFS_FUZZ_CHECK(e.node < kMaxNodes, "node number over the limit");
    if (i > 0) BENCHFS_FUZZ_CHECK((*list)[i - 1].node < e.node, "entries not sorted or not unique");
    BENCHFS_FUZZ_CHECK(e.port != 0, "port 0 accepted");
    BENCHFS_FUZZ_CHECK(!e.host.empty(), "empty host accepted");
    BENCHFS_FUZZ_CHECK(e.host.front() != '[', "host kept its brackets");
    for (char c : e.host) BENCHFS_FUZZ_CHECK(host_char_ok(c), "host with a character no address has");
    if (e.host.find(':') == std::string::npos) BENCHFS_FUZZ_CHECK(e.host.size() <= 253, "host too long");
    auto line = format_server_line(e);
    BENCHFS_FUZZ_CHECK(line.ok(), "parsed entry that format_server_line refuses");
    BENCHFS_FUZZ_CHECK(line->size() <= kMaxLineLength + 1, "formatted line over kMaxLineLength");
    again += *line;
  }
  auto list2 = parse_server_list(again, kSource);
  BENCHFS_FUZZ_CHECK(list2.ok(), "formatted list does not parse");
  BENCHFS_FUZZ_CHECK(same_entries(*list, *list2), "list changed in format -> parse");
  return 0;
}
