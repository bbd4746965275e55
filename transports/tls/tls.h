// The ssl and spipe transports: TLS (tls_stream.h) over the tcp and npipe
// transports' streams, with the server's certificate from a store
// (cert_store.h). docs/servers.md; docs/tls.md.
//
// - The debugging server is always the TLS server and presents its
//   certificate, whichever side opened the connection: a reverse (`clicon`)
//   ssl server connects out and then accepts the TLS handshake; a client
//   waiting for it runs the client side.
// - A client verifies the server against its `certuser=`/`machuser=` entry
//   (the server's certificate pinned, or a CA that issued it), which it
//   must name, always with host-name checking; there is no fallback to
//   plaintext or to no verification.
// - `clientca=` (server) asks clients for a certificate issued by that CA;
//   `clientcert=` (client) is the one a client shows. The verified subject
//   is the stream's verified_identity().
// - A listener runs its handshakes side by side and hands out only streams
//   whose handshake completed; one that fails (a plaintext client, a bad
//   certificate) is logged and dropped, and the others go on.
// - Every store lookup happens before anything is bound: a bad certificate
//   leaves no listener behind.
//
// Thread-safety: as transports/transport.h says.

#ifndef DBGD_TRANSPORTS_TLS_TLS_H_
#define DBGD_TRANSPORTS_TLS_TLS_H_

#include "absl/status/statusor.h"
#include "transports/spec.h"
#include "transports/tls/cert_store.h"
#include "transports/transport_ops.h"

namespace dbgd::transports {

// SslTransport and SpipeTransport are the ssl and spipe rows of the
// factory's table.
const TransportOps& SslTransport();
const TransportOps& SpipeTransport();

// OpenCertStore opens the store `store` names in `options` (its directory,
// or the default: tls::DefaultUserStore, tls::DefaultMachineStore).
absl::StatusOr<tls::CertStore> OpenCertStore(const TransportOptions& options,
                                             CertStore store);

}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_TLS_TLS_H_
