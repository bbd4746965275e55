#include "session/process_guard.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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

TEST(GdbAttachGuardTest, IsOneGdbLine) {
  const std::string guard = GdbAttachGuard(4321);
  EXPECT_EQ(guard.find('\n'), std::string::npos);
  EXPECT_THAT(guard, ::testing::StartsWith("python exec(\""));
  EXPECT_THAT(guard, HasSubstr("_dbgd_attach_guard(4321)"));
}

}  // namespace
}  // namespace dbgd::session
