// WebSocketPeer: the server side of one HTTP/1.1 connection that may be
// upgraded to a WebSocket (RFC 6455), with no I/O of its own. The bytes the
// peer sent go in through Feed; what must be sent back comes out through
// the `write` callback. HTTP parsing, the upgrade handshake and WebSocket
// framing (masking, fragmentation, control frames, the close handshake) are
// websocketpp's (Debian's libwebsocketpp-dev, its iostream transport), so
// this runs on whatever stream the caller owns: plaintext tcp or TLS.
//
// websocketpp 0.8.2 does not compile as C++20, so its one user is this
// file's .cc, built as C++17; this header names standard types only.
//
// Thread-safety: not thread-safe; one strand owns a peer. Callbacks run
// inside Feed, SendBinary or Close, and must not call Feed.

#ifndef DBGD_TRANSPORTS_WEB_WEBSOCKET_H_
#define DBGD_TRANSPORTS_WEB_WEBSOCKET_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dbgd::transports::web {

// HttpRequest is what a handler needs of one request.
struct HttpRequest {
  std::string method;    // "GET"
  std::string resource;  // "/app.js?v=1", as sent
  std::string host;      // the Host header
  std::string origin;    // the Origin header, "" when absent
  std::vector<std::string> subprotocols;  // Sec-WebSocket-Protocol, offered
};

// HttpResponse answers a plain request, or refuses an upgrade.
struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// UpgradeDecision: an accepted upgrade names the subprotocol it selects
// ("" for none); a refused one carries the response to send instead.
struct UpgradeDecision {
  bool accept = false;
  std::string subprotocol;
  HttpResponse refusal;
};

class WebSocketPeer {
 public:
  struct Callbacks {
    // write: bytes to send to the peer, in order. Copy them; the pointer is
    // valid only during the call. A false return means the stream is gone.
    std::function<bool(std::string_view bytes)> write;
    // http: a request that is not an upgrade. The connection ends after
    // the response (no keep-alive).
    std::function<HttpResponse(const HttpRequest&)> http;
    // upgrade: a WebSocket upgrade request; decide whether to take it.
    std::function<UpgradeDecision(const HttpRequest&)> upgrade;
    // open: the upgrade completed; messages may be sent from now on.
    std::function<void()> open;
    // message: one complete binary message.
    std::function<void(std::string_view message)> message;
    // ended: the connection is over (after an HTTP response, a close
    // handshake, or a failure); `reason` says why for logs, `clean` is true
    // after a completed close handshake (the peer sends nothing more).
    // Called once. Whatever `write` was given before is still to be sent.
    std::function<void(std::string reason, bool clean)> ended;
  };

  // max_message_bytes bounds one received message (larger: close 1009);
  // text messages are refused (close 1003): the protocol is binary.
  WebSocketPeer(Callbacks callbacks, size_t max_message_bytes);
  ~WebSocketPeer();
  WebSocketPeer(const WebSocketPeer&) = delete;
  WebSocketPeer& operator=(const WebSocketPeer&) = delete;

  // Feed hands over bytes received from the peer. Bytes after the end of
  // the connection are discarded.
  void Feed(const char* data, size_t size);

  // SendBinary sends one binary message. REQUIRES: open() and !ended().
  void SendBinary(std::string_view message);

  // Close starts the close handshake with `code` (1000 normal, 1008 policy)
  // and `reason`; on a connection not upgraded yet it ends it at once.
  void Close(uint16_t code, const std::string& reason);

  // PeerGone tells the peer that the stream is gone (EOF, an error).
  void PeerGone();

  bool open() const;
  bool ended() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace dbgd::transports::web

#endif  // DBGD_TRANSPORTS_WEB_WEBSOCKET_H_
