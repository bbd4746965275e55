// com debugging servers end to end: the real dbgd, dbgctl and dbgremote on
// the two ends of a null-modem cable made of real PTYs, with real GDB.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/null_modem.h"
#include "tests/server_fixture.h"
#include "transports/com/line.h"
#include "transports/com/packet.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ComTest : public ServerTest {
 protected:
  // A Y cable: the daemon on end A, and two ends B so that two client
  // processes can share the far side of the line (each opens its tty for
  // itself alone).
  ComTest() : cable_(*testing::NullModem::CreateY(2)) {}

  std::string ServerAt(int channel, const std::string& extra = "") const {
    return absl::StrCat("com:port=", cable_->a(), ",baud=115200,channel=", channel, extra);
  }
  std::string ClientAt(int channel, const std::string& extra = "", int end = 0) const {
    return absl::StrCat("com:port=", cable_->b(end), ",baud=115200,channel=", channel,
                        extra);
  }

  // Once runs one command through `spec` and returns what dbgremote said.
  static Completed Once(const std::string& spec, const std::string& command,
                        std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {Dbgremote(), "-remote", spec, "--identity=box\\once",
                                     "--settle=300ms", "-c", command};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunToCompletion(argv);
  }

  const std::unique_ptr<testing::NullModem> cable_;
};

TEST_F(ComTest, AGdbCommandRoundTripsAndTheServerIsListed) {
  StartDaemon();
  const std::string endpoint =
      absl::StrCat("com:Port=", cable_->a(), ",Baud=115200,Channel=1");
  EXPECT_EQ(CreateServerEndpoint(ServerAt(1)), endpoint);
  EXPECT_THAT(Ctl({"servers"}).output, HasSubstr("0 - Debugger Server - " + endpoint));

  Completed served = Once(ClientAt(1), "print 6*7");
  EXPECT_EQ(WEXITSTATUS(served.status), 0) << served.output;
  EXPECT_THAT(served.output, HasSubstr("$1 = 42"));
}

TEST_F(ComTest, TwoChannelsOfOneLineCarryTwoSessionsIndependently) {
  StartDaemon();
  Completed second = Ctl({"create-session", "--launch=" + Target(), "--", "loop"});
  ASSERT_EQ(WEXITSTATUS(second.status), 0) << second.output;
  Completed sessions = Ctl({"sessions"});
  ASSERT_THAT(sessions.output, HasSubstr("sessions/2")) << sessions.output;
  for (int i : {1, 2}) {
    Completed made = Ctl({absl::StrCat("--session=sessions/", i), "create-server", ServerAt(i)});
    ASSERT_EQ(WEXITSTATUS(made.status), 0) << made.output;
  }
  Completed listed = Ctl({"servers"});
  EXPECT_THAT(listed.output, HasSubstr("Channel=1"));
  EXPECT_THAT(listed.output, HasSubstr("Channel=2"));

  // Two client processes, one per channel, each on its own end of the Y.
  auto one = Remote(ClientAt(1, "", 0), "box\\one");
  auto two = Remote(ClientAt(2, "", 1), "box\\two");
  ASSERT_TRUE(one->WaitForOutput("(gdb)", absl::Seconds(20))) << one->output();
  ASSERT_TRUE(two->WaitForOutput("(gdb)", absl::Seconds(20))) << two->output();
  for (int i = 1; i <= 3; ++i) {
    two->WriteStdin(absl::StrCat("print ", i, "+1000\n"));
    one->WriteStdin(absl::StrCat("print ", i, "+2000\n"));
    ASSERT_TRUE(one->WaitForOutput(absl::StrCat("$", i, " = ", i + 2000), absl::Seconds(20)))
        << one->output();
    ASSERT_TRUE(two->WaitForOutput(absl::StrCat("$", i, " = ", i + 1000), absl::Seconds(20)))
        << two->output();
  }
  // Neither saw the other session.
  EXPECT_THAT(one->output(), Not(HasSubstr("box\\two")));
  EXPECT_THAT(one->output(), Not(HasSubstr("+1000")));
  EXPECT_THAT(two->output(), Not(HasSubstr("+2000")));
  Completed clients = Ctl({"clients"});
  EXPECT_THAT(clients.output, HasSubstr("box\\one"));
  EXPECT_THAT(clients.output, HasSubstr("box\\two"));

  // One leaving does not disturb the other.
  one->CloseStdin();
  EXPECT_EQ(ExitCode(*one), 0) << one->output();
  two->WriteStdin("print 99\n");
  ASSERT_TRUE(two->WaitForOutput("$4 = 99", absl::Seconds(20))) << two->output();
  two->CloseStdin();
  EXPECT_EQ(ExitCode(*two), 0) << two->output();
}

TEST_F(ComTest, OneClientLeavesAndAnotherAttachesOnTheSameChannel) {
  StartDaemon("crash", {"--com_idle_timeout=1500ms"});
  ASSERT_FALSE(CreateServerEndpoint(ServerAt(2, ",password=Secret1")).empty());
  const std::string spec = ClientAt(2, ",password=Secret1");

  auto alice = Remote(spec, "box\\alice");
  ASSERT_TRUE(alice->WaitForOutput("(gdb)", absl::Seconds(20))) << alice->output();
  alice->WriteStdin("break crash_here\n");
  ASSERT_TRUE(alice->WaitForOutput("Breakpoint 1 at", absl::Seconds(20))) << alice->output();
  EXPECT_THAT(Ctl({"clients"}).output, HasSubstr("box\\alice"));
  EXPECT_THAT(Ctl({"clients"}).output, HasSubstr("com:" + cable_->a()));
  alice->CloseStdin();  // she says goodbye
  EXPECT_EQ(ExitCode(*alice), 0) << alice->output();

  // Bob attaches on the same channel, without restarting the server, and
  // reads the history.
  auto bob = Remote(spec, "box\\bob");
  ASSERT_TRUE(bob->WaitForOutput("Breakpoint 1 at", absl::Seconds(20))) << bob->output();
  bob->WriteStdin("run\n");
  ASSERT_TRUE(bob->WaitForOutput("Breakpoint 1, crash_here ()", absl::Seconds(30)))
      << bob->output();

  // Bob vanishes without a word (no Bye, no CLOSE): his session ends after
  // the idle time, and Carol gets the channel.
  bob->Signal(SIGKILL);
  ExitCode(*bob);
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::StrContains(Ctl({"clients"}).output, "box\\bob") && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_THAT(Ctl({"clients"}).output, Not(HasSubstr("box\\bob")));
  Completed carol = Once(spec, "bt", {"--com_idle_timeout=1500ms"});
  EXPECT_EQ(WEXITSTATUS(carol.status), 0) << carol.output;
  EXPECT_THAT(carol.output, HasSubstr("in main ("));
}

TEST_F(ComTest, ARestartedClientNeedNotWaitForTheIdleTime) {
  StartDaemon();  // a 30 s idle time
  ASSERT_FALSE(CreateServerEndpoint(ServerAt(3)).empty());
  auto first = Remote(ClientAt(3), "box\\first");
  ASSERT_TRUE(first->WaitForOutput("(gdb)", absl::Seconds(20))) << first->output();
  first->Signal(SIGKILL);
  ExitCode(*first);
  // Its successor's OPEN ends the old session at once.
  Completed next = Once(ClientAt(3), "print 2+2");
  EXPECT_EQ(WEXITSTATUS(next.status), 0) << next.output;
  EXPECT_THAT(next.output, HasSubstr("$1 = 4"));
}

TEST_F(ComTest, NoiseBetweenAndInsidePacketsIsDroppedCountedAndSurvived) {
  StartDaemon("crash", {"--com_idle_timeout=1500ms"});
  ASSERT_FALSE(CreateServerEndpoint(ServerAt(4)).empty());

  // Toward the server: garbage before every chunk, and every other
  // keepalive damaged inside (losing a keepalive costs nothing; losing a
  // command would cost the command).
  std::string keepalive;
  {
    const char body[2] = {static_cast<char>(transports::com::ControlOp::kKeepalive), 4};
    keepalive = transports::com::EncodeBody(transports::com::kControlChannel,
                                            std::string(body, 2));
  }
  auto keepalives = std::make_shared<std::atomic<int>>(0);
  cable_->SetFilterBtoA([keepalive, keepalives](std::string chunk) {
    std::string noisy = "\x13\x37garbage\x7f\xff";
    noisy.push_back('\0');
    if (chunk == keepalive && (keepalives->fetch_add(1) % 2 == 0)) {
      chunk[3] ^= 0x40;  // inside the packet, between its delimiters
    }
    return noisy + chunk;
  });

  auto alice = Remote(ClientAt(4), "box\\alice", {"--com_idle_timeout=1500ms"});
  ASSERT_TRUE(alice->WaitForOutput("(gdb)", absl::Seconds(20))) << alice->output();
  for (int i = 1; i <= 5; ++i) {
    alice->WriteStdin(absl::StrCat("print ", i, "*100\n"));
    ASSERT_TRUE(alice->WaitForOutput(absl::StrCat("$", i, " = ", i * 100), absl::Seconds(20)))
        << alice->output();
  }
  // Quiet for a while: keepalives, half of them damaged, keep the session.
  absl::SleepFor(absl::Seconds(3));
  EXPECT_GE(keepalives->load(), 2);
  alice->WriteStdin("print 7*7\n");
  ASSERT_TRUE(alice->WaitForOutput("$6 = 49", absl::Seconds(20))) << alice->output();

  Completed listed = Ctl({"--json", "servers"});
  const size_t at = listed.output.find("\"damaged_packets\": \"");
  ASSERT_NE(at, std::string::npos) << listed.output;
  const int damaged = std::atoi(listed.output.c_str() + at + 20);
  EXPECT_GE(damaged, 5) << listed.output;
  EXPECT_THAT(Ctl({"servers"}).output, HasSubstr("damaged packets dropped"));
  alice->CloseStdin();
  EXPECT_EQ(ExitCode(*alice), 0) << alice->output();
}

TEST_F(ComTest, AServerWhoseLineHangsUpFailsOnceInsteadOfRetryingForEver) {
  StartDaemon();
  absl::StatusOr<std::unique_ptr<testing::NullModem>> cable = testing::NullModem::Create();
  ASSERT_TRUE(cable.ok()) << cable.status();
  CreateServerEndpoint(absl::StrCat("com:port=", (*cable)->a(), ",baud=115200,channel=1"));
  cable->reset();  // the cable is pulled: the daemon's end reads a hangup
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::string listed;
  while (absl::Now() < deadline) {
    listed = Ctl({"--json", "servers"}).output;
    if (absl::StrContains(listed, "\"FAILED\"")) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_THAT(listed, HasSubstr("\"state\": \"FAILED\""));
  EXPECT_THAT(listed, HasSubstr("serial line"));
  absl::SleepFor(absl::Milliseconds(500));
  const std::string log = daemon_->output();
  size_t lines = 0;
  for (size_t at = log.find("accept"); at != std::string::npos; at = log.find("accept", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << "one line, not a retry loop:\n" << log;
}

TEST_F(ComTest, ANonStandardRateIsSetAndShown) {
  StartDaemon();
  EXPECT_EQ(CreateServerEndpoint(absl::StrCat("com:port=", cable_->a(),
                                              ",baud=250000,channel=5")),
            absl::StrCat("com:Port=", cable_->a(), ",Baud=250000,Channel=5"));
  Completed served = Once(absl::StrCat("com:port=", cable_->b(), ",baud=250000,channel=5"),
                          "print 3*3");
  EXPECT_THAT(served.output, HasSubstr("$1 = 9"));
}

TEST_F(ComTest, DevicesOutsideTheAllowListNeedComAllow) {
  StartDaemon("crash", {"--com_allow=/dev/zero"});
  Completed refused = Ctl({"create-server", "com:port=/dev/null,baud=9600,channel=0"});
  EXPECT_NE(WEXITSTATUS(refused.status), 0);
  EXPECT_THAT(refused.output, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(refused.output, HasSubstr("--com_allow"));
  // What --com_allow lets in is opened, and must still be a terminal.
  Completed opened = Ctl({"create-server", "com:port=/dev/zero,baud=9600,channel=0"});
  EXPECT_NE(WEXITSTATUS(opened.status), 0);
  EXPECT_THAT(opened.output, HasSubstr("/dev/zero is not a terminal"));
  EXPECT_THAT(Ctl({"servers"}).output, HasSubstr("No active servers."));
}

TEST_F(ComTest, ASecondServerOnTheSameChannelIsRefused) {
  StartDaemon();
  ASSERT_FALSE(CreateServerEndpoint(ServerAt(6)).empty());
  Completed again = Ctl({"create-server", ServerAt(6)});
  EXPECT_NE(WEXITSTATUS(again.status), 0);
  EXPECT_THAT(again.output, HasSubstr("ALREADY_EXISTS"));
  EXPECT_THAT(again.output, HasSubstr("channel: 6"));
  // Ending the server frees its channel (and, being the line's last, the line).
  ASSERT_EQ(WEXITSTATUS(Ctl({"end-server", "0"}).status), 0);
  EXPECT_FALSE(CreateServerEndpoint(ServerAt(6)).empty());
}

}  // namespace
}  // namespace dbgd
