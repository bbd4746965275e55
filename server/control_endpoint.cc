#include "server/control_endpoint.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/flag_file.h"
#include "common/paths.h"
#include "common/posix_error.h"
#include "grpcpp/security/server_credentials.h"

namespace dbgd::server {
namespace {

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  absl::StatusOr<std::string> token =
      ReadSecretFlagFile("control_token_file", path);
  if (!token.ok()) return token.status();
  std::string trimmed(absl::StripAsciiWhitespace(*token));
  if (trimmed.size() < 16) {
    return absl::FailedPreconditionError(absl::StrCat(
        "control_token_file: the token in ", path,
        " is shorter than 16 characters"));
  }
  return trimmed;
}

}  // namespace

absl::StatusOr<ControlEndpoint> ResolveControlEndpoint(
    const ControlListenOptions& options) {
  ControlEndpoint endpoint;
  if (options.address.empty()) {
    return absl::InvalidArgumentError("control_listen: must not be empty");
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "control_tls_cert, control_tls_key: give both or neither");
  }
  if (!options.client_ca_file.empty() && options.tls_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "control_client_ca: mutual TLS needs control_tls_cert and "
        "control_tls_key");
  }
  if (!options.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadToken(options.token_file);
    if (!token.ok()) return token.status();
    endpoint.token = *std::move(token);
  }

  if (absl::StartsWith(options.address, "unix:")) {
    endpoint.unix_path = options.address.substr(5);
    if (absl::StartsWith(endpoint.unix_path, "//")) {
      endpoint.unix_path = endpoint.unix_path.substr(2);  // unix:///path
    }
    if (endpoint.unix_path.empty()) {
      return absl::InvalidArgumentError("control_listen: unix: needs a path");
    }
    if (endpoint.unix_path.size() > kMaxUnixPathLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          "control_listen: socket path is ", endpoint.unix_path.size(),
          " bytes; Unix sockets allow at most ", kMaxUnixPathLength));
    }
    endpoint.grpc_address = absl::StrCat("unix:", endpoint.unix_path);
  } else {
    if (options.address.rfind(':') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "control_listen: ", options.address,
          " is neither unix:PATH nor HOST:PORT"));
    }
    if (options.tls_cert_file.empty() && endpoint.token.empty() &&
        !options.insecure) {
      return absl::InvalidArgumentError(absl::StrCat(
          "control_listen: TCP address ", options.address,
          " requires TLS (control_tls_cert/control_tls_key) or a bearer "
          "token (control_token_file); pass --insecure_control to accept "
          "plaintext on purpose"));
    }
    endpoint.grpc_address = options.address;
  }

  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert =
        ReadFlagFile("control_tls_cert", options.tls_cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key =
        ReadFlagFile("control_tls_key", options.tls_key_file);
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    if (!options.client_ca_file.empty()) {
      absl::StatusOr<std::string> ca =
          ReadFlagFile("control_client_ca", options.client_ca_file);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
      ssl.client_certificate_request =
          GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    endpoint.credentials = grpc::SslServerCredentials(ssl);
    endpoint.tls = true;
  } else {
    endpoint.credentials = grpc::InsecureServerCredentials();
  }
  return endpoint;
}

absl::Status PrepareUnixSocketPath(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    absl::Status made = MakePrivateDirectory(path.substr(0, slash));
    if (!made.ok()) return made;
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "control_listen: ", path, " exists and is not a socket"));
  }
  // A socket file outlives a daemon that crashed. If something still accepts
  // on it, it is a live daemon and must not be stolen from.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return PosixError("socket(AF_UNIX)", errno);
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const bool live =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  if (live) {
    return absl::AlreadyExistsError(absl::StrCat(
        "control_listen: another daemon is listening on ", path));
  }
  if (::unlink(path.c_str()) != 0) {
    const int error = errno;
    return PosixError(
        absl::StrCat("control_listen: cannot remove stale socket ", path),
        error);
  }
  return absl::OkStatus();
}

}  // namespace dbgd::server
