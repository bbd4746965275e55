// Daemon: the running dbgd process minus its flags — the gRPC server with
// the Control, Discovery, health and reflection services.
//
// Thread-safety: Start, then Shutdown once; not to be called concurrently.

#ifndef DBGD_SERVER_DAEMON_H_
#define DBGD_SERVER_DAEMON_H_

#include <memory>
#include <string>

#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/event_loop.h"
#include "grpcpp/server.h"
#include "server/control_endpoint.h"
#include "server/control_service.h"
#include "server/discovery_service.h"
#include "server/event_bus.h"
#include "server/server_manager.h"
#include "server/session_manager.h"

namespace dbgd::server {

struct DaemonOptions {
  ControlListenOptions control;
  ServerManagerOptions servers;
  int io_threads = 2;  // threads running the event loop
};

class Daemon {
 public:
  // Start validates `options`, binds the control endpoint and starts serving;
  // health reports SERVING once it returns. Returns the validation error
  // (INVALID_ARGUMENT / FAILED_PRECONDITION naming the flag), ALREADY_EXISTS
  // when another daemon owns the socket, or UNAVAILABLE when the address
  // cannot be bound. Nothing is left behind on failure.
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(
      const DaemonOptions& options);

  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon();

  // CreateSession creates a session as the control plane would and waits
  // for it (used for the start-up session, as `cdb -server … program`).
  absl::StatusOr<v1::Session> CreateSession(
      const v1::CreateSessionRequest& request);

  // CreateServer starts a debugging server as the control plane would.
  absl::StatusOr<v1::Server> CreateServer(const std::string& session,
                                          const std::string& spec);

  // Shutdown marks health NOT_SERVING, ends every session (engines leave
  // their targets, then are killed if they linger), refuses new calls,
  // cancels calls still running after `grace`, and removes the control
  // socket file. Idempotent.
  void Shutdown(absl::Duration grace);

  // The address clients dial, e.g. `unix:/run/dbgd/control.sock` or
  // `127.0.0.1:7700` (with the port actually bound).
  const std::string& control_address() const { return control_address_; }

 private:
  Daemon() = default;

  // Constant after Start.
  ControlEndpoint endpoint_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<EventBus> events_;
  std::unique_ptr<SessionManager> sessions_;
  std::unique_ptr<ServerManager> servers_;
  std::string control_address_;
  std::unique_ptr<ControlService> control_service_;
  std::unique_ptr<DiscoveryService> discovery_service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_DAEMON_H_
