#include "server/server_manager.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "asio/post.hpp"
#include "common/paths.h"
#include "common/proto_time.h"
#include "transports/spec.h"

namespace dbgd::server {
namespace {

// ParseId accepts `prefix/N` or `N`.
absl::StatusOr<uint64_t> ParseId(const std::string& name,
                                 absl::string_view prefix) {
  absl::string_view id = name;
  absl::ConsumePrefix(&id, prefix);
  absl::ConsumePrefix(&id, "/");
  uint64_t number = 0;
  if (name.empty() || !absl::SimpleAtoi(id, &number)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name: \"", name, "\" is not ", prefix, "/ID"));
  }
  return number;
}

// How long Delete and Shutdown wait for a server's strand to close its
// listener; it runs at once unless the loop is stuck.
constexpr absl::Duration kStopWait = absl::Seconds(10);

}  // namespace

ServerManager::ServerManager(asio::io_context& io, SessionManager& sessions,
                             EventBus& events, ServerManagerOptions options)
    : io_(io),
      sessions_(sessions),
      events_(events),
      throttle_(options.throttle),
      transports_(io.get_executor(), std::move(options.transports)) {
  context_.transports = &transports_;
  context_.throttle = &throttle_;
  context_.advertise_host = options.advertise_host.empty()
                                ? dbgd::HostName()
                                : options.advertise_host;
  context_.advertise_ports = options.advertise_ports;
  context_.next_client_id = [this] { return next_client_id_++; };
  context_.on_event = [this](v1::Event event) {
    if (event.kind() == v1::Event::SERVER_ENDED) {
      // What Prune looks at: only servers that ended, not all of them.
      MutexLock lock(&ended_mu_);
      ended_.push_back(event.server().id());
    }
    events_.Publish(event);
  };
  context_.metrics = options.metrics;
  // A session's servers end with it. Subscribers may not call back into
  // the bus, and ending a server publishes: do it on the loop.
  subscription_ = events_.Subscribe([this](const v1::Event& event) {
    if (event.kind() != v1::Event::SESSION_ENDED) return;
    asio::post(io_, [this, session = event.session(), why = event.message()] {
      std::vector<std::shared_ptr<DebugServer>> ending;
      {
        MutexLock lock(&mu_);
        for (const auto& [id, server] : servers_) {
          if (server->session_name() == session) ending.push_back(server);
        }
      }
      for (const auto& server : ending) {
        server->End(/*disconnect_clients=*/true,
                    absl::StrCat("the session ended: ", why));
      }
    });
  });
}

ServerManager::~ServerManager() { events_.Unsubscribe(subscription_); }

absl::StatusOr<v1::Server> ServerManager::Create(const std::string& session,
                                                 const std::string& spec_text) {
  absl::StatusOr<transports::ServerSpec> spec =
      transports::ParseServerSpec(spec_text);
  if (!spec.ok()) {
    // The parser's message names the key; the raw spec is not echoed since
    // it may hold a password.
    return absl::InvalidArgumentError(
        absl::StrCat("spec: ", spec.status().message()));
  }
  absl::StatusOr<std::shared_ptr<session::Session>> target =
      sessions_.Find(session);
  if (!target.ok()) return target.status();
  if ((*target)->ended()) {
    return absl::FailedPreconditionError(absl::StrCat(
        (*target)->name(), " has ended: ", (*target)->Describe().end_reason()));
  }
  MutexLock lock(&mu_);
  // The ID is taken only by a server that exists: a refused spec does not
  // use one up.
  absl::StatusOr<std::shared_ptr<DebugServer>> server =
      DebugServer::Create(next_id_, *target, *std::move(spec), context_);
  if (!server.ok()) return server.status();
  ++next_id_;
  servers_[(*server)->id()] = *server;
  v1::Server description = (*server)->Describe();
  v1::Event event;
  event.set_kind(v1::Event::SERVER_CREATED);
  event.set_session(description.session());
  event.set_message(absl::StrCat(description.name(), " started: ",
                                 description.actual_endpoint()));
  *event.mutable_server() = description;
  // Published before the server runs and while no one else can find it, so
  // SERVER_CREATED comes before anything else the server publishes (its
  // end): the registrar needs to remember nothing about ended servers.
  events_.Publish(event);
  (*server)->Start();
  return description;
}

absl::StatusOr<std::shared_ptr<DebugServer>> ServerManager::Find(
    const std::string& name) {
  absl::StatusOr<uint64_t> id = ParseId(name, "servers");
  if (!id.ok()) return id.status();
  MutexLock lock(&mu_);
  Prune();
  auto it = servers_.find(static_cast<int>(*id));
  if (it == servers_.end()) {
    return absl::NotFoundError(absl::StrCat("server ", name, " not found"));
  }
  return it->second;
}

absl::StatusOr<v1::Server> ServerManager::Get(const std::string& name) {
  absl::StatusOr<std::shared_ptr<DebugServer>> server = Find(name);
  if (!server.ok()) return server.status();
  return (*server)->Describe();
}

std::vector<v1::Server> ServerManager::List(const std::string& session) {
  std::string wanted = session;
  if (!wanted.empty() && !absl::StartsWith(wanted, "sessions/")) {
    wanted = absl::StrCat("sessions/", wanted);
  }
  std::vector<v1::Server> servers;
  MutexLock lock(&mu_);
  Prune();
  for (const auto& [id, server] : servers_) {
    if (wanted.empty() || server->session_name() == wanted) {
      servers.push_back(server->Describe());
    }
  }
  return servers;
}

absl::Status ServerManager::Delete(const std::string& name,
                                   bool disconnect_clients) {
  absl::StatusOr<std::shared_ptr<DebugServer>> server = Find(name);
  if (!server.ok()) return server.status();
  (*server)->End(disconnect_clients, "ended by .endsrv");
  // Returns once the port is free: a server created on it right after (by
  // this daemon or anyone) can bind it.
  if (!io_.get_executor().running_in_this_thread() &&
      !(*server)->AwaitStopped(kStopWait)) {
    return absl::DeadlineExceededError(absl::StrCat(
        name, " ended, but its listener was not closed within ",
        absl::FormatDuration(kStopWait)));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ListCertificatesResponse> ServerManager::ListCertificates(
    const v1::ListCertificatesRequest& request) const {
  absl::StatusOr<transports::CertificateListing> listing =
      transports_.ListCertificates(request.store() == v1::ListCertificatesRequest::MACHINE
                                       ? transports::CertStore::kMachine
                                       : transports::CertStore::kUser);
  if (!listing.ok()) return listing.status();
  v1::ListCertificatesResponse response;
  response.set_directory(listing->directory);
  for (const transports::tls::CertInfo& info : listing->certificates) {
    v1::Certificate& cert = *response.add_certificates();
    cert.set_name(info.name);
    cert.set_subject(info.subject);
    for (const std::string& name : info.dns_names) cert.add_dns_names(name);
    for (const std::string& address : info.ip_addresses) cert.add_ip_addresses(address);
    *cert.mutable_not_before() = ToProtoTime(info.not_before);
    *cert.mutable_not_after() = ToProtoTime(info.not_after);
    cert.set_sha1(info.sha1);
    cert.set_sha256(info.sha256);
    cert.set_has_key(info.has_key);
    cert.set_is_ca(info.is_ca);
    cert.set_can_serve(info.can_serve.ok());
    cert.set_problem(std::string(info.can_serve.message()));
  }
  return response;
}

absl::StatusOr<std::vector<v1::Client>> ServerManager::ListClients(
    const v1::ListClientsRequest& request) {
  std::vector<v1::Client> clients;
  if (request.scope_case() == v1::ListClientsRequest::kServer) {
    absl::StatusOr<std::shared_ptr<DebugServer>> server = Find(request.server());
    if (!server.ok()) return server.status();
    return (*server)->Clients();
  }
  std::string session;
  if (request.scope_case() == v1::ListClientsRequest::kSession &&
      !request.session().empty()) {
    absl::StatusOr<std::shared_ptr<session::Session>> found =
        sessions_.Find(request.session());
    if (!found.ok()) return found.status();
    session = (*found)->name();
  }
  MutexLock lock(&mu_);
  for (const auto& [id, server] : servers_) {
    if (!session.empty() && server->session_name() != session) continue;
    for (v1::Client& client : server->Clients()) clients.push_back(std::move(client));
  }
  return clients;
}

absl::Status ServerManager::DisconnectClient(const std::string& name) {
  absl::StatusOr<uint64_t> id = ParseId(name, "clients");
  if (!id.ok()) return id.status();
  std::vector<std::shared_ptr<DebugServer>> servers;
  {
    MutexLock lock(&mu_);
    for (const auto& [server_id, server] : servers_) servers.push_back(server);
  }
  for (const auto& server : servers) {
    if (server->Disconnect(*id)) return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("client ", name, " not found"));
}

int ServerManager::CountFor(const std::string& session) {
  int count = 0;
  MutexLock lock(&mu_);
  for (const auto& [id, server] : servers_) {
    if (server->session_name() == session && !server->ended()) ++count;
  }
  return count;
}

void ServerManager::Shutdown() {
  std::vector<std::shared_ptr<DebugServer>> servers;
  {
    MutexLock lock(&mu_);
    for (const auto& [id, server] : servers_) servers.push_back(server);
  }
  for (const auto& server : servers) {
    server->End(/*disconnect_clients=*/true, "the daemon is shutting down");
  }
  if (io_.get_executor().running_in_this_thread()) return;
  for (const auto& server : servers) server->AwaitStopped(kStopWait);
}

void ServerManager::Prune() {
  {
    MutexLock lock(&ended_mu_);
    ending_.insert(ended_.begin(), ended_.end());
    ended_.clear();
  }
  // An ended server is forgotten once its last client has left (.endsrv
  // without disconnecting keeps them): until then it stays here.
  for (auto it = ending_.begin(); it != ending_.end();) {
    auto server = servers_.find(*it);
    if (server == servers_.end()) {
      it = ending_.erase(it);
    } else if (server->second->client_count() == 0) {
      servers_.erase(server);
      it = ending_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace dbgd::server
