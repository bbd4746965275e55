#include "session/session.h"

#include <signal.h>
#include <sys/wait.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "asio/post.hpp"
#include "asio/write.hpp"
#include "common/proto_time.h"
#include "common/reaper.h"
#include "protocol/console_text.h"
#include "session/pty.h"

namespace dbgd::session {
namespace {

constexpr size_t kDefaultHistoryBytes = 64 * 1024;
// After the engine was asked to leave, how long before it is killed.
constexpr absl::Duration kStopGrace = absl::Seconds(5);
// After the engine exited, how long the console may take to reach its end.
// The end comes when the last holder of the PTY's slave is gone, which is
// at once when the engine's group is killed; only a process that left the
// group (setsid) with the terminal still open can delay it, and the session
// does not wait for that one longer than this.
constexpr absl::Duration kDrainLimit = absl::Seconds(2);
// Back-pressure (HubOptions::hold_bytes): a client that fell behind holds
// the console back while it takes at least kHoldProgress bytes in every
// kHoldLimit; one that takes less is excused, and dropped if it falls
// further behind.
constexpr absl::Duration kHoldLimit = absl::Seconds(1);
constexpr size_t kHoldProgress = 64 * 1024;
// A read of at least this much suggests the console holds more: the
// terminal hands its output over about 4 KiB at a time.
constexpr size_t kReadOnBytes = 4000;

// InputCost is what a line of a client's input counts against
// kMaxPendingInputBytes.
size_t InputCost(const std::string& line) {
  return line.size() + 1 + Session::kInputLineOverhead;
}

std::string DescribeExit(const std::string& engine, int wait_status) {
  if (WIFEXITED(wait_status)) {
    return absl::StrCat(engine, " exited with status ", WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    return absl::StrCat(engine, " was killed by signal ", WTERMSIG(wait_status),
                        " (", strsignal(WTERMSIG(wait_status)), ")");
  }
  return absl::StrCat(engine, " ended (wait status ", wait_status, ")");
}

std::string DefaultDisplayName(const v1::Target& target) {
  switch (target.kind_case()) {
    case v1::Target::kLaunch:
      return target.launch().program();
    case v1::Target::kAttach:
      return absl::StrCat("pid ", target.attach().pid());
    case v1::Target::kCrashDump:
      return absl::StrCat("core ", target.crash_dump().core_file());
    case v1::Target::kRemote:
      return absl::StrCat("remote ", target.remote().address());
    case v1::Target::KIND_NOT_SET:
      break;
  }
  return "session";
}

}  // namespace

void Session::Start(asio::io_context& io, SessionOptions options,
                    EventSink events, Ready ready) {
  std::shared_ptr<Session> session(
      new Session(io, std::move(options), std::move(events)));
  asio::post(session->strand_, [session, ready = std::move(ready)]() mutable {
    session->Launch(std::move(ready));
  });
}

Session::Session(asio::io_context& io, SessionOptions options,
                 EventSink events)
    : options_(std::move(options)),
      events_(std::move(events)),
      strand_(asio::make_strand(io)),
      create_time_(absl::Now()),
      console_(strand_),
      pidfd_(strand_),
      kill_timer_(strand_),
      drain_timer_(strand_),
      hold_timer_(strand_) {
  HubOptions hub_options;
  hub_options.history_bytes = options_.history_bytes > 0
                                  ? options_.history_bytes
                                  : kDefaultHistoryBytes;
  hub_options.tap = options_.recorder;
  // Clients' connects and disconnects are published by the debugging
  // server that admitted them, which knows their names and peers.
  hub_ = std::make_unique<Hub>(hub_options, this);
}

Session::~Session() = default;

void Session::Launch(Ready ready) {
  ready_ = std::move(ready);
  auto fail = [this](const absl::Status& status) {
    SetState(v1::Session::FAILED, std::string(status.message()));
    Ready ready = std::move(ready_);
    ready_ = nullptr;
    ready(status);
  };

  absl::StatusOr<std::unique_ptr<Engine>> engine =
      MakeEngine(options_.engine, strand_);
  if (!engine.ok()) return fail(engine.status());
  engine_ = *std::move(engine);

  absl::StatusOr<SpawnOptions> spawn = engine_->Prepare(options_.target);
  if (!spawn.ok()) return fail(spawn.status());
  // Clients are terminals of every kind, and scripts: plain output.
  spawn->env.emplace_back("TERM", "dumb");

  // An echoing terminal: a line editor (readline, libedit) echoes only
  // when the terminal does (docs/protocol.md §6.2.1).
  absl::StatusOr<PtyPair> pty = OpenPty(PtyMode::kTerminal);
  if (!pty.ok()) return fail(pty.status());
  absl::StatusOr<SpawnedProcess> process = SpawnOnPty(*spawn, pty->slave.get());
  if (!process.ok()) return fail(process.status());
  pty->slave.reset();  // the engine holds it now; EOF when it is gone
  {
    MutexLock lock(&mu_);
    pid_ = process->pid;
  }
  console_.assign(pty->master.release());
  pidfd_.assign(process->pidfd.release());
  std::weak_ptr<Session> weak = weak_from_this();
  engine_->SetConsole(
      [this](std::string bytes) { WriteConsole(std::move(bytes), 0); });
  engine_->SetNotice([this](const std::string& text) { Notice(text); });
  ReadConsole();
  WatchExit();

  engine_->Start(process->pid, weak, [this](absl::Status status) {
    if (ready_ == nullptr) return;
    if (status.ok()) {
      SetState(v1::Session::READY);
      Emit(v1::Event::SESSION_CREATED, "session ready");
      Ready ready = std::move(ready_);
      ready_ = nullptr;
      ready(shared_from_this());
      return;
    }
    // Report only once the engine is gone, so nothing is left behind.
    start_error_ = status;
    pid_t pid;
    {
      MutexLock lock(&mu_);
      pid = pid_;
    }
    ::kill(-pid, SIGKILL);
  });
}

void Session::ReadConsole() {
  auto self = shared_from_this();
  console_.async_read_some(asio::buffer(read_buffer_),
                           [this, self](std::error_code error, size_t n) {
                             if (error) {
                               // EIO (or EOF): every holder of the slave is
                               // gone and the kernel has handed over all it
                               // buffered. The engine's exit may have been
                               // seen first, with this output still unread.
                               console_drained_ = true;
                               EndOnceDrained();
                               return;
                             }
                             n = ReadOn(n);
                             const absl::string_view bytes(read_buffer_.data(), n);
                             engine_->OnConsoleOutput(bytes);
                             hub_->PublishOutput(bytes);
                             if (!HoldConsole()) ReadConsole();
                           });
}

size_t Session::ReadOn(size_t n) {
  if (n < kReadOnBytes) return n;
  // Output comes faster than one read at a time takes it: publishing it
  // in larger pieces costs every client fewer frames and wake-ups.
  std::error_code error;
  console_.non_blocking(true, error);
  while (!error && n < read_buffer_.size()) {
    const size_t more = console_.read_some(
        asio::buffer(read_buffer_.data() + n, read_buffer_.size() - n), error);
    n += more;
    if (more < kReadOnBytes) break;
  }
  // An error (would_block, or the end the next async read will see) ends
  // it; what was read is kept.
  return n;
}

bool Session::HoldConsole() {
  const uint64_t hold = ++holds_;
  std::weak_ptr<Session> weak = weak_from_this();
  const bool held = hub_->HoldOutput([weak, hold] {
    if (std::shared_ptr<Session> self = weak.lock()) {
      asio::post(self->strand_, [self, hold] { self->ResumeConsole(hold); });
    }
  });
  if (!held) return false;
  held_ = true;
  AwaitHolders(hold);
  return true;
}

void Session::AwaitHolders(uint64_t hold) {
  hold_timer_.expires_after(absl::ToChronoNanoseconds(kHoldLimit));
  hold_timer_.async_wait(
      [this, self = shared_from_this(), hold](std::error_code error) {
        if (error || !held_ || hold != holds_) return;
        // Who has not been reading is excused (and dropped if it falls
        // further behind); who has been sets the pace.
        if (hub_->ExcuseStalledHolders(kHoldProgress)) {
          AwaitHolders(hold);
        } else {
          ResumeConsole(hold);
        }
      });
}

void Session::ResumeConsole(uint64_t hold) {
  if (!held_ || hold != holds_) return;  // resumed already
  held_ = false;
  hold_timer_.cancel();
  if (console_.is_open()) ReadConsole();
}

void Session::WatchExit() {
  auto self = shared_from_this();
  pidfd_.async_wait(asio::posix::stream_descriptor::wait_read,
                    [this, self](std::error_code error) {
                      if (error) return;
                      pid_t pid;
                      {
                        MutexLock lock(&mu_);
                        pid = pid_;
                      }
                      int status = 0;
                      if (::waitpid(pid, &status, WNOHANG) == pid) {
                        Disown(pid);  // SpawnOnPty made it owned
                        OnExit(status);
                      } else {
                        WatchExit();
                      }
                    });
}

void Session::OnExit(int wait_status) {
  exit_reason_ =
      DescribeExit(engine_ ? engine_->name() : options_.engine, wait_status);
  kill_timer_.cancel();
  pid_t pid;
  {
    MutexLock lock(&mu_);
    pid = pid_;
  }
  // Nothing of the session may outlive it: the engine's process group, and
  // a launched program (it has a group of its own). Once they are gone, so
  // are their copies of the console's slave, and the console reaches its
  // end: what they printed stays readable until then.
  ::kill(-pid, SIGKILL);
  if (engine_ != nullptr) engine_->KillLaunchedInferiors();
  if (!console_drained_) {
    drain_timer_.expires_after(absl::ToChronoNanoseconds(kDrainLimit));
    drain_timer_.async_wait(
        [this, self = shared_from_this()](std::error_code error) {
          if (error) return;
          console_drained_ = true;  // what is still unread is dropped
          EndOnceDrained();
        });
  }
  EndOnceDrained();
}

void Session::EndOnceDrained() {
  if (!exit_reason_.has_value() || !console_drained_ || ended()) return;
  End(*exit_reason_);
}

void Session::End(const std::string& reason) {
  if (engine_ != nullptr) engine_->Shutdown();
  drain_timer_.cancel();
  hold_timer_.cancel();
  held_ = false;
  std::error_code ignored;
  console_.close(ignored);
  pidfd_.close(ignored);

  if (ready_ != nullptr) {
    absl::Status error =
        start_error_.ok()
            ? absl::FailedPreconditionError(
                  absl::StrCat("the engine ended during start-up: ", reason))
            : start_error_;
    SetState(v1::Session::FAILED, std::string(error.message()));
    hub_->Close(std::string(error.message()));
    Ready ready = std::move(ready_);
    ready_ = nullptr;
    ready(error);
  } else {
    SetState(v1::Session::ENDED, reason);
    hub_->Close(reason);
    Emit(v1::Event::SESSION_ENDED, reason);
  }
  for (auto& waiter : std::exchange(delete_waiters_, {})) waiter();
}

v1::Session Session::Describe() const {
  v1::Session session;
  session.set_name(name());
  session.set_id(options_.id);
  session.set_engine(options_.engine.empty() ? "gdb" : options_.engine);
  *session.mutable_target() = options_.target;
  session.set_display_name(options_.display_name.empty()
                               ? DefaultDisplayName(options_.target)
                               : options_.display_name);
  *session.mutable_create_time() = ToProtoTime(create_time_);
  session.set_client_count(static_cast<int32_t>(hub_->client_count()));
  session.set_history_bytes(options_.history_bytes > 0 ? options_.history_bytes
                                                        : kDefaultHistoryBytes);
  session.set_mode(options_.target.kind_case() == v1::Target::kRemote
                       ? v1::Session::KERNEL
                       : v1::Session::USER);
  session.set_live(options_.target.kind_case() != v1::Target::kCrashDump);
  if (options_.recorder != nullptr) {
    const Recorder::Stats recording = options_.recorder->stats();
    session.set_recording(true);
    session.set_recording_bytes(static_cast<int64_t>(recording.written_bytes));
    session.set_recording_truncated(recording.truncated);
  }
  MutexLock lock(&mu_);
  session.set_state(state_);
  session.set_engine_pid(pid_);
  session.set_end_reason(end_reason_);
  return session;
}

bool Session::ended() const {
  MutexLock lock(&mu_);
  return state_ == v1::Session::ENDED || state_ == v1::Session::FAILED;
}

void Session::Execute(const std::string& identity, const std::string& command,
                      absl::Duration timeout,
                      std::function<void(absl::StatusOr<ExecuteResult>)> done) {
  if (command.empty() || command.find_first_of("\r\n") != std::string::npos) {
    done(absl::InvalidArgumentError(
        "command: must be one non-empty line"));
    return;
  }
  // What a client may type, and for the same reason: every client sees it.
  if (std::optional<std::string> problem = protocol::InputProblem(command)) {
    done(absl::InvalidArgumentError(absl::StrCat("command: ", *problem)));
    return;
  }
  asio::post(strand_, [this, self = shared_from_this(), identity, command,
                       timeout, done = std::move(done)]() mutable {
    if (ended() || exit_reason_.has_value()) {
      MutexLock lock(&mu_);
      done(absl::FailedPreconditionError(absl::StrCat(
          "session ", options_.id, " has ended: ",
          exit_reason_.value_or(end_reason_))));
      return;
    }
    hub_->Announce(identity, command);
    Emit(v1::Event::COMMAND, absl::StrCat(identity, ": ", command));
    // The engine (which the session owns) keeps this callback until the
    // command completes: a weak reference, or a loop stopped mid-command
    // leaves a cycle.
    engine_->Execute(
        command, timeout,
        [this, weak = weak_from_this(),
         done = std::move(done)](absl::StatusOr<ExecuteResult> result) {
          std::shared_ptr<Session> alive = weak.lock();
          if (alive != nullptr && result.ok() && !result->unseen_output.empty()) {
            // The console is a terminal: its lines end in "\r\n".
            hub_->PublishOutput(
                absl::StrReplaceAll(result->unseen_output, {{"\n", "\r\n"}}));
          }
          done(std::move(result));
        });
  });
}

void Session::Delete(bool kill_target, std::function<void()> done) {
  asio::post(strand_, [this, self = shared_from_this(), kill_target,
                       done = std::move(done)]() mutable {
    if (ended()) {
      done();
      return;
    }
    delete_waiters_.push_back(std::move(done));
    // Already on its way out: asked before, or the engine has exited and
    // only its last output is still being read.
    if (delete_waiters_.size() > 1 || exit_reason_.has_value()) return;
    // Weak for the same reason as in Execute: the engine keeps it.
    engine_->Stop(kill_target, [this, weak = weak_from_this()] {
      std::shared_ptr<Session> self = weak.lock();
      if (self == nullptr) return;
      kill_timer_.expires_after(absl::ToChronoNanoseconds(kStopGrace));
      kill_timer_.async_wait([this, self](std::error_code error) {
        // Once the engine has exited its group is gone (killed at the exit).
        if (error || exit_reason_.has_value()) return;
        pid_t pid;
        {
          MutexLock lock(&mu_);
          pid = pid_;
        }
        ::kill(-pid, SIGKILL);
      });
    });
  });
}

std::optional<std::string> Session::RefuseLines(
    const std::vector<std::string>& lines) {
  size_t cost = 0;
  for (const std::string& line : lines) cost += InputCost(line);
  // Only WriteLine, under the same lock, adds to it: what is checked here
  // can only have shrunk when the lines are taken.
  const size_t pending = pending_input_.load();
  if (pending + cost <= kMaxPendingInputBytes) return std::nullopt;
  if (cost > kMaxPendingInputBytes) {
    return absl::StrCat("an input of ", cost,
                        " bytes is more than the debugger's input queue takes (",
                        kMaxPendingInputBytes, ")");
  }
  return absl::StrCat("the debugger is not reading its input (", pending,
                      " bytes wait for it; the limit is ",
                      kMaxPendingInputBytes, ")");
}

void Session::WriteLine(const std::string& identity, const std::string& line) {
  // Called under the hub's lock: only queue the work. Its cost is released
  // once it is written, or dropped.
  const size_t cost = InputCost(line);
  pending_input_ += cost;
  asio::post(strand_, [this, self = shared_from_this(), identity, line, cost] {
    if (exit_reason_.has_value() || !console_.is_open()) {
      pending_input_ -= cost;
      return;
    }
    Emit(v1::Event::COMMAND, absl::StrCat(identity, ": ", line));
    // Only the engine's own lines are judged: while a program it runs owns
    // the terminal, what clients type is that program's input. (Asked in
    // that order, a line the engine would take costs no system call.)
    if (std::optional<std::string> refused = engine_->RefuseLine(line)) {
      pid_t engine;
      {
        MutexLock lock(&mu_);
        engine = pid_;
      }
      if (ForegroundProcessGroup(console_.native_handle()) == engine) {
        pending_input_ -= cost;
        Notice(absl::StrCat("refused \"", line, "\": ", *refused));
        return;
      }
    }
    WriteConsole(line + "\r", cost);  // what the Enter key sends
  });
}

void Session::Interrupt(const std::string& identity) {
  asio::post(strand_, [this, self = shared_from_this(), identity] {
    if (exit_reason_.has_value() || !console_.is_open()) return;
    Emit(v1::Event::COMMAND, absl::StrCat(identity, ": <Break>"));
    // Ctrl+Break. A target that owns the terminal gets SIGINT as from
    // Ctrl+C; one resumed from the side channel runs in the background, so
    // the engine is asked to stop it; otherwise the engine at its prompt
    // gets the SIGINT (it cancels the line being typed).
    const pid_t group = ForegroundProcessGroup(console_.native_handle());
    pid_t engine;
    {
      MutexLock lock(&mu_);
      engine = pid_;
    }
    if (group > 0 && group != engine) {
      ::kill(-group, SIGINT);
    } else if (!engine_->InterruptTarget()) {
      if (group > 0) {
        ::kill(-group, SIGINT);
      } else if (!absl::EndsWith(console_queued_, "\x03")) {
        // One Ctrl+C waiting is as good as many.
        WriteConsole("\x03", 0);
      }
    }
  });
}

void Session::WriteConsole(std::string bytes, size_t input_cost) {
  console_queued_ += bytes;
  console_queued_cost_ += input_cost;
  if (!console_busy_) WriteNextConsole();
}

void Session::WriteNextConsole() {
  if (console_queued_.empty() || !console_.is_open()) {
    pending_input_ -= console_queued_cost_;
    console_queued_cost_ = 0;
    console_queued_.clear();
    console_busy_ = false;
    return;
  }
  console_busy_ = true;
  console_writing_.swap(console_queued_);
  console_queued_.clear();
  console_writing_cost_ = console_queued_cost_;
  console_queued_cost_ = 0;
  asio::async_write(
      console_, asio::buffer(console_writing_),
      [this, self = shared_from_this()](std::error_code error, size_t) {
        pending_input_ -= console_writing_cost_;
        console_writing_cost_ = 0;
        std::string().swap(console_writing_);  // its memory too
        if (error) {
          // The engine is gone (its exit is handled by WatchExit), or the
          // console closed: nothing more will be written.
          pending_input_ -= console_queued_cost_;
          console_queued_cost_ = 0;
          console_queued_.clear();
          console_busy_ = false;
          return;
        }
        WriteNextConsole();
      });
}

void Session::Notice(const std::string& text) {
  // A line of its own on the console, as clients show the hub's notices.
  hub_->PublishOutput(absl::StrCat("\r\n*** dbgd: ", text, "\r\n"));
}

void Session::Emit(v1::Event::Kind kind, const std::string& message) {
  if (!events_) return;
  v1::Event event;
  event.set_kind(kind);
  *event.mutable_time() = ToProtoTime(absl::Now());
  event.set_session(name());
  event.set_message(message);
  if (kind == v1::Event::SESSION_CREATED || kind == v1::Event::SESSION_ENDED) {
    *event.mutable_session_state() = Describe();
  }
  events_(event);
}

void Session::SetState(v1::Session::State state, const std::string& reason) {
  MutexLock lock(&mu_);
  state_ = state;
  if (!reason.empty()) end_reason_ = reason;
}

}  // namespace dbgd::session
