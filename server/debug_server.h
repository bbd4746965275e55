// DebugServer: one `.server` — a listener (or, with `clicon`, an outgoing
// connection kept up by a Redialer) that admits remote clients to a
// session's shared console. The transport comes from the TransportFactory;
// the server never names one.
//
// Each stream runs the protocol handshake (password challenge, lockout),
// then becomes a ClientLink between its connection and the session's hub.
// Ending the server (`.endsrv`) stops new connections; connected clients
// stay unless asked to go. The server publishes one event per fact: its
// state changes, and each client's connect and disconnect. Every client of
// a read-only server (`readonly`) is an observer: told so in its
// ServerHello, it sees the session, and its input and breaks are refused.
// (The hub enforces it; this server tells the client and audits refusals.)
//
// Thread-safety: public methods may be called from any thread. Accepting
// and dialling run on the server's strand; each client on its own.

#ifndef DBGD_SERVER_DEBUG_SERVER_H_
#define DBGD_SERVER_DEBUG_SERVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/strings/str_cat.h"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "asio/strand.hpp"
#include "common/mutex.h"
#include "dbgd/v1/control.pb.h"
#include "protocol/auth_throttle.h"
#include "protocol/frame_connection.h"
#include "server/client_link.h"
#include "server/handshake_gate.h"
#include "server/port_map.h"
#include "server/metrics.h"
#include "server/redialer.h"
#include "session/session.h"
#include "transports/factory.h"
#include "transports/spec.h"
#include "transports/transport.h"

namespace dbgd::server {

// What every DebugServer of a daemon shares.
struct DebugServerContext {
  // Makes every listener, connector and codec; its streams run on the
  // daemon's event loop.
  transports::TransportFactory* transports = nullptr;
  protocol::AuthThrottle* throttle = nullptr;
  std::string advertise_host;  // the host clients are told to connect to
  PortMap advertise_ports;     // and the port, for a listening port
  // Allocates daemon-wide client IDs (`clients/N`).
  std::function<uint64_t()> next_client_id;
  // Server state changes, client joins and leaves, for WatchEvents and the
  // manager's bookkeeping. Called without the server's lock held.
  std::function<void(v1::Event)> on_event;
  Metrics* metrics = nullptr;  // nullptr: not counted
};

class DebugServer : public std::enable_shared_from_this<DebugServer> {
 public:
  // Create binds the listener (forward servers) or prepares the outgoing
  // connection (`clicon`); Start then runs it. The transport's errors as
  // the factory reports them: RESOURCE_EXHAUSTED when a port range has no
  // free port, FAILED_PRECONDITION when the port cannot be bound,
  // UNIMPLEMENTED for a transport not built yet. Nothing is left behind on
  // failure.
  static absl::StatusOr<std::shared_ptr<DebugServer>> Create(
      int id, std::shared_ptr<session::Session> session,
      transports::ServerSpec spec, const DebugServerContext& context);

  ~DebugServer();

  // Start accepts clients (or starts connecting out).
  void Start();

  // End stops new connections (`.endsrv`); with `disconnect_clients` the
  // connected ones are sent a Bye and closed. Idempotent.
  void End(bool disconnect_clients, const std::string& reason = "ended");

  // AwaitStopped waits, up to `timeout`, until what End stopped is
  // released: the listener closed (its port free to bind again), the
  // redialer stopped. False on timeout. Not on the event loop: that would
  // wait for work queued behind it.
  bool AwaitStopped(absl::Duration timeout);

  // Disconnect closes the client `clients/N`, after the output already
  // queued for it (such as the notice that the session ended), with a Bye
  // giving `reason`; false if it is not here.
  bool Disconnect(uint64_t client_id,
                  const std::string& reason =
                      "disconnected by the server's operator");

  int id() const { return id_; }
  // transport: the lower-case scheme, "tcp".
  std::string_view transport() const {
    return transports::TransportName(spec_.transport);
  }
  std::string name() const { return absl::StrCat("servers/", id_); }
  const std::string& session_name() const { return session_name_; }
  bool ended() const;
  int client_count() const;

  v1::Server Describe() const;
  std::vector<v1::Client> Clients() const;

 private:
  DebugServer(int id, std::shared_ptr<session::Session> session,
              transports::ServerSpec spec, const DebugServerContext& context);

  // On strand_: wait for the next client (forward servers). Out of
  // descriptors (RESOURCE_EXHAUSTED), BackOff pauses accepting, 10 ms
  // doubling to 1 s, instead of failing the same accept again at once.
  void Accept();
  void BackOff(const absl::Status& why);
  // Admit runs the handshake on a new stream, once the process's
  // HandshakeGate lets it in; Attach links a client in.
  void Admit(std::unique_ptr<transports::Stream> stream);
  void Attach(std::shared_ptr<protocol::FrameConnection> frames,
              std::string identity);
  void Forget(uint64_t client_id, const std::string& reason);
  // Refused logs a failed handshake or a connection the gate refused (the
  // lines rate-limited by refusals_), and audits it when it was an
  // authentication failure (wrong password, lockout): every one of those.
  void Refused(const absl::Status& why, const std::string& peer,
               const std::string& source, const std::string& certified) const;
  // AuditInput records a line (or a Break) a client sent, or, with
  // `refused`, one an observer sent and the hub refused.
  void AuditInput(const protocol::Frame& frame, bool refused,
                  uint64_t client_id, const std::string& identity,
                  const std::string& peer) const;
  void SetState(v1::Server::State state, const std::string& message);
  void Emit(v1::Event::Kind kind, const std::string& message,
            const v1::Client* client = nullptr);

  // Constant after construction.
  const int id_;
  const std::shared_ptr<session::Session> session_;
  const std::string session_name_;
  const transports::ServerSpec spec_;
  const DebugServerContext context_;
  const absl::Time create_time_;
  asio::strand<asio::any_io_executor> strand_;

  // Where the server listens or dials; set by Create.
  transports::Endpoint endpoint_;

  // Used on strand_ only, after Create. Exactly one is set.
  std::unique_ptr<transports::Listener> listener_;  // forward
  std::shared_ptr<Redialer> redialer_;              // reverse

  mutable Mutex mu_;
  v1::Server::State state_ ABSL_GUARDED_BY(mu_) = v1::Server::LISTENING;
  std::string state_message_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  std::map<uint64_t, std::shared_ptr<ClientLink>> clients_ ABSL_GUARDED_BY(mu_);

  // Refused connections' log lines: a burst per interval, then a summary.
  std::unique_ptr<RefusalLog> refusals_;
  // Used on strand_ only: the accept loop's pause when out of descriptors.
  asio::steady_timer accept_backoff_;
  absl::Duration backoff_ = absl::ZeroDuration();
  uint64_t accept_failures_ = 0;  // in a row
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_DEBUG_SERVER_H_
