// The web dialer's own failures; its streams against real web servers are
// the conformance suite's web rows (transports/conformance_test.cc).

#include "transports/web/web_dialer.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "asio/buffer.hpp"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/post.hpp"
#include "asio/read_until.hpp"
#include "asio/strand.hpp"
#include "asio/write.hpp"
#include "common/event_loop.h"
#include "common/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/ports.h"

namespace dbgd::transports::web {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kTimeout = absl::Seconds(10);

TEST(ParseWebUrlTest, ReadsWhatWebServersGiveOut) {
  absl::StatusOr<WebUrl> url = ParseWebUrl("http://127.0.0.1:8080/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_FALSE(url->https);
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8080);

  url = ParseWebUrl("https://[::1]:8443/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_TRUE(url->https);
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 8443);

  url = ParseWebUrl("https://box17.example:443");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "box17.example");
  EXPECT_EQ(url->port, 443);
}

TEST(ParseWebUrlTest, RefusesOthers) {
  for (const char* text :
       {"ws://127.0.0.1:8080/", "127.0.0.1:8080", "http://127.0.0.1/", "http://:8080/",
        "http://127.0.0.1:0/", "http://127.0.0.1:65536/", "http://127.0.0.1:80x/",
        "http://127.0.0.1:8080/ws", "http://[::1/", "http://::1:8080/"}) {
    absl::StatusOr<WebUrl> url = ParseWebUrl(text);
    EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

// FakeServer accepts one connection on 127.0.0.1, reads the request's
// header and answers `answer`; an empty answer says nothing and keeps the
// connection open.
class FakeServer {
 public:
  explicit FakeServer(std::string answer)
      : answer_(std::move(answer)),
        acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}),
        socket_(io_),
        port_(acceptor_.local_endpoint().port()) {
    acceptor_.async_accept(socket_, [this](std::error_code error) {
      if (!error) ReadRequest();
    });
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeServer() {
    io_.stop();
    thread_.join();
  }

  uint16_t port() const { return port_; }
  // Notified once the request's header has arrived.
  Notification& requested() { return requested_; }
  std::string request() const { return request_; }

 private:
  void ReadRequest() {
    asio::async_read_until(socket_, asio::dynamic_buffer(request_), "\r\n\r\n",
                           [this](std::error_code error, size_t) {
                             if (error) return;
                             requested_.Notify();
                             if (answer_.empty()) return;
                             asio::async_write(socket_, asio::buffer(answer_),
                                               [](std::error_code, size_t) {});
                           });
  }

  const std::string answer_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::socket socket_;
  const uint16_t port_;
  std::string request_;
  Notification requested_;
  std::thread thread_;
};

class WebDialerTest : public ::testing::Test {
 protected:
  WebDialerTest() : loop_(1), strand_(asio::make_strand(loop_.context())) {}
  ~WebDialerTest() override { loop_.Stop(); }

  std::unique_ptr<Connector> Dial(uint16_t port, WebDialOptions options = {}) {
    absl::StatusOr<std::unique_ptr<Connector>> connector =
        DialWeb(strand_, loop_.context().get_executor(),
                WebUrl{.https = false, .host = "127.0.0.1", .port = port}, options);
    EXPECT_TRUE(connector.ok()) << connector.status();
    return connector.ok() ? *std::move(connector) : nullptr;
  }

  // Pending is one AsyncConnect's outcome, shared with its handler. It
  // keeps the status's parts: an absl::Status shared across threads has a
  // reference count TSan cannot see (Abseil is not instrumented).
  struct Pending {
    Notification done;
    absl::StatusCode code = absl::StatusCode::kDeadlineExceeded;
    std::string message = "no outcome";
  };
  std::shared_ptr<Pending> Connect(Connector& connector) {
    auto pending = std::make_shared<Pending>();
    asio::post(strand_, [&connector, pending] {
      connector.AsyncConnect([pending](absl::StatusOr<std::unique_ptr<Stream>> stream) {
        pending->code = stream.status().code();
        pending->message = std::string(stream.status().message());
        pending->done.Notify();
      });
    });
    return pending;
  }
  absl::Status Outcome(const std::shared_ptr<Pending>& pending) {
    EXPECT_TRUE(pending->done.WaitForNotificationWithTimeout(kTimeout));
    return absl::Status(pending->code, pending->message);
  }

  EventLoop loop_;
  asio::strand<asio::io_context::executor_type> strand_;
};

TEST_F(WebDialerTest, HttpsNeedsATrust) {
  absl::StatusOr<std::unique_ptr<Connector>> connector =
      DialWeb(strand_, loop_.context().get_executor(),
              WebUrl{.https = true, .host = "localhost", .port = 8443});
  EXPECT_EQ(connector.status().code(), absl::StatusCode::kInvalidArgument)
      << connector.status();
}

TEST_F(WebDialerTest, NobodyListeningIsTheTcpTransportsError) {
  std::unique_ptr<Connector> connector = Dial(dbgd::testing::FreePort());
  ASSERT_NE(connector, nullptr);
  EXPECT_EQ(connector->target(), absl::StrCat("127.0.0.1:", connector->endpoint().port));
  const absl::Status status = Outcome(Connect(*connector));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

TEST_F(WebDialerTest, AServerThatRefusesTheUpgradeSaysHow) {
  FakeServer server("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  std::unique_ptr<Connector> connector = Dial(server.port());
  ASSERT_NE(connector, nullptr);
  const absl::Status status = Outcome(Connect(*connector));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("HTTP 404"));
  // What the page asks for.
  const std::string request = server.request();
  EXPECT_THAT(request, HasSubstr("GET /ws HTTP/1.1\r\n"));
  EXPECT_THAT(request, HasSubstr(absl::StrCat("Host: 127.0.0.1:", server.port(), "\r\n")));
  EXPECT_THAT(request,
              HasSubstr(absl::StrCat("Origin: http://127.0.0.1:", server.port(), "\r\n")));
  EXPECT_THAT(request, HasSubstr("Sec-WebSocket-Protocol: dbgd.v1\r\n"));
}

TEST_F(WebDialerTest, AServerThatNeverAnswersRunsOutTheTimeout) {
  FakeServer server("");
  std::unique_ptr<Connector> connector =
      Dial(server.port(), {.timeout = absl::Milliseconds(200)});
  ASSERT_NE(connector, nullptr);
  const absl::Status status = Outcome(Connect(*connector));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
}

TEST_F(WebDialerTest, CancelEndsAnUpgradeUnderWay) {
  FakeServer server("");
  std::unique_ptr<Connector> connector = Dial(server.port());
  ASSERT_NE(connector, nullptr);
  std::shared_ptr<Pending> pending = Connect(*connector);
  ASSERT_TRUE(server.requested().WaitForNotificationWithTimeout(kTimeout));
  asio::post(strand_, [&] { connector->Cancel(); });
  const absl::Status status = Outcome(pending);
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
}

}  // namespace
}  // namespace dbgd::transports::web
