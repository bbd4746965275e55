#include "transports/web/web.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "asio/dispatch.hpp"
#include "asio/error.hpp"
#include "asio/ip/address.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "asio/strand.hpp"
#include "protocol/frame_codec.h"
#include "transports/tcp/tcp.h"
#include "transports/tls/tls.h"
#include "transports/web/web_assets.h"
#include "transports/web/websocket.h"

namespace dbgd::transports {
namespace {

using web::HttpRequest;
using web::HttpResponse;
using web::UpgradeDecision;
using web::WebSocketPeer;

// What a browser may load and connect to: this server's own scripts,
// styles and WebSocket, nothing else. Styles may be inline because the
// terminal emulator writes its colours into style elements; no markup from
// a session is ever rendered as HTML.
constexpr absl::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

// A reader that stops collecting the peer's messages while this many bytes
// of them wait for the debugging server, until it catches up.
constexpr size_t kInboxHighWater = 2 * protocol::kMaxFrameBytes;

// How long a close handshake may take before the connection is cut.
constexpr auto kCloseGrace = std::chrono::seconds(2);

void AddCommonHeaders(HttpResponse& response) {
  response.headers.emplace_back("Content-Security-Policy",
                                std::string(kContentSecurityPolicy));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  response.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  response.headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
  response.headers.emplace_back("Cache-Control", "no-store");
}

HttpResponse TextResponse(int status, absl::string_view text) {
  HttpResponse response;
  response.status = status;
  response.body = absl::StrCat(text, "\n");
  response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  AddCommonHeaders(response);
  return response;
}

absl::string_view PathOf(absl::string_view resource) {
  return resource.substr(0, resource.find_first_of("?#"));
}

// Serve answers a plain HTTP request from the built-in page.
HttpResponse Serve(const HttpRequest& request) {
  if (request.method != "GET") {
    HttpResponse response = TextResponse(405, "only GET is served here");
    response.headers.emplace_back("Allow", "GET");
    return response;
  }
  absl::string_view path = PathOf(request.resource);
  if (path == web::kSocketPath) {
    return TextResponse(426, "this is the console's WebSocket; open / instead");
  }
  if (path == "/") path = "/index.html";
  const web::Asset* asset = web::FindAsset(std::string_view(path.data(), path.size()));
  if (asset == nullptr) return TextResponse(404, "not found");
  HttpResponse response;
  response.body = std::string(asset->body);
  response.headers.emplace_back("Content-Type", std::string(asset->content_type));
  AddCommonHeaders(response);
  return response;
}

// Judge decides on a WebSocket upgrade.
UpgradeDecision Judge(const HttpRequest& request) {
  UpgradeDecision decision;
  if (PathOf(request.resource) != web::kSocketPath) {
    decision.refusal = TextResponse(404, "not found");
    return decision;
  }
  if (request.origin.empty()) {
    decision.refusal = TextResponse(
        403, "refused: no Origin header (the console is opened from its page)");
    return decision;
  }
  if (!web::SameOrigin(request.origin, request.host)) {
    decision.refusal = TextResponse(
        403, absl::StrCat("refused: origin ", request.origin,
                          " is not this server's (", request.host, ")"));
    return decision;
  }
  for (const std::string& offered : request.subprotocols) {
    if (offered == web::kSubprotocol) {
      decision.accept = true;
      decision.subprotocol = offered;
      return decision;
    }
  }
  decision.refusal = TextResponse(
      400, absl::StrCat("refused: the WebSocket subprotocol ", web::kSubprotocol,
                        " is required"));
  return decision;
}

// Link is one connection: its HTTP phase, then the WebSocket it became.
// It lives on `strand`; the inner stream's handlers are sent there.
class Link : public std::enable_shared_from_this<Link> {
 public:
  using OpenHandler = std::function<void(std::shared_ptr<Link>)>;
  using EndHandler = std::function<void()>;

  Link(std::unique_ptr<Stream> inner, absl::Duration upgrade_timeout)
      : inner_(std::move(inner)),
        strand_(asio::make_strand(inner_->executor())),
        deadline_(strand_),
        upgrade_timeout_(upgrade_timeout) {}

  // Start begins reading. `on_open` runs once the upgrade completed,
  // `on_end_before_open` if the connection ended without one; both on the
  // strand.
  void Start(OpenHandler on_open, EndHandler on_end_before_open) {
    asio::dispatch(strand_, [self = shared_from_this(), on_open = std::move(on_open),
                             on_end = std::move(on_end_before_open)]() mutable {
      self->on_open_ = std::move(on_open);
      self->on_end_before_open_ = std::move(on_end);
      self->MakePeer();
      self->deadline_.expires_after(absl::ToChronoMilliseconds(self->upgrade_timeout_));
      // Until the upgrade (or the deadline) the timer is what keeps it.
      self->deadline_.async_wait([self](std::error_code error) {
        if (error || self->opened_) return;
        self->peer_->Close(1008, "the page did not open its console in time");
        self->Shut();
      });
      self->Read();
    });
  }

  // --- The Stream's side, on the strand ------------------------------------

  void AsyncReadSome(asio::mutable_buffer buffer, IoHandler handler) {
    asio::dispatch(strand_, [self = shared_from_this(), buffer,
                             handler = std::move(handler)]() mutable {
      self->reader_ = std::move(handler);
      self->reader_buffer_ = buffer;
      if (self->closed_ && self->inbox_.empty()) {
        self->FailReader(asio::error::operation_aborted);
        return;
      }
      self->ServeReader();  // now, or when a message or the end arrives
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
      if (self->peer_->open()) {
        self->peer_->Close(1000, "closed by the server");
        // The peer's answer ends the connection; a peer that never answers
        // is cut off after the grace.
        self->deadline_.expires_after(kCloseGrace);
        self->deadline_.async_wait([self](std::error_code error) {
          if (!error) self->Shut();
        });
      } else if (self->ended_) {
        // Over already: what it said is flushed, then it lingers and shuts.
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

  void MakePeer() {
    WebSocketPeer::Callbacks callbacks;
    Link* const self = this;  // the peer is ours and dies with us
    callbacks.write = [self](std::string_view bytes) {
      if (self->shut_) return false;
      self->out_.append(bytes);
      self->queued_ += bytes.size();
      self->Pump();
      return true;
    };
    callbacks.http = [](const HttpRequest& request) { return Serve(request); };
    callbacks.upgrade = [](const HttpRequest& request) { return Judge(request); };
    callbacks.open = [self] {
      self->opened_ = true;
      self->deadline_.cancel();
      if (self->on_open_) std::exchange(self->on_open_, nullptr)(self->shared_from_this());
      self->on_end_before_open_ = nullptr;
    };
    callbacks.message = [self](std::string_view message) {
      // The debugging server reads the stream framing: each message becomes
      // one length-prefixed frame.
      const uint32_t n = static_cast<uint32_t>(message.size());
      const char header[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                              static_cast<char>(n >> 8), static_cast<char>(n)};
      self->inbox_.append(header, 4);
      self->inbox_.append(message);
      self->ServeReader();
    };
    callbacks.ended = [self](std::string reason, bool clean) {
      self->ended_ = true;
      self->clean_close_ = clean;
      self->end_reason_ = std::move(reason);
      self->end_error_ = asio::error::eof;
      self->ServeReader();
      if (!self->opened_ && self->on_end_before_open_) {
        std::exchange(self->on_end_before_open_, nullptr)();
      }
      self->on_open_ = nullptr;
      self->ShutWhenFlushed();
    };
    peer_ = std::make_unique<WebSocketPeer>(std::move(callbacks),
                                            protocol::kMaxFrameBytes);
  }

  // Read keeps one read of the inner stream going, unless the inbox is full.
  void Read() {
    if (reading_ || shut_) return;
    if (!lingering_ && (ended_ || inbox_.size() >= kInboxHighWater)) return;
    reading_ = true;
    // Weakly: a TLS stream keeps its reader's callback itself, and a link
    // holding itself would outlive the event loop. What keeps a link alive
    // is its owner, or a timer while it is unowned (Start, Close, linger).
    inner_->AsyncReadSome(
        asio::buffer(read_buffer_),
        [weak = weak_from_this()](std::error_code error, size_t n) {
          std::shared_ptr<Link> self = weak.lock();
          if (self == nullptr) return;
          asio::dispatch(self->strand_, [self, error, n] {
            if (self->shut_) {
              self->reading_ = false;
              return;
            }
            if (error) {
              self->reading_ = false;
              if (self->lingering_) {
                self->Shut();
                return;
              }
              self->peer_->PeerGone();
              self->ShutWhenFlushed();
              return;
            }
            // Still `reading_` while the peer takes the bytes: what it calls
            // back (a message served to a reader) must not start another
            // read into the buffer it is reading from.
            if (!self->lingering_) self->peer_->Feed(self->read_buffer_.data(), n);
            self->reading_ = false;
            self->Read();
          });
        });
  }

  void ServeReader() {
    if (!reader_) return;
    if (inbox_.empty() && !ended_) return;
    IoHandler handler = std::move(reader_);
    reader_ = nullptr;
    if (inbox_.empty()) {
      asio::post(strand_, [handler = std::move(handler), why = end_error_] {
        handler(why, 0);
      });
      return;
    }
    const size_t n = std::min(reader_buffer_.size(), inbox_.size());
    inbox_.copy(static_cast<char*>(reader_buffer_.data()), n);
    inbox_.erase(0, n);
    asio::post(strand_, [handler = std::move(handler), n] { handler(std::error_code(), n); });
    Read();
  }

  void FailReader(std::error_code why) {
    if (!reader_) return;
    asio::post(strand_, [handler = std::move(reader_), why] { handler(why, 0); });
    reader_ = nullptr;
  }

  void FailWriters(std::error_code why) {
    for (Writer& writer : writers_) {
      asio::post(strand_, [handler = std::move(writer.handler), why] { handler(why, 0); });
    }
    writers_.clear();
  }

  // Write sends each whole length-prefixed frame in `buffer` as one
  // message; the handler runs once those bytes have gone out.
  void Write(asio::const_buffer buffer, IoHandler handler) {
    if (closed_ || ended_ || shut_ || !peer_->open()) {
      const std::error_code why =
          closed_ ? asio::error::operation_aborted : asio::error::broken_pipe;
      asio::post(strand_, [handler = std::move(handler), why] { handler(why, 0); });
      return;
    }
    partial_.append(static_cast<const char*>(buffer.data()), buffer.size());
    size_t at = 0;
    while (partial_.size() - at >= protocol::kFrameHeaderBytes) {
      const auto* p = reinterpret_cast<const unsigned char*>(partial_.data() + at);
      const size_t length = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) |
                            (size_t{p[2]} << 8) | size_t{p[3]};
      if (length > protocol::kMaxFrameBytes) {
        // Never produced by a conforming writer; nothing after it can be
        // framed, so the whole write fails.
        partial_.clear();
        asio::post(strand_, [handler = std::move(handler)] {
          handler(asio::error::message_size, 0);
        });
        return;
      }
      if (partial_.size() - at - protocol::kFrameHeaderBytes < length) break;
      peer_->SendBinary(std::string_view(partial_).substr(
          at + protocol::kFrameHeaderBytes, length));
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
      asio::post(strand_, [handler = std::move(writer.handler), size = writer.size] {
        handler(std::error_code(), size);
      });
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
            if (error) {
              self->FailWriters(error);
              self->peer_->PeerGone();
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

  // ShutWhenFlushed closes once the connection is over and what it had to
  // say went out. It lingers first: it reads and discards what the peer
  // still sends until the peer closes too (or kCloseGrace passes), because
  // closing with unread input makes the kernel reset the connection, and a
  // reset can destroy the close frame or response not yet read.
  void ShutWhenFlushed() {
    if (!ended_ || writing_ || !out_.empty() || shut_ || lingering_) return;
    if (clean_close_) {
      // Both close frames have passed: the peer sends nothing more, and
      // waits for the server to close the connection (RFC 6455 §7.1.1).
      Shut();
      return;
    }
    lingering_ = true;
    deadline_.expires_after(kCloseGrace);
    deadline_.async_wait([self = shared_from_this()](std::error_code error) {
      if (!error) self->Shut();
    });
    Read();
  }

  // Shut closes the inner stream; whatever is still queued is dropped.
  void Shut() {
    if (shut_) return;
    shut_ = true;
    deadline_.cancel();
    inner_->Close();
    FailWriters(asio::error::broken_pipe);
    if (!ended_) {
      ended_ = true;
      end_error_ = asio::error::eof;
      ServeReader();
      if (!opened_ && on_end_before_open_) std::exchange(on_end_before_open_, nullptr)();
      on_open_ = nullptr;
    }
  }

  const std::unique_ptr<Stream> inner_;
  const asio::strand<asio::any_io_executor> strand_;
  asio::steady_timer deadline_;
  const absl::Duration upgrade_timeout_;
  std::unique_ptr<WebSocketPeer> peer_;
  OpenHandler on_open_;
  EndHandler on_end_before_open_;

  std::array<char, 16 * 1024> read_buffer_;
  bool reading_ = false;
  std::string inbox_;  // received messages as length-prefixed frames
  IoHandler reader_;
  asio::mutable_buffer reader_buffer_;

  std::string partial_;    // the start of a frame written in pieces
  std::string out_;        // bytes for the peer, not yet being written
  std::string in_flight_;  // bytes being written
  bool writing_ = false;
  uint64_t queued_ = 0;   // bytes handed to out_ so far
  uint64_t written_ = 0;  // of which written
  std::deque<Writer> writers_;

  bool opened_ = false;
  bool ended_ = false;   // the WebSocket (or HTTP exchange) is over
  bool closed_ = false;  // the owner closed the stream
  bool shut_ = false;    // the inner stream is closed
  bool lingering_ = false;  // over; draining the peer's input until it closes
  bool clean_close_ = false;  // the WebSocket close handshake completed
  std::string end_reason_;
  std::error_code end_error_;
};

// WebSocketStream is an upgraded Link as the debugging server sees it.
class WebSocketStream final : public Stream {
 public:
  explicit WebSocketStream(std::shared_ptr<Link> link) : link_(std::move(link)) {}
  ~WebSocketStream() override { link_->Close(); }

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
  const std::shared_ptr<Link> link_;
};

// WebListener accepts from `inner` (tcp, or ssl's TLS listener), serves
// each connection's HTTP phase side by side, and hands out the ones that
// became WebSockets.
class WebListener final : public Listener {
 public:
  WebListener(std::unique_ptr<Listener> inner, Endpoint endpoint,
              absl::Duration upgrade_timeout, asio::any_io_executor executor)
      : state_(std::make_shared<State>(std::move(inner), std::move(endpoint),
                                       upgrade_timeout, std::move(executor))) {}
  ~WebListener() override { Close(); }

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
    // Connections still loading the page or upgrading end with the server.
    for (const std::weak_ptr<Link>& weak : state.links) {
      if (std::shared_ptr<Link> link = weak.lock()) link->Close();
    }
    state.links.clear();
    if (state.waiting) {
      asio::post(state.executor, [waiting = std::move(state.waiting)] {
        waiting(absl::CancelledError("cancelled"));
      });
      state.waiting = nullptr;
    }
  }

  const Endpoint& endpoint() const override { return state_->endpoint; }

 private:
  // State lives on the owner's strand (`executor`).
  struct State {
    State(std::unique_ptr<Listener> inner, Endpoint endpoint,
          absl::Duration upgrade_timeout, asio::any_io_executor executor)
        : inner(std::move(inner)),
          endpoint(std::move(endpoint)),
          upgrade_timeout(upgrade_timeout),
          executor(std::move(executor)) {}

    static void Accept(const std::shared_ptr<State>& self) {
      if (self->closed || self->accepting ||
          self->pending + self->done.size() >= web::kMaxPendingExchanges) {
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
          // A failed TLS handshake concerns that one peer; ABORTED ends us.
          self->done.push_back(stream.status());
          Deliver(self);
          Accept(self);
          return;
        }
        ++self->pending;
        auto link = std::make_shared<Link>(*std::move(stream), self->upgrade_timeout);
        std::erase_if(self->links, [](const std::weak_ptr<Link>& l) { return l.expired(); });
        self->links.push_back(link);
        link->Start(
            [weak](std::shared_ptr<Link> opened) {
              std::shared_ptr<State> self = weak.lock();
              if (self == nullptr) return;
              asio::post(self->executor, [weak, opened = std::move(opened)]() mutable {
                std::shared_ptr<State> self = weak.lock();
                if (self == nullptr) {
                  opened->Close();
                  return;
                }
                --self->pending;
                // Accepted: from now on it is its owner's, as with any
                // transport, and outlives the listener.
                std::erase_if(self->links, [&](const std::weak_ptr<Link>& l) {
                  return l.lock() == opened;
                });
                if (self->closed) {
                  opened->Close();
                  return;
                }
                self->done.push_back(std::make_unique<WebSocketStream>(std::move(opened)));
                Deliver(self);
                Accept(self);
              });
            },
            [weak] {
              std::shared_ptr<State> self = weak.lock();
              if (self == nullptr) return;
              asio::post(self->executor, [weak] {
                std::shared_ptr<State> self = weak.lock();
                if (self == nullptr) return;
                --self->pending;
                Accept(self);
              });
            });
        Accept(self);
      });
    }

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
    const Endpoint endpoint;
    const absl::Duration upgrade_timeout;
    const asio::any_io_executor executor;
    StreamHandler waiting;
    std::deque<absl::StatusOr<std::unique_ptr<Stream>>> done;
    size_t pending = 0;  // links in their HTTP phase
    std::vector<std::weak_ptr<Link>> links;  // those, to close with the server
    bool accepting = false;
    bool closed = false;
  };

  const std::shared_ptr<State> state_;
};

bool IsLoopback(const std::string& address) {
  std::error_code error;
  const asio::ip::address ip = asio::ip::make_address(address, error);
  return !error && ip.is_loopback();
}

absl::StatusOr<std::unique_ptr<Listener>> WebListen(TransportContext& context,
                                                    const ServerSpec& spec,
                                                    asio::any_io_executor executor) {
  absl::StatusOr<std::unique_ptr<Listener>> inner;
  Endpoint endpoint;
  if (spec.tls_protocol.has_value()) {
    inner = SslTransport().listen(context, spec, executor);
    if (!inner.ok()) return inner.status();
    endpoint = (*inner)->endpoint();
  } else {
    std::string address = context.options().bind_address;
    if (!spec.insecure) {
      if (address.empty()) {
        // Plaintext stays on this host unless asked otherwise.
        address = spec.ip_version == IpVersion::kV6 ? "::1" : "127.0.0.1";
      } else if (!IsLoopback(address)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "insecure: a web server without TLS would serve plaintext HTTP on ",
            address,
            " (--server_bind_address); give proto= and certuser=/machuser= for "
            "HTTPS, or insecure to serve plaintext anyway"));
      }
    }
    inner = ListenTcpOn(executor, context.io(), spec.port, spec.ip_version, address);
    if (!inner.ok()) return inner.status();
    endpoint = (*inner)->endpoint();
    if (!spec.insecure) {
      endpoint.address = address;
      endpoint.note = absl::StrCat(
          "plaintext web server on ", address,
          " only; give proto= and a certificate (HTTPS) or insecure to serve "
          "other hosts");
    }
  }
  return std::make_unique<WebListener>(*std::move(inner), std::move(endpoint),
                                       context.options().tls_handshake_timeout,
                                       std::move(executor));
}

// SplitAuthority splits "host:port" / "[::1]:port" / "host"; the port is 0
// when absent, nullopt when it is not a number.
std::optional<std::pair<std::string, uint32_t>> SplitAuthority(absl::string_view authority) {
  std::string host;
  absl::string_view rest;
  if (absl::ConsumePrefix(&authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return std::nullopt;
    host = std::string(authority.substr(0, close));
    rest = authority.substr(close + 1);
  } else {
    const size_t colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    rest = colon == absl::string_view::npos ? "" : authority.substr(colon);
  }
  uint32_t port = 0;
  if (!rest.empty()) {
    if (!absl::ConsumePrefix(&rest, ":") || !absl::SimpleAtoi(rest, &port) ||
        port == 0 || port > 65535) {
      return std::nullopt;
    }
  }
  if (host.empty()) return std::nullopt;
  return std::make_pair(absl::AsciiStrToLower(host), port);
}

}  // namespace

namespace web {

bool SameOrigin(std::string_view origin_text, std::string_view host_text) {
  absl::string_view origin(origin_text.data(), origin_text.size());
  uint32_t default_port = 0;
  if (absl::ConsumePrefix(&origin, "http://")) {
    default_port = 80;
  } else if (absl::ConsumePrefix(&origin, "https://")) {
    default_port = 443;
  } else {
    return false;  // "null", file:, another scheme: never ours
  }
  if (origin.find_first_of("/?#@") != absl::string_view::npos) return false;
  auto from = SplitAuthority(origin);
  auto to = SplitAuthority(absl::string_view(host_text.data(), host_text.size()));
  if (!from || !to) return false;
  if (from->second == 0) from->second = default_port;
  if (to->second == 0) to->second = default_port;
  return *from == *to;
}

}  // namespace web

const TransportOps& WebTransport() {
  static constexpr TransportOps kOps{
      .transport = Transport::kWeb,
      .listen = &WebListen,
      .connect_out = nullptr,
      .dial = nullptr,
      .await_server = nullptr,
      .make_codec = nullptr,  // the stream framing, one frame per message
  };
  return kOps;
}

}  // namespace dbgd::transports
