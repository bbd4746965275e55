// The remote protocol's handshake and password check (docs/protocol.md).
//
//   client                                   server
//   ClientHello{protocol_version, identity} ─►
//                                          ◄─ ServerHello{protocol_version,
//                                               session, auth_required,
//                                               nonce, server_name}
//   AuthResponse{HMAC-SHA256(password, nonce)} ─►   (only if auth_required)
//                                          ◄─ AuthResult{ok, message}
//
// Both sides run over a FrameConnection that the handshake Start()s. On
// success the connection is left open and paused (no frame handler): the
// caller installs its session-phase handlers with SetFrameHandler and
// SetCloseHandler, and frames that arrived meanwhile are delivered to it.
// On failure the connection is closed (after the last frame is written).
//
// `done` is called exactly once, on the connection's executor.

#ifndef DBGD_PROTOCOL_HANDSHAKE_H_
#define DBGD_PROTOCOL_HANDSHAKE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dbgd/v1/wire.pb.h"
#include "protocol/auth_throttle.h"
#include "protocol/frame_connection.h"

namespace dbgd::protocol {

// kLockedOutPrefix starts the AuthResult message a locked-out source gets;
// clients recognise the lockout by it.
inline constexpr char kLockedOutPrefix[] = "too many failed attempts";

// kMaxIdentityBytes bounds ClientHello.identity.
inline constexpr size_t kMaxIdentityBytes = 256;

// kMaxSessionNameBytes bounds ServerHello.session, whatever the session is
// called: every client's handshake fits the frame limit.
inline constexpr size_t kMaxSessionNameBytes = 256;

// ShownSessionName is `name` as ServerHello carries it: control characters
// (C0, DEL, C1) and bytes that are not UTF-8 become U+FFFD, and a name over
// kMaxSessionNameBytes is cut at a character boundary and ends in "…".
std::string ShownSessionName(absl::string_view name);

struct ServerHandshakeOptions {
  // The session's display name, for ServerHello (as ShownSessionName
  // makes it).
  std::string session;
  std::string server_name;  // "servers/N"
  // The server's password; empty: none. Never logged or sent.
  std::string password;
  // ServerHello.read_only: the server's clients are observers.
  bool read_only = false;
  // Shared failure throttle; nullptr: failures are delayed by one second
  // and never lock a source out.
  AuthThrottle* throttle = nullptr;
  // The whole exchange, from Start to the client's last handshake frame,
  // must fit in this time.
  absl::Duration timeout = absl::Seconds(10);
};

// ClientInfo is what the server learns from a successful handshake.
struct ClientInfo {
  std::string identity;  // ClientHello.identity ("host\\user")
  uint32_t protocol_version = 0;
};

using ServerHandshakeDone = std::function<void(absl::StatusOr<ClientInfo>)>;

// ClaimedIdentity is the identity a client claimed (ClientHello.identity)
// before its handshake failed, carried by the failure status for the audit
// trail; empty when the client sent none.
std::string ClaimedIdentity(const absl::Status& failure);

// ServerHandshake runs the server side on `connection`, which must not have
// been started. `options.throttle` must outlive the handshake. Results:
//   - ClientInfo: the client is in (AuthResult{ok=true} was sent);
//   - UNAUTHENTICATED: wrong password (answered after the failure delay);
//   - PERMISSION_DENIED: the source is locked out;
//   - FAILED_PRECONDITION: the client speaks another protocol version (it
//     was sent a Bye naming both);
//   - INVALID_ARGUMENT: the client broke the protocol (it was sent a Bye);
//   - DEADLINE_EXCEEDED: the handshake did not complete within the timeout;
//   - UNAVAILABLE: the client left, or the connection failed;
//   - INTERNAL: the server could not send its ServerHello (the client was
//     sent a Bye saying so). The server's fault, not the client's.
// A lockout is checked only when a password is set: a server without one
// has nothing to guess.
void ServerHandshake(std::shared_ptr<FrameConnection> connection,
                     ServerHandshakeOptions options, ServerHandshakeDone done);

using ClientHandshakeDone =
    std::function<void(absl::StatusOr<v1::wire::ServerHello>)>;

// ClientHandshake runs the client side on `connection`, which must not have
// been started, presenting `identity` and, when the server asks, `password`.
// Results:
//   - the server's ServerHello: in (AuthResult{ok=true} was received);
//   - UNAUTHENTICATED: the server rejected the password (its message);
//   - PERMISSION_DENIED: this source is locked out (the server's message);
//   - FAILED_PRECONDITION: the server requires a password and none was
//     given ("the server requires a password"), or the server refused the
//     handshake with a Bye (its reason, e.g. a protocol version mismatch),
//     or it offered an unsupported protocol version;
//   - INVALID_ARGUMENT: the server broke the protocol;
//   - DEADLINE_EXCEEDED: no answer within `timeout`;
//   - UNAVAILABLE: the connection closed or failed.
void ClientHandshake(std::shared_ptr<FrameConnection> connection,
                     std::string identity, std::string password,
                     ClientHandshakeDone done,
                     absl::Duration timeout = absl::Seconds(30));

}  // namespace dbgd::protocol

#endif  // DBGD_PROTOCOL_HANDSHAKE_H_
