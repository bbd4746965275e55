#include "transports/tcp/tcp.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bitset>
#include <cerrno>
#include <map>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "asio/bind_executor.hpp"
#include "asio/connect.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/ip/v6_only.hpp"
#include "common/mutex.h"
#include "common/posix_error.h"
#include "transports/firewall.h"
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

absl::Status FromAsio(std::error_code error) {
  if (error == asio::error::operation_aborted) {
    return absl::CancelledError("cancelled");
  }
  if (error == asio::error::host_not_found ||
      error == asio::error::host_not_found_try_again) {
    return absl::NotFoundError(error.message());
  }
  // Out of descriptors or kernel memory: not this one peer's failure, and
  // the same call fails again at once; a listener's owner backs off.
  if (error == asio::error::no_descriptors ||  // EMFILE
      error == std::error_code(ENFILE, asio::error::get_system_category()) ||
      error == asio::error::no_buffer_space || error == asio::error::no_memory) {
    return absl::ResourceExhaustedError(error.message());
  }
  return absl::UnavailableError(error.message());
}

// HeldPorts: the ports this process's listeners hold, per way of binding
// (every interface or one address, and the IP version). A search over a
// range skips them without a system call: trying each of them in turn
// (a socket, its registration with the event loop, a refused bind) made
// each new server of a range cost as much as the servers before it. A
// port held another way (an IPv4-only listener, another address) is still
// tried, and the kernel decides.
class HeldPorts {
 public:
  static HeldPorts& Get() {
    static HeldPorts* const held = new HeldPorts;
    return *held;
  }

  // Next is the first port of [from, last] not held as `key`; 0 if none.
  uint32_t Next(const std::string& key, uint32_t from, uint32_t last) {
    MutexLock lock(&mu_);
    auto it = held_.find(key);
    for (uint32_t port = from; port <= last; ++port) {
      if (it == held_.end() || !it->second.test(port)) return port;
    }
    return 0;
  }
  void Hold(const std::string& key, uint16_t port) {
    MutexLock lock(&mu_);
    held_[key].set(port);
  }
  void Release(const std::string& key, uint16_t port) {
    MutexLock lock(&mu_);
    auto it = held_.find(key);
    if (it != held_.end()) it->second.reset(port);
  }

 private:
  Mutex mu_;  // dbgd::Mutex: visible to TSan, unlike Debian's absl::Mutex
  std::map<std::string, std::bitset<65536>> held_ ABSL_GUARDED_BY(mu_);
};

// HoldKey names a way of binding for HeldPorts.
std::string HoldKey(IpVersion version, const std::string& address) {
  return absl::StrCat(static_cast<int>(version), "/", address);
}

class TcpListener final : public Listener {
 public:
  TcpListener(tcp::acceptor acceptor, asio::any_io_executor streams,
              Endpoint endpoint, std::string held_as)
      : acceptor_(std::move(acceptor)),
        streams_(std::move(streams)),
        endpoint_(std::move(endpoint)),
        held_as_(std::move(held_as)) {
    HeldPorts::Get().Hold(held_as_, endpoint_.port);
  }
  ~TcpListener() override { Close(); }

  void AsyncAccept(StreamHandler handler) override {
    // The new socket runs on `streams_`; the handler on the acceptor's
    // executor, the owner's strand.
    acceptor_.async_accept(
        streams_, [handler = std::move(handler)](std::error_code error,
                                                 tcp::socket socket) {
          if (error) {
            handler(FromAsio(error));
            return;
          }
          handler(MakeStream(std::move(socket)));
        });
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    std::error_code ignored;
    acceptor_.close(ignored);
    HeldPorts::Get().Release(held_as_, endpoint_.port);
  }

  const Endpoint& endpoint() const override { return endpoint_; }

 private:
  tcp::acceptor acceptor_;
  const asio::any_io_executor streams_;
  const Endpoint endpoint_;
  const std::string held_as_;
  bool closed_ = false;
};

// Usable keeps the resolved addresses of the wanted IP version.
std::vector<tcp::endpoint> Usable(const tcp::resolver::results_type& results,
                                  IpVersion version) {
  std::vector<tcp::endpoint> endpoints;
  for (const auto& entry : results) {
    const auto& address = entry.endpoint().address();
    if ((version == IpVersion::kV6 && !address.is_v6()) ||
        (version == IpVersion::kV4 && !address.is_v4())) {
      continue;
    }
    endpoints.push_back(entry.endpoint());
  }
  return endpoints;
}

absl::string_view VersionName(IpVersion version) {
  switch (version) {
    case IpVersion::kV6:
      return "IPv6 ";
    case IpVersion::kV4:
      return "IPv4 ";
    case IpVersion::kAny:
      break;
  }
  return "";
}

class TcpConnector final : public Connector {
 public:
  TcpConnector(asio::any_io_executor executor, asio::any_io_executor streams,
               std::string host, uint16_t port, IpVersion version)
      : executor_(std::move(executor)),
        streams_(std::move(streams)),
        host_(std::move(host)),
        version_(version),
        endpoint_{.port = port},
        resolver_(executor_) {}

  void AsyncConnect(StreamHandler handler) override {
    // The attempt's state is its own, not the connector's: a connector
    // destroyed mid-attempt cancels it, and the completion must not touch
    // the connector then. Cancel closes the socket.
    socket_ = std::make_shared<tcp::socket>(streams_);
    resolver_.async_resolve(
        host_, std::to_string(endpoint_.port), tcp::resolver::numeric_service,
        [executor = executor_, socket = socket_, host = host_,
         version = version_, handler = std::move(handler)](
            std::error_code error,
            tcp::resolver::results_type results) mutable {
          if (error) {
            handler(FromAsio(error));
            return;
          }
          std::vector<tcp::endpoint> endpoints = Usable(results, version);
          if (endpoints.empty()) {
            handler(absl::NotFoundError(absl::StrCat(
                host, " has no ", VersionName(version), "address")));
            return;
          }
          asio::async_connect(
              *socket, endpoints,
              asio::bind_executor(
                  executor, [socket, handler = std::move(handler)](
                                std::error_code error, const tcp::endpoint&) {
                    if (error) {
                      handler(FromAsio(error));
                      return;
                    }
                    handler(MakeStream(std::move(*socket)));
                  }));
        });
  }

  void Cancel() override {
    resolver_.cancel();
    if (socket_ != nullptr) {
      std::error_code ignored;
      socket_->close(ignored);
    }
  }

  const Endpoint& endpoint() const override { return endpoint_; }

  std::string target() const override {
    return absl::StrCat(host_, ":", endpoint_.port);
  }

 private:
  const asio::any_io_executor executor_;
  const asio::any_io_executor streams_;
  const std::string host_;
  const IpVersion version_;
  const Endpoint endpoint_;
  tcp::resolver resolver_;
  std::shared_ptr<tcp::socket> socket_;  // of the attempt in progress
};

// PortsInUse is the error when every port of `ports` is taken.
absl::Status PortsInUse(PortRange ports) {
  if (ports.is_range()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "port: every port of ", ports.first, ":", ports.last, " is in use"));
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("port: ", ports.first, " is in use"));
}

// TryBind opens, binds and listens on `endpoint`, and hands the socket to
// `acceptor`; returns the error. The socket joins the event loop only once
// it listens: a port in use costs three system calls, not a registration
// with the loop and its removal.
std::error_code TryBind(tcp::acceptor& acceptor, const tcp::endpoint& endpoint,
                        bool v6_only) {
  const int fd = ::socket(endpoint.protocol().family(),
                          SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return std::error_code(errno, asio::error::get_system_category());
  const auto failed = [fd] {
    const std::error_code error(errno, asio::error::get_system_category());
    ::close(fd);
    return error;
  };
  if (endpoint.address().is_v6()) {
    const int only = v6_only ? 1 : 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only) != 0) {
      return failed();
    }
  }
  // Lets a restarted server take its port back while old connections linger
  // in TIME_WAIT; two live listeners still cannot share a port.
  const int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      ::bind(fd, endpoint.data(), static_cast<socklen_t>(endpoint.size())) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    return failed();
  }
  std::error_code error;
  acceptor.assign(endpoint.protocol(), fd, error);
  if (error) ::close(fd);
  return error;
}

// BindOne binds the first free port of `ports` on `address` alone.
absl::StatusOr<tcp::acceptor> BindOne(asio::any_io_executor executor,
                                      PortRange ports, IpVersion version,
                                      const std::string& address);

// Bind binds the first free port of `ports` (see ListenTcp) on every
// interface, or on `address` when it is not empty (--server_bind_address).
absl::StatusOr<tcp::acceptor> Bind(asio::any_io_executor executor,
                                   PortRange ports, IpVersion version,
                                   const std::string& address = "") {
  if (ports.first == 0 || ports.last < ports.first) {
    return absl::InvalidArgumentError("port: invalid range");
  }
  if (!address.empty()) {
    return BindOne(std::move(executor), ports, version, address);
  }
  const std::string key = HoldKey(version, address);
  for (uint32_t port = ports.first; port <= ports.last; ++port) {
    port = HeldPorts::Get().Next(key, port, ports.last);
    if (port == 0) break;
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
    if (!error) return acceptor;
    if (error != asio::error::address_in_use) {
      return PosixError(absl::StrCat("port: cannot listen on ", port), error);
    }
  }
  return PortsInUse(ports);
}

absl::StatusOr<tcp::acceptor> BindOne(asio::any_io_executor executor,
                                      PortRange ports, IpVersion version,
                                      const std::string& address) {
  std::error_code error;
  const asio::ip::address ip = asio::ip::make_address(address, error);
  if (error) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server_bind_address: \"", address, "\" is not an IP address"));
  }
  if (version == IpVersion::kV6 && !ip.is_v6()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ipversion=6: this daemon's servers listen on ", address,
        " (--server_bind_address), an IPv4 address"));
  }
  if (version == IpVersion::kV4 && !ip.is_v4()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ipversion=4: this daemon's servers listen on ", address,
        " (--server_bind_address), an IPv6 address"));
  }
  const std::string key = HoldKey(version, address);
  for (uint32_t port = ports.first; port <= ports.last; ++port) {
    port = HeldPorts::Get().Next(key, port, ports.last);
    if (port == 0) break;
    tcp::acceptor acceptor(executor);
    // "::" with the default ipversion still takes IPv4 too, as the
    // every-interface listener does.
    error = TryBind(acceptor, tcp::endpoint(ip, port), version == IpVersion::kV6);
    if (!error) return acceptor;
    if (error != asio::error::address_in_use) {
      return PosixError(
          absl::StrCat("port: cannot listen on ", address, " port ", port), error);
    }
  }
  return PortsInUse(ports);
}

// --- The row ----------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Listener>> Listen(TransportContext& context,
                                                 const ServerSpec& spec,
                                                 asio::any_io_executor executor) {
  absl::StatusOr<tcp::acceptor> acceptor =
      Bind(std::move(executor), spec.port, spec.ip_version,
           context.options().bind_address);
  if (!acceptor.ok()) return acceptor.status();
  Endpoint endpoint{.port = acceptor->local_endpoint().port()};
  if (spec.icf_enable) {
    // WinDbg leaves the port open after the server ends; so do we.
    absl::Status opened = OpenFirewallPort(endpoint.port);
    endpoint.note =
        opened.ok() ? absl::StrCat("IcfEnable: tcp port ", endpoint.port,
                                   " is open in nftables table inet ",
                                   kFirewallTable)
                    : absl::StrCat("IcfEnable skipped: ", opened.message());
  }
  return std::make_unique<TcpListener>(
      *std::move(acceptor), context.io(), std::move(endpoint),
      HoldKey(spec.ip_version, context.options().bind_address));
}

absl::StatusOr<std::unique_ptr<Connector>> ConnectOut(
    TransportContext& context, const ServerSpec& spec,
    asio::any_io_executor executor) {
  return MakeTcpConnector(std::move(executor), context.io(), spec.clicon,
                          spec.port.first, spec.ip_version);
}

absl::StatusOr<std::unique_ptr<Connector>> Dial(TransportContext& context,
                                                const ClientSpec& spec,
                                                asio::any_io_executor executor) {
  return MakeTcpConnector(std::move(executor), context.io(), spec.server,
                          spec.port.first, spec.ip_version);
}

absl::StatusOr<std::unique_ptr<Listener>> AwaitServer(
    TransportContext& context, const ClientSpec& spec,
    asio::any_io_executor executor) {
  return ListenTcp(std::move(executor), context.io(), spec.port,
                   spec.ip_version);
}

}  // namespace

const TransportOps& TcpTransport() {
  static constexpr TransportOps kOps{
      .transport = Transport::kTcp,
      .listen = &Listen,
      .connect_out = &ConnectOut,
      .dial = &Dial,
      .await_server = &AwaitServer,
      .make_codec = nullptr,  // the stream framing
  };
  return kOps;
}

absl::StatusOr<std::unique_ptr<Listener>> ListenTcp(
    asio::any_io_executor executor, asio::any_io_executor streams,
    PortRange ports, IpVersion version) {
  return ListenTcpOn(std::move(executor), std::move(streams), ports, version, "");
}

absl::StatusOr<std::unique_ptr<Listener>> ListenTcpOn(
    asio::any_io_executor executor, asio::any_io_executor streams,
    PortRange ports, IpVersion version, const std::string& address) {
  absl::StatusOr<tcp::acceptor> acceptor =
      Bind(std::move(executor), ports, version, address);
  if (!acceptor.ok()) return acceptor.status();
  Endpoint endpoint{.port = acceptor->local_endpoint().port()};
  return std::make_unique<TcpListener>(*std::move(acceptor), std::move(streams),
                                       std::move(endpoint),
                                       HoldKey(version, address));
}

std::unique_ptr<Connector> MakeTcpConnector(asio::any_io_executor executor,
                                            asio::any_io_executor streams,
                                            std::string host, uint16_t port,
                                            IpVersion version) {
  return std::make_unique<TcpConnector>(std::move(executor), std::move(streams),
                                        std::move(host), port, version);
}

}  // namespace dbgd::transports
