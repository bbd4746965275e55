// Bearer-token check for the control plane over TCP.

#ifndef DBGD_SERVER_BEARER_AUTH_H_
#define DBGD_SERVER_BEARER_AUTH_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/server_context.h"

namespace dbgd::server {

// CheckBearerToken returns OK when `expected` is empty (no token configured)
// or the call carries `authorization: Bearer <expected>`; UNAUTHENTICATED
// otherwise. The comparison takes the same time wherever the tokens differ.
absl::Status CheckBearerToken(const grpc::ServerContextBase& context,
                              const std::string& expected);

}  // namespace dbgd::server

#endif  // DBGD_SERVER_BEARER_AUTH_H_
