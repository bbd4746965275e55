#include "transports/tcp.h"

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

  // Accepts one connection on `listener` while connecting to `host`:`port`;
  // returns {accepted peer, connected peer}.
  std::pair<std::string, std::string> RoundTrip(Listener& listener,
                                                const std::string& host,
                                                IpVersion version) {
    Notification accepted, connected;
    std::string accepted_peer, connected_peer;
    listener.AsyncAccept([&](std::error_code error, std::unique_ptr<Stream> stream) {
      if (!error) accepted_peer = stream->peer();
      accepted.Notify();
    });
    AsyncConnectTcp(loop_.context().get_executor(), host, listener.port(), version,
                    [&](std::error_code error, std::unique_ptr<Stream> stream) {
                      connected_peer = error ? "error: " + error.message()
                                             : stream->peer();
                      connected.Notify();
                    });
    EXPECT_TRUE(accepted.WaitForNotificationWithTimeout(absl::Seconds(10)));
    EXPECT_TRUE(connected.WaitForNotificationWithTimeout(absl::Seconds(10)));
    return {accepted_peer, connected_peer};
  }

  EventLoop loop_;
};

TEST_F(TcpTest, RangeTakesTheFirstFreePort) {
  HeldPorts held(loop_.context(), 2);
  ASSERT_TRUE(held.ok());
  const uint16_t p = held.first();
  absl::StatusOr<std::unique_ptr<Listener>> listener = ListenTcp(
      loop_.context().get_executor(), {p, static_cast<uint16_t>(p + 9)},
      IpVersion::kAny);
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_EQ((*listener)->port(), p + 2);
  (*listener)->Close();
}

TEST_F(TcpTest, ExhaustedRangeIsResourceExhaustedNamingTheRange) {
  HeldPorts held(loop_.context(), 3);
  ASSERT_TRUE(held.ok());
  const uint16_t p = held.first();
  absl::StatusOr<std::unique_ptr<Listener>> listener = ListenTcp(
      loop_.context().get_executor(), {p, static_cast<uint16_t>(p + 2)},
      IpVersion::kAny);
  ASSERT_EQ(listener.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(listener.status().message(), HasSubstr("port"));
  EXPECT_THAT(listener.status().message(),
              HasSubstr(absl::StrCat(p, ":", p + 2)));
}

TEST_F(TcpTest, DefaultAcceptsIpv4AndIpv6Clients) {
  const uint16_t p = FreePort(loop_.context());
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      ListenTcp(loop_.context().get_executor(), {p, p}, IpVersion::kAny);
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
  absl::StatusOr<std::unique_ptr<Listener>> listener = ListenTcp(
      loop_.context().get_executor(), {40000, 40999}, IpVersion::kV6);
  ASSERT_TRUE(listener.ok()) << listener.status();
  auto [accepted, connected] = RoundTrip(**listener, "::1", IpVersion::kV6);
  EXPECT_THAT(accepted, StartsWith("ipv6:[::1]:"));

  Notification done;
  std::string result;
  AsyncConnectTcp(loop_.context().get_executor(), "127.0.0.1", (*listener)->port(),
                  IpVersion::kAny, [&](std::error_code error, std::unique_ptr<Stream>) {
                    result = error ? error.message() : "connected";
                    done.Notify();
                  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_NE(result, "connected");
}

TEST_F(TcpTest, ConnectToNothingFails) {
  const uint16_t p = FreePort(loop_.context());
  Notification done;
  std::error_code result;
  AsyncConnectTcp(loop_.context().get_executor(), "127.0.0.1", p, IpVersion::kAny,
                  [&](std::error_code error, std::unique_ptr<Stream>) {
                    result = error;
                    done.Notify();
                  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(result, asio::error::connection_refused);
}

}  // namespace
}  // namespace dbgd::transports
