// The daemon's own transport flags: --pipe_mode, --server_bind_address and
// --tls_handshake_timeout (dbgremote serves no sockets).

#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "transports/flags.h"

ABSL_FLAG(std::string, pipe_mode, "0600",
          "Octal mode of the npipe sockets this daemon serves (see "
          "--pipe_dir).");
ABSL_FLAG(std::string, server_bind_address, "",
          "The local address tcp: and ssl: debugging servers listen on, an "
          "IPv4 or IPv6 literal (e.g. 127.0.0.1). Default: every interface, "
          "as WinDbg's servers.");
ABSL_FLAG(absl::Duration, tls_handshake_timeout, absl::Seconds(10),
          "How long a client of an ssl: or spipe: server may take to finish "
          "its TLS handshake before it is dropped.");

namespace dbgd::transports {

absl::StatusOr<TransportOptions> ServerTransportOptionsFromFlags() {
  TransportOptions options = TransportOptionsFromFlags();
  absl::StatusOr<mode_t> mode = ParsePipeMode(absl::GetFlag(FLAGS_pipe_mode));
  if (!mode.ok()) return mode.status();
  options.pipe_mode = *mode;
  absl::StatusOr<std::string> bind =
      ParseBindAddress(absl::GetFlag(FLAGS_server_bind_address));
  if (!bind.ok()) return bind.status();
  options.bind_address = *std::move(bind);
  const absl::Duration handshake = absl::GetFlag(FLAGS_tls_handshake_timeout);
  if (handshake <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_handshake_timeout: ", absl::FormatDuration(handshake),
        " is not a positive duration"));
  }
  options.tls_handshake_timeout = handshake;
  return options;
}

}  // namespace dbgd::transports
