// A client for web servers, for tests: it reaches a `web:` server the way
// its page does in a browser, and yields a Stream like the one the server
// hands the debugging server. dbgd itself has no such client (browsers are
// a web server's clients); tests dial with this one where another
// transport's tests would use TransportFactory::Dial.
//
// A connection is TCP (the tcp transport), TLS for https (tls_stream.h,
// verifying the server's certificate and name as a browser does), then the
// WebSocket upgrade (websocket_client.h) on /ws with the subprotocol
// dbgd.v1, Host and Origin being the URL's own.
//
// The Stream presents the WebSocket in the stream framing, as the server's
// side does: each binary message received reads as a 4-byte big-endian
// length and the message; each length-prefixed frame written goes out as
// one message, a frame being free to span writes (one over 1 MiB fails the
// write with asio::error::message_size). The server's close frame ends the
// input (asio::error::eof, after what came before it). Close runs the close
// handshake (1000) and closes the connection once the server answered, or
// after kCloseGrace.
//
// Thread-safety: as transports/transport.h says.

#ifndef DBGD_TRANSPORTS_WEB_WEB_DIALER_H_
#define DBGD_TRANSPORTS_WEB_WEB_DIALER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/any_io_executor.hpp"
#include "transports/transport.h"

namespace dbgd::transports::web {

// WebUrl is a web server's address as a browser opens it.
struct WebUrl {
  bool https = false;
  std::string host;  // a name or an address literal, IPv6 without brackets
  uint16_t port = 0;
};

// ParseWebUrl reads a URL as ConnectStringFor gives one for a web server:
// `http://127.0.0.1:8080/`, `https://[::1]:8443/`, `https://localhost:8443`.
// The port is required; a path other than `/` is refused. INVALID_ARGUMENT
// naming what is wrong otherwise.
absl::StatusOr<WebUrl> ParseWebUrl(std::string_view url);

struct WebDialOptions {
  // https: the PEM certificates the server's certificate must chain to (or
  // be, pinned); its name is checked against the URL's host. Required for
  // https.
  std::string trust_pem;
  // How long the TLS handshake, and then the upgrade, may each take.
  absl::Duration timeout = absl::Seconds(10);
};

// How long Close waits for the server's answer to its close frame.
inline constexpr absl::Duration kCloseGrace = absl::Seconds(2);

// DialWeb returns a connector to the web server at `url`. Handlers run on
// `executor`, streams on a strand of `streams`. A failed attempt is
// UNAVAILABLE naming the step and the reason ("upgrade: the server refused
// the upgrade: HTTP 403 Forbidden"), the tcp transport's or the TLS
// handshake's status, DEADLINE_EXCEEDED when the upgrade took longer than
// the timeout, or CANCELLED. INVALID_ARGUMENT (at once) for https without
// trust_pem or a trust that does not load.
absl::StatusOr<std::unique_ptr<Connector>> DialWeb(asio::any_io_executor executor,
                                                   asio::any_io_executor streams,
                                                   const WebUrl& url,
                                                   WebDialOptions options = {});

}  // namespace dbgd::transports::web

#endif  // DBGD_TRANSPORTS_WEB_WEB_DIALER_H_
