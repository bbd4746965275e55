// npipe debugging servers end to end: the real dbgd, dbgctl and dbgremote,
// real Unix sockets in a pipe directory the test makes, real GDB.

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_fixture.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

bool Exists(const std::string& path) {
  struct stat info;
  return lstat(path.c_str(), &info) == 0;
}

class NpipeTest : public ServerTest {
 protected:
  NpipeTest() : pipes_(dir_.Join("pipes")) {}

  void Start(std::vector<std::string> extra = {}) {
    extra.push_back("--pipe_dir=" + pipes_);
    StartDaemon("crash", extra);
  }

  std::unique_ptr<Subprocess> Pipe(const std::string& spec,
                                   const std::string& identity) {
    return Remote(spec, identity, {"--pipe_dir=" + pipes_});
  }

  // Served runs one command through `spec` and returns what dbgremote said.
  Completed Served(const std::string& spec, const std::string& command) {
    return RunToCompletion({Dbgremote(), "-remote", spec, "--identity=box\\once",
                            "--pipe_dir=" + pipes_, "--settle=300ms", "-c", command});
  }

  const std::string pipes_;
};

TEST_F(NpipeTest, TwoClientsShareTheConsoleAndALateJoinerGetsHistory) {
  Start();
  EXPECT_EQ(CreateServerEndpoint("npipe:pipe=rabbit"), "npipe:Pipe=rabbit");
  struct stat info;
  ASSERT_EQ(lstat((pipes_ + "/rabbit").c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_THAT(Ctl({"servers"}).output, HasSubstr("0 - Debugger Server - npipe:Pipe=rabbit"));

  const std::string spec = "npipe:server=.,pipe=rabbit";
  auto alice = Pipe(spec, "box\\alice");
  ASSERT_TRUE(alice->WaitForOutput("(gdb)", absl::Seconds(20))) << alice->output();
  auto bob = Pipe("npipe:server=localhost,pipe=rabbit", "box\\bob");
  ASSERT_TRUE(alice->WaitForOutput("*** box\\bob connected", absl::Seconds(20)))
      << alice->output();

  alice->WriteStdin("break crash_here\n");
  ASSERT_TRUE(alice->WaitForOutput("Breakpoint 1 at", absl::Seconds(20))) << alice->output();
  bob->WriteStdin("run\n");
  ASSERT_TRUE(alice->WaitForOutput("Breakpoint 1, crash_here ()", absl::Seconds(30)))
      << alice->output();
  ASSERT_TRUE(bob->WaitForOutput("Breakpoint 1, crash_here ()", absl::Seconds(30)))
      << bob->output();
  EXPECT_THAT(alice->output(), HasSubstr("*** box\\bob: run"));

  // The peer is named by its uid.
  const std::string uid = absl::StrCat("unix:uid=", getuid());
  EXPECT_THAT(Ctl({"clients"}).output, HasSubstr(uid));

  auto carol = Pipe(spec, "box\\carol");
  carol->CloseStdin();
  EXPECT_EQ(ExitCode(*carol), 0) << carol->output();
  EXPECT_THAT(carol->output(), HasSubstr("Breakpoint 1, crash_here ()"));

  alice->CloseStdin();
  bob->CloseStdin();
  EXPECT_EQ(ExitCode(*alice), 0) << alice->output();
  EXPECT_EQ(ExitCode(*bob), 0) << bob->output();
}

TEST_F(NpipeTest, ANameInUseIsRefusedByThisDaemonAndBySecondOne) {
  Start();
  ASSERT_EQ(CreateServerEndpoint("npipe:pipe=rabbit"), "npipe:Pipe=rabbit");
  Completed again = Ctl({"create-server", "npipe:pipe=rabbit"});
  EXPECT_NE(WEXITSTATUS(again.status), 0);
  EXPECT_THAT(again.output, HasSubstr("rabbit is in use"));

  // A second daemon sharing the pipe directory.
  testing::SocketDir other_dir;
  const std::string other_socket = other_dir.Join("control.sock");
  Subprocess other({Dbgd(), "--control_listen=unix:" + other_socket,
                    "--pipe_dir=" + pipes_, "--launch=" + Target(), "--", "crash"});
  ASSERT_TRUE(other.WaitForOutput("dbgd ready", absl::Seconds(30))) << other.output();
  Completed theirs = RunToCompletion({Dbgctl(), "--addr=unix:" + other_socket,
                                      "create-server", "npipe:pipe=rabbit"});
  EXPECT_NE(WEXITSTATUS(theirs.status), 0);
  EXPECT_THAT(theirs.output, HasSubstr("ALREADY_EXISTS"));
  EXPECT_THAT(theirs.output, HasSubstr("rabbit is in use"));
  EXPECT_THAT(RunToCompletion({Dbgctl(), "--addr=unix:" + other_socket, "servers"}).output,
              HasSubstr("No active servers."));
  other.Signal(SIGTERM);
  EXPECT_EQ(ExitCode(other), 0) << other.output();

  // The first server's socket survived both attempts.
  Completed served = Served("npipe:server=.,pipe=rabbit", "print 6*7");
  EXPECT_THAT(served.output, HasSubstr("$1 = 42"));
}

TEST_F(NpipeTest, AStaleSocketLeftByACrashedDaemonIsReclaimed) {
  ASSERT_EQ(mkdir(pipes_.c_str(), 0700), 0);
  const std::string path = pipes_ + "/rabbit";
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof(address.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  close(fd);  // the file stays; nobody listens

  Start();
  ASSERT_EQ(CreateServerEndpoint("npipe:pipe=rabbit"), "npipe:Pipe=rabbit");
  EXPECT_THAT(Served("npipe:server=.,pipe=rabbit", "print 2+3").output,
              HasSubstr("$1 = 5"));
}

TEST_F(NpipeTest, AFormatCodeBecomesTheDaemonsPid) {
  Start();
  const std::string pipe = absl::StrCat("dbgpipe", daemon_->pid());
  EXPECT_EQ(CreateServerEndpoint("npipe:pipe=dbgpipe%d"), "npipe:Pipe=" + pipe);
  EXPECT_TRUE(Exists(pipes_ + "/" + pipe));
  EXPECT_THAT(Ctl({"servers"}).output, HasSubstr("npipe:Pipe=" + pipe));
  EXPECT_THAT(Served("npipe:server=.,pipe=" + pipe, "print 1+1").output,
              HasSubstr("$1 = 2"));
}

TEST_F(NpipeTest, BadNamesAreRefusedNamingTheRuleAndLeaveNothing) {
  Start();
  for (const auto& [spec, reason] : std::vector<std::pair<std::string, std::string>>{
           {"npipe:pipe=a b", "space"},
           {"npipe:pipe=a\"b", "quot"},
           {"npipe:pipe=a/b", "/"},
           {"npipe:pipe=p%s", "%s"},
           {"npipe:pipe=p%d%d%d", "more than two"}}) {
    SCOPED_TRACE(spec);
    Completed made = Ctl({"create-server", spec});
    EXPECT_NE(WEXITSTATUS(made.status), 0);
    EXPECT_THAT(made.output, HasSubstr("pipe"));
    EXPECT_THAT(made.output, HasSubstr(reason));
  }
  EXPECT_THAT(Ctl({"servers"}).output, HasSubstr("No active servers."));
}

TEST_F(NpipeTest, TheSocketGoesWithEndsrvAndWithTheDaemon) {
  Start();
  ASSERT_EQ(CreateServerEndpoint("npipe:pipe=first"), "npipe:Pipe=first");
  ASSERT_EQ(CreateServerEndpoint("npipe:pipe=second"), "npipe:Pipe=second");
  ASSERT_TRUE(Exists(pipes_ + "/first"));
  ASSERT_EQ(WEXITSTATUS(Ctl({"end-server", "0"}).status), 0);
  EXPECT_FALSE(Exists(pipes_ + "/first")) << "still there after .endsrv";
  EXPECT_TRUE(Exists(pipes_ + "/second"));

  daemon_->Signal(SIGTERM);
  EXPECT_EQ(ExitCode(*daemon_), 0) << daemon_->output();
  daemon_.reset();
  EXPECT_FALSE(Exists(pipes_ + "/second")) << "still there after SIGTERM";
}

TEST_F(NpipeTest, TheSocketGoesWithItsSession) {
  Start();
  ASSERT_EQ(CreateServerEndpoint("npipe:pipe=rabbit"), "npipe:Pipe=rabbit");
  Completed sessions = Ctl({"sessions"});
  ASSERT_EQ(WEXITSTATUS(Ctl({"end-session", "1"}).status), 0) << sessions.output;
  for (int i = 0; i < 50 && Exists(pipes_ + "/rabbit"); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_FALSE(Exists(pipes_ + "/rabbit"));
}

TEST_F(NpipeTest, PasswordAndLockoutGoByTheUid) {
  Start({"--auth_failure_delay=50ms", "--auth_max_failures=2", "--auth_lockout=60s"});
  ASSERT_EQ(CreateServerEndpoint("npipe:pipe=rabbit,password=Secret1"),
            "npipe:Pipe=rabbit,Password=*");
  EXPECT_THAT(Served("npipe:server=.,pipe=rabbit,password=Secret1", "print 4*4").output,
              HasSubstr("$1 = 16"));
  for (int i = 0; i < 2; ++i) {
    Completed wrong = Served("npipe:server=.,pipe=rabbit,password=wrong", "print 1");
    EXPECT_EQ(WEXITSTATUS(wrong.status), kExitAuth) << wrong.output;
  }
  Completed locked = Served("npipe:server=.,pipe=rabbit,password=Secret1", "print 1");
  EXPECT_EQ(WEXITSTATUS(locked.status), kExitAuth) << locked.output;
  EXPECT_THAT(locked.output,
              HasSubstr(absl::StrCat("too many failed attempts from unix:uid=", getuid())));
}

TEST_F(NpipeTest, ClientsSayWhatIsWrong) {
  Start();
  Completed remote = Served("npipe:server=box17,pipe=rabbit", "print 1");
  EXPECT_NE(WEXITSTATUS(remote.status), 0);
  EXPECT_THAT(remote.output, HasSubstr("this host only"));
  EXPECT_THAT(remote.output, HasSubstr("tcp: or ssl:"));

  Completed missing = Served("npipe:server=.,pipe=nobody", "print 1");
  EXPECT_EQ(WEXITSTATUS(missing.status), kExitConnect) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("pipe nobody in " + pipes_));
}

TEST_F(NpipeTest, IcfEnableIsReportedAsNotApplicable) {
  Start();
  ASSERT_EQ(CreateServerEndpoint("npipe:pipe=rabbit,IcfEnable"), "npipe:Pipe=rabbit");
  Completed listed = Ctl({"--json", "servers"});
  EXPECT_THAT(listed.output, HasSubstr("does not apply to npipe"));
}

}  // namespace
}  // namespace dbgd
