#include "server/daemon.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/notification.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "spdlog/spdlog.h"

namespace dbgd::server {

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(
    const DaemonOptions& options) {
  absl::StatusOr<ControlEndpoint> endpoint =
      ResolveControlEndpoint(options.control);
  if (!endpoint.ok()) return endpoint.status();
  if (!endpoint->unix_path.empty()) {
    absl::Status prepared = PrepareUnixSocketPath(endpoint->unix_path);
    if (!prepared.ok()) return prepared;
  }

  std::unique_ptr<Daemon> daemon(new Daemon());
  daemon->endpoint_ = *std::move(endpoint);
  daemon->loop_ = std::make_unique<EventLoop>(options.io_threads);
  daemon->events_ = std::make_unique<EventBus>();
  daemon->sessions_ = std::make_unique<SessionManager>(
      daemon->loop_->context(), *daemon->events_);
  daemon->servers_ = std::make_unique<ServerManager>(
      daemon->loop_->context(), *daemon->sessions_, *daemon->events_,
      options.servers);
  daemon->control_service_ = std::make_unique<ControlService>(
      daemon->endpoint_.token, *daemon->sessions_, *daemon->servers_,
      *daemon->events_);
  daemon->discovery_service_ = std::make_unique<DiscoveryService>();

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(daemon->endpoint_.grpc_address,
                           daemon->endpoint_.credentials, &bound_port);
  builder.RegisterService(daemon->control_service_.get());
  builder.RegisterService(daemon->discovery_service_.get());
  // The socket file is created by gRPC; until the chmod below it must not
  // be reachable by others even for an instant.
  const mode_t old_umask = ::umask(077);
  daemon->server_ = builder.BuildAndStart();
  ::umask(old_umask);
  if (daemon->server_ == nullptr || bound_port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "control_listen: cannot listen on ", daemon->endpoint_.grpc_address,
        " (address in use, not permitted, or malformed)"));
  }
  const ControlEndpoint& ep = daemon->endpoint_;
  if (!ep.unix_path.empty()) {
    if (::chmod(ep.unix_path.c_str(), 0600) != 0) {
      daemon->Shutdown(absl::ZeroDuration());
      return absl::FailedPreconditionError(absl::StrCat(
          "control_listen: chmod 0600 ", ep.unix_path, ": ",
          std::strerror(errno)));
    }
    daemon->control_address_ = ep.grpc_address;
  } else {
    const std::string host = ep.grpc_address.substr(0, ep.grpc_address.rfind(':'));
    daemon->control_address_ = absl::StrCat(host, ":", bound_port);
  }
  daemon->server_->GetHealthCheckService()->SetServingStatus(true);
  spdlog::info("control plane listening on {} ({}{})", daemon->control_address_,
               ep.tls ? "TLS" : (ep.unix_path.empty() ? "plaintext" : "unix"),
               ep.token.empty() ? "" : ", bearer token");
  if (ep.unix_path.empty() && !ep.tls) {
    spdlog::warn("control plane on {} is not encrypted{}",
                 daemon->control_address_,
                 ep.token.empty() ? " and not authenticated"
                                  : ": the bearer token crosses in clear");
  }
  return daemon;
}

Daemon::~Daemon() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<v1::Session> Daemon::CreateSession(
    const v1::CreateSessionRequest& request) {
  dbgd::Notification done;
  absl::StatusOr<v1::Session> result;
  sessions_->Create(request, [&](absl::StatusOr<v1::Session> session) {
    result = std::move(session);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

absl::StatusOr<v1::Server> Daemon::CreateServer(const std::string& session,
                                               const std::string& spec) {
  return servers_->Create(session, spec);
}

void Daemon::Shutdown(absl::Duration grace) {
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    servers_->Shutdown();
    // Sessions first: their end completes any call still waiting on them.
    sessions_->Shutdown(grace);
    server_->Shutdown(std::chrono::system_clock::now() +
                      absl::ToChronoMilliseconds(grace));
    server_->Wait();
    server_.reset();
    if (!endpoint_.unix_path.empty()) ::unlink(endpoint_.unix_path.c_str());
  }
  if (loop_ != nullptr) loop_->Stop();
}

}  // namespace dbgd::server
