#include "session/process_guard.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::session {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

TEST(WhyAttachIsRefusedTest, RefusesThisProcess) {
  const pid_t self = ::getpid();
  EXPECT_THAT(WhyAttachIsRefused(self),
              Optional(HasSubstr(absl::StrCat("PID ", self, " is this dbgd daemon"))));
}

TEST(WhyAttachIsRefusedTest, RefusesAThreadOfThisProcess) {
  std::thread sleeper([] { ::usleep(300 * 1000); });
  DIR* dir = ::opendir("/proc/self/task");
  ASSERT_NE(dir, nullptr);
  pid_t other = 0;
  while (const dirent* entry = ::readdir(dir)) {
    pid_t id;
    if (absl::SimpleAtoi(entry->d_name, &id) && id != ::getpid()) other = id;
  }
  ::closedir(dir);
  ASSERT_NE(other, 0);
  EXPECT_THAT(WhyAttachIsRefused(other),
              Optional(HasSubstr(absl::StrCat("PID ", other, " is a thread of this dbgd daemon (PID ",
                                              ::getpid(), ")"))));
  sleeper.join();
}

TEST(WhyAttachIsRefusedTest, RefusesTheParentAndPidOne) {
  const pid_t parent = ::getppid();
  EXPECT_THAT(WhyAttachIsRefused(parent),
              Optional(HasSubstr(absl::StrCat("PID ", parent))));
  EXPECT_THAT(WhyAttachIsRefused(parent),
              Optional(HasSubstr(absl::StrCat("is an ancestor of this dbgd daemon (PID ",
                                              ::getpid(), ")"))));
  EXPECT_THAT(WhyAttachIsRefused(1), Optional(HasSubstr("PID 1 (")));
}

TEST(WhyAttachIsRefusedTest, AllowsAChildAndAMissingProcess) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  EXPECT_EQ(WhyAttachIsRefused(child), std::nullopt);
  EXPECT_EQ(ParentOf(child), ::getpid());
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(WhyAttachIsRefused(child), std::nullopt);
  EXPECT_EQ(ParentOf(child), -1);
}

TEST(GdbAttachPidTest, ReadsAttachAsGdbDoes) {
  EXPECT_EQ(GdbAttachPid("attach 1234"), 1234);
  EXPECT_EQ(GdbAttachPid("  at\t1234  "), 1234);
  EXPECT_EQ(GdbAttachPid("atta 0x4d2"), 1234);
  EXPECT_EQ(GdbAttachPid("attach 02322"), 1234);
  EXPECT_EQ(GdbAttachPid("attach 1234 &"), 1234);
  EXPECT_EQ(GdbAttachPid("attach 1234&"), 1234);
}

TEST(GdbAttachPidTest, IgnoresOtherLines) {
  EXPECT_EQ(GdbAttachPid("a 1234"), std::nullopt);        // ambiguous in GDB
  EXPECT_EQ(GdbAttachPid("attachx 1234"), std::nullopt);  // another word
  EXPECT_EQ(GdbAttachPid("attach"), std::nullopt);
  EXPECT_EQ(GdbAttachPid("attach 12x"), std::nullopt);   // GDB refuses it
  EXPECT_EQ(GdbAttachPid("attach 0"), std::nullopt);
  EXPECT_EQ(GdbAttachPid("print 1234"), std::nullopt);
  EXPECT_EQ(GdbAttachPid("echo attach 1234"), std::nullopt);
}

std::optional<pid_t> PidOf(absl::string_view line) {
  std::optional<LldbAttach> attach = LldbAttachOf(line);
  if (!attach.has_value()) return std::nullopt;
  return attach->pid;
}

std::optional<std::string> NameOf(absl::string_view line) {
  std::optional<LldbAttach> attach = LldbAttachOf(line);
  if (!attach.has_value() || attach->pid.has_value()) return std::nullopt;
  return attach->name;
}

TEST(LldbAttachOfTest, ReadsAttachByPidAsLldbDoes) {
  EXPECT_EQ(PidOf("attach 1234"), 1234);
  EXPECT_EQ(PidOf("  at 1234 "), 1234);
  EXPECT_EQ(PidOf("attach -p 1234"), 1234);
  EXPECT_EQ(PidOf("attach --pid=0x4d2"), 1234);
  EXPECT_EQ(PidOf("process attach --pid 1234"), 1234);
  EXPECT_EQ(PidOf("process attach -p1234 -c"), 1234);
  EXPECT_EQ(PidOf("pro a -p 1234"), 1234);
  EXPECT_EQ(PidOf("proc att --pid '1234'"), 1234);
}

TEST(LldbAttachOfTest, ReadsAttachByName) {
  EXPECT_EQ(NameOf("attach dbgd"), "dbgd");
  EXPECT_EQ(NameOf("attach -n dbgd -w"), "dbgd");
  EXPECT_EQ(NameOf("process attach --name=\"dbgd\""), "dbgd");
  EXPECT_EQ(NameOf("process attach --waitfor --name bash"), "bash");
  EXPECT_EQ(NameOf("attach my program"), "my program");
}

TEST(LldbAttachOfTest, IgnoresOtherLines) {
  EXPECT_EQ(LldbAttachOf("a 1234"), std::nullopt);  // ambiguous in LLDB
  EXPECT_EQ(LldbAttachOf("attach"), std::nullopt);
  EXPECT_EQ(LldbAttachOf("process attach"), std::nullopt);
  EXPECT_EQ(LldbAttachOf("process launch -- 1234"), std::nullopt);
  EXPECT_EQ(LldbAttachOf("p 1234"), std::nullopt);
  EXPECT_EQ(LldbAttachOf("pr a -p 1234"), std::nullopt);  // ambiguous
  EXPECT_EQ(LldbAttachOf("expr attach(1234)"), std::nullopt);
  EXPECT_EQ(LldbAttachOf("attach -p 12x"), std::nullopt);  // LLDB refuses it
}

TEST(WhyAttachByNameIsRefusedTest, RefusesTheNamesOfThisProcessAndItsAncestors) {
  // This test's own name is the daemon's here.
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  const std::string path(self, n);
  const std::string name = path.substr(path.rfind('/') + 1);
  EXPECT_THAT(WhyAttachByNameIsRefused(name),
              Optional(HasSubstr("is the name of this dbgd daemon")));
  // PID 1 is an ancestor of every process.
  std::ifstream comm("/proc/1/comm");
  std::string init;
  std::getline(comm, init);
  ASSERT_FALSE(init.empty());
  EXPECT_THAT(WhyAttachByNameIsRefused(init),
              Optional(HasSubstr("PID 1 (" + init + "), an ancestor")));
  EXPECT_EQ(WhyAttachByNameIsRefused("no-such-program-anywhere"), std::nullopt);
  EXPECT_EQ(WhyAttachByNameIsRefused(""), std::nullopt);
}

TEST(GdbAttachGuardTest, IsOneGdbLine) {
  const std::string guard = GdbAttachGuard(4321);
  EXPECT_EQ(guard.find('\n'), std::string::npos);
  EXPECT_THAT(guard, ::testing::StartsWith("python exec(\""));
  EXPECT_THAT(guard, HasSubstr("_dbgd_attach_guard(4321)"));
}

}  // namespace
}  // namespace dbgd::session
