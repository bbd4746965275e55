// EtcdRegistry against a real etcd (testing/etcd_process): publishing,
// searching, key layout, two daemons on one etcd, shutdown, and outages.

#include "discovery/etcd_registry.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "etcd/v3/rpc.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "testing/etcd_process.h"

namespace dbgd::discovery {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr absl::Duration kPatience = absl::Seconds(15);
constexpr char kPrefix[] = "/dbgd/v1/servers/";

v1::DiscoveredServer Server(const std::string& host,
                            const std::string& endpoint) {
  v1::DiscoveredServer server;
  server.set_host(host);
  server.set_kind("Debugger Server");
  server.set_endpoint(endpoint);
  server.set_password_required(true);
  server.set_session_display_name("notepad.exe (pid 4242)");
  server.set_daemon("build-pc:7790");
  server.mutable_register_time()->set_seconds(1700000000);
  server.set_connect_string(absl::StrCat(endpoint, ",Server=", host));
  return server;
}

// Eventually polls `done` until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& done,
                absl::Duration timeout = kPatience) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> HostsAndEndpoints(
    const std::vector<EntryPtr>& entries) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const EntryPtr& entry : entries) {
    out.emplace_back(entry->host(), entry->Decode().endpoint());
  }
  return out;
}

// StateLog records on_state_change calls. Declare it before the registry,
// which calls it until destroyed.
class StateLog {
 public:
  std::function<void(const RegistryState&)> Callback() {
    return [this](const RegistryState& state) {
      MutexLock lock(&mu_);
      states_.push_back(state);
    };
  }
  std::vector<RegistryState> states() const {
    MutexLock lock(&mu_);
    return states_;
  }

 private:
  mutable Mutex mu_;
  std::vector<RegistryState> states_ ABSL_GUARDED_BY(mu_);
};

// RawEtcd looks at etcd directly, past the registry.
class RawEtcd {
 public:
  explicit RawEtcd(const std::string& endpoint)
      : channel_(
            grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials())),
        kv_(etcdserverpb::KV::NewStub(channel_)),
        lease_(etcdserverpb::Lease::NewStub(channel_)) {}

  std::vector<etcdserverpb::KeyValue> Range(const std::string& prefix) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    etcdserverpb::RangeRequest request;
    request.set_key(prefix);
    std::string end = prefix;
    ++end.back();
    request.set_range_end(end);
    etcdserverpb::RangeResponse response;
    grpc::Status status = kv_->Range(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.kvs().begin(), response.kvs().end()};
  }

  std::vector<std::string> Keys(const std::string& prefix) {
    std::vector<std::string> keys;
    for (const etcdserverpb::KeyValue& kv : Range(prefix)) {
      keys.push_back(kv.key());
    }
    return keys;
  }

  grpc::Status Revoke(int64_t lease) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    etcdserverpb::LeaseRevokeRequest request;
    request.set_id(lease);
    etcdserverpb::LeaseRevokeResponse response;
    return lease_->LeaseRevoke(&context, request, &response);
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease_;
};

class EtcdRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::EtcdProcess>> etcd =
        testing::EtcdProcess::Create();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = std::move(*etcd);
    raw_ = std::make_unique<RawEtcd>(etcd_->endpoint());
  }

  EtcdRegistryOptions Options(const std::string& instance = "") {
    EtcdRegistryOptions options;
    options.endpoints = {etcd_->endpoint()};
    options.instance = instance;
    options.ttl = absl::Seconds(3);  // keepalive every second
    return options;
  }

  std::unique_ptr<EtcdRegistry> StartRegistry(EtcdRegistryOptions options) {
    absl::StatusOr<std::unique_ptr<EtcdRegistry>> registry =
        EtcdRegistry::Start(std::move(options));
    EXPECT_TRUE(registry.ok()) << registry.status();
    return registry.ok() ? std::move(*registry) : nullptr;
  }

  // SearchAll is Search("") that must succeed.
  static std::vector<EntryPtr> SearchAll(EtcdRegistry& registry) {
    absl::StatusOr<std::vector<EntryPtr>> found = registry.Search("");
    EXPECT_TRUE(found.ok()) << found.status();
    return found.ok() ? *found : std::vector<EntryPtr>{};
  }

  std::unique_ptr<testing::EtcdProcess> etcd_;
  std::unique_ptr<RawEtcd> raw_;
};

TEST_F(EtcdRegistryTest, RegisterSearchUnregister) {
  auto registry = StartRegistry(Options("daemon-1"));
  ASSERT_NE(registry, nullptr);
  EXPECT_EQ(registry->Describe(), etcd_->url());
  const v1::DiscoveredServer server = Server("Build-PC", "tcp:Port=5000");
  ASSERT_TRUE(registry->Register("servers/1", server).ok());
  ASSERT_TRUE(registry->WaitSynced(kPatience)) << registry->State().detail;
  EXPECT_TRUE(registry->State().registered);

  EXPECT_THAT(raw_->Keys(kPrefix),
              ElementsAre("/dbgd/v1/servers/build-pc/tcp:Port=5000/daemon-1/"
                          "servers/1"));
  absl::StatusOr<std::vector<EntryPtr>> found = registry->Search("build-pc");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_THAT(*found, SizeIs(1));
  EXPECT_EQ((*found)[0]->host(), "build-pc");
  v1::DiscoveredServer want = server;
  want.set_host("build-pc");
  const v1::DiscoveredServer got = (*found)[0]->Decode();
  EXPECT_TRUE(MessageDifferencer::Equals(got, want)) << got.DebugString();

  ASSERT_TRUE(registry->Unregister("servers/1").ok());
  ASSERT_TRUE(registry->Unregister("servers/unknown").ok());
  ASSERT_TRUE(registry->WaitSynced(kPatience));
  EXPECT_THAT(SearchAll(*registry), IsEmpty());
  EXPECT_THAT(raw_->Keys(kPrefix), IsEmpty());
}

TEST_F(EtcdRegistryTest, SearchIgnoresCaseAndBackslashes) {
  auto registry = StartRegistry(Options());
  ASSERT_NE(registry, nullptr);
  ASSERT_TRUE(
      registry->Register("a", Server("\\\\Build-PC", "tcp:Port=1")).ok());
  ASSERT_TRUE(
      registry->Register("b", Server("build-pc.lan", "tcp:Port=2")).ok());
  ASSERT_TRUE(registry->WaitSynced(kPatience));
  for (const std::string host : {"build-pc", "BUILD-PC", "\\\\Build-Pc"}) {
    absl::StatusOr<std::vector<EntryPtr>> found = registry->Search(host);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_THAT(HostsAndEndpoints(*found),
                ElementsAre(std::pair("build-pc", "tcp:Port=1")))
        << host;
  }
  // A host is matched whole, never as a prefix of another.
  absl::StatusOr<std::vector<EntryPtr>> found = registry->Search("build");
  ASSERT_TRUE(found.ok());
  EXPECT_THAT(*found, IsEmpty());
}

TEST_F(EtcdRegistryTest, OrderedByKeyWithEachHostTogether) {
  auto registry = StartRegistry(Options());
  ASSERT_NE(registry, nullptr);
  // Chosen where etcd's key order differs from (host, endpoint): "web.lan/"
  // sorts before "web/", "5000,Password" before "5000/", and '/' and '%'
  // in an endpoint are escaped. Pages continue in key order, so that is
  // the order promised (listings for people sort).
  const std::vector<std::pair<std::string, std::string>> servers = {
      {"web.lan", "tcp:Port=1"},   {"web", "tcp:Port=5000,Password=*"},
      {"web", "tcp:Port=5000"},    {"alpha", "tcp:Port=9"},
      {"web", "npipe:Pipe=a/b"},   {"web", "tcp:Port=10"},
      {"alpha", "tcp:Port=10"},    {"web-2", "tcp:Port=1"},
      {"web", "npipe:Pipe=a%20b"},
  };
  for (size_t i = 0; i < servers.size(); ++i) {
    ASSERT_TRUE(registry
                    ->Register(absl::StrCat("servers/", i),
                               Server(servers[i].first, servers[i].second))
                    .ok());
  }
  ASSERT_TRUE(registry->WaitSynced(kPatience));
  EXPECT_THAT(HostsAndEndpoints(SearchAll(*registry)),
              ElementsAre(std::pair("alpha", "tcp:Port=10"),
                          std::pair("alpha", "tcp:Port=9"),
                          std::pair("web-2", "tcp:Port=1"),
                          std::pair("web.lan", "tcp:Port=1"),
                          std::pair("web", "npipe:Pipe=a%20b"),
                          std::pair("web", "npipe:Pipe=a/b"),
                          std::pair("web", "tcp:Port=10"),
                          std::pair("web", "tcp:Port=5000,Password=*"),
                          std::pair("web", "tcp:Port=5000")));

  absl::StatusOr<std::vector<EntryPtr>> web = registry->Search("web");
  ASSERT_TRUE(web.ok());
  EXPECT_THAT(HostsAndEndpoints(*web),
              ElementsAre(std::pair("web", "npipe:Pipe=a%20b"),
                          std::pair("web", "npipe:Pipe=a/b"),
                          std::pair("web", "tcp:Port=10"),
                          std::pair("web", "tcp:Port=5000,Password=*"),
                          std::pair("web", "tcp:Port=5000")));
  // One entry a page walks the same order.
  std::vector<EntryPtr> walked;
  SearchQuery query{.host = "web", .limit = 1};
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<SearchResult> page = registry->SearchPage(query);
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_THAT(page->entries, SizeIs(1));
    walked.push_back(page->entries[0]);
    if (page->next.empty()) break;
    query.after = page->next;
  }
  EXPECT_EQ(HostsAndEndpoints(walked), HostsAndEndpoints(*web));
}

TEST_F(EtcdRegistryTest, ChangedEndpointReplacesTheOldKey) {
  auto registry = StartRegistry(Options("d"));
  ASSERT_NE(registry, nullptr);
  ASSERT_TRUE(registry->Register("servers/1", Server("h", "tcp:Port=0")).ok());
  ASSERT_TRUE(registry->WaitSynced(kPatience));
  ASSERT_TRUE(
      registry->Register("servers/1", Server("h", "tcp:Port=41000")).ok());
  ASSERT_TRUE(registry->WaitSynced(kPatience));
  EXPECT_THAT(raw_->Keys(kPrefix),
              ElementsAre("/dbgd/v1/servers/h/tcp:Port=41000/d/servers/1"));
  EXPECT_THAT(HostsAndEndpoints(SearchAll(*registry)),
              ElementsAre(std::pair("h", "tcp:Port=41000")));
}

TEST_F(EtcdRegistryTest, ManyEntriesArePublishedInBatches) {
  auto registry = StartRegistry(Options());
  ASSERT_NE(registry, nullptr);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(registry
                    ->Register(absl::StrCat("servers/", i),
                               Server(absl::StrCat("host-", i % 10),
                                      absl::StrCat("tcp:Port=", 10000 + i)))
                    .ok());
  }
  ASSERT_TRUE(registry->WaitSynced(kPatience)) << registry->State().detail;
  const std::vector<EntryPtr> all = SearchAll(*registry);
  EXPECT_THAT(all, SizeIs(2000));
  const auto pairs = HostsAndEndpoints(all);
  EXPECT_TRUE(std::is_sorted(pairs.begin(), pairs.end()));
  absl::StatusOr<std::vector<EntryPtr>> one = registry->Search("host-3");
  ASSERT_TRUE(one.ok());
  EXPECT_THAT(*one, SizeIs(200));
}

// Pages follows `query` page by page and returns the entries of each.
std::vector<std::vector<EntryPtr>> Pages(Registry& registry, SearchQuery query) {
  std::vector<std::vector<EntryPtr>> pages;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<SearchResult> page = registry.SearchPage(query);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    pages.push_back(page->entries);
    if (page->next.empty()) break;
    query.after = page->next;
  }
  return pages;
}

TEST_F(EtcdRegistryTest, PagesAreRangesFromTheCursor) {
  auto registry = StartRegistry(Options());
  ASSERT_NE(registry, nullptr);
  EXPECT_THAT(Pages(*registry, {.limit = 10}), ElementsAre(IsEmpty()))
      << "an empty registry is one empty, last page";
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(registry
                    ->Register(absl::StrCat("servers/", i),
                               Server(absl::StrCat("host-", i % 3),
                                      absl::StrCat("tcp:Port=", 10000 + i)))
                    .ok());
  }
  ASSERT_TRUE(registry->WaitSynced(kPatience)) << registry->State().detail;
  const std::vector<EntryPtr> all = SearchAll(*registry);
  ASSERT_THAT(all, SizeIs(300));

  // 300 = 3 × 100: the last full page is the last page.
  const auto pages = Pages(*registry, {.limit = 100});
  ASSERT_THAT(pages, SizeIs(3));
  std::vector<EntryPtr> walked;
  for (const auto& page : pages) {
    EXPECT_THAT(page, SizeIs(100));
    walked.insert(walked.end(), page.begin(), page.end());
  }
  EXPECT_EQ(HostsAndEndpoints(walked), HostsAndEndpoints(all));

  const auto one_host = Pages(*registry, {.host = "HOST-1", .limit = 30});
  ASSERT_THAT(one_host, SizeIs(4));  // 100 = 30 + 30 + 30 + 10
  EXPECT_THAT(one_host[3], SizeIs(10));
  for (const auto& page : one_host) {
    for (const EntryPtr& entry : page) EXPECT_EQ(entry->host(), "host-1");
  }

  // A page is cut at max_bytes, but holds at least one entry.
  EXPECT_THAT(Pages(*registry, {.host = "host-2", .limit = 1000, .max_bytes = 1}),
              SizeIs(100));
}

TEST_F(EtcdRegistryTest, EntriesRemovedBetweenPagesAreNotReturned) {
  auto registry = StartRegistry(Options());
  ASSERT_NE(registry, nullptr);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(registry
                    ->Register(absl::StrCat("servers/", i),
                               Server("h", absl::StrCat("tcp:Port=", 10 + i)))
                    .ok());
  }
  ASSERT_TRUE(registry->WaitSynced(kPatience));
  absl::StatusOr<SearchResult> first = registry->SearchPage({.limit = 4});
  ASSERT_TRUE(first.ok());
  ASSERT_THAT(first->entries, SizeIs(4));
  ASSERT_FALSE(first->next.empty());
  // The cursor's own entry and an unseen one go; one is added after it.
  ASSERT_TRUE(registry->Unregister("servers/3").ok());
  ASSERT_TRUE(registry->Unregister("servers/7").ok());
  ASSERT_TRUE(registry->Register("servers/x", Server("h", "tcp:Port=99")).ok());
  ASSERT_TRUE(registry->WaitSynced(kPatience));
  std::vector<EntryPtr> rest;
  for (const auto& page : Pages(*registry, {.after = first->next, .limit = 4})) {
    rest.insert(rest.end(), page.begin(), page.end());
  }
  std::vector<std::string> endpoints;
  for (const auto& [host, endpoint] : HostsAndEndpoints(rest)) {
    endpoints.push_back(endpoint);
  }
  EXPECT_THAT(endpoints, ElementsAre("tcp:Port=14", "tcp:Port=15", "tcp:Port=16",
                                     "tcp:Port=18", "tcp:Port=19", "tcp:Port=99"));
  // A cursor outside the host asked for never leaves that host.
  absl::StatusOr<SearchResult> other =
      registry->SearchPage({.host = "g", .after = first->next});
  ASSERT_TRUE(other.ok());
  EXPECT_THAT(other->entries, IsEmpty());
  EXPECT_TRUE(other->next.empty());
}

TEST_F(EtcdRegistryTest, TwoDaemonsSeeEachOther) {
  auto a = StartRegistry(Options("a"));
  auto b = StartRegistry(Options("b"));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->Register("servers/1", Server("alpha", "tcp:Port=1")).ok());
  ASSERT_TRUE(b->Register("servers/1", Server("beta", "tcp:Port=1")).ok());
  // The same host and key from two daemons are two entries.
  ASSERT_TRUE(b->Register("servers/2", Server("alpha", "tcp:Port=2")).ok());
  ASSERT_TRUE(a->WaitSynced(kPatience));
  ASSERT_TRUE(b->WaitSynced(kPatience));
  const auto want = ElementsAre(std::pair("alpha", "tcp:Port=1"),
                                std::pair("alpha", "tcp:Port=2"),
                                std::pair("beta", "tcp:Port=1"));
  EXPECT_THAT(HostsAndEndpoints(SearchAll(*a)), want);
  EXPECT_THAT(HostsAndEndpoints(SearchAll(*b)), want);
}

TEST_F(EtcdRegistryTest, DestroyingARegistryRemovesItsEntriesAtOnce) {
  auto a = StartRegistry(Options("a"));
  auto b = StartRegistry(Options("b"));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->Register("servers/1", Server("alpha", "tcp:Port=1")).ok());
  ASSERT_TRUE(b->Register("servers/1", Server("beta", "tcp:Port=1")).ok());
  ASSERT_TRUE(a->WaitSynced(kPatience));
  ASSERT_TRUE(b->WaitSynced(kPatience));
  ASSERT_THAT(SearchAll(*a), SizeIs(2));
  b.reset();  // revokes its lease; no waiting for the TTL
  EXPECT_THAT(HostsAndEndpoints(SearchAll(*a)),
              ElementsAre(std::pair("alpha", "tcp:Port=1")));
}

TEST_F(EtcdRegistryTest, KeepsServingWhileEtcdIsDownAndRegistersAgain) {
  StateLog log;
  EtcdRegistryOptions options = Options();
  options.on_state_change = log.Callback();
  auto registry = StartRegistry(std::move(options));
  ASSERT_NE(registry, nullptr);
  ASSERT_TRUE(registry->Register("servers/1", Server("h", "tcp:Port=1")).ok());
  ASSERT_TRUE(registry->WaitSynced(kPatience));
  // The callback follows the state change.
  ASSERT_TRUE(Eventually([&] { return log.states().size() == 1; }));
  EXPECT_TRUE(log.states()[0].registered);
  EXPECT_EQ(registry->Stats().publish_errors, 0u);

  etcd_->Stop();
  // Register never waits for etcd.
  ASSERT_TRUE(registry->Register("servers/2", Server("h", "tcp:Port=2")).ok());
  ASSERT_TRUE(Eventually([&] { return !registry->State().registered; }));
  EXPECT_THAT(registry->State().detail, HasSubstr(etcd_->endpoint()));
  ASSERT_TRUE(Eventually([&] { return log.states().size() == 2; }));
  EXPECT_FALSE(log.states()[1].registered);
  EXPECT_GE(registry->Stats().publish_errors, 1u);  // for metrics
  absl::StatusOr<std::vector<EntryPtr>> found = registry->Search("h");
  EXPECT_EQ(found.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(found.status().message(),
              AllOf(HasSubstr(etcd_->url()), HasSubstr(etcd_->endpoint())));
  // One report per outage, however many retries.
  absl::SleepFor(absl::Seconds(1));
  EXPECT_THAT(log.states(), SizeIs(2));

  ASSERT_TRUE(etcd_->Start().ok());
  ASSERT_TRUE(registry->WaitSynced(kPatience)) << registry->State().detail;
  EXPECT_TRUE(registry->State().registered);
  ASSERT_TRUE(Eventually([&] { return log.states().size() == 3; }));
  EXPECT_TRUE(log.states()[2].registered);
  EXPECT_THAT(
      HostsAndEndpoints(SearchAll(*registry)),
      ElementsAre(std::pair("h", "tcp:Port=1"), std::pair("h", "tcp:Port=2")));
  // The lease is kept alive (every TTL/3), and each renewal is counted.
  const uint64_t renewals = registry->Stats().lease_renewals;
  EXPECT_TRUE(Eventually(
      [&] { return registry->Stats().lease_renewals > renewals; }));
}

TEST_F(EtcdRegistryTest, FreshEtcdOnTheSamePortGetsEverythingAgain) {
  auto registry = StartRegistry(Options());
  ASSERT_NE(registry, nullptr);
  ASSERT_TRUE(registry->Register("servers/1", Server("h", "tcp:Port=1")).ok());
  ASSERT_TRUE(registry->Register("servers/2", Server("g", "tcp:Port=2")).ok());
  ASSERT_TRUE(registry->WaitSynced(kPatience));

  etcd_->Stop();
  ASSERT_TRUE(etcd_->WipeData().ok());
  ASSERT_TRUE(etcd_->Start().ok());
  ASSERT_THAT(raw_->Keys(kPrefix), IsEmpty());
  // The old lease is unknown to the new etcd: a new one, and every entry
  // written again.
  EXPECT_TRUE(Eventually([&] { return raw_->Keys(kPrefix).size() == 2; }))
      << registry->State().detail;
  ASSERT_TRUE(registry->WaitSynced(kPatience));
  EXPECT_THAT(
      HostsAndEndpoints(SearchAll(*registry)),
      ElementsAre(std::pair("g", "tcp:Port=2"), std::pair("h", "tcp:Port=1")));
}

TEST_F(EtcdRegistryTest, LostLeaseIsReplaced) {
  StateLog log;
  EtcdRegistryOptions options = Options();
  options.on_state_change = log.Callback();
  auto registry = StartRegistry(std::move(options));
  ASSERT_NE(registry, nullptr);
  ASSERT_TRUE(registry->Register("servers/1", Server("h", "tcp:Port=1")).ok());
  ASSERT_TRUE(registry->WaitSynced(kPatience));
  std::vector<etcdserverpb::KeyValue> kvs = raw_->Range(kPrefix);
  ASSERT_THAT(kvs, SizeIs(1));
  const int64_t lease = kvs[0].lease();
  ASSERT_NE(lease, 0);

  // As if the lease had expired (a frozen daemon): its keys go at once.
  ASSERT_TRUE(raw_->Revoke(lease).ok());
  ASSERT_THAT(raw_->Keys(kPrefix), IsEmpty());
  // The next keepalive (every TTL/3) finds out; the entries come back.
  ASSERT_TRUE(Eventually([&] {
    std::vector<etcdserverpb::KeyValue> now = raw_->Range(kPrefix);
    return now.size() == 1 && now[0].lease() != lease && now[0].lease() != 0;
  }));
  ASSERT_TRUE(Eventually([&] { return log.states().size() == 3; }));
  std::vector<RegistryState> states = log.states();
  EXPECT_TRUE(states[0].registered);
  EXPECT_FALSE(states[1].registered);
  EXPECT_THAT(states[1].detail, HasSubstr("expired"));
  EXPECT_TRUE(states[2].registered);
}

TEST_F(EtcdRegistryTest, FailsOverToAnEndpointThatAnswers) {
  // A bound socket that does not listen: connections to it are refused.
  const int dead = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(dead, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::getsockname(dead, reinterpret_cast<sockaddr*>(&address), &length),
            0);
  const std::string dead_endpoint =
      absl::StrCat("127.0.0.1:", ntohs(address.sin_port));

  EtcdRegistryOptions options = Options();
  options.endpoints = {dead_endpoint, etcd_->endpoint()};
  auto registry = StartRegistry(std::move(options));
  ASSERT_NE(registry, nullptr);
  EXPECT_EQ(registry->Describe(),
            absl::StrCat("etcd://", dead_endpoint, ",", etcd_->endpoint()));
  ASSERT_TRUE(registry->Register("servers/1", Server("h", "tcp:Port=1")).ok());
  ASSERT_TRUE(registry->WaitSynced(kPatience)) << registry->State().detail;
  EXPECT_THAT(SearchAll(*registry), SizeIs(1));

  etcd_->Stop();
  absl::StatusOr<std::vector<EntryPtr>> found = registry->Search("");
  EXPECT_EQ(found.status().code(), absl::StatusCode::kUnavailable);
  // Every endpoint, with its own error.
  EXPECT_THAT(found.status().message(),
              AllOf(HasSubstr(dead_endpoint + ": UNAVAILABLE"),
                    HasSubstr(etcd_->endpoint() + ": UNAVAILABLE")));
  ::close(dead);
}

TEST_F(EtcdRegistryTest, StartsWithoutEtcd) {
  etcd_->Stop();
  StateLog log;
  EtcdRegistryOptions options = Options();
  options.on_state_change = log.Callback();
  auto registry = StartRegistry(std::move(options));
  ASSERT_NE(registry, nullptr);
  EXPECT_FALSE(registry->State().registered);
  ASSERT_TRUE(registry->Register("servers/1", Server("h", "tcp:Port=1")).ok());
  ASSERT_TRUE(Eventually([&] { return log.states().size() == 1; }));
  EXPECT_FALSE(log.states()[0].registered);
  EXPECT_THAT(log.states()[0].detail, HasSubstr(etcd_->endpoint()));

  ASSERT_TRUE(etcd_->Start().ok());
  ASSERT_TRUE(registry->WaitSynced(kPatience)) << registry->State().detail;
  EXPECT_THAT(SearchAll(*registry), SizeIs(1));
}

TEST(EtcdRegistryOptionsTest, StartRejectsBadOptions) {
  EtcdRegistryOptions none;
  EXPECT_EQ(EtcdRegistry::Start(none).status().code(),
            absl::StatusCode::kInvalidArgument);
  EtcdRegistryOptions short_ttl;
  short_ttl.endpoints = {"127.0.0.1:1"};
  short_ttl.ttl = absl::Milliseconds(500);
  EXPECT_EQ(EtcdRegistry::Start(short_ttl).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseEtcdUrlTest, Endpoints) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"etcd://127.0.0.1:2379", {"127.0.0.1:2379"}},
      {"etcd://h1:2379,h2:2379", {"h1:2379", "h2:2379"}},
      {"etcd://[::1]:2379", {"[::1]:2379"}},
      {"etcd://etcd.example.com:65535", {"etcd.example.com:65535"}},
  };
  for (const auto& [url, want] : cases) {
    absl::StatusOr<std::vector<std::string>> got = ParseEtcdUrl(url);
    ASSERT_TRUE(got.ok()) << url << ": " << got.status();
    EXPECT_EQ(*got, want) << url;
  }
}

TEST(ParseEtcdUrlTest, Errors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://h:2379", "not an etcd:// URL"},
      {"h:2379", "not an etcd:// URL"},
      {"etcd://", "no endpoint"},
      {"etcd://:2379", "empty host"},
      {"etcd://h", "no port"},
      {"etcd://h:", "bad port"},
      {"etcd://h:0", "bad port"},
      {"etcd://h:65536", "bad port"},
      {"etcd://h:23a9", "bad port"},
      {"etcd://h:+2379", "bad port"},
      {"etcd://h:2379/", "bad port"},
      {"etcd://h1:2379,,h2:2379", "empty endpoint"},
      {"etcd://h1:2379,", "empty endpoint"},
      {"etcd://::1:2379", "IPv6 host without []"},
      {"etcd://[::1:2379", "unclosed '['"},
      {"etcd://[::1]", "no port"},
      {"etcd://user@h:2379", "bad host"},
  };
  for (const auto& [url, why] : cases) {
    absl::StatusOr<std::vector<std::string>> got = ParseEtcdUrl(url);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_THAT(got.status().message(),
                AllOf(HasSubstr("registry: "), HasSubstr(why), HasSubstr(url)))
        << url;
  }
}

}  // namespace
}  // namespace dbgd::discovery
