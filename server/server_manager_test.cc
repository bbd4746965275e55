// ServerManager with a real `command` session, a real tcp server and a
// protocol client: what a server's life publishes, once per fact.

#include "server/server_manager.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/event_loop.h"
#include "common/mutex.h"
#include "common/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/frame_connection.h"
#include "protocol/handshake.h"
#include "server/event_bus.h"
#include "server/session_manager.h"
#include "testing/ports.h"
#include "transports/factory.h"

namespace dbgd::server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kWait = absl::Seconds(20);

// EventLog records every event published on a bus.
class EventLog {
 public:
  explicit EventLog(EventBus& bus) : bus_(bus) {
    id_ = bus_.Subscribe([this](const v1::Event& event) {
      MutexLock lock(&mu_);
      events_.push_back(event);
    });
  }
  ~EventLog() { bus_.Unsubscribe(id_); }

  bool WaitFor(v1::Event::Kind kind, int count = 1) {
    MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return CountLocked(kind) >= count;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
  }
  int Count(v1::Event::Kind kind) const {
    MutexLock lock(&mu_);
    return CountLocked(kind);
  }
  std::vector<v1::Event> Of(v1::Event::Kind kind) const {
    MutexLock lock(&mu_);
    std::vector<v1::Event> found;
    for (const v1::Event& event : events_) {
      if (event.kind() == kind) found.push_back(event);
    }
    return found;
  }

 private:
  int CountLocked(v1::Event::Kind kind) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int count = 0;
    for (const v1::Event& event : events_) count += event.kind() == kind;
    return count;
  }

  EventBus& bus_;
  uint64_t id_ = 0;
  mutable Mutex mu_;
  std::vector<v1::Event> events_ ABSL_GUARDED_BY(mu_);
};

class ServerManagerTest : public ::testing::Test {
 protected:
  ServerManagerTest()
      : sessions_(loop_.context(), bus_),
        servers_(loop_.context(), sessions_, bus_,
                 ServerManagerOptions{.advertise_host = "testhost"}),
        log_(bus_),
        client_transports_(loop_.context().get_executor()) {}

  ~ServerManagerTest() override {
    servers_.Shutdown();
    sessions_.Shutdown(absl::Seconds(10));
    loop_.Stop();
  }

  // StartSession runs /bin/cat as a `command` session.
  void StartSession() {
    v1::CreateSessionRequest request;
    request.set_engine("command");
    request.mutable_target()->mutable_launch()->set_program("/bin/cat");
    Notification ready;
    absl::Status status;
    sessions_.Create(request, [&](absl::StatusOr<v1::Session> session) {
      status = session.status();
      ready.Notify();
    });
    ASSERT_TRUE(ready.WaitForNotificationWithTimeout(kWait));
    ASSERT_TRUE(status.ok()) << status;
  }

  // Join connects a protocol client to `connect` and completes the
  // handshake; returns the connection.
  std::shared_ptr<protocol::FrameConnection> Join(const std::string& connect) {
    absl::StatusOr<transports::ClientSpec> spec =
        transports::ParseClientSpec(connect);
    EXPECT_TRUE(spec.ok()) << spec.status();
    if (!spec.ok()) return nullptr;
    auto strand = asio::make_strand(loop_.context());
    absl::StatusOr<std::unique_ptr<transports::Connector>> connector =
        client_transports_.Dial(*spec, strand);
    EXPECT_TRUE(connector.ok()) << connector.status();
    if (!connector.ok()) return nullptr;
    Notification done;
    std::shared_ptr<protocol::FrameConnection> connection;
    absl::Status status;
    asio::post(strand, [&] {
      (*connector)->AsyncConnect(
          [&](absl::StatusOr<std::unique_ptr<transports::Stream>> stream) {
            if (!stream.ok()) {
              status = stream.status();
              done.Notify();
              return;
            }
            connection = protocol::FrameConnection::Create(
                *std::move(stream),
                client_transports_.MakeCodec(spec->transport,
                                             (*connector)->endpoint()));
            protocol::ClientHandshake(
                connection, "box\\alice", "",
                [&](absl::StatusOr<v1::wire::ServerHello> hello) {
                  status = hello.status();
                  done.Notify();
                });
          });
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(kWait));
    EXPECT_TRUE(status.ok()) << status;
    if (connection != nullptr) connection->SetFrameHandler([](protocol::Frame) {});
    return connection;
  }

  EventLoop loop_{2};
  EventBus bus_;
  SessionManager sessions_;
  ServerManager servers_;
  EventLog log_;
  transports::TransportFactory client_transports_;
};

TEST_F(ServerManagerTest, AServersWholeLifePublishesOneEventPerFact) {
  StartSession();
  absl::StatusOr<v1::Server> server = servers_.Create(
      "", absl::StrCat("tcp:port=", dbgd::testing::FreePortRun(1)));
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_THAT(server->connect_string(), StartsWith("tcp:server=testhost,port="));

  // The connect string names the advertised host; this test reaches it
  // on loopback.
  absl::StatusOr<transports::ClientSpec> connect =
      transports::ParseClientSpec(server->connect_string());
  ASSERT_TRUE(connect.ok());
  std::shared_ptr<protocol::FrameConnection> client = Join(
      absl::StrCat("tcp:server=127.0.0.1,port=", connect->port.first));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(log_.WaitFor(v1::Event::CLIENT_CONNECTED));

  // `.endsrv` twice while the client is still there (the server is listed
  // as exit pending): ending is one fact.
  ASSERT_TRUE(servers_.Delete(server->name(), false).ok());
  ASSERT_TRUE(servers_.Delete(server->name(), false).ok());
  ASSERT_TRUE(log_.WaitFor(v1::Event::SERVER_ENDED));

  protocol::Frame bye;
  bye.mutable_bye()->set_reason("done");
  ASSERT_TRUE(client->Send(bye).ok());
  client->Close(/*flush=*/true);
  ASSERT_TRUE(log_.WaitFor(v1::Event::CLIENT_DISCONNECTED));
  absl::SleepFor(absl::Milliseconds(300));  // anything late would show

  EXPECT_EQ(log_.Count(v1::Event::SERVER_CREATED), 1);
  EXPECT_EQ(log_.Count(v1::Event::CLIENT_CONNECTED), 1);
  EXPECT_EQ(log_.Count(v1::Event::CLIENT_DISCONNECTED), 1);
  EXPECT_EQ(log_.Count(v1::Event::SERVER_ENDED), 1);

  const v1::Event joined = log_.Of(v1::Event::CLIENT_CONNECTED).front();
  EXPECT_THAT(joined.client().name(), StartsWith("clients/"));
  EXPECT_EQ(joined.client().identity(), "box\\alice");
  EXPECT_THAT(joined.client().peer(), StartsWith("ipv4:127.0.0.1:"));
  EXPECT_EQ(joined.client().server(), server->name());
  EXPECT_EQ(joined.client().transport(), "tcp");
  const v1::Event left = log_.Of(v1::Event::CLIENT_DISCONNECTED).front();
  EXPECT_EQ(left.client().name(), joined.client().name());
  EXPECT_THAT(left.message(), HasSubstr("disconnected: left"));
}

TEST_F(ServerManagerTest, TwoClientsOfOneServerAreTwoConnectsAndTwoLeaves) {
  StartSession();
  const uint16_t port = dbgd::testing::FreePortRun(1);
  ASSERT_TRUE(servers_.Create("", absl::StrCat("tcp:port=", port)).ok());
  const std::string connect = absl::StrCat("tcp:server=127.0.0.1,port=", port);
  std::shared_ptr<protocol::FrameConnection> alice = Join(connect);
  std::shared_ptr<protocol::FrameConnection> bob = Join(connect);
  ASSERT_NE(alice, nullptr);
  ASSERT_NE(bob, nullptr);
  ASSERT_TRUE(log_.WaitFor(v1::Event::CLIENT_CONNECTED, 2));
  alice->Close(/*flush=*/false);
  bob->Close(/*flush=*/false);
  ASSERT_TRUE(log_.WaitFor(v1::Event::CLIENT_DISCONNECTED, 2));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(log_.Count(v1::Event::CLIENT_CONNECTED), 2);
  EXPECT_EQ(log_.Count(v1::Event::CLIENT_DISCONNECTED), 2);
}


// BindsPlainly: whether anyone (a socket without SO_REUSEADDR, dual-stack
// as dbgd's) can bind `port` now.
bool BindsPlainly(uint16_t port) {
  const int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int off = 0;
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_any;
  address.sin6_port = htons(port);
  const bool bound =
      bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return bound;
}

TEST_F(ServerManagerTest, DeleteReturnsOnlyOnceItsPortCanBeBoundAgain) {
  StartSession();
  const uint16_t port = dbgd::testing::FreePortRun(1);
  ASSERT_NE(port, 0);
  const std::string spec = absl::StrCat("tcp:port=", port);
  int refused = 0, still_bound = 0;
  for (int i = 0; i < 2000; ++i) {
    absl::StatusOr<v1::Server> server = servers_.Create("", spec);
    if (!server.ok()) {
      ++refused;
      ADD_FAILURE() << "round " << i << ": " << server.status();
      absl::SleepFor(absl::Milliseconds(5));  // let the old one close
      continue;
    }
    ASSERT_TRUE(servers_.Delete(server->name(), false).ok());
    if (!BindsPlainly(port)) ++still_bound;
  }
  EXPECT_EQ(refused, 0);
  EXPECT_EQ(still_bound, 0);
}

TEST_F(ServerManagerTest, CreatingOnARangeStaysFlatAsServersAccumulate) {
  StartSession();
  constexpr int kServers = 2000, kSample = 200;
  const uint16_t first = dbgd::testing::FreePortRun(kServers);
  ASSERT_NE(first, 0);
  const std::string spec =
      absl::StrCat("tcp:port=", first, ":", first + kServers - 1);
  absl::Duration early, late;
  for (int i = 0; i < kServers; ++i) {
    const absl::Time start = absl::Now();
    absl::StatusOr<v1::Server> server = servers_.Create("", spec);
    const absl::Duration took = absl::Now() - start;
    ASSERT_TRUE(server.ok()) << i << ": " << server.status();
    if (i < kSample) early += took;
    if (i >= kServers - kSample) late += took;
  }
  // The last servers take a port near the range's end; their creation
  // costs what the first ones' did, not what trying every port before it
  // would (some 10x as much here).
  EXPECT_LT(late, early * 3 + absl::Milliseconds(100))
      << "first " << kSample << ": " << early << ", last " << kSample << ": "
      << late;
}

}  // namespace
}  // namespace dbgd::server
