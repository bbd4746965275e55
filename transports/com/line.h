// Line: one open serial line, shared by every com server and client of this
// process on it, and the link layer that turns its packets into Streams
// (docs/protocol.md §2 and §2.1).
//
// A serial line has no connections, so the line makes them: each channel
// (0–254) carries at most one client session at a time, and
//   - a session begins when a client opens the channel (an OPEN control
//     packet) or, if that packet was lost, with the first data packet on a
//     channel that has none;
//   - it ends when either side closes it (a CLOSE control packet), when the
//     client opens the channel anew (a client that restarted takes its
//     channel back), or after `idle_timeout` without a packet from the
//     peer. Each side sends a KEEPALIVE after a third of that without
//     traffic of its own, so only a vanished peer goes silent that long.
// A Stream on a channel carries the stream framing (length ‖ body): each
// whole frame written is sent as one packet, and each good packet received
// is read as one frame. Damaged packets are dropped and counted per line.
//
// Lines are opened through the Lines registry of a TransportContext, so the
// servers and clients of one process share one descriptor per device: one
// reader, one writer, packets routed by channel. The line closes with its
// last listener, connector and stream.
//
// Thread-safety: every member may be called from any thread; Line's state
// is guarded by one mutex and user handlers are posted to the event loop.

#ifndef DBGD_TRANSPORTS_COM_LINE_H_
#define DBGD_TRANSPORTS_COM_LINE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/any_io_executor.hpp"
#include "asio/posix/stream_descriptor.hpp"
#include "asio/steady_timer.hpp"
#include "common/mutex.h"
#include "transports/com/packet.h"
#include "transports/transport.h"
#include "transports/transport_ops.h"

namespace dbgd::transports::com {

// ControlOp: the first body byte of a packet on kControlChannel; the second
// is the channel it concerns.
enum class ControlOp : uint8_t { kOpen = 1, kClose = 2, kKeepalive = 3 };

class Line final : public std::enable_shared_from_this<Line> {
 public:
  // Ref is one use of a line (a listener, a connector, a stream): the line
  // stays open while a Ref exists and closes its device the moment the
  // last one goes, so the device is free again at once.
  class Ref {
   public:
    Ref() = default;
    Ref(Ref&& other) noexcept = default;
    Ref& operator=(Ref&& other) noexcept;
    ~Ref() { Reset(); }

    Line* operator->() const { return line_.get(); }
    Line& operator*() const { return *line_; }
    void Reset();

   private:
    friend class Line;
    explicit Ref(std::shared_ptr<Line> line) : line_(std::move(line)) {}
    std::shared_ptr<Line> line_;
  };

  // Open opens `device` at `baud` (tty.h's OpenLine: the allow-list, raw
  // 8N1, exclusive) and starts reading.
  static absl::StatusOr<Ref> Open(asio::any_io_executor io,
                                  const std::string& device, uint32_t baud,
                                  const std::vector<std::string>& allow,
                                  absl::Duration idle_timeout);
  ~Line();

  // TryUse returns another use of the line, or nullopt once it has closed.
  std::optional<Ref> TryUse() ABSL_LOCKS_EXCLUDED(mu_);
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;

  const std::string& device() const { return device_; }
  // requested_baud: what the line was opened with; baud: what the tty holds.
  uint32_t requested_baud() const { return requested_baud_; }
  uint32_t baud() const { return baud_; }
  // damaged_packets: pieces of line traffic dropped as damaged so far.
  uint64_t damaged_packets() const { return damaged_.load(); }

  // Serve claims `channel` for a server. ALREADY_EXISTS when a server or
  // client of this process has it.
  absl::Status Serve(uint8_t channel);
  // AcceptOn completes `handler` on `executor` with the next session on a
  // served channel (one accept at a time), or CANCELLED after StopServing,
  // or UNAVAILABLE once the line has failed.
  void AcceptOn(uint8_t channel, StreamHandler handler,
                asio::any_io_executor executor);
  // StopServing gives up the channel; a session in progress goes on.
  void StopServing(uint8_t channel);

  // Join opens `channel` as a client: sends OPEN and returns the session's
  // stream. ALREADY_EXISTS when this process already uses the channel.
  absl::StatusOr<std::unique_ptr<Stream>> Join(uint8_t channel);

 private:
  struct Link;
  struct ChannelEnd;
  struct Outgoing {
    std::string bytes;
    // Run once the bytes are on the line (or could not be).
    std::function<void(std::error_code)> done;
  };
  class LineStream;

  Line(asio::any_io_executor io, int fd, std::string device,
       uint32_t requested_baud, uint32_t baud, absl::Duration idle_timeout);

  Ref UseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release() ABSL_LOCKS_EXCLUDED(mu_);
  // Shutdown closes the device and cancels what is pending.
  void Shutdown() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void StartRead() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnRead(std::error_code error, size_t bytes) ABSL_LOCKS_EXCLUDED(mu_);
  void Route(const Packet& packet) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Control(ControlOp op, uint8_t channel) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Begin starts a session on a served channel and offers it for accept.
  void Begin(uint8_t channel, ChannelEnd& end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // EndSession ends the channel's session from the far side (`why`: eof,
  // or the line's error); the stream reads what was received, then `why`.
  void EndSession(ChannelEnd& end, std::error_code why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tidy forgets a channel nobody serves or uses any more.
  void Tidy(uint8_t channel) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Fail(std::error_code error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // FailedStatus: what a line that failed answers. REQUIRES: failed_.
  absl::Status FailedStatus() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // AcceptFailedStatus: the same, as ABORTED, for a pending or later accept.
  absl::Status AcceptFailedStatus() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void SendControl(ControlOp op, uint8_t channel) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Send(Outgoing outgoing) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnWritten(std::error_code error) ABSL_LOCKS_EXCLUDED(mu_);
  void Tick() ABSL_LOCKS_EXCLUDED(mu_);
  void StartTicker() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // What a LineStream asks of its link.
  void Read(const std::shared_ptr<Link>& link, asio::mutable_buffer buffer,
            IoHandler handler) ABSL_LOCKS_EXCLUDED(mu_);
  void Write(const std::shared_ptr<Link>& link, asio::const_buffer buffer,
             IoHandler handler) ABSL_LOCKS_EXCLUDED(mu_);
  void Close(const std::shared_ptr<Link>& link) ABSL_LOCKS_EXCLUDED(mu_);
  // FinishRead completes the link's pending read if it can.
  void FinishRead(Link& link) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::unique_ptr<Stream> MakeStream(std::shared_ptr<Link> link);

  const asio::any_io_executor io_;
  const std::string device_;
  const uint32_t requested_baud_;
  const uint32_t baud_;
  const absl::Duration idle_timeout_;
  const absl::Duration keepalive_;
  std::atomic<uint64_t> damaged_{0};

  Mutex mu_;
  int users_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  asio::posix::stream_descriptor port_ ABSL_GUARDED_BY(mu_);
  asio::steady_timer ticker_ ABSL_GUARDED_BY(mu_);
  bool ticking_ ABSL_GUARDED_BY(mu_) = false;
  PacketReader reader_ ABSL_GUARDED_BY(mu_);
  // The read's buffer, shared with the read in flight.
  const std::shared_ptr<std::vector<char>> read_buffer_;
  std::map<uint8_t, ChannelEnd> ends_ ABSL_GUARDED_BY(mu_);
  std::deque<Outgoing> queue_ ABSL_GUARDED_BY(mu_);  // front: being written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  std::error_code failed_ ABSL_GUARDED_BY(mu_);
};

// Lines is a TransportContext's registry of open lines (Shared<Lines>()):
// one Line per device, opened on first use, closed with its last user.
class Lines {
 public:
  explicit Lines(TransportContext& context);

  // Get returns the open line for `device`, or opens it. A line already
  // open at another rate is INVALID_ARGUMENT naming baud: the channels of
  // one line share its rate.
  absl::StatusOr<Line::Ref> Get(const std::string& device, uint32_t baud);

 private:
  TransportContext& context_;
  Mutex mu_;
  std::map<std::string, std::weak_ptr<Line>> lines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dbgd::transports::com

#endif  // DBGD_TRANSPORTS_COM_LINE_H_
