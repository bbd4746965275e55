// dbgd.v1.Control, the control plane (proto/dbgd/v1/control.proto).
//
// Thread-safety: gRPC calls the handlers concurrently; the service holds no
// mutable state of its own (the SessionManager and EventBus are
// thread-safe).

#ifndef DBGD_SERVER_CONTROL_SERVICE_H_
#define DBGD_SERVER_CONTROL_SERVICE_H_

#include <atomic>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "dbgd/v1/control.grpc.pb.h"
#include "server/event_bus.h"
#include "server/metrics.h"
#include "server/page_token.h"
#include "server/recording_store.h"
#include "server/registrar.h"
#include "server/server_manager.h"
#include "server/session_manager.h"

namespace dbgd::server {

// kMaxListPageBytes: a ListSessions page ends before its sessions pass
// this many bytes (docs/pagination.md).
inline constexpr size_t kMaxListPageBytes = 1 << 20;

class ControlService final : public v1::Control::CallbackService {
 public:
  // `token`: bearer token every call must carry; empty = none required.
  // `sessions`, `servers`, `events`, `metrics` (nullable) and `recordings`
  // (nullable: no session is recorded) must outlive the service.
  // `page_limits`: page sizes of the List methods (server/page_token.h).
  ControlService(std::string token, SessionManager& sessions,
                 ServerManager& servers, EventBus& events,
                 Metrics* metrics = nullptr, PageLimits page_limits = {},
                 RecordingStore* recordings = nullptr);

  grpc::ServerUnaryReactor* CreateSession(
      grpc::CallbackServerContext* context,
      const v1::CreateSessionRequest* request, v1::Session* response) override;
  grpc::ServerUnaryReactor* GetSession(grpc::CallbackServerContext* context,
                                       const v1::GetSessionRequest* request,
                                       v1::Session* response) override;
  grpc::ServerUnaryReactor* ListSessions(
      grpc::CallbackServerContext* context,
      const v1::ListSessionsRequest* request,
      v1::ListSessionsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSession(
      grpc::CallbackServerContext* context,
      const v1::DeleteSessionRequest* request,
      v1::DeleteSessionResponse* response) override;
  grpc::ServerUnaryReactor* Execute(grpc::CallbackServerContext* context,
                                    const v1::ExecuteRequest* request,
                                    v1::ExecuteResponse* response) override;
  grpc::ServerUnaryReactor* CreateServer(
      grpc::CallbackServerContext* context,
      const v1::CreateServerRequest* request, v1::Server* response) override;
  grpc::ServerUnaryReactor* GetServer(grpc::CallbackServerContext* context,
                                      const v1::GetServerRequest* request,
                                      v1::Server* response) override;
  grpc::ServerUnaryReactor* ListServers(
      grpc::CallbackServerContext* context,
      const v1::ListServersRequest* request,
      v1::ListServersResponse* response) override;
  grpc::ServerUnaryReactor* DeleteServer(
      grpc::CallbackServerContext* context,
      const v1::DeleteServerRequest* request,
      v1::DeleteServerResponse* response) override;
  grpc::ServerUnaryReactor* ListClients(
      grpc::CallbackServerContext* context,
      const v1::ListClientsRequest* request,
      v1::ListClientsResponse* response) override;
  grpc::ServerUnaryReactor* ListCertificates(
      grpc::CallbackServerContext* context,
      const v1::ListCertificatesRequest* request,
      v1::ListCertificatesResponse* response) override;
  grpc::ServerUnaryReactor* DisconnectClient(
      grpc::CallbackServerContext* context,
      const v1::DisconnectClientRequest* request,
      v1::DisconnectClientResponse* response) override;
  grpc::ServerWriteReactor<v1::Event>* WatchEvents(
      grpc::CallbackServerContext* context,
      const v1::WatchEventsRequest* request) override;
  grpc::ServerWriteReactor<v1::RecordingChunk>* GetRecording(
      grpc::CallbackServerContext* context,
      const v1::GetRecordingRequest* request) override;

 // SetRegistrar names the registrar CreateServer and DeleteServer wait for
  // (Registrar::AwaitHandled), so that a search right after one of them
  // sees it; nullptr (the default) waits for nothing. The registrar must
  // outlive every call made while it is set.
  void SetRegistrar(Registrar* registrar) { registrar_.store(registrar); }

 private:
  // Authorize returns OK when the caller may use the control plane.
  absl::Status Authorize(const grpc::CallbackServerContext& context) const;


  // Constant after construction.
  const std::string token_;
  // Describe completes a session's description with its server count.
  v1::Session Describe(const session::Session& session) const;

  SessionManager& sessions_;
  ServerManager& servers_;
  EventBus& events_;
  Metrics* const metrics_;
  const PageLimits page_limits_;
  RecordingStore* const recordings_;
  std::atomic<Registrar*> registrar_{nullptr};
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_CONTROL_SERVICE_H_
