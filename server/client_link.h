// ClientLink: one admitted client of a debugging server, between its
// connection (frames on a transport) and its place in the session's shared
// console (a HubClient).
//
// Frames in: Input and Break go to the hub (which refuses an observer's,
// telling it so: a client of a read-only server); Bye ends the link; a handshake
// frame after the handshake is a protocol error (the client is told and
// dropped). Frames out: the hub's queue is moved to the connection while
// the connection holds less than `high_water` unsent bytes; the rest waits
// in the hub's bounded queue, which drops the client when it falls too far
// behind (docs/architecture.md: a slow client never stalls the session).
// The link resumes when the connection has drained to half of that.
//
// A dropped client's backlog is discarded, in the hub and in the
// connection (what it has not handed to the transport yet): the DROPPED
// notice follows the write in flight, then the connection closes — once the
// notice is written, or when the client takes no bytes at all for the
// connection's flush timeout (the grace, 5 s by default; it runs again from
// every write that makes progress), and then with a reset on TCP. Only
// whole frames are ever handed to the transport.
//
// When the connection closes, for any reason, the link leaves the hub and
// calls its close callback once with the reason: "left", "dropped: " and
// the hub's notice, Disconnect's reason, or the connection's error.
//
// Thread-safety: public methods may be called from any thread. The link's
// work runs on its connection's executor, a strand of its own, so the
// clients of one server are served in parallel. Callbacks run there.

#ifndef DBGD_SERVER_CLIENT_LINK_H_
#define DBGD_SERVER_CLIENT_LINK_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "protocol/frame_connection.h"
#include "session/hub.h"

namespace dbgd::server {

struct ClientLinkOptions {
  // Unsent bytes the connection may hold before output waits in the hub.
  size_t high_water = 256 * 1024;
  // Sees each Input and Break frame, on the link's executor, before the
  // hub does (the audit trail). May be empty.
  std::function<void(const protocol::Frame&)> on_input;
  // Sees, instead, each Input and Break frame of an observer, which the hub
  // refuses. May be empty.
  std::function<void(const protocol::Frame&)> on_refused;
};

class ClientLink : public std::enable_shared_from_this<ClientLink> {
 public:
  // OnClosed receives the link's id and why it ended.
  using OnClosed = std::function<void(uint64_t id, const std::string& reason)>;

  // Make links `frames` (handshake done, paused) to `hub`; nothing moves
  // until Start. The link owns the connection: destroying it closes the
  // connection, so the owner keeps it until the close callback.
  // REQUIRES: frames and hub are non-null.
  static std::shared_ptr<ClientLink> Make(
      uint64_t id, std::string identity,
      std::shared_ptr<protocol::FrameConnection> frames,
      std::shared_ptr<session::HubClient> hub, OnClosed on_closed,
      ClientLinkOptions options = {});

  ~ClientLink();
  ClientLink(const ClientLink&) = delete;
  ClientLink& operator=(const ClientLink&) = delete;

  // Start begins moving frames both ways; what the hub already queued (the
  // history replay) goes out first. The close callback may run from now
  // on. Call once.
  void Start();

  // Disconnect lets the client go: the output already queued for it (such
  // as the notice that the session ended) goes out, then a Bye giving
  // `reason`, then the connection closes.
  void Disconnect(const std::string& reason);

  uint64_t id() const { return id_; }
  const std::string& identity() const { return identity_; }
  // observer: its hub client is an observer, whose input is refused.
  bool observer() const { return hub_->observer(); }
  const std::string& peer() const { return frames_->peer(); }
  absl::Time connect_time() const { return connect_time_; }
  // last_active: when the client last sent a frame.
  absl::Time last_active() const {
    return absl::FromUnixNanos(last_active_nanos_.load());
  }
  // dropped: the hub let the client go for falling behind.
  // REQUIRES: on the connection's executor, e.g. in the close callback.
  bool dropped() const { return !drop_reason_.empty(); }

 private:
  ClientLink(uint64_t id, std::string identity,
             std::shared_ptr<protocol::FrameConnection> frames,
             std::shared_ptr<session::HubClient> hub, OnClosed on_closed,
             ClientLinkOptions options);

  void OnFrame(const protocol::Frame& frame);
  // Inspect shows an Input or Break frame to on_input, or to on_refused
  // when the hub will refuse it.
  void Inspect(const protocol::Frame& frame) const;
  void OnClose(const absl::Status& status);
  // Pump schedules a pass moving frames from the hub to the connection.
  void Pump();
  // PumpNow is that pass; on the connection's executor.
  void PumpNow();
  // Take pops the hub's next frame, noting a drop notice.
  session::FramePtr Take();

  // Constant after construction.
  const uint64_t id_;
  const std::string identity_;
  const std::shared_ptr<protocol::FrameConnection> frames_;
  const std::shared_ptr<session::HubClient> hub_;
  const OnClosed on_closed_;
  const ClientLinkOptions options_;
  const absl::Time connect_time_;

  std::atomic<int64_t> last_active_nanos_;
  std::atomic<bool> pump_scheduled_{false};
  // Used on the connection's executor only: why the link is ending, when
  // the hub dropped the client or the server let it go.
  std::string drop_reason_;
  std::string disconnect_reason_;
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_CLIENT_LINK_H_
