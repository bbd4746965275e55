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

constexpr char kSearchMethod[] = "SearchServers";

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

DiscoveryService::DiscoveryService(discovery::Registry& registry,
                                   PageLimits limits)
    : registry_(registry), limits_(limits) {}

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
  // Tokens name the host as searched for, so `\\BOX` and `box` share them.
  std::string filter = discovery::NormalizeHost(parsed->host());
  absl::StatusOr<PageRequest> page =
      ParsePageRequest(parsed->page_size(), parsed->page_token(),
                       kSearchMethod, filter, limits_);
  if (!page.ok()) return FinishUnary(context, page.status());
  discovery::SearchQuery query;
  query.host = filter;
  query.after = page->after;
  query.limit = page->size;
  query.max_bytes = kMaxSearchPageBytes;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  asio::post(pool_, [this, reactor, response, query = std::move(query)] {
    absl::StatusOr<discovery::SearchResult> found = registry_.SearchPage(query);
    if (!found.ok()) {
      reactor->Finish(ToGrpcStatus(found.status()));
      return;
    }
    const std::string next =
        found->next.empty()
            ? std::string()
            : MakePageToken(kSearchMethod, query.host, found->next);
    *response = ToByteBuffer(discovery::EncodeSearchResponse(found->entries, next));
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace dbgd::server
