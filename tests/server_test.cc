// TCP debugging servers end to end: the real dbgd, dbgctl and dbgremote
// binaries, real sockets, real GDB on a real program.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/ports.h"
#include "testing/socket_dir.h"
#include "testing/subprocess.h"
#include "tests/server_fixture.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Completed;
using testing::RunfilePath;
using testing::RunToCompletion;
using testing::FreePortRun;
using testing::HeldPort;
using testing::Subprocess;

TEST_F(ServerTest, TwoClientsShareTheConsoleAndALateJoinerGetsHistory) {
  StartDaemon();
  const uint16_t first = FreePortRun(10);
  const uint16_t port = CreateServer(absl::StrCat("tcp:port=", first, ":", first + 9));
  ASSERT_NE(port, 0);
  const std::string spec = absl::StrCat("tcp:server=localhost,port=", port);

  // Alice is in (her replay ends at the prompt) before Bob comes, so she
  // sees him arrive.
  auto alice = Remote(spec, "box\\alice");
  ASSERT_TRUE(alice->WaitForOutput("(gdb)", absl::Seconds(20))) << alice->output();
  auto bob = Remote(spec, "box\\bob");
  ASSERT_TRUE(alice->WaitForOutput("*** box\\bob connected", absl::Seconds(20)))
      << alice->output();

  alice->WriteStdin("break crash_here\n");
  ASSERT_TRUE(alice->WaitForOutput("Breakpoint 1 at", absl::Seconds(20))) << alice->output();
  alice->WriteStdin("run\n");
  ASSERT_TRUE(alice->WaitForOutput("Breakpoint 1, crash_here ()", absl::Seconds(30)))
      << alice->output();
  ASSERT_TRUE(bob->WaitForOutput("Breakpoint 1, crash_here ()", absl::Seconds(30)))
      << bob->output();
  EXPECT_THAT(bob->output(), HasSubstr("*** box\\alice: break crash_here"));
  EXPECT_THAT(bob->output(), HasSubstr("*** box\\alice: run"));
  EXPECT_THAT(alice->output(), Not(HasSubstr("*** box\\alice: run")));

  // Bob types too; Alice sees who.
  bob->WriteStdin("bt\n");
  ASSERT_TRUE(alice->WaitForOutput("*** box\\bob: bt", absl::Seconds(20)));
  ASSERT_TRUE(alice->WaitForOutput("in main (", absl::Seconds(20))) << alice->output();

  Completed clients = Ctl({"clients"});
  EXPECT_THAT(clients.output, HasSubstr("box\\alice"));
  EXPECT_THAT(clients.output, HasSubstr("box\\bob"));

  // A late joiner reads the history, then leaves at EOF.
  auto carol = Remote(spec, "box\\carol");
  carol->CloseStdin();
  EXPECT_EQ(ExitCode(*carol), 0) << carol->output();
  EXPECT_THAT(carol->output(), HasSubstr("Breakpoint 1, crash_here ()"));
  EXPECT_THAT(carol->output(), HasSubstr("in main ("));

  alice->CloseStdin();
  bob->CloseStdin();
  EXPECT_EQ(ExitCode(*alice), 0) << alice->output();
  EXPECT_EQ(ExitCode(*bob), 0) << bob->output();
}

TEST_F(ServerTest, PortRangeSkipsBusyPortsAndListsTheActualPort) {
  StartDaemon();
  const uint16_t p = FreePortRun(10);
  ASSERT_NE(p, 0);
  HeldPort first(p), second(static_cast<uint16_t>(p + 1));
  ASSERT_TRUE(first.ok() && second.ok());

  Completed made = Ctl({"create-server", absl::StrCat("tcp:port=", p, ":", p + 9)});
  ASSERT_EQ(WEXITSTATUS(made.status), 0) << made.output;
  EXPECT_THAT(made.output,
              HasSubstr("Server started.  Client can connect with any of these "
                        "command lines"));
  EXPECT_THAT(made.output, HasSubstr(absl::StrCat(
                               "0: dbgremote -remote tcp:server=localhost,port=", p + 2)));

  Completed listed = Ctl({"servers"});
  EXPECT_THAT(listed.output,
              HasSubstr(absl::StrCat("0 - Debugger Server - tcp:Port=", p + 2, ":", p + 9)));
}

TEST_F(ServerTest, FullRangeIsResourceExhaustedAndLeavesNoServer) {
  StartDaemon();
  const uint16_t p = FreePortRun(2);
  HeldPort first(p), second(static_cast<uint16_t>(p + 1));
  ASSERT_TRUE(first.ok() && second.ok());
  Completed full = Ctl({"create-server", absl::StrCat("tcp:port=", p, ":", p + 1)});
  EXPECT_EQ(WEXITSTATUS(full.status), 1);
  EXPECT_THAT(full.output, HasSubstr("RESOURCE_EXHAUSTED"));
  EXPECT_THAT(full.output, HasSubstr(absl::StrCat(p, ":", p + 1)));
  EXPECT_THAT(Ctl({"servers"}).output, HasSubstr("No active servers."));

  // The refused spec used no ID: the next server is still 0.
  Completed made = Ctl({"create-server", absl::StrCat("tcp:port=", FreePortRun(1))});
  EXPECT_THAT(made.output, HasSubstr("0: dbgremote"));

  // A TLS server whose certificate is not in the store is refused before
  // anything listens.
  Completed other = Ctl({"create-server", absl::StrCat("ssl:proto=tls1,certuser=nosuch,port=",
                                                       FreePortRun(1))});
  EXPECT_THAT(other.output, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(other.output, HasSubstr("certuser: no certificate \"nosuch\""));
}

TEST_F(ServerTest, EndsrvKeepsConnectedClientsAndRefusesNewOnes) {
  StartDaemon();
  const uint16_t port = CreateServer(absl::StrCat("tcp:port=", FreePortRun(1)));
  const std::string spec = absl::StrCat("tcp:server=localhost,port=", port);
  auto alice = Remote(spec, "box\\alice");
  ASSERT_TRUE(alice->WaitForOutput("(gdb)", absl::Seconds(20))) << alice->output();

  Completed ended = Ctl({"end-server", "0"});
  ASSERT_EQ(WEXITSTATUS(ended.status), 0) << ended.output;
  EXPECT_THAT(Ctl({"servers"}).output, HasSubstr("0 - <Disabled, exit pending>"));

  alice->WriteStdin("print 6*7\n");
  EXPECT_TRUE(alice->WaitForOutput("$1 = 42", absl::Seconds(20))) << alice->output();

  auto late = Remote(spec, "box\\late");
  late->CloseStdin();
  EXPECT_EQ(ExitCode(*late), kExitConnect) << late->output();

  alice->CloseStdin();
  EXPECT_EQ(ExitCode(*alice), 0);
  // Its last client gone, the ended server leaves the list.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_THAT(Ctl({"servers"}).output, HasSubstr("No active servers."));
}

TEST_F(ServerTest, ReverseConnectionWithTheClientStartedFirst) {
  StartDaemon();
  const uint16_t p = FreePortRun(5);
  auto client = Remote(absl::StrCat("tcp:clicon=localhost,port=", p, ":", p + 4),
                       "box\\rev");
  ASSERT_TRUE(client->WaitForOutput("on port ", absl::Seconds(20))) << client->output();
  const std::string out = client->output();
  int port = 0;
  const size_t at = out.find("on port ") + 8;
  ASSERT_TRUE(absl::SimpleAtoi(out.substr(at, out.find_first_not_of("0123456789", at) - at), &port));
  EXPECT_GE(port, p);

  Completed made = Ctl({"create-server", absl::StrCat("tcp:port=", port, ",clicon=localhost")});
  ASSERT_EQ(WEXITSTATUS(made.status), 0) << made.output;
  ASSERT_TRUE(client->WaitForOutput("(gdb)", absl::Seconds(20))) << client->output();
  client->WriteStdin("print 1+1\n");
  EXPECT_TRUE(client->WaitForOutput("$1 = 2", absl::Seconds(20))) << client->output();
  EXPECT_THAT(Ctl({"--json", "servers"}).output, HasSubstr("CONNECTED"));
  // Reverse servers are never listed as connectable, but the daemon shows
  // them to its operator.
  client->CloseStdin();
  EXPECT_EQ(ExitCode(*client), 0) << client->output();
}

TEST_F(ServerTest, ReverseConnectionWithTheServerStartedFirst) {
  StartDaemon();
  const uint16_t port = FreePortRun(1);
  Completed made = Ctl({"create-server", absl::StrCat("tcp:port=", port, ",clicon=localhost")});
  ASSERT_EQ(WEXITSTATUS(made.status), 0) << made.output;
  absl::SleepFor(absl::Milliseconds(700));  // a few refused attempts
  EXPECT_THAT(Ctl({"--json", "servers"}).output, HasSubstr("CONNECTING"));

  auto client = Remote(absl::StrCat("tcp:clicon=localhost,port=", port), "box\\rev");
  ASSERT_TRUE(client->WaitForOutput("(gdb)", absl::Seconds(20))) << client->output();
  client->WriteStdin("print 2+2\n");
  EXPECT_TRUE(client->WaitForOutput("$1 = 4", absl::Seconds(20))) << client->output();
  client->CloseStdin();
  EXPECT_EQ(ExitCode(*client), 0) << client->output();
}

TEST_F(ServerTest, WrongPasswordsAreRefusedAndRepeatedFailuresLockTheSourceOut) {
  StartDaemon("crash", {"--auth_failure_delay=100ms", "--auth_max_failures=3",
                        "--auth_lockout=60s"});
  const uint16_t port = CreateServer(absl::StrCat("tcp:port=", FreePortRun(1), ",password=Secret1"));
  const std::string v4 = absl::StrCat("tcp:server=127.0.0.1,port=", port);

  for (int i = 0; i < 3; ++i) {
    auto wrong = Remote(v4 + ",password=secret1", "box\\mallory");
    wrong->CloseStdin();
    EXPECT_EQ(ExitCode(*wrong), kExitAuth) << wrong->output();
    EXPECT_THAT(wrong->output(), HasSubstr("authentication failed"));
  }
  auto missing = Remote(v4, "box\\mallory");
  missing->CloseStdin();
  EXPECT_EQ(ExitCode(*missing), kExitAuth) << missing->output();

  // Locked out: even the right password is refused from this source...
  auto locked = Remote(v4 + ",password=Secret1", "box\\alice");
  locked->CloseStdin();
  EXPECT_EQ(ExitCode(*locked), kExitAuth) << locked->output();
  EXPECT_THAT(locked->output(), HasSubstr("too many failed attempts"));

  // ...but works from another one (IPv6 loopback is another source).
  auto other = Remote(absl::StrCat("tcp:server=::1,port=", port, ",password=Secret1"),
                      "box\\alice");
  other->WriteStdin("print 3*3\n");
  other->CloseStdin();
  EXPECT_EQ(ExitCode(*other), 0) << other->output();
  EXPECT_THAT(other->output(), HasSubstr("$1 = 9"));
  EXPECT_THAT(daemon_->output(), Not(HasSubstr("Secret1")))
      << "passwords are never logged";
}

TEST_F(ServerTest, Ipversion6ServesIpv6ClientsOnly) {
  StartDaemon();
  const uint16_t port = CreateServer(absl::StrCat("tcp:port=", FreePortRun(1), ",ipversion=6"));
  Completed listed = Ctl({"servers"});
  EXPECT_THAT(listed.output, HasSubstr(absl::StrCat("tcp:Port=", port, ",IpVersion=6")));

  auto v6 = Remote(absl::StrCat("tcp:server=::1,port=", port, ",ipversion=6"), "box\\six");
  v6->WriteStdin("print 5*5\n");
  v6->CloseStdin();
  EXPECT_EQ(ExitCode(*v6), 0) << v6->output();
  EXPECT_THAT(v6->output(), HasSubstr("$1 = 25"));

  auto v4 = Remote(absl::StrCat("tcp:server=127.0.0.1,port=", port), "box\\four");
  v4->CloseStdin();
  EXPECT_EQ(ExitCode(*v4), kExitConnect) << v4->output();
}

// RawConnect opens a plain TCP connection to 127.0.0.1:port.
int RawConnect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// ReadUntilClosed reads until the server closes the connection (true) or
// `timeout` passes (false).
bool ReadUntilClosed(int fd, absl::Duration timeout) {
  timeval tv{static_cast<time_t>(absl::ToInt64Seconds(timeout)), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

TEST_F(ServerTest, GarbageAndBrokenClientsAreDroppedWhileOthersKeepWorking) {
  StartDaemon();
  const uint16_t port = CreateServer(absl::StrCat("tcp:port=", FreePortRun(1)));
  auto alice = Remote(absl::StrCat("tcp:server=localhost,port=", port), "box\\alice");
  ASSERT_TRUE(alice->WaitForOutput("(gdb)", absl::Seconds(20)));

  // Garbage bytes.
  int garbage = RawConnect(port);
  ASSERT_GE(garbage, 0);
  const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(garbage, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  EXPECT_TRUE(ReadUntilClosed(garbage, absl::Seconds(15)));
  ::close(garbage);

  // A length prefix of 4 GiB.
  int huge = RawConnect(port);
  const unsigned char prefix[4] = {0xff, 0xff, 0xff, 0xff};
  ASSERT_EQ(::write(huge, prefix, 4), 4);
  EXPECT_TRUE(ReadUntilClosed(huge, absl::Seconds(15)));
  ::close(huge);

  // A client vanishing mid-frame.
  int half = RawConnect(port);
  const unsigned char partial[6] = {0, 0, 0, 40, 0x0a, 0x05};
  ASSERT_EQ(::write(half, partial, 6), 6);
  ::close(half);

  alice->WriteStdin("print 7*6\n");
  EXPECT_TRUE(alice->WaitForOutput("$1 = 42", absl::Seconds(20))) << alice->output();
  Completed clients = Ctl({"clients"});
  EXPECT_THAT(clients.output, HasSubstr("box\\alice"));
  alice->CloseStdin();
  EXPECT_EQ(ExitCode(*alice), 0);
}

TEST_F(ServerTest, DisconnectClientAndSessionEndReachTheClients) {
  StartDaemon();
  const uint16_t port = CreateServer(absl::StrCat("tcp:port=", FreePortRun(1)));
  const std::string spec = absl::StrCat("tcp:server=localhost,port=", port);
  auto alice = Remote(spec, "box\\alice");
  auto bob = Remote(spec, "box\\bob");
  ASSERT_TRUE(alice->WaitForOutput("(gdb)", absl::Seconds(20)));
  ASSERT_TRUE(bob->WaitForOutput("(gdb)", absl::Seconds(20)));

  // Bob's resource name is in the entry that holds his identity.
  Completed listed = Ctl({"--json", "clients"});
  std::string bob_name;
  for (size_t pos = listed.output.find("\"name\": \"clients/"); pos != std::string::npos;
       pos = listed.output.find("\"name\": \"clients/", pos + 1)) {
    const size_t end = listed.output.find('"', pos + 9);
    const std::string name = listed.output.substr(pos + 9, end - pos - 9);
    const size_t next = listed.output.find("\"name\": \"clients/", pos + 1);
    if (listed.output.substr(pos, next - pos).find("box\\\\bob") != std::string::npos) {
      bob_name = name;
    }
  }
  ASSERT_FALSE(bob_name.empty()) << listed.output;
  Completed dropped = Ctl({"disconnect-client", bob_name});
  ASSERT_EQ(WEXITSTATUS(dropped.status), 0) << dropped.output;
  EXPECT_EQ(ExitCode(*bob), 6) << bob->output();
  EXPECT_THAT(bob->output(), HasSubstr("*** disconnected: disconnected by the server's operator"));
  EXPECT_TRUE(alice->WaitForOutput("*** box\\bob left", absl::Seconds(20))) << alice->output();

  // quit ends the session for everyone.
  alice->WriteStdin("quit\n");
  EXPECT_TRUE(alice->WaitForOutput("*** session ended: gdb exited with status 0",
                                   absl::Seconds(20)))
      << alice->output();
  EXPECT_EQ(ExitCode(*alice), 6) << "the server ended the connection";
  EXPECT_THAT(Ctl({"servers"}).output, HasSubstr("No active servers."));
}

TEST_F(ServerTest, StartupServerFlag) {
  const uint16_t port = FreePortRun(1);
  StartDaemon("crash", {absl::StrCat("--server=tcp:port=", port, ",password=abc123")});
  EXPECT_THAT(daemon_->output(), HasSubstr(absl::StrCat("0 - Debugger Server - tcp:Port=", port, ",Password=*")));
  auto client = Remote(absl::StrCat("tcp:server=localhost,port=", port, ",password=abc123"),
                       "box\\alice");
  client->WriteStdin("info line crash_here\n");
  client->CloseStdin();
  EXPECT_EQ(ExitCode(*client), 0) << client->output();
  EXPECT_THAT(client->output(), HasSubstr("target.c"));
}

TEST_F(ServerTest, BindAddressAndAdvertisedPortsForNatAndContainers) {
  const uint16_t port = FreePortRun(1);
  StartDaemon("crash", {"--server_bind_address=127.0.0.1", "--advertise_host=gateway",
                        absl::StrCat("--advertise_ports=", port + 10000, ":", port)});
  CreateServer(absl::StrCat("tcp:port=", port));
  EXPECT_THAT(Ctl({"servers"}).output, HasSubstr(absl::StrCat("tcp:Port=", port)))
      << ".servers shows the port the server listens on";
  Completed json = Ctl({"--json", "servers"});
  EXPECT_THAT(json.output, HasSubstr(absl::StrCat("\"advertised_endpoint\": \"tcp:Port=",
                                                  port + 10000, "\"")));
  EXPECT_THAT(json.output, HasSubstr(absl::StrCat("\"connect_string\": \"tcp:server=gateway,port=",
                                                  port + 10000)));
  Completed search = Ctl({"--json", "search", "gateway"});
  EXPECT_THAT(search.output, HasSubstr(absl::StrCat("\"endpoint\": \"tcp:Port=", port + 10000)))
      << "discovery lists the port clients elsewhere use";

  auto client = Remote(absl::StrCat("tcp:server=127.0.0.1,port=", port), "box\\alice");
  client->WriteStdin("print 6*7\n");
  client->CloseStdin();
  EXPECT_EQ(ExitCode(*client), 0) << client->output();
  EXPECT_THAT(client->output(), HasSubstr("$1 = 42"));
  // Only the one address listens: not the rest of the loopback network.
  auto elsewhere = Remote(absl::StrCat("tcp:server=127.0.0.2,port=", port), "box\\bob");
  elsewhere->CloseStdin();
  EXPECT_EQ(ExitCode(*elsewhere), kExitConnect) << elsewhere->output();
}

}  // namespace
}  // namespace dbgd
