#include "server/debug_server.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "common/proto_time.h"
#include "common/fmt_absl.h"
#include "protocol/console_text.h"
#include "protocol/handshake.h"
#include "server/audit.h"
#include "server/logging.h"

namespace dbgd::server {
namespace {

// The accept loop's pause when out of descriptors: the first, and the most.
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(10);
constexpr absl::Duration kMaxBackoff = absl::Seconds(1);

// RefusalReason names why a connection was refused, for the summary of
// the refusals not logged one by one.
std::string RefusalReason(const absl::Status& why) {
  if (std::optional<GateRefusal> gate = GateRefusalOf(why)) {
    switch (*gate) {
      case GateRefusal::kPerSource:
        return "over the per-source handshake limit";
      case GateRefusal::kTotal:
        return "over the handshake limit";
      case GateRefusal::kDescriptors:
        return "short of file descriptors";
    }
  }
  switch (why.code()) {
    case absl::StatusCode::kUnauthenticated:
      return "wrong password";
    case absl::StatusCode::kPermissionDenied:
      return "locked out";
    case absl::StatusCode::kDeadlineExceeded:
      return "timed out";
    case absl::StatusCode::kUnavailable:
      return "left";
    case absl::StatusCode::kInvalidArgument:
      return "protocol error";
    case absl::StatusCode::kFailedPrecondition:
      return "other protocol version";
    default:
      return absl::AsciiStrToLower(absl::StatusCodeToString(why.code()));
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<DebugServer>> DebugServer::Create(
    int id, std::shared_ptr<session::Session> session,
    transports::ServerSpec spec, const DebugServerContext& context) {
  std::shared_ptr<DebugServer> server(
      new DebugServer(id, std::move(session), std::move(spec), context));
  transports::TransportFactory& transports = *context.transports;
  if (server->spec_.reverse()) {
    absl::StatusOr<std::unique_ptr<transports::Connector>> connector =
        transports.ConnectOut(server->spec_, server->strand_);
    if (!connector.ok()) return connector.status();
    server->endpoint_ = (*connector)->endpoint();
    const std::string target = (*connector)->target();
    std::weak_ptr<DebugServer> weak = server;
    server->redialer_ = Redialer::Make(
        server->strand_, *std::move(connector),
        [weak](std::unique_ptr<transports::Stream> stream) {
          if (auto self = weak.lock()) self->Admit(std::move(stream));
        },
        [weak](const std::string& why) {
          if (auto self = weak.lock()) self->SetState(v1::Server::CONNECTING, why);
        });
    MutexLock lock(&server->mu_);
    server->state_ = v1::Server::CONNECTING;
    server->state_message_ = absl::StrCat("connecting to ", target);
    return server;
  }
  absl::StatusOr<std::unique_ptr<transports::Listener>> listener =
      transports.Listen(server->spec_, server->strand_);
  if (!listener.ok()) return listener.status();
  server->listener_ = *std::move(listener);
  server->endpoint_ = server->listener_->endpoint();
  MutexLock lock(&server->mu_);
  server->state_message_ = server->endpoint_.note;
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
      strand_(asio::make_strand(context.transports->context().io())),
      accept_backoff_(strand_) {
  refusals_ = std::make_unique<RefusalLog>(
      strand_, [server = name(), session = session_name_](
                   uint64_t suppressed, const std::string& breakdown,
                   absl::Duration interval) {
        LogWarn({{"server", server}, {"session", session}, {"refused", suppressed}},
                "{}: … and {} more connections refused in the last {} ({})",
                server, suppressed, absl::FormatDuration(interval), breakdown);
      });
}

DebugServer::~DebugServer() = default;

void DebugServer::Start() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->redialer_ != nullptr) {
      self->redialer_->Dial();
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
  return static_cast<int>(clients_.size());
}

void DebugServer::Accept() {
  if (ended()) return;
  listener_->AsyncAccept(
      [self = shared_from_this()](
          absl::StatusOr<std::unique_ptr<transports::Stream>> stream) {
        if (absl::IsCancelled(stream.status()) || self->ended()) return;
        if (absl::IsAborted(stream.status())) {
          // Asking again would fail again at once, for ever.
          LogError({{"server", self->name()}, {"session", self->session_name_}},
                   "{}: cannot accept any more clients: {}", self->name(),
                   stream.status().message());
          self->SetState(v1::Server::FAILED, std::string(stream.status().message()));
          return;
        }
        if (absl::IsResourceExhausted(stream.status())) {
          // Out of descriptors (EMFILE, ENFILE) or kernel memory: asking
          // again at once would fail the same way, spinning.
          self->BackOff(stream.status());
          return;
        }
        if (self->accept_failures_ > 0) {
          LogInfo({{"server", self->name()}, {"session", self->session_name_}},
                  "{}: accepting again, after {} failed accepts", self->name(),
                  self->accept_failures_);
          self->accept_failures_ = 0;
          self->backoff_ = absl::ZeroDuration();
        }
        if (stream.ok()) {
          self->Admit(*std::move(stream));
        } else if (self->refusals_->Count("failed before the handshake")) {
          // One peer's failure (a TLS handshake, a connection reset): as
          // many as peers care to make, so rate-limited like refusals.
          LogWarn({{"server", self->name()}, {"session", self->session_name_}},
                  "{}: accepting failed: {}", self->name(), stream.status());
        }
        self->Accept();
      });
}

void DebugServer::BackOff(const absl::Status& why) {
  backoff_ = backoff_ == absl::ZeroDuration()
                 ? kFirstBackoff
                 : std::min(backoff_ * 2, kMaxBackoff);
  if (++accept_failures_ == 1) {
    LogWarn({{"server", name()}, {"session", session_name_}},
            "{}: accepting failed: {}; trying again in {}, then less and less "
            "often (at most every {}) until it works",
            name(), why, absl::FormatDuration(backoff_),
            absl::FormatDuration(kMaxBackoff));
  }
  accept_backoff_.expires_after(absl::ToChronoNanoseconds(backoff_));
  accept_backoff_.async_wait(
      [weak = weak_from_this()](std::error_code error) {
        if (error) return;
        if (auto self = weak.lock()) self->Accept();
      });
}

void DebugServer::Admit(std::unique_ptr<transports::Stream> stream) {
  // A forward server's connections come from anyone who reaches the port:
  // the gate bounds those in their handshake and keeps descriptors for the
  // control plane. A reverse server's one connection is its own dialling.
  std::shared_ptr<HandshakeGate::Ticket> ticket;
  if (redialer_ == nullptr) {
    absl::StatusOr<std::shared_ptr<HandshakeGate::Ticket>> entered =
        HandshakeGate::Process().Enter(stream->source());
    if (!entered.ok()) {
      // Closed at once, without a frame: a refusal costs no more than that.
      const std::string peer = stream->peer();
      const std::string source = stream->source();
      stream->Close();
      stream.reset();
      Refused(entered.status(), peer, source, "");
      return;
    }
    ticket = *std::move(entered);
  }
  // A client certificate the transport verified (mTLS) says who the client
  // is better than the identity it claims.
  const std::string certified = stream->verified_identity();
  std::unique_ptr<protocol::FrameCodec> codec =
      context_.transports->MakeCodec(spec_.transport, endpoint_);
  if (context_.metrics != nullptr) {
    codec = context_.metrics->Meter(transport(), std::move(codec));
  }
  auto frames =
      protocol::FrameConnection::Create(std::move(stream), std::move(codec));
  protocol::ServerHandshakeOptions options;
  options.session = session_->Describe().display_name();
  options.server_name = name();
  options.password = spec_.password;
  options.read_only = spec_.read_only;
  options.throttle = context_.throttle;
  const std::string peer = frames->peer();
  const std::string source = frames->source();
  protocol::ServerHandshake(
      frames, std::move(options),
      [self = shared_from_this(), frames, peer, source, certified,
       ticket](absl::StatusOr<protocol::ClientInfo> info) {
        if (ticket != nullptr) ticket->Release();  // out of its handshake
        if (!info.ok()) {
          // Never the password; the status says what went wrong.
          self->Refused(info.status(), peer, source, certified);
          if (Metrics* metrics = self->context_.metrics; metrics != nullptr) {
            metrics->HandshakeFailed(self->transport(), info.status());
          }
          if (self->redialer_ != nullptr) {
            asio::post(self->strand_, [self, why = std::string(
                                                 info.status().message())] {
              self->redialer_->Retry(why);
            });
          }
          return;
        }
        asio::post(self->strand_, [self, frames,
                                   identity = certified.empty() ? info->identity
                                                                : certified] {
          self->Attach(frames, identity);
        });
      });
}

void DebugServer::Refused(const absl::Status& why, const std::string& peer,
                          const std::string& source,
                          const std::string& certified) const {
  const std::string claimed = protocol::ClaimedIdentity(why);
  const std::string& identity = certified.empty() ? claimed : certified;
  const LogField fields[] = {{"server", name()},
                             {"session", session_name_},
                             {"identity", identity},
                             {"peer", peer},
                             {"source", source},
                             {"code", absl::StatusCodeToString(why.code())}};
  // Every refusal is counted; a burst of them per interval is logged one
  // by one, the rest in one summary line (a flood must not flood the log).
  if (refusals_->Count(RefusalReason(why))) {
    if (absl::IsInternal(why)) {
      // The server's own failure (its ServerHello could not be sent):
      // every client would be refused so.
      LogError(fields, "{}: client {} could not be admitted: {}", name(), peer,
               why);
    } else if (GateRefusalOf(why).has_value()) {
      LogWarn(fields, "{}: connection from {} closed at once: {}", name(), peer,
              why.message());
    } else {
      LogInfo(fields, "{}: client {} refused: {}", name(), peer, why);
    }
  }
  // A wrong password (counted by the throttle) and a refusal of a source
  // locked out are authentication failures; a client that left or broke
  // the protocol is not.
  if (absl::IsUnauthenticated(why)) {
    Audit("auth_failed", fields, "{}: wrong password from {} ({})", name(), peer,
          identity);
    if (context_.throttle != nullptr && context_.throttle->IsLockedOut(source)) {
      Audit("auth_lockout", fields, "{}: source {} locked out for {}", name(),
            source,
            absl::FormatDuration(context_.throttle->LockoutRemaining(source)));
    }
  } else if (absl::IsPermissionDenied(why)) {
    Audit("auth_refused_locked_out", fields, "{}: {} refused: {}", name(), peer,
          why.message());
  }
}

void DebugServer::AuditInput(const protocol::Frame& frame, bool refused,
                             uint64_t client_id, const std::string& identity,
                             const std::string& peer) const {
  std::vector<LogField> fields = {{"client", absl::StrCat("clients/", client_id)},
                                  {"identity", identity},
                                  {"peer", peer},
                                  {"server", name()},
                                  {"session", session_name_}};
  if (frame.has_break_()) {
    if (refused) {
      Audit("client_break_refused", fields,
            "{} ({}) sent a break, refused: the server is read-only", identity,
            peer);
    } else {
      Audit("client_break", fields, "{} ({}) sent a break", identity, peer);
    }
    return;
  }
  const std::string& line = frame.input().line();
  // The console refuses what a terminal would not pass on as shown
  // (protocol::InputProblem): such input reached nothing, and is recorded
  // shown, not obeyed, and at most kAuditedRefusedBytes of it.
  const std::optional<std::string> problem =
      refused ? std::nullopt : protocol::InputProblem(line);
  if (problem.has_value()) {
    constexpr size_t kAuditedRefusedBytes = 4096;
    fields.emplace_back("line", protocol::VisibleText(line, kAuditedRefusedBytes));
    fields.emplace_back("line_bytes", absl::StrCat(line.size()));
    Audit("client_input_refused", fields, "{} ({}) typed a line, refused: {}",
          identity, peer, *problem);
    return;
  }
  fields.emplace_back("line", line);
  if (refused) {
    Audit("client_input_refused", fields,
          "{} ({}) typed a line, refused: the server is read-only", identity,
          peer);
  } else {
    Audit("client_input", fields, "{} ({}) typed a line", identity, peer);
  }
}

void DebugServer::Attach(std::shared_ptr<protocol::FrameConnection> frames,
                         std::string identity) {
  if (ended()) {
    frames->Close(/*flush=*/false);
    return;
  }
  if (redialer_ != nullptr) redialer_->Reset();
  const uint64_t id = context_.next_client_id();
  std::weak_ptr<DebugServer> server = shared_from_this();
  ClientLinkOptions link_options;
  auto audit = [server, id, identity, peer = frames->peer()](bool refused) {
    return [=](const protocol::Frame& frame) {
      if (auto self = server.lock()) {
        self->AuditInput(frame, refused, id, identity, peer);
      }
    };
  };
  link_options.on_input = audit(/*refused=*/false);
  link_options.on_refused = audit(/*refused=*/true);
  const bool observer = spec_.read_only;
  std::shared_ptr<ClientLink> link = ClientLink::Make(
      id, identity, frames,
      session_->hub().Attach(identity, {.observer = observer, .peer = frames->peer()}),
      [server](uint64_t id, const std::string& reason) {
        if (auto self = server.lock()) self->Forget(id, reason);
      },
      std::move(link_options));
  {
    MutexLock lock(&mu_);
    clients_[id] = link;
    if (redialer_ != nullptr) {
      state_ = v1::Server::CONNECTED;
      state_message_ = absl::StrCat("connected to ", frames->peer());
    }
  }
  link->Start();  // in the map first: Forget must find it
  if (context_.metrics != nullptr) {
    context_.metrics->ClientConnected(transport());
  }
  const std::string as = observer ? " (observer)" : "";
  LogInfo({{"server", name()},
           {"session", session_name_},
           {"client", absl::StrCat("clients/", id)},
           {"identity", identity},
           {"peer", frames->peer()}},
          "{}: {} connected from {} as clients/{}{}", name(), identity,
          frames->peer(), id, as);
  v1::Client client;
  client.set_name(absl::StrCat("clients/", id));
  client.set_identity(identity);
  client.set_peer(frames->peer());
  client.set_observer(observer);
  Emit(v1::Event::CLIENT_CONNECTED,
       absl::StrCat(identity, as, " connected from ", frames->peer()), &client);
}

void DebugServer::Forget(uint64_t client_id, const std::string& reason) {
  std::shared_ptr<ClientLink> link;
  {
    MutexLock lock(&mu_);
    auto it = clients_.find(client_id);
    if (it == clients_.end()) return;
    link = std::move(it->second);
    clients_.erase(it);
  }
  LogInfo({{"server", name()},
           {"session", session_name_},
           {"client", absl::StrCat("clients/", client_id)},
           {"identity", link->identity()},
           {"peer", link->peer()}},
          "{}: clients/{} ({}) disconnected: {}", name(), client_id,
          link->identity(), reason);
  if (context_.metrics != nullptr && link->dropped()) {
    context_.metrics->SlowClientDropped(transport());
  }
  v1::Client client;
  client.set_name(absl::StrCat("clients/", client_id));
  client.set_identity(link->identity());
  client.set_peer(link->peer());
  client.set_observer(link->observer());
  Emit(v1::Event::CLIENT_DISCONNECTED,
       absl::StrCat(link->identity(), link->observer() ? " (observer)" : "",
                    " disconnected: ", reason),
       &client);
  if (redialer_ != nullptr) {
    asio::post(strand_, [self = shared_from_this()] {
      if (!self->ended()) self->redialer_->Retry("the client left");
    });
  }
}

bool DebugServer::Disconnect(uint64_t client_id, const std::string& reason) {
  std::shared_ptr<ClientLink> link;
  {
    MutexLock lock(&mu_);
    auto it = clients_.find(client_id);
    if (it == clients_.end()) return false;
    link = it->second;
  }
  link->Disconnect(reason);
  return true;
}

void DebugServer::End(bool disconnect_clients, const std::string& reason) {
  std::vector<uint64_t> clients;
  bool first = false;
  {
    MutexLock lock(&mu_);
    if (!ended_) {
      first = true;
      ended_ = true;
      state_ = v1::Server::ENDED;
      state_message_ = reason;
    }
    for (const auto& [id, link] : clients_) clients.push_back(id);
  }
  if (first) {
    asio::post(strand_, [self = shared_from_this()] {
      if (self->listener_ != nullptr) self->listener_->Close();
      if (self->redialer_ != nullptr) self->redialer_->Stop();
    });
  }
  if (disconnect_clients) {
    for (uint64_t id : clients) Disconnect(id, reason);
  }
  if (first) Emit(v1::Event::SERVER_ENDED, absl::StrCat(name(), " ended: ", reason));
}

bool DebugServer::AwaitStopped(absl::Duration timeout) {
  // The strand runs in order: past this, End's close has run.
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> stopped = done->get_future();
  asio::post(strand_, [done] { done->set_value(); });
  return stopped.wait_for(absl::ToChronoMilliseconds(timeout)) ==
         std::future_status::ready;
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
  *server.mutable_create_time() = ToProtoTime(create_time_);
  server.set_actual_endpoint(transports::DescribeEndpoint(spec_, endpoint_));
  // A reverse server's port is its client's, never mapped.
  transports::Endpoint advertised = endpoint_;
  if (!spec_.reverse()) {
    advertised.port = context_.advertise_ports.Advertised(endpoint_.port);
  }
  server.set_advertised_endpoint(transports::DescribeEndpoint(spec_, advertised));
  server.set_connect_string(
      transports::ConnectStringFor(spec_, context_.advertise_host, advertised));
  // The listener is made before the server is shared and never replaced.
  if (listener_ != nullptr) server.set_damaged_packets(listener_->damaged_packets());
  MutexLock lock(&mu_);
  server.set_state(state_);
  server.set_state_message(state_message_);
  server.set_client_count(static_cast<int32_t>(clients_.size()));
  return server;
}

std::vector<v1::Client> DebugServer::Clients() const {
  std::vector<v1::Client> clients;
  MutexLock lock(&mu_);
  for (const auto& [id, link] : clients_) {
    v1::Client& client = clients.emplace_back();
    client.set_name(absl::StrCat("clients/", id));
    client.set_identity(link->identity());
    client.set_peer(link->peer());
    client.set_observer(link->observer());
    client.set_transport(std::string(transports::TransportName(spec_.transport)));
    client.set_server(name());
    client.set_session(session_name_);
    *client.mutable_connect_time() = ToProtoTime(link->connect_time());
    *client.mutable_last_active_time() = ToProtoTime(link->last_active());
  }
  return clients;
}

void DebugServer::Emit(v1::Event::Kind kind, const std::string& message,
                       const v1::Client* client) {
  if (!context_.on_event) return;
  v1::Event event;
  event.set_kind(kind);
  *event.mutable_time() = ToProtoTime(absl::Now());
  event.set_session(session_name_);
  event.set_message(message);
  if (client != nullptr) {
    *event.mutable_client() = *client;
    event.mutable_client()->set_server(name());
    event.mutable_client()->set_session(session_name_);
    event.mutable_client()->set_transport(
        std::string(transports::TransportName(spec_.transport)));
  } else {
    *event.mutable_server() = Describe();
  }
  context_.on_event(std::move(event));
}

}  // namespace dbgd::server
