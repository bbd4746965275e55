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

std::vector<std::string> Endpoints(const std::vector<ServerPtr>& servers) {
  std::vector<std::string> endpoints;
  for (const auto& server : servers) {
    endpoints.push_back(server->host() + " " + server->endpoint());
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
                                                      "Box17 tcp:Port=53:60"));
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

}  // namespace
}  // namespace dbgd::discovery
