#include "session/gdb_engine.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <array>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "asio/posix/stream_descriptor.hpp"
#include "asio/steady_timer.hpp"
#include "session/async_writer.h"
#include "session/command_queue.h"
#include "session/mi.h"
#include "session/process_guard.h"
#include "session/target_check.h"

namespace dbgd::session {
namespace {

// How long GDB may take to open its MI channel after it starts.
constexpr absl::Duration kStartupTimeout = absl::Seconds(20);
// How long each set-up or shutdown command may take.
constexpr absl::Duration kSetupTimeout = absl::Seconds(30);
constexpr absl::Duration kStopCommandTimeout = absl::Seconds(3);

int PidfdOpen(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

bool PidfdSignal(int pidfd, int signal) {
  return ::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) == 0;
}

// A live local process of GDB's (a thread group, "i1"), as dbgd knows it.
struct ThreadGroup {
  pid_t pid = -1;
  // Taken when GDB reported the process: a signal sent through it reaches
  // that process or none, never one that reused its PID.
  std::shared_ptr<UniqueFd> pidfd;
  // Started by this launch session (GDB's child, or a child of one of
  // those), not attached to: the only kind dbgd may kill.
  bool launched = false;
};

// One MI command in flight or waiting.
struct Command {
  std::string mi;  // the MI command without token and newline
  absl::Duration timeout;
  std::function<void(absl::StatusOr<ExecuteResult>)> done;
  // Filled while it runs. `number` is the command's MI token.
  uint64_t number = 0;
  std::string output;
  std::string unseen_output;
  bool running = false;  // got ^running: wait for *stopped
};

class GdbEngine final : public Engine {
 public:
  GdbEngine(Strand& strand, std::string gdb_path)
      : strand_(strand),
        gdb_path_(std::move(gdb_path)),
        mi_(strand),
        timer_(strand),
        commands_(strand, [this](Command command) {
          // The command may still finish later; its result will be ignored
          // (tokens differ) and the next command proceeds.
          command.done(CommandTimedOutError());
          SendNext();
        }) {}

  std::string name() const override { return "gdb"; }

  absl::StatusOr<SpawnOptions> Prepare(const v1::Target& target) override {
    target_ = target;
    SpawnOptions options;
    options.argv = {gdb_path_, "-q", "-nx",
                    // A shared console cannot answer y/n questions or
                    // page; clients are terminals of unknown width.
                    "-iex", "set pagination off", "-iex", "set confirm off",
                    "-iex", "set width 0", "-iex", "set height 0",
                    "-iex", "set style enabled off",
                    // A refused gdbstub is reported after 5 s, not 15.
                    "-iex", "set tcp connect-timeout 5",
                    // Whatever way GDB is made to attach to dbgd or an
                    // ancestor, it lets go at once.
                    "-iex", GdbAttachGuard(::getpid())};
    absl::StatusOr<std::string> program = CheckTarget(target);
    if (!program.ok()) return program.status();
    if (target.kind_case() == v1::Target::kLaunch) {
      const v1::LaunchTarget& launch = target.launch();
      options.cwd = launch.cwd();  // the program inherits GDB's
      for (const auto& [key, value] : launch.env()) {
        // Set for the program only, not for GDB itself.
        options.argv.insert(options.argv.end(),
                            {"-iex", absl::StrCat("set environment ", key, "=",
                                                  value)});
      }
      mi_tty_args_at_ = options.argv.size();
      if (launch.run()) options.argv.insert(options.argv.end(), {"-ex", "run"});
      options.argv.push_back("--args");
      options.argv.push_back(*program);
      options.argv.insert(options.argv.end(), launch.args().begin(),
                          launch.args().end());
    }
    if (mi_tty_args_at_ == 0) mi_tty_args_at_ = options.argv.size();

    absl::StatusOr<PtyPair> mi = OpenPty(PtyMode::kRaw);
    if (!mi.ok()) return mi.status();
    mi_slave_ = std::move(mi->slave);
    mi_.assign(mi->master.release());
    // The MI UI must exist before any `-ex run` so that it sees the stop.
    options.argv.insert(options.argv.begin() + mi_tty_args_at_,
                        {"-ex", absl::StrCat("new-ui mi3 ", mi->slave_path)});
    return options;
  }

  void Start(pid_t pid, std::weak_ptr<void> anchor,
             std::function<void(absl::Status)> done) override {
    pid_ = pid;
    anchor_ = std::move(anchor);
    writer_.emplace(mi_, anchor_, [this](std::error_code error) {
      FailAll(absl::UnavailableError(
          absl::StrCat("gdb's MI channel failed: ", error.message())));
    });
    start_done_ = std::move(done);
    ReadMi();
    // Until the first prompt, the UI is not there; if it never comes, GDB
    // could not open it.
    ArmTimer(kStartupTimeout, [this] {
      if (start_done_) {
        Finish(start_done_, absl::DeadlineExceededError(absl::StrCat(
                                "gdb did not open its MI channel within ",
                                absl::FormatDuration(kStartupTimeout))));
      }
    });
  }

  void SetNotice(std::function<void(const std::string&)> notice) override {
    notice_ = std::move(notice);
  }

  std::optional<std::string> RefuseLine(const std::string& line) override {
    // A remote target attaches to the remote side's processes.
    if (target_.kind_case() == v1::Target::kRemote) return std::nullopt;
    std::optional<pid_t> pid = GdbAttachPid(line);
    if (!pid.has_value()) return std::nullopt;
    return WhyAttachIsRefused(*pid);
  }

  void Execute(const std::string& command, absl::Duration timeout,
               std::function<void(absl::StatusOr<ExecuteResult>)> done) override {
    if (std::optional<std::string> refused = RefuseLine(command)) {
      done(absl::FailedPreconditionError(
          absl::StrCat("command: refused \"", command, "\": ", *refused)));
      return;
    }
    Enqueue(absl::StrCat("-interpreter-exec console ", MiQuote(command)),
            timeout, std::move(done));
  }

  void Stop(bool kill_target, std::function<void()> done) override {
    std::vector<std::string> commands;
    if (target_.kind_case() == v1::Target::kLaunch) {
      // What the session launched is killed; a process a client attached
      // to in the meantime is let go, as GDB itself does when it quits.
      for (const auto& [id, group] : groups_) {
        absl::string_view number = id;
        if (!absl::ConsumePrefix(&number, "i")) continue;
        commands.push_back(absl::StrCat(group.launched ? "kill" : "detach",
                                        " inferiors ", number));
      }
    } else {
      commands = StopCommands(target_, kill_target, "kill", "detach");
    }
    auto step = AfterAll(commands.size() + 1, std::move(done));
    for (const std::string& command : commands) {
      Enqueue(absl::StrCat("-interpreter-exec console ", MiQuote(command)),
              kStopCommandTimeout, step);
    }
    Enqueue("-gdb-exit", kStopCommandTimeout, step);
  }

  std::vector<pid_t> LaunchedInferiors() const override {
    std::vector<pid_t> pids;
    for (const auto& [id, group] : groups_) {
      if (group.launched) pids.push_back(group.pid);
    }
    return pids;
  }

  void KillLaunchedInferiors() override {
    for (const auto& [id, group] : groups_) {
      if (group.launched) PidfdSignal(group.pidfd->get(), SIGKILL);
    }
  }

  bool InterruptTarget() override {
    if (!target_running_ || !writer_) return false;
    if (!groups_.empty()) {
      // A command from the MI UI resumed the target, and that UI reads no
      // input until it stops; but GDB stops a traced process at any signal,
      // and reports SIGINT as Ctrl+C would.
      for (const auto& [id, group] : groups_) PidfdSignal(group.pidfd->get(), SIGINT);
    } else {
      // A remote target has no local process. Untokened: its ^done matches
      // no command and is ignored.
      writer_->Write("-exec-interrupt --all\n");
    }
    return true;
  }

  void Shutdown() override {
    std::error_code ignored;
    timer_.cancel();
    mi_.close(ignored);
    mi_slave_.reset();
    groups_.clear();
    FailAll(absl::UnavailableError("gdb exited"));
  }

 private:
  template <typename T>
  void Finish(std::function<void(T)>& callback, T value) {
    auto run = std::move(callback);
    callback = nullptr;
    run(std::move(value));
  }

  void ArmTimer(absl::Duration after, std::function<void()> fire) {
    std::shared_ptr<void> anchor = anchor_.lock();
    if (anchor == nullptr) return;
    timer_.expires_after(absl::ToChronoNanoseconds(after));
    timer_.async_wait([this, anchor, fire = std::move(fire)](std::error_code error) {
      if (!error) fire();
    });
  }

  void ReadMi() {
    std::shared_ptr<void> anchor = anchor_.lock();
    if (anchor == nullptr) return;
    mi_.async_read_some(asio::buffer(read_buffer_),
                        [this, anchor](std::error_code error, size_t n) {
                          if (error) {
                            FailAll(absl::UnavailableError(
                                "gdb's MI channel closed"));
                            return;
                          }
                          lines_.Append(absl::string_view(read_buffer_.data(), n));
                          while (std::optional<std::string> line = lines_.NextLine()) {
                            OnLine(*line);
                          }
                          ReadMi();
                        });
  }

  void OnLine(const std::string& line) {
    absl::StatusOr<MiRecord> parsed = ParseMiRecord(line);
    if (!parsed.ok()) return;  // not MI (e.g. a stray message); ignore
    const MiRecord& record = *parsed;
    Command* current = commands_.InFlight();
    switch (record.type) {
      case MiRecord::Type::kPrompt:
        if (start_done_ && !setup_started_) {
          setup_started_ = true;
          timer_.cancel();
          SetUpTarget();
        }
        return;
      case MiRecord::Type::kConsoleStream:
      case MiRecord::Type::kTargetStream:
        if (current != nullptr) {
          current->output += record.text;
          if (!current->running) current->unseen_output += record.text;
        }
        return;
      case MiRecord::Type::kLogStream:
        return;  // GDB's own echo of errors; ^error carries the message
      case MiRecord::Type::kNotifyAsync:
        if (record.result_class == "thread-group-started") {
          int pid = 0;
          if (absl::SimpleAtoi(record.results.FindString("pid"), &pid) && pid > 0) {
            OnProcessStarted(record.results.FindString("id"), pid);
          }
        } else if (record.result_class == "thread-group-exited") {
          // It exited, was killed, or was detached from: no longer ours.
          groups_.erase(record.results.FindString("id"));
        }
        return;
      case MiRecord::Type::kExecAsync:
        // Every UI hears of these, whichever UI resumed the target.
        if (record.result_class == "running") target_running_ = true;
        if (record.result_class == "stopped") target_running_ = false;
        if (record.result_class == "stopped" && current != nullptr &&
            current->running) {
          Complete(ExecuteResult{current->output, "", current->unseen_output});
        }
        return;
      case MiRecord::Type::kStatusAsync:
        return;
      case MiRecord::Type::kResult:
        if (current == nullptr || record.token != current->number) return;
        if (record.result_class == "running") {
          current->running = true;  // complete on *stopped
          return;
        }
        if (record.result_class == "error") {
          Complete(ExecuteResult{current->output,
                                 record.results.FindString("msg"),
                                 current->unseen_output});
          return;
        }
        Complete(ExecuteResult{current->output, "", current->unseen_output});
        return;
    }
  }

  // OnProcessStarted records a local process GDB now debugs: launched or
  // attached to. A process that is dbgd or an ancestor is never recorded
  // (nothing signals it): GDB's guard (GdbAttachGuard) lets go of it and
  // ends GDB, and every client is told why.
  void OnProcessStarted(const std::string& id, pid_t pid) {
    // A remote target's PIDs, and a core's, are not this host's processes.
    if (target_.kind_case() == v1::Target::kRemote ||
        target_.kind_case() == v1::Target::kCrashDump) {
      return;
    }
    if (std::optional<std::string> refused = WhyAttachIsRefused(pid)) {
      if (notice_) {
        notice_(absl::StrCat("gdb began to attach to PID ", pid, ": ", *refused,
                             "; gdb lets go of it and ends"));
      }
      return;
    }
    ThreadGroup group;
    group.pid = pid;
    group.pidfd = std::make_shared<UniqueFd>(PidfdOpen(pid));
    if (!group.pidfd->valid()) return;  // gone already
    if (target_.kind_case() == v1::Target::kLaunch) {
      // GDB starts a program as its own child; what GDB follows into a
      // fork is that program's child. A process attached to is neither.
      const pid_t parent = ParentOf(pid);
      group.launched = parent == pid_;
      for (const auto& [other_id, other] : groups_) {
        if (other.launched && other.pid == parent) group.launched = true;
      }
      // The parent read is the process's own only if it still lives.
      if (!PidfdSignal(group.pidfd->get(), 0)) return;
    }
    groups_[id] = std::move(group);
  }

  // SetUpTarget opens attach / core / remote targets through MI, so that a
  // failure is reported as GDB's own error message.
  void SetUpTarget() {
    auto fail = [this](absl::string_view field, const std::string& message) {
      if (start_done_) {
        Finish(start_done_, absl::FailedPreconditionError(
                                absl::StrCat(field, ": ", message)));
      }
    };
    auto check = [this, fail](std::string field,
                              std::function<void()> next) {
      return [this, fail, field = std::move(field), next = std::move(next)](
                 absl::StatusOr<ExecuteResult> result) {
        if (!result.ok()) {
          fail(field, std::string(result.status().message()));
        } else if (!result->error.empty()) {
          fail(field, result->error);
        } else {
          next();
        }
      };
    };
    auto ready = [this] {
      if (start_done_) Finish(start_done_, absl::OkStatus());
    };
    switch (target_.kind_case()) {
      case v1::Target::kAttach:
        Enqueue(absl::StrCat("-target-attach ", target_.attach().pid()),
                kSetupTimeout,
                check(absl::StrCat("attach.pid ", target_.attach().pid()), ready));
        break;
      case v1::Target::kCrashDump: {
        const std::string core = target_.crash_dump().core_file();
        Enqueue(absl::StrCat("-file-exec-and-symbols ",
                             MiQuote(target_.crash_dump().executable())),
                kSetupTimeout,
                check("crash_dump.executable", [this, core, check, ready] {
                  // -target-select splits its arguments at spaces; the
                  // console command takes the rest of the line as the path.
                  Enqueue(absl::StrCat("-interpreter-exec console ",
                                       MiQuote(absl::StrCat("core-file ", core))),
                          kSetupTimeout, check("crash_dump.core_file", ready));
                }));
        break;
      }
      case v1::Target::kRemote:
        Enqueue(absl::StrCat("-target-select remote ",
                             target_.remote().address()),
                kSetupTimeout, check("remote.address", ready));
        break;
      default:
        ready();
    }
  }

  void Enqueue(std::string mi, absl::Duration timeout,
               std::function<void(absl::StatusOr<ExecuteResult>)> done) {
    commands_.Push(Command{std::move(mi), timeout, std::move(done)});
    SendNext();
  }

  // SendNext writes the next command once the MI channel is up and the
  // previous command is over.
  void SendNext() {
    if (!writer_) return;
    if (Command* command = commands_.Begin(anchor_)) {
      writer_->Write(absl::StrCat(command->number, command->mi, "\n"));
    }
  }

  void Complete(ExecuteResult result) {
    commands_.Complete(absl::StatusOr<ExecuteResult>(std::move(result)));
    SendNext();
  }

  void FailAll(const absl::Status& status) {
    if (start_done_) Finish(start_done_, status);
    commands_.FailAll(status);
  }

  // Constant after construction.
  Strand& strand_;
  const std::string gdb_path_;

  // All below is used on strand_ only.
  v1::Target target_;
  size_t mi_tty_args_at_ = 0;
  asio::posix::stream_descriptor mi_;
  UniqueFd mi_slave_;  // kept open so the MI pty stays up while GDB opens it
  asio::steady_timer timer_;  // until the MI channel is up
  CommandQueue<Command> commands_;
  std::weak_ptr<void> anchor_;
  std::optional<AsyncWriter<asio::posix::stream_descriptor>> writer_;
  std::array<char, 16 * 1024> read_buffer_;
  MiLineBuffer lines_;
  std::function<void(absl::Status)> start_done_;
  bool setup_started_ = false;
  pid_t pid_ = -1;  // GDB's
  std::function<void(const std::string&)> notice_;
  // Live local processes by thread group ("i1"): for InterruptTarget, and
  // what a launch session kills at its end.
  std::map<std::string, ThreadGroup> groups_;
  bool target_running_ = false;
};

}  // namespace

std::unique_ptr<Engine> MakeGdbEngine(Strand& strand, std::string gdb_path) {
  return std::make_unique<GdbEngine>(strand, std::move(gdb_path));
}

}  // namespace dbgd::session
