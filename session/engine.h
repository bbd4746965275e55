// Engine: one kind of debugger hosted on a PTY (docs/sessions.md).
//
// The Session owns the process, its console PTY and the hub; an Engine says
// how to start its debugger for a target, how to set the target up, how to
// run one command and return exactly its output (the side channel), and how
// to leave politely. Implementations: GDB (MI side channel), LLDB (console
// with an end-of-output marker), and `command` (any console program, no side
// channel).
//
// Thread-safety: every method is called on the owning session's strand, and
// every callback is invoked on it.

#ifndef DBGD_SESSION_ENGINE_H_
#define DBGD_SESSION_ENGINE_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asio/io_context.hpp"
#include "asio/strand.hpp"
#include "dbgd/v1/control.pb.h"
#include "session/pty.h"

namespace dbgd::session {

using Strand = asio::strand<asio::io_context::executor_type>;

struct ExecuteResult {
  std::string output;  // what the command printed
  std::string error;   // the engine's error message, if the command failed
  // The part of `output` that clients have not already seen on the shared
  // console (GDB prints stops on every UI itself), to be shown to them.
  std::string unseen_output;
};

// AfterAll returns the completion to give `count` commands: `done` runs
// once, when the last of them has completed, whatever their results.
std::function<void(absl::StatusOr<ExecuteResult>)> AfterAll(
    size_t count, std::function<void()> done);

class Engine {
 public:
  virtual ~Engine() = default;

  // name is "gdb", "lldb" or "command".
  virtual std::string name() const = 0;

  // Prepare validates `target` for this engine and returns how to start it.
  // INVALID_ARGUMENT / NOT_FOUND name the field (e.g. `launch.program`).
  virtual absl::StatusOr<SpawnOptions> Prepare(const v1::Target& target) = 0;

  // Start runs once the process is up: waits for the engine to be ready and
  // sets the target up (attach, core file, remote). `done` gets OK or why
  // the target could not be opened (FAILED_PRECONDITION with the engine's
  // own message). `anchor` is the owning session: every asynchronous
  // operation the engine starts holds it, so the engine outlives them.
  virtual void Start(pid_t pid, std::weak_ptr<void> anchor,
                     std::function<void(absl::Status)> done) = 0;

  // SetConsole gives the engine the shared console, for engines whose only
  // channel is the console itself (LLDB): `write` types bytes into it. Called
  // before Start.
  virtual void SetConsole(std::function<void(std::string)> write) {}

  // SetNotice gives the engine a way to tell every client something, as a
  // line from dbgd on the shared console. Called before Start.
  virtual void SetNotice(std::function<void(const std::string&)> notice) {}

  // RefuseLine says why a line a client typed must not reach the engine,
  // which reads it at its prompt (an `attach` to dbgd itself), or nullopt.
  virtual std::optional<std::string> RefuseLine(const std::string& line) {
    return std::nullopt;
  }

  // OnConsoleOutput sees every chunk the engine prints on the console,
  // before clients do. Engines that read results from the console use it.
  virtual void OnConsoleOutput(absl::string_view bytes) {}

  // Execute runs `command` and reports exactly its output, or
  // DEADLINE_EXCEEDED after `timeout`, FAILED_PRECONDITION if the engine has
  // no side channel. Commands run one at a time in call order.
  virtual void Execute(const std::string& command, absl::Duration timeout,
                       std::function<void(absl::StatusOr<ExecuteResult>)> done) = 0;

  // Stop asks the engine to leave: detach from the target, or kill it when
  // `kill_target`, then exit. `done` runs when the request was made (the
  // session watches the process itself).
  virtual void Stop(bool kill_target, std::function<void()> done) = 0;

  // InterruptTarget stops a running target through the side channel, for
  // when the target does not own the terminal (GDB runs commands from its
  // MI UI in the background of the console). Returns false when there is
  // nothing to interrupt that way; the session then signals the terminal's
  // foreground group, as Ctrl+C would.
  virtual bool InterruptTarget() { return false; }

  // Inferiors returns processes the engine started for a launch target, so
  // that none outlives the session.
  virtual std::vector<pid_t> LaunchedInferiors() const { return {}; }

  // KillLaunchedInferiors kills what LaunchedInferiors lists. An engine that
  // can tell that a process is still the one it started (a pidfd) kills
  // through that instead, so that a reused PID is never hit.
  virtual void KillLaunchedInferiors();

  // Shutdown closes the engine's own descriptors (the side channel). Called
  // once, after the process has exited.
  virtual void Shutdown() {}
};

// MakeEngine returns the engine called `name` ("" means "gdb"), running on
// `strand`. INVALID_ARGUMENT for an unknown engine, FAILED_PRECONDITION
// naming the Debian package when its debugger is not installed.
absl::StatusOr<std::unique_ptr<Engine>> MakeEngine(const std::string& name,
                                                   Strand& strand);

}  // namespace dbgd::session

#endif  // DBGD_SESSION_ENGINE_H_
