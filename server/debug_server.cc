#include "server/debug_server.h"

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "common/fmt_absl.h"
#include "google/protobuf/util/time_util.h"
#include "protocol/frame_connection.h"
#include "protocol/handshake.h"
#include "spdlog/spdlog.h"
#include "transports/firewall.h"
#include "transports/tcp.h"

namespace dbgd::server {
namespace {

// A connection's socket may hold this much unsent output before the hub's
// queue takes the rest; the hub then drops the client if it falls further
// behind (DESIGN §2: a slow client never stalls the session).
constexpr size_t kSocketHighWater = 256 * 1024;
// Reverse connections retry with backoff between these bounds.
constexpr absl::Duration kFirstRetry = absl::Milliseconds(250);
constexpr absl::Duration kMaxRetry = absl::Seconds(5);

google::protobuf::Timestamp ToProto(absl::Time time) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(time));
}

}  // namespace

// One admitted client: its frames, its place in the hub, and who it is.
struct DebugServer::Connection {
  uint64_t id = 0;
  std::shared_ptr<protocol::FrameConnection> frames;
  std::shared_ptr<session::HubClient> hub;
  std::string identity;
  absl::Time connect_time;
  std::atomic<int64_t> last_active_nanos{0};
  std::atomic<bool> pump_scheduled{false};
};

absl::StatusOr<std::shared_ptr<DebugServer>> DebugServer::Create(
    int id, std::shared_ptr<session::Session> session,
    transports::ServerSpec spec, const DebugServerContext& context) {
  if (spec.transport != transports::Transport::kTcp) {
    return absl::UnimplementedError(absl::StrCat(
        "spec: the ", std::string(transports::TransportName(spec.transport)),
        " transport is not built yet; tcp is"));
  }
  std::shared_ptr<DebugServer> server(
      new DebugServer(id, std::move(session), std::move(spec), context));
  if (server->spec_.reverse()) {
    MutexLock lock(&server->mu_);
    server->port_ = server->spec_.port.first;
    server->state_ = v1::Server::CONNECTING;
    server->state_message_ = absl::StrCat("connecting to ", server->spec_.clicon,
                                          ":", server->port_);
    return server;
  }
  absl::StatusOr<std::unique_ptr<transports::Listener>> listener =
      transports::ListenTcp(server->strand_, server->spec_.port,
                            server->spec_.ip_version);
  if (!listener.ok()) return listener.status();
  server->listener_ = *std::move(listener);
  const uint16_t port = server->listener_->port();
  std::string message;
  if (server->spec_.icf_enable) {
    absl::Status opened = transports::OpenFirewallPort(port);
    message = opened.ok()
                  ? absl::StrCat("IcfEnable: tcp port ", port,
                                 " is open in nftables table inet ",
                                 transports::kFirewallTable)
                  : absl::StrCat("IcfEnable skipped: ", opened.message());
  }
  MutexLock lock(&server->mu_);
  server->port_ = port;
  server->state_message_ = message;
  return server;
}

DebugServer::DebugServer(int id, std::shared_ptr<session::Session> session,
                         transports::ServerSpec spec,
                         const DebugServerContext& context)
    : id_(id),
      session_(std::move(session)),
      session_name_(session_->name()),
      spec_(std::move(spec)),
      context_(context),
      create_time_(absl::Now()),
      strand_(asio::make_strand(*context.io)),
      retry_timer_(strand_),
      retry_delay_(kFirstRetry) {}

DebugServer::~DebugServer() = default;

void DebugServer::Start() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->spec_.reverse()) {
      self->Connect();
    } else {
      self->Accept();
    }
  });
}

bool DebugServer::ended() const {
  MutexLock lock(&mu_);
  return ended_;
}

int DebugServer::client_count() const {
  MutexLock lock(&mu_);
  return static_cast<int>(connections_.size());
}

void DebugServer::Accept() {
  if (listener_ == nullptr || ended()) return;
  listener_->AsyncAccept([self = shared_from_this()](
                             std::error_code error,
                             std::unique_ptr<transports::Stream> stream) {
    if (error == asio::error::operation_aborted || self->ended()) return;
    if (!error) self->Admit(std::move(stream));
    self->Accept();
  });
}

void DebugServer::Connect() {
  if (ended()) return;
  transports::AsyncConnectTcp(
      strand_, spec_.clicon, spec_.port.first, spec_.ip_version,
      [self = shared_from_this()](std::error_code error,
                                  std::unique_ptr<transports::Stream> stream) {
        if (self->ended()) {
          if (stream != nullptr) stream->Close();
          return;
        }
        if (error) {
          self->RetryConnect(error.message());
          return;
        }
        self->retry_delay_ = kFirstRetry;
        self->Admit(std::move(stream));
      });
}

void DebugServer::RetryConnect(const std::string& why) {
  // Either side may start first (DESIGN §1): keep trying until the client
  // is up.
  asio::post(strand_, [self = shared_from_this(), why] {
    if (self->ended()) return;
    self->SetState(v1::Server::CONNECTING,
                   absl::StrCat("connecting to ", self->spec_.clicon, ":",
                                self->spec_.port.first, ": ", why,
                                "; retrying in ",
                                absl::FormatDuration(self->retry_delay_)));
    self->retry_timer_.expires_after(
        absl::ToChronoNanoseconds(self->retry_delay_));
    self->retry_delay_ = std::min(self->retry_delay_ * 2, kMaxRetry);
    self->retry_timer_.async_wait([self](std::error_code error) {
      if (!error) self->Connect();
    });
  });
}

void DebugServer::Admit(std::unique_ptr<transports::Stream> stream) {
  auto frames = protocol::FrameConnection::Create(std::move(stream));
  protocol::ServerHandshakeOptions options;
  options.session = session_->Describe().display_name();
  options.server_name = name();
  options.password = spec_.password;
  options.throttle = context_.throttle;
  const std::string peer = frames->peer();
  protocol::ServerHandshake(
      frames, std::move(options),
      [self = shared_from_this(), frames,
       peer](absl::StatusOr<protocol::ClientInfo> info) {
        if (!info.ok()) {
          // Never the password; the status says what went wrong.
          spdlog::info("{}: client {} refused: {}", self->name(), peer,
                       info.status());
          if (self->spec_.reverse()) {
            self->RetryConnect(std::string(info.status().message()));
          }
          return;
        }
        asio::post(self->strand_, [self, frames, identity = info->identity] {
          self->Attach(frames, identity);
        });
      });
}

void DebugServer::Attach(std::shared_ptr<protocol::FrameConnection> frames,
                         std::string identity) {
  if (ended() && !spec_.reverse()) {
    frames->Close(/*flush=*/false);
    return;
  }
  auto connection = std::make_shared<Connection>();
  connection->id = context_.next_client_id();
  connection->frames = frames;
  connection->identity = identity;
  connection->connect_time = absl::Now();
  connection->last_active_nanos = absl::ToUnixNanos(connection->connect_time);
  connection->hub = session_->hub().Attach(identity);
  {
    MutexLock lock(&mu_);
    connections_[connection->id] = connection;
    if (spec_.reverse()) {
      state_ = v1::Server::CONNECTED;
      state_message_ = absl::StrCat("connected to ", frames->peer());
    }
  }
  spdlog::info("{}: {} connected from {} as clients/{}", name(), identity,
               frames->peer(), connection->id);

  std::weak_ptr<Connection> weak = connection;
  std::weak_ptr<DebugServer> server = shared_from_this();
  const uint64_t id = connection->id;
  frames->SetCloseHandler([server, id](absl::Status status) {
    if (auto self = server.lock()) {
      self->Forget(id, status.ok() ? "left" : std::string(status.message()));
    }
  });
  frames->SetFrameHandler([weak](protocol::Frame frame) {
    std::shared_ptr<Connection> c = weak.lock();
    if (c == nullptr) return;
    c->last_active_nanos = absl::ToUnixNanos(absl::Now());
    switch (frame.body_case()) {
      case protocol::Frame::kInput:
        c->hub->Input(frame.input().line());
        break;
      case protocol::Frame::kBreak:
        c->hub->Break();
        break;
      case protocol::Frame::kBye:
        c->frames->Close(/*flush=*/true);
        break;
      case protocol::Frame::kClientHello:
      case protocol::Frame::kServerHello:
      case protocol::Frame::kAuthResponse:
      case protocol::Frame::kAuthResult: {
        // docs/protocol.md: the handshake is over; repeating it is an error.
        protocol::Frame bye;
        bye.mutable_bye()->set_reason("protocol error: handshake frame after the handshake");
        (void)c->frames->Send(bye);
        c->frames->Close(/*flush=*/true);
        break;
      }
      default:
        break;  // frames of later protocol versions are ignored
    }
  });
  connection->hub->SetWakeup([weak] {
    if (std::shared_ptr<Connection> c = weak.lock()) Pump(c);
  });
  Pump(connection);  // the history replay is already queued

  v1::Client client;
  client.set_name(absl::StrCat("clients/", id));
  client.set_identity(identity);
  client.set_peer(frames->peer());
  Emit(v1::Event::CLIENT_CONNECTED,
       absl::StrCat(identity, " connected from ", frames->peer()), &client);
}

void DebugServer::Pump(const std::shared_ptr<Connection>& connection) {
  // One pass at a time per connection, on its executor.
  if (connection->pump_scheduled.exchange(true)) return;
  asio::post(connection->frames->executor(), [connection] {
    connection->pump_scheduled = false;
    protocol::FrameConnection& frames = *connection->frames;
    while (frames.pending_bytes() < kSocketHighWater) {
      session::FramePtr frame = connection->hub->Pop();
      if (frame == nullptr) break;
      if (!frames.Send(*frame).ok()) return;  // closing
    }
    if (connection->hub->queued_bytes() == 0) {
      if (connection->hub->closed()) frames.Close(/*flush=*/true);
      return;
    }
    // The socket is full: the rest waits in the hub's bounded queue, which
    // drops this client if it falls too far behind. Go on when the socket
    // has taken half of what it holds.
    std::weak_ptr<Connection> weak = connection;
    frames.OnDrained(kSocketHighWater / 2, [weak] {
      if (std::shared_ptr<Connection> c = weak.lock()) Pump(c);
    });
  });
}

void DebugServer::Forget(uint64_t client_id, const std::string& reason) {
  std::shared_ptr<Connection> connection;
  {
    MutexLock lock(&mu_);
    auto it = connections_.find(client_id);
    if (it == connections_.end()) return;
    connection = std::move(it->second);
    connections_.erase(it);
  }
  connection->hub->Leave(reason);
  spdlog::info("{}: clients/{} ({}) disconnected: {}", name(), client_id,
               connection->identity, reason);
  v1::Client client;
  client.set_name(absl::StrCat("clients/", client_id));
  client.set_identity(connection->identity);
  Emit(v1::Event::CLIENT_DISCONNECTED,
       absl::StrCat(connection->identity, " disconnected: ", reason), &client);
  if (spec_.reverse() && !ended()) RetryConnect("the client left");
}

bool DebugServer::Disconnect(uint64_t client_id, const std::string& reason) {
  std::shared_ptr<Connection> connection;
  {
    MutexLock lock(&mu_);
    auto it = connections_.find(client_id);
    if (it == connections_.end()) return false;
    connection = it->second;
  }
  // On the connection's executor, after any Pump pass: what the hub holds
  // for this client goes out before the Bye, so a client let go because
  // its session ended is told so first.
  asio::post(connection->frames->executor(), [connection, reason] {
    protocol::FrameConnection& frames = *connection->frames;
    while (session::FramePtr frame = connection->hub->Pop()) {
      if (!frames.Send(*frame).ok()) break;  // already closing
    }
    protocol::Frame bye;
    bye.mutable_bye()->set_reason(reason);
    (void)frames.Send(bye);
    frames.Close(/*flush=*/true);
  });
  return true;
}

void DebugServer::End(bool disconnect_clients, const std::string& reason) {
  std::vector<uint64_t> clients;
  {
    MutexLock lock(&mu_);
    if (!ended_) {
      ended_ = true;
      state_ = v1::Server::ENDED;
      state_message_ = reason;
    }
    for (const auto& [id, connection] : connections_) clients.push_back(id);
  }
  asio::post(strand_, [self = shared_from_this()] {
    if (self->listener_ != nullptr) self->listener_->Close();
    self->retry_timer_.cancel();
  });
  if (disconnect_clients) {
    for (uint64_t id : clients) Disconnect(id, reason);
  }
  Emit(v1::Event::SERVER_ENDED, absl::StrCat(name(), " ended: ", reason));
}

void DebugServer::SetState(v1::Server::State state, const std::string& message) {
  {
    MutexLock lock(&mu_);
    if (ended_ || (state_ == state && state_message_ == message)) return;
    state_ = state;
    state_message_ = message;
  }
  Emit(v1::Event::SERVER_STATE_CHANGED, message);
}

v1::Server DebugServer::Describe() const {
  v1::Server server;
  server.set_name(name());
  server.set_id(id_);
  server.set_session(session_name_);
  server.set_spec(transports::FormatServerSpec(spec_));
  server.set_transport(std::string(transports::TransportName(spec_.transport)));
  server.set_hidden(spec_.hidden);
  server.set_reverse(spec_.reverse());
  server.set_password_required(!spec_.password.empty());
  *server.mutable_create_time() = ToProto(create_time_);
  MutexLock lock(&mu_);
  server.set_actual_endpoint(transports::FormatEndpoint(spec_, port_));
  server.set_connect_string(
      transports::ClientSpecFor(spec_, context_.advertise_host, port_));
  server.set_state(state_);
  server.set_state_message(state_message_);
  server.set_client_count(static_cast<int32_t>(connections_.size()));
  return server;
}

std::vector<v1::Client> DebugServer::Clients() const {
  std::vector<v1::Client> clients;
  MutexLock lock(&mu_);
  for (const auto& [id, connection] : connections_) {
    v1::Client& client = clients.emplace_back();
    client.set_name(absl::StrCat("clients/", id));
    client.set_identity(connection->identity);
    client.set_peer(connection->frames->peer());
    client.set_transport(std::string(transports::TransportName(spec_.transport)));
    client.set_server(name());
    client.set_session(session_name_);
    *client.mutable_connect_time() = ToProto(connection->connect_time);
    *client.mutable_last_active_time() = ToProto(
        absl::FromUnixNanos(connection->last_active_nanos.load()));
  }
  return clients;
}

void DebugServer::Emit(v1::Event::Kind kind, const std::string& message,
                       const v1::Client* client) {
  if (!context_.on_event) return;
  v1::Event event;
  event.set_kind(kind);
  *event.mutable_time() = ToProto(absl::Now());
  event.set_session(session_name_);
  event.set_message(message);
  if (client != nullptr) {
    *event.mutable_client() = *client;
    event.mutable_client()->set_server(name());
  } else {
    *event.mutable_server() = Describe();
  }
  context_.on_event(std::move(event));
}

}  // namespace dbgd::server
