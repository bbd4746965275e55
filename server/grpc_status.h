// The one place where absl::Status becomes grpc::Status (STYLE §3).

#ifndef DBGD_SERVER_GRPC_STATUS_H_
#define DBGD_SERVER_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"

namespace dbgd::server {

// ToGrpcStatus keeps the code (absl and gRPC codes are equal) and the message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// FinishUnary completes a unary callback RPC with `status` and returns the
// reactor the handler must return.
grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const absl::Status& status);

}  // namespace dbgd::server

#endif  // DBGD_SERVER_GRPC_STATUS_H_
