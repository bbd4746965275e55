// The npipe transport: a `.server npipe:pipe=NAME` server is a Unix domain
// socket named NAME in the daemon's pipe directory (docs/servers.md "npipe").
//
// - The directory is TransportOptions::pipe_dir, else DefaultPipeDir(); a
//   missing one is made (0700, plus search permission for whoever the
//   socket mode lets in). Sockets get TransportOptions::pipe_mode (0600).
// - Names are unique per host, also across daemons sharing the directory:
//   a name whose socket answers is ALREADY_EXISTS; a socket file nobody
//   listens on (left by a crashed daemon) is reclaimed. Claims are made
//   under an flock on `<dir>/.lock`, so two daemons never reclaim at once.
// - A server's printf codes are expanded when it binds: the first to the
//   daemon's PID, a second to the binding thread's ID (pipe_name.h).
// - Closing the listener removes its socket file (only its own: a file
//   someone replaced is left alone).
// - A peer is named by its credentials (SO_PEERCRED): `unix:uid=1000`, which
//   is also its source for the password lockout.
// - A client reaches pipes on this host only: `server=.`, `localhost` or this
//   host's name; another host is INVALID_ARGUMENT suggesting tcp or ssl.
// - There is no reverse (`clicon`) form; links use the stream framing.
//
// Thread-safety: as transports/transport.h says.

#ifndef DBGD_TRANSPORTS_NPIPE_NPIPE_H_
#define DBGD_TRANSPORTS_NPIPE_NPIPE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "transports/transport_ops.h"

namespace dbgd::transports {

// NpipeTransport is the npipe row of the factory's table.
const TransportOps& NpipeTransport();

// ListenNpipe listens on the pipe `pipe_template` names (format codes
// expanded) in the options' pipe directory, as a server does; DialNpipe
// reaches `pipe` there for a client whose `server=` is `server`. The spipe
// transport runs TLS over both.
absl::StatusOr<std::unique_ptr<Listener>> ListenNpipe(
    TransportContext& context, const std::string& pipe_template,
    asio::any_io_executor executor);
absl::StatusOr<std::unique_ptr<Connector>> DialNpipe(
    TransportContext& context, const std::string& server,
    const std::string& pipe, asio::any_io_executor executor);

// DefaultPipeDir: `$XDG_RUNTIME_DIR/dbgd/pipes` when XDG_RUNTIME_DIR is an
// absolute path, else `/run/dbgd/pipes`.
std::string DefaultPipeDir();

// PipeDirOf: the pipe directory `options` configure (pipe_dir, else the
// default), for the transports that use one (npipe, spipe).
std::string PipeDirOf(const TransportOptions& options);

// IsThisHost says whether a client's `server=` names this host: ".",
// "localhost", or this host's name (case-insensitive, also its first label).
bool IsThisHost(const std::string& server);

}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_NPIPE_NPIPE_H_
