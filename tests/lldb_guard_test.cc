// What an LLDB session may do to processes, with the real LLDB: an attach
// to the daemon (here, this test's process) or to an ancestor of it is
// refused before LLDB sees it, whether typed at the console or run through
// Execute, by PID or by name; and an attach to any other process goes on.

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
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
using ::testing::Not;
using Reader = ::dbgd::testing::HubReader;

class LldbGuardTest : public ::dbgd::testing::SessionFixture<> {
 protected:
  LldbGuardTest() : SessionFixture("lldb") {}

  void SetUp() override {
    absl::StatusOr<std::string> lldb = FindProgram("lldb", "lldb");
    ASSERT_TRUE(lldb.ok()) << lldb.status()
                           << " (tools/bootstrap installs it; these tests "
                              "must run, not skip)";
    SessionOptions options;
    options.target.mutable_launch()->set_program(TargetProgramPath());
    options.target.mutable_launch()->add_args("loop");
    absl::StatusOr<std::shared_ptr<Session>> session = Start(std::move(options));
    ASSERT_TRUE(session.ok()) << session.status();
    session_ = *session;
  }

  // TracerOf is the TracerPid of `pid`.
  static int TracerOf(pid_t pid) {
    std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("TracerPid:", 0) == 0) return std::stoi(line.substr(10));
    }
    return -1;
  }

  std::shared_ptr<Session> session_;
};

TEST_F(LldbGuardTest, ExecuteRefusesAnAttachToTheDaemonByPidOrName) {
  const pid_t self = ::getpid();
  for (const std::string& command :
       {absl::StrCat("attach ", self), absl::StrCat("process attach --pid ", self),
        absl::StrCat("pro a -p 0x", absl::Hex(self)), absl::StrCat("attach -p ", getppid())}) {
    SCOPED_TRACE(command);
    absl::StatusOr<ExecuteResult> attach = Execute(*session_, command);
    ASSERT_FALSE(attach.ok()) << attach->output;
    EXPECT_EQ(attach.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(attach.status().message(), HasSubstr("refused"));
    EXPECT_EQ(TracerOf(self), 0) << "LLDB traces this process";
  }
  std::ifstream comm("/proc/self/comm");
  std::string name;
  std::getline(comm, name);
  absl::StatusOr<ExecuteResult> by_name =
      Execute(*session_, absl::StrCat("process attach --name ", name));
  ASSERT_FALSE(by_name.ok()) << by_name->output;
  EXPECT_THAT(by_name.status().message(), HasSubstr("is the name of this dbgd daemon"));
  EXPECT_EQ(TracerOf(self), 0);
  // LLDB still answers.
  absl::StatusOr<ExecuteResult> print = Execute(*session_, "expr 6*7");
  ASSERT_TRUE(print.ok()) << print.status();
  EXPECT_THAT(print->output, HasSubstr("42"));
}

TEST_F(LldbGuardTest, AnAttachTypedAtTheConsoleIsRefusedBeforeLldbSeesIt) {
  Reader reader(session_->hub().Attach("alice"));
  const pid_t self = ::getpid();
  reader.client().Input(absl::StrCat("attach ", self));
  ASSERT_TRUE(reader.WaitFor(absl::StrCat("PID ", self, " is this dbgd daemon")))
      << reader.output();
  EXPECT_EQ(TracerOf(self), 0);
  EXPECT_THAT(reader.output(), Not(HasSubstr(absl::StrCat("Process ", self, " stopped"))));
}

TEST_F(LldbGuardTest, AnAttachToAnotherProcessGoesOn) {
  testing::Subprocess child({TargetProgramPath(), "loop"});
  ASSERT_TRUE(child.WaitForOutput("mode loop", absl::Seconds(10)));
  absl::StatusOr<ExecuteResult> attach =
      Execute(*session_, absl::StrCat("process attach --pid ", child.pid()));
  ASSERT_TRUE(attach.ok()) << attach.status();
  EXPECT_THAT(attach->output, HasSubstr(absl::StrCat("Process ", child.pid(), " stopped")));
  ASSERT_TRUE(Execute(*session_, "process detach").ok());
}

}  // namespace
}  // namespace dbgd::session
