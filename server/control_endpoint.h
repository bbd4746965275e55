// Where and how the control plane listens (`--control_listen` and friends).
//
// The default is a Unix socket with mode 0600, reachable only by the
// daemon's user. A TCP address carries full control of every debugged
// process, so it requires TLS (optionally mutual TLS) or a bearer token,
// unless the operator passes `--insecure_control` on purpose.

#ifndef DBGD_SERVER_CONTROL_ENDPOINT_H_
#define DBGD_SERVER_CONTROL_ENDPOINT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace dbgd::server {

struct ControlListenOptions {
  // `unix:PATH` or `HOST:PORT` (`[::1]:PORT`, `0.0.0.0:PORT`).
  std::string address;
  std::string tls_cert_file;   // PEM; with tls_key_file enables TLS
  std::string tls_key_file;
  std::string client_ca_file;  // PEM; requires and verifies client certs
  std::string token_file;      // a bearer token every Control call must carry
  bool insecure = false;       // allow plaintext TCP without a token
};

// ControlEndpoint is a validated listen configuration.
struct ControlEndpoint {
  std::string grpc_address;  // for grpc::ServerBuilder::AddListeningPort
  std::shared_ptr<grpc::ServerCredentials> credentials;
  std::string unix_path;     // the socket file, for a Unix address
  std::string token;         // required bearer token; empty = none
  bool tls = false;
};

// ResolveControlEndpoint validates `options` and loads the files they name.
// Returns INVALID_ARGUMENT naming the flag for a bad combination (TCP without
// TLS or token, a key without a certificate, an over-long socket path), and
// FAILED_PRECONDITION for an unreadable file or a token file others can read.
absl::StatusOr<ControlEndpoint> ResolveControlEndpoint(
    const ControlListenOptions& options);

// PrepareUnixSocketPath makes the socket's directory (mode 0700) and removes
// a stale socket file left by a daemon that died. Returns ALREADY_EXISTS when
// a live daemon still answers on `path`, FAILED_PRECONDITION when `path` is
// something other than a socket.
absl::Status PrepareUnixSocketPath(const std::string& path);

}  // namespace dbgd::server

#endif  // DBGD_SERVER_CONTROL_ENDPOINT_H_
