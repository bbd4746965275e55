// Registrar: keeps the discovery registry in step with the daemon's
// debugging servers — registered when created, updated when their state
// changes, removed when they end. Hidden and reverse-connection servers are
// never registered (docs/discovery.md).
//
// Thread-safety: events are taken from the bus on any thread and handled in
// publication order on a strand of the daemon's loop.

#ifndef DBGD_SERVER_REGISTRAR_H_
#define DBGD_SERVER_REGISTRAR_H_

#include <cstdint>
#include <set>
#include <string>

#include "absl/time/time.h"
#include "asio/io_context.hpp"
#include "asio/strand.hpp"
#include "dbgd/v1/control.pb.h"
#include "dbgd/v1/discovery.pb.h"
#include "discovery/registry.h"
#include "server/event_bus.h"
#include "server/metrics.h"
#include "server/session_manager.h"

namespace dbgd::server {

struct RegistrarOptions {
  std::string advertise_host;   // the `host` of every entry
  std::string daemon_address;   // the `daemon` of every entry
  Metrics* metrics = nullptr;   // counts refused entries; may be nullptr
};

class Registrar {
 public:
  Registrar(asio::io_context& io, discovery::Registry& registry,
            EventBus& events, SessionManager& sessions,
            RegistrarOptions options);
  ~Registrar();
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  // AwaitHandled returns once every event published before the call is in
  // the registry (or after `timeout`): what CreateServer and DeleteServer
  // wait for, so that a search right after them sees the change. Returns at
  // once on one of the loop's threads, which the marker would need.
  void AwaitHandled(absl::Duration timeout);

  // Listed: whether a server is ever announced (not hidden, not reverse).
  static bool Listed(const v1::Server& server);

  // ToDiscovered is the entry announced for `server`.
  static v1::DiscoveredServer ToDiscovered(const v1::Server& server,
                                           const RegistrarOptions& options,
                                           const std::string& display_name);

 private:
  void Handle(const v1::Event& event);

  discovery::Registry& registry_;
  EventBus& events_;
  SessionManager& sessions_;
  const RegistrarOptions options_;
  asio::strand<asio::io_context::executor_type> strand_;
  uint64_t subscription_ = 0;

  // On strand_ only: the servers registered and not ended. A server's
  // SERVER_CREATED is published before any other event of it, so a state
  // change of a server not here is one of a server already ended, and is
  // dropped; the set holds live servers only.
  std::set<int> listed_;
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_REGISTRAR_H_
