// The web transport: a debugging server a browser joins. docs/web.md.
//
// A `web:` server is an HTTP server on a TCP port (HTTPS with `proto=` and a
// certificate, exactly as `ssl:`). `GET /` serves the console page, built
// into the binary (web_assets.h); the page opens a WebSocket on `/ws` with
// the subprotocol `dbgd.v1` and speaks the remote protocol over it: one
// serialized Frame per binary message, in both directions. The debugging
// server sees an ordinary Stream carrying the length-prefixed stream
// framing; this transport turns each frame into one message and back.
//
// Security:
// - An upgrade whose Origin is not this server's own (the Host it was
//   reached under) is refused with 403: another site's page cannot open the
//   console in a visitor's browser (cross-site WebSocket hijacking).
// - Plaintext `web:` listens on loopback only, unless the daemon's servers
//   are bound to a loopback address anyway or the spec says `insecure`; with
//   `--server_bind_address` set to another address it is refused.
// - Every response carries a Content Security Policy that allows only this
//   server's own scripts and connections.
// - A connection must finish its upgrade within the TLS handshake timeout;
//   at most kMaxPendingExchanges connections are in their HTTP phase at once.
//
// Thread-safety: as transports/transport.h says.

#ifndef DBGD_TRANSPORTS_WEB_WEB_H_
#define DBGD_TRANSPORTS_WEB_WEB_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "transports/transport_ops.h"

namespace dbgd::transports {

// WebTransport is the web row of the factory's table.
const TransportOps& WebTransport();

namespace web {

// The WebSocket subprotocol the page asks for and the server requires.
inline constexpr char kSubprotocol[] = "dbgd.v1";
// Where the page opens its WebSocket.
inline constexpr char kSocketPath[] = "/ws";
// Connections in their HTTP phase (loading the page, upgrading) at once.
inline constexpr size_t kMaxPendingExchanges = 64;

// SameOrigin says whether a browser's `origin` ("https://box17:8443") names
// the server reached under `host` (the Host header, "box17:8443"): the same
// host, case-insensitively, and the same port, a missing one being the
// scheme's default.
bool SameOrigin(std::string_view origin, std::string_view host);

}  // namespace web
}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_WEB_WEB_H_
