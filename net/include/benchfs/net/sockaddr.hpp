#pragma once
// Socket addresses for UCX's connection manager.

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

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
/// Network interfaces UCX_NET_DEVICES (read from `devices`) lets UCX use:
/// the names of its comma-separated entries, without a ":port" suffix (so
/// "mlx5_0:1" gives "mlx5_0"). Empty when it is unset, empty or "all".
std::vector<std::string> allowed_net_devices(const char* devices);
/// The name of the interface that holds IPv4 address `host` (numeric or a
/// name to resolve), "" if none of this host's does.
std::string interface_of(const std::string& host);
/// The first IPv4 address of this host's interfaces that is not loopback
/// (127/8), in getifaddrs order; "" if there is none.
std::string first_non_loopback_ipv4();
/// An IPv4 address of this host to advertise when listening on a wildcard.
/// With UCX_NET_DEVICES naming devices: the first IPv4 address of the first
/// listed device that has one (clients restricted to those devices can
/// reach it; "lo" gives 127.0.0.1). Otherwise, or when none has an IPv4
/// address: the address gethostname() resolves to when it is not loopback,
/// else the first non-loopback interface address, else 127.0.0.1.
std::string default_advertise_host();

}  // namespace benchfs::net
