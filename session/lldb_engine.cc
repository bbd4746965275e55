#include "session/lldb_engine.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "asio/steady_timer.hpp"
#include "session/command_queue.h"
#include "session/process_guard.h"
#include "session/target_check.h"

namespace dbgd::session {
namespace {

// How long LLDB may take to show its first prompt.
constexpr absl::Duration kStartupTimeout = absl::Seconds(20);
// How long each set-up or shutdown command may take.
constexpr absl::Duration kSetupTimeout = absl::Seconds(30);
constexpr absl::Duration kStopCommandTimeout = absl::Seconds(3);
// After LLDB reports a stop, the reader that forwards the console to a
// launched program lingers a moment and takes keystrokes typed at once:
// type only once the console has been quiet this long.
constexpr absl::Duration kSettleTime = absl::Milliseconds(100);

// LLDB's prompt; it redraws it as "(lldb)  " around asynchronous output.
constexpr absl::string_view kPrompt = "(lldb)";
// The marker: a search for a word no help text contains, which LLDB answers
// with "No commands found pertaining to '<word>'. …". It needs no target
// and no Python (Debian 12's lldb-14 cannot load its Python module).
constexpr absl::string_view kMarkerCommand = "apropos ";
constexpr absl::string_view kMarkerAnswer = "pertaining to '";

bool HasControlCharacter(absl::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// LldbQuote makes `text` one argument of an LLDB command: inside double
// quotes only '"' and '\' are special, and a backtick (an expression to
// evaluate, anywhere on the line) is literal when escaped.
std::string LldbQuote(absl::string_view text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\' || c == '`') quoted += '\\';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

// ErrorLines returns the lines of `output` in which LLDB reports an error.
std::string ErrorLines(absl::string_view output) {
  std::vector<absl::string_view> errors;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StartsWith(line, "error: ")) errors.push_back(line);
  }
  return absl::StrJoin(errors, "\n");
}

std::string RandomWord() {
  std::random_device random;
  const uint64_t value = (static_cast<uint64_t>(random()) << 32) | random();
  return absl::StrCat("dbgd-sync-", absl::Hex(value, absl::kZeroPad16));
}

// What /proc says of a process.
struct ProcessInfo {
  char state = 0;  // 'R', 'S', 't' (stopped by its tracer), 'Z', …
  pid_t parent = 0;
  pid_t tracer = 0;
};

std::optional<ProcessInfo> ReadProcessInfo(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  if (!status) return std::nullopt;
  ProcessInfo info;
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "State:")) {
      rest = absl::StripLeadingAsciiWhitespace(rest);
      if (!rest.empty()) info.state = rest[0];
    } else if (absl::ConsumePrefix(&rest, "PPid:")) {
      (void)absl::SimpleAtoi(rest, &info.parent);
    } else if (absl::ConsumePrefix(&rest, "TracerPid:")) {
      (void)absl::SimpleAtoi(rest, &info.tracer);
    }
  }
  return info;
}

// PrivateDirectory is a directory made for one engine and removed, with all
// it holds, when the engine is done with it.
class PrivateDirectory {
 public:
  PrivateDirectory() = default;
  PrivateDirectory(const PrivateDirectory&) = delete;
  PrivateDirectory& operator=(const PrivateDirectory&) = delete;
  ~PrivateDirectory() { Remove(); }

  // Create makes a new directory (mode 0700) under $TMPDIR, or /tmp.
  // FAILED_PRECONDITION with errno's text when it cannot.
  absl::Status Create(absl::string_view prefix) {
    const char* tmp = std::getenv("TMPDIR");
    std::string path = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                                    "/", prefix, "XXXXXX");
    if (::mkdtemp(path.data()) == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot make ", path, ": ", std::strerror(errno)));
    }
    path_ = std::move(path);
    return absl::OkStatus();
  }

  const std::string& path() const { return path_; }

  void Remove() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
    path_.clear();
  }

 private:
  std::string path_;
};

// ConsoleText renders what LLDB prints on its terminal as a reader of the
// screen sees it: "\r\n" becomes "\n", escape sequences vanish, and a
// return to the first column (how LLDB's editor redraws the prompt around
// asynchronous output) erases the line it returns on.
class ConsoleText {
 public:
  const std::string& text() const { return text_; }

  // CurrentLine is where the last, unfinished line begins.
  size_t CurrentLine() const {
    const size_t newline = text_.rfind('\n');
    return newline == std::string::npos ? 0 : newline + 1;
  }

  void Feed(absl::string_view bytes) {
    pending_.append(bytes.data(), bytes.size());
    size_t i = 0;
    while (i < pending_.size()) {
      const char c = pending_[i];
      if (c == '\x1b') {
        const size_t end = EscapeEnd(i);
        if (end == std::string::npos) break;  // the rest is yet to come
        const absl::string_view sequence(pending_.data() + i, end - i);
        if (sequence == "\x1b[G" || sequence == "\x1b[1G") EraseLine();
        i = end;
      } else if (c == '\r') {
        size_t next = i;
        while (next < pending_.size() && pending_[next] == '\r') ++next;
        if (next == pending_.size()) break;
        if (pending_[next] != '\n') EraseLine();
        i = next;
      } else if (c == '\b') {
        if (!text_.empty() && text_.back() != '\n') text_.pop_back();
        ++i;
      } else {
        if (c == '\n' || c == '\t' || !HasControlCharacter({&c, 1})) text_ += c;
        ++i;
      }
    }
    pending_.erase(0, i);
  }

  // DropBefore forgets the first `n` characters.
  void DropBefore(size_t n) { text_.erase(0, n); }

 private:
  // EscapeEnd returns where the escape sequence at `at` ends, or npos if it
  // is not complete yet.
  size_t EscapeEnd(size_t at) const {
    if (at + 1 >= pending_.size()) return std::string::npos;
    if (pending_[at + 1] != '[') return at + 2;
    for (size_t i = at + 2; i < pending_.size(); ++i) {
      const unsigned char c = pending_[i];
      if (c >= 0x40 && c <= 0x7e) return i + 1;
    }
    return std::string::npos;
  }

  void EraseLine() { text_.erase(CurrentLine()); }

  std::string text_;
  std::string pending_;  // an incomplete escape sequence or run of "\r"
};

// Inferior: a program LLDB launched for a launch target, held by a pidfd
// opened while LLDB traced it, so that it is known to be the same process.
struct Inferior {
  pid_t pid = 0;
  std::shared_ptr<UniqueFd> pidfd;

  bool Signal(int signal) const {
    return ::syscall(SYS_pidfd_send_signal, pidfd->get(), signal, nullptr, 0) == 0;
  }
  // Alive: it has not exited (a zombie not yet reaped has).
  bool Alive() const {
    if (!Signal(0)) return false;
    std::optional<ProcessInfo> info = ReadProcessInfo(pid);
    return info.has_value() && info->state != 'Z' && info->state != 'X';
  }
};

// One command in flight or waiting.
struct Command {
  enum class Phase {
    kQueued,   // waiting for LLDB's prompt to be typed
    kTyped,    // typed; waiting for the prompt after it, to type the marker
    kMarked,   // marker typed; waiting for its answer
    kResumed,  // done, but the target still runs: waiting for it to stop
  };

  std::string text;  // typed as it is, then "\r"
  absl::Duration timeout;
  std::function<void(absl::StatusOr<ExecuteResult>)> done;
  bool await_output = true;  // false: done once typed (`quit`, `run` at start)
  // Filled while it runs; positions are in the engine's console_ text.
  uint64_t number = 0;  // set as it begins
  Phase phase = Phase::kQueued;
  std::string marker;  // the word the marker looks for
  std::optional<size_t> output_begin;  // after its echo
  size_t searched = 0;  // how far the marker's answer was looked for
  size_t resumed_at = 0;  // after the marker's answer
  std::string output;
};

class LldbEngine final : public Engine {
 public:
  LldbEngine(Strand& strand, std::string lldb_path)
      : lldb_path_(std::move(lldb_path)),
        word_(RandomWord()),
        timer_(strand),
        settle_timer_(strand),
        commands_(strand, [this](Command command) { TimeOut(std::move(command)); }) {}

  std::string name() const override { return "lldb"; }

  absl::StatusOr<SpawnOptions> Prepare(const v1::Target& target) override {
    target_ = target;
    if (const char* home = std::getenv("HOME")) daemon_home_ = home;
    SpawnOptions options;
    options.argv = {lldb_path_, "--no-lldbinit",
                    // The console is shared: no echo of the commands below,
                    // no colours, and no y/n questions (e.g. on quit).
                    "--source-quietly", "--no-use-colors",
                    "-o", "settings set auto-confirm true"};
    absl::StatusOr<std::string> program = CheckTarget(target);
    if (!program.ok()) return program.status();
    if (target.kind_case() == v1::Target::kLaunch) {
      const v1::LaunchTarget& launch = target.launch();
      for (const std::string& arg : launch.args()) {
        if (arg.empty()) {
          // LLDB's argument parser drops empty arguments.
          return absl::InvalidArgumentError(
              "launch.args: lldb cannot pass an empty argument");
        }
      }
      options.cwd = launch.cwd();  // the program inherits LLDB's
      // LLDB creates the target and stops before running it, like GDB.
      options.argv.push_back("--");
      options.argv.push_back(*program);
      options.argv.insert(options.argv.end(), launch.args().begin(),
                          launch.args().end());
    }
    // LLDB keeps its history in ~/.lldb and, when it cannot make that,
    // prints "Could not load history file" before its first prompt, which
    // then is never seen; it also reads ~/.editrc. A home of its own makes
    // it independent of the daemon's, read-only or pre-populated, and
    // keeps the console's history out of it.
    absl::Status home = home_.Create("dbgd-lldb-");
    if (!home.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("engine lldb: a home directory: ", home.message()));
    }
    options.env.emplace_back("HOME", home_.path());
    return options;
  }

  void SetConsole(std::function<void(std::string)> write) override {
    write_ = std::move(write);
  }

  void Start(pid_t pid, std::weak_ptr<void> anchor,
             std::function<void(absl::Status)> done) override {
    lldb_pid_ = pid;
    anchor_ = std::move(anchor);
    start_done_ = std::move(done);
    // OnConsoleOutput goes on at the first prompt.
    ArmTimer(timer_, kStartupTimeout, [this] {
      if (start_done_ && !prompt_seen_) {
        Finish(start_done_, absl::DeadlineExceededError(absl::StrCat(
                                "lldb did not show its prompt within ",
                                absl::FormatDuration(kStartupTimeout))));
      }
    });
  }

  void OnConsoleOutput(absl::string_view bytes) override {
    console_.Feed(bytes);
    typed_ahead_ = false;
    ReadProcessLines();
    if (settling_) {
      ArmTimer(settle_timer_, kSettleTime, [this] {
        settling_ = false;
        Advance();
      });
    }
    if (!prompt_seen_) {
      if (!start_done_ || !AtPrompt()) return;
      prompt_seen_ = true;
      timer_.cancel();
      SetUpTarget();
    }
    Advance();
    const Command* current = commands_.InFlight();
    if (current == nullptr || current->phase == Command::Phase::kQueued) {
      ForgetConsole();
    }
  }

  std::optional<std::string> RefuseLine(const std::string& line) override {
    // A remote target attaches to the remote side's processes.
    if (target_.kind_case() == v1::Target::kRemote) return std::nullopt;
    std::optional<LldbAttach> attach = LldbAttachOf(line);
    if (!attach.has_value()) return std::nullopt;
    if (attach->pid.has_value()) return WhyAttachIsRefused(*attach->pid);
    return WhyAttachByNameIsRefused(attach->name);
  }

  void Execute(const std::string& command, absl::Duration timeout,
               std::function<void(absl::StatusOr<ExecuteResult>)> done) override {
    if (std::optional<std::string> refused = RefuseLine(command)) {
      done(absl::FailedPreconditionError(
          absl::StrCat("command: refused \"", command, "\": ", *refused)));
      return;
    }
    if (HasControlCharacter(command)) {
      done(absl::InvalidArgumentError(
          "command: control characters cannot be typed into lldb's console"));
      return;
    }
    Enqueue(Command{command, timeout, std::move(done)});
  }

  void Stop(bool kill_target, std::function<void()> done) override {
    // A running target reads the console itself; stop it so that LLDB does.
    InterruptTarget();
    const std::vector<std::string> commands =
        StopCommands(target_, kill_target, "process kill", "process detach");
    auto step = AfterAll(commands.size() + 1, std::move(done));
    for (const std::string& command : commands) {
      Enqueue(Command{command, kStopCommandTimeout, step});
    }
    Command quit{"quit", kStopCommandTimeout, step};
    quit.await_output = false;
    Enqueue(std::move(quit));
  }

  bool InterruptTarget() override {
    if (!TargetRunning()) return false;
    if (pid_ > 0 && TracedByUs(pid_)) {
      // LLDB stops a traced process at any signal and reports SIGINT as
      // Ctrl+C would; its own Ctrl+C handler would stop it with SIGSTOP.
      ::kill(pid_, SIGINT);
      return true;
    }
    if (target_.kind_case() == v1::Target::kRemote && write_) {
      // No local process; LLDB keeps its prompt while a remote one runs.
      Type("process interrupt");
      return true;
    }
    return false;
  }

  std::vector<pid_t> LaunchedInferiors() const override {
    std::vector<pid_t> pids;
    for (const Inferior& inferior : inferiors_) {
      if (inferior.Alive()) pids.push_back(inferior.pid);
    }
    return pids;
  }

  void KillLaunchedInferiors() override {
    // Through the pidfd: a PID reused since is never hit.
    for (const Inferior& inferior : inferiors_) inferior.Signal(SIGKILL);
  }

  void Shutdown() override {
    timer_.cancel();
    settle_timer_.cancel();
    if (start_done_) Finish(start_done_, absl::UnavailableError("lldb exited"));
    commands_.FailAll(absl::UnavailableError("lldb exited"));
    home_.Remove();
  }

 private:
  template <typename T>
  void Finish(std::function<void(T)>& callback, T value) {
    auto run = std::move(callback);
    callback = nullptr;
    run(std::move(value));
  }

  void ArmTimer(asio::steady_timer& timer, absl::Duration after,
                std::function<void()> fire) {
    std::shared_ptr<void> anchor = anchor_.lock();
    if (anchor == nullptr) return;
    timer.expires_after(absl::ToChronoNanoseconds(after));
    timer.async_wait([anchor, fire = std::move(fire)](std::error_code error) {
      if (!error) fire();
    });
  }

  void Type(const std::string& line) {
    if (!write_) return;
    write_(line + "\r");  // what the Enter key sends
    typed_ahead_ = true;
  }

  // ForgetConsole drops what no command needs: all but the current line.
  void ForgetConsole() {
    const size_t line = console_.CurrentLine();
    console_.DropBefore(line);
    scanned_ -= std::min(scanned_, line);
  }

  // AtPrompt: LLDB waits for a command (nothing typed since it said so),
  // and may be typed to.
  bool AtPrompt() const { return !typed_ahead_ && !settling_ && PromptAfter(0); }

  // PromptAfter: the console ends with a prompt on a line that begins at or
  // after `position`.
  bool PromptAfter(size_t position) const {
    const size_t line = console_.CurrentLine();
    return line >= position &&
           absl::StripTrailingAsciiWhitespace(
               absl::string_view(console_.text()).substr(line)) == kPrompt;
  }

  // ReadProcessLines follows LLDB's reports on the process ("Process 42
  // launched: …", "… stopped", "… resuming", "… exited with status …").
  // Only processes that our own lldb-server traces are believed: the
  // target's output could say the same.
  void ReadProcessLines() {
    const std::string& text = console_.text();
    size_t end;
    while ((end = text.find('\n', scanned_)) != std::string::npos) {
      absl::string_view line(text.data() + scanned_, end - scanned_);
      scanned_ = end + 1;
      if (!absl::ConsumePrefix(&line, "Process ")) continue;
      const size_t space = line.find(' ');
      pid_t pid = 0;
      if (space == absl::string_view::npos ||
          !absl::SimpleAtoi(line.substr(0, space), &pid) || pid <= 0) {
        continue;
      }
      const absl::string_view what = line.substr(space + 1);
      if (absl::StartsWith(what, "launched:")) {
        running_ = true;
        if (TracedByUs(pid)) {
          pid_ = pid;
          if (target_.kind_case() == v1::Target::kLaunch) Launched(pid);
        }
      } else if (absl::StartsWith(what, "resuming")) {
        // A command's own report ("continue": "Process 42 resuming") is
        // printed when the command is done, and a program that stops at
        // once (a crash) can have its stop reported first: a resume
        // reported after a stop the same command brought is that stop's.
        if (stop_reports_ == stop_reports_when_typed_) running_ = true;
      } else if (absl::StartsWith(what, "stopped")) {
        ++stop_reports_;
        running_ = false;
        settling_ = true;
        if (TracedByUs(pid)) pid_ = pid;
      } else if (absl::StartsWith(what, "exited") ||
                 absl::StartsWith(what, "detached")) {
        ++stop_reports_;
        running_ = false;
        settling_ = true;
        if (pid == pid_) pid_ = 0;
        std::erase_if(inferiors_,
                      [pid](const Inferior& inferior) { return inferior.pid == pid; });
      }
    }
  }

  // Launched records a program LLDB launched (and traces) as ours, while
  // its PID is certainly its own, and forgets those that have exited
  // since, whether or not LLDB said so: a session that relaunches its
  // program again and again keeps no more than it has.
  void Launched(pid_t pid) {
    std::erase_if(inferiors_, [pid](const Inferior& inferior) {
      return inferior.pid == pid || !inferior.Alive();
    });
    auto pidfd = std::make_shared<UniqueFd>(
        static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd->valid()) return;  // gone already
    inferiors_.push_back(Inferior{pid, std::move(pidfd)});
  }

  // TracedByUs: `pid` is traced by this LLDB or its lldb-server.
  bool TracedByUs(pid_t pid) const {
    std::optional<ProcessInfo> info = ReadProcessInfo(pid);
    if (!info || info->tracer <= 0) return false;
    if (info->tracer == lldb_pid_) return true;
    std::optional<ProcessInfo> tracer = ReadProcessInfo(info->tracer);
    return tracer && tracer->parent == lldb_pid_;
  }

  // TargetRunning: LLDB said the target resumed and has not said it
  // stopped since, or the local process it debugs runs. Either alone falls
  // short: LLDB reports "resuming" before the process resumes, and says
  // nothing when a step resumes it.
  bool TargetRunning() const {
    if (running_) return true;
    if (pid_ <= 0 || !TracedByUs(pid_)) return false;
    std::optional<ProcessInfo> info = ReadProcessInfo(pid_);
    return info && info->state != 't' && info->state != 'T' &&
           info->state != 'Z' && info->state != 'X';
  }

  // SetUpTarget gives programs that LLDB launches their environment, then
  // opens the target.
  void SetUpTarget() {
    if (target_.kind_case() == v1::Target::kLaunch) {
      // The program was loaded from the command line, before the prompt.
      const std::string errors = ErrorLines(console_.text());
      if (!errors.empty()) return Fail("launch.program", errors);
    }
    std::function<void()> next = [this] { OpenTarget(); };
    const std::vector<std::string> commands = ProgramEnvironmentCommands();
    for (auto command = commands.rbegin(); command != commands.rend(); ++command) {
      next = [this, text = *command, next] {
        Enqueue(Command{text, kSetupTimeout, Check("launch.env", next)});
      };
    }
    next();
  }

  // ProgramEnvironmentCommands: a launched program gets the daemon's HOME
  // (or none, as the daemon has), not LLDB's private one, and the launch
  // target's variables; LLDB itself keeps its own.
  std::vector<std::string> ProgramEnvironmentCommands() const {
    std::vector<std::string> commands;
    std::vector<std::string> variables;
    const bool launch = target_.kind_case() == v1::Target::kLaunch;
    if (!launch || !target_.launch().env().contains("HOME")) {
      if (daemon_home_) {
        variables.push_back(LldbQuote(absl::StrCat("HOME=", *daemon_home_)));
      } else {
        commands.push_back("settings set target.unset-env-vars HOME");
      }
    }
    if (launch) {
      for (const auto& [key, value] : target_.launch().env()) {
        variables.push_back(LldbQuote(absl::StrCat(key, "=", value)));
      }
    }
    if (!variables.empty()) {
      commands.push_back(absl::StrCat("settings set target.env-vars ",
                                      absl::StrJoin(variables, " ")));
    }
    return commands;
  }

  void Fail(absl::string_view field, absl::string_view message) {
    if (start_done_) {
      Finish(start_done_,
             absl::FailedPreconditionError(absl::StrCat(field, ": ", message)));
    }
  }

  void Ready() {
    if (start_done_) Finish(start_done_, absl::OkStatus());
  }

  // Check returns the completion of a set-up command: `next` if it
  // succeeded, else start-up fails naming `field`.
  std::function<void(absl::StatusOr<ExecuteResult>)> Check(
      std::string field, std::function<void()> next) {
    return [this, field = std::move(field), next = std::move(next)](
               absl::StatusOr<ExecuteResult> result) {
      if (!start_done_) return;
      if (!result.ok()) {
        Fail(field, result.status().message());
      } else if (!result->error.empty()) {
        Fail(field, result->error);
      } else {
        next();
      }
    };
  }

  // OpenTarget runs a launch target, or opens attach / core / remote
  // targets with LLDB's own commands, so that a failure is reported as
  // LLDB's own message.
  void OpenTarget() {
    auto ready = [this] { Ready(); };
    switch (target_.kind_case()) {
      case v1::Target::kLaunch:
        if (target_.launch().run()) {
          Command command{"run", kSetupTimeout, [this](auto) { Ready(); }};
          command.await_output = false;  // it may run for ever
          return Enqueue(std::move(command));
        }
        break;
      case v1::Target::kAttach:
        Enqueue(Command{
            absl::StrCat("process attach --pid ", target_.attach().pid()),
            kSetupTimeout,
            Check(absl::StrCat("attach.pid ", target_.attach().pid()), ready)});
        return;
      case v1::Target::kCrashDump: {
        const v1::CrashDumpTarget& dump = target_.crash_dump();
        Enqueue(Command{
            absl::StrCat("target create --core ", LldbQuote(dump.core_file()),
                         " ", LldbQuote(dump.executable())),
            kSetupTimeout,
            [this, core = dump.core_file()](absl::StatusOr<ExecuteResult> result) {
              if (!start_done_) return;
              if (!result.ok()) return Fail("crash_dump", result.status().message());
              if (result->error.empty()) return Ready();
              // One command opens both files; its message names the one
              // it could not use.
              Fail(absl::StrContains(result->error, core) ? "crash_dump.core_file"
                                                         : "crash_dump.executable",
                   result->error);
            }});
        return;
      }
      case v1::Target::kRemote: {
        const std::string& address = target_.remote().address();
        // A device path is opened as a serial line; anything else is
        // [HOST:]PORT.
        Enqueue(Command{absl::StartsWith(address, "/")
                            ? absl::StrCat("process connect --plugin gdb-remote file://",
                                           address)
                            : absl::StrCat("gdb-remote ", address),
                        kSetupTimeout, Check("remote.address", ready)});
        return;
      }
      case v1::Target::KIND_NOT_SET:
        break;
    }
    Ready();
  }

  void Enqueue(Command command) {
    commands_.Push(std::move(command));
    Advance();
  }

  // Advance moves the command in flight on as far as the console allows,
  // and the next ones after it.
  void Advance() {
    while (true) {
      Command* command = commands_.InFlight();
      if (command == nullptr) {
        if (!prompt_seen_) return;
        command = commands_.Begin(anchor_);
        if (command == nullptr) return;
        command->marker = absl::StrCat(word_, "-", command->number);
      }
      if (!Step(*command)) return;
    }
  }

  // Step moves `command` on; true once it is done and gone.
  bool Step(Command& command) {
    const std::string& text = console_.text();
    switch (command.phase) {
      case Command::Phase::kQueued: {
        if (!AtPrompt()) return false;
        ForgetConsole();  // the line it is typed on is now at 0
        Type(command.text);
        stop_reports_when_typed_ = stop_reports_;
        if (!command.await_output) {
          Complete(ExecuteResult{});
          return true;
        }
        command.phase = Command::Phase::kTyped;
        return false;
      }
      case Command::Phase::kTyped: {
        if (!command.output_begin) {
          // LLDB's editor echoes the line as typed.
          const std::string echo = command.text + "\n";
          const size_t at = text.find(echo);
          if (at == std::string::npos) return false;
          command.output_begin = at + echo.size();
          command.searched = *command.output_begin;
        }
        // The next prompt: the command is over. A resumed target keeps
        // the console until it stops, so that this is after the stop.
        if (typed_ahead_ || settling_ || !PromptAfter(*command.output_begin)) {
          return false;
        }
        Type(absl::StrCat(kMarkerCommand, command.marker));
        command.phase = Command::Phase::kMarked;
        return false;
      }
      case Command::Phase::kMarked: {
        const std::string answer = absl::StrCat(kMarkerAnswer, command.marker, "'");
        const size_t from = std::max(
            *command.output_begin,
            command.searched - std::min(command.searched, answer.size()));
        const size_t at = text.find(answer, from);
        command.searched = text.size();
        if (at == std::string::npos) return false;
        const size_t answer_end = text.find('\n', at);
        if (answer_end == std::string::npos) {
          command.searched = at;  // look again once the line is complete
          return false;
        }
        // The output ends where the line with the marker's first echo
        // begins (see SkipEchoes).
        const size_t begin = SkipEchoes(command.text, *command.output_begin);
        size_t end = text.find(absl::StrCat(kMarkerCommand, command.marker), begin);
        if (end == std::string::npos || end > at) end = at;
        const size_t newline = end == 0 ? std::string::npos : text.rfind('\n', end - 1);
        end = newline == std::string::npos || newline < begin ? begin : newline + 1;
        command.output = text.substr(begin, end - begin);
        command.resumed_at = answer_end + 1;
        command.phase = Command::Phase::kResumed;
        [[fallthrough]];
      }
      case Command::Phase::kResumed: {
        // LLDB gives its prompt back at once when the target has no
        // terminal of its own (attach, remote): wait for the stop.
        if (TargetRunning()) return false;
        const size_t line = console_.CurrentLine();
        if (line > command.resumed_at) {
          if (!PromptAfter(command.resumed_at)) return false;
          absl::StrAppend(&command.output,
                          text.substr(command.resumed_at, line - command.resumed_at));
        }
        ExecuteResult result;
        result.error = ErrorLines(command.output);
        // Clients saw all of it on the console.
        result.output = std::move(command.output);
        Complete(std::move(result));
        return true;
      }
    }
    return false;
  }

  // SkipEchoes returns where the output of `command` begins, given the end
  // of its first echo. A line typed while LLDB's editor is not reading
  // (between two commands) is echoed twice: by the terminal, then by the
  // editor, after a prompt.
  size_t SkipEchoes(const std::string& command, size_t at) const {
    const std::string& text = console_.text();
    while (true) {
      const size_t end = text.find('\n', at);
      if (end == std::string::npos) return at;
      absl::string_view line(text.data() + at, end - at);
      line = absl::StripLeadingAsciiWhitespace(line);
      if (absl::ConsumePrefix(&line, kPrompt)) {
        line = absl::StripLeadingAsciiWhitespace(line);
      }
      if (absl::StripAsciiWhitespace(line) != absl::StripAsciiWhitespace(command)) {
        return at;
      }
      at = end + 1;
    }
  }

  void Complete(ExecuteResult result) {
    commands_.Complete(absl::StatusOr<ExecuteResult>(std::move(result)));
  }

  void TimeOut(Command command) {
    if (!command.await_output) {
      // Typed anyway: leaving must not wait for a prompt that never comes.
      Type(command.text);
      command.done(ExecuteResult{});
    } else if (command.phase == Command::Phase::kQueued) {
      command.done(absl::DeadlineExceededError(
          "lldb did not return to its prompt in time (is the target running?)"));
    } else {
      // Its marker, if it ever answers, names this command, not the next.
      command.done(CommandTimedOutError());
    }
    Advance();
  }

  // Constant after construction.
  const std::string lldb_path_;
  const std::string word_;  // unique to this engine, in every marker

  // All below is used on the strand only.
  v1::Target target_;
  std::optional<std::string> daemon_home_;  // what launched programs get
  PrivateDirectory home_;  // LLDB's HOME
  asio::steady_timer timer_;  // until the first prompt
  asio::steady_timer settle_timer_;
  CommandQueue<Command> commands_;
  std::weak_ptr<void> anchor_;
  std::function<void(std::string)> write_;
  pid_t lldb_pid_ = -1;
  std::function<void(absl::Status)> start_done_;
  bool prompt_seen_ = false;
  // The console since the line the command in flight was typed on.
  ConsoleText console_;
  size_t scanned_ = 0;  // where ReadProcessLines goes on
  bool typed_ahead_ = false;  // typed something LLDB has not answered yet
  bool settling_ = false;  // LLDB reported a stop; see kSettleTime
  // The process LLDB debugs, once it is known to be ours, and whether LLDB
  // last said it runs.
  pid_t pid_ = 0;
  bool running_ = false;
  // Stops (and exits) LLDB reported, in all and when the command in flight
  // was typed: see "resuming" in ReadProcessLines.
  uint64_t stop_reports_ = 0;
  uint64_t stop_reports_when_typed_ = 0;
  std::vector<Inferior> inferiors_;
};

}  // namespace

std::unique_ptr<Engine> MakeLldbEngine(Strand& strand, std::string lldb_path) {
  return std::make_unique<LldbEngine>(strand, std::move(lldb_path));
}

}  // namespace dbgd::session
