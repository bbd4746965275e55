// The tcp transport: listeners on a port or the first free port of a range,
// outgoing connections for reverse (`clicon`) servers and clients, and
// IcfEnable's firewall rule. Links are framed with the length-prefixed
// stream codec.
//
// Thread-safety: as transports/transport.h says.

#ifndef DBGD_TRANSPORTS_TCP_TCP_H_
#define DBGD_TRANSPORTS_TCP_TCP_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "transports/spec.h"
#include "transports/transport.h"
#include "transports/transport_ops.h"

namespace dbgd::transports {

// TcpTransport is the tcp row of the factory's table.
const TransportOps& TcpTransport();

// ListenTcp binds the first free port of `ports` on every interface and
// listens; accept handlers run on `executor`, accepted streams on
// `streams`. kAny listens on IPv6 and IPv4 (one dual-stack socket, or IPv4
// alone where the host has no IPv6); kV6 on IPv6 only; kV4 on IPv4 only.
// RESOURCE_EXHAUSTED names the range when every port is taken; anything
// else is PosixError's status naming the port (PERMISSION_DENIED for a
// privileged port without the privilege).
absl::StatusOr<std::unique_ptr<Listener>> ListenTcp(
    asio::any_io_executor executor, asio::any_io_executor streams,
    PortRange ports, IpVersion version);

// ListenTcpOn is ListenTcp on the one local `address` (an IP literal), or
// on every interface when it is empty.
absl::StatusOr<std::unique_ptr<Listener>> ListenTcpOn(
    asio::any_io_executor executor, asio::any_io_executor streams,
    PortRange ports, IpVersion version, const std::string& address);

// MakeTcpConnector returns a connector to `host` (a name or an address
// literal) and `port`; each attempt resolves the name and tries each of its
// addresses (only IPv6 ones for kV6, only IPv4 for kV4). Handlers run on
// `executor`, connected streams on `streams`. A failed attempt is
// UNAVAILABLE (NOT_FOUND when the name has no usable address) with the
// system's text, e.g. "Connection refused".
std::unique_ptr<Connector> MakeTcpConnector(asio::any_io_executor executor,
                                            asio::any_io_executor streams,
                                            std::string host, uint16_t port,
                                            IpVersion version);

}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_TCP_TCP_H_
