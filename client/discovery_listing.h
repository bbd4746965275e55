// What `dbgremote -QR` and `dbgctl search` share: where to ask, and the
// WinDbg listing of the answer.

#ifndef DBGD_CLIENT_DISCOVERY_LISTING_H_
#define DBGD_CLIENT_DISCOVERY_LISTING_H_

#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "dbgd/v1/discovery.grpc.pb.h"
#include "grpcpp/client_context.h"

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

// SearchAllPages runs `request` and follows its pages (client/pager.h),
// each call with a context from `new_context`, into `all`: every page's
// servers, their hosts once each, no next_page_token.
grpc::Status SearchAllPages(
    v1::Discovery::StubInterface& stub, const v1::SearchServersRequest& request,
    absl::FunctionRef<std::unique_ptr<grpc::ClientContext>()> new_context,
    v1::SearchServersResponse* all);

// FormatServerListing prints WinDbg's listing, one block per host, hosts
// and each host's servers sorted (by name, by endpoint):
//
//   Servers on \\box17:
//   Debugger Server - tcp:Port=53:60,Password=*
//
// `asked_host`, when not empty, gets its block even if it has no servers.
std::string FormatServerListing(const v1::SearchServersResponse& response,
                                const std::string& asked_host);

}  // namespace dbgd::client

#endif  // DBGD_CLIENT_DISCOVERY_LISTING_H_
