// Byte-stream transports for debugging servers and clients (docs/architecture.md).
//
// Every transport (tcp, npipe, com, ssl, spipe) yields Streams: ordered,
// reliable byte streams on the daemon's event loop. A Listener accepts
// them (a forward server, or a client waiting for a reverse server); a
// Connector makes them (a reverse `clicon` server, or a client dialling).
// The remote protocol (protocol/) runs over any Stream, framed by the codec
// the transport names (transports/transport_ops.h). Listeners and
// Connectors are made by the TransportFactory (transports/factory.h) from a
// parsed `.server` / `-remote` string; nothing outside transports/ names a
// transport.
//
// Thread-safety: a Stream, Listener or Connector is used from one strand at
// a time; Listener and Connector handlers run on the executor they were
// made with, Stream handlers on the stream's executor(). Close (Cancel) may
// be called at any time on that strand and makes pending operations
// complete with asio::error::operation_aborted (CANCELLED).

#ifndef DBGD_TRANSPORTS_TRANSPORT_H_
#define DBGD_TRANSPORTS_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "asio/buffer.hpp"

namespace dbgd::transports {

using IoHandler = std::function<void(std::error_code, size_t)>;

class Stream {
 public:
  virtual ~Stream() = default;

  // AsyncReadSome reads at least one byte into `buffer` (or fails: EOF is
  // asio::error::eof).
  virtual void AsyncReadSome(asio::mutable_buffer buffer, IoHandler handler) = 0;

  // AsyncWrite writes all of `buffer`; the caller keeps it alive until the
  // handler runs and issues one write at a time. What is written is the
  // protocol's stream framing (length-prefixed frames, as FrameConnection
  // writes them): byte-stream transports carry any bytes, but a serial
  // line sends each whole frame as one packet, so a frame's length above
  // the 1 MiB limit fails the write (asio::error::message_size).
  virtual void AsyncWrite(asio::const_buffer buffer, IoHandler handler) = 0;

  // AsyncWriteSome writes at least one byte of `buffer` (or fails) and
  // reports how many; the same rules as AsyncWrite otherwise. A transport
  // that sends a frame as one unit (a serial line's packet, a WebSocket
  // message) writes all of it, as AsyncWrite.
  virtual void AsyncWriteSome(asio::const_buffer buffer, IoHandler handler) {
    AsyncWrite(buffer, std::move(handler));
  }

  // Close ends the stream in both directions. Idempotent.
  virtual void Close() = 0;

  // Abort ends the stream at once, for a peer given up on: what it has not
  // yet received is discarded where the transport can (a TCP reset), so
  // the peer sees the connection break rather than an orderly end after a
  // cut frame. Idempotent; by default, Close.
  virtual void Abort() { Close(); }

  // peer names the other end for logs and `.clients`, e.g.
  // "ipv4:127.0.0.1:40112", "ipv6:[::1]:40112", "unix:uid=1000".
  virtual std::string peer() const = 0;

  // source identifies the peer's origin for authentication throttling: the
  // IP address without the port ("127.0.0.1"), or the Unix peer's uid.
  virtual std::string source() const = 0;

  // verified_identity is the subject of the certificate the peer proved it
  // holds, one line ("CN=alice"): a TLS server's mTLS client. "" where no
  // peer identity was verified.
  virtual std::string verified_identity() const { return ""; }

  // executor: where the stream's handlers run. Streams made by a listener
  // or connector run on the event loop itself, not on their maker's strand,
  // so that each connection can be served on a strand of its own.
  virtual asio::any_io_executor executor() = 0;
};

// Endpoint is what a running listener or connector actually uses: what a
// server's `actual_endpoint` (`tcp:Port=53:60`) and connect string are made
// from. Each transport fills the fields that apply to it.
struct Endpoint {
  uint16_t port = 0;    // tcp, ssl: the bound port, or the port dialled
  std::string pipe;     // npipe, spipe: the pipe name, format codes expanded
  std::string device;   // com: the tty's path
  uint32_t baud = 0;    // com: the rate the line was actually set to
  uint8_t channel = 0;  // com: the channel on the line
  // web: the one local address a server listens on when it is not every
  // interface (a plaintext web server stays on loopback), e.g. "127.0.0.1";
  // its URL names this address.
  std::string address;
  // What setting the endpoint up has to report, or empty: e.g. IcfEnable's
  // outcome ("IcfEnable: tcp port 5005 is open in …", "IcfEnable skipped: …").
  std::string note;
};

// StreamHandler receives a new stream, or why none came: CANCELLED after
// Close/Cancel, else the transport's error naming what failed.
using StreamHandler =
    std::function<void(absl::StatusOr<std::unique_ptr<Stream>>)>;

class Listener {
 public:
  virtual ~Listener() = default;

  // AsyncAccept waits for the next peer. One accept at a time. An error
  // other than CANCELLED concerns that one attempt (a failed TLS handshake)
  // and the listener goes on, except ABORTED: the listener can accept
  // nothing more (its serial line failed), and its owner stops asking.
  virtual void AsyncAccept(StreamHandler handler) = 0;

  // Close stops accepting and releases what the listener holds (its port,
  // its socket file); streams already accepted are unaffected. Idempotent.
  virtual void Close() = 0;

  // endpoint: where the listener listens.
  virtual const Endpoint& endpoint() const = 0;

  // damaged_packets: traffic the listener's link dropped as damaged so far
  // (a serial line's noise); 0 where the transport cannot lose bytes.
  virtual uint64_t damaged_packets() const { return 0; }
};

class Connector {
 public:
  virtual ~Connector() = default;

  // AsyncConnect makes one attempt to reach the peer. One at a time;
  // retrying is the caller's policy (server/redialer.h).
  virtual void AsyncConnect(StreamHandler handler) = 0;

  // Cancel aborts an attempt in progress. Idempotent.
  virtual void Cancel() = 0;

  // endpoint: where the connector dials.
  virtual const Endpoint& endpoint() const = 0;

  // target names the peer for messages, e.g. "box17:5005".
  virtual std::string target() const = 0;
};

}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_TRANSPORT_H_
