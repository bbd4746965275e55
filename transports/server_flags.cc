// --pipe_mode: a daemon's flag only (dbgremote serves no sockets).

#include <string>

#include "absl/flags/flag.h"
#include "transports/flags.h"

ABSL_FLAG(std::string, pipe_mode, "0600",
          "Octal mode of the npipe sockets this daemon serves (see "
          "--pipe_dir).");

namespace dbgd::transports {

absl::StatusOr<TransportOptions> ServerTransportOptionsFromFlags() {
  TransportOptions options = TransportOptionsFromFlags();
  absl::StatusOr<mode_t> mode = ParsePipeMode(absl::GetFlag(FLAGS_pipe_mode));
  if (!mode.ok()) return mode.status();
  options.pipe_mode = *mode;
  return options;
}

}  // namespace dbgd::transports
