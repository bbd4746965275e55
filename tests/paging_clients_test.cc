// dbgctl and dbgremote follow pages (AIP-158): a real dbgd whose pages hold
// two items (--max_page_size=2), a real GDB session with five servers, and
// the Control list RPCs' paging as a gRPC caller sees it.

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "dbgd/v1/control.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "testing/ports.h"
#include "testing/socket_dir.h"
#include "testing/subprocess.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using testing::Completed;
using testing::RunfilePath;
using testing::RunToCompletion;

constexpr int kServers = 5;

int Count(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

class PagingClientsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = dir_.Join("control.sock");
    std::vector<std::string> servers;
    for (int i = 0; i < kServers; ++i) {
      ports_.push_back(testing::FreePort());
      servers.push_back(absl::StrCat("tcp:port=", ports_.back()));
    }
    dbgd_ = std::make_unique<testing::Subprocess>(std::vector<std::string>{
        RunfilePath("server/dbgd"), "--control_listen=unix:" + socket_,
        "--advertise_host=pages", "--discovery_listen=127.0.0.1:0",
        "--max_page_size=2", "--launch=" + RunfilePath("tests/programs/target"),
        "--server=" + absl::StrJoin(servers, ";"), "--", "loop"});
    ASSERT_TRUE(dbgd_->WaitForOutput("dbgd ready", absl::Seconds(30)))
        << dbgd_->output();
    const std::string log = dbgd_->output();
    const std::string marker = "searchable on ";
    const size_t at = log.find(marker);
    ASSERT_NE(at, std::string::npos) << log;
    const size_t start = at + marker.size();
    discovery_ = log.substr(start, log.find_first_of(" \n", start) - start);
    stub_ = v1::Control::NewStub(grpc::CreateChannel(
        "unix:" + socket_, grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (dbgd_ == nullptr) return;
    dbgd_->Signal(SIGTERM);
    std::optional<int> status = dbgd_->Wait(absl::Seconds(15));
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << dbgd_->output();
  }

  Completed Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {RunfilePath("client/dbgctl"), "--addr=unix:" + socket_});
    return RunToCompletion(args);
  }

  grpc::Status ListServers(const v1::ListServersRequest& request,
                           v1::ListServersResponse* response) {
    grpc::ClientContext context;
    return stub_->ListServers(&context, request, response);
  }

  testing::SocketDir dir_;
  std::string socket_;
  std::string discovery_;
  std::vector<uint16_t> ports_;
  std::unique_ptr<testing::Subprocess> dbgd_;
  std::unique_ptr<v1::Control::Stub> stub_;
};

TEST_F(PagingClientsTest, DbgctlListsEveryPage) {
  Completed servers = Ctl({"servers"});
  ASSERT_EQ(WEXITSTATUS(servers.status), 0) << servers.output;
  EXPECT_EQ(Count(servers.output, "Debugger Server - "), kServers) << servers.output;
  for (int i = 0; i < kServers; ++i) {
    EXPECT_THAT(servers.output, HasSubstr(absl::StrCat(i, " - Debugger Server")));
  }

  // --json is one listing, every page merged, without a page token.
  Completed json = Ctl({"--json", "servers"});
  ASSERT_EQ(WEXITSTATUS(json.status), 0) << json.output;
  EXPECT_EQ(Count(json.output, "\"actual_endpoint\""), kServers) << json.output;
  EXPECT_EQ(Count(json.output, "\"servers\": ["), 1);
  EXPECT_THAT(json.output, Not(HasSubstr("next_page_token")));

  Completed search = Ctl({"search"});
  ASSERT_EQ(WEXITSTATUS(search.status), 0) << search.output;
  EXPECT_EQ(Count(search.output, "Debugger Server - "), kServers) << search.output;
  EXPECT_EQ(Count(search.output, "Servers on \\\\pages:"), 1) << search.output;

  Completed search_json = Ctl({"--json", "search"});
  ASSERT_EQ(WEXITSTATUS(search_json.status), 0) << search_json.output;
  EXPECT_EQ(Count(search_json.output, "\"endpoint\""), kServers);
  EXPECT_EQ(Count(search_json.output, "\"pages\""), kServers + 1)
      << "each server's host, and the host once in hosts";

  Completed sessions = Ctl({"sessions"});
  EXPECT_EQ(WEXITSTATUS(sessions.status), 0) << sessions.output;
  EXPECT_THAT(sessions.output, HasSubstr("sessions/"));
  Completed clients = Ctl({"clients"});
  EXPECT_EQ(WEXITSTATUS(clients.status), 0) << clients.output;
  EXPECT_THAT(clients.output, HasSubstr("No clients connected."));
}

TEST_F(PagingClientsTest, DbgremoteQRListsEveryPage) {
  Completed qr = RunToCompletion({RunfilePath("client/dbgremote"),
                                  "--discovery=" + discovery_,
                                  "--search_timeout=10s", "-QR"});
  ASSERT_EQ(WEXITSTATUS(qr.status), 0) << qr.output;
  std::vector<std::string> lines = absl::StrSplit(qr.output, '\n', absl::SkipEmpty());
  ASSERT_THAT(lines, SizeIs(kServers + 1)) << qr.output;
  EXPECT_EQ(lines[0], "Servers on \\\\pages:");
  std::vector<std::string> sorted(lines.begin() + 1, lines.end());
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::vector<std::string>(lines.begin() + 1, lines.end()), sorted)
      << "one host's servers, sorted by endpoint";
  for (uint16_t port : ports_) {
    EXPECT_THAT(qr.output, HasSubstr(absl::StrCat("tcp:Port=", port)));
  }
}

TEST_F(PagingClientsTest, ControlListsPageByIdWithTokensOfTheirQuery) {
  v1::ListServersRequest request;
  request.set_page_size(100);  // clamped to --max_page_size=2
  std::vector<int> ids;
  std::vector<int> sizes;
  std::string first_token;
  for (int page = 0; page < 10; ++page) {
    v1::ListServersResponse response;
    grpc::Status status = ListServers(request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    sizes.push_back(response.servers_size());
    for (const v1::Server& server : response.servers()) ids.push_back(server.id());
    if (first_token.empty()) first_token = response.next_page_token();
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_EQ(sizes, (std::vector<int>{2, 2, 1}));
  EXPECT_EQ(ids, (std::vector<int>{0, 1, 2, 3, 4}));

  // A server gone between pages: the next page goes on after the cursor
  // (server 1) with the IDs that remain.
  ASSERT_EQ(WEXITSTATUS(Ctl({"end-server", "--disconnect", "2"}).status), 0);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  for (;;) {
    Completed listing = Ctl({"servers"});
    if (!absl::StrContains(listing.output, "2 - ")) break;
    ASSERT_LT(absl::Now(), deadline) << listing.output;
    absl::SleepFor(absl::Milliseconds(50));
  }
  v1::ListServersRequest next;
  next.set_page_token(first_token);
  v1::ListServersResponse response;
  ASSERT_TRUE(ListServers(next, &response).ok());
  ASSERT_THAT(response.servers(), SizeIs(2));
  EXPECT_EQ(response.servers(0).id(), 3);
  EXPECT_EQ(response.servers(1).id(), 4);
  EXPECT_EQ(response.next_page_token(), "") << "4 is the last";

  // The token of every session's listing is not one for a single session.
  v1::ListServersRequest other;
  other.set_session("sessions/1");
  other.set_page_token(first_token);
  grpc::Status status = ListServers(other, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));

  v1::ListServersRequest garbage;
  garbage.set_page_token("%%%");
  status = ListServers(garbage, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));

  v1::ListServersRequest negative;
  negative.set_page_size(-5);
  status = ListServers(negative, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_size"));

  // Sessions and clients page too; nothing to follow here.
  grpc::ClientContext sessions_context;
  v1::ListSessionsResponse sessions;
  ASSERT_TRUE(
      stub_->ListSessions(&sessions_context, v1::ListSessionsRequest(), &sessions).ok());
  EXPECT_THAT(sessions.sessions(), SizeIs(1));
  EXPECT_EQ(sessions.next_page_token(), "");
  grpc::ClientContext clients_context;
  v1::ListClientsRequest clients_request;
  clients_request.set_page_token(first_token);  // a ListServers token
  v1::ListClientsResponse clients;
  status = stub_->ListClients(&clients_context, clients_request, &clients);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("ListServers"));
}

}  // namespace
}  // namespace dbgd
