// Connecting to a dbgd control plane: the channel and per-call context that
// `dbgctl` (and tests) use, honouring the daemon's security modes.

#ifndef DBGD_CLIENT_CONTROL_CHANNEL_H_
#define DBGD_CLIENT_CONTROL_CHANNEL_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace dbgd::client {

struct ControlChannelOptions {
  // `unix:PATH` or `HOST:PORT`.
  std::string address;
  std::string tls_ca_file;     // PEM roots; enables TLS
  std::string tls_cert_file;   // client certificate for mutual TLS
  std::string tls_key_file;
  std::string token_file;      // bearer token sent with every call
  // Who the caller is to a session's clients (`x-dbgd-identity`): up to
  // kMaxIdentityBytes printable ASCII characters; empty: DefaultIdentity()
  // (client/identity.h).
  std::string identity;
};

// kMaxIdentityBytes is the longest identity the daemon takes from a control
// call; it names a longer one by the caller's address instead.
inline constexpr size_t kMaxIdentityBytes = 128;

// ControlChannel is a channel plus what every call on it must carry.
class ControlChannel {
 public:
  // Open validates `options` and reads the files they name. Returns
  // INVALID_ARGUMENT / FAILED_PRECONDITION naming the flag. Does not connect:
  // the first call does.
  static absl::StatusOr<ControlChannel> Open(
      const ControlChannelOptions& options);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // NewContext returns a context with `timeout` as its deadline (none for
  // absl::InfiniteDuration()), the caller's identity and the bearer token,
  // if any, attached.
  std::unique_ptr<grpc::ClientContext> NewContext(absl::Duration timeout) const;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::string identity_;
  std::string token_;
};

}  // namespace dbgd::client

#endif  // DBGD_CLIENT_CONTROL_CHANNEL_H_
