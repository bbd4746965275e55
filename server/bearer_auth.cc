#include "server/bearer_auth.h"

#include <openssl/crypto.h>

#include <string_view>

namespace dbgd::server {

absl::Status CheckBearerToken(const grpc::ServerContextBase& context,
                              const std::string& expected) {
  if (expected.empty()) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "this control endpoint requires `authorization: Bearer <token>`");
  }
  constexpr std::string_view kScheme = "Bearer ";
  std::string_view value(it->second.data(), it->second.size());
  if (value.substr(0, kScheme.size()) != kScheme) {
    return absl::UnauthenticatedError("authorization: expected a Bearer token");
  }
  std::string_view token = value.substr(kScheme.size());
  if (token.size() != expected.size() ||
      CRYPTO_memcmp(token.data(), expected.data(), expected.size()) != 0) {
    return absl::UnauthenticatedError("authorization: bearer token rejected");
  }
  return absl::OkStatus();
}

}  // namespace dbgd::server
