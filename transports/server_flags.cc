// --pipe_mode and --server_bind_address: a daemon's flags only (dbgremote
// serves no sockets).

#include <string>

#include "absl/flags/flag.h"
#include "transports/flags.h"

ABSL_FLAG(std::string, pipe_mode, "0600",
          "Octal mode of the npipe sockets this daemon serves (see "
          "--pipe_dir).");
ABSL_FLAG(std::string, server_bind_address, "",
          "The local address tcp: and ssl: debugging servers listen on, an "
          "IPv4 or IPv6 literal (e.g. 127.0.0.1). Default: every interface, "
          "as WinDbg's servers.");

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
  return options;
}

}  // namespace dbgd::transports
