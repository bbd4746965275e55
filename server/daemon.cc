#include "server/daemon.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/notification.h"
#include "common/paths.h"
#include "common/posix_error.h"
#include "discovery/embedded_registry.h"
#include "discovery/etcd_registry.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "spdlog/spdlog.h"

namespace dbgd::server {
namespace {

// Discovery settings after validation.
struct DiscoverySettings {
  std::string advertise_host;
  std::string listen;             // gRPC address, or empty
  std::string advertise_address;  // as given, or empty
};

absl::StatusOr<DiscoverySettings> ResolveDiscovery(
    const DaemonOptions& options) {
  DiscoverySettings settings;
  settings.advertise_host = options.servers.advertise_host;
  if (absl::Status host =
          discovery::CheckHostName(settings.advertise_host, "advertise_host");
      !host.ok()) {
    return host;
  }
  if (settings.advertise_host.empty()) settings.advertise_host = HostName();
  const DiscoveryOptions& d = options.discovery;
  if (!d.listen.empty()) {
    absl::StatusOr<std::string> listen =
        WithDefaultPort(d.listen, kDefaultDiscoveryPort, "discovery_listen");
    if (!listen.ok()) return listen.status();
    settings.listen = *std::move(listen);
  }
  if (!d.advertise_address.empty()) {
    absl::StatusOr<std::string> address = WithDefaultPort(
        d.advertise_address, kDefaultDiscoveryPort, "advertise_address");
    if (!address.ok()) return address.status();
    settings.advertise_address = *std::move(address);
  }
  return settings;
}

absl::StatusOr<std::unique_ptr<discovery::Registry>> MakeRegistry(
    const DiscoveryOptions& options,
    std::function<void(const discovery::RegistryState&)> on_state_change) {
  if (options.registry.empty() || options.registry == "embedded") {
    return std::make_unique<discovery::EmbeddedRegistry>();
  }
  if (absl::StartsWith(options.registry, "etcd://")) {
    absl::StatusOr<std::vector<std::string>> endpoints =
        discovery::ParseEtcdUrl(options.registry);
    if (!endpoints.ok()) return endpoints.status();
    if (options.registry_ttl < absl::Seconds(2)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "registry_ttl: ", absl::FormatDuration(options.registry_ttl),
          " is below etcd's shortest lease (2s)"));
    }
    discovery::EtcdRegistryOptions etcd;
    etcd.endpoints = *std::move(endpoints);
    etcd.ttl = options.registry_ttl;
    etcd.on_state_change = std::move(on_state_change);
    absl::StatusOr<std::unique_ptr<discovery::EtcdRegistry>> registry =
        discovery::EtcdRegistry::Start(std::move(etcd));
    if (!registry.ok()) return registry.status();
    return std::unique_ptr<discovery::Registry>(*std::move(registry));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "registry: \"", options.registry,
      "\" is neither \"embedded\" nor etcd://HOST:PORT[,HOST:PORT...]"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(
    const DaemonOptions& options) {
  absl::StatusOr<ControlEndpoint> endpoint =
      ResolveControlEndpoint(options.control);
  if (!endpoint.ok()) return endpoint.status();
  absl::StatusOr<DiscoverySettings> discovery = ResolveDiscovery(options);
  if (!discovery.ok()) return discovery.status();
  if (!endpoint->unix_path.empty()) {
    absl::Status prepared = PrepareUnixSocketPath(endpoint->unix_path);
    if (!prepared.ok()) return prepared;
  }

  std::unique_ptr<Daemon> daemon(new Daemon());
  Daemon* self = daemon.get();
  absl::StatusOr<std::unique_ptr<discovery::Registry>> registry = MakeRegistry(
      options.discovery, [self](const discovery::RegistryState& state) {
        self->OnRegistryState(state);
      });
  if (!registry.ok()) return registry.status();
  daemon->registry_ = *std::move(registry);
  {
    MutexLock lock(&daemon->health_mu_);
    daemon->registry_state_ = daemon->registry_->State();
  }
  daemon->endpoint_ = *std::move(endpoint);
  daemon->loop_ = std::make_unique<EventLoop>(options.io_threads);
  daemon->events_ = std::make_unique<EventBus>();
  daemon->audit_ = std::make_unique<AuditTrail>(*daemon->events_);
  daemon->sessions_ = std::make_unique<SessionManager>(
      daemon->loop_->context(), *daemon->events_);
  ServerManagerOptions server_options = options.servers;
  server_options.advertise_host = discovery->advertise_host;
  daemon->servers_ = std::make_unique<ServerManager>(
      daemon->loop_->context(), *daemon->sessions_, *daemon->events_,
      server_options);
  daemon->control_service_ = std::make_unique<ControlService>(
      daemon->endpoint_.token, *daemon->sessions_, *daemon->servers_,
      *daemon->events_);
  daemon->discovery_service_ =
      std::make_unique<DiscoveryService>(*daemon->registry_);

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
      const int error = errno;  // before Shutdown's own calls reset it
      daemon->Shutdown(absl::ZeroDuration());
      return PosixError(
          absl::StrCat("control_listen: chmod 0600 ", ep.unix_path), error);
    }
    daemon->control_address_ = ep.grpc_address;
  } else {
    const std::string host = ep.grpc_address.substr(0, ep.grpc_address.rfind(':'));
    daemon->control_address_ = absl::StrCat(host, ":", bound_port);
  }
  if (!discovery->listen.empty()) {
    absl::Status listening = daemon->ListenForDiscovery(discovery->listen);
    if (!listening.ok()) {
      daemon->Shutdown(absl::ZeroDuration());
      return listening;
    }
  }
  std::string daemon_address = discovery->advertise_address;
  if (daemon_address.empty() && !daemon->discovery_address_.empty()) {
    daemon_address = absl::StrCat(
        discovery->advertise_host, ":",
        daemon->discovery_address_.substr(
            daemon->discovery_address_.rfind(':') + 1));
  }
  daemon->registrar_ = std::make_unique<Registrar>(
      daemon->loop_->context(), *daemon->registry_, *daemon->events_,
      *daemon->sessions_,
      RegistrarOptions{.advertise_host = discovery->advertise_host,
                       .daemon_address = daemon_address});
  {
    MutexLock lock(&daemon->health_mu_);
    daemon->serving_ = true;
    daemon->ApplyHealth();
  }
  spdlog::info("discovery: registry {}, advertising host {}{}{}",
               daemon->registry_->Describe(), discovery->advertise_host,
               daemon->discovery_address_.empty() ? "" : ", searchable on ",
               daemon->discovery_address_);
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

Daemon::~Daemon() {
  Shutdown(absl::ZeroDuration());
  // The registry's users go first, then the registry itself: an etcd
  // registry withdraws this daemon's entries as it goes and may still
  // report its state, which needs health_mu_.
  registrar_.reset();
  discovery_listen_service_.reset();
  discovery_service_.reset();
  registry_.reset();
}

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

absl::Status Daemon::ListenForDiscovery(const std::string& address) {
  discovery_listen_service_ = std::make_unique<DiscoveryService>(*registry_);
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(),
                           &bound_port);
  builder.RegisterService(discovery_listen_service_.get());
  discovery_server_ = builder.BuildAndStart();
  if (discovery_server_ == nullptr || bound_port == 0) {
    discovery_server_.reset();
    return absl::UnavailableError(absl::StrCat(
        "discovery_listen: cannot listen on ", address,
        " (address in use, not permitted, or malformed)"));
  }
  discovery_address_ = absl::StrCat(address.substr(0, address.rfind(':')),
                                    ":", bound_port);
  return absl::OkStatus();
}

void Daemon::OnRegistryState(const discovery::RegistryState& state) {
  MutexLock lock(&health_mu_);
  registry_state_ = state;
  ApplyHealth();
}

void Daemon::ApplyHealth() {
  if (!serving_) return;
  for (grpc::Server* server : {server_.get(), discovery_server_.get()}) {
    if (server == nullptr) continue;
    server->GetHealthCheckService()->SetServingStatus(true);
    server->GetHealthCheckService()->SetServingStatus(
        kRegistryHealthService, registry_state_.registered);
  }
}

void Daemon::Shutdown(absl::Duration grace) {
  {
    MutexLock lock(&health_mu_);
    serving_ = false;
  }
  for (grpc::Server* server : {server_.get(), discovery_server_.get()}) {
    if (server != nullptr) {
      server->GetHealthCheckService()->SetServingStatus(false);
    }
  }
  if (server_ != nullptr) {
    servers_->Shutdown();
    // Sessions first: their end completes any call still waiting on them.
    sessions_->Shutdown(grace);
    const auto deadline = std::chrono::system_clock::now() +
                          absl::ToChronoMilliseconds(grace);
    server_->Shutdown(deadline);
    if (discovery_server_ != nullptr) discovery_server_->Shutdown(deadline);
    server_->Wait();
    server_.reset();
    if (!endpoint_.unix_path.empty()) ::unlink(endpoint_.unix_path.c_str());
  }
  if (discovery_server_ != nullptr) {
    discovery_server_->Shutdown();
    discovery_server_->Wait();
    discovery_server_.reset();
  }
  if (loop_ != nullptr) loop_->Stop();
}

}  // namespace dbgd::server
