// Byte-stream transports for debugging servers and clients (DESIGN §2).
//
// Every transport (tcp, npipe, com, ssl, spipe) yields Streams: ordered,
// reliable byte streams on the daemon's event loop. A Listener accepts
// them (a forward server), a Connector makes them (a reverse `clicon`
// server, or a client). The remote protocol (protocol/) runs over any Stream.
//
// Thread-safety: a Stream, Listener or Connector is used from one strand at
// a time (its executor's); handlers run on that executor. Close may be
// called at any time on that strand and makes pending operations complete
// with asio::error::operation_aborted.

#ifndef DBGD_TRANSPORTS_TRANSPORT_H_
#define DBGD_TRANSPORTS_TRANSPORT_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

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
  // handler runs and issues one write at a time.
  virtual void AsyncWrite(asio::const_buffer buffer, IoHandler handler) = 0;

  // Close ends the stream in both directions. Idempotent.
  virtual void Close() = 0;

  // peer names the other end for logs and `.clients`, e.g.
  // "ipv4:127.0.0.1:40112", "ipv6:[::1]:40112", "unix:rabbit".
  virtual std::string peer() const = 0;

  // source identifies the peer's origin for authentication throttling: the
  // IP address without the port ("127.0.0.1"), or the Unix peer's uid.
  virtual std::string source() const = 0;

  virtual asio::any_io_executor executor() = 0;
};

using AcceptHandler =
    std::function<void(std::error_code, std::unique_ptr<Stream>)>;

class Listener {
 public:
  virtual ~Listener() = default;

  // AsyncAccept waits for the next client.
  virtual void AsyncAccept(AcceptHandler handler) = 0;

  // Close stops accepting; streams already accepted are unaffected.
  virtual void Close() = 0;

  // port is the bound port (tcp, ssl), or 0.
  virtual uint16_t port() const = 0;
};

}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_TRANSPORT_H_
