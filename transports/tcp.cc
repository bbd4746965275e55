#include "transports/tcp.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/connect.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/ip/v6_only.hpp"
#include "transports/socket_stream.h"

namespace dbgd::transports {
namespace {

using asio::ip::tcp;

// Describe names a peer as gRPC does ("ipv4:127.0.0.1:5005"), showing an
// IPv4 client of a dual-stack socket as the IPv4 address it is.
std::pair<std::string, std::string> Describe(const tcp::endpoint& endpoint) {
  asio::ip::address address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  const std::string text = address.to_string();
  if (address.is_v4()) {
    return {absl::StrCat("ipv4:", text, ":", endpoint.port()), text};
  }
  return {absl::StrCat("ipv6:[", text, "]:", endpoint.port()), text};
}

std::unique_ptr<Stream> MakeStream(tcp::socket socket) {
  std::error_code error;
  tcp::endpoint remote = socket.remote_endpoint(error);
  auto [peer, source] = error ? std::pair<std::string, std::string>{"tcp:?", "?"}
                              : Describe(remote);
  socket.set_option(tcp::no_delay(true), error);  // interactive traffic
  return std::make_unique<SocketStream<tcp::socket>>(std::move(socket), peer,
                                                     source);
}

class TcpListener final : public Listener {
 public:
  TcpListener(tcp::acceptor acceptor, uint16_t port)
      : acceptor_(std::move(acceptor)), port_(port) {}

  void AsyncAccept(AcceptHandler handler) override {
    acceptor_.async_accept(
        [handler = std::move(handler)](std::error_code error, tcp::socket socket) {
          if (error) {
            handler(error, nullptr);
            return;
          }
          handler(error, MakeStream(std::move(socket)));
        });
  }

  void Close() override {
    std::error_code ignored;
    acceptor_.close(ignored);
  }

  uint16_t port() const override { return port_; }

 private:
  tcp::acceptor acceptor_;
  const uint16_t port_;
};

// TryBind opens, binds and listens on `endpoint`; returns the error.
std::error_code TryBind(tcp::acceptor& acceptor, const tcp::endpoint& endpoint,
                        bool v6_only) {
  std::error_code error;
  acceptor.open(endpoint.protocol(), error);
  if (error) return error;
  if (endpoint.address().is_v6()) {
    acceptor.set_option(asio::ip::v6_only(v6_only), error);
    if (error) return error;
  }
  // Lets a restarted server take its port back while old connections linger
  // in TIME_WAIT; two live listeners still cannot share a port.
  acceptor.set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    std::error_code ignored;
    acceptor.close(ignored);
  }
  return error;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Listener>> ListenTcp(
    asio::any_io_executor executor, PortRange ports, IpVersion version) {
  if (ports.first == 0 || ports.last < ports.first) {
    return absl::InvalidArgumentError("port: invalid range");
  }
  for (uint32_t port = ports.first; port <= ports.last; ++port) {
    tcp::acceptor acceptor(executor);
    std::error_code error;
    switch (version) {
      case IpVersion::kAny:
        error = TryBind(acceptor, tcp::endpoint(tcp::v6(), port), false);
        if (error == asio::error::address_family_not_supported) {
          error = TryBind(acceptor, tcp::endpoint(tcp::v4(), port), false);
        }
        break;
      case IpVersion::kV6:
        error = TryBind(acceptor, tcp::endpoint(tcp::v6(), port), true);
        break;
      case IpVersion::kV4:
        error = TryBind(acceptor, tcp::endpoint(tcp::v4(), port), false);
        break;
    }
    if (!error) {
      return std::make_unique<TcpListener>(std::move(acceptor),
                                           static_cast<uint16_t>(port));
    }
    if (error != asio::error::address_in_use) {
      return absl::FailedPreconditionError(
          absl::StrCat("port: cannot listen on ", port, ": ", error.message()));
    }
  }
  if (ports.is_range()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "port: every port of ", ports.first, ":", ports.last, " is in use"));
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("port: ", ports.first, " is in use"));
}

void AsyncConnectTcp(asio::any_io_executor executor, const std::string& host,
                     uint16_t port, IpVersion version, ConnectHandler handler) {
  auto resolver = std::make_shared<tcp::resolver>(executor);
  auto socket = std::make_shared<tcp::socket>(executor);
  const tcp::resolver::flags flags = tcp::resolver::numeric_service;
  auto on_resolved = [resolver, socket, version, handler = std::move(handler)](
                         std::error_code error,
                         tcp::resolver::results_type results) mutable {
    if (error) {
      handler(error, nullptr);
      return;
    }
    std::vector<tcp::endpoint> endpoints;
    for (const auto& entry : results) {
      const auto& address = entry.endpoint().address();
      if ((version == IpVersion::kV6 && !address.is_v6()) ||
          (version == IpVersion::kV4 && !address.is_v4())) {
        continue;
      }
      endpoints.push_back(entry.endpoint());
    }
    if (endpoints.empty()) {
      handler(asio::error::host_not_found, nullptr);
      return;
    }
    asio::async_connect(
        *socket, endpoints,
        [socket, handler = std::move(handler)](std::error_code error,
                                               const tcp::endpoint&) {
          if (error) {
            handler(error, nullptr);
            return;
          }
          handler(error, MakeStream(std::move(*socket)));
        });
  };
  resolver->async_resolve(host, std::to_string(port), flags,
                          std::move(on_resolved));
}

}  // namespace dbgd::transports
