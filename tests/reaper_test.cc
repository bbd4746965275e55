// End-to-end tests of reaping: the real dbgd hosts `command` sessions
// whose shells leave background jobs behind, and must collect them all
// while still reporting each engine's own exit status.

#include <signal.h>
#include <unistd.h>

#include <dirent.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_fixture.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;

struct ProcessState {
  char state = '?';
  pid_t parent = 0;
};

// StateOf reads /proc/PID/stat; nullopt when the process is gone (reaped).
std::optional<ProcessState> StateOf(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  if (!in) return std::nullopt;
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const size_t close = stat.rfind(')');
  ProcessState result;
  if (close == std::string::npos ||
      std::sscanf(stat.c_str() + close + 1, " %c %d", &result.state,
                  &result.parent) != 2) {
    return std::nullopt;
  }
  return result;
}

// Zombies counts the children of `parent` that have exited and not been
// reaped.
int Zombies(pid_t parent) {
  int zombies = 0;
  DIR* proc = ::opendir("/proc");
  while (const dirent* entry = proc != nullptr ? ::readdir(proc) : nullptr) {
    pid_t pid;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    std::optional<ProcessState> state = StateOf(pid);
    if (state.has_value() && state->parent == parent && state->state == 'Z') {
      ++zombies;
    }
  }
  if (proc != nullptr) ::closedir(proc);
  return zombies;
}

class ReaperTest : public ServerTest {
 protected:
  // StartShell starts dbgd with a `command` session running `script`.
  void StartShell(const std::string& script) {
    socket_ = dir_.Join("control.sock");
    daemon_ = std::make_unique<Subprocess>(std::vector<std::string>{
        Dbgd(), "--control_listen=unix:" + socket_, "--engine=command",
        "--launch=/bin/sh", "--", "-c", script});
    ASSERT_TRUE(daemon_->WaitForOutput("dbgd ready", absl::Seconds(30)))
        << daemon_->output();
  }

  // WaitForSessionEnd waits until sessions/1 has ended and returns its
  // listing.
  std::string WaitForSessionEnd() {
    Completed listing;
    for (int i = 0; i < 200; ++i) {
      listing = Ctl({"--json", "sessions"});
      if (listing.output.find("\"ENDED\"") != std::string::npos) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_THAT(listing.output, HasSubstr("\"ENDED\"")) << daemon_->output();
    return listing.output;
  }

  // EventuallyNoZombies polls: the reaper runs on SIGCHLD, asynchronously.
  void ExpectEventuallyNoZombies() {
    int zombies = -1;
    for (int i = 0; i < 100 && zombies != 0; ++i) {
      zombies = Zombies(daemon_->pid());
      if (zombies != 0) absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_EQ(zombies, 0);
  }
};

TEST_F(ReaperTest, BackgroundJobsOfAnEndedSessionLeaveNoZombies) {
  // The shell exits at once; its jobs are killed with its process group
  // when the session ends, as orphans of dbgd (the subreaper).
  StartShell("sleep 100 & sleep 100 & exit 3");
  const std::string listing = WaitForSessionEnd();
  // The engine's own status reached the session, not the reaper.
  EXPECT_THAT(listing, HasSubstr("exited with status 3"));
  ExpectEventuallyNoZombies();
}

TEST_F(ReaperTest, OrphansLivingOnAreReparentedToDbgdAndReapedWhenKilled) {
  const std::string pid_file = dir_.Join("orphan.pid");
  // setsid: a session of its own, so the session's end does not kill it;
  // the shell exits once the orphan-to-be has one (it wrote its PID).
  StartShell(absl::StrCat("setsid sh -c 'echo $$ > ", pid_file,
                          "; exec sleep 100' & while [ ! -s ", pid_file,
                          " ]; do sleep 0.05; done; sleep 100 & exit 0"));
  WaitForSessionEnd();
  pid_t orphan = 0;
  for (int i = 0; i < 100 && orphan == 0; ++i) {
    std::ifstream in(pid_file);
    std::string text;
    if (!(in >> text) || !absl::SimpleAtoi(text, &orphan)) {
      orphan = 0;
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  ASSERT_GT(orphan, 0);
  std::optional<ProcessState> state = StateOf(orphan);
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->parent, daemon_->pid());
  EXPECT_NE(state->state, 'Z');
  ExpectEventuallyNoZombies();

  ASSERT_EQ(::kill(orphan, SIGKILL), 0);
  for (int i = 0; i < 100 && StateOf(orphan).has_value(); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_FALSE(StateOf(orphan).has_value()) << "pid " << orphan << " not reaped";
  ExpectEventuallyNoZombies();
}

TEST_F(ReaperTest, GdbSessionsStillReportTheirExitStatus) {
  StartDaemon();
  Completed quit = Ctl({"exec", "1", "quit"});
  const std::string listing = WaitForSessionEnd();
  EXPECT_THAT(listing, HasSubstr("gdb exited with status 0")) << quit.output;
  ExpectEventuallyNoZombies();
}

}  // namespace
}  // namespace dbgd
