// TransportOps: what one transport provides to the factory — one row of
// its table (transports/factory.cc) — and TransportContext, the daemon-wide
// state every transport may use.
//
// A transport lives in its own folder (transports/tcp/, …) and exports one
// TransportOps; adding a transport is that folder, its row in the factory's
// table and its row in the conformance suite (transports/conformance_test.cc).
//
// Thread-safety: TransportOps functions may be called from any thread.
// TransportContext's options are constant; Shared() may be called from any
// thread, and the state a transport keeps there guards itself.

#ifndef DBGD_TRANSPORTS_TRANSPORT_OPS_H_
#define DBGD_TRANSPORTS_TRANSPORT_OPS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/any_io_executor.hpp"
#include "common/mutex.h"
#include "protocol/frame_codec.h"
#include "transports/spec.h"
#include "transports/transport.h"

namespace dbgd::transports {

// TransportOptions: the daemon's configuration of its transports.
struct TransportOptions {
  // npipe, spipe: where pipes live and their socket mode (docs/servers.md).
  std::string pipe_dir;
  mode_t pipe_mode = 0600;
  // com: glob patterns of devices that may be opened besides the built-in
  // allow-list (docs/servers.md).
  std::vector<std::string> com_allow;
  // com: a client session on a channel ends after this long without a
  // packet from its peer; each side sends a keepalive after a third of it
  // without traffic of its own (docs/protocol.md §2.1).
  absl::Duration com_idle_timeout = absl::Seconds(30);
  // ssl, spipe: the certificate stores (certuser=, machuser=); empty: the
  // defaults, $XDG_CONFIG_HOME/dbgd/certs and /etc/dbgd/certs.
  std::string user_cert_dir;
  std::string machine_cert_dir;
  // ssl, spipe: how long a TLS handshake may take.
  absl::Duration tls_handshake_timeout = absl::Seconds(10);
  // tcp, ssl: the one local address servers listen on (an IPv4 or IPv6
  // literal); empty: every interface, as WinDbg's servers.
  std::string bind_address;
};

// TransportContext is the one home of what transports share across a
// daemon (or a client process): the event loop their streams run on, the
// options, and the registries transports keep (the npipe transport's names
// in use, the com transport's open lines, loaded certificate stores).
class TransportContext {
 public:
  // Streams made by transports run on `io` (the event loop's executor, not
  // a strand: each connection serializes on a strand of its own).
  TransportContext(asio::any_io_executor io, TransportOptions options)
      : io_(std::move(io)), options_(std::move(options)) {}
  TransportContext(const TransportContext&) = delete;
  TransportContext& operator=(const TransportContext&) = delete;

  const asio::any_io_executor& io() const { return io_; }
  const TransportOptions& options() const { return options_; }

  // Shared returns this context's one T, made on first use as T(*this): the
  // registry a transport keeps for the whole daemon (the com transport's
  // open lines, say). T guards its own state.
  template <typename T>
  T& Shared() {
    MutexLock lock(&mu_);
    std::shared_ptr<void>& slot = shared_[std::type_index(typeid(T))];
    if (slot == nullptr) slot = std::make_shared<T>(*this);
    return *static_cast<T*>(slot.get());
  }

 private:
  const asio::any_io_executor io_;
  const TransportOptions options_;
  Mutex mu_;
  absl::flat_hash_map<std::type_index, std::shared_ptr<void>> shared_
      ABSL_GUARDED_BY(mu_);
};

// TransportOps is one transport's row. `executor` is where the returned
// listener's or connector's handlers run (its owner's strand). A transport
// that cannot do something (e.g. a COM line has no reverse form) leaves
// the entry null; the factory answers UNIMPLEMENTED naming it.
struct TransportOps {
  Transport transport;

  // listen: a forward server's listener, bound and ready to accept.
  absl::StatusOr<std::unique_ptr<Listener>> (*listen)(
      TransportContext& context, const ServerSpec& spec,
      asio::any_io_executor executor);

  // connect_out: a reverse (`clicon`) server's connector to its client.
  absl::StatusOr<std::unique_ptr<Connector>> (*connect_out)(
      TransportContext& context, const ServerSpec& spec,
      asio::any_io_executor executor);

  // dial: a client's connector to a forward server.
  absl::StatusOr<std::unique_ptr<Connector>> (*dial)(
      TransportContext& context, const ClientSpec& spec,
      asio::any_io_executor executor);

  // await_server: a reverse client's listener, which the server connects to.
  absl::StatusOr<std::unique_ptr<Listener>> (*await_server)(
      TransportContext& context, const ClientSpec& spec,
      asio::any_io_executor executor);

  // make_codec: the framing of one link to or from `endpoint`; null for the
  // length-prefixed stream framing, which every transport built so far uses
  // (a serial line packetizes those frames itself, com/line.h).
  std::unique_ptr<protocol::FrameCodec> (*make_codec)(const Endpoint& endpoint);
};

}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_TRANSPORT_OPS_H_
