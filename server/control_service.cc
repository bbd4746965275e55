#include "server/control_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/bearer_auth.h"
#include "server/grpc_status.h"
#include "transports/spec.h"

namespace dbgd::server {
namespace {

// Where the missing behaviour lands; names the issue that owns it.
constexpr absl::string_view kSessions =
    "debugging sessions are not built yet (issue #3)";
constexpr absl::string_view kServers =
    "debugging servers are not built yet (issue #4)";

// A server-streaming reactor that ends the stream at once with `status`.
class FinishedWriter final : public grpc::ServerWriteReactor<v1::Event> {
 public:
  explicit FinishedWriter(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

ControlService::ControlService(std::string token) : token_(std::move(token)) {}

absl::Status ControlService::Authorize(
    const grpc::CallbackServerContext& context) const {
  return CheckBearerToken(context, token_);
}

grpc::ServerUnaryReactor* ControlService::NotBuilt(
    grpc::CallbackServerContext* context, absl::string_view rpc,
    absl::string_view missing) const {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) return FinishUnary(context, auth);
  return FinishUnary(context,
                     absl::UnimplementedError(absl::StrCat(rpc, ": ", missing)));
}

grpc::ServerUnaryReactor* ControlService::CreateSession(
    grpc::CallbackServerContext* context, const v1::CreateSessionRequest*,
    v1::Session*) {
  return NotBuilt(context, "CreateSession", kSessions);
}

grpc::ServerUnaryReactor* ControlService::GetSession(
    grpc::CallbackServerContext* context, const v1::GetSessionRequest*,
    v1::Session*) {
  return NotBuilt(context, "GetSession", kSessions);
}

grpc::ServerUnaryReactor* ControlService::ListSessions(
    grpc::CallbackServerContext* context, const v1::ListSessionsRequest*,
    v1::ListSessionsResponse*) {
  return NotBuilt(context, "ListSessions", kSessions);
}

grpc::ServerUnaryReactor* ControlService::DeleteSession(
    grpc::CallbackServerContext* context, const v1::DeleteSessionRequest*,
    v1::DeleteSessionResponse*) {
  return NotBuilt(context, "DeleteSession", kSessions);
}

grpc::ServerUnaryReactor* ControlService::Execute(
    grpc::CallbackServerContext* context, const v1::ExecuteRequest*,
    v1::ExecuteResponse*) {
  return NotBuilt(context, "Execute", kSessions);
}

grpc::ServerUnaryReactor* ControlService::CreateServer(
    grpc::CallbackServerContext* context, const v1::CreateServerRequest* request,
    v1::Server*) {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) return FinishUnary(context, auth);
  // Validation is complete now, so scripts get the real verdict on a spec
  // even before the transports exist.
  absl::StatusOr<transports::ServerSpec> spec =
      transports::ParseServerSpec(request->spec());
  if (!spec.ok()) {
    // The parser's message names the key; the raw spec is not echoed since
    // it may hold a password.
    return FinishUnary(context, absl::InvalidArgumentError(absl::StrCat(
                                    "spec: ", spec.status().message())));
  }
  return FinishUnary(
      context,
      absl::UnimplementedError(absl::StrCat(
          "CreateServer: spec \"", transports::FormatServerSpec(*spec),
          "\" is valid, but ", kServers, "; the ",
          std::string(transports::TransportName(spec->transport)),
          " transport and the sessions it serves (issue #3) are missing")));
}

grpc::ServerUnaryReactor* ControlService::GetServer(
    grpc::CallbackServerContext* context, const v1::GetServerRequest*,
    v1::Server*) {
  return NotBuilt(context, "GetServer", kServers);
}

grpc::ServerUnaryReactor* ControlService::ListServers(
    grpc::CallbackServerContext* context, const v1::ListServersRequest*,
    v1::ListServersResponse*) {
  return NotBuilt(context, "ListServers", kServers);
}

grpc::ServerUnaryReactor* ControlService::DeleteServer(
    grpc::CallbackServerContext* context, const v1::DeleteServerRequest*,
    v1::DeleteServerResponse*) {
  return NotBuilt(context, "DeleteServer", kServers);
}

grpc::ServerUnaryReactor* ControlService::ListClients(
    grpc::CallbackServerContext* context, const v1::ListClientsRequest*,
    v1::ListClientsResponse*) {
  return NotBuilt(context, "ListClients", kServers);
}

grpc::ServerUnaryReactor* ControlService::DisconnectClient(
    grpc::CallbackServerContext* context, const v1::DisconnectClientRequest*,
    v1::DisconnectClientResponse*) {
  return NotBuilt(context, "DisconnectClient", kServers);
}

grpc::ServerWriteReactor<v1::Event>* ControlService::WatchEvents(
    grpc::CallbackServerContext* context, const v1::WatchEventsRequest*) {
  absl::Status status = Authorize(*context);
  if (status.ok()) {
    status = absl::UnimplementedError(
        absl::StrCat("WatchEvents: ", kSessions));
  }
  return new FinishedWriter(ToGrpcStatus(status));
}

}  // namespace dbgd::server
