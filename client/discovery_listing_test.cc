#include "client/discovery_listing.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::client {
namespace {

using ::testing::HasSubstr;

TEST(ResolveDiscoveryTargetTest, AsksTheHostItselfOnTheDefaultPort) {
  absl::StatusOr<DiscoveryTarget> target = ResolveDiscoveryTarget("\\\\Box17", "");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->address, "box17:7701");
  EXPECT_EQ(target->host, "box17");

  target = ResolveDiscoveryTarget("box17:7800", "");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->address, "box17:7800");
  EXPECT_EQ(target->host, "box17") << "the port is where to ask, not what";

  target = ResolveDiscoveryTarget("fe80::1", "");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->address, "[fe80::1]:7701");
  EXPECT_EQ(target->host, "fe80::1");
}

TEST(ResolveDiscoveryTargetTest, DiscoveryNamesTheDaemonToAsk) {
  absl::StatusOr<DiscoveryTarget> target =
      ResolveDiscoveryTarget("\\\\hostB", "127.0.0.1:9000");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->address, "127.0.0.1:9000");
  EXPECT_EQ(target->host, "hostb");

  target = ResolveDiscoveryTarget("", "registry.example");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->address, "registry.example:7701");
  EXPECT_EQ(target->host, "") << "no host: every host";

  target = ResolveDiscoveryTarget("", "unix:/run/dbgd/control.sock");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->address, "unix:/run/dbgd/control.sock");
}

TEST(ResolveDiscoveryTargetTest, SaysWhatIsMissingOrWrong) {
  absl::StatusOr<DiscoveryTarget> none = ResolveDiscoveryTarget("", "");
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("--discovery"));
  absl::StatusOr<DiscoveryTarget> port = ResolveDiscoveryTarget("", "box:99999");
  ASSERT_FALSE(port.ok());
  EXPECT_THAT(std::string(port.status().message()), HasSubstr("discovery: port"));
}

TEST(FormatServerListingTest, PrintsOneBlockPerHostAsWinDbgDoes) {
  v1::SearchServersResponse response;
  v1::DiscoveredServer* a = response.add_servers();
  a->set_host("hosta");
  a->set_kind("Debugger Server");
  a->set_endpoint("tcp:Port=53:60");
  v1::DiscoveredServer* b = response.add_servers();
  b->set_host("hostb");
  b->set_kind("Debugger Server");
  b->set_endpoint("tcp:Port=5005,Password=*");
  response.add_hosts("hosta");
  response.add_hosts("hostb");
  EXPECT_EQ(FormatServerListing(response, ""),
            "Servers on \\\\hosta:\n"
            "Debugger Server - tcp:Port=53:60\n"
            "Servers on \\\\hostb:\n"
            "Debugger Server - tcp:Port=5005,Password=*\n");
}

TEST(FormatServerListingTest, AnAskedHostWithoutServersStillGetsItsHeader) {
  EXPECT_EQ(FormatServerListing({}, "\\\\Quiet"), "Servers on \\\\quiet:\n");
  EXPECT_EQ(FormatServerListing({}, ""), "");
}

}  // namespace
}  // namespace dbgd::client
