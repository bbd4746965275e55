#include "discovery/embedded_registry.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::discovery {
namespace {

v1::DiscoveredServer Server(const std::string& host, const std::string& endpoint) {
  v1::DiscoveredServer server;
  server.set_host(host);
  server.set_kind("Debugger Server");
  server.set_endpoint(endpoint);
  return server;
}

std::vector<std::string> Endpoints(const std::vector<EntryPtr>& entries) {
  std::vector<std::string> endpoints;
  for (const auto& entry : entries) {
    const v1::DiscoveredServer server = entry->Decode();
    EXPECT_EQ(server.host(), entry->host());
    endpoints.push_back(server.host() + " " + server.endpoint());
  }
  return endpoints;
}

TEST(EmbeddedRegistryTest, SearchesOneHostOrAllInOrder) {
  EmbeddedRegistry registry;
  ASSERT_TRUE(registry.Register("servers/1", Server("Box17", "tcp:Port=53:60")).ok());
  ASSERT_TRUE(registry.Register("servers/0", Server("box17", "npipe:Pipe=rabbit")).ok());
  ASSERT_TRUE(registry.Register("b/servers/0", Server("box18", "tcp:Port=1025")).ok());

  auto one = registry.Search("\\\\BOX17");
  ASSERT_TRUE(one.ok());
  EXPECT_THAT(Endpoints(*one), ::testing::ElementsAre("box17 npipe:Pipe=rabbit",
                                                      "box17 tcp:Port=53:60"))
      << "host names are case-insensitive and kept lower-case";
  auto all = registry.Search("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  EXPECT_TRUE(registry.Search("nobody")->empty());
}

TEST(EmbeddedRegistryTest, RegisterReplacesAndUnregisterRemoves) {
  EmbeddedRegistry registry;
  ASSERT_TRUE(registry.Register("servers/0", Server("box", "tcp:Port=51:60")).ok());
  ASSERT_TRUE(registry.Register("servers/0", Server("box", "tcp:Port=53:60")).ok());
  EXPECT_THAT(Endpoints(*registry.Search("box")), ::testing::ElementsAre("box tcp:Port=53:60"));
  ASSERT_TRUE(registry.Unregister("servers/0").ok());
  EXPECT_TRUE(registry.Search("")->empty());
  EXPECT_TRUE(registry.Unregister("servers/0").ok()) << "unknown keys are fine";
}

TEST(EmbeddedRegistryTest, MovingAnEntryToAnotherHostLeavesNoTrace) {
  EmbeddedRegistry registry;
  ASSERT_TRUE(registry.Register("k", Server("a", "tcp:Port=1")).ok());
  ASSERT_TRUE(registry.Register("k", Server("b", "tcp:Port=1")).ok());
  EXPECT_TRUE(registry.Search("a")->empty());
  EXPECT_EQ(registry.Search("b")->size(), 1u);
}

TEST(EncodeSearchResponseTest, ParsesBackToTheEntriesAndTheirHosts) {
  EmbeddedRegistry registry;
  v1::DiscoveredServer full = Server("box17", "tcp:Port=53:60,Password=*");
  full.set_password_required(true);
  full.set_session_display_name("/usr/bin/true");
  full.set_daemon("box17:7701");
  full.set_connect_string("tcp:Port=53:60,Server=box17,Password=*");
  full.mutable_register_time()->set_seconds(1764000000);
  ASSERT_TRUE(registry.Register("servers/0", full).ok());
  ASSERT_TRUE(registry.Register("servers/1", Server("box17", "tcp:Port=61")).ok());
  ASSERT_TRUE(registry.Register("x/servers/0", Server("box18", "tcp:Port=62")).ok());

  v1::SearchServersResponse response;
  ASSERT_TRUE(response.ParseFromString(EncodeSearchResponse(*registry.Search(""))));
  ASSERT_EQ(response.servers_size(), 3);
  EXPECT_EQ(response.servers(0).SerializeAsString(), full.SerializeAsString());
  EXPECT_EQ(response.servers(2).endpoint(), "tcp:Port=62");
  EXPECT_THAT(response.hosts(), ::testing::ElementsAre("box17", "box18"));

  ASSERT_TRUE(response.ParseFromString(EncodeSearchResponse({})));
  EXPECT_EQ(response.servers_size(), 0);
  EXPECT_EQ(response.hosts_size(), 0);
}

TEST(NormalizeHostTest, DropsBackslashesAndCase) {
  EXPECT_EQ(NormalizeHost("\\\\Box17"), "box17");
  EXPECT_EQ(NormalizeHost("box17"), "box17");
  EXPECT_EQ(NormalizeHost(""), "");
}

TEST(CheckHostNameTest, AcceptsNamesAndAddressesOnly) {
  for (const char* good : {"box17", "\\\\box17", "build-7.example.com", "10.0.0.1",
                           "[fe80::1%eth0]", ""}) {
    EXPECT_TRUE(CheckHostName(good, "host").ok()) << good;
  }
  for (const char* bad : {"a/b", "a b", "box\n", "caf\xc3\xa9"}) {
    absl::Status status = CheckHostName(bad, "host");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(status.message()), ::testing::StartsWith("host: "));
  }
  EXPECT_FALSE(CheckHostName(std::string(254, 'a'), "advertise_host").ok());
}

TEST(EntryTest, FromWireKeepsTheBytesAndDecodesThem) {
  v1::DiscoveredServer server = Server("box", "tcp:Port=1");
  EntryPtr entry = Entry::FromWire("box", server.SerializeAsString());
  EXPECT_EQ(entry->Decode().endpoint(), "tcp:Port=1");
  EXPECT_EQ(Entry::FromWire("box", "\xff\xff")->Decode().endpoint(), "")
      << "malformed bytes decode to an empty message";
}

}  // namespace
}  // namespace dbgd::discovery
