// ExampleTest: runs an example client script (examples/python,
// examples/node) against a real dbgd and checks what it printed and what it
// left behind.
//
// The daemon has a start-up gdb session with one server and answers at most
// one item a page (--max_page_size=1), so the script's lists and search only
// show everything when it follows next_page_token. The script launches
// examples/program/answer under gdb, makes a tcp server on a port the test
// picks, breaks in multiply(6, 7) and prints a * b through Execute; after it
// the daemon must list only its start-up session and server.

#ifndef DBGD_EXAMPLES_EXAMPLE_TEST_H_
#define DBGD_EXAMPLES_EXAMPLE_TEST_H_

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/ports.h"
#include "testing/socket_dir.h"
#include "testing/subprocess.h"

namespace dbgd {

using ::testing::HasSubstr;
using testing::Completed;
using testing::RunfilePath;
using testing::RunToCompletion;
using testing::Subprocess;

inline constexpr char kHost[] = "examples-host";

class ExampleTest : public ::testing::Test {
 protected:
  // The command line that runs the example with `args` (its options).
  virtual std::vector<std::string> Command(const std::vector<std::string>& args) = 0;

  static std::string TmpDir() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    return tmp != nullptr ? tmp : "/tmp";
  }

  // Starts dbgd on a Unix socket, or on loopback TCP with a bearer token.
  void StartDaemon(bool tcp_with_token) {
    const uint16_t ports = testing::FreePortRun(2);
    ASSERT_NE(ports, 0) << "no two free ports";
    startup_port_ = ports;
    port_ = ports + 1;
    std::vector<std::string> argv = {RunfilePath("server/dbgd"),
                                      "--advertise_host=" + std::string(kHost),
                                      "--max_page_size=1",
                                      "--launch=" + Program(),
                                      absl::StrCat("--server=tcp:port=", startup_port_)};
    if (tcp_with_token) {
      token_file_ = TmpDir() + "/token";
      std::ofstream(token_file_) << "example-token-0123456789abcdef\n";
      ASSERT_EQ(::chmod(token_file_.c_str(), 0600), 0);
      argv.push_back("--control_listen=127.0.0.1:0");
      argv.push_back("--control_token_file=" + token_file_);
    } else {
      argv.push_back("--control_listen=unix:" + dir_.Join("control.sock"));
    }
    daemon_ = std::make_unique<Subprocess>(argv);
    ASSERT_TRUE(daemon_->WaitForOutput("dbgd ready", absl::Seconds(30)))
        << daemon_->output();
    if (tcp_with_token) {
      const std::string output = daemon_->output();
      const std::string marker = "control plane listening on ";
      const size_t at = output.find(marker);
      ASSERT_NE(at, std::string::npos) << output;
      const size_t start = at + marker.size();
      address_ = output.substr(start, output.find(' ', start) - start);
      ASSERT_THAT(address_, ::testing::StartsWith("127.0.0.1:"));
    } else {
      address_ = "unix:" + dir_.Join("control.sock");
    }
  }

  ~ExampleTest() override {
    if (daemon_ != nullptr) {
      daemon_->Signal(SIGTERM);
      std::optional<int> status = daemon_->Wait(absl::Seconds(15));
      EXPECT_TRUE(status.has_value() && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << daemon_->output();
    }
  }

  static std::string Program() { return RunfilePath("examples/program/answer"); }

  // Runs the example: its whole flow, with three debugger commands.
  Completed RunExample(bool with_token = true) {
    std::vector<std::string> args = {"--addr=" + address_, "--program=" + Program(),
                                     absl::StrCat("--server=tcp:port=", port_),
                                     "--exec=break multiply", "--exec=run",
                                     "--exec=print a * b", "--exec=info frame"};
    if (with_token && !token_file_.empty()) args.push_back("--token_file=" + token_file_);
    return RunToCompletion(Command(args), absl::Minutes(2));
  }

  // Checks the example's output line by line, and that nothing it made is
  // left in the daemon.
  void ExpectFullFlow(const Completed& run) {
    const std::string& out = run.output;
    ASSERT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0)
        << "status " << run.status << "\n" << out << "\n--- dbgd:\n" << daemon_->output();
    std::fputs(out.c_str(), stdout);
    EXPECT_THAT(out, HasSubstr("health dbgd.v1.Control: SERVING\n"));

    // The session: a name sessions/N with a numeric N after the start-up
    // session's 1, and a live engine.
    std::smatch created;
    ASSERT_TRUE(std::regex_search(
        out, created, std::regex(R"(created (sessions/([0-9]+)): gdb, engine pid ([0-9]+)\n)")))
        << out;
    const std::string session = created[1];
    EXPECT_NE(session, "sessions/1") << out;
    int engine_pid = 0;
    ASSERT_TRUE(absl::SimpleAtoi(std::string(created[3]), &engine_pid)) << out;
    EXPECT_GT(engine_pid, 0);

    // The server on exactly the port asked for, and its connect string.
    const std::string endpoint = absl::StrCat("tcp:Port=", port_);
    const std::string connect = absl::StrCat("tcp:server=", kHost, ",port=", port_);
    EXPECT_THAT(out, HasSubstr(absl::StrCat("created servers/1: ", endpoint,
                                            ", connect with -remote ", connect, "\n")));

    // Lists and search: both entries, though a page holds one.
    EXPECT_THAT(out, HasSubstr("sessions:\n  sessions/1 READY servers 1 " + Program() + "\n  " +
                               session + " READY servers 1 " + Program() + "\n"));
    EXPECT_THAT(out, HasSubstr(absl::StrCat("servers:\n  servers/0 sessions/1 tcp:Port=",
                                            startup_port_, " LISTENING\n  servers/1 ", session,
                                            " ", endpoint, " LISTENING\n")));
    const std::string found = absl::StrCat("  \\\\", kHost, " Debugger Server - ");
    EXPECT_THAT(out, HasSubstr(absl::StrCat(found, "tcp:Port=", startup_port_)));
    EXPECT_THAT(out, HasSubstr(found + endpoint + " (" + connect + ")\n"));

    // Execute: gdb really ran the program to the breakpoint.
    EXPECT_THAT(out, HasSubstr("execute 'break multiply':\nBreakpoint 1 at "));
    EXPECT_THAT(out, HasSubstr("Breakpoint 1, multiply (a=6, b=7) at "));
    EXPECT_THAT(out, HasSubstr("execute 'print a * b':\n$1 = 42\n"));
    EXPECT_THAT(out, HasSubstr("execute 'info frame':\nStack level 0, frame at 0x"));
    EXPECT_THAT(out, HasSubstr(" in multiply ("));
    EXPECT_THAT(out, HasSubstr("ended servers/1\nended " + session + "\n"));

    ExpectOnlyStartupLeft();
    // The session's gdb is gone too (dbgd reaps it).
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (::kill(engine_pid, 0) == 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_NE(::kill(engine_pid, 0), 0) << "gdb " << engine_pid << " still runs";
  }

  // The daemon lists its start-up session and server, and nothing else.
  void ExpectOnlyStartupLeft() {
    EXPECT_EQ(Names("sessions"), std::vector<std::string>{"sessions/1"});
    EXPECT_EQ(Names("servers"), std::vector<std::string>{"servers/0"});
  }

  // The names dbgctl lists (`sessions` or `servers`), every page.
  std::vector<std::string> Names(const std::string& what) {
    std::vector<std::string> argv = {RunfilePath("client/dbgctl"), "--addr=" + address_,
                                     "--json"};
    if (!token_file_.empty()) argv.push_back("--token_file=" + token_file_);
    argv.push_back(what);
    Completed listed = RunToCompletion(argv);
    EXPECT_EQ(listed.status, 0) << listed.output;
    std::vector<std::string> names;
    const std::regex name("\"name\": \"(" + what + "/[0-9]+)\"");
    for (std::sregex_iterator it(listed.output.begin(), listed.output.end(), name), end;
         it != end; ++it) {
      names.push_back((*it)[1]);
    }
    return names;
  }

  testing::SocketDir dir_;
  std::unique_ptr<Subprocess> daemon_;
  std::string address_;
  std::string token_file_;
  uint16_t startup_port_ = 0;
  uint16_t port_ = 0;
};

}  // namespace dbgd

#endif  // DBGD_EXAMPLES_EXAMPLE_TEST_H_
