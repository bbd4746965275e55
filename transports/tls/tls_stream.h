// TLS over any Stream: the decorator behind `ssl:` (TLS over tcp) and
// `spipe:` (TLS over the npipe socket), after Envoy's TransportSocket. A
// TlsContext holds what one side presents and trusts; Handshake runs TLS
// (OpenSSL through asio::ssl) over an inner Stream and yields a Stream of the
// plaintext.
//
// The TLS Stream:
// - peer() and source() are the inner stream's; verified_identity() is the
//   verified client certificate's subject on a server that requires one
//   (mTLS), "" otherwise.
// - A peer's close_notify reads as asio::error::eof. An inner stream that
//   ends without one (a peer that died, or an attacker cutting the stream)
//   reads as asio::ssl::error::stream_truncated: a reader can tell a
//   complete stream from a cut one.
// - Close sends close_notify (waiting at most kShutdownTimeout for the
//   write and the peer's answer), then closes the inner stream. A pending
//   read completes with asio::error::operation_aborted at once; a pending
//   write (which close_notify must follow) also does, once it has gone out
//   or the inner stream has closed: within that bound.
// - TLS 1.3's client learns that a server refused its certificate at its
//   first read (the alert comes after the client's handshake is done).
//
// Thread-safety: a TlsContext is immutable and shared freely. Each TLS
// Stream runs on a strand of its own, made on the inner stream's executor,
// and executor() returns that strand. Its methods may be called from any
// one strand at a time (they post onto the stream's); handlers run on the
// stream's strand, so callers dispatch completions back to their own.

#ifndef DBGD_TRANSPORTS_TLS_TLS_STREAM_H_
#define DBGD_TRANSPORTS_TLS_TLS_STREAM_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/any_io_executor.hpp"
#include "transports/transport.h"

namespace dbgd::transports::tls {

// MinVersion is the lowest TLS version a side accepts; TLS 1.3 is always
// the highest. `proto=tls1` and `proto=tls1.2` → kTls12, `tls1.3` → kTls13.
enum class MinVersion { kTls12, kTls13 };

struct ServerTlsConfig {
  std::string chain_pem;  // PEM certificates, leaf first
  std::string key_pem;    // the leaf's private key, unencrypted PEM
  MinVersion min_version = MinVersion::kTls12;
  // client_ca_pem, when non-empty, requires every client to present a
  // certificate issued by one of these CAs (mTLS).
  std::string client_ca_pem;
};

struct ClientTlsConfig {
  // trust_pem: the CA certificates that may issue the server's certificate,
  // or the server's own certificate, pinned (any certificate here is a
  // trust anchor). Required.
  std::string trust_pem;
  // host: the name or IP address the server's certificate must carry;
  // also sent as SNI when it is a name. Required.
  std::string host;
  MinVersion min_version = MinVersion::kTls12;
  // An optional client certificate for mTLS: both or neither.
  std::string client_chain_pem;
  std::string client_key_pem;
};

// TlsContext is one side's TLS configuration (an asio::ssl::context):
// certificates, trust, versions, ciphers. TLS 1.0 and 1.1, compression,
// renegotiation and session resumption are never allowed.
class TlsContext;

// MakeServerContext / MakeClientContext: INVALID_ARGUMENT naming the part
// and OpenSSL's reason ("private key: key values mismatch") when a PEM does
// not load, the key does not match its certificate, or a required field is
// empty.
absl::StatusOr<std::shared_ptr<TlsContext>> MakeServerContext(
    const ServerTlsConfig& config);
absl::StatusOr<std::shared_ptr<TlsContext>> MakeClientContext(
    const ClientTlsConfig& config);

// TlsStream is the Stream Handshake yields.
class TlsStream : public Stream {
 public:
  // tls_version is the negotiated version: "TLSv1.2" or "TLSv1.3".
  virtual std::string tls_version() const = 0;
};

// kShutdownTimeout bounds Close's close_notify exchange.
inline constexpr absl::Duration kShutdownTimeout = absl::Seconds(1);

// Handshake runs the TLS handshake over `inner` (as the server with a server
// context, as the client with a client context) and then calls `done` on
// `executor` with the TlsStream, or with
// - UNAVAILABLE "TLS handshake with <peer> failed: <reason>", the reason
//   being OpenSSL's, with the certificate check's where one failed
//   ("certificate verify failed: unable to get local issuer certificate",
//   "…: hostname mismatch");
// - DEADLINE_EXCEEDED when it took longer than `timeout`;
// - CANCELLED when the inner stream's operations were aborted.
// On failure the inner stream is closed.
void Handshake(std::unique_ptr<Stream> inner,
               std::shared_ptr<TlsContext> context, absl::Duration timeout,
               asio::any_io_executor executor, StreamHandler done);

}  // namespace dbgd::transports::tls

#endif  // DBGD_TRANSPORTS_TLS_TLS_STREAM_H_
