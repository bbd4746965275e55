#include "protocol/handshake.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "asio/dispatch.hpp"
#include "asio/steady_timer.hpp"
#include "common/utf8.h"
#include "protocol/auth.h"

namespace dbgd::protocol {

// The payload under which a failed handshake's status carries the claimed
// identity.
constexpr char kIdentityPayload[] = "type.dbgd.dev/dbgd.ClaimedIdentity";

std::string ClaimedIdentity(const absl::Status& failure) {
  const auto identity = failure.GetPayload(kIdentityPayload);
  return identity.has_value() ? std::string(*identity) : std::string();
}

std::string ShownSessionName(absl::string_view name) {
  constexpr absl::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD
  constexpr absl::string_view kEllipsis = "\xe2\x80\xa6";     // U+2026 …
  std::string shown;
  size_t cut = absl::string_view::npos;  // where "…" goes if it is too long
  for (size_t at = 0; at < name.size();) {
    const unsigned char lead = static_cast<unsigned char>(name[at]);
    size_t length = lead < 0x80            ? 1
                    : (lead & 0xe0) == 0xc0 ? 2
                    : (lead & 0xf0) == 0xe0 ? 3
                    : (lead & 0xf8) == 0xf0 ? 4
                                            : 1;
    absl::string_view character = name.substr(at, length);
    const bool valid = character.size() == length && IsUtf8(character);
    if (!valid) length = 1;  // one stray byte; resynchronise after it
    const bool control =
        lead < 0x20 || lead == 0x7f ||
        (valid && lead == 0xc2 &&
         static_cast<unsigned char>(character[1]) <= 0x9f);  // C1
    const absl::string_view piece =
        valid && !control ? character : kReplacement;
    at += length;
    if (cut == absl::string_view::npos &&
        shown.size() + piece.size() > kMaxSessionNameBytes - kEllipsis.size()) {
      cut = shown.size();
    }
    if (shown.size() + piece.size() > kMaxSessionNameBytes) {
      shown.resize(cut);
      shown.append(kEllipsis.data(), kEllipsis.size());
      return shown;
    }
    shown.append(piece.data(), piece.size());
  }
  return shown;
}

namespace {

using v1::wire::ServerHello;

// Without a throttle, failures are still delayed by this much.
constexpr absl::Duration kDefaultFailureDelay = absl::Seconds(1);

// BodyName names what a frame holds, for protocol error messages.
std::string BodyName(const Frame& frame) {
  switch (frame.body_case()) {
    case Frame::kClientHello: return "ClientHello";
    case Frame::kServerHello: return "ServerHello";
    case Frame::kAuthResponse: return "AuthResponse";
    case Frame::kAuthResult: return "AuthResult";
    case Frame::kOutput: return "Output";
    case Frame::kNotice: return "Notice";
    case Frame::kInput: return "Input";
    case Frame::kBreak: return "Break";
    case Frame::kBye: return "Bye";
    case Frame::BODY_NOT_SET: break;
  }
  return "an empty or unknown frame";
}

// IsDisplayable: no C0 or C1 control characters, which could drive the
// terminals of the other clients that see this text.
bool IsDisplayable(absl::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) return false;
    if (c == 0xc2 && i + 1 < text.size()) {
      const unsigned char next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return false;  // U+0080..U+009F
    }
  }
  return true;
}

Frame ByeFrame(absl::string_view reason) {
  Frame frame;
  frame.mutable_bye()->set_reason(std::string(reason));
  return frame;
}

Frame AuthResultFrame(bool ok, absl::string_view message) {
  Frame frame;
  frame.mutable_auth_result()->set_ok(ok);
  frame.mutable_auth_result()->set_message(std::string(message));
  return frame;
}

// A peer's clean close during the handshake is still a failure to the
// handshake.
absl::Status ClosedDuringHandshake(const absl::Status& status,
                                   absl::string_view who) {
  if (status.ok()) {
    return absl::UnavailableError(
        absl::StrCat(who, " closed the connection during the handshake"));
  }
  return absl::Status(status.code(),
                      absl::StrCat("during the handshake: ", status.message()));
}

class ServerHandshakeOp final
    : public std::enable_shared_from_this<ServerHandshakeOp> {
 public:
  ServerHandshakeOp(std::shared_ptr<FrameConnection> connection,
                    ServerHandshakeOptions options, ServerHandshakeDone done)
      : connection_(std::move(connection)),
        options_(std::move(options)),
        done_(std::move(done)),
        timeout_timer_(connection_->executor()),
        delay_timer_(connection_->executor()) {}

  void Start() {
    std::shared_ptr<ServerHandshakeOp> self = shared_from_this();
    timeout_timer_.expires_after(absl::ToChronoNanoseconds(options_.timeout));
    timeout_timer_.async_wait([self](std::error_code error) {
      if (!error) self->OnTimeout();
    });
    connection_->Start([self](Frame frame) { self->OnFrame(std::move(frame)); },
                       [self](absl::Status status) { self->OnClose(status); });
  }

 private:
  enum class State { kAwaitHello, kAwaitAuth, kDelaying, kDone };

  void OnFrame(Frame frame) {
    if (state_ != State::kAwaitHello && state_ != State::kAwaitAuth) return;
    if (frame.has_bye()) {
      Fail(absl::UnavailableError(absl::StrCat(
               "the client left during the handshake: ", frame.bye().reason())),
           /*bye=*/"");
      return;
    }
    if (state_ == State::kAwaitHello) {
      OnHello(frame);
    } else {
      OnAuthResponse(frame);
    }
  }

  void OnHello(const Frame& frame) {
    if (!frame.has_client_hello()) {
      ProtocolError(absl::StrCat("expected ClientHello, got ", BodyName(frame)));
      return;
    }
    const v1::wire::ClientHello& hello = frame.client_hello();
    // The client names the highest version it speaks; the connection uses
    // the highest one both speak.
    version_ = NegotiateVersion(hello.protocol_version());
    if (version_ == 0) {
      const std::string reason = absl::StrCat(
          "protocol version ", hello.protocol_version(),
          " is not supported; this server speaks ", SpokenVersions());
      Fail(absl::FailedPreconditionError(reason), reason);
      return;
    }
    if (hello.identity().size() > kMaxIdentityBytes ||
        !IsDisplayable(hello.identity())) {
      ProtocolError(absl::StrCat("ClientHello.identity must be at most ",
                                 kMaxIdentityBytes,
                                 " bytes without control characters"));
      return;
    }
    identity_ = hello.identity();

    const bool auth_required = !options_.password.empty();
    if (auth_required) {
      absl::StatusOr<std::string> nonce = MakeNonce();
      if (!nonce.ok()) {
        Fail(nonce.status(), "internal server error");
        return;
      }
      nonce_ = *std::move(nonce);
    }
    Frame reply;
    ServerHello& server_hello = *reply.mutable_server_hello();
    server_hello.set_protocol_version(version_);
    server_hello.set_session(ShownSessionName(options_.session));
    server_hello.set_auth_required(auth_required);
    server_hello.set_nonce(nonce_);
    server_hello.set_server_name(options_.server_name);
    server_hello.set_read_only(options_.read_only);
    if (absl::Status sent = connection_->Send(reply); !sent.ok()) {
      if (absl::IsFailedPrecondition(sent)) {
        // Closed meanwhile: the client left.
        Fail(absl::UnavailableError(
                 "the client closed the connection during the handshake"),
             /*bye=*/"");
        return;
      }
      // Never let the client in without one: it would fail on its side,
      // and the cause would be seen nowhere.
      Fail(absl::InternalError(
               absl::StrCat("ServerHello could not be sent: ", sent.message())),
           "internal server error: ServerHello could not be sent");
      return;
    }

    if (!auth_required) {
      Succeed();
    } else if (LockedOut()) {
      RefuseLockedOut();
    } else {
      state_ = State::kAwaitAuth;
    }
  }

  void OnAuthResponse(const Frame& frame) {
    if (!frame.has_auth_response()) {
      ProtocolError(absl::StrCat("expected AuthResponse, got ", BodyName(frame)));
      return;
    }
    // Checked again, and the attempt counted before the password is: other
    // connections from this source may have failed since ServerHello, and
    // guesses in parallel must not outrun the limit.
    if (options_.throttle != nullptr &&
        !options_.throttle->TryAttempt(connection_->source())) {
      RefuseLockedOut();
      return;
    }
    if (VerifyMac(options_.password, nonce_, frame.auth_response().mac())) {
      if (options_.throttle != nullptr) {
        options_.throttle->RecordSuccess(connection_->source());
      }
      Succeed();
      return;
    }
    const absl::Duration delay = options_.throttle != nullptr
                                     ? options_.throttle->FailureDelay()
                                     : kDefaultFailureDelay;
    state_ = State::kDelaying;
    timeout_timer_.cancel();
    delay_timer_.expires_after(absl::ToChronoNanoseconds(delay));
    delay_timer_.async_wait(
        [self = shared_from_this()](std::error_code error) {
          if (!error && self->state_ == State::kDelaying) self->RefuseWrongPassword();
        });
  }

  void OnClose(const absl::Status& status) {
    if (state_ == State::kDone) return;
    if (state_ == State::kDelaying) {
      // The failure is recorded; nobody is left to answer.
      Finish(absl::UnauthenticatedError("authentication failed"));
      return;
    }
    Finish(ClosedDuringHandshake(status, "the client"));
  }

  void OnTimeout() {
    if (state_ != State::kAwaitHello && state_ != State::kAwaitAuth) return;
    const std::string after = absl::FormatDuration(options_.timeout);
    Fail(absl::DeadlineExceededError(absl::StrCat(
             "no handshake from ", connection_->peer(), " within ", after)),
         absl::StrCat("handshake timed out after ", after));
  }

  bool LockedOut() const {
    return options_.throttle != nullptr &&
           options_.throttle->IsLockedOut(connection_->source());
  }

  void RefuseLockedOut() {
    const std::string message =
        absl::StrCat(kLockedOutPrefix, " from ", connection_->source(),
                     "; try again later");
    (void)connection_->Send(AuthResultFrame(false, message));
    Fail(absl::PermissionDeniedError(message), /*bye=*/"");
  }

  void RefuseWrongPassword() {
    (void)connection_->Send(AuthResultFrame(false, "authentication failed"));
    Fail(absl::UnauthenticatedError("authentication failed"), /*bye=*/"");
  }

  void ProtocolError(const std::string& reason) {
    Fail(absl::InvalidArgumentError(reason), reason);
  }

  void Succeed() {
    (void)connection_->Send(AuthResultFrame(true, ""));
    // Hold what the client sends next for the session phase's handler.
    connection_->SetFrameHandler(nullptr);
    Finish(ClientInfo{identity_, version_});
  }

  // Fail sends a Bye with `bye` (unless empty), closes the connection once
  // the last frames are written, and reports `status`.
  void Fail(absl::Status status, absl::string_view bye) {
    if (!bye.empty()) (void)connection_->Send(ByeFrame(bye));
    connection_->Close(/*flush=*/true);
    Finish(std::move(status));
  }

  void Finish(absl::StatusOr<ClientInfo> result) {
    if (!result.ok() && !identity_.empty()) {
      absl::Status failure = result.status();
      failure.SetPayload(kIdentityPayload, absl::Cord(identity_));
      result = std::move(failure);
    }
    state_ = State::kDone;
    timeout_timer_.cancel();
    delay_timer_.cancel();
    // Drop the reference: the connection's close handler still holds this
    // op until it closes or the caller installs its own.
    connection_.reset();
    ServerHandshakeDone done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }

  std::shared_ptr<FrameConnection> connection_;  // reset when done
  const ServerHandshakeOptions options_;
  ServerHandshakeDone done_;
  asio::steady_timer timeout_timer_;
  asio::steady_timer delay_timer_;
  State state_ = State::kAwaitHello;
  std::string identity_;
  std::string nonce_;
  uint32_t version_ = 0;  // the version the connection uses
};

class ClientHandshakeOp final
    : public std::enable_shared_from_this<ClientHandshakeOp> {
 public:
  ClientHandshakeOp(std::shared_ptr<FrameConnection> connection,
                    std::string identity, std::string password,
                    ClientHandshakeDone done, absl::Duration timeout)
      : connection_(std::move(connection)),
        identity_(std::move(identity)),
        password_(std::move(password)),
        done_(std::move(done)),
        timeout_(timeout),
        timer_(connection_->executor()) {}

  void Start() {
    std::shared_ptr<ClientHandshakeOp> self = shared_from_this();
    timer_.expires_after(absl::ToChronoNanoseconds(timeout_));
    timer_.async_wait([self](std::error_code error) {
      if (!error) self->OnTimeout();
    });
    Frame hello;
    hello.mutable_client_hello()->set_protocol_version(kProtocolVersion);
    hello.mutable_client_hello()->set_identity(identity_);
    (void)connection_->Send(hello);
    connection_->Start([self](Frame frame) { self->OnFrame(std::move(frame)); },
                       [self](absl::Status status) { self->OnClose(status); });
  }

 private:
  enum class State { kAwaitHello, kAwaitResult, kDone };

  void OnFrame(Frame frame) {
    if (state_ == State::kDone) return;
    if (frame.has_bye()) {
      Fail(absl::FailedPreconditionError(absl::StrCat(
               "the server refused the handshake: ", frame.bye().reason())),
           /*bye=*/"");
      return;
    }
    if (state_ == State::kAwaitHello) {
      OnServerHello(frame);
    } else {
      OnAuthResult(frame);
    }
  }

  void OnServerHello(const Frame& frame) {
    if (!frame.has_server_hello()) {
      ProtocolError(absl::StrCat("expected ServerHello, got ", BodyName(frame)));
      return;
    }
    hello_ = frame.server_hello();
    // The server picks a version at most the client's highest; this client
    // speaks every version from kMinProtocolVersion up to that.
    if (hello_.protocol_version() < kMinProtocolVersion ||
        hello_.protocol_version() > kProtocolVersion) {
      Fail(absl::FailedPreconditionError(absl::StrCat(
               "the server speaks protocol version ", hello_.protocol_version(),
               "; this client speaks ", SpokenVersions())),
           absl::StrCat("protocol version ", hello_.protocol_version(),
                        " is not supported; this client speaks ",
                        SpokenVersions()));
      return;
    }
    if (hello_.auth_required()) {
      if (password_.empty()) {
        Fail(absl::FailedPreconditionError("the server requires a password"),
             "no password given");
        return;
      }
      if (hello_.nonce().size() != kNonceBytes) {
        ProtocolError(absl::StrCat("ServerHello.nonce must be ", kNonceBytes,
                                   " bytes, got ", hello_.nonce().size()));
        return;
      }
      Frame response;
      response.mutable_auth_response()->set_mac(
          ComputeMac(password_, hello_.nonce()));
      (void)connection_->Send(response);
    }
    state_ = State::kAwaitResult;
  }

  void OnAuthResult(const Frame& frame) {
    if (!frame.has_auth_result()) {
      ProtocolError(absl::StrCat("expected AuthResult, got ", BodyName(frame)));
      return;
    }
    const v1::wire::AuthResult& result = frame.auth_result();
    if (result.ok()) {
      // Hold what the server sends next for the session phase's handler.
      connection_->SetFrameHandler(nullptr);
      Finish(std::move(hello_));
      return;
    }
    const std::string message =
        result.message().empty() ? "authentication failed" : result.message();
    Fail(absl::StartsWith(message, kLockedOutPrefix)
             ? absl::PermissionDeniedError(message)
             : absl::UnauthenticatedError(message),
         /*bye=*/"");
  }

  void OnClose(const absl::Status& status) {
    if (state_ == State::kDone) return;
    Finish(ClosedDuringHandshake(status, "the server"));
  }

  void OnTimeout() {
    if (state_ == State::kDone) return;
    const std::string after = absl::FormatDuration(timeout_);
    Fail(absl::DeadlineExceededError(absl::StrCat(
             "no handshake answer from ", connection_->peer(), " within ", after)),
         absl::StrCat("handshake timed out after ", after));
  }

  void ProtocolError(const std::string& reason) {
    Fail(absl::InvalidArgumentError(reason), reason);
  }

  void Fail(absl::Status status, absl::string_view bye) {
    if (!bye.empty()) (void)connection_->Send(ByeFrame(bye));
    connection_->Close(/*flush=*/true);
    Finish(std::move(status));
  }

  void Finish(absl::StatusOr<ServerHello> result) {
    state_ = State::kDone;
    timer_.cancel();
    connection_.reset();
    ClientHandshakeDone done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }

  std::shared_ptr<FrameConnection> connection_;  // reset when done
  const std::string identity_;
  const std::string password_;
  ClientHandshakeDone done_;
  const absl::Duration timeout_;
  asio::steady_timer timer_;
  State state_ = State::kAwaitHello;
  ServerHello hello_;
};

}  // namespace

void ServerHandshake(std::shared_ptr<FrameConnection> connection,
                     ServerHandshakeOptions options, ServerHandshakeDone done) {
  const asio::any_io_executor executor = connection->executor();
  auto op = std::make_shared<ServerHandshakeOp>(
      std::move(connection), std::move(options), std::move(done));
  // The op's timers and state belong to the connection's strand.
  asio::dispatch(executor, [op] { op->Start(); });
}

void ClientHandshake(std::shared_ptr<FrameConnection> connection,
                     std::string identity, std::string password,
                     ClientHandshakeDone done, absl::Duration timeout) {
  const asio::any_io_executor executor = connection->executor();
  auto op = std::make_shared<ClientHandshakeOp>(
      std::move(connection), std::move(identity), std::move(password),
      std::move(done), timeout);
  asio::dispatch(executor, [op] { op->Start(); });
}

}  // namespace dbgd::protocol
