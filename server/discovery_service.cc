#include "server/discovery_service.h"

#include "absl/status/status.h"
#include "server/grpc_status.h"

namespace dbgd::server {

grpc::ServerUnaryReactor* DiscoveryService::SearchServers(
    grpc::CallbackServerContext* context, const v1::SearchServersRequest*,
    v1::SearchServersResponse*) {
  return FinishUnary(context,
                     absl::UnimplementedError(
                         "SearchServers: the discovery registry is not built "
                         "yet (issue #5)"));
}

}  // namespace dbgd::server
