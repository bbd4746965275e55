// ServerManager: the daemon's debugging servers (`.server`, `.servers`,
// `.endsrv`, `.clients`), numbered from 0 per daemon.
//
// Thread-safety: all methods may be called from any thread.

#ifndef DBGD_SERVER_SERVER_MANAGER_H_
#define DBGD_SERVER_SERVER_MANAGER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asio/io_context.hpp"
#include "common/mutex.h"
#include "dbgd/v1/control.pb.h"
#include "protocol/auth_throttle.h"
#include "server/debug_server.h"
#include "server/event_bus.h"
#include "server/metrics.h"
#include "server/session_manager.h"
#include "transports/factory.h"

namespace dbgd::server {

struct ServerManagerOptions {
  std::string advertise_host;  // in connect strings; default: the host name
  PortMap advertise_ports;     // listening port → the port clients use
  protocol::AuthThrottleOptions throttle;
  transports::TransportOptions transports;
  Metrics* metrics = nullptr;  // nullptr: not counted; else outlives us
};

class ServerManager {
 public:
  ServerManager(asio::io_context& io, SessionManager& sessions,
                EventBus& events, ServerManagerOptions options);
  ~ServerManager();

  // Create starts a debugging server for `session` (empty: the only one)
  // from a `.server` string. INVALID_ARGUMENT names the spec key;
  // RESOURCE_EXHAUSTED when a port range is full; UNIMPLEMENTED for a
  // transport not built yet; NOT_FOUND / FAILED_PRECONDITION for the
  // session. Nothing is left behind on failure.
  absl::StatusOr<v1::Server> Create(const std::string& session,
                                    const std::string& spec);

  absl::StatusOr<v1::Server> Get(const std::string& name);
  // List returns the servers of `session` (empty: all), ended ones that
  // still have clients included (`<Disabled, exit pending>`).
  std::vector<v1::Server> List(const std::string& session);
  // Delete ends the server (`.endsrv`).
  absl::Status Delete(const std::string& name, bool disconnect_clients);

  absl::StatusOr<std::vector<v1::Client>> ListClients(
      const v1::ListClientsRequest& request);

  // ListCertificates lists a certificate store of the daemon's transports.
  absl::StatusOr<v1::ListCertificatesResponse> ListCertificates(
      const v1::ListCertificatesRequest& request) const;
  absl::Status DisconnectClient(const std::string& name);

  // CountFor: live (not ended) servers of a session.
  int CountFor(const std::string& session);

  // Shutdown ends every server and disconnects its clients.
  void Shutdown();

  // throttle: the password throttle every server shares (for metrics).
  const protocol::AuthThrottle& throttle() const { return throttle_; }

 private:
  absl::StatusOr<std::shared_ptr<DebugServer>> Find(const std::string& name);
  // Prune forgets ended servers whose last client has left. It looks only
  // at servers that ended: its cost does not grow with the servers alive.
  void Prune() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  asio::io_context& io_;
  SessionManager& sessions_;
  EventBus& events_;
  protocol::AuthThrottle throttle_;
  // The daemon's transports and the state they share.
  transports::TransportFactory transports_;
  DebugServerContext context_;
  uint64_t subscription_ = 0;
  std::atomic<uint64_t> next_client_id_{1};

  Mutex mu_;
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int, std::shared_ptr<DebugServer>> servers_ ABSL_GUARDED_BY(mu_);
  // Ended servers still in servers_ (some clients may stay on).
  std::set<int> ending_ ABSL_GUARDED_BY(mu_);
  // Servers whose SERVER_ENDED went out since the last Prune. A lock of its
  // own, taken last: servers publish their end holding their own locks,
  // and Create publishes holding mu_.
  Mutex ended_mu_;
  std::vector<int> ended_ ABSL_GUARDED_BY(ended_mu_);
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_SERVER_MANAGER_H_
