// Addresses a server advertises (net/sockaddr.hpp): UCX_NET_DEVICES decides
// which interface's address clients can reach.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "benchfs/net/sockaddr.hpp"
#include "env_guard.hpp"

namespace {

using benchfs::net::allowed_net_devices;
using benchfs::net::default_advertise_host;
using benchfs::net::interface_of;
using benchfs::test::EnvGuard;

TEST(AllowedNetDevices, ParsesUcxNetDevices) {
  EXPECT_TRUE(allowed_net_devices(nullptr).empty());
  EXPECT_TRUE(allowed_net_devices("").empty());
  EXPECT_TRUE(allowed_net_devices("all").empty());
  EXPECT_TRUE(allowed_net_devices("lo,all").empty());
  EXPECT_EQ(allowed_net_devices("lo"), std::vector<std::string>{"lo"});
  EXPECT_EQ(allowed_net_devices("mlx5_0:1,eth0"), (std::vector<std::string>{"mlx5_0", "eth0"}));
  EXPECT_EQ(allowed_net_devices(",eth1,,"), std::vector<std::string>{"eth1"});
}

TEST(InterfaceOf, FindsLoopbackAndNothingForAForeignAddress) {
  EXPECT_EQ(interface_of("127.0.0.1"), "lo");
  EXPECT_EQ(interface_of("198.51.100.77"), "");  // TEST-NET-2: on no interface of a test machine
  EXPECT_EQ(interface_of("not a host name"), "");
}

TEST(DefaultAdvertiseHost, FollowsUcxNetDevices) {
  EnvGuard guard("UCX_NET_DEVICES");
  setenv("UCX_NET_DEVICES", "lo", 1);
  EXPECT_EQ(default_advertise_host(), "127.0.0.1");
  setenv("UCX_NET_DEVICES", "no-such-device0,lo", 1);
  EXPECT_EQ(default_advertise_host(), "127.0.0.1");
  // Unrestricted: an address of this host (not loopback when it has another).
  unsetenv("UCX_NET_DEVICES");
  const std::string any = default_advertise_host();
  EXPECT_FALSE(any.empty());
  EXPECT_NE(interface_of(any), "") << any << " is on no interface";
}

}  // namespace
