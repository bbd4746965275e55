// Debugging sessions with the real LLDB on a real program: launch, attach,
// crash dumps, remote gdbstubs, Break, commands typed by clients, timeouts
// and clean ends. LLDB must be installed (tools/bootstrap installs it): its
// absence fails every test rather than skipping them.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/event_loop.h"
#include "common/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "session/pty.h"
#include "session/session.h"
#include "testing/session_testing.h"
#include "testing/subprocess.h"

namespace dbgd::session {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Target() {
  return std::filesystem::absolute(testing::RunfilePath("tests/programs/target"));
}

using Reader = ::dbgd::testing::HubReader;
using ::dbgd::testing::Children;
using ::dbgd::testing::Gone;
using ::dbgd::testing::TargetPid;

class LldbSessionTest : public ::testing::Test {
 protected:
  LldbSessionTest() : loop_(2) {}

  void SetUp() override {
    absl::StatusOr<std::string> lldb = FindProgram("lldb", "lldb");
    ASSERT_TRUE(lldb.ok()) << lldb.status()
                           << " (tools/bootstrap installs it; these tests "
                              "must run, not skip)";
  }

  ~LldbSessionTest() override {
    for (auto& session : sessions_) Delete(*session, /*kill_target=*/true);
    loop_.Stop();
  }

  absl::StatusOr<std::shared_ptr<Session>> Start(SessionOptions options) {
    options.id = absl::StrCat(++next_id_);
    options.engine = "lldb";
    dbgd::Notification done;
    absl::StatusOr<std::shared_ptr<Session>> result;
    Session::Start(loop_.context(), std::move(options), nullptr,
                   [&](absl::StatusOr<std::shared_ptr<Session>> session) {
                     result = std::move(session);
                     done.Notify();
                   });
    done.WaitForNotification();
    if (result.ok()) sessions_.push_back(*result);
    return result;
  }

  absl::StatusOr<std::shared_ptr<Session>> Launch(std::vector<std::string> args) {
    SessionOptions options;
    v1::LaunchTarget& launch = *options.target.mutable_launch();
    launch.set_program(Target());
    for (const std::string& arg : args) launch.add_args(arg);
    return Start(std::move(options));
  }

  static absl::StatusOr<ExecuteResult> Execute(
      Session& session, const std::string& command,
      absl::Duration timeout = absl::Seconds(20)) {
    dbgd::Notification done;
    absl::StatusOr<ExecuteResult> result;
    session.Execute("tester", command, timeout,
                    [&](absl::StatusOr<ExecuteResult> r) {
                      result = std::move(r);
                      done.Notify();
                    });
    done.WaitForNotification();
    return result;
  }

  static void Delete(Session& session, bool kill_target) {
    dbgd::Notification done;
    session.Delete(kill_target, [&] { done.Notify(); });
    done.WaitForNotification();
  }

  EventLoop loop_;
  int next_id_ = 0;
  std::vector<std::shared_ptr<Session>> sessions_;
};

// Gone reports whether `pid` has disappeared (waiting up to 10 s); a zombie

TEST_F(LldbSessionTest, LaunchBreakRunBacktrace) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"crash"});
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->Describe().state(), v1::Session::READY);
  EXPECT_EQ((*session)->Describe().engine(), "lldb");

  absl::StatusOr<ExecuteResult> result =
      Execute(**session, "breakpoint set --name crash_here");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr("Breakpoint 1: where = target`crash_here"));
  EXPECT_EQ(result->error, "");
  EXPECT_EQ(result->unseen_output, "") << "clients saw it on the console";
  EXPECT_THAT(result->output, Not(HasSubstr("\r")));
  EXPECT_THAT(result->output, Not(HasSubstr("(lldb)")));
  EXPECT_THAT(result->output, Not(HasSubstr("dbgd-sync"))) << "the marker";

  // `run` returns once the target has stopped, not when LLDB says it started.
  result = Execute(**session, "run");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr("launched"));
  EXPECT_THAT(result->output, HasSubstr("stop reason = breakpoint 1.1"));
  EXPECT_THAT(result->output, HasSubstr("crash_here"));

  result = Execute(**session, "bt");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr("frame #0"));
  EXPECT_THAT(result->output, HasSubstr("target`crash_here"));
  EXPECT_THAT(result->output, HasSubstr("target`main"));
  // Exactly the command's output: nothing of the run before it.
  EXPECT_THAT(result->output, Not(HasSubstr("launched")));
  EXPECT_THAT(result->output, Not(HasSubstr("target pid")));
  EXPECT_THAT(result->output, Not(HasSubstr("dbgd-sync")));

  result = Execute(**session, "continue");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr("SIGSEGV"));
}

TEST_F(LldbSessionTest, ExecuteReportsTheEnginesError) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"crash"});
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<ExecuteResult> result = Execute(**session, "frobnicate");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->error, "error: 'frobnicate' is not a valid command.");

  absl::StatusOr<ExecuteResult> multi = Execute(**session, "bt\nquit");
  EXPECT_EQ(multi.status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ExecuteResult> tab = Execute(**session, "b\tmain");
  EXPECT_EQ(tab.status().code(), absl::StatusCode::kInvalidArgument);

  // Still in step after the failures.
  result = Execute(**session, "breakpoint set --name compute");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr("Breakpoint 1: where = target`compute"));
  EXPECT_EQ(result->error, "");
}

TEST_F(LldbSessionTest, LaunchSetsTheProgramsEnvironment) {
  SessionOptions options;
  v1::LaunchTarget& launch = *options.target.mutable_launch();
  launch.set_program(Target());
  launch.add_args("exit");
  (*launch.mutable_env())["DBGD_GREETING"] = "a \"quoted\" `word` \\ $HOME";
  absl::StatusOr<std::shared_ptr<Session>> session = Start(std::move(options));
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<ExecuteResult> env = Execute(**session, "settings show target.env-vars");
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_THAT(env->output, HasSubstr("DBGD_GREETING=a \"quoted\" `word` \\ $HOME"));

  absl::StatusOr<ExecuteResult> run = Execute(**session, "run");
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_THAT(run->output, HasSubstr("exited with status = 0"));
}

TEST_F(LldbSessionTest, AttachSeesFramesAndDetachLeavesTheProcessRunning) {
  testing::Subprocess child({Target(), "loop"});
  ASSERT_TRUE(child.WaitForOutput("mode loop", absl::Seconds(10)));
  {
    SessionOptions options;
    options.target.mutable_attach()->set_pid(child.pid());
    absl::StatusOr<std::shared_ptr<Session>> session = Start(std::move(options));
    ASSERT_TRUE(session.ok()) << session.status();

    absl::StatusOr<ExecuteResult> bt = Execute(**session, "bt");
    ASSERT_TRUE(bt.ok()) << bt.status();
    EXPECT_THAT(bt->output, HasSubstr("target`spin"));
    EXPECT_THAT(bt->output, HasSubstr("target`main"));

    // Deleted before the child is destroyed: a traced child cannot be
    // reaped while its tracer does not let go.
    const pid_t engine = (*session)->Describe().engine_pid();
    Delete(**session, /*kill_target=*/false);
    sessions_.clear();
    EXPECT_TRUE(Gone(engine)) << "lldb still running";
  }
  EXPECT_FALSE(child.Wait(absl::Milliseconds(300)).has_value())
      << "the detached process must keep running";
  std::ifstream status(absl::StrCat("/proc/", child.pid(), "/status"));
  std::string text((std::istreambuf_iterator<char>(status)), {});
  EXPECT_THAT(text, HasSubstr("TracerPid:\t0")) << "still traced";
}

TEST_F(LldbSessionTest, ContinueOnAnAttachedProcessWaitsForTheStop) {
  testing::Subprocess child({Target(), "loop"});
  ASSERT_TRUE(child.WaitForOutput("mode loop", absl::Seconds(10)));
  SessionOptions options;
  options.target.mutable_attach()->set_pid(child.pid());
  absl::StatusOr<std::shared_ptr<Session>> session = Start(std::move(options));
  ASSERT_TRUE(session.ok()) << session.status();

  // LLDB gives its prompt back at once here; Execute waits for the stop.
  Reader reader((*session)->hub().Attach("alice"));
  dbgd::Notification done;
  absl::StatusOr<ExecuteResult> result;
  (*session)->Execute("tester", "continue", absl::Seconds(20),
                      [&](absl::StatusOr<ExecuteResult> r) {
                        result = std::move(r);
                        done.Notify();
                      });
  ASSERT_TRUE(reader.WaitFor("resuming")) << reader.output();
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Milliseconds(500)))
      << "returned while the target runs";
  reader.client().Break();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr("resuming"));
  EXPECT_THAT(result->output, HasSubstr("stop reason = signal SIGINT"));

  Delete(**session, /*kill_target=*/false);
  sessions_.clear();
}

TEST_F(LldbSessionTest, CrashDumpShowsTheCrashingFrame) {
  // A real core of the crash: GDB runs the program to its SIGSEGV and dumps.
  const std::string core = std::string(std::getenv("TEST_TMPDIR")) + "/target.core";
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
  EXPECT_THAT(bt->output, HasSubstr("stop reason = signal SIGSEGV"));
  EXPECT_THAT(bt->output, HasSubstr("target`crash_here"));
  EXPECT_THAT(bt->output, HasSubstr("target`main"));
}

TEST_F(LldbSessionTest, RemoteGdbstubIsTheKernelModeRoute) {
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

  absl::StatusOr<ExecuteResult> regs = Execute(**session, "register read rip");
  ASSERT_TRUE(regs.ok()) << regs.status();
  EXPECT_THAT(regs->output, HasSubstr("rip = 0x"));
  Delete(**session, /*kill_target=*/true);
  EXPECT_TRUE(stub.Wait(absl::Seconds(10)).has_value()) << "gdbserver --once ends";
}

TEST_F(LldbSessionTest, BreakInterruptsTheRunningTarget) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"loop"});
  ASSERT_TRUE(session.ok()) << session.status();
  Reader reader((*session)->hub().Attach("alice"));
  reader.client().Input("run");
  ASSERT_TRUE(reader.WaitFor("mode loop")) << reader.output();
  absl::SleepFor(absl::Milliseconds(300));  // past its printf, into spin()

  reader.client().Break();
  ASSERT_TRUE(reader.WaitFor("stop reason = signal SIGINT")) << reader.output();
  absl::StatusOr<ExecuteResult> bt = Execute(**session, "bt");
  ASSERT_TRUE(bt.ok()) << bt.status();
  EXPECT_THAT(bt->output, HasSubstr("target`spin"));
}

TEST_F(LldbSessionTest, ExecuteTimesOutAndTheSessionStaysUsable) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"loop"});
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<ExecuteResult> run =
      Execute(**session, "run", absl::Milliseconds(1500));
  EXPECT_EQ(run.status().code(), absl::StatusCode::kDeadlineExceeded);

  // While the target runs it reads the console; the next command waits for
  // LLDB's prompt rather than being typed into the program.
  absl::StatusOr<ExecuteResult> early =
      Execute(**session, "bt", absl::Milliseconds(500));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kDeadlineExceeded);

  Reader reader((*session)->hub().Attach("bob"));
  reader.client().Break();
  ASSERT_TRUE(reader.WaitFor("SIGINT")) << reader.output();
  absl::StatusOr<ExecuteResult> bt = Execute(**session, "bt");
  ASSERT_TRUE(bt.ok()) << bt.status();
  EXPECT_THAT(bt->output, HasSubstr("target`spin"));
  absl::StatusOr<ExecuteResult> frame = Execute(**session, "frame select 0");
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_THAT(frame->output, HasSubstr("frame #0"));
  EXPECT_THAT(frame->output, Not(HasSubstr("thread #1"))) << "bt's output again";
}

TEST_F(LldbSessionTest, ClientsShareTheConsole) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"crash"});
  ASSERT_TRUE(session.ok()) << session.status();
  Reader alice((*session)->hub().Attach("box\\alice"));
  Reader bob((*session)->hub().Attach("box\\bob"));

  alice.client().Input("breakpoint set --name compute");
  ASSERT_TRUE(bob.WaitFor("Breakpoint 1: where")) << bob.output();
  EXPECT_TRUE(bob.HasNotice(v1::wire::Notice::COMMAND,
                            "box\\alice: breakpoint set --name compute"));

  // A command of the control plane after one typed by a client: each gets
  // its own output, and clients see both.
  absl::StatusOr<ExecuteResult> result =
      Execute(**session, "breakpoint set --name crash_here");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr("Breakpoint 2: where"));
  EXPECT_THAT(result->output, Not(HasSubstr("Breakpoint 1")));
  ASSERT_TRUE(alice.WaitFor("Breakpoint 2: where")) << alice.output();
  ASSERT_TRUE(bob.WaitFor("tester: breakpoint set --name crash_here"));
}

TEST_F(LldbSessionTest, QuitTypedByAClientEndsTheSessionAndLeavesNothing) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"loop"});
  ASSERT_TRUE(session.ok()) << session.status();
  Reader reader((*session)->hub().Attach("alice"));
  reader.client().Input("run");
  ASSERT_TRUE(reader.WaitFor("mode loop")) << reader.output();
  const pid_t inferior = TargetPid(reader.output());
  ASSERT_GT(inferior, 0) << reader.output();
  const pid_t engine = (*session)->Describe().engine_pid();

  reader.client().Break();
  ASSERT_TRUE(reader.WaitFor("SIGINT")) << reader.output();
  // Keys typed the moment LLDB reports a stop may still go to the program,
  // as they would from a keyboard.
  absl::SleepFor(absl::Milliseconds(300));
  reader.client().Input("quit");
  ASSERT_TRUE(reader.WaitFor("lldb exited with status 0")) << reader.output();
  EXPECT_TRUE(reader.HasNotice(v1::wire::Notice::SESSION_ENDED, "lldb exited"));
  EXPECT_TRUE(reader.client().closed());
  EXPECT_EQ((*session)->Describe().state(), v1::Session::ENDED);
  EXPECT_EQ((*session)->Describe().end_reason(), "lldb exited with status 0");
  EXPECT_TRUE(Gone(engine));
  EXPECT_TRUE(Gone(inferior)) << "the launched program outlived the session";

  absl::StatusOr<ExecuteResult> after = Execute(**session, "bt");
  EXPECT_EQ(after.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(LldbSessionTest, DeleteWhileTheTargetRunsLeavesNoProcessBehind) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"loop"});
  ASSERT_TRUE(session.ok()) << session.status();
  Reader reader((*session)->hub().Attach("alice"));
  reader.client().Input("run");
  ASSERT_TRUE(reader.WaitFor("mode loop")) << reader.output();
  const pid_t inferior = TargetPid(reader.output());
  ASSERT_GT(inferior, 0) << reader.output();
  const pid_t engine = (*session)->Describe().engine_pid();

  const absl::Time start = absl::Now();
  Delete(**session, /*kill_target=*/false);
  EXPECT_TRUE(Gone(engine));
  EXPECT_TRUE(Gone(inferior));
  EXPECT_TRUE(reader.WaitFor("lldb exited with status 0", absl::Seconds(5)))
      << "lldb left by itself, not killed after the grace period: "
      << reader.output();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(LldbSessionTest, LaunchRunStartsTheProgram) {
  SessionOptions options;
  options.target.mutable_launch()->set_program(Target());
  options.target.mutable_launch()->add_args("loop");
  options.target.mutable_launch()->set_run(true);
  absl::StatusOr<std::shared_ptr<Session>> session = Start(std::move(options));
  ASSERT_TRUE(session.ok()) << session.status();
  Reader reader((*session)->hub().Attach("alice"));
  ASSERT_TRUE(reader.WaitFor("mode loop")) << reader.output();
  absl::SleepFor(absl::Milliseconds(300));  // past its printf, into spin()
  reader.client().Break();
  ASSERT_TRUE(reader.WaitFor("SIGINT")) << reader.output();
  absl::StatusOr<ExecuteResult> bt = Execute(**session, "bt");
  ASSERT_TRUE(bt.ok()) << bt.status();
  EXPECT_THAT(bt->output, HasSubstr("target`spin"));
}

struct BadInput {
  std::string name;
  std::function<void(v1::Target&)> target;
  absl::StatusCode code;
  std::string message;
};

TEST_F(LldbSessionTest, BadInputIsNamed) {
  // A program LLDB cannot load: a script.
  const std::string script = std::string(std::getenv("TEST_TMPDIR")) + "/script.sh";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\necho hi\n";
  }
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  const std::vector<BadInput> cases = {
      {"missing program",
       [](v1::Target& t) { t.mutable_launch()->set_program("/nonexistent/prog"); },
       absl::StatusCode::kNotFound, "launch.program"},
      {"not a program",
       [&](v1::Target& t) { t.mutable_launch()->set_program(script); },
       absl::StatusCode::kFailedPrecondition, "launch.program: error: "},
      {"bad cwd",
       [](v1::Target& t) {
         t.mutable_launch()->set_program(Target());
         t.mutable_launch()->set_cwd("/nonexistent/dir");
       },
       absl::StatusCode::kNotFound, "launch.cwd"},
      {"empty argument",
       [](v1::Target& t) {
         t.mutable_launch()->set_program(Target());
         t.mutable_launch()->add_args("");
       },
       absl::StatusCode::kInvalidArgument, "launch.args"},
      {"no target", [](v1::Target&) {}, absl::StatusCode::kInvalidArgument, "target"},
      {"missing core",
       [](v1::Target& t) {
         t.mutable_crash_dump()->set_core_file("/nonexistent/core");
         t.mutable_crash_dump()->set_executable(Target());
       },
       absl::StatusCode::kNotFound, "crash_dump.core_file"},
      {"not a core",
       [](v1::Target& t) {
         t.mutable_crash_dump()->set_core_file(Target());
         t.mutable_crash_dump()->set_executable(Target());
       },
       absl::StatusCode::kFailedPrecondition, "crash_dump.core_file: error: "},
      {"no such pid", [](v1::Target& t) { t.mutable_attach()->set_pid(999999); },
       absl::StatusCode::kNotFound, "attach.pid"},
      {"refused remote",
       [](v1::Target& t) { t.mutable_remote()->set_address("127.0.0.1:1"); },
       absl::StatusCode::kFailedPrecondition, "remote.address: error: "},
  };
  for (const BadInput& c : cases) {
    SessionOptions options;
    c.target(options.target);
    absl::StatusOr<std::shared_ptr<Session>> session = Start(std::move(options));
    EXPECT_EQ(session.status().code(), c.code) << c.name << ": " << session.status();
    EXPECT_THAT(session.status().message(), HasSubstr(c.message)) << c.name;
  }
  // Children are reaped on the loop: give it a beat.
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_TRUE(Children().empty());
}

TEST_F(LldbSessionTest, AttachToAnUntraceableProcessFailsCleanly) {
  testing::Subprocess child({Target(), "loop"});
  ASSERT_TRUE(child.WaitForOutput("mode loop", absl::Seconds(10)));
  SessionOptions first;
  first.target.mutable_attach()->set_pid(child.pid());
  absl::StatusOr<std::shared_ptr<Session>> tracer = Start(std::move(first));
  ASSERT_TRUE(tracer.ok()) << tracer.status();

  // A process has one tracer: the second attach fails with LLDB's reason.
  SessionOptions second;
  second.target.mutable_attach()->set_pid(child.pid());
  absl::StatusOr<std::shared_ptr<Session>> refused = Start(std::move(second));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr(absl::StrCat("attach.pid ", child.pid(),
                                     ": error: attach failed")));
  // The tracer must let go before the target is reaped.
  Delete(**tracer, /*kill_target=*/false);
}

TEST_F(LldbSessionTest, MissingLldbIsAClearPrecondition) {
  const std::string path = std::getenv("PATH");
  ::setenv("PATH", std::getenv("TEST_TMPDIR"), 1);
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"crash"});
  ::setenv("PATH", path.c_str(), 1);
  EXPECT_EQ(session.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(session.status().message(), HasSubstr("lldb"));
}

}  // namespace
}  // namespace dbgd::session
