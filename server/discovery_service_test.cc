// DiscoveryService paging over a real gRPC server (Unix socket) and an
// embedded registry: sizes, tokens, and changes between pages.

#include "server/discovery_service.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dbgd/v1/discovery.grpc.pb.h"
#include "discovery/embedded_registry.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "testing/socket_dir.h"

namespace dbgd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

v1::DiscoveredServer Server(const std::string& host, int port) {
  v1::DiscoveredServer server;
  server.set_host(host);
  server.set_kind("Debugger Server");
  server.set_endpoint(absl::StrCat("tcp:Port=", port));
  return server;
}

class DiscoveryServiceTest : public ::testing::Test {
 protected:
  void Start(PageLimits limits = {}) {
    service_ = std::make_unique<DiscoveryService>(registry_, limits);
    const std::string address = "unix:" + dir_.Join("discovery.sock");
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials());
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Discovery::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  void Add(int count, const std::string& host = "box", int first_port = 1000) {
    for (int i = 0; i < count; ++i) {
      ASSERT_TRUE(registry_
                      .Register(absl::StrCat(host, "/", first_port + i),
                                Server(host, first_port + i))
                      .ok());
    }
  }

  grpc::Status Search(const v1::SearchServersRequest& request,
                      v1::SearchServersResponse* response) {
    grpc::ClientContext context;
    return stub_->SearchServers(&context, request, response);
  }

  // Walk follows next_page_token from `request` and returns each page's size.
  std::vector<int> Walk(v1::SearchServersRequest request,
                        std::vector<std::string>* endpoints = nullptr) {
    std::vector<int> sizes;
    for (int i = 0; i < 1000; ++i) {
      v1::SearchServersResponse response;
      const grpc::Status status = Search(request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      sizes.push_back(response.servers_size());
      for (const auto& server : response.servers()) {
        if (endpoints != nullptr) endpoints->push_back(server.endpoint());
      }
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    return sizes;
  }

  discovery::EmbeddedRegistry registry_;
  testing::SocketDir dir_;
  std::unique_ptr<DiscoveryService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Discovery::Stub> stub_;
};

TEST_F(DiscoveryServiceTest, EmptyRegistryIsOneEmptyPage) {
  Start();
  v1::SearchServersResponse response;
  ASSERT_TRUE(Search({}, &response).ok());
  EXPECT_THAT(response.servers(), IsEmpty());
  EXPECT_EQ(response.next_page_token(), "");
}

TEST_F(DiscoveryServiceTest, DefaultPageSizeAndClamping) {
  Start();
  Add(2500);
  v1::SearchServersRequest request;
  EXPECT_THAT(Walk(request), SizeIs(25)) << "default: 100 a page";
  request.set_page_size(5000);
  std::vector<std::string> endpoints;
  EXPECT_THAT(Walk(request, &endpoints), ElementsAre(1000, 1000, 500))
      << "clamped to the maximum, 1000";
  EXPECT_EQ(std::set<std::string>(endpoints.begin(), endpoints.end()).size(),
            2500u);
}

TEST_F(DiscoveryServiceTest, ExactMultipleHasNoTrailingEmptyPage) {
  Start();
  Add(20);
  v1::SearchServersRequest request;
  request.set_page_size(10);
  EXPECT_THAT(Walk(request), ElementsAre(10, 10));
}

TEST_F(DiscoveryServiceTest, MaxPageSizeOfTheDaemon) {
  Start(PageLimits{.max_size = 3});
  Add(7);
  v1::SearchServersRequest request;
  EXPECT_THAT(Walk(request), ElementsAre(3, 3, 1));
  request.set_page_size(2);
  EXPECT_THAT(Walk(request), ElementsAre(2, 2, 2, 1));
}

TEST_F(DiscoveryServiceTest, HostsArePerPage) {
  Start();
  Add(3, "a");
  Add(3, "b");
  v1::SearchServersRequest request;
  request.set_page_size(2);
  v1::SearchServersResponse response;
  ASSERT_TRUE(Search(request, &response).ok());
  EXPECT_THAT(response.hosts(), ElementsAre("a"));
  request.set_page_token(response.next_page_token());
  ASSERT_TRUE(Search(request, &response).ok());
  EXPECT_THAT(response.hosts(), ElementsAre("a", "b"));
}

TEST_F(DiscoveryServiceTest, BadSizesAndTokensAreInvalidArguments) {
  Start();
  Add(5);
  v1::SearchServersRequest request;
  request.set_page_size(-1);
  v1::SearchServersResponse response;
  grpc::Status status = Search(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_size"));

  request.set_page_size(2);
  request.set_page_token("garbage");
  status = Search(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));

  // A token for every host is not one for host "box" (another filter).
  request.clear_page_token();
  ASSERT_TRUE(Search(request, &response).ok());
  ASSERT_FALSE(response.next_page_token().empty());
  request.set_host("box");
  request.set_page_token(response.next_page_token());
  status = Search(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));

  // The same host spelled differently is the same query.
  request.clear_page_token();
  ASSERT_TRUE(Search(request, &response).ok());
  request.set_host("\\\\BOX");
  request.set_page_token(response.next_page_token());
  EXPECT_TRUE(Search(request, &response).ok());
}

TEST_F(DiscoveryServiceTest, EntriesRemovedBetweenPagesAreSkipped) {
  Start();
  Add(6);
  v1::SearchServersRequest request;
  request.set_page_size(3);
  v1::SearchServersResponse response;
  ASSERT_TRUE(Search(request, &response).ok());
  ASSERT_EQ(response.servers(2).endpoint(), "tcp:Port=1002");
  ASSERT_TRUE(registry_.Unregister("box/1002").ok());  // the cursor's own
  ASSERT_TRUE(registry_.Unregister("box/1004").ok());
  request.set_page_token(response.next_page_token());
  ASSERT_TRUE(Search(request, &response).ok());
  ASSERT_THAT(response.servers(), SizeIs(2));
  EXPECT_EQ(response.servers(0).endpoint(), "tcp:Port=1003");
  EXPECT_EQ(response.servers(1).endpoint(), "tcp:Port=1005");
  EXPECT_EQ(response.next_page_token(), "");
}

TEST_F(DiscoveryServiceTest, BigEntriesCutThePageByBytes) {
  Start();
  for (int i = 0; i < 10; ++i) {
    v1::DiscoveredServer server = Server("box", 1000 + i);
    server.set_session_display_name(std::string(300 << 10, 'x'));  // 300 KiB
    ASSERT_TRUE(registry_.Register(absl::StrCat(i), server).ok());
  }
  v1::SearchServersRequest request;
  // 1 MiB a page: four entries of 300 KiB reach it.
  EXPECT_THAT(Walk(request), ElementsAre(4, 4, 2));
}

}  // namespace
}  // namespace dbgd::server
