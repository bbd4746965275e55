#include "transports/com/line.h"

#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "asio/write.hpp"
#include "transports/com/tty.h"

namespace dbgd::transports::com {

// Link is one session on a channel, shared by its stream and the line.
struct Line::Link {
  explicit Link(uint8_t c) : channel(c) {}
  const uint8_t channel;
  std::string inbound;  // received frames not read yet, from `offset`
  size_t offset = 0;
  std::error_code ended;  // the far side left (eof), or the line failed
  bool closed = false;    // this side closed it
  asio::mutable_buffer read_buffer;
  IoHandler read_handler;  // the read waiting for bytes
  std::string outbound;    // a written frame not complete yet
  absl::Time last_received = absl::Now();
  absl::Time last_sent = absl::Now();
};

// ChannelEnd is what this process has on one channel: a server serving it,
// or a client using it, and the session in progress.
struct Line::ChannelEnd {
  bool serving = false;
  bool client = false;
  std::shared_ptr<Link> session;
  std::shared_ptr<Link> unaccepted;  // == session, until accepted
  StreamHandler accept;
  asio::any_io_executor accept_executor;
};

class Line::LineStream final : public Stream {
 public:
  LineStream(Ref line, std::shared_ptr<Link> link)
      : line_(std::move(line)), link_(std::move(link)) {}
  ~LineStream() override { Close(); }

  void AsyncReadSome(asio::mutable_buffer buffer, IoHandler handler) override {
    line_->Read(link_, buffer, std::move(handler));
  }
  void AsyncWrite(asio::const_buffer buffer, IoHandler handler) override {
    line_->Write(link_, buffer, std::move(handler));
  }
  void Close() override { line_->Close(link_); }
  std::string peer() const override {
    return absl::StrCat("com:", line_->device(), ",channel=", link_->channel);
  }
  // One line, one lockout: whoever is on the far end of the cable.
  std::string source() const override { return absl::StrCat("com:", line_->device()); }
  asio::any_io_executor executor() override { return line_->io_; }

 private:
  const Ref line_;
  const std::shared_ptr<Link> link_;
};

namespace {

// Completes `handler` on `io`, never inline: user code never runs under
// the line's mutex.
void PostIo(const asio::any_io_executor& io, IoHandler handler,
            std::error_code error, size_t bytes) {
  asio::post(io, [handler = std::move(handler), error, bytes] {
    handler(error, bytes);
  });
}

uint32_t LengthAt(const std::string& bytes, size_t at) {
  uint32_t length = 0;
  for (size_t i = 0; i < 4; ++i) {
    length = (length << 8) | static_cast<uint8_t>(bytes[at + i]);
  }
  return length;
}

}  // namespace

absl::StatusOr<Line::Ref> Line::Open(asio::any_io_executor io,
                                     const std::string& device, uint32_t baud,
                                     const std::vector<std::string>& allow,
                                     absl::Duration idle_timeout) {
  absl::StatusOr<OpenedLine> opened = OpenLine(device, baud, allow);
  if (!opened.ok()) return opened.status();
  std::shared_ptr<Line> line(new Line(std::move(io), opened->fd, device, baud,
                                      opened->baud, idle_timeout));
  MutexLock lock(&line->mu_);
  line->StartRead();
  return line->UseLocked();
}

Line::Ref& Line::Ref::operator=(Ref&& other) noexcept {
  if (this != &other) {
    Reset();
    line_ = std::move(other.line_);
  }
  return *this;
}

void Line::Ref::Reset() {
  if (line_ != nullptr) std::exchange(line_, nullptr)->Release();
}

std::optional<Line::Ref> Line::TryUse() {
  MutexLock lock(&mu_);
  if (closed_) return std::nullopt;
  return UseLocked();
}

Line::Ref Line::UseLocked() {
  ++users_;
  return Ref(shared_from_this());
}

void Line::Release() {
  MutexLock lock(&mu_);
  if (--users_ == 0) Shutdown();
}

void Line::Shutdown() {
  if (closed_) return;
  closed_ = true;
  std::error_code ignored;
  ticker_.cancel();
  port_.cancel(ignored);
  CloseLine(port_.release());
  for (Outgoing& outgoing : queue_) {
    if (outgoing.done) outgoing.done(asio::error::operation_aborted);
  }
  queue_.clear();
  writing_ = false;
}

Line::Line(asio::any_io_executor io, int fd, std::string device,
           uint32_t requested_baud, uint32_t baud, absl::Duration idle_timeout)
    : io_(std::move(io)),
      device_(std::move(device)),
      requested_baud_(requested_baud),
      baud_(baud),
      idle_timeout_(idle_timeout),
      keepalive_(idle_timeout / 3),
      port_(io_, fd),
      ticker_(io_),
      read_buffer_(std::make_shared<std::vector<char>>(64 * 1024)) {}

Line::~Line() {
  // Every Ref is gone, so Shutdown has run; handlers still queued find the
  // line gone.
  MutexLock lock(&mu_);
  Shutdown();
}

// --- Reading ------------------------------------------------------------

void Line::StartRead() {
  port_.async_read_some(
      asio::buffer(*read_buffer_),
      [weak = weak_from_this(), buffer = read_buffer_](std::error_code error,
                                                       size_t bytes) {
        if (std::shared_ptr<Line> line = weak.lock()) line->OnRead(error, bytes);
      });
}

void Line::OnRead(std::error_code error, size_t bytes) {
  MutexLock lock(&mu_);
  if (closed_ || error == asio::error::operation_aborted) return;
  if (error) {
    Fail(error);
    return;
  }
  reader_.Append(absl::string_view(read_buffer_->data(), bytes));
  // Counted before the packets are handed on, so whoever reads a frame
  // that came after some noise also sees the noise counted.
  damaged_.store(reader_.damaged());
  while (std::optional<Packet> packet = reader_.Next()) Route(*packet);
  StartRead();
}

void Line::Route(const Packet& packet) {
  if (packet.channel == kControlChannel) {
    // length ‖ op ‖ channel; anything else is a control packet of a later
    // version, ignored.
    if (packet.framed.size() != 6) return;
    Control(static_cast<ControlOp>(packet.framed[4]),
            static_cast<uint8_t>(packet.framed[5]));
    return;
  }
  auto it = ends_.find(packet.channel);
  if (it == ends_.end()) return;  // another process's channel
  ChannelEnd& end = it->second;
  if (end.session == nullptr) {
    if (!end.serving) return;  // a client's session that already ended
    // The OPEN was lost; the client's first frame opens the session.
    Begin(packet.channel, end);
  }
  Link& link = *end.session;
  link.last_received = absl::Now();
  link.inbound.append(packet.framed);
  FinishRead(link);
}

void Line::Control(ControlOp op, uint8_t channel) {
  auto it = ends_.find(channel);
  if (it == ends_.end()) return;
  ChannelEnd& end = it->second;
  switch (op) {
    case ControlOp::kOpen:
      if (!end.serving) return;
      // A client that restarted takes its channel back.
      if (end.session != nullptr) EndSession(end, asio::error::eof);
      Begin(channel, end);
      return;
    case ControlOp::kClose:
      if (end.session != nullptr) EndSession(end, asio::error::eof);
      Tidy(channel);
      return;
    case ControlOp::kKeepalive:
      if (end.session != nullptr) end.session->last_received = absl::Now();
      return;
  }
}

void Line::Begin(uint8_t channel, ChannelEnd& end) {
  auto link = std::make_shared<Link>(channel);
  end.session = link;
  if (end.accept) {
    asio::post(end.accept_executor,
               [accept = std::move(end.accept),
                stream = MakeStream(std::move(link))]() mutable {
                 accept(std::move(stream));
               });
    end.accept = nullptr;
  } else {
    end.unaccepted = std::move(link);
  }
  StartTicker();
}

void Line::EndSession(ChannelEnd& end, std::error_code why) {
  std::shared_ptr<Link> link = std::move(end.session);
  end.session = nullptr;
  if (end.unaccepted == link) end.unaccepted = nullptr;
  link->ended = why;
  FinishRead(*link);
}

void Line::Tidy(uint8_t channel) {
  auto it = ends_.find(channel);
  if (it == ends_.end()) return;
  const ChannelEnd& end = it->second;
  if (!end.serving && !end.client && end.session == nullptr) ends_.erase(it);
}

absl::Status Line::FailedStatus() const {
  return absl::UnavailableError(
      absl::StrCat("serial line ", device_, " failed: ", failed_.message()));
}

absl::Status Line::AcceptFailedStatus() const {
  // ABORTED: the listener can accept nothing more (transport.h).
  return absl::AbortedError(FailedStatus().message());
}

void Line::Fail(std::error_code error) {
  failed_ = error;
  for (auto& [channel, end] : ends_) {
    if (end.session != nullptr) EndSession(end, error);
    if (end.accept) {
      asio::post(end.accept_executor,
                 [accept = std::move(end.accept),
                  status = AcceptFailedStatus()] {
                   accept(status);
                 });
      end.accept = nullptr;
    }
  }
  for (Outgoing& outgoing : queue_) {
    if (outgoing.done) outgoing.done(error);
  }
  queue_.clear();
  writing_ = false;
}

// --- Writing ------------------------------------------------------------

void Line::SendControl(ControlOp op, uint8_t channel) {
  const char body[2] = {static_cast<char>(op), static_cast<char>(channel)};
  Send({EncodeBody(kControlChannel, absl::string_view(body, 2)), nullptr});
}

void Line::Send(Outgoing outgoing) {
  if (failed_ || closed_) {
    if (outgoing.done) {
      outgoing.done(failed_ ? failed_ : asio::error::operation_aborted);
    }
    return;
  }
  queue_.push_back(std::move(outgoing));
  if (!writing_) WriteNext();
}

void Line::WriteNext() {
  if (queue_.empty()) {
    writing_ = false;
    return;
  }
  writing_ = true;
  // A deque's elements stay put while others are added behind them.
  asio::async_write(port_, asio::buffer(queue_.front().bytes),
                    [weak = weak_from_this()](std::error_code error, size_t) {
                      if (std::shared_ptr<Line> line = weak.lock()) {
                        line->OnWritten(error);
                      }
                    });
}

void Line::OnWritten(std::error_code error) {
  MutexLock lock(&mu_);
  if (closed_ || queue_.empty()) return;  // closed or failed meanwhile
  Outgoing written = std::move(queue_.front());
  queue_.pop_front();
  if (written.done) written.done(error);
  if (error) {
    if (error != asio::error::operation_aborted) Fail(error);
    return;
  }
  WriteNext();
}

// --- Keepalives and idle sessions ----------------------------------------

void Line::StartTicker() {
  if (ticking_ || keepalive_ <= absl::ZeroDuration()) return;
  ticking_ = true;
  ticker_.expires_after(absl::ToChronoNanoseconds(keepalive_));
  ticker_.async_wait([weak = weak_from_this()](std::error_code error) {
    if (error) return;
    if (std::shared_ptr<Line> line = weak.lock()) line->Tick();
  });
}

void Line::Tick() {
  MutexLock lock(&mu_);
  ticking_ = false;
  if (closed_) return;
  const absl::Time now = absl::Now();
  bool sessions = false;
  std::vector<uint8_t> idle;
  for (auto& [channel, end] : ends_) {
    if (end.session == nullptr) continue;
    Link& link = *end.session;
    if (now - link.last_received >= idle_timeout_) {
      idle.push_back(channel);
      continue;
    }
    sessions = true;
    if (now - link.last_sent >= keepalive_) {
      SendControl(ControlOp::kKeepalive, channel);
      link.last_sent = now;
    }
  }
  for (uint8_t channel : idle) {
    EndSession(ends_[channel], asio::error::eof);
    Tidy(channel);
  }
  if (sessions) StartTicker();
}

// --- Channels -------------------------------------------------------------

absl::Status Line::Serve(uint8_t channel) {
  MutexLock lock(&mu_);
  ChannelEnd& end = ends_[channel];
  if (end.serving || end.client) {
    return absl::AlreadyExistsError(
        absl::StrCat("channel: ", channel, " of ", device_,
                     " is taken by another ", end.serving ? "server" : "client",
                     " of this daemon"));
  }
  end.serving = true;
  return absl::OkStatus();
}

void Line::AcceptOn(uint8_t channel, StreamHandler handler,
                    asio::any_io_executor executor) {
  MutexLock lock(&mu_);
  ChannelEnd& end = ends_[channel];
  if (!end.serving) {
    asio::post(executor, [handler = std::move(handler)] {
      handler(absl::CancelledError("cancelled"));
    });
    return;
  }
  if (failed_) {
    asio::post(executor, [handler = std::move(handler),
                          status = AcceptFailedStatus()] { handler(status); });
    return;
  }
  if (end.unaccepted != nullptr) {
    asio::post(executor, [handler = std::move(handler),
                          stream = MakeStream(std::move(end.unaccepted))]() mutable {
      handler(std::move(stream));
    });
    end.unaccepted = nullptr;
    return;
  }
  end.accept = std::move(handler);
  end.accept_executor = std::move(executor);
}

void Line::StopServing(uint8_t channel) {
  MutexLock lock(&mu_);
  auto it = ends_.find(channel);
  if (it == ends_.end() || !it->second.serving) return;
  ChannelEnd& end = it->second;
  end.serving = false;
  if (end.accept) {
    asio::post(end.accept_executor, [accept = std::move(end.accept)] {
      accept(absl::CancelledError("cancelled"));
    });
    end.accept = nullptr;
  }
  // A session nobody accepted has nobody to serve it.
  if (end.unaccepted != nullptr) {
    SendControl(ControlOp::kClose, channel);
    EndSession(end, asio::error::eof);
  }
  Tidy(channel);
}

absl::StatusOr<std::unique_ptr<Stream>> Line::Join(uint8_t channel) {
  MutexLock lock(&mu_);
  if (failed_) return FailedStatus();
  ChannelEnd& end = ends_[channel];
  if (end.serving || end.client) {
    return absl::AlreadyExistsError(absl::StrCat(
        "channel: ", channel, " of ", device_, " is taken by a ",
        end.serving ? "server" : "client", " of this process"));
  }
  end.client = true;
  end.session = std::make_shared<Link>(channel);
  SendControl(ControlOp::kOpen, channel);
  StartTicker();
  return MakeStream(end.session);
}

std::unique_ptr<Stream> Line::MakeStream(std::shared_ptr<Link> link) {
  return std::make_unique<LineStream>(UseLocked(), std::move(link));
}

// --- A session's stream ----------------------------------------------------

void Line::FinishRead(Link& link) {
  if (!link.read_handler) return;
  const size_t available = link.inbound.size() - link.offset;
  if (available > 0) {
    const size_t n = std::min(available, link.read_buffer.size());
    std::memcpy(link.read_buffer.data(), link.inbound.data() + link.offset, n);
    link.offset += n;
    if (link.offset == link.inbound.size()) {
      link.inbound.clear();
      link.offset = 0;
    }
    PostIo(io_, std::move(link.read_handler), {}, n);
  } else if (link.ended) {
    PostIo(io_, std::move(link.read_handler), link.ended, 0);
  } else {
    return;
  }
  link.read_handler = nullptr;
}

void Line::Read(const std::shared_ptr<Link>& link, asio::mutable_buffer buffer,
                IoHandler handler) {
  MutexLock lock(&mu_);
  if (link->closed) {
    PostIo(io_, std::move(handler), asio::error::operation_aborted, 0);
    return;
  }
  link->read_buffer = buffer;
  link->read_handler = std::move(handler);
  FinishRead(*link);
}

void Line::Write(const std::shared_ptr<Link>& link, asio::const_buffer buffer,
                 IoHandler handler) {
  MutexLock lock(&mu_);
  const size_t size = buffer.size();
  if (link->closed) {
    PostIo(io_, std::move(handler), asio::error::operation_aborted, 0);
    return;
  }
  if (link->ended) {
    PostIo(io_, std::move(handler), asio::error::broken_pipe, 0);
    return;
  }
  // Each whole frame is one packet; a partial one waits for its rest.
  std::string& outbound = link->outbound;
  outbound.append(static_cast<const char*>(buffer.data()), size);
  std::vector<std::string> packets;
  size_t at = 0;
  while (outbound.size() - at >= protocol::kFrameHeaderBytes) {
    const uint32_t length = LengthAt(outbound, at);
    if (length > protocol::kMaxFrameBytes) {
      outbound.clear();
      PostIo(io_, std::move(handler), asio::error::message_size, 0);
      return;
    }
    const size_t frame = protocol::kFrameHeaderBytes + length;
    if (outbound.size() - at < frame) break;
    packets.push_back(
        EncodePacket(link->channel, absl::string_view(outbound).substr(at, frame)));
    at += frame;
  }
  outbound.erase(0, at);
  if (packets.empty()) {
    PostIo(io_, std::move(handler), {}, size);
    return;
  }
  link->last_sent = absl::Now();
  // The write completes once its last packet is on the line.
  for (size_t i = 0; i + 1 < packets.size(); ++i) {
    Send({std::move(packets[i]), nullptr});
  }
  Send({std::move(packets.back()),
        [io = io_, handler = std::move(handler), size](std::error_code error) mutable {
          PostIo(io, std::move(handler), error, error ? 0 : size);
        }});
}

void Line::Close(const std::shared_ptr<Link>& link) {
  MutexLock lock(&mu_);
  if (link->closed) return;
  link->closed = true;
  if (link->read_handler) {
    PostIo(io_, std::move(link->read_handler), asio::error::operation_aborted, 0);
    link->read_handler = nullptr;
  }
  auto it = ends_.find(link->channel);
  if (it == ends_.end()) return;
  ChannelEnd& end = it->second;
  if (end.session == link) {
    SendControl(ControlOp::kClose, link->channel);
    end.session = nullptr;
    if (end.unaccepted == link) end.unaccepted = nullptr;
  }
  if (end.client && end.session == nullptr) end.client = false;
  Tidy(link->channel);
}

// --- The registry -------------------------------------------------------------

Lines::Lines(TransportContext& context) : context_(context) {}

absl::StatusOr<Line::Ref> Lines::Get(const std::string& device, uint32_t baud) {
  // One line per device, however it is named.
  std::string key = device;
  if (char* real = realpath(device.c_str(), nullptr)) {
    key = real;
    free(real);
  }
  MutexLock lock(&mu_);
  std::optional<Line::Ref> open;
  if (std::shared_ptr<Line> line = lines_[key].lock()) open = line->TryUse();
  if (open.has_value()) {
    if ((*open)->requested_baud() != baud) {
      return absl::InvalidArgumentError(absl::StrCat(
          "baud: ", device, " is already open at ", (*open)->requested_baud(),
          " baud; every channel of a line uses its rate"));
    }
    return *std::move(open);
  }
  absl::StatusOr<Line::Ref> line =
      Line::Open(context_.io(), device, baud, context_.options().com_allow,
                 context_.options().com_idle_timeout);
  if (!line.ok()) {
    lines_.erase(key);
    return line.status();
  }
  lines_[key] = (*line)->weak_from_this();
  return line;
}

}  // namespace dbgd::transports::com
