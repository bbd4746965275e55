// What a session may do to processes, end to end with the real dbgd, gdb,
// dbgctl and dbgremote: no session attaches to dbgd itself or to a process
// it runs under (refused at CreateSession, refused or undone at once from
// the console); engines die with a SIGKILLed daemon; and the end of a launch
// session kills only what the session launched.

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_fixture.h"
#include "testing/ports.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::FreePortRun;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// State is /proc/PID/stat's state letter ('R', 'S', 'T', 't', 'Z', …), or
// 0 when there is no such process.
char State(pid_t pid) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return 0;
  return stat[close + 2];
}

bool Dead(pid_t pid) {
  const char state = State(pid);
  return state == 0 || state == 'Z' || state == 'X';
}

// WaitDead waits up to `timeout` for `pid` to be gone (or a zombie).
bool WaitDead(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!Dead(pid)) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

// Entries lists the numeric names in directory `path` (/proc/PID/task).
std::vector<pid_t> Entries(const std::string& path) {
  std::vector<pid_t> ids;
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return ids;
  while (const dirent* entry = ::readdir(dir)) {
    pid_t id;
    if (absl::SimpleAtoi(entry->d_name, &id)) ids.push_back(id);
  }
  ::closedir(dir);
  return ids;
}

// Children lists the children of `pid`, from every thread's list.
std::vector<pid_t> Children(pid_t pid) {
  std::vector<pid_t> children;
  const std::string task = absl::StrCat("/proc/", pid, "/task");
  for (pid_t tid : Entries(task)) {
    for (absl::string_view child :
         absl::StrSplit(ReadFile(absl::StrCat(task, "/", tid, "/children")), ' ',
                        absl::SkipWhitespace())) {
      pid_t id;
      if (absl::SimpleAtoi(child, &id)) children.push_back(id);
    }
  }
  return children;
}

// WaitForChild waits for `pid` to have a child and returns the first.
pid_t WaitForChild(pid_t pid, absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::vector<pid_t> children = Children(pid);
    if (!children.empty()) return children.front();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return -1;
}

class ProcessGuardTest : public ServerTest {
 protected:
  pid_t daemon_pid() const { return daemon_->pid(); }

  // Healthy: the daemon answers a health check within `deadline`.
  bool Healthy(absl::Duration deadline = absl::Seconds(3)) {
    Completed health =
        Ctl({absl::StrCat("--timeout=", absl::FormatDuration(deadline)), "health"});
    return WIFEXITED(health.status) && WEXITSTATUS(health.status) == 0;
  }

  // Console starts a tcp debugging server and a dbgremote at its prompt.
  std::unique_ptr<testing::Subprocess> Console(const std::string& identity) {
    const uint16_t first = FreePortRun(10);
    const uint16_t port = CreateServer(absl::StrCat("tcp:port=", first, ":", first + 9));
    EXPECT_NE(port, 0);
    auto client = Remote(absl::StrCat("tcp:server=localhost,port=", port), identity);
    EXPECT_TRUE(client->WaitForOutput("(gdb)", absl::Seconds(20))) << client->output();
    return client;
  }
};

TEST_F(ProcessGuardTest, CreateSessionRefusesToAttachToTheDaemonItself) {
  StartDaemon("loop");
  const std::vector<pid_t> before = Children(daemon_pid());
  Completed made = Ctl({"--timeout=15s", "create-session",
                        absl::StrCat("--attach=", daemon_pid())});
  EXPECT_EQ(WEXITSTATUS(made.status), 1) << made.output;
  EXPECT_THAT(made.output, HasSubstr(absl::StrCat("attach.pid: PID ", daemon_pid(),
                                                  " is this dbgd daemon")));
  EXPECT_THAT(made.output, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_TRUE(Healthy()) << daemon_->output();
  // Nothing was left behind: no second session, no engine.
  Completed sessions = Ctl({"sessions"});
  EXPECT_THAT(sessions.output, HasSubstr("sessions/1"));
  EXPECT_THAT(sessions.output, Not(HasSubstr("sessions/2")));
  EXPECT_EQ(Children(daemon_pid()), before);
  // A thread of the daemon is the daemon too.
  pid_t thread = 0;
  for (pid_t tid : Entries(absl::StrCat("/proc/", daemon_pid(), "/task"))) {
    if (tid != daemon_pid()) thread = tid;
  }
  ASSERT_NE(thread, 0);
  Completed by_thread =
      Ctl({"--timeout=15s", "create-session", absl::StrCat("--attach=", thread)});
  EXPECT_EQ(WEXITSTATUS(by_thread.status), 1) << by_thread.output;
  EXPECT_THAT(by_thread.output,
              HasSubstr(absl::StrCat("PID ", thread, " is a thread of this dbgd daemon")));
  EXPECT_TRUE(Healthy()) << daemon_->output();
}

TEST_F(ProcessGuardTest, CreateSessionRefusesToAttachToAnAncestorOfTheDaemon) {
  // dbgd under a shell of its own, so that the ancestor is not this test.
  socket_ = dir_.Join("control.sock");
  daemon_ = std::make_unique<Subprocess>(std::vector<std::string>{
      "/bin/sh", "-c", "\"$@\" & wait $!; exit $?", "sh", Dbgd(),
      "--control_listen=unix:" + socket_, "--advertise_host=localhost"});
  ASSERT_TRUE(daemon_->WaitForOutput("dbgd ready", absl::Seconds(30)))
      << daemon_->output();
  const pid_t shell = daemon_->pid();
  const pid_t dbgd = WaitForChild(shell);
  ASSERT_GT(dbgd, 0);
  Completed made =
      Ctl({"--timeout=15s", "create-session", absl::StrCat("--attach=", shell)});
  EXPECT_EQ(WEXITSTATUS(made.status), 1) << made.output;
  EXPECT_THAT(made.output,
              HasSubstr(absl::StrCat("attach.pid: PID ", shell,
                                     " (sh) is an ancestor of this dbgd daemon (PID ",
                                     dbgd, ")")));
  EXPECT_NE(State(shell), 't') << "the shell is being traced";
  EXPECT_THAT(Children(dbgd), ::testing::IsEmpty());
  EXPECT_TRUE(Healthy());
  // The fixture stops dbgd itself; the shell follows it.
  ::kill(dbgd, SIGTERM);
  std::optional<int> status = daemon_->Wait(absl::Seconds(10));
  EXPECT_TRUE(status.has_value()) << daemon_->output();
  daemon_.reset();
}

TEST_F(ProcessGuardTest, AttachTypedInTheConsoleIsRefusedBeforeGdbRunsIt) {
  StartDaemon("loop");
  auto alice = Console("box\\alice");
  alice->WriteStdin(absl::StrCat("attach ", daemon_pid(), "\n"));
  ASSERT_TRUE(alice->WaitForOutput(
      absl::StrCat("*** dbgd: refused \"attach ", daemon_pid(), "\": PID ", daemon_pid(),
                   " is this dbgd daemon"),
      absl::Seconds(5)))
      << alice->output();
  EXPECT_TRUE(Healthy()) << daemon_->output();
  // Spelled otherwise, and sent as a background command, it is the same.
  alice->WriteStdin(absl::StrCat("at 0x", absl::Hex(daemon_pid()), " &\n"));
  ASSERT_TRUE(alice->WaitForOutput(absl::StrCat("refused \"at 0x", absl::Hex(daemon_pid())),
                                   absl::Seconds(5)))
      << alice->output();
  EXPECT_TRUE(Healthy()) << daemon_->output();
  // gdb never attached to it.
  EXPECT_THAT(alice->output(), Not(HasSubstr(absl::StrCat("process ", daemon_pid()))));
  Completed inferiors = Ctl({"exec", "1", "info inferiors"});
  EXPECT_THAT(inferiors.output, Not(HasSubstr(absl::StrCat("process ", daemon_pid()))));
  EXPECT_NE(State(daemon_pid()), 't');
}

TEST_F(ProcessGuardTest, AttachThroughExecuteIsRefused) {
  StartDaemon("loop");
  Completed attach =
      Ctl({"--exec_timeout=15s", "exec", "1", absl::StrCat("attach ", daemon_pid())});
  EXPECT_EQ(WEXITSTATUS(attach.status), 1) << attach.output;
  EXPECT_THAT(attach.output,
              HasSubstr(absl::StrCat("PID ", daemon_pid(), " is this dbgd daemon")));
  EXPECT_TRUE(Healthy()) << daemon_->output();
}

// An attach that dbgd cannot see coming (from gdb's Python, an alias, a
// script): gdb lets go of the daemon as soon as the attach begins, and ends.
TEST_F(ProcessGuardTest, AttachDbgdCannotSeeComingEndsGdbBeforeItHurts) {
  StartDaemon("loop");
  auto alice = Console("box\\alice");
  alice->WriteStdin(
      absl::StrCat("python gdb.execute(\"attach ", daemon_pid(), "\")\n"));
  ASSERT_TRUE(alice->WaitForOutput(absl::StrCat("*** dbgd: gdb began to attach to PID ",
                                                daemon_pid(), ": PID ", daemon_pid(),
                                                " is this dbgd daemon"),
                                   absl::Seconds(10)))
      << alice->output();
  EXPECT_TRUE(Healthy()) << daemon_->output();
  ASSERT_TRUE(alice->WaitForOutput("*** session ended: gdb was killed by signal 9",
                                   absl::Seconds(10)))
      << alice->output();
  EXPECT_TRUE(Healthy()) << daemon_->output();
  EXPECT_NE(State(daemon_pid()), 't');
  EXPECT_NE(State(daemon_pid()), 'T');
  // The daemon goes on: a new session works (and the fixture's SIGTERM
  // checks that it exits cleanly).
  Completed made = Ctl({"create-session", "--launch=" + Target(), "--", "loop"});
  EXPECT_EQ(WEXITSTATUS(made.status), 0) << made.output;
  Completed print = Ctl({"exec", "2", "print 6*7"});
  EXPECT_THAT(print.output, HasSubstr("$1 = 42"));
}

// The same for an ancestor, which gdb stops without stopping dbgd.
TEST_F(ProcessGuardTest, AttachToAnAncestorFromGdbsPythonEndsGdb) {
  socket_ = dir_.Join("control.sock");
  daemon_ = std::make_unique<Subprocess>(std::vector<std::string>{
      "/bin/sh", "-c", "\"$@\" & wait $!; exit $?", "sh", Dbgd(),
      "--control_listen=unix:" + socket_, "--advertise_host=localhost",
      "--launch=" + Target(), "--", "loop"});
  ASSERT_TRUE(daemon_->WaitForOutput("dbgd ready", absl::Seconds(30)))
      << daemon_->output();
  const pid_t shell = daemon_->pid();
  const pid_t dbgd = WaitForChild(shell);
  Completed attach = Ctl({"exec", "1", absl::StrCat("python gdb.execute(\"attach ", shell, "\")")});
  EXPECT_EQ(WEXITSTATUS(attach.status), 1) << attach.output;
  EXPECT_NE(State(shell), 't');
  EXPECT_NE(State(shell), 'T');
  EXPECT_TRUE(Healthy());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  Completed sessions;
  do {
    sessions = Ctl({"sessions"});
  } while (sessions.output.find("ENDED") == std::string::npos && absl::Now() < deadline);
  EXPECT_THAT(sessions.output, HasSubstr("ENDED")) << sessions.output;
  ::kill(dbgd, SIGTERM);
  std::optional<int> status = daemon_->Wait(absl::Seconds(10));
  EXPECT_TRUE(status.has_value()) << daemon_->output();
  daemon_.reset();
}

TEST_F(ProcessGuardTest, EnginesDieWithASigkilledDaemon) {
  socket_ = dir_.Join("control.sock");
  daemon_ = std::make_unique<Subprocess>(std::vector<std::string>{
      Dbgd(), "--control_listen=unix:" + socket_, "--advertise_host=localhost",
      "--engine=command", "--launch=/bin/sh", "--", "-c",
      "trap '' HUP; exec sleep 1000"});
  ASSERT_TRUE(daemon_->WaitForOutput("dbgd ready", absl::Seconds(30)))
      << daemon_->output();
  Completed gdb = Ctl({"create-session", "--run", "--launch=" + Target(), "--", "loop"});
  ASSERT_EQ(WEXITSTATUS(gdb.status), 0) << gdb.output;

  std::vector<pid_t> engines = Children(daemon_pid());
  ASSERT_EQ(engines.size(), 2u);
  // gdb's program, running.
  pid_t debuggee = -1;
  for (pid_t engine : engines) {
    if (absl::StartsWith(ReadFile(absl::StrCat("/proc/", engine, "/comm")), "gdb")) {
      debuggee = WaitForChild(engine);
    }
  }
  ASSERT_GT(debuggee, 0) << "gdb's program";
  absl::SleepFor(absl::Milliseconds(500));  // the shell has run its trap
  ASSERT_FALSE(Dead(engines[0]) || Dead(engines[1]) || Dead(debuggee));

  daemon_->Signal(SIGKILL);
  ASSERT_TRUE(daemon_->Wait(absl::Seconds(5)).has_value());
  daemon_.reset();
  for (pid_t pid : {engines[0], engines[1], debuggee}) {
    EXPECT_TRUE(WaitDead(pid, absl::Seconds(5)))
        << "pid " << pid << " (" << ReadFile(absl::StrCat("/proc/", pid, "/cmdline"))
        << ") outlived the daemon";
    if (!Dead(pid)) ::kill(pid, SIGKILL);
  }
}

TEST_F(ProcessGuardTest, LaunchSessionEndKillsOnlyWhatItLaunched) {
  StartDaemon("loop");
  Subprocess bystander({"/bin/sleep", "1000"});
  auto alice = Console("box\\alice");
  // A process the session attached to and then let go.
  alice->WriteStdin(absl::StrCat("attach ", bystander.pid(), "\n"));
  ASSERT_TRUE(alice->WaitForOutput(absl::StrCat("process ", bystander.pid()),
                                   absl::Seconds(20)))
      << alice->output();
  alice->WriteStdin("detach\n");
  ASSERT_TRUE(alice->WaitForOutput(absl::StrCat("(process ", bystander.pid(), ") detached"),
                                   absl::Seconds(20)))
      << alice->output();
  // The launched program, running.
  alice->WriteStdin("file " + Target() + "\n");
  alice->WriteStdin("run\n");
  ASSERT_TRUE(alice->WaitForOutput("target pid ", absl::Seconds(20))) << alice->output();
  const std::string output = alice->output();
  const size_t at = output.find("target pid ") + std::string("target pid ").size();
  pid_t program = 0;
  ASSERT_TRUE(absl::SimpleAtoi(output.substr(at, output.find(' ', at) - at), &program))
      << output;

  Completed ended = Ctl({"end-session", "1"});
  EXPECT_EQ(WEXITSTATUS(ended.status), 0) << ended.output;
  EXPECT_TRUE(WaitDead(program, absl::Seconds(10))) << "the launched program";
  absl::SleepFor(absl::Seconds(1));
  EXPECT_FALSE(bystander.Wait(absl::ZeroDuration()).has_value())
      << "the session killed a process it had only attached to";
}

TEST_F(ProcessGuardTest, LaunchSessionEndDetachesWhatItAttachedTo) {
  StartDaemon("loop");
  Subprocess bystander({"/bin/sleep", "1000"});
  auto alice = Console("box\\alice");
  alice->WriteStdin(absl::StrCat("attach ", bystander.pid(), "\n"));
  ASSERT_TRUE(alice->WaitForOutput(absl::StrCat("process ", bystander.pid()),
                                   absl::Seconds(20)))
      << alice->output();
  Completed inferiors = Ctl({"exec", "1", "info inferiors"});
  ASSERT_THAT(inferiors.output, HasSubstr(absl::StrCat("process ", bystander.pid())));
  Completed ended = Ctl({"end-session", "1"});
  EXPECT_EQ(WEXITSTATUS(ended.status), 0) << ended.output;
  absl::SleepFor(absl::Seconds(1));
  EXPECT_FALSE(bystander.Wait(absl::ZeroDuration()).has_value())
      << "the session killed a process it had attached to";
  EXPECT_NE(State(bystander.pid()), 't') << "still traced";
}

}  // namespace
}  // namespace dbgd
