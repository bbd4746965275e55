#include "transports/tls/tls_stream.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "asio/async_result.hpp"
#include "asio/buffer.hpp"
#include "asio/dispatch.hpp"
#include "asio/error.hpp"
#include "asio/ip/address.hpp"
#include "asio/post.hpp"
#include "asio/ssl.hpp"
#include "asio/steady_timer.hpp"
#include "asio/strand.hpp"
#include "asio/write.hpp"

namespace dbgd::transports::tls {

enum class Role { kServer, kClient };

class TlsContext final {
 public:
  // Takes ownership of `handle`.
  TlsContext(SSL_CTX* handle, Role role, std::string host)
      : context_(handle), role_(role), host_(std::move(host)) {}

  SSL_CTX* native() { return context_.native_handle(); }
  asio::ssl::context& context() { return context_; }
  Role role() const { return role_; }
  // host: a client's SNI and the name its server's certificate must carry.
  const std::string& host() const { return host_; }

 private:
  asio::ssl::context context_;
  const Role role_;
  const std::string host_;
};

namespace {

// Mozilla's "intermediate" TLS 1.2 suites (forward-secret AEADs only);
// TLS 1.3's suites are OpenSSL's defaults, all of them sound.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// NoPassword answers OpenSSL's passphrase prompt: a daemon has no terminal
// to ask on, so an encrypted key fails to load instead.
int NoPassword(char*, int, int, void*) { return 0; }

// ReasonOf names an OpenSSL error code by its reason ("no start line").
std::string ReasonOf(unsigned long code) {
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : absl::StrCat("OpenSSL error ", code);
}

// LoadError: INVALID_ARGUMENT naming `what` and the root cause OpenSSL
// queued on this thread (its first error); clears the queue.
absl::Status LoadError(absl::string_view what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": ", code == 0 ? "not accepted" : ReasonOf(code)));
}

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// ReadCertificates parses every PEM certificate in `pem` (at least one).
absl::StatusOr<std::vector<X509Ptr>> ReadCertificates(const std::string& pem,
                                                      absl::string_view what) {
  if (pem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": empty"));
  }
  ERR_clear_error();
  BioPtr bio = MemoryBio(pem);
  std::vector<X509Ptr> certs;
  while (X509* cert =
             PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr)) {
    certs.emplace_back(cert);
  }
  // Reading stops at the end of the input (no further start line) or at a
  // certificate that does not parse.
  const unsigned long last = ERR_peek_last_error();
  const bool at_end = ERR_GET_LIB(last) == ERR_LIB_PEM &&
                      ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (certs.empty() || !at_end) return LoadError(what);
  ERR_clear_error();
  return certs;
}

// UseIdentity loads the certificate chain (leaf first) and its key.
absl::Status UseIdentity(SSL_CTX* ctx, const std::string& chain_pem,
                         const std::string& key_pem) {
  absl::StatusOr<std::vector<X509Ptr>> chain =
      ReadCertificates(chain_pem, "certificate chain");
  if (!chain.ok()) return chain.status();
  if (SSL_CTX_use_certificate(ctx, (*chain)[0].get()) != 1) {
    return LoadError("certificate");
  }
  for (size_t i = 1; i < chain->size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, (*chain)[i].get()) != 1) {
      return LoadError("certificate chain");
    }
  }
  if (key_pem.empty()) return absl::InvalidArgumentError("private key: empty");
  BioPtr bio = MemoryBio(key_pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (key == nullptr) return LoadError("private key");
  // Fails with "key values mismatch" for another certificate's key.
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return LoadError("private key");
  }
  return absl::OkStatus();
}

// Trust adds `pem`'s certificates to the context's trust store; a server
// also names them to clients as the CAs it accepts.
absl::Status Trust(SSL_CTX* ctx, const std::string& pem, absl::string_view what,
                   bool name_to_clients) {
  absl::StatusOr<std::vector<X509Ptr>> certs = ReadCertificates(pem, what);
  if (!certs.ok()) return certs.status();
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const X509Ptr& cert : *certs) {
    if (X509_STORE_add_cert(store, cert.get()) != 1) return LoadError(what);
    if (name_to_clients && SSL_CTX_add_client_CA(ctx, cert.get()) != 1) {
      return LoadError(what);
    }
  }
  return absl::OkStatus();
}

bool IsIpLiteral(const std::string& host) {
  std::error_code error;
  asio::ip::make_address(host, error);
  return !error;
}

// NewContext makes a context with what both sides share: versions, suites,
// and everything old or risky switched off.
absl::StatusOr<std::shared_ptr<TlsContext>> NewContext(Role role,
                                                       MinVersion min_version,
                                                       std::string host) {
  ERR_clear_error();
  SSL_CTX* handle = SSL_CTX_new(role == Role::kServer ? TLS_server_method()
                                                      : TLS_client_method());
  if (handle == nullptr) return LoadError("TLS context");
  auto context = std::make_shared<TlsContext>(handle, role, std::move(host));
  SSL_CTX* ctx = context->native();
  SSL_CTX_set_default_passwd_cb(ctx, NoPassword);
  // No resumption: every connection authenticates afresh, and a TLS 1.3
  // server sends no tickets a client would have to read.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_NO_TICKET |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  // Level 2: at least 112-bit security (RSA/DH ≥ 2048, no SHA-1 signatures).
  SSL_CTX_set_security_level(ctx, 2);
  if (SSL_CTX_set_min_proto_version(ctx, min_version == MinVersion::kTls13
                                             ? TLS1_3_VERSION
                                             : TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return LoadError("TLS context");
  }
  return context;
}

// Reason explains a failed handshake: OpenSSL's reason, plus the
// certificate check's where that is what failed.
std::string Reason(const std::error_code& error, SSL* ssl) {
  if (error == asio::ssl::error::stream_truncated) {
    return "the peer closed the connection";
  }
  std::string reason = error.category() == asio::error::get_ssl_category()
                           ? ReasonOf(static_cast<unsigned int>(error.value()))
                           : error.message();
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    absl::StrAppend(&reason, ": ", X509_verify_cert_error_string(verify));
  }
  return reason;
}

// Subject renders a certificate's subject on one line ("CN=alice,O=x").
std::string Subject(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0,
                     XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string(data, size) : std::string();
}

// FirstBuffer: the first non-empty buffer of a sequence (asio::ssl passes
// single buffers; a sequence's later ones are left for the next call, as
// async_read_some / async_write_some allow).
template <typename Buffer, typename Sequence>
Buffer FirstBuffer(const Sequence& buffers) {
  for (auto it = asio::buffer_sequence_begin(buffers);
       it != asio::buffer_sequence_end(buffers); ++it) {
    Buffer buffer(*it);
    if (buffer.size() != 0) return buffer;
  }
  return Buffer();
}

// StreamLayer is the next layer asio::ssl::stream reads and writes: the
// inner Stream, as an Asio AsyncReadStream / AsyncWriteStream whose
// executor is the connection's strand, onto which the inner stream's
// completions are dispatched.
class StreamLayer {
 public:
  using executor_type = asio::any_io_executor;
  using lowest_layer_type = StreamLayer;

  StreamLayer(std::unique_ptr<Stream> inner, executor_type strand)
      : inner_(std::move(inner)), strand_(std::move(strand)) {}

  executor_type get_executor() const { return strand_; }
  lowest_layer_type& lowest_layer() { return *this; }
  const lowest_layer_type& lowest_layer() const { return *this; }
  Stream& inner() { return *inner_; }

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto&& handler, asio::mutable_buffer buffer) {
          Forward(std::forward<decltype(handler)>(handler), buffer,
                  [this](asio::mutable_buffer buffer, IoHandler done) {
                    inner_->AsyncReadSome(buffer, std::move(done));
                  });
        },
        token, FirstBuffer<asio::mutable_buffer>(buffers));
  }

  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto&& handler, asio::const_buffer buffer) {
          Forward(std::forward<decltype(handler)>(handler), buffer,
                  [this](asio::const_buffer buffer, IoHandler done) {
                    inner_->AsyncWrite(buffer, std::move(done));
                  });
        },
        token, FirstBuffer<asio::const_buffer>(buffers));
  }

 private:
  // Forward runs `operation` on the inner stream with `handler`, which
  // Asio's composed operations make move-only: IoHandler is a
  // std::function, so the handler is held by a shared_ptr.
  template <typename Handler, typename Buffer, typename Operation>
  void Forward(Handler&& handler, Buffer buffer, Operation operation) {
    auto held =
        std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
    if (buffer.size() == 0) {
      // asio::ssl completes an operation that needed no I/O with an empty
      // read, "as if posted"; the inner stream need not see it (and must
      // not, while a real read is pending there).
      asio::post(strand_, [held] { Invoke(*held, std::error_code(), 0); });
      return;
    }
    operation(buffer, [held, strand = strand_](std::error_code error,
                                               std::size_t bytes) {
      asio::dispatch(strand,
                     [held, error, bytes] { Invoke(*held, error, bytes); });
    });
  }

  // Invoke calls a held handler once, as Asio calls handlers: as an rvalue.
  template <typename Handler>
  static void Invoke(Handler& held, std::error_code error, std::size_t bytes) {
    Handler handler = std::move(held);
    std::move(handler)(error, bytes);
  }

  std::unique_ptr<Stream> inner_;
  executor_type strand_;
};

// Connection is one TLS session over its inner stream, shared by the
// TlsStream and every operation in flight (which may outlive the stream).
// Everything but the constant accessors runs on strand().
class Connection final : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::unique_ptr<Stream> inner, std::shared_ptr<TlsContext> context)
      : strand_(asio::make_strand(inner->executor())),
        context_(std::move(context)),
        peer_(inner->peer()),
        source_(inner->source()),
        ssl_(StreamLayer(std::move(inner), strand_), context_->context()),
        timer_(strand_) {}

  const asio::any_io_executor& strand() const { return strand_; }
  const std::string& peer() const { return peer_; }
  const std::string& source() const { return source_; }
  // Set once the handshake is done, before any TlsStream exists.
  const std::string& verified_identity() const { return verified_identity_; }
  const std::string& tls_version() const { return tls_version_; }

  void StartHandshake(absl::Duration timeout, asio::any_io_executor executor,
                      StreamHandler done) {
    std::shared_ptr<Connection> self = shared_from_this();
    const bool server = context_->role() == Role::kServer;
    const std::string& host = context_->host();
    if (!server && !IsIpLiteral(host)) {
      SSL_set_tlsext_host_name(ssl_.native_handle(), host.c_str());
    }
    timer_.expires_after(absl::ToChronoNanoseconds(timeout));
    timer_.async_wait([self](std::error_code error) {
      if (error || self->handshake_finished_) return;
      self->timed_out_ = true;
      self->CloseInner();  // aborts the handshake's pending I/O
    });
    ssl_.async_handshake(
        server ? asio::ssl::stream_base::server
               : asio::ssl::stream_base::client,
        [self, timeout, executor = std::move(executor),
         done = std::move(done)](std::error_code error) mutable {
          self->OnHandshake(error, timeout, std::move(executor),
                            std::move(done));
        });
  }

  // ReadSome decrypts into the connection's buffer and copies out, so that
  // Close can abort the caller's read at once: the TLS read it started may
  // go on, but no longer into the caller's buffer.
  void ReadSome(asio::mutable_buffer buffer, IoHandler handler) {
    if (closing_) {
      handler(asio::error::operation_aborted, 0);
      return;
    }
    read_handler_ = std::move(handler);
    read_target_ = buffer;
    ssl_.async_read_some(
        asio::buffer(read_buffer_,
                     std::min(buffer.size(), read_buffer_.size())),
        [self = shared_from_this()](std::error_code error, std::size_t bytes) {
          self->OnRead(error, bytes);
        });
  }

  void Write(asio::const_buffer buffer, IoHandler handler) {
    if (closing_) {
      handler(asio::error::operation_aborted, 0);
      return;
    }
    asio::async_write(ssl_, buffer,
                      [self = shared_from_this(), handler = std::move(handler)](
                          std::error_code error, std::size_t bytes) {
                        self->Complete(handler, error, bytes);
                      });
  }

  // Close sends close_notify, then closes the inner stream once the peer
  // answered, the exchange failed, or kShutdownTimeout passed.
  void Close() {
    if (closing_) return;
    closing_ = true;
    if (read_handler_ != nullptr) {
      IoHandler handler = std::move(read_handler_);
      read_handler_ = nullptr;
      handler(asio::error::operation_aborted, 0);
    }
    std::shared_ptr<Connection> self = shared_from_this();
    timer_.expires_after(absl::ToChronoNanoseconds(kShutdownTimeout));
    timer_.async_wait([self](std::error_code error) {
      if (!error) self->CloseInner();
    });
    ssl_.async_shutdown([self](std::error_code) { self->CloseInner(); });
  }

 private:
  void OnHandshake(std::error_code error, absl::Duration timeout,
                   asio::any_io_executor executor, StreamHandler done);

  void OnRead(std::error_code error, std::size_t bytes) {
    if (read_handler_ == nullptr) return;  // aborted by Close
    IoHandler handler = std::move(read_handler_);
    read_handler_ = nullptr;
    if (!error) std::memcpy(read_target_.data(), read_buffer_.data(), bytes);
    handler(error, bytes);
  }

  // Complete hands a write's result to its handler; after Close, as
  // aborted whatever it was.
  void Complete(const IoHandler& handler, std::error_code error,
                std::size_t bytes) {
    if (closing_) {
      error = asio::error::operation_aborted;
      bytes = 0;
    }
    handler(error, bytes);
  }

  void CloseInner() {
    if (inner_closed_) return;
    inner_closed_ = true;
    timer_.cancel();
    ssl_.next_layer().inner().Close();
  }

  // Constant after construction.
  const asio::any_io_executor strand_;
  const std::shared_ptr<TlsContext> context_;
  const std::string peer_;
  const std::string source_;

  // Written once by OnHandshake, before the TlsStream exists.
  std::string verified_identity_;
  std::string tls_version_;

  // State below is used on strand_ only.
  asio::ssl::stream<StreamLayer> ssl_;
  asio::steady_timer timer_;  // the handshake's deadline, then Close's
  bool handshake_finished_ = false;
  bool timed_out_ = false;
  bool closing_ = false;
  bool inner_closed_ = false;
  IoHandler read_handler_;  // the caller's read in progress, if any
  asio::mutable_buffer read_target_;
  std::array<char, 16 * 1024> read_buffer_;  // one TLS record's plaintext
};

class TlsStreamImpl final : public TlsStream {
 public:
  explicit TlsStreamImpl(std::shared_ptr<Connection> connection)
      : connection_(std::move(connection)) {}
  ~TlsStreamImpl() override { Close(); }

  void AsyncReadSome(asio::mutable_buffer buffer, IoHandler handler) override {
    asio::post(connection_->strand(), [connection = connection_, buffer,
                                       handler = std::move(handler)]() mutable {
      connection->ReadSome(buffer, std::move(handler));
    });
  }

  void AsyncWrite(asio::const_buffer buffer, IoHandler handler) override {
    asio::post(connection_->strand(), [connection = connection_, buffer,
                                       handler = std::move(handler)]() mutable {
      connection->Write(buffer, std::move(handler));
    });
  }

  void Close() override {
    asio::post(connection_->strand(),
               [connection = connection_] { connection->Close(); });
  }

  std::string peer() const override { return connection_->peer(); }
  std::string source() const override { return connection_->source(); }
  std::string verified_identity() const override {
    return connection_->verified_identity();
  }
  std::string tls_version() const override {
    return connection_->tls_version();
  }
  asio::any_io_executor executor() override { return connection_->strand(); }

 private:
  const std::shared_ptr<Connection> connection_;
};

void Connection::OnHandshake(std::error_code error, absl::Duration timeout,
                             asio::any_io_executor executor,
                             StreamHandler done) {
  handshake_finished_ = true;
  timer_.cancel();
  absl::StatusOr<std::unique_ptr<Stream>> result;
  if (timed_out_) {
    result = absl::DeadlineExceededError(
        absl::StrCat("TLS handshake with ", peer_, " timed out after ",
                     absl::FormatDuration(timeout)));
  } else if (error == asio::error::operation_aborted) {
    result = absl::CancelledError(
        absl::StrCat("TLS handshake with ", peer_, " cancelled"));
  } else if (error) {
    result = absl::UnavailableError(
        absl::StrCat("TLS handshake with ", peer_,
                     " failed: ", Reason(error, ssl_.native_handle())));
  } else {
    SSL* ssl = ssl_.native_handle();
    tls_version_ = SSL_get_version(ssl);
    X509* cert = SSL_get0_peer_certificate(ssl);
    // A server sees a client certificate only when it asked for one, and
    // then the handshake has verified it.
    if (context_->role() == Role::kServer && cert != nullptr &&
        SSL_get_verify_result(ssl) == X509_V_OK) {
      verified_identity_ = Subject(cert);
    }
    result = std::make_unique<TlsStreamImpl>(shared_from_this());
  }
  if (!result.ok()) CloseInner();
  asio::post(executor,
             [done = std::move(done), result = std::move(result)]() mutable {
               done(std::move(result));
             });
}

}  // namespace

absl::StatusOr<std::shared_ptr<TlsContext>> MakeServerContext(
    const ServerTlsConfig& config) {
  absl::StatusOr<std::shared_ptr<TlsContext>> context =
      NewContext(Role::kServer, config.min_version, "");
  if (!context.ok()) return context.status();
  SSL_CTX* ctx = (*context)->native();
  absl::Status identity = UseIdentity(ctx, config.chain_pem, config.key_pem);
  if (!identity.ok()) return identity;
  if (config.client_ca_pem.empty()) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    absl::Status trusted = Trust(ctx, config.client_ca_pem, "client CA",
                                 /*name_to_clients=*/true);
    if (!trusted.ok()) return trusted;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       nullptr);
  }
  return context;
}

absl::StatusOr<std::shared_ptr<TlsContext>> MakeClientContext(
    const ClientTlsConfig& config) {
  if (config.host.empty()) {
    return absl::InvalidArgumentError("server host: empty");
  }
  absl::StatusOr<std::shared_ptr<TlsContext>> context =
      NewContext(Role::kClient, config.min_version, config.host);
  if (!context.ok()) return context.status();
  SSL_CTX* ctx = (*context)->native();
  absl::Status trusted =
      Trust(ctx, config.trust_pem, "trusted certificates", false);
  if (!trusted.ok()) return trusted;
  // A pinned server certificate is a trust anchor itself, with no issuer
  // in the store.
  X509_STORE_set_flags(SSL_CTX_get_cert_store(ctx), X509_V_FLAG_PARTIAL_CHAIN);
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int checked =
      IsIpLiteral(config.host)
          ? X509_VERIFY_PARAM_set1_ip_asc(param, config.host.c_str())
          : X509_VERIFY_PARAM_set1_host(param, config.host.c_str(),
                                        config.host.size());
  if (checked != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server host: cannot check certificates for ", config.host));
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!config.client_chain_pem.empty() || !config.client_key_pem.empty()) {
    absl::Status identity =
        UseIdentity(ctx, config.client_chain_pem, config.client_key_pem);
    if (!identity.ok()) return identity;
  }
  return context;
}

void Handshake(std::unique_ptr<Stream> inner,
               std::shared_ptr<TlsContext> context, absl::Duration timeout,
               asio::any_io_executor executor, StreamHandler done) {
  auto connection =
      std::make_shared<Connection>(std::move(inner), std::move(context));
  asio::post(connection->strand(), [connection, timeout,
                                    executor = std::move(executor),
                                    done = std::move(done)]() mutable {
    connection->StartHandshake(timeout, std::move(executor), std::move(done));
  });
}

}  // namespace dbgd::transports::tls
