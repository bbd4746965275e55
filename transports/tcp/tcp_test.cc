#include "transports/tcp/tcp.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "asio/ip/tcp.hpp"
#include "asio/ip/v6_only.hpp"
#include "common/event_loop.h"
#include "common/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::transports {
namespace {

using asio::ip::tcp;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// HeldPorts finds `count` consecutive free ports and keeps them listening
// (on every IPv4 and IPv6 address) until destroyed.
class HeldPorts {
 public:
  HeldPorts(asio::io_context& io, int count) {
    for (int attempt = 0; attempt < 50 && acceptors_.empty(); ++attempt) {
      tcp::acceptor probe(io, tcp::endpoint(tcp::v6(), 0));
      const uint16_t first = probe.local_endpoint().port();
      probe.close();
      if (first > 65535 - count - 20) continue;
      std::vector<std::unique_ptr<tcp::acceptor>> held;
      for (int i = 0; i < count; ++i) {
        auto acceptor = std::make_unique<tcp::acceptor>(io);
        std::error_code error;
        acceptor->open(tcp::v6(), error);
        acceptor->set_option(asio::ip::v6_only(false), error);
        acceptor->bind(tcp::endpoint(tcp::v6(), first + i), error);
        if (!error) acceptor->listen(1, error);
        if (error) break;
        held.push_back(std::move(acceptor));
      }
      if (static_cast<int>(held.size()) == count) {
        first_ = first;
        acceptors_ = std::move(held);
      }
    }
  }
  uint16_t first() const { return first_; }
  bool ok() const { return !acceptors_.empty(); }

 private:
  uint16_t first_ = 0;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
};

// FreePort returns a port that was free a moment ago (bound to 0, closed).
uint16_t FreePort(asio::io_context& io) {
  tcp::acceptor probe(io, tcp::endpoint(tcp::v6(), 0));
  return probe.local_endpoint().port();
}

class TcpTest : public ::testing::Test {
 protected:
  TcpTest() : loop_(1) {}
  ~TcpTest() override { loop_.Stop(); }

  asio::any_io_executor executor() { return loop_.context().get_executor(); }

  absl::StatusOr<std::unique_ptr<Listener>> Listen(PortRange ports,
                                                   IpVersion version) {
    return ListenTcp(executor(), executor(), ports, version);
  }

  // Connect makes one attempt to reach `host`:`port`; returns the stream's
  // peer, or the error.
  absl::StatusOr<std::string> Connect(const std::string& host, uint16_t port,
                                      IpVersion version) {
    std::unique_ptr<Connector> connector =
        MakeTcpConnector(executor(), executor(), host, port, version);
    Notification done;
    absl::StatusOr<std::string> result;
    connector->AsyncConnect([&](absl::StatusOr<std::unique_ptr<Stream>> stream) {
      // A copy of the status would share its reference count with the
      // handler's, whose release TSan cannot see (Abseil is not
      // instrumented): make a status of our own.
      result = stream.ok() ? absl::StatusOr<std::string>((*stream)->peer())
                           : absl::Status(stream.status().code(),
                                          std::string(stream.status().message()));
      done.Notify();
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    return result;
  }

  // Accepts one connection on `listener` while connecting to `host`:`port`;
  // returns {accepted peer, connected peer}.
  std::pair<std::string, std::string> RoundTrip(Listener& listener,
                                                const std::string& host,
                                                IpVersion version) {
    Notification accepted;
    std::string accepted_peer;
    listener.AsyncAccept([&](absl::StatusOr<std::unique_ptr<Stream>> stream) {
      if (stream.ok()) accepted_peer = (*stream)->peer();
      accepted.Notify();
    });
    absl::StatusOr<std::string> connected =
        Connect(host, listener.endpoint().port, version);
    EXPECT_TRUE(accepted.WaitForNotificationWithTimeout(absl::Seconds(10)));
    return {accepted_peer, connected.ok() ? *connected
                                          : "error: " + connected.status().ToString()};
  }

  EventLoop loop_;
};

TEST_F(TcpTest, RangeTakesTheFirstFreePort) {
  HeldPorts held(loop_.context(), 2);
  ASSERT_TRUE(held.ok());
  const uint16_t p = held.first();
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      Listen({p, static_cast<uint16_t>(p + 9)}, IpVersion::kAny);
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_EQ((*listener)->endpoint().port, p + 2);
  (*listener)->Close();
}

TEST_F(TcpTest, ExhaustedRangeIsResourceExhaustedNamingTheRange) {
  HeldPorts held(loop_.context(), 3);
  ASSERT_TRUE(held.ok());
  const uint16_t p = held.first();
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      Listen({p, static_cast<uint16_t>(p + 2)}, IpVersion::kAny);
  ASSERT_EQ(listener.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(listener.status().message(), HasSubstr("port"));
  EXPECT_THAT(listener.status().message(),
              HasSubstr(absl::StrCat(p, ":", p + 2)));
}

TEST_F(TcpTest, DefaultAcceptsIpv4AndIpv6Clients) {
  const uint16_t p = FreePort(loop_.context());
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      Listen({p, p}, IpVersion::kAny);
  ASSERT_TRUE(listener.ok()) << listener.status();
  auto [v4_accepted, v4_connected] =
      RoundTrip(**listener, "127.0.0.1", IpVersion::kAny);
  EXPECT_THAT(v4_accepted, StartsWith("ipv4:127.0.0.1:"));
  EXPECT_EQ(v4_connected, absl::StrCat("ipv4:127.0.0.1:", p));
  auto [v6_accepted, v6_connected] = RoundTrip(**listener, "::1", IpVersion::kAny);
  EXPECT_THAT(v6_accepted, StartsWith("ipv6:[::1]:"));
  EXPECT_EQ(v6_connected, absl::StrCat("ipv6:[::1]:", p));
}

TEST_F(TcpTest, Ipversion6RefusesIpv4Clients) {
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      Listen({40000, 40999}, IpVersion::kV6);
  ASSERT_TRUE(listener.ok()) << listener.status();
  auto [accepted, connected] = RoundTrip(**listener, "::1", IpVersion::kV6);
  EXPECT_THAT(accepted, StartsWith("ipv6:[::1]:"));

  absl::StatusOr<std::string> v4 =
      Connect("127.0.0.1", (*listener)->endpoint().port, IpVersion::kAny);
  EXPECT_EQ(v4.status().code(), absl::StatusCode::kUnavailable) << v4.status();
}

// ServeOn listens as the tcp row does for `spec` in a daemon whose
// --server_bind_address is `address`.
absl::StatusOr<std::unique_ptr<Listener>> ServeOn(asio::any_io_executor io,
                                                  const std::string& address,
                                                  const std::string& spec) {
  TransportContext context(io, TransportOptions{.bind_address = address});
  absl::StatusOr<ServerSpec> parsed = ParseServerSpec(spec);
  if (!parsed.ok()) return parsed.status();
  return TcpTransport().listen(context, *parsed, io);
}

TEST_F(TcpTest, BindAddressListensThereAlone) {
  const uint16_t p = FreePort(loop_.context());
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      ServeOn(executor(), "127.0.0.1", absl::StrCat("tcp:port=", p));
  ASSERT_TRUE(listener.ok()) << listener.status();
  auto [accepted, connected] = RoundTrip(**listener, "127.0.0.1", IpVersion::kAny);
  EXPECT_THAT(accepted, StartsWith("ipv4:127.0.0.1:"));
  // The rest of the loopback network, and IPv6, are other addresses.
  EXPECT_EQ(Connect("127.0.0.2", p, IpVersion::kAny).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(Connect("::1", p, IpVersion::kAny).status().code(),
            absl::StatusCode::kUnavailable);
  (*listener)->Close();
}

TEST_F(TcpTest, BindAddressOfTheOtherFamilyIsRefusedNamingBoth) {
  absl::StatusOr<std::unique_ptr<Listener>> v6 =
      ServeOn(executor(), "127.0.0.1", "tcp:port=40000,ipversion=6");
  EXPECT_EQ(v6.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v6.status().message(), HasSubstr("ipversion=6"));
  EXPECT_THAT(v6.status().message(), HasSubstr("--server_bind_address"));
  absl::StatusOr<std::unique_ptr<Listener>> v4 =
      ServeOn(executor(), "::1", "tcp:port=40000,ipversion=4");
  EXPECT_EQ(v4.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v4.status().message(), HasSubstr("ipversion=4"));
}

TEST_F(TcpTest, ConnectToNothingFails) {
  const uint16_t p = FreePort(loop_.context());
  absl::StatusOr<std::string> result =
      Connect("127.0.0.1", p, IpVersion::kAny);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(result.status().message(), HasSubstr("refused"));
}

TEST_F(TcpTest, Ipversion4DialsOnlyIpv4Addresses) {
  absl::StatusOr<std::string> result = Connect("::1", 1, IpVersion::kV4);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(result.status().message(), HasSubstr("no IPv4 address"));
}

}  // namespace
}  // namespace dbgd::transports
