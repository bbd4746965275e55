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
#include "common/mutex.h"
#include "discovery/registry.h"
#include "grpcpp/server.h"
#include "server/audit.h"
#include "server/control_endpoint.h"
#include "server/control_service.h"
#include "server/discovery_service.h"
#include "server/event_bus.h"
#include "server/handshake_gate.h"
#include "server/metrics.h"
#include "server/recording_store.h"
#include "server/registrar.h"
#include "server/server_manager.h"
#include "server/session_manager.h"

namespace dbgd::server {

struct DiscoveryOptions {
  // "" or "embedded": this host only; "etcd://h1:2379[,h2:2379]": shared.
  std::string registry;
  absl::Duration registry_ttl = absl::Seconds(10);  // etcd lease TTL
  // etcd over TLS: PEM roots for etcd's certificate; a client certificate
  // and key for etcd's --client-cert-auth. Any of them turns TLS on.
  std::string registry_tls_ca_file;
  std::string registry_tls_cert_file;
  std::string registry_tls_key_file;
  // etcd authentication: a user and the file holding its password (mode
  // 0600 or stricter).
  std::string registry_user;
  std::string registry_password_file;
  // `HOST[:PORT]` for a read-only Discovery service (default port
  // kDefaultDiscoveryPort); empty: only on the control socket.
  std::string listen;
  // TLS for `listen` (PEM); with client_ca_file, mutual TLS. Without a
  // certificate the listener is plaintext, which the log says.
  std::string listen_tls_cert_file;
  std::string listen_tls_key_file;
  std::string listen_client_ca_file;
  // The `daemon` of every entry: where other hosts reach this daemon.
  // Default: advertise_host with the discovery port, when listening.
  std::string advertise_address;
};

struct DaemonOptions {
  ControlListenOptions control;
  ServerManagerOptions servers;  // servers.advertise_host: default host name
  DiscoveryOptions discovery;
  int io_threads = 2;  // threads running the event loop (decision 125)
  // HOST:PORT serving Prometheus metrics at /metrics; empty: off.
  std::string metrics_listen;
  PageLimits pages;    // the List and Search methods' page sizes
  RecordingOptions recordings;  // session recordings (docs/recordings.md)
  // The debugging servers' connection limits, for the whole process.
  ConnectionLimits connections;
};

// The health-check service name that reports whether this daemon's servers
// are registered: SERVING when they are, NOT_SERVING while the registry
// (etcd) cannot be reached. The daemon itself ("") keeps SERVING.
inline constexpr char kRegistryHealthService[] = "dbgd.registry";

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
  // The Discovery service's own address (`--discovery_listen`, with the
  // port actually bound), or empty.
  const std::string& discovery_address() const { return discovery_address_; }
  // Where /metrics is served (`--metrics_listen`, with the port actually
  // bound), or empty.
  std::string metrics_address() const {
    return metrics_ != nullptr ? metrics_->address() : "";
  }

 private:
  Daemon() = default;

  // ListenForDiscovery serves Discovery alone on `address`, with
  // `credentials` (TLS or plaintext).
  absl::Status ListenForDiscovery(
      const std::string& address,
      std::shared_ptr<grpc::ServerCredentials> credentials);
  // MetricsSnapshot reads the state the metrics' gauges show.
  Metrics::Snapshot MetricsSnapshot() const;
  // OnRegistryState reports the registry's state through health.
  void OnRegistryState(const discovery::RegistryState& state);
  void ApplyHealth() ABSL_EXCLUSIVE_LOCKS_REQUIRED(health_mu_);

  // Constant after Start. Declared so that destruction runs users before
  // what they use: the registry outlives the registrar and the service.
  ControlEndpoint endpoint_;
  std::unique_ptr<discovery::Registry> registry_;
  std::unique_ptr<Metrics> metrics_;  // with --metrics_listen only
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<EventBus> events_;
  std::unique_ptr<AuditTrail> audit_;  // records what events_ reports
  std::unique_ptr<RecordingStore> recordings_;  // outlives the sessions
  std::unique_ptr<SessionManager> sessions_;
  std::unique_ptr<ServerManager> servers_;
  std::unique_ptr<Registrar> registrar_;
  std::string control_address_;
  std::string discovery_address_;
  PageLimits pages_;
  std::unique_ptr<ControlService> control_service_;
  std::unique_ptr<DiscoveryService> discovery_service_;
  std::unique_ptr<DiscoveryService> discovery_listen_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> discovery_server_;

  // The registry reports from its own thread, possibly before the servers
  // exist; the last state is kept and applied when they do.
  Mutex health_mu_;
  discovery::RegistryState registry_state_ ABSL_GUARDED_BY(health_mu_);
  bool serving_ ABSL_GUARDED_BY(health_mu_) = false;
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_DAEMON_H_
