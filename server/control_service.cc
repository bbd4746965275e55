#include "server/control_service.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/posix_error.h"
#include "common/mutex.h"
#include "server/audit.h"
#include "server/bearer_auth.h"
#include "server/grpc_status.h"
#include "server/page_token.h"
#include "transports/spec.h"

namespace dbgd::server {
namespace {

// Where the missing behaviour lands; names the issue that owns it.

constexpr absl::Duration kDefaultExecuteTimeout = absl::Seconds(30);
// Events a WatchEvents stream may fall behind by before it is ended.
constexpr size_t kMaxPendingEvents = 4096;

// CallerIdentity is how a control-plane caller is named to the session's
// clients: what it says it is (`x-dbgd-identity`, dbgctl sends host\user),
// else its transport address.
std::string CallerIdentity(const grpc::CallbackServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("x-dbgd-identity");
  if (it != metadata.end() && !it->second.empty() && it->second.size() <= 128) {
    return std::string(it->second.data(), it->second.size());
  }
  return absl::StrCat("control@", context.peer());
}

// EventWriter streams the bus's events (optionally of one session) to one
// WatchEvents caller, one write in flight at a time.
class EventWriter final : public grpc::ServerWriteReactor<v1::Event> {
 public:
  EventWriter(EventBus& bus, std::string session) : bus_(bus) {
    subscription_ = bus_.Subscribe(
        [this, session = std::move(session)](const v1::Event& event) {
          if (!session.empty() && event.session() != session) return;
          MutexLock lock(&mu_);
          if (finished_) return;
          if (pending_.size() >= kMaxPendingEvents) {
            finished_ = true;
            Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "WatchEvents: the stream fell behind"));
            return;
          }
          pending_.push_back(event);
          if (pending_.size() == 1) StartWrite(&pending_.front());
        });
  }

  void OnWriteDone(bool ok) override {
    MutexLock lock(&mu_);
    pending_.pop_front();
    if (!ok) {
      if (!finished_) {
        finished_ = true;
        Finish(grpc::Status::CANCELLED);
      }
      return;
    }
    if (!pending_.empty() && !finished_) StartWrite(&pending_.front());
  }

  void OnCancel() override {
    MutexLock lock(&mu_);
    if (!finished_) {
      finished_ = true;
      Finish(grpc::Status::CANCELLED);
    }
  }

  void OnDone() override {
    bus_.Unsubscribe(subscription_);  // no callback runs after this
    delete this;
  }

 private:
  EventBus& bus_;
  uint64_t subscription_ = 0;
  Mutex mu_;
  std::deque<v1::Event> pending_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// A server-streaming reactor that ends the stream at once with `status`.
template <typename Message>
class FinishedWriter final : public grpc::ServerWriteReactor<Message> {
 public:
  explicit FinishedWriter(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

// A recording is sent in chunks of this size (well below the 4 MiB a stock
// gRPC client accepts).
constexpr size_t kRecordingChunkBytes = 64 * 1024;

// RecordingReader streams the first `size` bytes of a recording's file,
// one chunk in flight at a time.
class RecordingReader final
    : public grpc::ServerWriteReactor<v1::RecordingChunk> {
 public:
  explicit RecordingReader(RecordingStore::Opened opened)
      : opened_(std::move(opened)) {
    Next();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::CANCELLED);
      return;
    }
    Next();
  }

  void OnDone() override { delete this; }

 private:
  void Next() {
    if (offset_ >= opened_.size) {
      Finish(grpc::Status::OK);
      return;
    }
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(kRecordingChunkBytes,
                                               opened_.size - offset_));
    std::string& data = *chunk_.mutable_data();
    data.resize(want);
    size_t got = 0;
    while (got < want) {
      const ssize_t n = ::pread(opened_.file.get(), data.data() + got,
                                want - got, static_cast<off_t>(offset_ + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Finish(ToGrpcStatus(
            n < 0 ? PosixError(absl::StrCat("read ", opened_.path), errno)
                  : absl::DataLossError(absl::StrCat(
                        opened_.path, " is shorter than it was (",
                        offset_ + got, " of ", opened_.size, " bytes)"))));
        return;
      }
      got += static_cast<size_t>(n);
    }
    offset_ += want;
    StartWrite(&chunk_);
  }

  const RecordingStore::Opened opened_;
  uint64_t offset_ = 0;
  v1::RecordingChunk chunk_;
};

}  // namespace

ControlService::ControlService(std::string token, SessionManager& sessions,
                               ServerManager& servers, EventBus& events,
                               Metrics* metrics, PageLimits page_limits,
                               RecordingStore* recordings)
    : token_(std::move(token)),
      sessions_(sessions),
      servers_(servers),
      events_(events),
      metrics_(metrics),
      page_limits_(page_limits),
      recordings_(recordings) {}

v1::Session ControlService::Describe(const session::Session& session) const {
  v1::Session description = session.Describe();
  description.set_server_count(servers_.CountFor(description.name()));
  return description;
}

absl::Status ControlService::Authorize(
    const grpc::CallbackServerContext& context) const {
  absl::Status status = CheckBearerToken(context, token_);
  if (!status.ok()) {
    Audit("control_auth_failed",
          {{"identity", CallerIdentity(context)},
           {"peer", context.peer()},
           {"code", absl::StatusCodeToString(status.code())}},
          "control call from {} refused: {}", context.peer(), status.message());
  }
  return status;
}

grpc::ServerUnaryReactor* ControlService::CreateSession(
    grpc::CallbackServerContext* context, const v1::CreateSessionRequest* request,
    v1::Session* response) {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) return FinishUnary(context, auth);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  sessions_.Create(*request, [reactor, response, caller = CallerIdentity(*context),
                              peer = context->peer(), engine = request->engine()](
                                 absl::StatusOr<v1::Session> session) {
    AuditControlCall("CreateSession", caller, peer,
                     {{"session", session.ok() ? session->name() : ""},
                      {"engine", engine}},
                     session.status());
    if (session.ok()) *response = *std::move(session);
    reactor->Finish(ToGrpcStatus(session.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ControlService::GetSession(
    grpc::CallbackServerContext* context, const v1::GetSessionRequest* request,
    v1::Session* response) {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) return FinishUnary(context, auth);
  if (request->name().empty()) {
    return FinishUnary(context, absl::InvalidArgumentError("name: is required"));
  }
  absl::StatusOr<std::shared_ptr<session::Session>> session =
      sessions_.Find(request->name());
  if (session.ok()) *response = Describe(**session);
  return FinishUnary(context, session.status());
}

grpc::ServerUnaryReactor* ControlService::ListSessions(
    grpc::CallbackServerContext* context, const v1::ListSessionsRequest* request,
    v1::ListSessionsResponse* response) {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) return FinishUnary(context, auth);
  absl::StatusOr<PageRequest> page = ParsePageRequest(
      request->page_size(), request->page_token(), "ListSessions", "",
      page_limits_);
  if (!page.ok()) return FinishUnary(context, page.status());
  std::vector<std::shared_ptr<session::Session>> sessions = sessions_.List();
  absl::StatusOr<std::string> next = TakePageById(
      sessions, [](const auto& session) { return IdOf(session->id()); }, *page,
      "ListSessions", "");
  if (!next.ok()) return FinishUnary(context, next.status());
  // A page also ends at kMaxListPageBytes: a session's request may hold
  // ~100 KiB (arguments, environment), and a thousand of them would pass
  // gRPC's 4 MiB receive limit.
  size_t bytes = 0;
  for (const auto& session : sessions) {
    v1::Session described = Describe(*session);
    bytes += described.ByteSizeLong();
    if (bytes > kMaxListPageBytes && response->sessions_size() > 0) {
      next = MakePageToken("ListSessions", "",
                           absl::StrCat(IdOf(response->sessions().rbegin()->name())));
      break;
    }
    *response->add_sessions() = std::move(described);
  }
  response->set_next_page_token(*std::move(next));
  return FinishUnary(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* ControlService::DeleteSession(
    grpc::CallbackServerContext* context, const v1::DeleteSessionRequest* request,
    v1::DeleteSessionResponse*) {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) return FinishUnary(context, auth);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  sessions_.Delete(request->name(), request->kill_target(),
                   [reactor, caller = CallerIdentity(*context),
                    peer = context->peer(), name = request->name(),
                    kill = request->kill_target()](absl::Status status) {
                     AuditControlCall("DeleteSession", caller, peer,
                                      {{"session", name},
                                       {"kill_target", kill ? "true" : "false"}},
                                      status);
                     reactor->Finish(ToGrpcStatus(status));
                   });
  return reactor;
}

grpc::ServerUnaryReactor* ControlService::Execute(
    grpc::CallbackServerContext* context, const v1::ExecuteRequest* request,
    v1::ExecuteResponse* response) {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) return FinishUnary(context, auth);
  absl::StatusOr<std::shared_ptr<session::Session>> session =
      sessions_.Find(request->session());
  const std::string caller = CallerIdentity(*context);
  if (!session.ok()) {
    AuditExecute(caller, context->peer(), request->session(), request->command(),
                 session.status());
    return FinishUnary(context, session.status());
  }
  absl::Duration timeout = kDefaultExecuteTimeout;
  if (request->has_timeout()) {
    timeout = absl::Seconds(request->timeout().seconds()) +
              absl::Nanoseconds(request->timeout().nanos());
    if (timeout <= absl::ZeroDuration()) {
      const absl::Status invalid =
          absl::InvalidArgumentError("timeout: must be positive");
      AuditExecute(caller, context->peer(), (*session)->name(), request->command(),
                   invalid);
      return FinishUnary(context, invalid);
    }
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  (*session)->Execute(
      caller, request->command(), timeout,
      [reactor, response, caller, peer = context->peer(),
       session = (*session)->name(), command = request->command(),
       metrics = metrics_, start = absl::Now(),
       engine = (*session)->Describe().engine()](
          absl::StatusOr<session::ExecuteResult> result) {
        if (metrics != nullptr) {
          metrics->ExecuteFinished(engine, absl::Now() - start);
        }
        AuditExecute(caller, peer, session, command, result.status());
        if (result.ok()) {
          response->set_output(result->output);
          response->set_error(result->error);
        }
        reactor->Finish(ToGrpcStatus(result.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* ControlService::CreateServer(
    grpc::CallbackServerContext* context, const v1::CreateServerRequest* request,
    v1::Server* response) {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) return FinishUnary(context, auth);
  absl::StatusOr<v1::Server> server =
      servers_.Create(request->session(), request->spec());
  AuditControlCall(
      "CreateServer", CallerIdentity(*context), context->peer(),
      {{"server", server.ok() ? server->name() : ""},
       {"session", server.ok() ? server->session() : request->session()},
       // Server.spec masks the password; a refused spec is masked here.
       {"spec", server.ok() ? server->spec() : RedactPasswords(request->spec())}},
      server.status());
  if (server.ok()) {
    if (Registrar* registrar = registrar_.load()) registrar->AwaitHandled(absl::Seconds(5));
    *response = *std::move(server);
  }
  return FinishUnary(context, server.status());
}

grpc::ServerUnaryReactor* ControlService::GetServer(
    grpc::CallbackServerContext* context, const v1::GetServerRequest* request,
    v1::Server* response) {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) return FinishUnary(context, auth);
  absl::StatusOr<v1::Server> server = servers_.Get(request->name());
  if (server.ok()) *response = *std::move(server);
  return FinishUnary(context, server.status());
}

grpc::ServerUnaryReactor* ControlService::ListServers(
    grpc::CallbackServerContext* context, const v1::ListServersRequest* request,
    v1::ListServersResponse* response) {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) return FinishUnary(context, auth);
  std::string filter = request->session();
  if (!filter.empty() && !absl::StartsWith(filter, "sessions/")) {
    filter = absl::StrCat("sessions/", filter);
  }
  absl::StatusOr<PageRequest> page = ParsePageRequest(
      request->page_size(), request->page_token(), "ListServers", filter,
      page_limits_);
  if (!page.ok()) return FinishUnary(context, page.status());
  std::vector<v1::Server> servers = servers_.List(request->session());
  absl::StatusOr<std::string> next = TakePageById(
      servers, [](const v1::Server& server) { return uint64_t(server.id()); },
      *page, "ListServers", filter);
  if (!next.ok()) return FinishUnary(context, next.status());
  for (v1::Server& server : servers) {
    *response->add_servers() = std::move(server);
  }
  response->set_next_page_token(*std::move(next));
  return FinishUnary(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* ControlService::DeleteServer(
    grpc::CallbackServerContext* context, const v1::DeleteServerRequest* request,
    v1::DeleteServerResponse*) {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) return FinishUnary(context, auth);
  absl::Status status =
      servers_.Delete(request->name(), request->disconnect_clients());
  AuditControlCall(
      "DeleteServer", CallerIdentity(*context), context->peer(),
      {{"server", request->name()},
       {"disconnect_clients", request->disconnect_clients() ? "true" : "false"}},
      status);
  if (status.ok()) {
    if (Registrar* registrar = registrar_.load()) registrar->AwaitHandled(absl::Seconds(5));
  }
  return FinishUnary(context, status);
}

grpc::ServerUnaryReactor* ControlService::ListCertificates(
    grpc::CallbackServerContext* context,
    const v1::ListCertificatesRequest* request,
    v1::ListCertificatesResponse* response) {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) return FinishUnary(context, auth);
  absl::StatusOr<v1::ListCertificatesResponse> listing =
      servers_.ListCertificates(*request);
  if (listing.ok()) *response = *std::move(listing);
  return FinishUnary(context, listing.status());
}

grpc::ServerUnaryReactor* ControlService::ListClients(
    grpc::CallbackServerContext* context, const v1::ListClientsRequest* request,
    v1::ListClientsResponse* response) {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) return FinishUnary(context, auth);
  std::string filter;
  if (request->scope_case() == v1::ListClientsRequest::kSession) {
    filter = absl::StrCat("session=", request->session());
  } else if (request->scope_case() == v1::ListClientsRequest::kServer) {
    filter = absl::StrCat("server=", request->server());
  }
  absl::StatusOr<PageRequest> page = ParsePageRequest(
      request->page_size(), request->page_token(), "ListClients", filter,
      page_limits_);
  if (!page.ok()) return FinishUnary(context, page.status());
  absl::StatusOr<std::vector<v1::Client>> clients = servers_.ListClients(*request);
  if (!clients.ok()) return FinishUnary(context, clients.status());
  absl::StatusOr<std::string> next = TakePageById(
      *clients, [](const v1::Client& client) { return IdOf(client.name()); },
      *page, "ListClients", filter);
  if (!next.ok()) return FinishUnary(context, next.status());
  for (v1::Client& client : *clients) *response->add_clients() = std::move(client);
  response->set_next_page_token(*std::move(next));
  return FinishUnary(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* ControlService::DisconnectClient(
    grpc::CallbackServerContext* context,
    const v1::DisconnectClientRequest* request, v1::DisconnectClientResponse*) {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) return FinishUnary(context, auth);
  absl::Status status = servers_.DisconnectClient(request->name());
  AuditControlCall("DisconnectClient", CallerIdentity(*context), context->peer(),
                   {{"client", request->name()}}, status);
  return FinishUnary(context, status);
}

grpc::ServerWriteReactor<v1::Event>* ControlService::WatchEvents(
    grpc::CallbackServerContext* context, const v1::WatchEventsRequest* request) {
  absl::Status status = Authorize(*context);
  if (!status.ok()) return new FinishedWriter<v1::Event>(ToGrpcStatus(status));
  std::string session = request->session();
  if (!session.empty() && !absl::StartsWith(session, "sessions/")) {
    session = absl::StrCat("sessions/", session);
  }
  return new EventWriter(events_, std::move(session));
}

grpc::ServerWriteReactor<v1::RecordingChunk>* ControlService::GetRecording(
    grpc::CallbackServerContext* context,
    const v1::GetRecordingRequest* request) {
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) {
    return new FinishedWriter<v1::RecordingChunk>(ToGrpcStatus(auth));
  }
  // A recording holds everything typed: who fetched one is on record.
  auto refuse = [&](const absl::Status& status) {
    AuditControlCall("GetRecording", CallerIdentity(*context), context->peer(),
                     {{"session", request->name()}}, status);
    return new FinishedWriter<v1::RecordingChunk>(ToGrpcStatus(status));
  };
  if (request->name().empty()) {
    return refuse(absl::InvalidArgumentError("name: is required"));
  }
  absl::string_view id_text = request->name();
  absl::ConsumePrefix(&id_text, "sessions/");
  uint64_t id = 0;
  if (!absl::SimpleAtoi(id_text, &id)) {
    return refuse(absl::InvalidArgumentError(absl::StrCat(
        "name: \"", request->name(), "\" is not sessions/ID")));
  }
  const std::string name = absl::StrCat("sessions/", id);
  absl::StatusOr<RecordingStore::Opened> opened =
      recordings_ != nullptr ? recordings_->Open(id)
                             : absl::NotFoundError("no recordings");
  if (!opened.ok()) {
    if (!absl::IsNotFound(opened.status())) return refuse(opened.status());
    const std::string kept =
        recordings_ != nullptr
            ? absl::StrCat(" (a recording is kept for ",
                           absl::FormatDuration(recordings_->options().keep),
                           " after its session ended: --recording_keep)")
            : "";
    absl::StatusOr<std::shared_ptr<session::Session>> session = sessions_.Find(name);
    if (session.ok() && (*session)->Describe().recording()) {
      // Ended, never deleted, and kept no longer.
      return refuse(absl::NotFoundError(
          absl::StrCat("the recording of ", name, " has expired", kept)));
    }
    if (session.ok()) {
      return refuse(absl::NotFoundError(absl::StrCat(
          name, " is not recorded (CreateSession with record, or dbgd "
                "--record_sessions)")));
    }
    return refuse(absl::NotFoundError(absl::StrCat(
        "session ", name, " not found, and no recording of it is kept", kept)));
  }
  AuditControlCall("GetRecording", CallerIdentity(*context), context->peer(),
                   {{"session", name},
                    {"path", opened->path},
                    {"bytes", absl::StrCat(opened->size)}},
                   absl::OkStatus());
  return new RecordingReader(*std::move(opened));
}

}  // namespace dbgd::server
