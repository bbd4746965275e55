// The command-line flags that configure transports: --pipe_dir,
// --com_allow, --com_idle_timeout, --user_cert_dir and --machine_cert_dir,
// shared by the daemon and dbgremote
// (both open pipes and serial lines; //transports:flags), and --pipe_mode,
// the mode of the sockets a daemon serves (//transports:server_flags).
//
// Thread-safety: call after absl::ParseCommandLine, from any thread.

#ifndef DBGD_TRANSPORTS_FLAGS_H_
#define DBGD_TRANSPORTS_FLAGS_H_

#include <sys/types.h>

#include <string>

#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "transports/transport_ops.h"

namespace dbgd::transports {

// TransportOptionsFromFlags: the options the shared flags set; pipe_mode
// is left at its default.
TransportOptions TransportOptionsFromFlags();

// ServerTransportOptionsFromFlags: TransportOptionsFromFlags plus
// --pipe_mode, --server_bind_address and --tls_handshake_timeout;
// INVALID_ARGUMENT naming the flag when one is malformed.
// Defined by //transports:server_flags, which the daemon links.
absl::StatusOr<TransportOptions> ServerTransportOptionsFromFlags();

// RemoteFormsUsage: the `-remote` forms of the transports this build has,
// one usage line each after `program` ("dbgremote -remote tcp:server=…").
std::string RemoteFormsUsage(absl::string_view program);

// ParseBindAddress checks --server_bind_address: empty (every interface) or
// an IPv4 or IPv6 address literal, returned in its canonical form.
// INVALID_ARGUMENT naming the flag otherwise (host names are refused: a name
// may resolve to several addresses, or to others tomorrow).
absl::StatusOr<std::string> ParseBindAddress(absl::string_view text);

// ParsePipeMode reads an octal socket mode such as "0660" or "600".
// INVALID_ARGUMENT naming --pipe_mode unless it is octal and at most 0777.
absl::StatusOr<mode_t> ParsePipeMode(absl::string_view text);

}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_FLAGS_H_
