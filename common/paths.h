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

namespace dbgd {

// RuntimeDir returns `$XDG_RUNTIME_DIR/dbgd` when that variable is set and
// absolute, else `/run/dbgd`.
std::string RuntimeDir();

// DefaultControlAddress returns `unix:<RuntimeDir()>/control.sock`.
std::string DefaultControlAddress();

// DefaultPipeDir returns `<RuntimeDir()>/pipes`.
std::string DefaultPipeDir();

// kMaxUnixPathLength is the longest path a Unix socket can bind to
// (sizeof(sockaddr_un::sun_path) less the terminating NUL).
inline constexpr size_t kMaxUnixPathLength = 107;

// MakePrivateDirectory creates `path` and any missing parents with mode
// 0700. An existing directory is left as it is. Fails naming the path and
// errno's reason.
absl::Status MakePrivateDirectory(const std::string& path);

}  // namespace dbgd

#endif  // DBGD_COMMON_PATHS_H_
