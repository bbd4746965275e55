#include "testing/subprocess.h"

#include <signal.h>
#include <sys/wait.h>

#include "gtest/gtest.h"

namespace dbgd::testing {
namespace {

TEST(SubprocessTest, CapturesOutputAndExitStatus) {
  Completed run = RunToCompletion({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(WIFEXITED(run.status));
  EXPECT_EQ(WEXITSTATUS(run.status), 3);
  EXPECT_NE(run.output.find("out\n"), std::string::npos);
  EXPECT_NE(run.output.find("err\n"), std::string::npos);
}

TEST(SubprocessTest, WaitForOutputSeesLinesAsTheyArrive) {
  Subprocess child({"/bin/sh", "-c", "echo first; sleep 0.2; echo second; sleep 30"});
  EXPECT_TRUE(child.WaitForOutput("second", absl::Seconds(10)));
  EXPECT_FALSE(child.Wait(absl::Milliseconds(10)).has_value()) << "still running";
  EXPECT_FALSE(child.WaitForOutput("never printed", absl::Milliseconds(100)));
}

TEST(SubprocessTest, DestructorKillsAndReapsARunningChild) {
  pid_t pid = 0;
  {
    Subprocess child({"/bin/sleep", "30"});
    pid = child.pid();
    ASSERT_EQ(::kill(pid, 0), 0);
  }
  EXPECT_NE(::kill(pid, 0), 0) << "child " << pid << " outlived its Subprocess";
}

TEST(SubprocessTest, DestructorAlsoEndsTheChildsDescendants) {
  const absl::Time start = absl::Now();
  {
    Subprocess child({"/bin/sh", "-c", "sleep 30 & sleep 30"});
    ASSERT_FALSE(child.Wait(absl::Milliseconds(100)).has_value());
  }
  // The reader thread joins only once every holder of the pipe is gone.
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(SubprocessTest, MissingProgramExits127) {
  Completed run = RunToCompletion({"/nonexistent/program"});
  ASSERT_TRUE(WIFEXITED(run.status));
  EXPECT_EQ(WEXITSTATUS(run.status), 127);
}

}  // namespace
}  // namespace dbgd::testing
