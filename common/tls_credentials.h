// TlsCredentials: gRPC TLS credentials, client and server side, built from
// the PEM files that flags name (--registry_tls_*, --discovery_tls_*,
// dbgremote's --discovery_tls_*), with errors that name the flag.
//
// Each file is read and parsed here, so that a wrong path or a file that
// holds no certificate fails at start-up naming the flag, rather than as a
// handshake failure on the first call.
//
// Thread-safety: pure functions; safe to call concurrently.

#ifndef DBGD_COMMON_TLS_CREDENTIALS_H_
#define DBGD_COMMON_TLS_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace dbgd {

// FlagPath is a file and the flag that named it; an empty path: not given.
struct FlagPath {
  std::string flag;
  std::string path;
};

struct ClientTlsFiles {
  FlagPath ca;    // roots for the server's certificate; empty: the system's
  FlagPath cert;  // client certificate (leaf first, chain allowed): mTLS
  FlagPath key;   // its private key

  // any tells whether TLS was asked for at all.
  bool any() const {
    return !ca.path.empty() || !cert.path.empty() || !key.path.empty();
  }
};

struct ServerTlsFiles {
  FlagPath cert;       // server certificate (leaf first, chain allowed)
  FlagPath key;        // its private key
  FlagPath client_ca;  // when given, clients must present a certificate
                       // that it signs (mutual TLS)
};

// ClientTlsCredentials: TLS that verifies the server against `files.ca`
// and presents `files.cert` when given. INVALID_ARGUMENT naming the flag
// for a certificate without a key or a key without a certificate;
// FAILED_PRECONDITION naming the flag and the path for a file that cannot
// be read or holds no PEM certificate (or key).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientTlsCredentials(
    const ClientTlsFiles& files);

// ServerTlsCredentials: TLS with `files.cert`, and mutual TLS when
// `files.client_ca` is given. Errors as for ClientTlsCredentials; a
// client CA without a certificate is INVALID_ARGUMENT.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerTlsCredentials(
    const ServerTlsFiles& files);

}  // namespace dbgd

#endif  // DBGD_COMMON_TLS_CREDENTIALS_H_
