#include "server/registrar.h"

#include <utility>

#include "asio/post.hpp"
#include "common/notification.h"
#include "common/fmt_absl.h"
#include "server/logging.h"

namespace dbgd::server {

Registrar::Registrar(asio::io_context& io, discovery::Registry& registry,
                     EventBus& events, SessionManager& sessions,
                     RegistrarOptions options)
    : registry_(registry),
      events_(events),
      sessions_(sessions),
      options_(std::move(options)),
      strand_(asio::make_strand(io)) {
  // Subscribers run under the bus's lock: hand the event to the strand,
  // whose FIFO order keeps publication order.
  subscription_ = events_.Subscribe([this](const v1::Event& event) {
    switch (event.kind()) {
      case v1::Event::SERVER_CREATED:
      case v1::Event::SERVER_STATE_CHANGED:
      case v1::Event::SERVER_ENDED:
        asio::post(strand_, [this, event] { Handle(event); });
        break;
      default:
        break;
    }
  });
}

Registrar::~Registrar() { events_.Unsubscribe(subscription_); }

void Registrar::AwaitHandled(absl::Duration timeout) {
  // On the loop itself (any strand) waiting would stall the very thread
  // that must run the marker.
  if (strand_.get_inner_executor().running_in_this_thread()) return;
  // The strand runs what was posted in order: once this runs, every event
  // posted before it has been handled.
  auto handled = std::make_shared<Notification>();
  asio::post(strand_, [handled] { handled->Notify(); });
  handled->WaitForNotificationWithTimeout(timeout);
}

bool Registrar::Listed(const v1::Server& server) {
  return !server.hidden() && !server.reverse();
}

v1::DiscoveredServer Registrar::ToDiscovered(const v1::Server& server,
                                             const RegistrarOptions& options,
                                             const std::string& display_name) {
  v1::DiscoveredServer found;
  found.set_host(options.advertise_host);
  found.set_kind("Debugger Server");
  found.set_endpoint(server.advertised_endpoint());
  found.set_password_required(server.password_required());
  found.set_session_display_name(display_name);
  found.set_daemon(options.daemon_address);
  *found.mutable_register_time() = server.create_time();
  found.set_connect_string(server.connect_string());
  return found;
}

void Registrar::Handle(const v1::Event& event) {
  const v1::Server& server = event.server();
  if (!Listed(server)) return;
  if (event.kind() == v1::Event::SERVER_ENDED ||
      server.state() == v1::Server::ENDED ||
      server.state() == v1::Server::FAILED) {
    listed_.erase(server.id());
    if (absl::Status status = registry_.Unregister(server.name());
        !status.ok()) {
      LogWarn({{"server", server.name()}, {"session", server.session()}},
              "registry: cannot remove {}: {}", server.name(), status.message());
    }
    return;
  }
  if (event.kind() == v1::Event::SERVER_CREATED) {
    listed_.insert(server.id());
  } else if (listed_.count(server.id()) == 0) {
    return;
  }
  std::string display_name;
  if (auto session = sessions_.Find(server.session()); session.ok()) {
    display_name = (*session)->Describe().display_name();
  }
  if (absl::Status status = registry_.Register(
          server.name(), ToDiscovered(server, options_, display_name));
      !status.ok()) {
    LogWarn({{"server", server.name()}, {"session", server.session()}},
            "registry: cannot register {}: {}", server.name(), status.message());
    if (options_.metrics != nullptr) options_.metrics->RegistryRefused();
  }
}

}  // namespace dbgd::server
