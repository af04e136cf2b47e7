#pragma once
// Socket addresses for UCX's connection manager.

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "benchfs/core/status.hpp"

namespace benchfs::net {

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  [[nodiscard]] const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  /// "1.2.3.4:56" or "[::1]:56".
  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] uint16_t port() const;
  [[nodiscard]] bool is_wildcard() const;
};

/// Resolves a numeric address or host name (IPv4 preferred) and a port.
Result<SockAddr> resolve(const std::string& host, uint16_t port);
/// Copies a sockaddr of any family into a SockAddr.
SockAddr from_sockaddr(const sockaddr* sa);
/// An IPv4 address of this host to advertise when listening on a wildcard:
/// the address gethostname() resolves to when it is not loopback, else the
/// first non-loopback interface address, else 127.0.0.1.
std::string default_advertise_host();

}  // namespace benchfs::net
