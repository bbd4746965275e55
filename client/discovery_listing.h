// What `dbgremote -QR` and `dbgctl search` share: where to ask, and the
// WinDbg listing of the answer.

#ifndef DBGD_CLIENT_DISCOVERY_LISTING_H_
#define DBGD_CLIENT_DISCOVERY_LISTING_H_

#include <string>

#include "absl/status/statusor.h"
#include "dbgd/v1/discovery.pb.h"

namespace dbgd::client {

// Where a search goes and what it asks for.
struct DiscoveryTarget {
  std::string address;  // a gRPC target: unix:PATH or HOST:PORT
  std::string host;     // the host searched for; empty: every host
};

// ResolveDiscoveryTarget: `-QR [\\]HOST[:PORT]` asks HOST's Discovery
// service (default port kDefaultDiscoveryPort) for HOST's servers;
// `--discovery=ADDR` (unix:PATH or HOST[:PORT]) names the daemon to ask
// instead, and then HOST may be empty for every host. INVALID_ARGUMENT when
// neither is given or either is malformed.
absl::StatusOr<DiscoveryTarget> ResolveDiscoveryTarget(
    const std::string& host, const std::string& discovery);

// FormatServerListing prints WinDbg's listing, one block per host:
//
//   Servers on \\box17:
//   Debugger Server - tcp:Port=53:60,Password=*
//
// `asked_host`, when not empty, gets its block even if it has no servers.
std::string FormatServerListing(const v1::SearchServersResponse& response,
                                const std::string& asked_host);

}  // namespace dbgd::client

#endif  // DBGD_CLIENT_DISCOVERY_LISTING_H_
