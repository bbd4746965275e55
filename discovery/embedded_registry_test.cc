#include "discovery/embedded_registry.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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

// Walk follows SearchPage's cursors from the start and returns every
// page's endpoints; a page must never come back empty with a cursor.
std::vector<std::vector<std::string>> Walk(Registry& registry, SearchQuery query) {
  std::vector<std::vector<std::string>> pages;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<SearchResult> page = registry.SearchPage(query);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    pages.push_back(Endpoints(page->entries));
    if (page->next.empty()) break;
    EXPECT_FALSE(page->entries.empty());
    query.after = page->next;
  }
  return pages;
}

std::vector<std::string> Flat(const std::vector<std::vector<std::string>>& pages) {
  std::vector<std::string> all;
  for (const auto& page : pages) all.insert(all.end(), page.begin(), page.end());
  return all;
}

TEST(EmbeddedRegistryPagingTest, PagesCoverEveryEntryOnceInOrder) {
  EmbeddedRegistry registry;
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(registry.Register(absl::StrCat("servers/", i),
                                  Server(absl::StrCat("h", i % 3),
                                         absl::StrCat("tcp:Port=", 100 + i)))
                    .ok());
  }
  const auto pages = Walk(registry, {.limit = 7});
  ASSERT_EQ(pages.size(), 4u);
  EXPECT_EQ(pages[3].size(), 4u);
  EXPECT_EQ(Flat(pages), Endpoints(*registry.Search("")));

  const auto one_host = Walk(registry, {.host = "H1", .limit = 3});
  EXPECT_EQ(one_host.size(), 3u);  // 8 entries: 3 + 3 + 2
  EXPECT_EQ(Flat(one_host), Endpoints(*registry.Search("h1")));
}

TEST(EmbeddedRegistryPagingTest, ExactMultipleEndsWithoutAnEmptyPage) {
  EmbeddedRegistry registry;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(registry.Register(absl::StrCat("k", i),
                                  Server("h", absl::StrCat("tcp:Port=", i)))
                    .ok());
  }
  const auto pages = Walk(registry, {.limit = 3});
  ASSERT_EQ(pages.size(), 2u);
  EXPECT_EQ(pages[1].size(), 3u);
  EXPECT_EQ(Walk(registry, {.limit = 6}).size(), 1u);
}

TEST(EmbeddedRegistryPagingTest, EmptyRegistryIsOneEmptyLastPage) {
  EmbeddedRegistry registry;
  absl::StatusOr<SearchResult> page = registry.SearchPage({.limit = 5});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->entries.empty());
  EXPECT_TRUE(page->next.empty());
}

TEST(EmbeddedRegistryPagingTest, ChangesBetweenPagesNeverShiftThem) {
  EmbeddedRegistry registry;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(registry.Register(absl::StrCat("k", i),
                                  Server("h", absl::StrCat("tcp:Port=", 10 + i)))
                    .ok());
  }
  absl::StatusOr<SearchResult> first = registry.SearchPage({.limit = 4});
  ASSERT_TRUE(first.ok());
  ASSERT_THAT(Endpoints(first->entries),
              ::testing::ElementsAre("h tcp:Port=10", "h tcp:Port=11",
                                     "h tcp:Port=12", "h tcp:Port=13"));
  // Seen and unseen entries go, new ones come before and after the cursor.
  ASSERT_TRUE(registry.Unregister("k1").ok());
  ASSERT_TRUE(registry.Unregister("k3").ok());  // the cursor's own entry
  ASSERT_TRUE(registry.Unregister("k6").ok());
  ASSERT_TRUE(registry.Register("new0", Server("h", "tcp:Port=100")).ok());
  ASSERT_TRUE(registry.Register("new1", Server("h", "tcp:Port=99")).ok());
  const auto rest = Flat(Walk(registry, {.after = first->next, .limit = 4}));
  EXPECT_THAT(rest, ::testing::ElementsAre("h tcp:Port=14", "h tcp:Port=15",
                                           "h tcp:Port=17", "h tcp:Port=18",
                                           "h tcp:Port=19", "h tcp:Port=99"))
      << "tcp:Port=100 sorts before the cursor (tcp:Port=13): not seen";
}

TEST(EmbeddedRegistryPagingTest, MaxBytesCutsPagesButNeverBelowOneEntry) {
  EmbeddedRegistry registry;
  for (int i = 0; i < 5; ++i) {
    v1::DiscoveredServer server = Server("h", absl::StrCat("tcp:Port=", i));
    server.set_session_display_name(std::string(1000, 'x'));
    ASSERT_TRUE(registry.Register(absl::StrCat("k", i), server).ok());
  }
  EXPECT_EQ(Walk(registry, {.limit = 100, .max_bytes = 2000}).size(), 3u);
  EXPECT_EQ(Walk(registry, {.limit = 100, .max_bytes = 1}).size(), 5u);
}

TEST(EmbeddedRegistryPagingTest, ACursorFromAnotherHostStaysInTheAskedHost) {
  EmbeddedRegistry registry;
  ASSERT_TRUE(registry.Register("a", Server("a", "tcp:Port=1")).ok());
  ASSERT_TRUE(registry.Register("b", Server("b", "tcp:Port=1")).ok());
  ASSERT_TRUE(registry.Register("c", Server("c", "tcp:Port=1")).ok());
  absl::StatusOr<SearchResult> a = registry.SearchPage({.limit = 1});
  ASSERT_TRUE(a.ok());
  // A cursor before the host starts at the host, one after it ends.
  auto page = registry.SearchPage({.host = "b", .after = a->next});
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Endpoints(page->entries), ::testing::ElementsAre("b tcp:Port=1"));
  page = registry.SearchPage({.host = "a", .after = "c\nzzz"});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->entries.empty());
  EXPECT_TRUE(page->next.empty());
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
