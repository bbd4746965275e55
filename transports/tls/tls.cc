#include "transports/tls/tls.h"

#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "transports/npipe/npipe.h"
#include "transports/tcp/tcp.h"
#include "transports/tls/cert_store.h"
#include "transports/tls/tls_stream.h"

namespace dbgd::transports {
namespace {

using tls::TlsContext;

// Handshakes one listener runs at once, and finished ones it holds for its
// owner: beyond these it stops accepting until the owner catches up.
constexpr size_t kMaxPendingHandshakes = 64;

std::string StoreDir(const TransportOptions& options, CertStore store) {
  if (store == CertStore::kUser) {
    return options.user_cert_dir.empty() ? tls::DefaultUserStore()
                                         : options.user_cert_dir;
  }
  return options.machine_cert_dir.empty() ? tls::DefaultMachineStore()
                                          : options.machine_cert_dir;
}


tls::MinVersion MinOf(const std::optional<TlsProtocol>& proto) {
  return proto == TlsProtocol::kTls13 ? tls::MinVersion::kTls13
                                      : tls::MinVersion::kTls12;
}

// ServerContext: the TLS server side for `spec`, its certificate (and its
// clients' CA) from the store `spec` names.
absl::StatusOr<std::shared_ptr<TlsContext>> ServerContext(
    const TransportContext& context, const ServerSpec& spec) {
  if (!spec.cert.has_value()) {
    return absl::InvalidArgumentError(
        "certuser: certuser= or machuser= is required for TLS servers");
  }
  absl::StatusOr<tls::CertStore> store = OpenCertStore(context.options(), spec.cert->store);
  if (!store.ok()) return store.status();
  absl::StatusOr<tls::ServingCert> serving = store->FindServing(spec.cert->name);
  if (!serving.ok()) return serving.status();
  tls::ServerTlsConfig config;
  config.chain_pem = std::move(serving->chain_pem);
  config.key_pem = std::move(serving->key_pem);
  config.min_version = MinOf(spec.tls_protocol);
  if (!spec.client_ca.empty()) {
    absl::StatusOr<tls::TrustCert> ca = store->FindCa(spec.client_ca);
    if (!ca.ok()) {
      return absl::Status(ca.status().code(),
                          absl::StrCat("clientca: ", ca.status().message()));
    }
    config.client_ca_pem = std::move(ca->pem);
  }
  return tls::MakeServerContext(config);
}

// ClientContext: the TLS client side for `spec`, verifying `host`.
absl::StatusOr<std::shared_ptr<TlsContext>> ClientContext(
    const TransportContext& context, const ClientSpec& spec, std::string host) {
  if (!spec.cert.has_value()) {
    return absl::InvalidArgumentError(
        "certuser: a TLS client verifies its server against certuser= or "
        "machuser= (the server's certificate, or the CA that issued it)");
  }
  tls::ClientTlsConfig config;
  config.host = std::move(host);
  config.min_version = MinOf(spec.tls_protocol);
  {
    absl::StatusOr<tls::CertStore> store = OpenCertStore(context.options(), spec.cert->store);
    if (!store.ok()) return store.status();
    absl::StatusOr<tls::TrustCert> trust = store->FindTrust(spec.cert->name);
    if (!trust.ok()) return trust.status();
    config.trust_pem = std::move(trust->pem);
    if (!spec.client_cert.empty()) {
      absl::StatusOr<tls::ServingCert> mine = store->FindIdentity(spec.client_cert);
      if (!mine.ok()) {
        return absl::Status(mine.status().code(),
                            absl::StrCat("clientcert: ", mine.status().message()));
      }
      config.client_chain_pem = std::move(mine->chain_pem);
      config.client_key_pem = std::move(mine->key_pem);
    }
  }
  return tls::MakeClientContext(config);
}

// TlsListener accepts from `inner` and hands out streams whose TLS
// handshake completed, running the handshakes side by side.
class TlsListener final : public Listener {
 public:
  TlsListener(std::unique_ptr<Listener> inner, std::shared_ptr<TlsContext> tls,
              absl::Duration timeout, asio::any_io_executor executor)
      : state_(std::make_shared<State>(std::move(inner), std::move(tls), timeout,
                                       std::move(executor))) {}
  ~TlsListener() override { Close(); }

  void AsyncAccept(StreamHandler handler) override {
    state_->waiting = std::move(handler);
    State::Deliver(state_);
    State::Accept(state_);
  }

  void Close() override {
    State& state = *state_;
    if (state.closed) return;
    state.closed = true;
    state.inner->Close();
    state.done.clear();
    if (state.waiting) {
      asio::post(state.executor, [waiting = std::move(state.waiting)] {
        waiting(absl::CancelledError("cancelled"));
      });
      state.waiting = nullptr;
    }
  }

  const Endpoint& endpoint() const override { return state_->inner->endpoint(); }

 private:
  // State is shared with the accepts and handshakes in flight; it lives on
  // the owner's strand (`executor`), where every handler here runs.
  struct State {
    State(std::unique_ptr<Listener> inner, std::shared_ptr<TlsContext> tls,
          absl::Duration timeout, asio::any_io_executor executor)
        : inner(std::move(inner)),
          tls(std::move(tls)),
          timeout(timeout),
          executor(std::move(executor)) {}

    // Accept keeps one inner accept going while there is room.
    static void Accept(const std::shared_ptr<State>& self) {
      if (self->closed || self->accepting ||
          self->handshaking + self->done.size() >= kMaxPendingHandshakes) {
        return;
      }
      self->accepting = true;
      self->inner->AsyncAccept([weak = std::weak_ptr<State>(self)](
                                   absl::StatusOr<std::unique_ptr<Stream>> stream) {
        std::shared_ptr<State> self = weak.lock();
        if (self == nullptr || self->closed) return;
        self->accepting = false;
        if (!stream.ok()) {
          if (absl::IsCancelled(stream.status())) return;
          self->done.push_back(stream.status());
          Deliver(self);
          Accept(self);
          return;
        }
        ++self->handshaking;
        tls::Handshake(*std::move(stream), self->tls, self->timeout, self->executor,
                       [weak](absl::StatusOr<std::unique_ptr<Stream>> secured) {
                         std::shared_ptr<State> self = weak.lock();
                         if (self == nullptr || self->closed) return;
                         --self->handshaking;
                         self->done.push_back(std::move(secured));
                         Deliver(self);
                         Accept(self);
                       });
        Accept(self);
      });
    }

    // Deliver hands the oldest outcome to a waiting accept.
    static void Deliver(const std::shared_ptr<State>& self) {
      if (!self->waiting || self->done.empty()) return;
      asio::post(self->executor, [waiting = std::move(self->waiting),
                                  result = std::move(self->done.front())]() mutable {
        waiting(std::move(result));
      });
      self->waiting = nullptr;
      self->done.pop_front();
    }

    const std::unique_ptr<Listener> inner;
    const std::shared_ptr<TlsContext> tls;
    const absl::Duration timeout;
    const asio::any_io_executor executor;
    StreamHandler waiting;
    std::deque<absl::StatusOr<std::unique_ptr<Stream>>> done;
    size_t handshaking = 0;
    bool accepting = false;
    bool closed = false;
  };

  const std::shared_ptr<State> state_;
};

// TlsConnector connects with `inner`, then runs the TLS handshake.
class TlsConnector final : public Connector {
 public:
  TlsConnector(std::unique_ptr<Connector> inner, std::shared_ptr<TlsContext> tls,
               absl::Duration timeout, asio::any_io_executor executor)
      : inner_(std::move(inner)),
        tls_(std::move(tls)),
        timeout_(timeout),
        executor_(std::move(executor)) {}

  void AsyncConnect(StreamHandler handler) override {
    inner_->AsyncConnect([tls = tls_, timeout = timeout_, executor = executor_,
                          handler = std::move(handler)](
                             absl::StatusOr<std::unique_ptr<Stream>> stream) mutable {
      if (!stream.ok()) {
        handler(stream.status());
        return;
      }
      tls::Handshake(*std::move(stream), std::move(tls), timeout, std::move(executor),
                     std::move(handler));
    });
  }

  // A handshake under way ends by itself within the handshake timeout.
  void Cancel() override { inner_->Cancel(); }

  const Endpoint& endpoint() const override { return inner_->endpoint(); }
  std::string target() const override { return inner_->target(); }

 private:
  const std::unique_ptr<Connector> inner_;
  const std::shared_ptr<TlsContext> tls_;
  const absl::Duration timeout_;
  const asio::any_io_executor executor_;
};

absl::Duration HandshakeTimeout(const TransportContext& context) {
  return context.options().tls_handshake_timeout;
}

// Secure wraps what a row made in TLS, or passes on why it could not.
absl::StatusOr<std::unique_ptr<Listener>> Secure(
    const TransportContext& context,
    absl::StatusOr<std::shared_ptr<TlsContext>> tls,
    absl::StatusOr<std::unique_ptr<Listener>> inner,
    asio::any_io_executor executor) {
  if (!inner.ok()) return inner.status();
  return std::make_unique<TlsListener>(*std::move(inner), *std::move(tls),
                                       HandshakeTimeout(context), std::move(executor));
}
absl::StatusOr<std::unique_ptr<Connector>> Secure(
    const TransportContext& context,
    absl::StatusOr<std::shared_ptr<TlsContext>> tls,
    absl::StatusOr<std::unique_ptr<Connector>> inner,
    asio::any_io_executor executor) {
  if (!inner.ok()) return inner.status();
  return std::make_unique<TlsConnector>(*std::move(inner), *std::move(tls),
                                        HandshakeTimeout(context), std::move(executor));
}

// Each row looks its certificates up first, so that a bad one leaves
// nothing bound behind.

// --- ssl: TLS over tcp ------------------------------------------------------

absl::StatusOr<std::unique_ptr<Listener>> SslListen(TransportContext& context,
                                                    const ServerSpec& spec,
                                                    asio::any_io_executor executor) {
  absl::StatusOr<std::shared_ptr<TlsContext>> tls = ServerContext(context, spec);
  if (!tls.ok()) return tls.status();
  return Secure(context, std::move(tls),
                ListenTcp(executor, context.io(), spec.port, spec.ip_version), executor);
}

absl::StatusOr<std::unique_ptr<Connector>> SslConnectOut(
    TransportContext& context, const ServerSpec& spec,
    asio::any_io_executor executor) {
  absl::StatusOr<std::shared_ptr<TlsContext>> tls = ServerContext(context, spec);
  if (!tls.ok()) return tls.status();
  return Secure(context, std::move(tls),
                MakeTcpConnector(executor, context.io(), spec.clicon, spec.port.first,
                                 spec.ip_version),
                executor);
}

absl::StatusOr<std::unique_ptr<Connector>> SslDial(TransportContext& context,
                                                   const ClientSpec& spec,
                                                   asio::any_io_executor executor) {
  absl::StatusOr<std::shared_ptr<TlsContext>> tls =
      ClientContext(context, spec, spec.server);
  if (!tls.ok()) return tls.status();
  return Secure(context, std::move(tls),
                MakeTcpConnector(executor, context.io(), spec.server, spec.port.first,
                                 spec.ip_version),
                executor);
}

absl::StatusOr<std::unique_ptr<Listener>> SslAwaitServer(
    TransportContext& context, const ClientSpec& spec,
    asio::any_io_executor executor) {
  // The server connects in, and is still the one verified: by the name the
  // client expects it under.
  absl::StatusOr<std::shared_ptr<TlsContext>> tls =
      ClientContext(context, spec, spec.server);
  if (!tls.ok()) return tls.status();
  return Secure(context, std::move(tls),
                ListenTcp(executor, context.io(), spec.port, spec.ip_version), executor);
}

// --- spipe: TLS over npipe --------------------------------------------------

absl::StatusOr<std::unique_ptr<Listener>> SpipeListen(
    TransportContext& context, const ServerSpec& spec,
    asio::any_io_executor executor) {
  absl::StatusOr<std::shared_ptr<TlsContext>> tls = ServerContext(context, spec);
  if (!tls.ok()) return tls.status();
  return Secure(context, std::move(tls), ListenNpipe(context, spec.pipe, executor),
                executor);
}

absl::StatusOr<std::unique_ptr<Connector>> SpipeDial(
    TransportContext& context, const ClientSpec& spec,
    asio::any_io_executor executor) {
  // A pipe is on this host, so its server must be certified as this host:
  // `.` stands for localhost.
  const std::string host = spec.server == "." ? "localhost" : spec.server;
  absl::StatusOr<std::shared_ptr<TlsContext>> tls = ClientContext(context, spec, host);
  if (!tls.ok()) return tls.status();
  return Secure(context, std::move(tls),
                DialNpipe(context, spec.server, spec.pipe, executor), executor);
}

}  // namespace

absl::StatusOr<tls::CertStore> OpenCertStore(const TransportOptions& options,
                                             CertStore store) {
  return tls::CertStore::Open(StoreDir(options, store),
                              store == CertStore::kUser ? "certuser" : "machuser");
}

const TransportOps& SslTransport() {
  static constexpr TransportOps kOps{
      .transport = Transport::kSsl,
      .listen = &SslListen,
      .connect_out = &SslConnectOut,
      .dial = &SslDial,
      .await_server = &SslAwaitServer,
      .make_codec = nullptr,  // the stream framing, inside TLS
  };
  return kOps;
}

const TransportOps& SpipeTransport() {
  static constexpr TransportOps kOps{
      .transport = Transport::kSpipe,
      .listen = &SpipeListen,
      .connect_out = nullptr,
      .dial = &SpipeDial,
      .await_server = nullptr,
      .make_codec = nullptr,
  };
  return kOps;
}

}  // namespace dbgd::transports
