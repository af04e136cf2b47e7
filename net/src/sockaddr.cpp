#include "benchfs/net/sockaddr.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <utility>

namespace benchfs::net {

std::string SockAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (storage.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "?";
}

uint16_t SockAddr::port() const {
  if (storage.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (storage.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

bool SockAddr::is_wildcard() const {
  if (storage.ss_family == AF_INET)
    return reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr.s_addr == htonl(INADDR_ANY);
  if (storage.ss_family == AF_INET6)
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr);
  return false;
}

SockAddr from_sockaddr(const sockaddr* sa) {
  SockAddr out;
  if (sa == nullptr) return out;
  out.len = sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  std::memcpy(&out.storage, sa, out.len);
  return out;
}

Result<SockAddr> resolve(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr)
    return Status(EHOSTUNREACH, "cannot resolve '" + host + "': " + gai_strerror(rc));
  // Prefer IPv4: UCX's tcp transport is most commonly configured for it.
  const addrinfo* pick = res;
  for (const addrinfo* a = res; a != nullptr; a = a->ai_next)
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  SockAddr out;
  std::memcpy(&out.storage, pick->ai_addr, pick->ai_addrlen);
  out.len = pick->ai_addrlen;
  freeaddrinfo(res);
  return out;
}

namespace {

std::string ipv4_text(const sockaddr_in* in) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
  return buf;
}

// IPv4 addresses of this host's interfaces, in getifaddrs order:
// (interface name, numeric address).
std::vector<std::pair<std::string, std::string>> ipv4_interfaces() {
  std::vector<std::pair<std::string, std::string>> out;
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return out;
  for (ifaddrs* i = ifs; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET || i->ifa_name == nullptr) continue;
    out.emplace_back(i->ifa_name, ipv4_text(reinterpret_cast<const sockaddr_in*>(i->ifa_addr)));
  }
  freeifaddrs(ifs);
  return out;
}

std::string first_non_loopback(const std::vector<std::pair<std::string, std::string>>& ifs) {
  for (const auto& [name, addr] : ifs)
    if (addr.rfind("127.", 0) != 0) return addr;
  return "";
}

}  // namespace

std::string first_non_loopback_ipv4() { return first_non_loopback(ipv4_interfaces()); }

std::vector<std::string> allowed_net_devices(const char* devices) {
  std::vector<std::string> out;
  if (devices == nullptr) return out;
  std::string all(devices);
  for (size_t at = 0; at <= all.size();) {
    size_t comma = all.find(',', at);
    if (comma == std::string::npos) comma = all.size();
    std::string dev = all.substr(at, comma - at);
    if (const size_t colon = dev.find(':'); colon != std::string::npos) dev.resize(colon);
    if (dev == "all") return {};
    if (!dev.empty()) out.push_back(dev);
    at = comma + 1;
  }
  return out;
}

std::string interface_of(const std::string& host) {
  auto r = resolve(host, 0);
  if (!r || r->storage.ss_family != AF_INET) return "";
  const std::string want = ipv4_text(reinterpret_cast<const sockaddr_in*>(&r->storage));
  for (const auto& [name, addr] : ipv4_interfaces())
    if (addr == want) return name;
  return "";
}

std::string default_advertise_host() {
  const auto ifs = ipv4_interfaces();
  for (const std::string& dev : allowed_net_devices(std::getenv("UCX_NET_DEVICES")))
    for (const auto& [name, addr] : ifs)
      if (name == dev) return addr;
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0) {
    auto r = resolve(name, 0);
    if (r && r->storage.ss_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&r->storage);
      if ((ntohl(in->sin_addr.s_addr) >> 24) != 127) return ipv4_text(in);
    }
  }
  const std::string any = first_non_loopback(ifs);
  return any.empty() ? "127.0.0.1" : any;
}

}  // namespace benchfs::net
