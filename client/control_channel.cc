#include "client/control_channel.h"

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/identity.h"
#include "common/flag_file.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace dbgd::client {

absl::StatusOr<ControlChannel> ControlChannel::Open(
    const ControlChannelOptions& options) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("addr: must not be empty");
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls_cert, tls_key: give both or neither");
  }
  ControlChannel result;
  result.identity_ = options.identity.empty() ? DefaultIdentity() : options.identity;
  // It travels as a gRPC metadata value, which must be printable ASCII.
  if (result.identity_.size() > kMaxIdentityBytes ||
      absl::c_any_of(result.identity_, [](unsigned char c) { return c < 0x20 || c > 0x7e; })) {
    return absl::InvalidArgumentError(absl::StrCat("identity: must be 1 to ", kMaxIdentityBytes,
                                                   " printable ASCII characters"));
  }
  if (!options.token_file.empty()) {
    absl::StatusOr<std::string> token =
        ReadFlagFile("token_file", options.token_file);
    if (!token.ok()) return token.status();
    result.token_ = std::string(absl::StripAsciiWhitespace(*token));
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (!options.tls_ca_file.empty() || !options.tls_cert_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca_file.empty()) {
      absl::StatusOr<std::string> ca = ReadFlagFile("tls_ca", options.tls_ca_file);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    if (!options.tls_cert_file.empty()) {
      absl::StatusOr<std::string> cert =
          ReadFlagFile("tls_cert", options.tls_cert_file);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key =
          ReadFlagFile("tls_key", options.tls_key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  // A search over every host can answer with tens of megabytes.
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(-1);
  result.channel_ =
      grpc::CreateCustomChannel(options.address, credentials, arguments);
  return result;
}

std::unique_ptr<grpc::ClientContext> ControlChannel::NewContext(
    absl::Duration timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  // Shown to a session's clients when this caller runs a command.
  context->AddMetadata("x-dbgd-identity", identity_);
  if (!token_.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", token_));
  }
  return context;
}

}  // namespace dbgd::client
