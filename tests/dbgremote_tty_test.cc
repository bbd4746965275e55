// Interactive dbgremote on a real terminal (a PTY pair): typed commands,
// Ctrl+C breaking into the running target, Ctrl+B leaving the session; and
// an observer on a read-only server, whose Ctrl+C and lines are refused.

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "session/pty.h"
#include "testing/ports.h"
#include "testing/socket_dir.h"
#include "testing/subprocess.h"

namespace dbgd {
namespace {

using testing::RunfilePath;
using testing::Subprocess;

// Terminal: dbgremote on the slave side of a PTY, the test on the master.
class Terminal {
 public:
  explicit Terminal(const std::vector<std::string>& argv) {
    absl::StatusOr<session::PtyPair> pty = session::OpenPty(session::PtyMode::kTerminal);
    if (!pty.ok()) return;
    master_ = std::move(pty->master);
    absl::StatusOr<session::SpawnedProcess> spawned =
        session::SpawnOnPty({.argv = argv, .env = {{"TERM", "dumb"}}}, pty->slave.get());
    if (spawned.ok()) pid_ = spawned->pid;
  }

  ~Terminal() {
    if (pid_ > 0 && !exit_status_.has_value()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  bool started() const { return pid_ > 0; }

  void Type(const std::string& keys) {
    ASSERT_EQ(::write(master_.get(), keys.data(), keys.size()),
              static_cast<ssize_t>(keys.size()));
  }

  // WaitFor reads the screen until it shows `needle` after the last match,
  // or `timeout` passes.
  bool WaitFor(const std::string& needle, absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      if (screen_.find(needle, seen_) != std::string::npos) {
        seen_ = screen_.find(needle, seen_) + needle.size();
        return true;
      }
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      pollfd pfd{master_.get(), POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(master_.get(), buffer, sizeof buffer);
      if (n <= 0) return false;  // EIO: the slave side closed
      screen_.append(buffer, static_cast<size_t>(n));
    }
  }

  // ExitCode waits for dbgremote to exit; -1 if it does not within `timeout`.
  int ExitCode(absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_status_ = status;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      // Keep the master drained so the child never blocks on output.
      WaitFor("\x01never\x01", absl::Milliseconds(50));
    }
    return -1;
  }

  const std::string& screen() const { return screen_; }

 private:
  UniqueFd master_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::string screen_;
  size_t seen_ = 0;
};

TEST(DbgremoteTtyTest, TypedCommandsCtrlCBreaksAndCtrlBLeaves) {
  testing::SocketDir dir;
  const uint16_t port = testing::FreePortRun(1);
  ASSERT_NE(port, 0);
  Subprocess daemon({RunfilePath("server/dbgd"),
                     "--control_listen=unix:" + dir.Join("control.sock"),
                     "--launch=" + RunfilePath("tests/programs/target"),
                     absl::StrCat("--server=tcp:port=", port), "--", "loop"});
  ASSERT_TRUE(daemon.WaitForOutput("dbgd ready", absl::Seconds(30))) << daemon.output();

  Terminal terminal({RunfilePath("client/dbgremote"), "-remote",
                     absl::StrCat("tcp:server=localhost,port=", port),
                     "--identity=box\\alice"});
  ASSERT_TRUE(terminal.started());
  ASSERT_TRUE(terminal.WaitFor("(gdb)")) << terminal.screen();

  // A typed command, and its answer.
  terminal.Type("print 6*7\r");
  ASSERT_TRUE(terminal.WaitFor("$1 = 42")) << terminal.screen();

  // Ctrl+C while the target runs: the terminal signals dbgremote, which
  // sends a Break, and GDB stops the target.
  terminal.Type("run\r");
  ASSERT_TRUE(terminal.WaitFor("Starting program")) << terminal.screen();
  absl::SleepFor(absl::Milliseconds(300));
  terminal.Type("\x03");
  ASSERT_TRUE(terminal.WaitFor("SIGINT")) << terminal.screen();

  // Still in, still typing.
  terminal.Type("print 1+1\r");
  ASSERT_TRUE(terminal.WaitFor("$2 = 2")) << terminal.screen();

  // Ctrl+B leaves; the session goes on without us.
  terminal.Type("\x02");
  EXPECT_EQ(terminal.ExitCode(), 0) << terminal.screen();
  // The daemon sees the Bye after the client has gone: wait for its line.
  EXPECT_TRUE(daemon.WaitForOutput("box\\alice) disconnected", absl::Seconds(10)))
      << daemon.output();

  daemon.Signal(SIGTERM);
  std::optional<int> status = daemon.Wait(absl::Seconds(15));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << daemon.output();
}

TEST(DbgremoteTtyTest, ObserversCtrlCAndTypedLinesAreRefusedAndTheTargetRunsOn) {
  testing::SocketDir dir;
  const uint16_t port = testing::FreePortRun(2);
  ASSERT_NE(port, 0);
  Subprocess daemon({RunfilePath("server/dbgd"),
                     "--control_listen=unix:" + dir.Join("control.sock"),
                     "--launch=" + RunfilePath("tests/programs/target"),
                     absl::StrCat("--server=tcp:port=", port, ";tcp:port=", port + 1,
                                  ",readonly"),
                     "--", "loop"});
  ASSERT_TRUE(daemon.WaitForOutput("dbgd ready", absl::Seconds(30))) << daemon.output();

  Terminal alice({RunfilePath("client/dbgremote"), "-remote",
                  absl::StrCat("tcp:server=localhost,port=", port), "--identity=box\\alice"});
  ASSERT_TRUE(alice.started());
  ASSERT_TRUE(alice.WaitFor("(gdb)")) << alice.screen();
  Terminal eve({RunfilePath("client/dbgremote"), "-remote",
                absl::StrCat("tcp:server=localhost,port=", port + 1), "--identity=box\\eve"});
  ASSERT_TRUE(eve.started());
  ASSERT_TRUE(eve.WaitFor("read-only: this server accepts no input; you are an observer"))
      << eve.screen();
  ASSERT_TRUE(eve.WaitFor("(gdb)")) << eve.screen();
  ASSERT_TRUE(alice.WaitFor("*** box\\eve (observer) connected")) << alice.screen();

  alice.Type("run\r");
  ASSERT_TRUE(alice.WaitFor("Starting program")) << alice.screen();
  ASSERT_TRUE(eve.WaitFor("Starting program")) << eve.screen();
  absl::SleepFor(absl::Milliseconds(300));

  // Eve's Ctrl+C and her typed line are refused, and she is told.
  eve.Type("\x03");
  ASSERT_TRUE(eve.WaitFor("*** break refused: this server is read-only (you are an observer)"))
      << eve.screen();
  eve.Type("print 1+1\r");
  ASSERT_TRUE(eve.WaitFor("*** input refused: this server is read-only (you are an observer)"))
      << eve.screen();

  // The target runs on: no SIGINT until Alice breaks in, and then both see it.
  EXPECT_FALSE(alice.WaitFor("SIGINT", absl::Seconds(1))) << alice.screen();
  alice.Type("\x03");
  ASSERT_TRUE(alice.WaitFor("SIGINT")) << alice.screen();
  ASSERT_TRUE(eve.WaitFor("SIGINT")) << eve.screen();
  EXPECT_THAT(alice.screen(), ::testing::Not(::testing::HasSubstr("box\\eve:")));
  EXPECT_THAT(alice.screen(), ::testing::Not(::testing::HasSubstr("refused")));

  eve.Type("\x02");
  EXPECT_EQ(eve.ExitCode(), 0) << eve.screen();
  ASSERT_TRUE(alice.WaitFor("*** box\\eve (observer) left")) << alice.screen();
  alice.Type("\x02");
  EXPECT_EQ(alice.ExitCode(), 0) << alice.screen();

  daemon.Signal(SIGTERM);
  std::optional<int> status = daemon.Wait(absl::Seconds(15));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << daemon.output();
}

}  // namespace
}  // namespace dbgd
