// WebSocketClient: the client side of one WebSocket (RFC 6455) over bytes
// the caller carries, the counterpart of WebSocketPeer (websocket.h) and fed
// and drained the same way: the bytes the server sent go in through Feed,
// what must be sent to it comes out through the `write` callback. The
// upgrade request, the framing (masking, fragmentation, control frames) and
// the close handshake are websocketpp's client role with its iostream
// transport, so this runs over a plaintext or a TLS stream alike.
//
// It plays the browser in tests of the web transport: browsers are the
// clients of a web server, and dbgd has no client of its own for one.
//
// websocketpp 0.8.2 does not compile as C++20, so this file's .cc is built
// as C++17; this header names standard types only.
//
// Thread-safety: not thread-safe; one strand owns a client. Callbacks run
// inside Start, Feed, SendBinary, SendText or Close, and must not call Feed.

#ifndef DBGD_TRANSPORTS_WEB_WEBSOCKET_CLIENT_H_
#define DBGD_TRANSPORTS_WEB_WEBSOCKET_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dbgd::transports::web {

// ClientUpgrade is the upgrade request a client sends.
struct ClientUpgrade {
  std::string resource = "/ws";
  std::string host;    // the Host header, as sent: "127.0.0.1:8080", "[::1]:8080"
  std::string origin;  // the Origin header; "" sends none
  std::vector<std::string> subprotocols;  // offered, in order; may be empty
};

class WebSocketClient {
 public:
  struct Callbacks {
    // write: bytes to send to the server, in order. Copy them; the pointer
    // is valid only during the call. A false return means the stream is gone.
    std::function<bool(std::string_view bytes)> write;
    // open: the server accepted the upgrade (status 101, a valid
    // Sec-WebSocket-Accept, a subprotocol that was offered, if any);
    // messages may be sent from now on.
    std::function<void()> open;
    // message: one complete binary message. A text message makes the client
    // close with 1003, as the server does: the protocol is binary.
    std::function<void(std::string_view message)> message;
    // closing: the server's close frame arrived, whether it started the
    // close handshake or answered ours; no message follows it. `ended`
    // follows once the connection is over: the server closes it first
    // (PeerGone), or the caller gives up waiting.
    std::function<void(uint16_t code, std::string reason)> closing;
    // ended: the connection is over (a refused upgrade, the close handshake
    // and the stream's end, a failure); `reason` says why for logs. Called
    // once. Whatever `write` was given before is still to be sent.
    std::function<void(std::string reason)> ended;
  };

  // max_message_bytes bounds one received message (larger: close 1009).
  WebSocketClient(Callbacks callbacks, ClientUpgrade upgrade,
                  size_t max_message_bytes);
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // Start sends the upgrade request (through `write`). Once.
  void Start();

  // Feed hands over bytes received from the server. Bytes after the end of
  // the connection are discarded.
  void Feed(const char* data, size_t size);

  // SendBinary / SendText send one message. REQUIRES: open() and !ended().
  void SendBinary(std::string_view message);
  void SendText(std::string_view message);

  // Close starts the close handshake with `code` (1000 normal) and
  // `reason`; before the upgrade completed it ends the connection at once.
  void Close(uint16_t code, const std::string& reason);

  // PeerGone tells the client that the stream is gone (EOF, an error).
  void PeerGone();

  // open: upgraded, and no close frame sent or received yet.
  bool open() const;
  bool ended() const;

  // response_status: the status of the server's answer to the upgrade
  // (101 when it accepted, 403 when it refused, …); 0 before one arrived.
  int response_status() const;
  // subprotocol: the one the server selected; "" when none.
  std::string subprotocol() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace dbgd::transports::web

#endif  // DBGD_TRANSPORTS_WEB_WEBSOCKET_CLIENT_H_
