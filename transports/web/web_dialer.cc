#include "transports/web/web_dialer.h"

#include <array>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "asio/dispatch.hpp"
#include "asio/error.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "asio/strand.hpp"
#include "protocol/frame_codec.h"
#include "transports/spec.h"
#include "transports/tcp/tcp.h"
#include "transports/tls/tls_stream.h"
#include "transports/web/web.h"
#include "transports/web/websocket_client.h"

namespace dbgd::transports::web {
namespace {

// A reader that stops collecting the server's messages while this many
// bytes of them wait, until its owner catches up.
constexpr size_t kInboxHighWater = 2 * protocol::kMaxFrameBytes;

// Authority: "host:port", an IPv6 literal in brackets.
std::string Authority(const WebUrl& url) {
  return absl::StrContains(url.host, ':')
             ? absl::StrCat("[", url.host, "]:", url.port)
             : absl::StrCat(url.host, ":", url.port);
}

// ClientLink is one WebSocket to a web server over `inner`: its upgrade,
// then the Stream it presents. It lives on `strand_`; the inner stream's
// handlers are sent there.
//
// What keeps a link alive is its owner and the handlers Asio holds: the
// deadline's (during the upgrade and the close handshake), writes, posted
// completions. The inner stream's read holds it weakly: a TLS stream keeps
// its reader's handler itself, so a link held there would hold itself, and
// never be freed if the event loop stopped with the read pending.
class ClientLink : public std::enable_shared_from_this<ClientLink> {
 public:
  // OpenHandler learns, once and on the strand, whether the upgrade
  // completed.
  using OpenHandler = std::function<void(absl::Status, std::shared_ptr<ClientLink>)>;

  explicit ClientLink(std::unique_ptr<Stream> inner)
      : inner_(std::move(inner)),
        strand_(asio::make_strand(inner_->executor())),
        deadline_(strand_) {}

  // Start sends the upgrade and starts reading.
  void Start(ClientUpgrade upgrade, absl::Duration timeout, OpenHandler on_open) {
    asio::dispatch(strand_, [self = shared_from_this(), upgrade = std::move(upgrade),
                             timeout, on_open = std::move(on_open)]() mutable {
      self->on_open_ = std::move(on_open);
      self->MakeClient(std::move(upgrade));
      self->deadline_.expires_after(absl::ToChronoMilliseconds(timeout));
      self->deadline_.async_wait([self](std::error_code error) {
        if (error || self->opened_) return;
        self->Opened(absl::DeadlineExceededError("upgrade: no answer in time"));
        self->Shut();
      });
      self->client_->Start();
      self->Read();
    });
  }

  // --- The Stream's side, on the strand ------------------------------------

  void AsyncReadSome(asio::mutable_buffer buffer, IoHandler handler) {
    asio::dispatch(strand_, [self = shared_from_this(), buffer,
                             handler = std::move(handler)]() mutable {
      if (self->reader_) {
        self->Complete(std::move(handler), asio::error::in_progress, 0);
        return;
      }
      self->reader_ = std::move(handler);
      self->reader_buffer_ = buffer;
      self->ServeReader();
    });
  }

  void AsyncWrite(asio::const_buffer buffer, IoHandler handler) {
    asio::dispatch(strand_, [self = shared_from_this(), buffer,
                             handler = std::move(handler)]() mutable {
      self->Write(buffer, std::move(handler));
    });
  }

  void Close() {
    asio::dispatch(strand_, [self = shared_from_this()] {
      if (self->closed_) return;
      self->closed_ = true;
      self->FailReader(asio::error::operation_aborted);
      self->FailWriters(asio::error::operation_aborted);
      if (self->client_->open()) {
        self->client_->Close(1000, "closed by the client");
        // The server's answer completes the handshake; a server that never
        // answers is cut off after the grace.
        self->deadline_.expires_after(absl::ToChronoMilliseconds(kCloseGrace));
        self->deadline_.async_wait([self](std::error_code error) {
          if (!error) self->Shut();
        });
        self->Read();  // the answer may wait behind a full inbox
      } else if (self->input_over_) {
        self->ShutWhenFlushed();
      } else {
        self->Shut();
      }
    });
  }

  std::string peer() const { return inner_->peer(); }
  std::string source() const { return inner_->source(); }
  std::string verified_identity() const { return inner_->verified_identity(); }
  asio::any_io_executor executor() const { return strand_; }

 private:
  struct Writer {
    uint64_t mark;  // done once this many bytes went out
    size_t size;
    IoHandler handler;
  };

  void MakeClient(ClientUpgrade upgrade) {
    WebSocketClient::Callbacks callbacks;
    ClientLink* const self = this;  // the client is ours and dies with us
    callbacks.write = [self](std::string_view bytes) {
      if (self->shut_) return false;
      self->out_.append(bytes);
      self->queued_ += bytes.size();
      self->Pump();
      return true;
    };
    callbacks.open = [self] {
      if (self->client_->subprotocol() != kSubprotocol) {
        self->Opened(absl::UnavailableError(absl::StrCat(
            "upgrade: the server did not select the subprotocol ", kSubprotocol)));
        self->client_->Close(1002, "subprotocol required");
        return;
      }
      self->opened_ = true;
      self->deadline_.cancel();
      self->Opened(absl::OkStatus());
    };
    callbacks.message = [self](std::string_view message) {
      if (self->closed_) return;  // nobody reads any more
      const uint32_t n = static_cast<uint32_t>(message.size());
      const char header[protocol::kFrameHeaderBytes] = {
          static_cast<char>(n >> 24), static_cast<char>(n >> 16),
          static_cast<char>(n >> 8), static_cast<char>(n)};
      self->inbox_.append(header, sizeof header);
      self->inbox_.append(message);
      self->ServeReader();
    };
    callbacks.closing = [self](uint16_t, std::string) {
      // Both close frames have passed (websocketpp answered the server's at
      // once): nothing more will come, and the connection may go. RFC 6455
      // lets the client close it itself once it has; waiting for the server
      // to go first would cost the grace on both sides, the web transport
      // lingering until its client has gone.
      self->InputOver();
      self->ShutWhenFlushed();
    };
    callbacks.ended = [self](std::string reason) {
      self->ended_ = true;
      self->Opened(absl::UnavailableError(absl::StrCat("upgrade: ", reason)));
      self->InputOver();
      self->ShutWhenFlushed();
    };
    client_ = std::make_unique<WebSocketClient>(std::move(callbacks), std::move(upgrade),
                                                protocol::kMaxFrameBytes);
  }

  // Opened reports the upgrade's outcome, the first time.
  void Opened(absl::Status status) {
    if (on_open_) std::exchange(on_open_, nullptr)(std::move(status), shared_from_this());
  }

  void InputOver() {
    input_over_ = true;
    ServeReader();
  }

  // Read keeps one read of the inner stream going, unless the inbox is
  // full of messages nobody has read yet.
  void Read() {
    // Not while Feed still consumes read_buffer_: a message handed to a
    // waiting reader lands here first.
    if (reading_ || feeding_ || shut_ || ended_) return;
    if (!closed_ && inbox_.size() >= kInboxHighWater) return;
    reading_ = true;
    inner_->AsyncReadSome(
        asio::buffer(read_buffer_),
        [weak = weak_from_this()](std::error_code error, size_t n) {
          std::shared_ptr<ClientLink> self = weak.lock();
          if (self == nullptr) return;  // gone, and the inner stream with it
          asio::dispatch(self->strand_, [self, error, n] {
            self->reading_ = false;
            if (self->shut_) return;
            if (error) {
              self->client_->PeerGone();
              self->Shut();
              return;
            }
            self->feeding_ = true;
            self->client_->Feed(self->read_buffer_.data(), n);
            self->feeding_ = false;
            self->Read();
          });
        });
  }

  void Complete(IoHandler handler, std::error_code error, size_t n) {
    asio::post(strand_, [handler = std::move(handler), error, n] { handler(error, n); });
  }

  void ServeReader() {
    if (!reader_) return;
    if (!inbox_.empty()) {
      const size_t n = std::min(reader_buffer_.size(), inbox_.size());
      inbox_.copy(static_cast<char*>(reader_buffer_.data()), n);
      inbox_.erase(0, n);
      Complete(std::exchange(reader_, nullptr), std::error_code(), n);
      Read();  // resumes a reader paused on a full inbox
      return;
    }
    if (closed_) {
      FailReader(asio::error::operation_aborted);
    } else if (input_over_) {
      FailReader(asio::error::eof);
    }
  }

  void FailReader(std::error_code why) {
    if (reader_) Complete(std::exchange(reader_, nullptr), why, 0);
  }

  void FailWriters(std::error_code why) {
    for (Writer& writer : writers_) Complete(std::move(writer.handler), why, 0);
    writers_.clear();
  }

  // Write sends each whole length-prefixed frame in `buffer` as one
  // message, keeping the start of a frame that goes on in a later write;
  // the handler runs once those bytes have gone out.
  void Write(asio::const_buffer buffer, IoHandler handler) {
    if (closed_) {
      Complete(std::move(handler), asio::error::operation_aborted, 0);
      return;
    }
    if (shut_ || input_over_ || !client_->open()) {
      Complete(std::move(handler), asio::error::broken_pipe, 0);
      return;
    }
    partial_.append(static_cast<const char*>(buffer.data()), buffer.size());
    size_t at = 0;
    while (partial_.size() - at >= protocol::kFrameHeaderBytes) {
      const auto* p = reinterpret_cast<const unsigned char*>(partial_.data() + at);
      const size_t length = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) |
                            (size_t{p[2]} << 8) | size_t{p[3]};
      if (length > protocol::kMaxFrameBytes) {
        // What follows cannot be told apart from a frame any more.
        partial_.clear();
        Complete(std::move(handler), asio::error::message_size, 0);
        return;
      }
      if (partial_.size() - at - protocol::kFrameHeaderBytes < length) break;
      client_->SendBinary(
          std::string_view(partial_).substr(at + protocol::kFrameHeaderBytes, length));
      at += protocol::kFrameHeaderBytes + length;
    }
    partial_.erase(0, at);
    writers_.push_back(Writer{queued_, buffer.size(), std::move(handler)});
    CompleteWriters();
  }

  void CompleteWriters() {
    while (!writers_.empty() && writers_.front().mark <= written_) {
      Writer writer = std::move(writers_.front());
      writers_.pop_front();
      Complete(std::move(writer.handler), std::error_code(), writer.size);
    }
  }

  // Pump keeps one write of the inner stream going while there is output.
  void Pump() {
    if (writing_ || out_.empty() || shut_) return;
    writing_ = true;
    in_flight_.swap(out_);
    out_.clear();
    inner_->AsyncWrite(
        asio::buffer(in_flight_),
        [self = shared_from_this()](std::error_code error, size_t n) {
          asio::dispatch(self->strand_, [self, error, n] {
            self->writing_ = false;
            self->in_flight_.clear();
            if (self->shut_) return;
            if (error) {
              self->FailWriters(error);
              self->client_->PeerGone();
              self->Shut();
              return;
            }
            self->written_ += n;
            self->CompleteWriters();
            self->Pump();
            self->ShutWhenFlushed();
          });
        });
  }

  // ShutWhenFlushed closes once nothing more will come and what this side
  // had to say (its close frame, its answer to the server's) went out.
  void ShutWhenFlushed() {
    if (input_over_ && !writing_ && out_.empty()) Shut();
  }

  // Shut closes the inner stream; whatever is still queued is dropped.
  void Shut() {
    if (shut_) return;
    shut_ = true;
    deadline_.cancel();
    inner_->Close();
    FailWriters(asio::error::broken_pipe);
    Opened(absl::UnavailableError("upgrade: the connection closed"));
    InputOver();
  }

  const std::unique_ptr<Stream> inner_;
  const asio::strand<asio::any_io_executor> strand_;
  asio::steady_timer deadline_;
  std::unique_ptr<WebSocketClient> client_;
  OpenHandler on_open_;

  std::array<char, 16 * 1024> read_buffer_;
  bool reading_ = false;
  bool feeding_ = false;  // read_buffer_ is being fed to client_
  std::string inbox_;  // received messages as length-prefixed frames
  IoHandler reader_;
  asio::mutable_buffer reader_buffer_;

  std::string partial_;    // the start of a frame written in pieces
  std::string out_;        // bytes for the server, not yet being written
  std::string in_flight_;  // bytes being written
  bool writing_ = false;
  uint64_t queued_ = 0;   // bytes handed to out_ so far
  uint64_t written_ = 0;  // of which written
  std::deque<Writer> writers_;

  bool opened_ = false;
  bool input_over_ = false;  // no message will arrive any more
  bool ended_ = false;       // the WebSocket is over
  bool closed_ = false;      // the owner closed the stream
  bool shut_ = false;        // the inner stream is closed
};

// WebClientStream is an upgraded ClientLink as its owner sees it.
class WebClientStream final : public Stream {
 public:
  explicit WebClientStream(std::shared_ptr<ClientLink> link) : link_(std::move(link)) {}
  ~WebClientStream() override { link_->Close(); }

  void AsyncReadSome(asio::mutable_buffer buffer, IoHandler handler) override {
    link_->AsyncReadSome(buffer, std::move(handler));
  }
  void AsyncWrite(asio::const_buffer buffer, IoHandler handler) override {
    link_->AsyncWrite(buffer, std::move(handler));
  }
  void Close() override { link_->Close(); }
  std::string peer() const override { return link_->peer(); }
  std::string source() const override { return link_->source(); }
  std::string verified_identity() const override { return link_->verified_identity(); }
  asio::any_io_executor executor() override { return link_->executor(); }

 private:
  const std::shared_ptr<ClientLink> link_;
};

// Attempt is one AsyncConnect on its way through TCP, TLS and the upgrade.
// It lives on the connector's executor.
struct Attempt {
  StreamHandler handler;
  bool cancelled = false;
  // During the upgrade; the link's pending reads keep it alive, and it
  // holds this Attempt until the upgrade's outcome.
  std::weak_ptr<ClientLink> link;

  void Finish(absl::StatusOr<std::unique_ptr<Stream>> result) {
    link.reset();
    if (handler) std::exchange(handler, nullptr)(std::move(result));
  }
};

class WebConnector final : public Connector {
 public:
  WebConnector(asio::any_io_executor executor, asio::any_io_executor streams,
               const WebUrl& url, std::shared_ptr<tls::TlsContext> tls,
               absl::Duration timeout)
      : executor_(std::move(executor)),
        tcp_(MakeTcpConnector(executor_, std::move(streams), url.host, url.port,
                              IpVersion::kAny)),
        tls_(std::move(tls)),
        timeout_(timeout),
        target_(Authority(url)) {
    // What the page's own script asks for, loaded from `url`.
    upgrade_.resource = kSocketPath;
    upgrade_.host = target_;
    upgrade_.origin = absl::StrCat(url.https ? "https://" : "http://", target_);
    upgrade_.subprotocols = {kSubprotocol};
    endpoint_.port = url.port;
  }

  void AsyncConnect(StreamHandler handler) override {
    auto attempt = std::make_shared<Attempt>();
    attempt->handler = std::move(handler);
    attempt_ = attempt;
    tcp_->AsyncConnect([attempt, tls = tls_, timeout = timeout_, executor = executor_,
                        upgrade = upgrade_](absl::StatusOr<std::unique_ptr<Stream>> stream) {
      if (!stream.ok() || attempt->cancelled) {
        if (stream.ok()) (*stream)->Close();
        attempt->Finish(attempt->cancelled ? absl::CancelledError("cancelled")
                                           : stream.status());
        return;
      }
      if (tls == nullptr) {
        Upgrade(attempt, *std::move(stream), upgrade, timeout, executor);
        return;
      }
      tls::Handshake(*std::move(stream), tls, timeout, executor,
                     [attempt, upgrade, timeout, executor](
                         absl::StatusOr<std::unique_ptr<Stream>> secured) {
                       if (!secured.ok() || attempt->cancelled) {
                         if (secured.ok()) (*secured)->Close();
                         attempt->Finish(attempt->cancelled
                                             ? absl::CancelledError("cancelled")
                                             : secured.status());
                         return;
                       }
                       Upgrade(attempt, *std::move(secured), upgrade, timeout, executor);
                     });
    });
  }

  // A TLS handshake under way ends by itself within the timeout; an
  // upgrade under way is cut off at once.
  void Cancel() override {
    tcp_->Cancel();
    std::shared_ptr<Attempt> attempt = attempt_.lock();
    if (attempt == nullptr) return;
    attempt->cancelled = true;
    if (std::shared_ptr<ClientLink> link = attempt->link.lock()) link->Close();
  }

  const Endpoint& endpoint() const override { return endpoint_; }
  std::string target() const override { return target_; }

 private:
  // Upgrade runs the WebSocket upgrade over a connected stream.
  static void Upgrade(std::shared_ptr<Attempt> attempt, std::unique_ptr<Stream> stream,
                      ClientUpgrade upgrade, absl::Duration timeout,
                      asio::any_io_executor executor) {
    auto link = std::make_shared<ClientLink>(std::move(stream));
    attempt->link = link;
    link->Start(std::move(upgrade), timeout,
                [attempt, executor](absl::Status status, std::shared_ptr<ClientLink> link) {
                  asio::post(executor, [attempt, status, link = std::move(link)]() mutable {
                    if (attempt->cancelled) {
                      link->Close();
                      attempt->Finish(absl::CancelledError("cancelled"));
                    } else if (!status.ok()) {
                      attempt->Finish(status);
                    } else {
                      attempt->Finish(std::make_unique<WebClientStream>(std::move(link)));
                    }
                  });
                });
  }

  const asio::any_io_executor executor_;
  const std::unique_ptr<Connector> tcp_;
  const std::shared_ptr<tls::TlsContext> tls_;
  const absl::Duration timeout_;
  const std::string target_;
  ClientUpgrade upgrade_;
  Endpoint endpoint_;
  std::weak_ptr<Attempt> attempt_;
};

}  // namespace

absl::StatusOr<WebUrl> ParseWebUrl(std::string_view text) {
  const absl::string_view whole(text.data(), text.size());
  absl::string_view rest = whole;
  WebUrl url;
  if (absl::ConsumePrefix(&rest, "https://")) {
    url.https = true;
  } else if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an http:// or https:// URL: ", whole));
  }
  const size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  if (slash != absl::string_view::npos && rest.substr(slash) != "/") {
    return absl::InvalidArgumentError(
        absl::StrCat("a web server is opened at its root (/): ", whole));
  }
  absl::string_view port;
  if (absl::ConsumePrefix(&authority, "[")) {
    const size_t close = authority.find("]:");
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("no [IPv6]:port in ", whole));
    }
    url.host = std::string(authority.substr(0, close));
    port = authority.substr(close + 2);
  } else {
    const size_t colon = authority.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("no port in ", whole));
    }
    url.host = std::string(authority.substr(0, colon));
    port = authority.substr(colon + 1);
    if (absl::StrContains(url.host, ':')) {
      return absl::InvalidArgumentError(
          absl::StrCat("an IPv6 address goes in brackets: ", whole));
    }
  }
  uint32_t number = 0;
  if (url.host.empty() || !absl::SimpleAtoi(port, &number) || number == 0 ||
      number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("no host:port in ", whole));
  }
  url.port = static_cast<uint16_t>(number);
  return url;
}

absl::StatusOr<std::unique_ptr<Connector>> DialWeb(asio::any_io_executor executor,
                                                   asio::any_io_executor streams,
                                                   const WebUrl& url,
                                                   WebDialOptions options) {
  std::shared_ptr<tls::TlsContext> tls;
  if (url.https) {
    tls::ClientTlsConfig config;
    config.trust_pem = std::move(options.trust_pem);
    config.host = url.host;
    absl::StatusOr<std::shared_ptr<tls::TlsContext>> context = tls::MakeClientContext(config);
    if (!context.ok()) return context.status();
    tls = *std::move(context);
  }
  return std::make_unique<WebConnector>(std::move(executor), std::move(streams), url,
                                        std::move(tls), options.timeout);
}

}  // namespace dbgd::transports::web
