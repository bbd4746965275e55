#include "protocol/frame_connection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/dispatch.hpp"
#include "asio/error.hpp"
#include "asio/post.hpp"

namespace dbgd::protocol {
namespace {

// At most this many queued bytes go into one write.
constexpr size_t kWriteBatchBytes = 256 * 1024;

// A flush ends, progress or not, after this many flush timeouts.
constexpr int kFlushLimitTimeouts = 12;

}  // namespace

std::shared_ptr<FrameConnection> FrameConnection::Create(
    std::unique_ptr<transports::Stream> stream,
    std::unique_ptr<FrameCodec> codec, FrameConnectionOptions options) {
  return std::shared_ptr<FrameConnection>(
      new FrameConnection(std::move(stream), std::move(codec), options));
}

FrameConnection::FrameConnection(std::unique_ptr<transports::Stream> stream,
                                 std::unique_ptr<FrameCodec> codec,
                                 FrameConnectionOptions options)
    : stream_(std::move(stream)),
      codec_(std::move(codec)),
      strand_(asio::make_strand(stream_->executor())),
      options_(options),
      peer_(stream_->peer()),
      source_(stream_->source()),
      flush_timer_(strand_) {}

FrameConnection::~FrameConnection() = default;

void FrameConnection::Start(FrameHandler on_frame, CloseHandler on_close) {
  asio::dispatch(strand_, [self = shared_from_this(), on_frame = std::move(on_frame),
                           on_close = std::move(on_close)]() mutable {
    self->DoStart(std::move(on_frame), std::move(on_close));
  });
}

void FrameConnection::SetFrameHandler(FrameHandler on_frame) {
  asio::dispatch(strand_, [self = shared_from_this(),
                           on_frame = std::move(on_frame)]() mutable {
    self->DoSetFrameHandler(std::move(on_frame));
  });
}

void FrameConnection::SetCloseHandler(CloseHandler on_close) {
  asio::dispatch(strand_, [self = shared_from_this(),
                           on_close = std::move(on_close)]() mutable {
    self->DoSetCloseHandler(std::move(on_close));
  });
}

absl::Status FrameConnection::Send(const Frame& frame) {
  absl::Status size = CheckFrameSize(frame.ByteSizeLong());
  if (!size.ok()) return size;
  std::string bytes = codec_->Encode(frame);
  {
    MutexLock lock(&mu_);
    if (!accepting_) {
      return absl::FailedPreconditionError(
          absl::StrCat("the connection to ", peer_, " is closed"));
    }
    pending_bytes_ += bytes.size() + kQueuedFrameOverheadBytes;
    queue_.push_back(std::move(bytes));
    if (write_scheduled_) return absl::OkStatus();
    write_scheduled_ = true;
  }
  asio::post(strand_, [self = shared_from_this()] { self->WriteNext(); });
  return absl::OkStatus();
}

void FrameConnection::Close(bool flush) {
  {
    MutexLock lock(&mu_);
    accepting_ = false;
  }
  asio::dispatch(strand_, [self = shared_from_this(), flush] {
    self->BeginClose(absl::OkStatus(), flush);
  });
}

void FrameConnection::OnDrained(size_t below, std::function<void()> callback) {
  asio::post(strand_, [self = shared_from_this(), below,
                       callback = std::move(callback)]() mutable {
    if (self->finished_) return;
    self->on_drained_ = std::move(callback);
    self->drained_below_ = below;
    self->CheckDrained();
  });
}

void FrameConnection::CheckDrained() {
  if (!on_drained_ || finished_ || pending_bytes() >= drained_below_) return;
  std::function<void()> callback = std::move(on_drained_);
  on_drained_ = nullptr;
  callback();
}

size_t FrameConnection::pending_bytes() const {
  MutexLock lock(&mu_);
  return pending_bytes_;
}

size_t FrameConnection::DiscardQueued() {
  MutexLock lock(&mu_);
  const size_t discarded = queue_.size();
  for (const std::string& bytes : queue_) {
    pending_bytes_ -= bytes.size() + kQueuedFrameOverheadBytes;
  }
  queue_.clear();
  return discarded;
}

bool FrameConnection::closed() const {
  MutexLock lock(&mu_);
  return !accepting_;
}

void FrameConnection::DoStart(FrameHandler on_frame, CloseHandler on_close) {
  started_ = true;
  DoSetCloseHandler(std::move(on_close));
  DoSetFrameHandler(std::move(on_frame));
}

void FrameConnection::DoSetFrameHandler(FrameHandler on_frame) {
  if (closing_ || finished_) return;
  on_frame_ = on_frame ? std::make_shared<const FrameHandler>(std::move(on_frame))
                       : nullptr;
  // Inside Deliver, its loop picks the new handler up.
  if (!delivering_) Deliver();
}

void FrameConnection::DoSetCloseHandler(CloseHandler on_close) {
  if (finished_) {
    if (on_close) {
      asio::post(strand_, [on_close = std::move(on_close),
                           reason = *close_reason_] { on_close(reason); });
    }
    return;
  }
  on_close_ = std::move(on_close);
}

void FrameConnection::ReadMore() {
  if (!started_ || reading_ || closing_ || finished_ || on_frame_ == nullptr) {
    return;
  }
  reading_ = true;
  stream_->AsyncReadSome(
      asio::buffer(read_buffer_),
      [self = shared_from_this()](std::error_code error, size_t bytes) {
        // The stream calls back on its executor; state lives on the strand.
        asio::dispatch(self->strand_, [self, error, bytes] {
          self->OnRead(error, bytes);
        });
      });
}

void FrameConnection::OnRead(std::error_code error, size_t bytes) {
  reading_ = false;
  if (closing_ || finished_) return;
  if (error == asio::error::eof) {
    absl::Status at_end = codec_->AtEnd();
    // At a frame boundary the peer may only have shut down its sending
    // side: what is queued for it still goes out.
    const bool flush = at_end.ok();
    BeginClose(std::move(at_end), flush);
    return;
  }
  if (error) {
    BeginClose(absl::UnavailableError(absl::StrCat("reading from ", peer_,
                                                   " failed: ", error.message())),
               /*flush=*/false);
    return;
  }
  codec_->Append(absl::string_view(read_buffer_.data(), bytes));
  Deliver();
}

void FrameConnection::Deliver() {
  delivering_ = true;
  while (on_frame_ != nullptr && !closing_ && !finished_) {
    absl::StatusOr<std::optional<Frame>> next = codec_->Next();
    if (!next.ok()) {
      // Tell the peer why it is dropped: its implementer will want to know.
      Frame bye;
      bye.mutable_bye()->set_reason(std::string(next.status().message()));
      (void)Send(bye);
      BeginClose(next.status(), /*flush=*/true);
      break;
    }
    if (!next->has_value()) break;
    const std::shared_ptr<const FrameHandler> handler = on_frame_;
    (*handler)(std::move(**next));
  }
  delivering_ = false;
  ReadMore();
}

void FrameConnection::WriteNext() {
  if (finished_) return;
  {
    MutexLock lock(&mu_);
    if (queue_.empty()) {
      write_scheduled_ = false;
    } else if (queue_.size() == 1 || queue_.front().size() >= kWriteBatchBytes) {
      write_buffer_ = std::move(queue_.front());
      queue_.pop_front();
      write_cost_ = write_buffer_.size() + kQueuedFrameOverheadBytes;
    } else {
      write_buffer_.clear();
      write_cost_ = 0;
      while (!queue_.empty() &&
             write_buffer_.size() + queue_.front().size() <= kWriteBatchBytes) {
        write_buffer_ += queue_.front();
        write_cost_ += queue_.front().size() + kQueuedFrameOverheadBytes;
        queue_.pop_front();
      }
    }
  }
  if (write_buffer_.empty()) {
    if (closing_) Finish();  // flushed
    return;
  }
  write_offset_ = 0;
  WriteRest();
}

void FrameConnection::WriteRest() {
  // Written piece by piece, so that a closing connection sees its peer
  // make progress (ArmFlushTimer) however slowly it reads.
  stream_->AsyncWriteSome(
      asio::buffer(write_buffer_) + write_offset_,
      [self = shared_from_this()](std::error_code error, size_t bytes) {
        asio::dispatch(self->strand_, [self, error, bytes] {
          self->OnWritten(error, bytes);
        });
      });
}

void FrameConnection::OnWritten(std::error_code error, size_t bytes) {
  if (finished_) return;
  if (error) {
    BeginClose(absl::UnavailableError(absl::StrCat("writing to ", peer_,
                                                   " failed: ", error.message())),
               /*flush=*/false);
    return;
  }
  write_offset_ += bytes;
  if (closing_ && bytes > 0) ArmFlushTimer();
  if (write_offset_ < write_buffer_.size()) {
    WriteRest();
    return;
  }
  {
    MutexLock lock(&mu_);
    pending_bytes_ -= write_cost_;
  }
  write_buffer_.clear();
  write_offset_ = 0;
  write_cost_ = 0;
  CheckDrained();
  WriteNext();
}

void FrameConnection::BeginClose(absl::Status reason, bool flush) {
  if (finished_) return;
  if (!close_reason_.has_value()) close_reason_ = std::move(reason);
  closing_ = true;
  on_frame_ = nullptr;
  bool writing;
  {
    MutexLock lock(&mu_);
    accepting_ = false;
    writing = write_scheduled_;
  }
  if (!flush || !writing) {
    Finish();
    return;
  }
  // WriteNext finishes once the queue is empty; the timer bounds how long
  // the peer may take no bytes at all.
  ArmFlushTimer();
}

void FrameConnection::ArmFlushTimer() {
  // A peer trickling a byte now and then is not waited for for ever.
  const auto now = asio::steady_timer::clock_type::now();
  if (!flush_deadline_.has_value()) {
    flush_deadline_ =
        now + absl::ToChronoNanoseconds(options_.flush_timeout *
                                        kFlushLimitTimeouts);
  }
  flush_timer_.expires_at(std::min(
      now + absl::ToChronoNanoseconds(options_.flush_timeout), *flush_deadline_));
  flush_timer_.async_wait([self = shared_from_this()](std::error_code error) {
    // The peer stalled: what it was sent may end inside a frame, so the
    // stream is reset rather than ended.
    if (!error) self->Finish(/*abort=*/true);
  });
}

void FrameConnection::Finish(bool abort) {
  if (finished_) return;
  finished_ = true;
  closing_ = true;
  if (!close_reason_.has_value()) close_reason_ = absl::OkStatus();
  flush_timer_.cancel();
  if (abort) {
    stream_->Abort();
  } else {
    stream_->Close();
  }
  {
    MutexLock lock(&mu_);
    accepting_ = false;
    queue_.clear();
    pending_bytes_ = 0;
  }
  on_frame_ = nullptr;
  on_drained_ = nullptr;
  if (on_close_) {
    asio::post(strand_, [on_close = std::move(on_close_),
                         reason = *close_reason_] { on_close(reason); });
    on_close_ = nullptr;
  }
}

}  // namespace dbgd::protocol
