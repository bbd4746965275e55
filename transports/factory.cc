#include "transports/factory.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "transports/com/com.h"
#include "transports/npipe/npipe.h"
#include "transports/tcp/tcp.h"
#include "transports/tls/tls.h"
#include "transports/web/web.h"

namespace dbgd::transports {
namespace {

// The transports this build has, one row each; one of the grammar not
// listed here would answer UNIMPLEMENTED naming it.
const TransportOps* Find(Transport transport) {
  static const TransportOps* const kTable[] = {
      &NpipeTransport(),
      &TcpTransport(),
      &ComTransport(),
      &SslTransport(),
      &SpipeTransport(),
      &WebTransport(),
  };
  for (const TransportOps* ops : kTable) {
    if (ops->transport == transport) return ops;
  }
  return nullptr;
}

absl::Status NotBuilt(Transport transport, absl::string_view what) {
  return absl::UnimplementedError(absl::StrCat(
      "the ", std::string(TransportName(transport)), " transport ", what));
}

// Open calls the row's `entry` for `spec`, or says why it cannot.
template <typename Result, typename Spec, typename Entry>
absl::StatusOr<std::unique_ptr<Result>> Open(TransportContext& context,
                                             const Spec& spec, Entry entry,
                                             absl::string_view what,
                                             asio::any_io_executor executor) {
  const TransportOps* ops = Find(spec.transport);
  if (ops == nullptr) return NotBuilt(spec.transport, "is not built yet");
  if (ops->*entry == nullptr) return NotBuilt(spec.transport, what);
  return (ops->*entry)(context, spec, std::move(executor));
}

}  // namespace

TransportFactory::TransportFactory(asio::any_io_executor io,
                                   TransportOptions options)
    : context_(std::move(io), std::move(options)) {}

absl::StatusOr<std::unique_ptr<Listener>> TransportFactory::Listen(
    const ServerSpec& spec, asio::any_io_executor executor) {
  return Open<Listener>(context_, spec, &TransportOps::listen,
                        "has no listening server", std::move(executor));
}

absl::StatusOr<std::unique_ptr<Connector>> TransportFactory::ConnectOut(
    const ServerSpec& spec, asio::any_io_executor executor) {
  return Open<Connector>(context_, spec, &TransportOps::connect_out,
                         "has no reverse (clicon) server",
                         std::move(executor));
}

absl::StatusOr<std::unique_ptr<Connector>> TransportFactory::Dial(
    const ClientSpec& spec, asio::any_io_executor executor) {
  return Open<Connector>(context_, spec, &TransportOps::dial,
                         "cannot connect to a server", std::move(executor));
}

absl::StatusOr<std::unique_ptr<Listener>> TransportFactory::AwaitServer(
    const ClientSpec& spec, asio::any_io_executor executor) {
  return Open<Listener>(context_, spec, &TransportOps::await_server,
                        "has no reverse (clicon) client", std::move(executor));
}

std::unique_ptr<protocol::FrameCodec> TransportFactory::MakeCodec(
    Transport transport, const Endpoint& endpoint) {
  const TransportOps* ops = Find(transport);
  // No make_codec (or, against the REQUIRES, no row): the stream framing.
  if (ops == nullptr || ops->make_codec == nullptr) {
    return protocol::MakeLengthPrefixedCodec();
  }
  return ops->make_codec(endpoint);
}

absl::StatusOr<CertificateListing> TransportFactory::ListCertificates(
    CertStore store) const {
  absl::StatusOr<tls::CertStore> opened = OpenCertStore(context_.options(), store);
  if (!opened.ok()) return opened.status();
  return CertificateListing{opened->dir(), opened->List()};
}

absl::Status TransportFactory::Supported(Transport transport) {
  if (Find(transport) == nullptr) return NotBuilt(transport, "is not built yet");
  return absl::OkStatus();
}

namespace {

// WithEndpoint is `spec` as the endpoint shows it running: a COM line's
// rate is the one it was actually set to.
ServerSpec WithEndpoint(ServerSpec spec, const Endpoint& endpoint) {
  if (endpoint.baud != 0) spec.baud = endpoint.baud;
  if (!endpoint.device.empty()) spec.com_device = endpoint.device;
  return spec;
}

}  // namespace

std::string DescribeEndpoint(const ServerSpec& spec, const Endpoint& endpoint) {
  return FormatEndpoint(WithEndpoint(spec, endpoint), endpoint.port,
                        endpoint.pipe);
}

std::string ConnectStringFor(const ServerSpec& spec, std::string_view host,
                             const Endpoint& endpoint,
                             PasswordDisplay password) {
  // A server bound to one address (a plaintext web server on loopback) is
  // reached there, whatever the daemon advertises.
  if (!endpoint.address.empty()) host = endpoint.address;
  return ClientSpecFor(WithEndpoint(spec, endpoint), host, endpoint.port,
                       endpoint.pipe, password);
}

std::string DescribePlace(const Endpoint& endpoint) {
  if (!endpoint.pipe.empty()) return absl::StrCat("pipe ", endpoint.pipe);
  if (!endpoint.device.empty()) {
    return absl::StrCat(endpoint.device, " channel ", endpoint.channel);
  }
  return absl::StrCat("port ", endpoint.port);
}

}  // namespace dbgd::transports
