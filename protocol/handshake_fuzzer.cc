// Fuzzes the server side of the handshake (ServerHandshake) with the fuzzer
// as the client, over a real Unix socket pair on one io_context.
//
// Input: one option byte, then a script of steps.
//   option bit 0: the server has a password; bit 1: it shares an
//   AuthThrottle (no failure delay, lockout after 2 failures) across the
//   input's connections, else it has none (the 1 s default delay); bit 2:
//   read-only; bit 3: the session name is the first step's payload.
// Each step is an opcode byte; steps with a payload take a length byte and
// that many bytes (fewer at the end of the input):
//   0 raw bytes            1 a length-prefixed frame with the payload as body
//   2 ClientHello{version 1, identity = payload}
//   3 ClientHello{version = payload's first byte}
//   4 the correct AuthResponse for the nonce received so far (the password
//     challenge passes), or an empty MAC before any ServerHello
//   5 AuthResponse{mac = payload}   6 half-close (the server reads EOF)
//   7 a new connection (the current one is closed and its handshake ends)
//   8 wait past the handshake timeout (once per input)
// After each step the server runs until it has nothing left to do; after
// the script the client closes and the handshake must end within a bound.
//
// Checked for every connection: `done` is called exactly once, within the
// bound; a client gets in only without a password or after it sent the
// right MAC; the client in has a displayable identity within the limit;
// everything the server writes is well-framed: a ServerHello first (with a
// valid UTF-8 session name within its limit, auth_required matching the
// password and a nonce of kNonceBytes when so), AuthResult{ok} only as the
// last frame of a success, a Bye only last; the result's code is one the
// handshake documents.

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asio/io_context.hpp"
#include "google/protobuf/stubs/logging.h"
#include "common/utf8.h"
#include "protocol/auth.h"
#include "protocol/auth_throttle.h"
#include "protocol/frame_codec.h"
#include "protocol/frame_connection.h"
#include "protocol/handshake.h"
#include "protocol/test_streams.h"

namespace dbgd::protocol {
namespace {

constexpr char kPassword[] = "Fuzz1pw";
constexpr absl::Duration kHandshakeTimeout = absl::Milliseconds(20);
// The most one handshake may take after its client has closed.
constexpr auto kEndBound = std::chrono::seconds(5);

void Check(bool invariant, const char* what) {
  if (invariant) return;
  std::fprintf(stderr, "handshake_fuzzer: %s\n", what);
  std::abort();
}

bool Displayable(absl::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) return false;
    if (c == 0xc2 && i + 1 < text.size()) {
      const unsigned char next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return false;
    }
  }
  return true;
}

// Script reads the input.
class Script {
 public:
  Script(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ == size_; }
  uint8_t Byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::string Payload() {
    const size_t wanted = Byte();
    const size_t n = std::min(wanted, size_ - at_);
    std::string bytes(reinterpret_cast<const char*>(data_ + at_), n);
    at_ += n;
    return bytes;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

struct Options {
  bool password = false;
  bool read_only = false;
  std::string session = "fuzz session";
  AuthThrottle* throttle = nullptr;
};

// Client is one connection: the fuzzer's end of the socket pair, and what
// it has seen of the server's handshake.
class Client {
 public:
  Client(asio::io_context& context, const Options& options)
      : context_(context), options_(options) {
    auto [ours, theirs] = testing::SocketPair(context);
    socket_ = std::make_unique<testing::UnixSocket>(std::move(ours));
    connection_ = FrameConnection::Create(
        testing::WrapSocket(std::move(theirs), "fuzzpeer"),
        MakeLengthPrefixedCodec());
    ServerHandshakeOptions server;
    server.session = options.session;
    server.server_name = "servers/1";
    server.password = options.password ? kPassword : "";
    server.read_only = options.read_only;
    server.throttle = options.throttle;
    server.timeout = kHandshakeTimeout;
    ServerHandshake(connection_, std::move(server),
                    [this](absl::StatusOr<ClientInfo> result) {
                      ++done_calls_;
                      result_ = std::move(result);
                    });
    Run();
  }

  void Send(absl::string_view bytes) {
    if (closed_) return;
    while (!bytes.empty()) {
      const ssize_t n = ::send(socket_->native_handle(), bytes.data(),
                               bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n <= 0) return;  // the server closed, or it stopped reading
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  void SendFrame(const Frame& frame) { Send(EncodeFrame(frame)); }

  void SendCorrectMac() {
    Frame frame;
    frame.mutable_auth_response()->set_mac(
        nonce_.has_value() ? ComputeMac(kPassword, *nonce_) : "");
    if (nonce_.has_value()) sent_correct_mac_ = true;
    SendFrame(frame);
  }

  void HalfClose() {
    if (closed_) return;
    ::shutdown(socket_->native_handle(), SHUT_WR);
  }

  // Run lets the server do all it can now, then reads what it wrote.
  void Run() {
    context_.restart();
    context_.poll();
    Read();
  }

  void WaitPastTimeout() {
    context_.restart();
    context_.run_for(absl::ToChronoMilliseconds(kHandshakeTimeout) +
                     std::chrono::milliseconds(5));
    Read();
  }

  // End closes the client's end and waits for the handshake to end; then
  // checks it.
  void End() {
    Read();
    closed_ = true;
    std::error_code ignored;
    socket_->close(ignored);
    const auto deadline = std::chrono::steady_clock::now() + kEndBound;
    context_.restart();
    while (done_calls_ == 0 && std::chrono::steady_clock::now() < deadline) {
      context_.run_one_for(std::chrono::milliseconds(10));
      context_.restart();
    }
    Check(done_calls_ == 1, "the handshake did not end after its client left");
    if (result_->ok()) {
      connection_->Close(/*flush=*/false);
    }
    connection_.reset();
    // Everything the connection still has to do finishes now.
    while (!context_.stopped() && std::chrono::steady_clock::now() < deadline) {
      context_.run_one_for(std::chrono::milliseconds(10));
    }
    Check(context_.stopped(), "the connection did not wind down");
    Check(done_calls_ == 1, "done was called more than once");
    CheckResult();
  }

 private:
  void Read() {
    if (closed_) return;
    char buffer[4096];
    while (true) {
      const ssize_t n =
          ::recv(socket_->native_handle(), buffer, sizeof buffer, MSG_DONTWAIT);
      if (n <= 0) break;
      decoder_.Append(absl::string_view(buffer, static_cast<size_t>(n)));
    }
    while (true) {
      absl::StatusOr<std::optional<Frame>> next = decoder_.Next();
      Check(next.ok(), "the server wrote a malformed frame");
      if (!next->has_value()) break;
      OnServerFrame(**next);
    }
  }

  void OnServerFrame(const Frame& frame) {
    Check(!saw_bye_, "the server wrote after its Bye");
    Check(!saw_ok_, "the server wrote after letting the client in");
    if (frame.has_bye()) {
      saw_bye_ = true;
      return;
    }
    if (frame.has_server_hello()) {
      Check(!saw_hello_, "a second ServerHello");
      saw_hello_ = true;
      const v1::wire::ServerHello& hello = frame.server_hello();
      Check(hello.protocol_version() == kProtocolVersion, "ServerHello version");
      Check(hello.session().size() <= kMaxSessionNameBytes &&
                IsUtf8(hello.session()),
            "ServerHello.session outside its rules");
      Check(hello.auth_required() == options_.password,
            "auth_required disagrees with the password");
      Check(hello.read_only() == options_.read_only, "read_only");
      if (hello.auth_required()) {
        Check(hello.nonce().size() == kNonceBytes, "the nonce's size");
        nonce_ = hello.nonce();
      } else {
        Check(hello.nonce().empty(), "a nonce without a password");
      }
      return;
    }
    Check(frame.has_auth_result(), "the server wrote a non-handshake frame");
    Check(saw_hello_, "AuthResult before ServerHello");
    if (frame.auth_result().ok()) saw_ok_ = true;
  }

  void CheckResult() {
    const absl::StatusOr<ClientInfo>& result = *result_;
    if (result.ok()) {
      Check(!options_.password || sent_correct_mac_,
            "a client got in without the password");
      Check(saw_hello_ && saw_ok_, "success without ServerHello and AuthResult");
      Check(result->identity.size() <= kMaxIdentityBytes &&
                Displayable(result->identity),
            "the identity let in breaks its rules");
      Check(result->protocol_version == kProtocolVersion, "protocol_version");
      return;
    }
    Check(!saw_ok_, "AuthResult{ok} sent, but the handshake failed");
    switch (result.status().code()) {
      case absl::StatusCode::kUnauthenticated:
      case absl::StatusCode::kPermissionDenied:
        Check(options_.password, "an auth failure without a password");
        break;
      case absl::StatusCode::kFailedPrecondition:
      case absl::StatusCode::kInvalidArgument:
      case absl::StatusCode::kDeadlineExceeded:
      case absl::StatusCode::kUnavailable:
        break;
      default:
        Check(false, "a result code the handshake does not document");
    }
  }

  asio::io_context& context_;
  const Options& options_;
  std::unique_ptr<testing::UnixSocket> socket_;
  std::shared_ptr<FrameConnection> connection_;
  bool closed_ = false;
  int done_calls_ = 0;
  std::optional<absl::StatusOr<ClientInfo>> result_;
  FrameDecoder decoder_;
  std::optional<std::string> nonce_;
  bool sent_correct_mac_ = false;
  bool saw_hello_ = false;
  bool saw_ok_ = false;
  bool saw_bye_ = false;
};

}  // namespace
}  // namespace dbgd::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dbgd::protocol;
  if (size == 0) return 0;
  // Protobuf logs every invalid UTF-8 string it refuses; that is expected
  // here and only slows the run.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  Script script(data, size);
  const uint8_t flags = script.Byte();
  Options options;
  options.password = (flags & 1) != 0;
  options.read_only = (flags & 4) != 0;
  if ((flags & 8) != 0) options.session = script.Payload();
  std::optional<AuthThrottle> throttle;
  if ((flags & 2) != 0) {
    AuthThrottleOptions throttle_options;
    throttle_options.failure_delay = absl::ZeroDuration();
    throttle_options.max_failures = 2;
    const absl::Time now = absl::Now();
    throttle_options.clock = [now] { return now; };
    throttle.emplace(throttle_options);
    options.throttle = &*throttle;
  }

  asio::io_context context;
  auto client = std::make_unique<Client>(context, options);
  bool waited = false;
  int connections = 1;
  while (!script.done()) {
    const uint8_t op = script.Byte() % 9;
    switch (op) {
      case 0:
        client->Send(script.Payload());
        break;
      case 1: {
        const std::string body = script.Payload();
        std::string framed(kFrameHeaderBytes, '\0');
        framed[3] = static_cast<char>(body.size());
        client->Send(framed + body);
        break;
      }
      case 2: {
        Frame frame;
        frame.mutable_client_hello()->set_protocol_version(kProtocolVersion);
        frame.mutable_client_hello()->set_identity(script.Payload());
        client->SendFrame(frame);
        break;
      }
      case 3: {
        const std::string payload = script.Payload();
        Frame frame;
        frame.mutable_client_hello()->set_protocol_version(
            payload.empty() ? 0 : static_cast<uint8_t>(payload[0]));
        client->SendFrame(frame);
        break;
      }
      case 4:
        client->SendCorrectMac();
        break;
      case 5: {
        Frame frame;
        frame.mutable_auth_response()->set_mac(script.Payload());
        client->SendFrame(frame);
        break;
      }
      case 6:
        client->HalfClose();
        break;
      case 7:
        // Bounded, so that one input cannot open sockets without end.
        if (connections < 8) {
          client->End();
          client = std::make_unique<Client>(context, options);
          ++connections;
        }
        break;
      case 8:
        if (!waited) client->WaitPastTimeout();
        waited = true;
        break;
    }
    client->Run();
  }
  client->End();
  return 0;
}
