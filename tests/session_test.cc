// Debugging sessions with the real GDB on a real program: launch, attach,
// crash dumps, remote gdbstubs, Break, the shared console, and clean ends.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/notification.h"
#include "absl/time/clock.h"
#include "common/event_loop.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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
using ::dbgd::testing::OpenDescriptors;
using ::dbgd::testing::TargetPid;

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() : loop_(2) {}

  ~SessionTest() override {
    for (auto& session : sessions_) Delete(*session, /*kill_target=*/true);
    loop_.Stop();
  }

  absl::StatusOr<std::shared_ptr<Session>> Start(SessionOptions options) {
    options.id = absl::StrCat(++next_id_);
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

  absl::StatusOr<std::shared_ptr<Session>> Launch(std::vector<std::string> args,
                                                  std::string engine = "gdb") {
    SessionOptions options;
    options.engine = std::move(engine);
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

TEST_F(SessionTest, LaunchBreakRunBacktrace) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"crash"});
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->Describe().state(), v1::Session::READY);
  EXPECT_GT((*session)->Describe().engine_pid(), 0);

  absl::StatusOr<ExecuteResult> result = Execute(**session, "break crash_here");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr("Breakpoint 1 at"));
  EXPECT_EQ(result->error, "");

  result = Execute(**session, "run");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr("Breakpoint 1, crash_here ()"));

  result = Execute(**session, "bt");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->output, HasSubstr("#0  crash_here ()"));
  EXPECT_THAT(result->output, HasSubstr("in main ("));
  // Exactly the command's output: nothing of the run before it.
  EXPECT_THAT(result->output, Not(HasSubstr("Breakpoint 1,")));
}

TEST_F(SessionTest, ExecuteReportsTheEnginesError) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"crash"});
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<ExecuteResult> result = Execute(**session, "frobnicate");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->error, HasSubstr("Undefined command: \"frobnicate\""));

  absl::StatusOr<ExecuteResult> multi = Execute(**session, "bt\nquit");
  EXPECT_EQ(multi.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SessionTest, AttachSeesFramesAndDetachLeavesTheProcessRunning) {
  testing::Subprocess child({Target(), "loop"});
  ASSERT_TRUE(child.WaitForOutput("mode loop", absl::Seconds(10)));

  SessionOptions options;
  options.target.mutable_attach()->set_pid(child.pid());
  absl::StatusOr<std::shared_ptr<Session>> session = Start(std::move(options));
  ASSERT_TRUE(session.ok()) << session.status();

  absl::StatusOr<ExecuteResult> bt = Execute(**session, "bt");
  ASSERT_TRUE(bt.ok()) << bt.status();
  EXPECT_THAT(bt->output, HasSubstr("spin"));
  EXPECT_THAT(bt->output, HasSubstr("main"));

  const pid_t engine = (*session)->Describe().engine_pid();
  Delete(**session, /*kill_target=*/false);
  EXPECT_TRUE(Gone(engine)) << "gdb still running";
  EXPECT_FALSE(child.Wait(absl::Milliseconds(300)).has_value())
      << "the detached process must keep running";
  std::ifstream status(absl::StrCat("/proc/", child.pid(), "/status"));
  std::string text((std::istreambuf_iterator<char>(status)), {});
  EXPECT_THAT(text, HasSubstr("TracerPid:\t0")) << "still traced";
}

TEST_F(SessionTest, CrashDumpShowsTheCrashingFrame) {
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
  EXPECT_THAT(bt->output, HasSubstr("crash_here ()"));
  EXPECT_THAT(bt->output, HasSubstr("main ("));
}

TEST_F(SessionTest, RemoteGdbstubIsTheKernelModeRoute) {
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

  absl::StatusOr<ExecuteResult> regs = Execute(**session, "info registers rip");
  ASSERT_TRUE(regs.ok()) << regs.status();
  EXPECT_THAT(regs->output, HasSubstr("rip"));
  Delete(**session, /*kill_target=*/true);
  EXPECT_TRUE(stub.Wait(absl::Seconds(10)).has_value()) << "gdbserver --once ends";
}

TEST_F(SessionTest, BreakInterruptsTheRunningTarget) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"loop"});
  ASSERT_TRUE(session.ok()) << session.status();
  Reader reader((*session)->hub().Attach("alice"));
  reader.client().Input("run");
  ASSERT_TRUE(reader.WaitFor("mode loop")) << reader.output();
  absl::SleepFor(absl::Milliseconds(300));  // past its printf, into spin()

  reader.client().Break();
  ASSERT_TRUE(reader.WaitFor("SIGINT")) << reader.output();
  absl::StatusOr<ExecuteResult> bt = Execute(**session, "bt");
  ASSERT_TRUE(bt.ok()) << bt.status();
  EXPECT_THAT(bt->output, HasSubstr("spin"));
}

TEST_F(SessionTest, ExecuteTimesOutAndTheSessionStaysUsable) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"loop"});
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<ExecuteResult> run =
      Execute(**session, "run", absl::Milliseconds(1500));
  EXPECT_EQ(run.status().code(), absl::StatusCode::kDeadlineExceeded);

  Reader reader((*session)->hub().Attach("bob"));
  reader.client().Break();
  ASSERT_TRUE(reader.WaitFor("SIGINT")) << reader.output();
  absl::StatusOr<ExecuteResult> bt = Execute(**session, "bt");
  ASSERT_TRUE(bt.ok()) << bt.status();
  EXPECT_THAT(bt->output, HasSubstr("spin"));
}

TEST_F(SessionTest, ClientsShareTheConsoleWithAttributionAndHistory) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"crash"});
  ASSERT_TRUE(session.ok()) << session.status();
  Reader alice((*session)->hub().Attach("box\\alice"));
  Reader bob((*session)->hub().Attach("box\\bob"));

  alice.client().Input("print 6*7");
  ASSERT_TRUE(alice.WaitFor("$1 = 42")) << alice.output();
  ASSERT_TRUE(bob.WaitFor("$1 = 42")) << bob.output();
  EXPECT_TRUE(bob.HasNotice(v1::wire::Notice::COMMAND, "box\\alice: print 6*7"));
  EXPECT_FALSE(alice.HasNotice(v1::wire::Notice::COMMAND, "box\\alice: print 6*7"))
      << "the sender is not told of its own command";
  EXPECT_TRUE(alice.HasNotice(v1::wire::Notice::CLIENT_JOINED, "box\\bob"));

  // The control plane's commands are attributed and shown too.
  absl::StatusOr<ExecuteResult> result = Execute(**session, "print 7*8");
  ASSERT_TRUE(result.ok());
  ASSERT_TRUE(alice.WaitFor("$2 = 56")) << alice.output();
  ASSERT_TRUE(bob.WaitFor("tester: print 7*8"));

  // The replay is queued as the client attaches.
  Reader late((*session)->hub().Attach("box\\carol"));
  late.Drain();
  EXPECT_THAT(late.replay(), HasSubstr("$1 = 42"));
  EXPECT_THAT(late.replay(), HasSubstr("$2 = 56"));
  EXPECT_EQ((*session)->Describe().client_count(), 3);
}

TEST_F(SessionTest, QuitTypedByAClientEndsTheSessionAndLeavesNothing) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"loop"});
  ASSERT_TRUE(session.ok()) << session.status();
  Reader reader((*session)->hub().Attach("alice"));
  reader.client().Input("run");
  ASSERT_TRUE(reader.WaitFor("mode loop"));
  const pid_t inferior = TargetPid(reader.output());
  ASSERT_GT(inferior, 0) << reader.output();
  const pid_t engine = (*session)->Describe().engine_pid();

  reader.client().Break();
  ASSERT_TRUE(reader.WaitFor("SIGINT"));
  reader.client().Input("quit");
  ASSERT_TRUE(reader.WaitFor("gdb exited with status 0")) << reader.output();
  EXPECT_TRUE(reader.HasNotice(v1::wire::Notice::SESSION_ENDED, "gdb exited"));
  EXPECT_TRUE(reader.client().closed());
  EXPECT_EQ((*session)->Describe().state(), v1::Session::ENDED);
  EXPECT_EQ((*session)->Describe().end_reason(), "gdb exited with status 0");
  EXPECT_TRUE(Gone(engine));
  EXPECT_TRUE(Gone(inferior)) << "the launched program outlived the session";

  absl::StatusOr<ExecuteResult> after = Execute(**session, "bt");
  EXPECT_EQ(after.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(SessionTest, DeleteLeavesNoProcessBehind) {
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"loop"});
  ASSERT_TRUE(session.ok()) << session.status();
  Reader reader((*session)->hub().Attach("alice"));
  reader.client().Input("run");
  ASSERT_TRUE(reader.WaitFor("mode loop"));
  const pid_t inferior = TargetPid(reader.output());
  ASSERT_GT(inferior, 0) << reader.output();
  const pid_t engine = (*session)->Describe().engine_pid();

  Delete(**session, /*kill_target=*/false);
  EXPECT_TRUE(Gone(engine));
  EXPECT_TRUE(Gone(inferior));
  EXPECT_TRUE(reader.WaitFor("exited", absl::Seconds(5)));
  EXPECT_TRUE(Children().empty());
}

TEST_F(SessionTest, CommandEngineRunsAnyConsoleProgram) {
  SessionOptions options;
  options.engine = "command";
  options.target.mutable_launch()->set_program("/bin/sh");
  absl::StatusOr<std::shared_ptr<Session>> session = Start(std::move(options));
  ASSERT_TRUE(session.ok()) << session.status();
  Reader reader((*session)->hub().Attach("alice"));
  reader.client().Input("echo $((6*7))");
  ASSERT_TRUE(reader.WaitFor("42")) << reader.output();
  absl::StatusOr<ExecuteResult> result = Execute(**session, "echo hi");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr("no side channel"));
}

struct BadInput {
  std::string name;
  std::string engine;
  std::function<void(v1::Target&)> target;
  absl::StatusCode code;
  std::string message;
};

TEST_F(SessionTest, BadInputIsNamedAndLeavesNothingBehind) {
  const std::vector<BadInput> cases = {
      {"missing program", "gdb",
       [](v1::Target& t) { t.mutable_launch()->set_program("/nonexistent/prog"); },
       absl::StatusCode::kNotFound, "launch.program"},
      {"no target", "gdb", [](v1::Target&) {}, absl::StatusCode::kInvalidArgument,
       "target"},
      {"missing core", "gdb",
       [](v1::Target& t) {
         t.mutable_crash_dump()->set_core_file("/nonexistent/core");
         t.mutable_crash_dump()->set_executable(Target());
       },
       absl::StatusCode::kNotFound, "crash_dump.core_file"},
      {"no such pid", "gdb",
       [](v1::Target& t) { t.mutable_attach()->set_pid(999999); },
       absl::StatusCode::kNotFound, "attach.pid"},
      {"unknown engine", "windbg",
       [](v1::Target& t) { t.mutable_launch()->set_program(Target()); },
       absl::StatusCode::kInvalidArgument, "engine"},
      {"refused remote", "gdb",
       [](v1::Target& t) { t.mutable_remote()->set_address("127.0.0.1:1"); },
       absl::StatusCode::kFailedPrecondition, "remote.address"},
      {"bad cwd", "gdb",
       [](v1::Target& t) {
         t.mutable_launch()->set_program(Target());
         t.mutable_launch()->set_cwd("/nonexistent/dir");
       },
       absl::StatusCode::kNotFound, "launch.cwd"},
  };
  // The first round also makes the event loop's own descriptors (epoll,
  // eventfd, timerfd), which Asio creates on first use; the second round
  // must then leave the count exactly as it was.
  int descriptors = 0;
  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      absl::SleepFor(absl::Milliseconds(200));
      descriptors = OpenDescriptors();
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
}

TEST_F(SessionTest, AttachToAnUntraceableProcessFailsCleanly) {
  testing::Subprocess child({Target(), "loop"});
  ASSERT_TRUE(child.WaitForOutput("mode loop", absl::Seconds(10)));
  SessionOptions first;
  first.target.mutable_attach()->set_pid(child.pid());
  absl::StatusOr<std::shared_ptr<Session>> tracer = Start(std::move(first));
  ASSERT_TRUE(tracer.ok()) << tracer.status();

  // A process has one tracer: the second attach must fail with GDB's reason.
  const int descriptors = OpenDescriptors();
  SessionOptions second;
  second.target.mutable_attach()->set_pid(child.pid());
  absl::StatusOr<std::shared_ptr<Session>> refused = Start(std::move(second));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("attach.pid"));
  EXPECT_THAT(refused.status().message(), HasSubstr("not permitted"));
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(OpenDescriptors(), descriptors);
  std::vector<pid_t> children = Children();
  EXPECT_EQ(children.size(), 2u) << "only the target and the first gdb";
  // The tracer must let go before the target is reaped, or reaping waits
  // for a tracer that is not waiting.
  Delete(**tracer, /*kill_target=*/false);
}

TEST_F(SessionTest, MissingGdbIsAClearPrecondition) {
  const std::string path = std::getenv("PATH");
  ::setenv("PATH", std::getenv("TEST_TMPDIR"), 1);
  absl::StatusOr<std::shared_ptr<Session>> session = Launch({"crash"});
  ::setenv("PATH", path.c_str(), 1);
  EXPECT_EQ(session.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(session.status().message(), HasSubstr("gdb"));
}

}  // namespace
}  // namespace dbgd::session
