// dbgd.v1.Discovery, "search for debugging servers" (DESIGN §3, §6).
//
// Read-only and open to any caller that reaches it: it reveals only what
// `-QR` would.

#ifndef DBGD_SERVER_DISCOVERY_SERVICE_H_
#define DBGD_SERVER_DISCOVERY_SERVICE_H_

#include "dbgd/v1/discovery.grpc.pb.h"

namespace dbgd::server {

class DiscoveryService final : public v1::Discovery::CallbackService {
 public:
  grpc::ServerUnaryReactor* SearchServers(
      grpc::CallbackServerContext* context,
      const v1::SearchServersRequest* request,
      v1::SearchServersResponse* response) override;
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_DISCOVERY_SERVICE_H_
