// Debugging sessions with each real debugger engine (GDB, LLDB) on a real
// program: launch, attach, crash dumps, remote gdbstubs, Break, the shared
// console, timeouts, bad input and clean ends. One suite, run once per
// engine; an Engine says how that debugger spells the commands and what it
// prints. Engine-only cases live in <engine>_session_test.cc. A missing
// debugger fails its tests rather than skipping them (tools/bootstrap
// installs both).

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "session/pty.h"
#include "session/session.h"
#include "testing/session_testing.h"
#include "testing/subprocess.h"

namespace dbgd::session {
namespace {

using ::dbgd::testing::Children;
using ::dbgd::testing::DirectoryEntries;
using ::dbgd::testing::Environ;
using ::dbgd::testing::Gone;
using ::dbgd::testing::OpenDescriptors;
using ::dbgd::testing::ScopedEnv;
using ::dbgd::testing::TargetPid;
using ::dbgd::testing::TargetProgramPath;
using ::testing::HasSubstr;
using ::testing::Not;
using Reader = ::dbgd::testing::HubReader;

std::string Target() { return TargetProgramPath(); }

std::string TestTmpdir() { return std::getenv("TEST_TMPDIR"); }

struct BadInput {
  std::string name;
  std::string engine;  // "": the engine under test
  std::function<void(v1::Target&)> target;
  absl::StatusCode code;
  std::string message;
};

// Dialect: how one engine spells the suite's commands and what it prints.
struct Dialect {
  std::string engine;
  std::function<std::string(const std::string& function)> break_at;
  // What setting breakpoint `number` at `function` prints.
  std::function<std::string(int number, const std::string& function)> breakpoint_set;
  // How a backtrace names `function`.
  std::function<std::string(const std::string& function)> frame;
  std::string first_frame;      // how a backtrace's first line begins
  std::string backtrace_only;   // in a backtrace, not in one frame's output
  std::string select_frame;     // selects frame 0 and prints it
  std::vector<std::string> run_to_breakpoint;  // `run` to crash_here prints
  std::string run_only;         // … and no later command's output shows
  std::vector<std::string> never_in_output;  // the engine's own noise
  bool console_shows_output;    // clients saw Execute's output on the console
  std::string undefined_command_error;  // what "frobnicate" gets
  std::vector<std::string> rejected_commands;  // INVALID_ARGUMENT
  std::string interrupted;      // what a Break of the target prints
  std::string read_pc;
  std::string pc_value;
  std::vector<std::string> crash_backtrace;  // besides the frames
  std::string attach_refused;   // why a second tracer cannot attach
  std::vector<BadInput> bad_inputs;  // besides the shared ones
};

// The script LLDB cannot load as a program (GDB can).
std::string Script() {
  const std::string script = TestTmpdir() + "/script.sh";
  if (!std::filesystem::exists(script)) {
    std::ofstream out(script);
    out << "#!/bin/sh\necho hi\n";
    out.close();
    std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  }
  return script;
}

Dialect Gdb() {
  return Dialect{
      .engine = "gdb",
      .break_at = [](const std::string& f) { return "break " + f; },
      .breakpoint_set =
          [](int n, const std::string&) { return absl::StrCat("Breakpoint ", n, " at"); },
      .frame = [](const std::string& f) { return f + " ("; },
      .first_frame = "#0  ",
      .backtrace_only = "#1  ",
      .select_frame = "frame 0",
      .run_to_breakpoint = {"Breakpoint 1, crash_here ()"},
      .run_only = "Breakpoint 1,",
      .never_in_output = {"\r", "(gdb)", "^done", "~\""},
      .console_shows_output = false,
      .undefined_command_error = "Undefined command: \"frobnicate\".  Try \"help\".",
      .rejected_commands = {"bt\nquit"},
      .interrupted = "Program received signal SIGINT",
      .read_pc = "info registers rip",
      .pc_value = "rip ",
      .crash_backtrace = {},
      .attach_refused = "not permitted",
      .bad_inputs = {},
  };
}

Dialect Lldb() {
  return Dialect{
      .engine = "lldb",
      .break_at = [](const std::string& f) { return "breakpoint set --name " + f; },
      .breakpoint_set =
          [](int n, const std::string& f) {
            return absl::StrCat("Breakpoint ", n, ": where = target`", f);
          },
      .frame = [](const std::string& f) { return "target`" + f; },
      .first_frame = "frame #0",
      .backtrace_only = "thread #1",
      .select_frame = "frame select 0",
      .run_to_breakpoint = {"launched", "stop reason = breakpoint 1.1", "crash_here"},
      .run_only = "launched",
      .never_in_output = {"\r", "(lldb)", "dbgd-sync"},
      .console_shows_output = true,
      .undefined_command_error = "error: 'frobnicate' is not a valid command.",
      .rejected_commands = {"bt\nquit", "b\tmain"},
      .interrupted = "stop reason = signal SIGINT",
      .read_pc = "register read rip",
      .pc_value = "rip = 0x",
      .crash_backtrace = {"stop reason = signal SIGSEGV"},
      .attach_refused = "error: attach failed",
      .bad_inputs =
          {
              {"not a program", "",
               [](v1::Target& t) { t.mutable_launch()->set_program(Script()); },
               absl::StatusCode::kFailedPrecondition, "launch.program: error: "},
              {"empty argument", "",
               [](v1::Target& t) {
                 t.mutable_launch()->set_program(Target());
                 t.mutable_launch()->add_args("");
               },
               absl::StatusCode::kInvalidArgument, "launch.args"},
          },
  };
}

void PrintTo(const Dialect& dialect, std::ostream* out) { *out << dialect.engine; }

class EngineSessionTest
    : public ::dbgd::testing::SessionFixture<::testing::TestWithParam<Dialect>> {
 protected:
  EngineSessionTest() : SessionFixture(GetParam().engine) {}

  void SetUp() override {
    absl::StatusOr<std::string> program = FindProgram(engine_, engine_);
    ASSERT_TRUE(program.ok()) << program.status()
                              << " (tools/bootstrap installs it; these tests "
                                 "must run, not skip)";
  }

  const Dialect& dialect() const { return GetParam(); }

  // RunFromConsole starts the session's target from `reader`'s console,
  // and returns the program's pid once it runs.
  static pid_t RunFromConsole(Reader& reader) {
    reader.client().Input("run");
    if (!reader.WaitFor("mode loop")) return -1;
    return TargetPid(reader.output());
  }

  // BreakStopsTheSpin: `reader`'s Break stops the program in spin(), where
  // the backtrace then shows it.
  void BreakStopsTheSpin(Session& session, Reader& reader) {
    absl::SleepFor(absl::Milliseconds(300));  // past its printf, into spin()
    reader.client().Break();
    ASSERT_TRUE(reader.WaitFor(dialect().interrupted)) << reader.output();
    absl::StatusOr<ExecuteResult> bt = Execute(session, "bt");
    ASSERT_TRUE(bt.ok()) << bt.status();
    EXPECT_THAT(bt->output, HasSubstr(dialect().frame("spin")));
  }
};

TEST_P(EngineSessionTest, LaunchBreakRunBacktrace) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"crash"});
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->Describe().state(), v1::Session::READY);
  EXPECT_EQ((*session)->Describe().engine(), engine_);
  EXPECT_GT((*session)->Describe().engine_pid(), 0);

  absl::StatusOr<ExecuteResult> result =
      Execute(**session, dialect().break_at("crash_here"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr(dialect().breakpoint_set(1, "crash_here")));
  EXPECT_EQ(result->error, "");
  EXPECT_EQ(result->unseen_output, dialect().console_shows_output ? "" : result->output);
  for (const std::string& noise : dialect().never_in_output) {
    EXPECT_THAT(result->output, Not(HasSubstr(noise)));
  }

  // `run` returns once the target has stopped, not when it started.
  result = Execute(**session, "run");
  ASSERT_TRUE(result.ok()) << result.status();
  for (const std::string& text : dialect().run_to_breakpoint) {
    EXPECT_THAT(result->output, HasSubstr(text));
  }

  result = Execute(**session, "bt");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr(dialect().first_frame));
  EXPECT_THAT(result->output, HasSubstr(dialect().frame("crash_here")));
  EXPECT_THAT(result->output, HasSubstr(dialect().frame("main")));
  // Exactly the command's output: nothing of the run before it.
  EXPECT_THAT(result->output, Not(HasSubstr(dialect().run_only)));
  EXPECT_THAT(result->output, Not(HasSubstr("target pid")));
  for (const std::string& noise : dialect().never_in_output) {
    EXPECT_THAT(result->output, Not(HasSubstr(noise)));
  }

  result = Execute(**session, "continue");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr("SIGSEGV"));
}

TEST_P(EngineSessionTest, ExecuteReportsTheEnginesError) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"crash"});
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<ExecuteResult> result = Execute(**session, "frobnicate");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->error, dialect().undefined_command_error);

  for (const std::string& command : dialect().rejected_commands) {
    absl::StatusOr<ExecuteResult> rejected = Execute(**session, command);
    EXPECT_EQ(rejected.status().code(), absl::StatusCode::kInvalidArgument) << command;
  }

  // Still in step after the failures.
  result = Execute(**session, dialect().break_at("compute"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr(dialect().breakpoint_set(1, "compute")));
  EXPECT_EQ(result->error, "");
}

TEST_P(EngineSessionTest, AttachSeesFramesAndDetachLeavesTheProcessRunning) {
  testing::Subprocess child({Target(), "loop"});
  ASSERT_TRUE(child.WaitForOutput("mode loop", absl::Seconds(10)));
  {
    absl::StatusOr<std::shared_ptr<Session>> session = Attach(child.pid());
    ASSERT_TRUE(session.ok()) << session.status();

    absl::StatusOr<ExecuteResult> bt = Execute(**session, "bt");
    ASSERT_TRUE(bt.ok()) << bt.status();
    EXPECT_THAT(bt->output, HasSubstr(dialect().frame("spin")));
    EXPECT_THAT(bt->output, HasSubstr(dialect().frame("main")));

    // Deleted before the child is destroyed: a traced child cannot be
    // reaped while its tracer does not let go.
    const pid_t engine = (*session)->Describe().engine_pid();
    Delete(**session, /*kill_target=*/false);
    sessions_.clear();
    EXPECT_TRUE(Gone(engine)) << engine_ << " still running";
  }
  EXPECT_FALSE(child.Wait(absl::Milliseconds(300)).has_value())
      << "the detached process must keep running";
  std::ifstream status(absl::StrCat("/proc/", child.pid(), "/status"));
  std::string text((std::istreambuf_iterator<char>(status)), {});
  EXPECT_THAT(text, HasSubstr("TracerPid:\t0")) << "still traced";
}

TEST_P(EngineSessionTest, CrashDumpShowsTheCrashingFrame) {
  // A real core of the crash: GDB runs the program to its SIGSEGV and dumps.
  const std::string core = TestTmpdir() + "/target.core";
  testing::Completed dumped = testing::RunToCompletion(
      {"/usr/bin/gdb", "-q", "-nx", "-batch", "-ex", "run", "-ex",
       "generate-core-file " + core, "--args", Target(), "crash"},
      absl::Seconds(60));
  ASSERT_TRUE(std::filesystem::exists(core)) << dumped.output;

  SessionOptions options;
  options.target.mutable_crash_dump()->set_core_file(core);
  options.target.mutable_crash_dump()->set_executable(Target());
  absl::StatusOr<std::shared_ptr<Session>> session = Start(std::move(options));
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_FALSE((*session)->Describe().live());

  absl::StatusOr<ExecuteResult> bt = Execute(**session, "bt");
  ASSERT_TRUE(bt.ok()) << bt.status();
  EXPECT_THAT(bt->output, HasSubstr(dialect().frame("crash_here")));
  EXPECT_THAT(bt->output, HasSubstr(dialect().frame("main")));
  for (const std::string& text : dialect().crash_backtrace) {
    EXPECT_THAT(bt->output, HasSubstr(text));
  }
}

TEST_P(EngineSessionTest, RemoteGdbstubIsTheKernelModeRoute) {
  // gdbserver is a real gdbstub, as QEMU's -s is.
  testing::Subprocess stub({"/usr/bin/gdbserver", "--once", "127.0.0.1:0", Target(), "loop"});
  ASSERT_TRUE(stub.WaitForOutput("Listening on port", absl::Seconds(10))) << stub.output();
  const std::string output = stub.output();
  const size_t at = output.find("Listening on port ") + 18;
  const std::string port = output.substr(at, output.find('\n', at) - at);

  SessionOptions options;
  options.target.mutable_remote()->set_address("127.0.0.1:" + port);
  absl::StatusOr<std::shared_ptr<Session>> session = Start(std::move(options));
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->Describe().mode(), v1::Session::KERNEL);

  absl::StatusOr<ExecuteResult> regs = Execute(**session, dialect().read_pc);
  ASSERT_TRUE(regs.ok()) << regs.status();
  EXPECT_THAT(regs->output, HasSubstr(dialect().pc_value));
  EXPECT_THAT(regs->output, HasSubstr("0x"));
  Delete(**session, /*kill_target=*/true);
  EXPECT_TRUE(stub.Wait(absl::Seconds(10)).has_value()) << "gdbserver --once ends";
}

TEST_P(EngineSessionTest, BreakInterruptsTheRunningTarget) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"loop"});
  ASSERT_TRUE(session.ok()) << session.status();
  Reader reader((*session)->hub().Attach("alice"));
  ASSERT_GT(RunFromConsole(reader), 0) << reader.output();
  BreakStopsTheSpin(**session, reader);
}

TEST_P(EngineSessionTest, LaunchRunStartsTheProgram) {
  SessionOptions options;
  options.target.mutable_launch()->set_program(Target());
  options.target.mutable_launch()->add_args("loop");
  options.target.mutable_launch()->set_run(true);
  absl::StatusOr<std::shared_ptr<Session>> session = Start(std::move(options));
  ASSERT_TRUE(session.ok()) << session.status();
  Reader reader((*session)->hub().Attach("alice"));
  ASSERT_TRUE(reader.WaitFor("mode loop")) << reader.output();
  BreakStopsTheSpin(**session, reader);
}

TEST_P(EngineSessionTest, ExecuteTimesOutAndTheSessionStaysUsable) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"loop"});
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<ExecuteResult> run =
      Execute(**session, "run", absl::Milliseconds(1500));
  EXPECT_EQ(run.status().code(), absl::StatusCode::kDeadlineExceeded);

  // While the target runs, the engine takes no command (GDB's MI UI waits
  // for the stop; LLDB's console belongs to the program).
  absl::StatusOr<ExecuteResult> early =
      Execute(**session, "bt", absl::Milliseconds(500));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kDeadlineExceeded);

  Reader reader((*session)->hub().Attach("bob"));
  reader.client().Break();
  ASSERT_TRUE(reader.WaitFor("SIGINT")) << reader.output();
  absl::StatusOr<ExecuteResult> bt = Execute(**session, "bt");
  ASSERT_TRUE(bt.ok()) << bt.status();
  EXPECT_THAT(bt->output, HasSubstr(dialect().frame("spin")));
  absl::StatusOr<ExecuteResult> frame = Execute(**session, dialect().select_frame);
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_THAT(frame->output, HasSubstr(dialect().first_frame));
  EXPECT_THAT(frame->output, Not(HasSubstr(dialect().backtrace_only)))
      << "bt's output again";
}

TEST_P(EngineSessionTest, ClientsShareTheConsoleWithAttributionAndHistory) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"crash"});
  ASSERT_TRUE(session.ok()) << session.status();
  Reader alice((*session)->hub().Attach("box\\alice"));
  Reader bob((*session)->hub().Attach("box\\bob"));

  const std::string typed = dialect().break_at("compute");
  alice.client().Input(typed);
  ASSERT_TRUE(alice.WaitFor(dialect().breakpoint_set(1, "compute"))) << alice.output();
  ASSERT_TRUE(bob.WaitFor(dialect().breakpoint_set(1, "compute"))) << bob.output();
  EXPECT_TRUE(bob.HasNotice(v1::wire::Notice::COMMAND, "box\\alice: " + typed));
  EXPECT_FALSE(alice.HasNotice(v1::wire::Notice::COMMAND, "box\\alice: " + typed))
      << "the sender is not told of its own command";
  EXPECT_TRUE(alice.HasNotice(v1::wire::Notice::CLIENT_JOINED, "box\\bob"));

  // A command of the control plane after one typed by a client: it gets
  // its own output only, and clients see it, attributed.
  const std::string executed = dialect().break_at("crash_here");
  absl::StatusOr<ExecuteResult> result = Execute(**session, executed);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr(dialect().breakpoint_set(2, "crash_here")));
  EXPECT_THAT(result->output, Not(HasSubstr("Breakpoint 1")));
  ASSERT_TRUE(alice.WaitFor(dialect().breakpoint_set(2, "crash_here"))) << alice.output();
  ASSERT_TRUE(bob.WaitFor("tester: " + executed));

  // The replay is queued as the client attaches.
  Reader late((*session)->hub().Attach("box\\carol"));
  late.Drain();
  EXPECT_THAT(late.replay(), HasSubstr(dialect().breakpoint_set(1, "compute")));
  EXPECT_THAT(late.replay(), HasSubstr(dialect().breakpoint_set(2, "crash_here")));
  EXPECT_EQ((*session)->Describe().client_count(), 3);
}

TEST_P(EngineSessionTest, QuitTypedByAClientEndsTheSessionAndLeavesNothing) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"loop"});
  ASSERT_TRUE(session.ok()) << session.status();
  Reader reader((*session)->hub().Attach("alice"));
  const pid_t inferior = RunFromConsole(reader);
  ASSERT_GT(inferior, 0) << reader.output();
  const pid_t engine = (*session)->Describe().engine_pid();

  reader.client().Break();
  ASSERT_TRUE(reader.WaitFor("SIGINT")) << reader.output();
  // Keys typed the moment LLDB reports a stop may still go to the program,
  // as they would from a keyboard.
  absl::SleepFor(absl::Milliseconds(300));
  reader.client().Input("quit");
  const std::string exited = engine_ + " exited with status 0";
  ASSERT_TRUE(reader.WaitFor(exited)) << reader.output();
  EXPECT_TRUE(reader.HasNotice(v1::wire::Notice::SESSION_ENDED, engine_ + " exited"));
  EXPECT_TRUE(reader.client().closed());
  EXPECT_EQ((*session)->Describe().state(), v1::Session::ENDED);
  EXPECT_EQ((*session)->Describe().end_reason(), exited);
  EXPECT_TRUE(Gone(engine));
  EXPECT_TRUE(Gone(inferior)) << "the launched program outlived the session";

  absl::StatusOr<ExecuteResult> after = Execute(**session, "bt");
  EXPECT_EQ(after.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(EngineSessionTest, DeleteWhileTheTargetRunsLeavesNoProcessBehind) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"loop"});
  ASSERT_TRUE(session.ok()) << session.status();
  Reader reader((*session)->hub().Attach("alice"));
  const pid_t inferior = RunFromConsole(reader);
  ASSERT_GT(inferior, 0) << reader.output();
  const pid_t engine = (*session)->Describe().engine_pid();

  const absl::Time start = absl::Now();
  Delete(**session, /*kill_target=*/false);
  EXPECT_TRUE(Gone(engine));
  EXPECT_TRUE(Gone(inferior));
  EXPECT_TRUE(reader.WaitFor(engine_ + " exited with status 0", absl::Seconds(5)))
      << "the engine left by itself, not killed after the grace period: "
      << reader.output();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE(Children().empty());
}

TEST_P(EngineSessionTest, BadInputIsNamedAndLeavesNothingBehind) {
  std::vector<BadInput> cases = {
      {"missing program", "",
       [](v1::Target& t) { t.mutable_launch()->set_program("/nonexistent/prog"); },
       absl::StatusCode::kNotFound, "launch.program"},
      {"bad cwd", "",
       [](v1::Target& t) {
         t.mutable_launch()->set_program(Target());
         t.mutable_launch()->set_cwd("/nonexistent/dir");
       },
       absl::StatusCode::kNotFound, "launch.cwd"},
      {"no target", "", [](v1::Target&) {}, absl::StatusCode::kInvalidArgument, "target"},
      {"missing core", "",
       [](v1::Target& t) {
         t.mutable_crash_dump()->set_core_file("/nonexistent/core");
         t.mutable_crash_dump()->set_executable(Target());
       },
       absl::StatusCode::kNotFound, "crash_dump.core_file"},
      {"not a core", "",
       [](v1::Target& t) {
         t.mutable_crash_dump()->set_core_file(Target());
         t.mutable_crash_dump()->set_executable(Target());
       },
       absl::StatusCode::kFailedPrecondition, "crash_dump.core_file: "},
      {"no such pid", "", [](v1::Target& t) { t.mutable_attach()->set_pid(999999); },
       absl::StatusCode::kNotFound, "attach.pid"},
      {"refused remote", "",
       [](v1::Target& t) { t.mutable_remote()->set_address("127.0.0.1:1"); },
       absl::StatusCode::kFailedPrecondition, "remote.address: "},
      {"unknown engine", "windbg",
       [](v1::Target& t) { t.mutable_launch()->set_program(Target()); },
       absl::StatusCode::kInvalidArgument, "engine"},
  };
  cases.insert(cases.end(), dialect().bad_inputs.begin(), dialect().bad_inputs.end());
  Script();  // made before the count below
  // Engines make their private files under $TMPDIR: one of this test's own.
  const std::string temporary = TestTmpdir() + "/tmp";
  std::filesystem::create_directories(temporary);
  ScopedEnv tmpdir("TMPDIR", temporary);
  // The first round also makes the event loop's own descriptors (epoll,
  // eventfd, timerfd), which Asio creates on first use; the second round
  // must then leave the count exactly as it was.
  int descriptors = 0;
  std::set<std::string> files;
  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      absl::SleepFor(absl::Milliseconds(200));
      descriptors = OpenDescriptors();
      files = DirectoryEntries(temporary);
    }
    for (const BadInput& c : cases) {
      SessionOptions options;
      options.engine = c.engine;
      c.target(options.target);
      absl::StatusOr<std::shared_ptr<Session>> session = Start(std::move(options));
      EXPECT_EQ(session.status().code(), c.code) << c.name << ": " << session.status();
      EXPECT_THAT(session.status().message(), HasSubstr(c.message)) << c.name;
    }
  }
  // Children are reaped and descriptors closed on the loop: give it a beat.
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_TRUE(Children().empty());
  EXPECT_EQ(OpenDescriptors(), descriptors);
  EXPECT_EQ(DirectoryEntries(temporary), files) << "files left in " << temporary;
}

TEST_P(EngineSessionTest, AttachToAnUntraceableProcessFailsCleanly) {
  testing::Subprocess child({Target(), "loop"});
  ASSERT_TRUE(child.WaitForOutput("mode loop", absl::Seconds(10)));
  absl::StatusOr<std::shared_ptr<Session>> tracer = Attach(child.pid());
  ASSERT_TRUE(tracer.ok()) << tracer.status();

  // A process has one tracer: the second attach fails with the engine's
  // reason, and leaves nothing behind.
  const int descriptors = OpenDescriptors();
  absl::StatusOr<std::shared_ptr<Session>> refused = Attach(child.pid());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr(absl::StrCat("attach.pid ", child.pid(), ": ")));
  EXPECT_THAT(refused.status().message(), HasSubstr(dialect().attach_refused));
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(OpenDescriptors(), descriptors);
  std::vector<pid_t> children = Children();
  EXPECT_EQ(children.size(), 2u) << "only the target and the first " << engine_;
  // The tracer must let go before the target is reaped, or reaping waits
  // for a tracer that is not waiting.
  Delete(**tracer, /*kill_target=*/false);
}

TEST_P(EngineSessionTest, MissingDebuggerIsAClearPrecondition) {
  absl::StatusOr<std::shared_ptr<Session>> session;
  {
    ScopedEnv path("PATH", TestTmpdir());
    session = Launch({"crash"});
  }
  EXPECT_EQ(session.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(session.status().message(), HasSubstr(engine_));
}

// The daemon's home may be read-only, missing, or hold the init files of
// someone's own debugging (Bazel's sandbox makes /root read-only and
// hides what it holds); no engine may depend on it or write to it.
TEST_P(EngineSessionTest, NeedsNoWritableOrCleanHome) {
  // A home nothing can be made in, even by root: a regular file.
  const std::string file_home = TestTmpdir() + "/home-is-a-file";
  std::ofstream(file_home) << "not a directory\n";
  // A home whose init files would change what the engines print.
  const std::string used_home = TestTmpdir() + "/home-in-use";
  std::filesystem::create_directories(used_home + "/.config/gdb");
  std::filesystem::create_directories(used_home + "/.lldb");
  std::ofstream(used_home + "/.lldbinit") << "settings set prompt \"(changed) \"\n";
  std::ofstream(used_home + "/.gdbinit") << "set prompt (changed) \n";
  std::ofstream(used_home + "/.config/gdb/gdbinit") << "set prompt (changed) \n";
  std::ofstream(used_home + "/.editrc") << "bind -v\n";
  std::ofstream(used_home + "/.inputrc") << "set editing-mode vi\n";
  const std::set<std::string> used_before = DirectoryEntries(used_home);

  for (const std::string& home : {file_home, used_home}) {
    absl::StatusOr<std::shared_ptr<Session>> session;
    {
      ScopedEnv env("HOME", home);
      session = Launch({"crash"});
    }
    ASSERT_TRUE(session.ok()) << "HOME=" << home << ": " << session.status();
    absl::StatusOr<ExecuteResult> result =
        Execute(**session, dialect().break_at("compute"));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_THAT(result->output, HasSubstr(dialect().breakpoint_set(1, "compute")));
    Delete(**session, /*kill_target=*/true);
  }
  EXPECT_EQ(DirectoryEntries(used_home), used_before) << "written into HOME";
}

TEST_P(EngineSessionTest, LaunchedProgramGetsTheDaemonsHomeAndItsEnvironment) {
  for (const std::optional<std::string>& home :
       {std::optional<std::string>("/nonexistent/daemon home"),
        std::optional<std::string>()}) {
    SessionOptions options;
    v1::LaunchTarget& launch = *options.target.mutable_launch();
    launch.set_program(Target());
    launch.add_args("loop");
    (*launch.mutable_env())["DBGD_GREETING"] = "hello world";
    absl::StatusOr<std::shared_ptr<Session>> session;
    {
      ScopedEnv env("HOME", home);
      session = Start(std::move(options));
    }
    ASSERT_TRUE(session.ok()) << session.status();
    Reader reader((*session)->hub().Attach("alice"));
    const pid_t inferior = RunFromConsole(reader);
    ASSERT_GT(inferior, 0) << reader.output();

    const std::map<std::string, std::string> environ = Environ(inferior);
    EXPECT_EQ(environ.count("DBGD_GREETING") ? environ.at("DBGD_GREETING") : "<unset>",
              "hello world");
    EXPECT_EQ(environ.count("HOME") ? environ.at("HOME") : "<unset>",
              home.value_or("<unset>"));
    Delete(**session, /*kill_target=*/true);
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, EngineSessionTest, ::testing::Values(Gdb(), Lldb()),
                         [](const ::testing::TestParamInfo<Dialect>& info) {
                           return info.param.engine;
                         });

}  // namespace
}  // namespace dbgd::session
