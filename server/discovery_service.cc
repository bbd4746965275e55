#include "server/discovery_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "asio/post.hpp"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"
#include "server/grpc_status.h"

namespace dbgd::server {
namespace {

absl::StatusOr<v1::SearchServersRequest> ParseRequest(
    const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  v1::SearchServersRequest request;
  if (!buffer.Dump(&slices).ok()) {
    return absl::InvalidArgumentError("request: cannot be read");
  }
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  if (!request.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(
        "request: not a dbgd.v1.SearchServersRequest");
  }
  return request;
}

// ToByteBuffer hands `bytes` to gRPC without copying them.
grpc::ByteBuffer ToByteBuffer(std::string bytes) {
  auto* owned = new std::string(std::move(bytes));
  grpc::Slice slice(
      owned->data(), owned->size(),
      [](void* user_data) { delete static_cast<std::string*>(user_data); },
      owned);
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace

DiscoveryService::DiscoveryService(discovery::Registry& registry)
    : registry_(registry) {}

DiscoveryService::~DiscoveryService() { pool_.join(); }

grpc::ServerUnaryReactor* DiscoveryService::SearchServers(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  absl::StatusOr<v1::SearchServersRequest> parsed = ParseRequest(*request);
  if (!parsed.ok()) return FinishUnary(context, parsed.status());
  if (absl::Status host = discovery::CheckHostName(parsed->host(), "host");
      !host.ok()) {
    return FinishUnary(context, host);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  asio::post(pool_, [this, reactor, response, host = parsed->host()] {
    absl::StatusOr<std::vector<discovery::EntryPtr>> found =
        registry_.Search(host);
    if (!found.ok()) {
      reactor->Finish(ToGrpcStatus(found.status()));
      return;
    }
    *response = ToByteBuffer(discovery::EncodeSearchResponse(*found));
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace dbgd::server
