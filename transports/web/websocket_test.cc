// WebSocketPeer (the server side) against WebSocketClient, joined in
// memory: each side's output is fed to the other, in whole pieces or a byte
// at a time.

#include "transports/web/websocket.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transports/web/websocket_client.h"

namespace dbgd::transports::web {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr size_t kLimit = 1 << 20;  // 1 MiB, as the web transport allows

// Pattern returns `count` bytes that differ from any shifted copy.
std::string Pattern(size_t count, uint32_t seed) {
  std::string bytes(count, '\0');
  uint32_t x = seed;
  for (char& c : bytes) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return bytes;
}

// What one side saw.
struct Seen {
  bool open = false;
  std::vector<std::string> messages;
  std::optional<uint16_t> close_code;  // the client's `closing`
  std::string close_reason;
  std::optional<std::string> ended;  // the reason
};

// Wire joins a server and a client. Nothing moves until Pump.
class Wire {
 public:
  // decide: the server's verdict on an upgrade request.
  using Decide = std::function<UpgradeDecision(const HttpRequest&)>;

  // Accept takes an upgrade that offers `subprotocol`, refusing others with
  // 400; Origins are the test's business.
  static Decide Accept(std::string subprotocol) {
    return [subprotocol](const HttpRequest& request) {
      UpgradeDecision decision;
      const auto& offered = request.subprotocols;
      if (std::find(offered.begin(), offered.end(), subprotocol) != offered.end()) {
        decision.accept = true;
        decision.subprotocol = subprotocol;
      } else {
        decision.refusal.status = 400;
        decision.refusal.body = "subprotocol required\n";
      }
      return decision;
    };
  }

  Wire(ClientUpgrade upgrade, Decide decide) : decide_(std::move(decide)) {
    WebSocketPeer::Callbacks server;
    server.write = [this](std::string_view bytes) {
      to_client_.append(bytes);
      return true;
    };
    server.http = [](const HttpRequest&) {
      HttpResponse response;
      response.status = 404;
      return response;
    };
    server.upgrade = [this](const HttpRequest& request) {
      requests_.push_back(request);
      return decide_(request);
    };
    server.open = [this] {
      server_seen_.open = true;
      if (on_server_open_) on_server_open_();
    };
    server.message = [this](std::string_view message) {
      server_seen_.messages.emplace_back(message);
    };
    server.ended = [this](std::string reason, bool) { server_seen_.ended = std::move(reason); };
    server_ = std::make_unique<WebSocketPeer>(std::move(server), kLimit);

    WebSocketClient::Callbacks client;
    client.write = [this](std::string_view bytes) {
      to_server_.append(bytes);
      return true;
    };
    client.open = [this] { client_seen_.open = true; };
    client.message = [this](std::string_view message) {
      client_seen_.messages.emplace_back(message);
    };
    client.closing = [this](uint16_t code, std::string reason) {
      client_seen_.close_code = code;
      client_seen_.close_reason = std::move(reason);
    };
    client.ended = [this](std::string reason) { client_seen_.ended = std::move(reason); };
    client_ = std::make_unique<WebSocketClient>(std::move(client), std::move(upgrade), kLimit);
  }

  // Pump carries bytes both ways, `chunk` bytes per Feed, until neither side
  // has anything more to say.
  void Pump(size_t chunk = SIZE_MAX) {
    while (!to_server_.empty() || !to_client_.empty()) {
      const std::string up = std::exchange(to_server_, {});
      for (size_t at = 0; at < up.size(); at += chunk) {
        server_->Feed(up.data() + at, std::min(chunk, up.size() - at));
      }
      const std::string down = std::exchange(to_client_, {});
      for (size_t at = 0; at < down.size(); at += chunk) {
        client_->Feed(down.data() + at, std::min(chunk, down.size() - at));
      }
    }
  }

  // ServerHangsUp: the server's end of the stream closes, as a server does
  // once its connection is over; the client sees the end of its input.
  void ServerHangsUp() { client_->PeerGone(); }

  WebSocketPeer& server() { return *server_; }
  WebSocketClient& client() { return *client_; }
  const Seen& server_seen() const { return server_seen_; }
  const Seen& client_seen() const { return client_seen_; }
  const std::vector<HttpRequest>& requests() const { return requests_; }
  // on_server_open runs inside the server's open callback.
  void set_on_server_open(std::function<void()> f) { on_server_open_ = std::move(f); }

 private:
  Decide decide_;
  std::function<void()> on_server_open_;
  std::string to_server_, to_client_;
  std::vector<HttpRequest> requests_;
  Seen server_seen_, client_seen_;
  std::unique_ptr<WebSocketPeer> server_;
  std::unique_ptr<WebSocketClient> client_;
};

ClientUpgrade Browser() {
  ClientUpgrade upgrade;
  upgrade.host = "box17:8080";
  upgrade.origin = "http://box17:8080";
  upgrade.subprotocols = {"dbgd.v1"};
  return upgrade;
}

// Upgraded opens a wire and completes its upgrade, `chunk` bytes per Feed.
std::unique_ptr<Wire> Upgraded(size_t chunk = SIZE_MAX) {
  auto wire = std::make_unique<Wire>(Browser(), Wire::Accept("dbgd.v1"));
  wire->client().Start();
  wire->Pump(chunk);
  EXPECT_TRUE(wire->server_seen().open);
  EXPECT_TRUE(wire->client_seen().open);
  return wire;
}

TEST(WebSocketTest, UpgradeSendsTheRequestTheServerJudgesAndOpensBothSides) {
  Wire wire(Browser(), Wire::Accept("dbgd.v1"));
  wire.client().Start();
  wire.Pump();
  ASSERT_EQ(wire.requests().size(), 1u);
  const HttpRequest& request = wire.requests()[0];
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.resource, "/ws");
  EXPECT_EQ(request.host, "box17:8080");
  EXPECT_EQ(request.origin, "http://box17:8080");
  EXPECT_THAT(request.subprotocols, ElementsAre("dbgd.v1"));

  EXPECT_TRUE(wire.server_seen().open);
  EXPECT_TRUE(wire.server().open());
  EXPECT_TRUE(wire.client_seen().open);
  EXPECT_TRUE(wire.client().open());
  EXPECT_EQ(wire.client().response_status(), 101);
  EXPECT_EQ(wire.client().subprotocol(), "dbgd.v1");
  EXPECT_FALSE(wire.server_seen().ended.has_value());
  EXPECT_FALSE(wire.client_seen().ended.has_value());
}

TEST(WebSocketTest, HostsAndOriginsGoOutAsGiven) {
  ClientUpgrade upgrade;
  upgrade.host = "[::1]:8443";
  upgrade.origin = "https://[::1]:8443";
  upgrade.subprotocols = {"x.v2", "dbgd.v1"};
  Wire wire(upgrade, Wire::Accept("dbgd.v1"));
  wire.client().Start();
  wire.Pump();
  ASSERT_EQ(wire.requests().size(), 1u);
  EXPECT_EQ(wire.requests()[0].host, "[::1]:8443");
  EXPECT_EQ(wire.requests()[0].origin, "https://[::1]:8443");
  EXPECT_THAT(wire.requests()[0].subprotocols, ElementsAre("x.v2", "dbgd.v1"));
  EXPECT_EQ(wire.client().subprotocol(), "dbgd.v1");
  EXPECT_TRUE(wire.client_seen().open);
}

TEST(WebSocketTest, AnUpgradeRefusedForItsOriginEndsBothSidesUnopened) {
  ClientUpgrade upgrade = Browser();
  upgrade.origin = "http://evil.example";
  Wire wire(upgrade, [](const HttpRequest& request) {
    UpgradeDecision decision;
    decision.accept = request.origin == "http://box17:8080";
    decision.refusal.status = 403;
    decision.refusal.body = "refused: origin " + request.origin + "\n";
    return decision;
  });
  wire.client().Start();
  wire.Pump();
  EXPECT_FALSE(wire.server_seen().open);
  EXPECT_FALSE(wire.client_seen().open);
  EXPECT_FALSE(wire.client().open());
  EXPECT_EQ(wire.client().response_status(), 403);
  ASSERT_TRUE(wire.client_seen().ended.has_value());
  EXPECT_THAT(*wire.client_seen().ended, HasSubstr("HTTP 403"));
  // The exchange is over for the server too: no keep-alive.
  EXPECT_TRUE(wire.server_seen().ended.has_value());
  EXPECT_TRUE(wire.server().ended());
}

TEST(WebSocketTest, AnUpgradeWithoutTheSubprotocolIsRefused) {
  ClientUpgrade upgrade = Browser();
  upgrade.subprotocols.clear();
  Wire wire(upgrade, Wire::Accept("dbgd.v1"));
  wire.client().Start();
  wire.Pump();
  ASSERT_EQ(wire.requests().size(), 1u);
  EXPECT_THAT(wire.requests()[0].subprotocols, IsEmpty());
  EXPECT_FALSE(wire.client_seen().open);
  EXPECT_EQ(wire.client().response_status(), 400);
  ASSERT_TRUE(wire.client_seen().ended.has_value());
  EXPECT_THAT(*wire.client_seen().ended, HasSubstr("HTTP 400"));
}

TEST(WebSocketTest, AnUpgradeWithoutAnOriginArrivesWithout) {
  ClientUpgrade upgrade = Browser();
  upgrade.origin.clear();
  Wire wire(upgrade, Wire::Accept("dbgd.v1"));
  wire.client().Start();
  wire.Pump();
  ASSERT_EQ(wire.requests().size(), 1u);
  EXPECT_EQ(wire.requests()[0].origin, "");
}

TEST(WebSocketTest, BinaryMessagesGoBothWaysUpToExactlyTheLimit) {
  std::unique_ptr<Wire> wire = Upgraded();
  const std::string big_up = Pattern(kLimit, 1);
  const std::string big_down = Pattern(kLimit, 2);
  wire->client().SendBinary("hello, server");
  wire->client().SendBinary(big_up);
  wire->client().SendBinary(std::string("\0\xff", 2));
  wire->server().SendBinary("hello, client");
  wire->server().SendBinary(big_down);
  wire->server().SendBinary("");
  wire->Pump();
  ASSERT_EQ(wire->server_seen().messages.size(), 3u);
  EXPECT_EQ(wire->server_seen().messages[0], "hello, server");
  EXPECT_TRUE(wire->server_seen().messages[1] == big_up) << "the 1 MiB message differs";
  EXPECT_EQ(wire->server_seen().messages[2], std::string("\0\xff", 2));
  ASSERT_EQ(wire->client_seen().messages.size(), 3u);
  EXPECT_EQ(wire->client_seen().messages[0], "hello, client");
  EXPECT_TRUE(wire->client_seen().messages[1] == big_down) << "the 1 MiB message differs";
  EXPECT_EQ(wire->client_seen().messages[2], "");
  EXPECT_TRUE(wire->server().open());
  EXPECT_TRUE(wire->client().open());
}

TEST(WebSocketTest, AMessageSentInTheServersOpenCallbackArrivesWithTheUpgrade) {
  Wire wire(Browser(), Wire::Accept("dbgd.v1"));
  wire.set_on_server_open([&] { wire.server().SendBinary("welcome"); });
  wire.client().Start();
  wire.Pump();
  EXPECT_TRUE(wire.client_seen().open);
  EXPECT_THAT(wire.client_seen().messages, ElementsAre("welcome"));
}

TEST(WebSocketTest, AMessageOverTheLimitClosesWith1009) {
  std::unique_ptr<Wire> wire = Upgraded();
  wire->client().SendBinary(Pattern(kLimit + 1, 3));
  wire->Pump();
  EXPECT_THAT(wire->server_seen().messages, IsEmpty());
  ASSERT_TRUE(wire->client_seen().close_code.has_value());
  EXPECT_EQ(*wire->client_seen().close_code, 1009);
  EXPECT_FALSE(wire->client().open());
  // The client answered the close; the server's connection is over, and it
  // hangs up.
  ASSERT_TRUE(wire->server_seen().ended.has_value());
  EXPECT_FALSE(wire->client_seen().ended.has_value());
  wire->ServerHangsUp();
  ASSERT_TRUE(wire->client_seen().ended.has_value());
  EXPECT_THAT(*wire->client_seen().ended, HasSubstr("1009"));
}

TEST(WebSocketTest, ATextMessageClosesWith1003) {
  std::unique_ptr<Wire> wire = Upgraded();
  wire->client().SendText("{\"json\": true}");
  wire->Pump();
  EXPECT_THAT(wire->server_seen().messages, IsEmpty());
  ASSERT_TRUE(wire->client_seen().close_code.has_value());
  EXPECT_EQ(*wire->client_seen().close_code, 1003);
  EXPECT_THAT(wire->client_seen().close_reason, HasSubstr("binary"));
  EXPECT_TRUE(wire->server_seen().ended.has_value());
}

TEST(WebSocketTest, TheClientsCloseHandshake) {
  std::unique_ptr<Wire> wire = Upgraded();
  wire->client().Close(1000, "bye");
  EXPECT_FALSE(wire->client().open());
  wire->Pump();
  // The server answered and is done; the client has the answer and waits
  // for the server to hang up.
  ASSERT_TRUE(wire->server_seen().ended.has_value());
  EXPECT_THAT(*wire->server_seen().ended, HasSubstr("code 1000: bye"));
  ASSERT_TRUE(wire->client_seen().close_code.has_value());
  EXPECT_EQ(*wire->client_seen().close_code, 1000);
  EXPECT_FALSE(wire->client_seen().ended.has_value());
  wire->ServerHangsUp();
  ASSERT_TRUE(wire->client_seen().ended.has_value());
  EXPECT_THAT(*wire->client_seen().ended, HasSubstr("code 1000"));
}

TEST(WebSocketTest, TheServersCloseHandshake) {
  std::unique_ptr<Wire> wire = Upgraded();
  wire->server().SendBinary("last words");
  wire->server().Close(1000, "closed by the server");
  wire->Pump();
  EXPECT_THAT(wire->client_seen().messages, ElementsAre("last words"));
  ASSERT_TRUE(wire->client_seen().close_code.has_value());
  EXPECT_EQ(*wire->client_seen().close_code, 1000);
  EXPECT_EQ(wire->client_seen().close_reason, "closed by the server");
  ASSERT_TRUE(wire->server_seen().ended.has_value());
  EXPECT_THAT(*wire->server_seen().ended, HasSubstr("code 1000"));
  wire->ServerHangsUp();
  EXPECT_TRUE(wire->client_seen().ended.has_value());
  EXPECT_TRUE(wire->client().ended());
}

TEST(WebSocketTest, AServerThatHangsUpMidConversationEndsTheClient) {
  std::unique_ptr<Wire> wire = Upgraded();
  wire->ServerHangsUp();
  ASSERT_TRUE(wire->client_seen().ended.has_value());
  EXPECT_FALSE(wire->client_seen().close_code.has_value());
  EXPECT_FALSE(wire->client().open());
}

TEST(WebSocketTest, AClientThatGivesUpBeforeTheAnswerEndsAtOnce) {
  Wire wire(Browser(), Wire::Accept("dbgd.v1"));
  wire.client().Start();
  wire.client().Close(1000, "not waiting");
  ASSERT_TRUE(wire.client_seen().ended.has_value());
  EXPECT_FALSE(wire.client_seen().open);
}

TEST(WebSocketTest, EverythingWorksFedOneByteAtATime) {
  std::unique_ptr<Wire> wire = Upgraded(/*chunk=*/1);
  const std::string up = Pattern(70000, 4);  // a 64-bit length header
  const std::string down = Pattern(300, 5);  // a 16-bit one
  wire->client().SendBinary(up);
  wire->client().SendBinary("x");
  wire->server().SendBinary(down);
  wire->Pump(1);
  ASSERT_EQ(wire->server_seen().messages.size(), 2u);
  EXPECT_TRUE(wire->server_seen().messages[0] == up);
  EXPECT_EQ(wire->server_seen().messages[1], "x");
  EXPECT_THAT(wire->client_seen().messages, ElementsAre(down));

  wire->client().Close(1000, "bye");
  wire->Pump(1);
  ASSERT_TRUE(wire->server_seen().ended.has_value());
  EXPECT_THAT(*wire->server_seen().ended, HasSubstr("code 1000: bye"));
  EXPECT_EQ(wire->client_seen().close_code, 1000);
}

TEST(WebSocketTest, EitherSideMayBeDestroyedMidConversation) {
  std::unique_ptr<Wire> wire = Upgraded();
  wire->client().SendBinary(Pattern(1000, 6));
  wire->server().SendBinary(Pattern(1000, 7));
  // Nothing pumped: each side has a read pending and bytes unsent.
  wire.reset();  // the sanitizers see what a cycle would leak
}

}  // namespace
}  // namespace dbgd::transports::web
