// The tcp transport: listeners on a port or the first free port of a range,
// and outgoing connections for reverse (`clicon`) servers and clients.

#ifndef DBGD_TRANSPORTS_TCP_H_
#define DBGD_TRANSPORTS_TCP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "transports/spec.h"
#include "transports/transport.h"

namespace dbgd::transports {

// ListenTcp binds the first free port of `ports` on every interface and
// listens. kAny listens on IPv6 and IPv4 (one dual-stack socket, or IPv4
// alone where the host has no IPv6); kV6 on IPv6 only; kV4 on IPv4 only.
// RESOURCE_EXHAUSTED names the range when every port is taken;
// FAILED_PRECONDITION carries errno's text for anything else (e.g. a
// privileged port without the privilege).
absl::StatusOr<std::unique_ptr<Listener>> ListenTcp(
    asio::any_io_executor executor, PortRange ports, IpVersion version);

using ConnectHandler =
    std::function<void(std::error_code, std::unique_ptr<Stream>)>;

// AsyncConnectTcp resolves `host` (a name or an address literal) and
// connects to `port`, trying each address the name has (only IPv6 ones for
// kV6, only IPv4 for kV4).
void AsyncConnectTcp(asio::any_io_executor executor, const std::string& host,
                     uint16_t port, IpVersion version, ConnectHandler handler);

}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_TCP_H_
