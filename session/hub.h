// Hub: the shared console of one debugging session (docs/architecture.md,
// docs/protocol.md, docs/sessions.md).
//
// Every client sees every byte the engine prints, in order, through its own
// bounded queue; a client whose queue overflows is told (a DROPPED notice),
// dropped and counted. A client that falls behind holds the console back
// for a bounded time (HoldOutput: the producer pauses, as a slow terminal
// pauses a program that prints), so a client that keeps reading is not
// dropped for being slower than the engine; one that stalls cannot stall
// the engine or the other clients for longer than that.
// A history ring keeps the last `history_bytes` of output for late joiners,
// as frames every joiner's queue shares.
// Input lines from all clients are handed to the InputSink one at a time in
// arrival order, each announced to the *other* clients with a COMMAND notice
// (`identity: line`). Join and leave are announced too.
//
// A client's input is refused to it alone (an INPUT_REFUSED notice saying
// why; nothing reaches the sink or the others) when a line breaks the
// console's rule (protocol::InputProblem: printable UTF-8, at most
// protocol::kMaxInputLineBytes), or when the sink says it cannot take more
// (the engine is not reading its input).
//
// An observer (a client of a read-only server) sees all of that, but its
// lines and breaks are refused: nothing reaches the InputSink or the other
// clients, and the observer alone gets an INPUT_REFUSED notice. The others
// see it join and leave as `identity (observer)`.
//
// Events are wire frames (dbgd.v1.wire.Frame holding Output or Notice),
// shared between clients' queues, so a transport only serializes them.
//
// A ConsoleTap (a session recording) may watch it all: every output chunk
// and notice in the order every client gets them, and every line sent to
// the engine, attributed.
//
// Thread-safety: all methods of Hub and HubClient may be called from any
// thread. Callbacks (InputSink, wake-ups, the membership observer) are called
// without the hub's lock held, except InputSink and the ConsoleTap, which are
// called under it so that lines reach the engine, and the tap sees the
// console, in the order every client does; they must not block or call back
// into the hub.

#ifndef DBGD_SESSION_HUB_H_
#define DBGD_SESSION_HUB_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "dbgd/v1/wire.pb.h"

namespace dbgd::session {

using Frame = v1::wire::Frame;
using FramePtr = std::shared_ptr<const Frame>;

class HubClient;

// InputSink receives what clients send to the engine.
class InputSink {
 public:
  virtual ~InputSink() = default;
  // WriteLine: one line (no line ending) for the engine, from `identity`.
  virtual void WriteLine(const std::string& identity, const std::string& line) = 0;
  // Interrupt: Ctrl+Break from `identity`.
  virtual void Interrupt(const std::string& identity) = 0;
  // RefuseLines says why `lines` (one client input, split into lines)
  // cannot be taken now — e.g. too much input already waits for an engine
  // that does not read — or nullopt; then WriteLine follows for each line.
  // Called under the hub's lock, like WriteLine.
  virtual std::optional<std::string> RefuseLines(
      const std::vector<std::string>& lines) {
    return std::nullopt;
  }
};

// kMaxLeaveReasonBytes bounds the reason a CLIENT_LEFT notice carries.
inline constexpr size_t kMaxLeaveReasonBytes = 256;

// ShownLeaveReason is `reason` as the others are told it in CLIENT_LEFT:
// "left" when empty, else with control characters made visible and cut to
// kMaxLeaveReasonBytes (protocol::VisibleText).
std::string ShownLeaveReason(absl::string_view reason);

// How a client takes part in the shared console.
struct HubClientOptions {
  // An observer sees everything and sends nothing: its input is refused.
  bool observer = false;
  // Where the client connects from (its transport's peer address). A
  // client with an empty identity is named `anonymous@PEER` after it, or
  // `anonymous#N` (N: the hub's client number) without one, so that what
  // it types is always attributed.
  std::string peer;
};

// ConsoleTap watches the whole console: what a client that joined when the
// session began would get (output, and the notices about every client,
// itself included), and what reaches the engine. Its methods are called
// under the hub's lock, in the console's order; they must not block or
// call back into the hub.
class ConsoleTap {
 public:
  virtual ~ConsoleTap() = default;
  // Output: engine output, as every client gets it.
  virtual void Output(absl::string_view bytes) = 0;
  // Notice: a notice the clients get (COMMAND, CLIENT_JOINED, CLIENT_LEFT,
  // and SESSION_ENDED last); not those one client alone gets (DROPPED,
  // CLIENT_PRESENT, INPUT_REFUSED).
  virtual void Notice(const v1::wire::Notice& notice) = 0;
  // Input: one line from `identity` (a client, or Announce's caller) on
  // its way to the engine, after its COMMAND notice. An observer's refused
  // input never reaches the engine, nor the tap.
  virtual void Input(const std::string& identity, absl::string_view line) = 0;
  // Break: Ctrl+Break from `identity`, after its COMMAND notice.
  virtual void Break(const std::string& identity) = 0;
  // Closed: the hub closed; nothing follows.
  virtual void Closed() = 0;
};

// kFrameOverheadBytes is what one queued frame costs in memory beyond its
// payload (output bytes, or a notice's identity and text): the Frame and
// its shared_ptr control block (one allocation), the Notice or Output
// message, the heap strings protobuf keeps a payload in, the queue's slot,
// and the allocator's headers. Measured at 224 bytes for a notice and
// 193 for an output frame on x86-64 with glibc (hub_test checks that it
// covers what a frame really costs); rounded up, so that a client's queue
// limit holds in real bytes even for a flood of empty frames.
inline constexpr size_t kFrameOverheadBytes = 256;

// QueuedFrameBytes is what `frame` counts against its client's queue limit:
// kFrameOverheadBytes plus its payload.
size_t QueuedFrameBytes(const Frame& frame);

struct HubOptions {
  size_t history_bytes = 64 * 1024;
  // A client whose undelivered live frames cost more than this many bytes
  // of memory (QueuedFrameBytes each) is dropped. Its history replay, still
  // queued ahead of them, is not counted: those frames are the history's
  // own, shared by every joiner.
  size_t client_queue_bytes = 4 * 1024 * 1024;
  // Output replayed to a late joiner is sent in frames of at most this size.
  size_t replay_chunk_bytes = 16 * 1024;
  // Back-pressure: a client whose undelivered live frames cost hold_bytes
  // or more holds the console (HoldOutput) until it is down to half of
  // that, or until the producer excuses it for not reading
  // (ExcuseStalledHolders); an excused client holds nothing until it is
  // down to half again. 0: nobody holds.
  size_t hold_bytes = 1024 * 1024;
  // Watches the console from the start; may be null.
  std::shared_ptr<ConsoleTap> tap;
};

// MembershipEvent says who came and went, for an observer that counts the
// hub's membership. The control plane's client events are not made from
// these: the debugging server that admitted a client publishes them, with
// what only it knows (the client's name, peer and server).
struct MembershipEvent {
  enum class Kind { kJoined, kLeft, kDropped };
  Kind kind;
  uint64_t client_id;
  std::string identity;
  std::string reason;  // kDropped / kLeft: why
};

class Hub {
 public:
  // `sink` must outlive the hub.
  Hub(HubOptions options, InputSink* sink);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Attach adds a client (named as HubClientOptions.peer says when
  // `identity` is empty). Its queue starts with a CLIENT_PRESENT notice for
  // each client already attached, the history replay (Output frames with
  // replay=true), then a HISTORY_END notice; the other clients
  // get a CLIENT_JOINED notice. After Close, returns a client whose queue
  // holds only a SESSION_ENDED notice and is closed.
  std::shared_ptr<HubClient> Attach(std::string identity,
                                    HubClientOptions options = {});

  // PublishOutput records engine output in the history and fans it out.
  void PublishOutput(absl::string_view bytes);

  // Announce sends a COMMAND notice (`identity: text`) to every client: used
  // for commands that did not come from a client (the control plane's
  // Execute). The tap sees it as input from `identity` too.
  void Announce(const std::string& identity, const std::string& text);

  // Close ends the session for everyone: a SESSION_ENDED notice carrying
  // `reason`, then every queue closes. Later input is ignored. Idempotent.
  void Close(const std::string& reason);

  // HoldOutput says whether a client is holding the console: one that is
  // hold_bytes or more behind and not excused. If so, the producer should
  // stop publishing, and `resume` runs once (without any lock held, on the
  // thread that lets the last holder go: a consumer's Pop, a leave, a drop,
  // Close) when nobody holds any more. If not, returns false and never runs
  // `resume`. A later call replaces a `resume` that has not run.
  bool HoldOutput(std::function<void()> resume);
  // ExcuseStalledHolders: the producer has waited a while. Every client
  // holding the console that has taken less than `min_progress` bytes of
  // live output since it began to hold, or since the last call, is excused
  // until it has caught up to half of hold_bytes (it is dropped, as ever,
  // if it falls behind by client_queue_bytes). Returns whether anyone
  // still holds; if not, a pending `resume` is discarded (the producer
  // goes on by itself).
  bool ExcuseStalledHolders(size_t min_progress);
  // holding_count: clients holding the console now.
  size_t holding_count() const;

  // SetMembershipObserver installs a callback for joins, leaves and drops.
  void SetMembershipObserver(std::function<void(const MembershipEvent&)> observer);

  size_t client_count() const;
  uint64_t dropped_count() const;  // clients dropped for overflow, ever
  std::string History() const;      // the current history bytes

 private:
  friend class HubClient;
  // Called by HubClient.
  void Input(HubClient& from, std::string line);
  void Break(HubClient& from);
  void Leave(HubClient& from, const std::string& reason);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// HubClient is one attached client: a producer side (Input, Break, Leave)
// and a consumer side (Pop, WaitPop, SetWakeup) for its transport.
class HubClient {
 public:
  ~HubClient();
  HubClient(const HubClient&) = delete;
  HubClient& operator=(const HubClient&) = delete;

  uint64_t id() const { return id_; }
  const std::string& identity() const { return identity_; }
  // observer: attached as an observer, whose input is refused.
  bool observer() const { return observer_; }

  // Input sends one line to the engine (a trailing "\r\n" or "\n" is
  // stripped; embedded newlines split it into several lines). Ignored once
  // the client is closed. An observer's is refused (INPUT_REFUSED), and so
  // is, whole, one with a line that breaks protocol::InputProblem's rule or
  // that the sink refuses.
  void Input(std::string line);
  // Break interrupts the target (Ctrl+Break). An observer's is refused.
  void Break();
  // Leave detaches the client; the others get CLIENT_LEFT with
  // ShownLeaveReason(reason). Idempotent; the destructor leaves too.
  void Leave(const std::string& reason = "left");

  // Pop returns the next frame, or nullptr when none is queued.
  FramePtr Pop();
  // WaitPop waits up to `timeout` for a frame; nullptr on timeout or when
  // the queue is closed and empty.
  FramePtr WaitPop(absl::Duration timeout);
  // closed: no more frames will be queued (left, dropped, or session
  // ended). Frames already queued can still be popped.
  bool closed() const;
  // queued_bytes: what the undelivered frames cost (QueuedFrameBytes each).
  size_t queued_bytes() const;
  // SetWakeup installs a callback run whenever the queue goes from empty to
  // non-empty, or closes. Runs without the hub's lock held.
  void SetWakeup(std::function<void()> wakeup);

 private:
  friend class Hub;
  HubClient(Hub* hub, uint64_t id, std::string identity, bool observer);
  // shown_identity: who the others are told came or went, `identity` or
  // `identity (observer)`.
  std::string shown_identity() const;
  // Popped: what follows taking a frame off the queue (a hold let go); the
  // callback it returns is run by the caller once mu_ is released.
  std::function<void()> Popped() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Hub* const hub_;
  const uint64_t id_;
  const std::string identity_;
  const bool observer_;

  mutable Mutex mu_;
  std::deque<FramePtr> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // The part of queued_bytes_ that is history replay, which the queue's
  // limit does not count.
  size_t replay_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Back-pressure (HubOptions::hold_bytes): holding the console, or
  // excused from holding it until caught up.
  bool holding_ ABSL_GUARDED_BY(mu_) = false;
  bool excused_ ABSL_GUARDED_BY(mu_) = false;
  // Live output taken off the queue, ever, and at the last look at a
  // holder's progress.
  uint64_t taken_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t taken_at_look_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<void()> wakeup_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dbgd::session

#endif  // DBGD_SESSION_HUB_H_
