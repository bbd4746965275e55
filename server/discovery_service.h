// dbgd.v1.Discovery, "search for debugging servers" (docs/discovery.md).
//
// Read-only and open to any caller that reaches it: it reveals only what
// `-QR` would. The method is served raw: the registry keeps its entries in
// wire form and the response is their concatenation, so a search over
// 100,000 servers copies bytes, not messages (bench/registry_bench).
// Searches run on a small pool of their own, since an etcd-backed search
// waits on the network and gRPC's callback threads must not.
//
// Paged (AIP-158, server/page_token.h): a response holds at most page_size
// servers and at most about kMaxSearchPageBytes of them, so it stays far
// below gRPC's default 4 MiB receive limit whatever the registry holds.

#ifndef DBGD_SERVER_DISCOVERY_SERVICE_H_
#define DBGD_SERVER_DISCOVERY_SERVICE_H_

#include "asio/thread_pool.hpp"
#include "dbgd/v1/discovery.grpc.pb.h"
#include "discovery/registry.h"
#include "server/page_token.h"

namespace dbgd::server {

// The servers' wire form one page holds at most (one server is always
// returned, and an entry is at most 1 MiB).
inline constexpr size_t kMaxSearchPageBytes = 1 << 20;

class DiscoveryService final
    : public v1::Discovery::WithRawCallbackMethod_SearchServers<
          v1::Discovery::Service> {
 public:
  explicit DiscoveryService(discovery::Registry& registry,
                            PageLimits limits = {});
  // Waits for searches still running.
  ~DiscoveryService() override;

  grpc::ServerUnaryReactor* SearchServers(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;

 private:
  discovery::Registry& registry_;
  const PageLimits limits_;
  asio::thread_pool pool_{2};
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_DISCOVERY_SERVICE_H_
