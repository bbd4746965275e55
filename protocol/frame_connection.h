// FrameConnection: the remote protocol's frames over one transports::Stream.
//
// It reads Frames through the link's FrameCodec (frame_codec.h: the
// transport decides, e.g. length-prefixed on streams) and hands them, in order,
// to a frame handler; it queues outgoing frames and writes them one write at
// a time; and it reports exactly once, to a close handler, why the
// connection ended:
//   - OK: the peer ended the stream at a frame boundary, or Close was called;
//   - INVALID_ARGUMENT: the peer sent an oversized ("frame of N bytes exceeds
//     the 1 MiB limit") or unparsable frame; the peer is sent a Bye naming
//     the reason (best effort) and dropped;
//   - UNAVAILABLE: the peer vanished mid-frame ("peer vanished mid-frame"),
//     or reading or writing failed (the message names the I/O error).
//
// Threading: the connection runs on a strand of the stream's executor
// (executor()); handlers are called there, never from inside a public
// method, one at a time. Every public method is thread-safe. Send and Close
// may be called from any thread (the session hub wakes writers from its
// own); Start, SetFrameHandler and SetCloseHandler take effect at once when
// called on executor() (e.g. from inside a handler), else as soon as the
// strand runs them.
//
// Flow control: while no frame handler is set (nullptr), frames are held
// and the stream is not read, so a frame is never lost between two phases
// (the handshake pauses the connection before reporting success; the next
// owner resumes it with SetFrameHandler). pending_bytes() tells a producer
// how much is queued for writing (in memory: each frame counts its bytes
// plus kQueuedFrameOverheadBytes), and OnDrained when to produce again.
// DiscardQueued lets a producer take back what has not been handed to the
// stream yet, so that a frame sent next goes out right after the write in
// flight (a client dropped for falling behind gets its notice first).
//
// Frames are written whole: what the stream is given is always whole
// frames, and a write in flight is only ever cut short when the connection
// gives up on a peer that does not read (Close(/*flush=*/false), or the
// flush timeout).
//
// Lifetime: Create returns a shared_ptr; every pending operation holds one,
// so the connection lives until it is closed and its operations finish.
// Handlers are released when the connection closes, which breaks cycles
// through handlers that capture the connection.

#ifndef DBGD_PROTOCOL_FRAME_CONNECTION_H_
#define DBGD_PROTOCOL_FRAME_CONNECTION_H_

#include <array>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "asio/any_io_executor.hpp"
#include "asio/steady_timer.hpp"
#include "asio/strand.hpp"
#include "common/mutex.h"
#include "protocol/frame_codec.h"
#include "transports/transport.h"

namespace dbgd::protocol {

struct FrameConnectionOptions {
  // Close(/*flush=*/true) gives up on writing the queued frames when the
  // peer takes none of their bytes for this long (a peer that stopped
  // reading): the time runs from the close and again from every write that
  // makes progress, and the flush ends after 12 such timeouts in all even
  // so (a peer trickling a byte now and then). Giving up aborts the stream
  // (Stream::Abort): over TCP the peer sees the connection reset, not a
  // stream ending inside a frame.
  absl::Duration flush_timeout = absl::Seconds(5);
};

// kQueuedFrameOverheadBytes is what a queued frame costs beyond its encoded
// bytes (its string and queue slot, the allocator's header): pending_bytes
// counts it, so a producer keeping pending_bytes under a bound keeps the
// queue's memory under it too, however small the frames.
inline constexpr size_t kQueuedFrameOverheadBytes = 64;

class FrameConnection : public std::enable_shared_from_this<FrameConnection> {
 public:
  // FrameHandler receives each frame read, in order.
  using FrameHandler = std::function<void(Frame frame)>;
  // CloseHandler receives why the connection ended (see above).
  using CloseHandler = std::function<void(absl::Status status)>;

  // Create wraps `stream`, framed by `codec`; the connection owns both from
  // now on. Nothing is read until Start.
  // REQUIRES: stream != nullptr, codec != nullptr.
  static std::shared_ptr<FrameConnection> Create(
      std::unique_ptr<transports::Stream> stream,
      std::unique_ptr<FrameCodec> codec, FrameConnectionOptions options = {});

  ~FrameConnection();
  FrameConnection(const FrameConnection&) = delete;
  FrameConnection& operator=(const FrameConnection&) = delete;

  // Start installs the handlers and begins reading. `on_frame` may be
  // nullptr (paused until SetFrameHandler). If the connection has already
  // closed, `on_close` is called with the reason. Call once.
  void Start(FrameHandler on_frame, CloseHandler on_close);

  // SetFrameHandler replaces the frame handler; nullptr pauses reading and
  // holds any frames already received for the next handler. Frames received
  // after a handler returns go to the handler current at that time. Ignored
  // once the connection is closing.
  void SetFrameHandler(FrameHandler on_frame);

  // SetCloseHandler replaces the close handler (the previous one is not
  // called). If the connection has already closed, `on_close` is called
  // with the reason.
  void SetCloseHandler(CloseHandler on_close);

  // Send queues `frame` for writing and returns OK; INVALID_ARGUMENT when
  // it exceeds kMaxFrameBytes; FAILED_PRECONDITION once the connection is
  // closing or closed. Frames sent from one thread are written in order.
  absl::Status Send(const Frame& frame);

  // Close ends the connection: no more frames are delivered and Send is
  // refused from now on. With `flush`, frames already queued are written
  // first (unless the peer stops taking bytes for
  // FrameConnectionOptions::flush_timeout). The close
  // handler then receives OK, unless the connection had already failed.
  // Idempotent.
  void Close(bool flush);

  // OnDrained calls `callback` once, on executor(), as soon as fewer than
  // `below` bytes are pending (at once if that is already so), replacing a
  // callback set before. Never called once the connection has closed.
  void OnDrained(size_t below, std::function<void()> callback);

  // pending_bytes: what is queued or being written, each frame counted as
  // its encoded size plus kQueuedFrameOverheadBytes.
  size_t pending_bytes() const ABSL_LOCKS_EXCLUDED(mu_);

  // DiscardQueued drops the frames queued but not yet handed to the stream
  // and returns how many; the write in flight, if any, completes (whole
  // frames only). Thread-safe.
  size_t DiscardQueued() ABSL_LOCKS_EXCLUDED(mu_);

  // closed: Send is refused (Close was called or the connection ended).
  bool closed() const ABSL_LOCKS_EXCLUDED(mu_);

  // peer and source as transports::Stream reports them.
  const std::string& peer() const { return peer_; }
  const std::string& source() const { return source_; }

  // executor: the strand every handler runs on; timers that must be
  // serialized with the handlers use it.
  asio::any_io_executor executor() const { return strand_; }

 private:
  FrameConnection(std::unique_ptr<transports::Stream> stream,
                  std::unique_ptr<FrameCodec> codec,
                  FrameConnectionOptions options);

  // All of the below run on strand_.
  void DoStart(FrameHandler on_frame, CloseHandler on_close);
  void DoSetFrameHandler(FrameHandler on_frame);
  void DoSetCloseHandler(CloseHandler on_close);
  void ReadMore();
  void OnRead(std::error_code error, size_t bytes);
  void Deliver();
  void WriteNext();
  // WriteRest writes what the stream has not yet taken of write_buffer_.
  void WriteRest();
  void OnWritten(std::error_code error, size_t bytes);
  // ArmFlushTimer (re)starts the flush timeout of a closing connection.
  void ArmFlushTimer();
  // CheckDrained runs the drain callback if its threshold is met.
  void CheckDrained();
  // BeginClose records `reason` (unless one was recorded first) and closes,
  // after writing what is queued when `flush`.
  void BeginClose(absl::Status reason, bool flush);
  // Finish closes the stream (aborts it with `abort`) and reports the close
  // reason.
  void Finish(bool abort = false);

  // Constant after construction.
  const std::unique_ptr<transports::Stream> stream_;
  // Encode is used from any thread (Send); decoding on strand_ only.
  const std::unique_ptr<FrameCodec> codec_;
  const asio::strand<asio::any_io_executor> strand_;
  const FrameConnectionOptions options_;
  const std::string peer_;
  const std::string source_;

  // State below is used on strand_ only.
  asio::steady_timer flush_timer_;
  // When a closing connection's flush ends at the latest.
  std::optional<asio::steady_timer::time_point> flush_deadline_;
  std::array<char, 64 * 1024> read_buffer_;
  std::string write_buffer_;  // the write in flight
  size_t write_offset_ = 0;   // how much of it the stream has taken
  size_t write_cost_ = 0;     // its frames' share of pending_bytes_
  // Shared so that a handler replacing itself is not destroyed mid-call.
  std::shared_ptr<const FrameHandler> on_frame_;
  CloseHandler on_close_;
  std::function<void()> on_drained_;
  size_t drained_below_ = 0;
  std::optional<absl::Status> close_reason_;
  bool started_ = false;
  bool reading_ = false;
  bool delivering_ = false;
  bool closing_ = false;   // no more frames delivered
  bool finished_ = false;  // stream closed, close reason reported

  // State below is protected by mu_ (Send and pending_bytes are called from
  // any thread).
  mutable Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);  // encoded frames
  size_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;  // Send allowed
  // A WriteNext is posted or a write is in flight.
  bool write_scheduled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dbgd::protocol

#endif  // DBGD_PROTOCOL_FRAME_CONNECTION_H_
