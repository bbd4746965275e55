// TransportFactory: the one place that maps a parsed `.server` / `-remote`
// string to what carries it — a Listener for a forward server, a Connector
// for a reverse (`clicon`) server or a client dialling, the Listener a
// reverse client waits on, and the FrameCodec of each link. The daemon's
// debugging servers and dbgremote both go through it; neither names a
// transport. Each transport is one row of the factory's table
// (transports/transport_ops.h).
//
// Thread-safety: all methods may be called from any thread.

#ifndef DBGD_TRANSPORTS_FACTORY_H_
#define DBGD_TRANSPORTS_FACTORY_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "protocol/frame_codec.h"
#include "transports/spec.h"
#include "transports/tls/cert_store.h"
#include "transports/transport.h"
#include "transports/transport_ops.h"

namespace dbgd::transports {

// CertificateListing is one certificate store's directory and entries.
struct CertificateListing {
  std::string directory;
  std::vector<tls::CertInfo> certificates;
};

class TransportFactory {
 public:
  // A factory whose streams run on `io` (the event loop's executor).
  explicit TransportFactory(asio::any_io_executor io,
                            TransportOptions options = {});
  TransportFactory(const TransportFactory&) = delete;
  TransportFactory& operator=(const TransportFactory&) = delete;

  // Each of the four below returns a ready listener or connector whose
  // handlers run on `executor`, or the transport's error naming the spec
  // key at fault (RESOURCE_EXHAUSTED for a full port range, …);
  // UNIMPLEMENTED naming the transport when it is not built. Nothing is
  // left behind on failure.

  // Listen: a forward server's listener. REQUIRES: !spec.reverse().
  absl::StatusOr<std::unique_ptr<Listener>> Listen(
      const ServerSpec& spec, asio::any_io_executor executor);
  // ConnectOut: a reverse server's connector. REQUIRES: spec.reverse().
  absl::StatusOr<std::unique_ptr<Connector>> ConnectOut(
      const ServerSpec& spec, asio::any_io_executor executor);
  // Dial: a client's connector. REQUIRES: !spec.reverse.
  absl::StatusOr<std::unique_ptr<Connector>> Dial(
      const ClientSpec& spec, asio::any_io_executor executor);
  // AwaitServer: a reverse client's listener. REQUIRES: spec.reverse.
  absl::StatusOr<std::unique_ptr<Listener>> AwaitServer(
      const ClientSpec& spec, asio::any_io_executor executor);

  // MakeCodec returns the framing for one link of `transport` at
  // `endpoint` (what its listener or connector reports).
  // REQUIRES: Supported(transport).ok().
  std::unique_ptr<protocol::FrameCodec> MakeCodec(Transport transport,
                                                  const Endpoint& endpoint);

  // ListCertificates reads the certificate store `store` (certuser= or
  // machuser=) as the ssl and spipe transports see it.
  absl::StatusOr<CertificateListing> ListCertificates(CertStore store) const;

  // Supported is OK when `transport` is built, else UNIMPLEMENTED naming it.
  static absl::Status Supported(Transport transport);

  TransportContext& context() { return context_; }

 private:
  TransportContext context_;
};

// DescribeEndpoint renders what listings and discovery show for a server
// made from `spec` and now at `endpoint`: `tcp:Port=53:60` (actual port,
// then the range end), `npipe:Pipe=rabbit,Password=*`, …
std::string DescribeEndpoint(const ServerSpec& spec, const Endpoint& endpoint);

// ConnectStringFor returns the `-remote` string a client on another host
// uses to reach that server on `host` (the `clicon=` form for a reverse
// server; the URL to open for a web server); the password masked unless
// `password` is kReveal.
std::string ConnectStringFor(const ServerSpec& spec, std::string_view host,
                             const Endpoint& endpoint,
                             PasswordDisplay password = PasswordDisplay::kMask);

// DescribePlace names where a listener waits, for people: "port 5005",
// "pipe rabbit", "/dev/ttyS1 channel 3".
std::string DescribePlace(const Endpoint& endpoint);

}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_FACTORY_H_
