// Default locations shared by the daemon and its command-line clients.
//
// A daemon started by a user keeps its sockets under that user's
// $XDG_RUNTIME_DIR; a system daemon (no XDG_RUNTIME_DIR) under /run. Both
// sides compute the same defaults, so `dbgctl` finds `dbgd` without flags.

#ifndef DBGD_COMMON_PATHS_H_
#define DBGD_COMMON_PATHS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dbgd {

// RuntimeDir returns `$XDG_RUNTIME_DIR/dbgd` when that variable is set and
// absolute, else `/run/dbgd`.
std::string RuntimeDir();

// DefaultControlAddress returns `unix:<RuntimeDir()>/control.sock`.
std::string DefaultControlAddress();

// DefaultPipeDir returns `<RuntimeDir()>/pipes`.
std::string DefaultPipeDir();

// kDefaultDiscoveryPort is the TCP port of the read-only Discovery service
// (`dbgd --discovery_listen=HOST`, `dbgremote -QR HOST`) when none is given.
inline constexpr int kDefaultDiscoveryPort = 7701;

// HostName returns this machine's host name, or "localhost" when it has none.
std::string HostName();

// WithDefaultPort turns `HOST`, `HOST:PORT`, `[V6]`, `[V6]:PORT` or a bare
// IPv6 address into `HOST:PORT` / `[V6]:PORT`, adding `default_port` when
// none is given. INVALID_ARGUMENT naming `what` for an empty host or a port
// outside 0..65535.
absl::StatusOr<std::string> WithDefaultPort(absl::string_view address,
                                            int default_port,
                                            absl::string_view what);

// kMaxUnixPathLength is the longest path a Unix socket can bind to
// (sizeof(sockaddr_un::sun_path) less the terminating NUL).
inline constexpr size_t kMaxUnixPathLength = 107;

// MakePrivateDirectory creates `path` and any missing parents with mode
// 0700. An existing directory is left as it is. Fails with mkdir's errno as
// PosixError maps it, naming the directory, or with FAILED_PRECONDITION when
// `path` exists and is not a directory.
absl::Status MakePrivateDirectory(const std::string& path);

}  // namespace dbgd

#endif  // DBGD_COMMON_PATHS_H_
