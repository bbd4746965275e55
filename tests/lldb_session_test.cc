// LLDB-only cases of a debugging session; the scenarios every engine shares
// are in engine_session_test.cc.

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "session/pty.h"
#include "session/session.h"
#include "testing/session_testing.h"
#include "testing/subprocess.h"

namespace dbgd::session {
namespace {

using ::dbgd::testing::TargetProgramPath;
using ::testing::HasSubstr;
using Reader = ::dbgd::testing::HubReader;

class LldbSessionTest : public ::dbgd::testing::SessionFixture<> {
 protected:
  LldbSessionTest() : SessionFixture("lldb") {}

  void SetUp() override {
    absl::StatusOr<std::string> lldb = FindProgram("lldb", "lldb");
    ASSERT_TRUE(lldb.ok()) << lldb.status()
                           << " (tools/bootstrap installs it; these tests "
                              "must run, not skip)";
  }
};

// LLDB takes the variables as one quoted command line (GDB as separate
// -iex options): quotes, backticks, backslashes and `$` must arrive as
// they are.
TEST_F(LldbSessionTest, LaunchSetsTheProgramsEnvironment) {
  SessionOptions options;
  v1::LaunchTarget& launch = *options.target.mutable_launch();
  launch.set_program(TargetProgramPath());
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

// LLDB gives its prompt back at once when it resumes an attached process
// (it has no terminal of its own); Execute still waits for the stop.
TEST_F(LldbSessionTest, ContinueOnAnAttachedProcessWaitsForTheStop) {
  testing::Subprocess child({TargetProgramPath(), "loop"});
  ASSERT_TRUE(child.WaitForOutput("mode loop", absl::Seconds(10)));
  absl::StatusOr<std::shared_ptr<Session>> session = Attach(child.pid());
  ASSERT_TRUE(session.ok()) << session.status();

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

  // The tracer must let go before the child is reaped.
  Delete(**session, /*kill_target=*/false);
  sessions_.clear();
}

}  // namespace
}  // namespace dbgd::session
