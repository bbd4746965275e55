#include "server/daemon.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/flag_file.h"
#include "common/notification.h"
#include "common/paths.h"
#include "common/posix_error.h"
#include "common/tls_credentials.h"
#include "discovery/embedded_registry.h"
#include "discovery/etcd_registry.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "server/rpc_metrics.h"
#include "spdlog/spdlog.h"

namespace dbgd::server {
namespace {

// InContainer: podman, Docker and systemd-nspawn each leave a sign.
bool InContainer() {
  return ::access("/run/.containerenv", F_OK) == 0 ||
         ::access("/.dockerenv", F_OK) == 0 || std::getenv("container") != nullptr;
}

// Discovery settings after validation.
struct DiscoverySettings {
  std::string advertise_host;
  std::string listen;             // gRPC address, or empty
  std::string advertise_address;  // as given, or empty
  // For `listen`: TLS, or plaintext when no certificate was given.
  std::shared_ptr<grpc::ServerCredentials> listen_credentials;
  bool listen_tls = false;
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
  if (settings.advertise_host.empty()) {
    settings.advertise_host = HostName();
    // A container's host name is its ID, which nobody outside resolves.
    if (InContainer()) {
      spdlog::warn(
          "running in a container: connect strings and discovery name host "
          "\"{}\", which other hosts cannot reach; set --advertise_host (and "
          "--advertise_ports for a port mapping)",
          settings.advertise_host);
    }
  }
  const DiscoveryOptions& d = options.discovery;
  if (!d.listen.empty()) {
    absl::StatusOr<std::string> listen =
        WithDefaultPort(d.listen, kDefaultDiscoveryPort, "discovery_listen");
    if (!listen.ok()) return listen.status();
    settings.listen = *std::move(listen);
  }
  const ServerTlsFiles tls{
      .cert = {"discovery_tls_cert", d.listen_tls_cert_file},
      .key = {"discovery_tls_key", d.listen_tls_key_file},
      .client_ca = {"discovery_client_ca", d.listen_client_ca_file}};
  if (!tls.cert.path.empty() || !tls.key.path.empty() ||
      !tls.client_ca.path.empty()) {
    if (d.listen.empty()) {
      return absl::InvalidArgumentError(
          "discovery_tls_cert, discovery_tls_key, discovery_client_ca: need "
          "discovery_listen");
    }
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        ServerTlsCredentials(tls);
    if (!credentials.ok()) return credentials.status();
    settings.listen_credentials = *std::move(credentials);
    settings.listen_tls = true;
  } else {
    settings.listen_credentials = grpc::InsecureServerCredentials();
  }
  if (!d.advertise_address.empty()) {
    absl::StatusOr<std::string> address = WithDefaultPort(
        d.advertise_address, kDefaultDiscoveryPort, "advertise_address");
    if (!address.ok()) return address.status();
    settings.advertise_address = *std::move(address);
  }
  return settings;
}

// SecureEtcd fills in how `etcd` reaches etcd: TLS credentials and the
// password, from the files the flags name.
absl::Status SecureEtcd(const DiscoveryOptions& options,
                        discovery::EtcdRegistryOptions& etcd) {
  const ClientTlsFiles tls{
      .ca = {"registry_tls_ca", options.registry_tls_ca_file},
      .cert = {"registry_tls_cert", options.registry_tls_cert_file},
      .key = {"registry_tls_key", options.registry_tls_key_file}};
  if (tls.any()) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        ClientTlsCredentials(tls);
    if (!credentials.ok()) return credentials.status();
    etcd.credentials = *std::move(credentials);
  }
  if (options.registry_user.empty() != options.registry_password_file.empty()) {
    return absl::InvalidArgumentError(
        options.registry_user.empty()
            ? "registry_password_file: needs registry_user"
            : "registry_user: needs registry_password_file");
  }
  if (!options.registry_user.empty()) {
    absl::StatusOr<std::string> password = ReadSecretFlagFile(
        "registry_password_file", options.registry_password_file);
    if (!password.ok()) return password.status();
    // The file's last line break is not part of the password.
    absl::string_view text = *password;
    absl::ConsumeSuffix(&text, "\n");
    absl::ConsumeSuffix(&text, "\r");
    if (text.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("registry_password_file: ",
                       options.registry_password_file, " is empty"));
    }
    etcd.user = options.registry_user;
    etcd.password = std::string(text);
    if (!tls.any()) {
      spdlog::warn(
          "registry: the etcd password for user {} crosses the network in "
          "clear; give --registry_tls_ca to use TLS",
          options.registry_user);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<discovery::Registry>> MakeRegistry(
    const DiscoveryOptions& options,
    std::function<void(const discovery::RegistryState&)> on_state_change) {
  if (options.registry.empty() || options.registry == "embedded") {
    for (const auto& [flag, value] :
         {std::pair{"registry_tls_ca", &options.registry_tls_ca_file},
          std::pair{"registry_tls_cert", &options.registry_tls_cert_file},
          std::pair{"registry_tls_key", &options.registry_tls_key_file},
          std::pair{"registry_user", &options.registry_user},
          std::pair{"registry_password_file",
                    &options.registry_password_file}}) {
      if (!value->empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag, ": needs an etcd:// --registry"));
      }
    }
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
    if (absl::Status secured = SecureEtcd(options, etcd); !secured.ok()) {
      return secured;
    }
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
  if (absl::Status limits = CheckConnectionLimits(options.connections);
      !limits.ok()) {
    return limits;
  }
  if (!options.metrics_listen.empty()) {
    absl::Status valid = CheckMetricsListen(options.metrics_listen);
    if (!valid.ok()) return valid;
  }
  absl::StatusOr<std::unique_ptr<RecordingStore>> recordings =
      RecordingStore::Create(options.recordings);
  if (!recordings.ok()) return recordings.status();
  if (!endpoint->unix_path.empty()) {
    absl::Status prepared = PrepareUnixSocketPath(endpoint->unix_path);
    if (!prepared.ok()) return prepared;
  }

  // Descriptors are the process's: so are the limits on connections.
  HandshakeGate::Process().Configure(options.connections);
  std::unique_ptr<Daemon> daemon(new Daemon());
  daemon->recordings_ = *std::move(recordings);
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
  if (!options.metrics_listen.empty()) {
    daemon->metrics_ = std::make_unique<Metrics>();
  }
  daemon->loop_ = std::make_unique<EventLoop>(options.io_threads);
  daemon->events_ = std::make_unique<EventBus>();
  daemon->audit_ = std::make_unique<AuditTrail>(*daemon->events_);
  daemon->sessions_ = std::make_unique<SessionManager>(
      daemon->loop_->context(), *daemon->events_, daemon->recordings_.get());
  ServerManagerOptions server_options = options.servers;
  server_options.advertise_host = discovery->advertise_host;
  server_options.metrics = daemon->metrics_.get();
  daemon->servers_ = std::make_unique<ServerManager>(
      daemon->loop_->context(), *daemon->sessions_, *daemon->events_,
      server_options);
  daemon->control_service_ = std::make_unique<ControlService>(
      daemon->endpoint_.token, *daemon->sessions_, *daemon->servers_,
      *daemon->events_, daemon->metrics_.get(), options.pages,
      daemon->recordings_.get());
  daemon->discovery_service_ =
      std::make_unique<DiscoveryService>(*daemon->registry_, options.pages);
  daemon->pages_ = options.pages;

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(daemon->endpoint_.grpc_address,
                           daemon->endpoint_.credentials, &bound_port);
  builder.RegisterService(daemon->control_service_.get());
  builder.RegisterService(daemon->discovery_service_.get());
  if (daemon->metrics_ != nullptr) {
    builder.experimental().SetInterceptorCreators(
        RpcMetricsInterceptors(*daemon->metrics_));
  }
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
    absl::Status listening = daemon->ListenForDiscovery(
        discovery->listen, discovery->listen_credentials);
    if (!listening.ok()) {
      daemon->Shutdown(absl::ZeroDuration());
      return listening;
    }
  }
  if (daemon->metrics_ != nullptr) {
    absl::Status serving = daemon->metrics_->Serve(
        options.metrics_listen, [self] { return self->MetricsSnapshot(); });
    if (!serving.ok()) {
      daemon->Shutdown(absl::ZeroDuration());
      return serving;
    }
    spdlog::info("metrics on http://{}/metrics", daemon->metrics_->address());
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
                       .daemon_address = daemon_address,
                       .metrics = daemon->metrics_.get()});
  daemon->control_service_->SetRegistrar(daemon->registrar_.get());
  {
    MutexLock lock(&daemon->health_mu_);
    daemon->serving_ = true;
    daemon->ApplyHealth();
  }
  spdlog::info("discovery: registry {}, advertising host {}{}{}",
               daemon->registry_->Describe(), discovery->advertise_host,
               daemon->discovery_address_.empty() ? "" : ", searchable on ",
               daemon->discovery_address_);
  if (!daemon->discovery_address_.empty()) {
    if (discovery->listen_tls) {
      spdlog::info("discovery listening on {} (TLS{})",
                   daemon->discovery_address_,
                   options.discovery.listen_client_ca_file.empty()
                       ? ""
                       : ", client certificates required");
    } else {
      // Read-only and no more than -QR shows, but anyone on the network
      // can read it, and a client cannot tell this daemon from another.
      spdlog::warn(
          "discovery listening on {} in plaintext: anyone who reaches it can "
          "list the servers, and clients cannot authenticate it; give "
          "--discovery_tls_cert/--discovery_tls_key for TLS",
          daemon->discovery_address_);
    }
  }
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
  if (control_service_ != nullptr) control_service_->SetRegistrar(nullptr);
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

absl::Status Daemon::ListenForDiscovery(
    const std::string& address,
    std::shared_ptr<grpc::ServerCredentials> credentials) {
  discovery_listen_service_ =
      std::make_unique<DiscoveryService>(*registry_, pages_);
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(address, std::move(credentials), &bound_port);
  builder.RegisterService(discovery_listen_service_.get());
  if (metrics_ != nullptr) {
    builder.experimental().SetInterceptorCreators(
        RpcMetricsInterceptors(*metrics_));
  }
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

Metrics::Snapshot Daemon::MetricsSnapshot() const {
  Metrics::Snapshot snapshot;
  for (const auto& session : sessions_->List()) {
    snapshot.sessions.push_back(session->Describe());
  }
  snapshot.servers = servers_->List("");
  const discovery::RegistryState registry = registry_->State();
  snapshot.registry_up = registry.registered;
  snapshot.registry = registry_->Stats();
  snapshot.auth_lockouts = servers_->throttle().lockouts();
  snapshot.auth_locked_sources = servers_->throttle().locked_sources();
  return snapshot;
}

void Daemon::OnRegistryState(const discovery::RegistryState& state) {
  MutexLock lock(&health_mu_);
  registry_state_ = state;
  ApplyHealth();
}

void Daemon::ApplyHealth() {
  if (!serving_) return;
  // Each listener answers for the services it serves, by their full names
  // (what grpc-health-probe and Kubernetes' gRPC probes ask for), for the
  // whole daemon (""), and for the registry.
  for (grpc::Server* server : {server_.get(), discovery_server_.get()}) {
    if (server == nullptr) continue;
    grpc::HealthCheckServiceInterface& health = *server->GetHealthCheckService();
    health.SetServingStatus(true);
    if (server == server_.get()) {
      health.SetServingStatus(v1::Control::service_full_name(), true);
    }
    health.SetServingStatus(v1::Discovery::service_full_name(), true);
    health.SetServingStatus(kRegistryHealthService, registry_state_.registered);
  }
}

void Daemon::Shutdown(absl::Duration grace) {
  // First: scrapes read the managers torn down below.
  if (metrics_ != nullptr) metrics_->StopServing();
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
