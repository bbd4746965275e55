// Session: one debugging session — an engine process on a PTY, its target,
// and the hub through which every client shares its console (docs/sessions.md).
//
// Thread-safety: public methods may be called from any thread; the work
// runs on the session's strand. Callbacks run on that strand and must not
// block.

#ifndef DBGD_SESSION_SESSION_H_
#define DBGD_SESSION_SESSION_H_

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/io_context.hpp"
#include "asio/posix/stream_descriptor.hpp"
#include "asio/steady_timer.hpp"
#include "common/mutex.h"
#include "dbgd/v1/control.pb.h"
#include "session/engine.h"
#include "session/hub.h"
#include "session/recorder.h"

namespace dbgd::session {

struct SessionOptions {
  std::string id;            // "1", "2", …
  std::string engine;        // "gdb" (default), "lldb", "command"
  v1::Target target;
  std::string display_name;  // default: derived from the target
  size_t history_bytes = 0;  // 0: 64 KiB
  // Records the console from the start (session/recorder.h); may be null.
  std::shared_ptr<Recorder> recorder;
};

class Session final : public InputSink,
                      public std::enable_shared_from_this<Session> {
 public:
  using Ready = std::function<void(absl::StatusOr<std::shared_ptr<Session>>)>;
  // EventSink receives session, client and command events.
  using EventSink = std::function<void(const v1::Event&)>;

  // Start launches the engine and opens the target. `ready` gets the
  // session once it accepts commands, or the reason it could not start —
  // in which case no process, PTY or descriptor is left behind.
  static void Start(asio::io_context& io, SessionOptions options,
                    EventSink events, Ready ready);

  ~Session() override;

  const std::string& id() const { return options_.id; }
  std::string name() const { return "sessions/" + options_.id; }

  // Describe returns the session's current state as the API shows it.
  v1::Session Describe() const;
  bool ended() const;

  Hub& hub() { return *hub_; }

  // Execute runs one command through the engine's side channel and returns
  // exactly its output. Clients see `identity: command` and the output.
  // INVALID_ARGUMENT for an empty or multi-line command,
  // FAILED_PRECONDITION once the session has ended.
  void Execute(const std::string& identity, const std::string& command,
               absl::Duration timeout,
               std::function<void(absl::StatusOr<ExecuteResult>)> done);

  // Delete ends the session: the engine detaches (or kills the target when
  // `kill_target`; a launched program is always killed) and exits; after a
  // grace period it is killed. `done` runs once the engine is gone.
  void Delete(bool kill_target, std::function<void()> done);

  // InputSink (the hub's clients). Input waiting for the engine is bounded:
  // RefuseLines refuses what would take it past kMaxPendingInputBytes.
  void WriteLine(const std::string& identity, const std::string& line) override;
  void Interrupt(const std::string& identity) override;
  std::optional<std::string> RefuseLines(
      const std::vector<std::string>& lines) override;

  // kMaxPendingInputBytes: how much of the clients' input may wait for an
  // engine that does not read it (each line counts its bytes, its line
  // ending and kInputLineOverhead).
  static constexpr size_t kMaxPendingInputBytes = 1024 * 1024;
  static constexpr size_t kInputLineOverhead = 64;

 private:
  Session(asio::io_context& io, SessionOptions options, EventSink events);

  void Launch(Ready ready);
  void ReadConsole();
  // ReadOn: after a read of `n` bytes into read_buffer_, what else the
  // console holds now, without waiting, up to the buffer's size; the total.
  size_t ReadOn(size_t n);
  // HoldConsole: whether a client holds the console (Hub::HoldOutput); if
  // so, reading resumes when it lets go or after kHoldLimit.
  bool HoldConsole();
  // AwaitHolders: in kHoldLimit, excuse the holders that did not read.
  void AwaitHolders(uint64_t hold);
  void ResumeConsole(uint64_t hold);
  void WatchExit();
  void OnExit(int wait_status);
  // EndOnceDrained ends the session once the engine has exited and the
  // console has been read to its end (or the drain limit has passed).
  void EndOnceDrained();
  void End(const std::string& reason);
  // Notice tells every client `text` on the console, from dbgd.
  void Notice(const std::string& text);
  void Emit(v1::Event::Kind kind, const std::string& message);
  // WriteConsole types `bytes` into the console after what is queued;
  // `input_cost` of pending_input_ is released once they are written (or
  // can never be).
  void WriteConsole(std::string bytes, size_t input_cost);
  void WriteNextConsole();
  void SetState(v1::Session::State state, const std::string& reason = "");

  // Constant after construction.
  const SessionOptions options_;
  const EventSink events_;
  Strand strand_;
  std::unique_ptr<Hub> hub_;
  const absl::Time create_time_;

  // Used on strand_ only.
  std::unique_ptr<Engine> engine_;
  asio::posix::stream_descriptor console_;
  asio::posix::stream_descriptor pidfd_;
  asio::steady_timer kill_timer_;
  asio::steady_timer drain_timer_;
  // Back-pressure: reading the console waits while a client holds it
  // (Hub::HoldOutput), for at most kHoldLimit each time.
  asio::steady_timer hold_timer_;
  bool held_ = false;
  uint64_t holds_ = 0;  // which hold a resume or a timer belongs to
  // What is being written to the console, and what waits behind it (one
  // write at a time, as Asio requires), with their input costs.
  std::string console_writing_;
  size_t console_writing_cost_ = 0;
  std::string console_queued_;
  size_t console_queued_cost_ = 0;
  bool console_busy_ = false;
  std::array<char, 64 * 1024> read_buffer_;
  Ready ready_;               // until start-up succeeds or fails
  absl::Status start_error_;  // why start-up failed, reported after clean-up
  std::vector<std::function<void()>> delete_waiters_;
  // The engine's exit and the console's end are seen separately, in either
  // order: the session ends when it has both (see EndOnceDrained).
  std::optional<std::string> exit_reason_;  // set once the engine exited
  bool console_drained_ = false;            // read to EOF/EIO, or gave up

  // Clients' input taken (RefuseLines, WriteLine: under the hub's lock)
  // and not yet written to the console (released on strand_).
  std::atomic<size_t> pending_input_{0};

  mutable Mutex mu_;
  v1::Session::State state_ ABSL_GUARDED_BY(mu_) = v1::Session::STARTING;
  pid_t pid_ ABSL_GUARDED_BY(mu_) = -1;
  std::string end_reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dbgd::session

#endif  // DBGD_SESSION_SESSION_H_
