// RpcMetrics: a gRPC server interceptor that times every call and counts
// it by method and status code into Metrics (dbgd_grpc_server_handled_total,
// dbgd_grpc_server_handling_seconds), so no service handler has to.
//
// Thread-safety: gRPC creates one interceptor per call and runs it on the
// call's threads; Metrics is thread-safe.

#ifndef DBGD_SERVER_RPC_METRICS_H_
#define DBGD_SERVER_RPC_METRICS_H_

#include <memory>
#include <vector>

#include "grpcpp/support/server_interceptor.h"
#include "server/metrics.h"

namespace dbgd::server {

// RpcMetricsInterceptors is the list to hand to
// ServerBuilder::experimental().SetInterceptorCreators. `metrics` must
// outlive the server.
std::vector<
    std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
RpcMetricsInterceptors(Metrics& metrics);

}  // namespace dbgd::server

#endif  // DBGD_SERVER_RPC_METRICS_H_
