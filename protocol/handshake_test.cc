#include "protocol/handshake.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/event_loop.h"
#include "common/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/auth.h"
#include "protocol/auth_throttle.h"
#include "protocol/frame_codec.h"
#include "protocol/frame_connection.h"
#include "protocol/test_streams.h"

namespace dbgd::protocol {
namespace {

using ::dbgd::protocol::testing::StreamPair;
using ::testing::HasSubstr;
using ::testing::Not;
using v1::wire::ServerHello;

constexpr absl::Duration kWait = absl::Seconds(30);

// Result<T> receives one value from another thread.
template <typename T>
class Result {
 public:
  std::function<void(T)> Callback() {
    return [this](T value) {
      MutexLock lock(&mu_);
      value_.emplace(std::move(value));
      at_ = absl::Now();
    };
  }

  // Wait returns the value; fails the test after kWait.
  T Wait() {
    MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return value_.has_value();
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ready), kWait)) {
      ADD_FAILURE() << "no result within " << kWait;
      std::abort();
    }
    return *value_;
  }

  absl::Time at() {
    MutexLock lock(&mu_);
    return at_;
  }

 private:
  Mutex mu_;
  std::optional<T> value_ ABSL_GUARDED_BY(mu_);
  absl::Time at_ ABSL_GUARDED_BY(mu_);
};

// Frames collects frames and the close status of a connection.
class Frames {
 public:
  FrameConnection::FrameHandler OnFrame() {
    return [this](Frame frame) {
      MutexLock lock(&mu_);
      frames_.push_back(std::move(frame));
    };
  }
  FrameConnection::CloseHandler OnClose() {
    return [this](absl::Status status) {
      MutexLock lock(&mu_);
      closed_ = std::move(status);
    };
  }
  std::vector<Frame> WaitForFrames(size_t count) {
    MutexLock lock(&mu_);
    auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return frames_.size() >= count;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
    return frames_;
  }
  std::optional<absl::Status> WaitForClose() {
    MutexLock lock(&mu_);
    auto closed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closed_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&closed), kWait);
    return closed_;
  }

 private:
  Mutex mu_;
  std::vector<Frame> frames_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> closed_ ABSL_GUARDED_BY(mu_);
};

struct Outcome {
  absl::StatusOr<ServerHello> client = absl::UnknownError("unset");
  absl::StatusOr<ClientInfo> server = absl::UnknownError("unset");
  absl::Duration client_took;  // from the start to the client's result
};

class HandshakeTest : public ::testing::Test {
 protected:
  static AuthThrottleOptions FastThrottle() {
    AuthThrottleOptions options;
    options.failure_delay = absl::Milliseconds(1);
    options.max_failures = 3;
    options.lockout = absl::Minutes(1);
    return options;
  }

  ServerHandshakeOptions Options(std::string password = "") {
    ServerHandshakeOptions options;
    options.session = "kernel on qemu";
    options.server_name = "servers/3";
    options.password = std::move(password);
    options.throttle = &throttle_;
    return options;
  }

  // Connect returns a connected (client, server) pair of connections; the
  // server side's source is `source`.
  std::pair<std::shared_ptr<FrameConnection>, std::shared_ptr<FrameConnection>>
  Connect(const std::string& source = "10.0.0.1") {
    auto [client, server] = StreamPair(loop_.context(), "server", source);
    return {FrameConnection::Create(std::move(client), MakeLengthPrefixedCodec()),
            FrameConnection::Create(std::move(server), MakeLengthPrefixedCodec())};
  }

  // Run runs both sides of a handshake and waits for both results.
  Outcome Run(ServerHandshakeOptions server_options, std::string password,
              const std::string& source = "10.0.0.1") {
    auto [client, server] = Connect(source);
    Result<absl::StatusOr<ServerHello>> client_result;
    Result<absl::StatusOr<ClientInfo>> server_result;
    const absl::Time start = absl::Now();
    ServerHandshake(server, std::move(server_options), server_result.Callback());
    ClientHandshake(client, "box17\\ada", std::move(password),
                    client_result.Callback());
    Outcome outcome;
    outcome.client = client_result.Wait();
    outcome.client_took = client_result.at() - start;
    outcome.server = server_result.Wait();
    client->Close(/*flush=*/false);
    server->Close(/*flush=*/false);
    return outcome;
  }

  AuthThrottle throttle_{FastThrottle()};
  // Handlers of the connections refer to these; the loop is declared after
  // them, so its threads are joined before they go away.
  Frames client_frames_;
  Frames server_frames_;
  EventLoop loop_{2};
};

TEST_F(HandshakeTest, NoPassword) {
  Outcome outcome = Run(Options(), "");
  ASSERT_TRUE(outcome.client.ok()) << outcome.client.status();
  EXPECT_EQ(outcome.client->protocol_version(), kProtocolVersion);
  EXPECT_EQ(outcome.client->session(), "kernel on qemu");
  EXPECT_EQ(outcome.client->server_name(), "servers/3");
  EXPECT_FALSE(outcome.client->auth_required());
  EXPECT_TRUE(outcome.client->nonce().empty());
  ASSERT_TRUE(outcome.server.ok()) << outcome.server.status();
  EXPECT_EQ(outcome.server->identity, "box17\\ada");
  EXPECT_EQ(outcome.server->protocol_version, kProtocolVersion);
}

TEST_F(HandshakeTest, ReadOnlyServerTellsTheClientItIsAnObserver) {
  Outcome plain = Run(Options(), "");
  ASSERT_TRUE(plain.client.ok()) << plain.client.status();
  EXPECT_FALSE(plain.client->read_only());

  ServerHandshakeOptions read_only = Options("Rabbit7");
  read_only.read_only = true;
  Outcome outcome = Run(std::move(read_only), "Rabbit7");
  ASSERT_TRUE(outcome.client.ok()) << outcome.client.status();
  EXPECT_TRUE(outcome.client->read_only());
  EXPECT_TRUE(outcome.client->auth_required());
  ASSERT_TRUE(outcome.server.ok()) << outcome.server.status();
}

TEST_F(HandshakeTest, RightPassword) {
  Outcome outcome = Run(Options("Rabbit7"), "Rabbit7");
  ASSERT_TRUE(outcome.client.ok()) << outcome.client.status();
  EXPECT_TRUE(outcome.client->auth_required());
  EXPECT_EQ(outcome.client->nonce().size(), kNonceBytes);
  ASSERT_TRUE(outcome.server.ok()) << outcome.server.status();
  EXPECT_EQ(outcome.server->identity, "box17\\ada");
}

TEST_F(HandshakeTest, ConnectionCarriesTheSessionAfterwards) {
  auto [client, server] = Connect();
  Result<absl::StatusOr<ServerHello>> client_result;
  // Each side installs its session handlers from inside `done`, and the
  // client sends its first line at once: nothing may be lost.
  ServerHandshake(server, Options("pw"),
                  [this, server](absl::StatusOr<ClientInfo> info) {
                    ASSERT_TRUE(info.ok()) << info.status();
                    Frame output;
                    output.mutable_output()->set_data("history");
                    output.mutable_output()->set_replay(true);
                    ASSERT_TRUE(server->Send(output).ok());
                    server->SetCloseHandler(server_frames_.OnClose());
                    server->SetFrameHandler(server_frames_.OnFrame());
                  });
  ClientHandshake(client, "box17\\ada", "pw",
                  [&client_result, client](absl::StatusOr<ServerHello> hello) {
                    Frame input;
                    input.mutable_input()->set_line("bt");
                    (void)client->Send(input);
                    client_result.Callback()(std::move(hello));
                  });
  ASSERT_TRUE(client_result.Wait().ok());
  // The client installs its handler later, from another thread: frames that
  // came meanwhile are held for it.
  absl::SleepFor(absl::Milliseconds(50));
  client->SetCloseHandler(client_frames_.OnClose());
  client->SetFrameHandler(client_frames_.OnFrame());

  std::vector<Frame> at_server = server_frames_.WaitForFrames(1);
  ASSERT_EQ(at_server.size(), 1u);
  EXPECT_EQ(at_server[0].input().line(), "bt");
  std::vector<Frame> at_client = client_frames_.WaitForFrames(1);
  ASSERT_EQ(at_client.size(), 1u);
  EXPECT_EQ(at_client[0].output().data(), "history");

  client->Close(/*flush=*/true);
  std::optional<absl::Status> server_closed = server_frames_.WaitForClose();
  ASSERT_TRUE(server_closed.has_value());
  EXPECT_TRUE(server_closed->ok()) << *server_closed;
}

TEST_F(HandshakeTest, WrongPasswordIsDelayedAndUnauthenticated) {
  AuthThrottleOptions slow;
  slow.failure_delay = absl::Milliseconds(300);
  AuthThrottle throttle(slow);
  ServerHandshakeOptions options = Options("Rabbit7");
  options.throttle = &throttle;
  Outcome outcome = Run(options, "rabbit7");
  EXPECT_EQ(outcome.client.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(outcome.client.status().message(), "authentication failed");
  EXPECT_EQ(outcome.server.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_GE(outcome.client_took, absl::Milliseconds(300));
  EXPECT_FALSE(throttle.IsLockedOut("10.0.0.1"));
}

TEST_F(HandshakeTest, WithoutAThrottleFailuresAreStillDelayed) {
  ServerHandshakeOptions options = Options("Rabbit7");
  options.throttle = nullptr;
  Outcome outcome = Run(options, "wrong");
  EXPECT_EQ(outcome.client.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_GE(outcome.client_took, absl::Seconds(1));
}

TEST_F(HandshakeTest, RepeatedFailuresLockTheSourceOut) {
  for (int i = 0; i < 3; ++i) {
    Outcome outcome = Run(Options("Rabbit7"), "guess", "10.0.0.1");
    ASSERT_EQ(outcome.client.status().code(), absl::StatusCode::kUnauthenticated)
        << outcome.client.status();
  }
  // Now even the right password is refused, without being checked.
  Outcome locked = Run(Options("Rabbit7"), "Rabbit7", "10.0.0.1");
  EXPECT_EQ(locked.client.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(locked.client.status().message(),
            "too many failed attempts from 10.0.0.1; try again later");
  EXPECT_EQ(locked.server.status().code(), absl::StatusCode::kPermissionDenied);

  // Another source is unaffected.
  Outcome other = Run(Options("Rabbit7"), "Rabbit7", "10.0.0.2");
  EXPECT_TRUE(other.client.ok()) << other.client.status();
  EXPECT_TRUE(other.server.ok()) << other.server.status();

  // A server without a password has nothing to guess: the lockout does not
  // apply to it.
  Outcome open = Run(Options(""), "", "10.0.0.1");
  EXPECT_TRUE(open.client.ok()) << open.client.status();
}

TEST_F(HandshakeTest, ParallelGuessesCannotOutrunTheLockout) {
  constexpr int kAttempts = 12;
  std::vector<std::shared_ptr<FrameConnection>> connections;
  std::vector<std::unique_ptr<Result<absl::StatusOr<ServerHello>>>> results;
  for (int i = 0; i < kAttempts; ++i) {
    auto [client, server] = Connect("10.9.9.9");
    ServerHandshake(server, Options("Rabbit7"), [](absl::StatusOr<ClientInfo>) {});
    results.push_back(std::make_unique<Result<absl::StatusOr<ServerHello>>>());
    ClientHandshake(client, "mallory", "guess", results.back()->Callback());
    connections.push_back(client);
  }
  int unauthenticated = 0;
  for (auto& result : results) {
    absl::StatusCode code = result->Wait().status().code();
    if (code == absl::StatusCode::kUnauthenticated) ++unauthenticated;
    else EXPECT_EQ(code, absl::StatusCode::kPermissionDenied);
  }
  EXPECT_EQ(unauthenticated, 3);  // max_failures passwords were checked
  for (auto& connection : connections) connection->Close(false);
}

TEST_F(HandshakeTest, MissingPasswordOnTheClient) {
  Outcome outcome = Run(Options("Rabbit7"), "");
  EXPECT_EQ(outcome.client.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(outcome.client.status().message(), "the server requires a password");
  EXPECT_EQ(outcome.server.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(outcome.server.status().message(), HasSubstr("the client left"));
  // Leaving without trying is not a failed attempt.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Run(Options("Rabbit7"), "").client.status().code(),
              absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_FALSE(throttle_.IsLockedOut("10.0.0.1"));
  EXPECT_EQ(throttle_.tracked_sources(), 0u);
}

TEST_F(HandshakeTest, ServerAnswersANewerClientWithTheHighestCommonVersion) {
  // A client that speaks versions up to 7 is answered with the highest
  // version both speak, which it speaks too.
  auto [client, server] = Connect();
  Result<absl::StatusOr<ClientInfo>> server_result;
  ServerHandshake(server, Options(), server_result.Callback());
  client->Start(client_frames_.OnFrame(), client_frames_.OnClose());
  Frame hello;
  hello.mutable_client_hello()->set_protocol_version(7);
  hello.mutable_client_hello()->set_identity("future\\client");
  ASSERT_TRUE(client->Send(hello).ok());

  absl::StatusOr<ClientInfo> result = server_result.Wait();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->protocol_version, kProtocolVersion);
  std::vector<Frame> frames = client_frames_.WaitForFrames(2);
  ASSERT_EQ(frames.size(), 2u);
  ASSERT_TRUE(frames[0].has_server_hello());
  EXPECT_EQ(frames[0].server_hello().protocol_version(), kProtocolVersion);
  EXPECT_TRUE(frames[1].auth_result().ok());
  server->Close(false);
}

TEST_F(HandshakeTest, ServerRefusesAClientWithNoCommonVersionNamingItsOwn) {
  // Version 0 (an unset field) is below every version the server speaks.
  auto [client, server] = Connect();
  Result<absl::StatusOr<ClientInfo>> server_result;
  ServerHandshake(server, Options(), server_result.Callback());
  client->Start(client_frames_.OnFrame(), client_frames_.OnClose());
  Frame hello;
  hello.mutable_client_hello()->set_protocol_version(0);
  hello.mutable_client_hello()->set_identity("ancient\\client");
  ASSERT_TRUE(client->Send(hello).ok());

  absl::StatusOr<ClientInfo> result = server_result.Wait();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  std::optional<absl::Status> closed = client_frames_.WaitForClose();
  ASSERT_TRUE(closed.has_value());
  EXPECT_TRUE(closed->ok());  // the server closed cleanly after its Bye
  std::vector<Frame> frames = client_frames_.WaitForFrames(1);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].bye().reason(),
            "protocol version 0 is not supported; this server speaks version 1");
}

TEST(NegotiateVersionTest, HighestCommonVersionOrNone) {
  EXPECT_EQ(NegotiateVersion(0), 0u);
  EXPECT_EQ(NegotiateVersion(kProtocolVersion), kProtocolVersion);
  EXPECT_EQ(NegotiateVersion(kProtocolVersion + 1), kProtocolVersion);
  EXPECT_EQ(NegotiateVersion(1000), kProtocolVersion);
  EXPECT_EQ(SpokenVersions(), "version 1");
}

TEST_F(HandshakeTest, ClientRefusesAnotherProtocolVersion) {
  auto [client, server] = Connect();
  Result<absl::StatusOr<ServerHello>> client_result;
  server->Start(server_frames_.OnFrame(), server_frames_.OnClose());
  ClientHandshake(client, "box17\\ada", "", client_result.Callback());
  ASSERT_EQ(server_frames_.WaitForFrames(1).size(), 1u);
  Frame hello;
  hello.mutable_server_hello()->set_protocol_version(7);
  ASSERT_TRUE(server->Send(hello).ok());

  absl::StatusOr<ServerHello> result = client_result.Wait();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(result.status().message(),
            "the server speaks protocol version 7; this client speaks version 1");
  std::vector<Frame> frames = server_frames_.WaitForFrames(2);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(frames[1].has_bye());
  server->Close(false);
}

TEST_F(HandshakeTest, ClientReportsTheServersRefusal) {
  auto [client, server] = Connect();
  Result<absl::StatusOr<ServerHello>> client_result;
  server->Start(server_frames_.OnFrame(), server_frames_.OnClose());
  ClientHandshake(client, "box17\\ada", "", client_result.Callback());
  Frame bye;
  bye.mutable_bye()->set_reason(
      "protocol version 1 is not supported; this server speaks version 2");
  ASSERT_TRUE(server->Send(bye).ok());
  server->Close(/*flush=*/true);
  absl::StatusOr<ServerHello> result = client_result.Wait();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr("this server speaks version 2"));
}

TEST_F(HandshakeTest, SilentPeerTimesOut) {
  auto [client, server] = Connect();
  Result<absl::StatusOr<ClientInfo>> server_result;
  ServerHandshakeOptions options = Options("pw");
  options.timeout = absl::Milliseconds(100);
  const absl::Time start = absl::Now();
  ServerHandshake(server, options, server_result.Callback());
  client->Start(client_frames_.OnFrame(), client_frames_.OnClose());

  absl::StatusOr<ClientInfo> result = server_result.Wait();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(server_result.at() - start, absl::Milliseconds(100));
  std::optional<absl::Status> closed = client_frames_.WaitForClose();
  ASSERT_TRUE(closed.has_value());
  std::vector<Frame> frames = client_frames_.WaitForFrames(1);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_THAT(frames[0].bye().reason(), HasSubstr("timed out"));
}

TEST_F(HandshakeTest, PeerSilentAfterHelloTimesOut) {
  auto [client, server] = Connect();
  Result<absl::StatusOr<ClientInfo>> server_result;
  ServerHandshakeOptions options = Options("pw");
  options.timeout = absl::Milliseconds(100);
  ServerHandshake(server, options, server_result.Callback());
  client->Start(client_frames_.OnFrame(), client_frames_.OnClose());
  Frame hello;
  hello.mutable_client_hello()->set_protocol_version(1);
  ASSERT_TRUE(client->Send(hello).ok());
  EXPECT_EQ(server_result.Wait().status().code(),
            absl::StatusCode::kDeadlineExceeded);
  client->Close(false);
}

TEST_F(HandshakeTest, ClientTimesOutOnASilentServer) {
  auto [client, server] = Connect();
  Result<absl::StatusOr<ServerHello>> client_result;
  server->Start(server_frames_.OnFrame(), server_frames_.OnClose());
  ClientHandshake(client, "box17\\ada", "", client_result.Callback(),
                  absl::Milliseconds(100));
  EXPECT_EQ(client_result.Wait().status().code(),
            absl::StatusCode::kDeadlineExceeded);
  server->Close(false);
}

TEST_F(HandshakeTest, FirstFrameMustBeClientHello) {
  auto [client, server] = Connect();
  Result<absl::StatusOr<ClientInfo>> server_result;
  ServerHandshake(server, Options(), server_result.Callback());
  client->Start(client_frames_.OnFrame(), client_frames_.OnClose());
  Frame input;
  input.mutable_input()->set_line("bt");
  ASSERT_TRUE(client->Send(input).ok());

  absl::StatusOr<ClientInfo> result = server_result.Wait();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(), "expected ClientHello, got Input");
  std::vector<Frame> frames = client_frames_.WaitForFrames(1);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].bye().reason(), "expected ClientHello, got Input");
}

TEST_F(HandshakeTest, IdentityWithControlCharactersIsRefused) {
  auto [client, server] = Connect();
  Result<absl::StatusOr<ClientInfo>> server_result;
  ServerHandshake(server, Options(), server_result.Callback());
  client->Start(client_frames_.OnFrame(), client_frames_.OnClose());
  Frame hello;
  hello.mutable_client_hello()->set_protocol_version(1);
  hello.mutable_client_hello()->set_identity("box\\ada\x1b[2J");
  ASSERT_TRUE(client->Send(hello).ok());
  EXPECT_EQ(server_result.Wait().status().code(),
            absl::StatusCode::kInvalidArgument);
  client->Close(false);
}

TEST_F(HandshakeTest, ClientLeavingMidHandshakeIsUnavailable) {
  auto [client, server] = Connect();
  Result<absl::StatusOr<ClientInfo>> server_result;
  ServerHandshake(server, Options("pw"), server_result.Callback());
  client->Start(nullptr, nullptr);
  client->Close(false);
  absl::StatusOr<ClientInfo> result = server_result.Wait();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(result.status().message(), HasSubstr("closed the connection"));
}

// Whatever name the session has, ServerHello fits the frame limit: a name
// over 1 MiB would make every handshake fail.
TEST_F(HandshakeTest, HugeSessionNameIsShortenedToFitServerHello) {
  ServerHandshakeOptions options = Options();
  options.session = std::string(2 << 20, 'n');
  Outcome outcome = Run(std::move(options), "");
  ASSERT_TRUE(outcome.client.ok()) << outcome.client.status();
  ASSERT_TRUE(outcome.server.ok()) << outcome.server.status();
  EXPECT_LE(outcome.client->session().size(), 256u);
  EXPECT_TRUE(absl::StartsWith(outcome.client->session(), "nnnn"));
  EXPECT_TRUE(absl::EndsWith(outcome.client->session(), "\u2026"))  // …
      << outcome.client->session();
}

TEST_F(HandshakeTest, SessionNameIsCutOnACharacterBoundary) {
  ServerHandshakeOptions options = Options();
  std::string name;
  for (int i = 0; i < 200; ++i) name += "\xe2\x82\xac";  // €, 3 bytes each
  options.session = name;
  Outcome outcome = Run(std::move(options), "");
  ASSERT_TRUE(outcome.client.ok()) << outcome.client.status();
  const std::string& got = outcome.client->session();
  EXPECT_LE(got.size(), 256u);
  ASSERT_TRUE(absl::EndsWith(got, "\u2026")) << got;
  const std::string kept = got.substr(0, got.size() - 3);
  EXPECT_EQ(kept.size() % 3, 0u) << got;
  EXPECT_TRUE(absl::StartsWith(name, kept));
}

// The name reaches every client's terminal: control characters (C0, DEL,
// C1) never do.
TEST_F(HandshakeTest, ControlCharactersInTheSessionNameAreReplaced) {
  ServerHandshakeOptions options = Options();
  options.session = "a\x1b]0;owned\x07" "b\x7f" "c\xc2\x9b" "d\t";
  Outcome outcome = Run(std::move(options), "");
  ASSERT_TRUE(outcome.client.ok()) << outcome.client.status();
  const std::string& got = outcome.client->session();
  for (char c : got) {
    const unsigned char byte = static_cast<unsigned char>(c);
    EXPECT_FALSE(byte < 0x20 || byte == 0x7f) << absl::CHexEscape(got);
  }
  EXPECT_THAT(got, Not(HasSubstr("\xc2\x9b")));
  EXPECT_EQ(got, "a\xef\xbf\xbd]0;owned\xef\xbf\xbd" "b\xef\xbf\xbd"
                 "c\xef\xbf\xbd" "d\xef\xbf\xbd");
}

// Bytes that are not UTF-8 would make the client's ServerHello unparsable.
TEST_F(HandshakeTest, BytesThatAreNotUtf8InTheSessionNameAreReplaced) {
  EXPECT_EQ(ShownSessionName("ok\xff\xfe" "x\xe2\x82" "y\xc3\xa9"),
            "ok\xef\xbf\xbd\xef\xbf\xbd" "x\xef\xbf\xbd\xef\xbf\xbd"
            "y\xc3\xa9");
  ServerHandshakeOptions options = Options();
  options.session = "ok\xff";
  Outcome outcome = Run(std::move(options), "");
  ASSERT_TRUE(outcome.client.ok()) << outcome.client.status();
  EXPECT_EQ(outcome.client->session(), "ok\xef\xbf\xbd");
}

// A ServerHello the server cannot send fails the handshake on the server
// with INTERNAL, rather than letting the client in without one.
TEST_F(HandshakeTest, UnsendableServerHelloFailsOnTheServer) {
  ServerHandshakeOptions options = Options();
  options.server_name = std::string(2 << 20, 's');
  Outcome outcome = Run(std::move(options), "");
  EXPECT_FALSE(outcome.client.ok());
  EXPECT_EQ(outcome.server.status().code(), absl::StatusCode::kInternal)
      << outcome.server.status();
  EXPECT_THAT(outcome.server.status().message(), HasSubstr("ServerHello"));
}

}  // namespace
}  // namespace dbgd::protocol
