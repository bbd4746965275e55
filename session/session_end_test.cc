// How a session ends: everything the engine printed before it exited
// reaches every attached client, in order, before the SESSION_ENDED notice.
// Real PTYs, a real program (`seq`) that prints fast and exits at once.

#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/event_loop.h"
#include "common/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "session/hub.h"
#include "session/session.h"

namespace dbgd::session {
namespace {

using v1::wire::Notice;

constexpr int kLines = 300000;

// SeqOutput is what the console shows: the echoed "go", then `seq 1 n`,
// with the terminal's line endings.
std::string SeqOutput(int n) {
  std::string text = "go\r\n";
  for (int i = 1; i <= n; ++i) absl::StrAppend(&text, i, "\r\n");
  return text;
}

// Received is what one client got: its output bytes (replay and live, in
// order), the notices, and whatever arrived after SESSION_ENDED.
struct Received {
  std::string output;
  bool ended = false;
  std::string end_reason;
  int frames_after_end = 0;
  bool timed_out = false;
};

Received ReadUntilClosed(HubClient& client, absl::Duration timeout) {
  Received received;
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      received.timed_out = true;
      return received;
    }
    FramePtr frame = client.WaitPop(left);
    if (frame == nullptr) {
      if (client.closed() && client.queued_bytes() == 0) return received;
      continue;
    }
    if (received.ended) {
      ++received.frames_after_end;
    } else if (frame->has_output()) {
      received.output += frame->output().data();
    } else if (frame->has_notice() &&
               frame->notice().kind() == Notice::SESSION_ENDED) {
      received.ended = true;
      received.end_reason = frame->notice().text();
    }
  }
}

// FirstDifference describes where `got` departs from `want`, briefly.
std::string FirstDifference(const std::string& want, const std::string& got) {
  size_t at = 0;
  while (at < want.size() && at < got.size() && want[at] == got[at]) ++at;
  const size_t from = at < 16 ? 0 : at - 16;
  return absl::StrCat("want ", want.size(), " bytes, got ", got.size(),
                      "; first difference at byte ", at, ": want \"",
                      absl::CEscape(want.substr(from, 32)), "\", got \"",
                      absl::CEscape(got.substr(from, 32)), "\"");
}

class SessionEndTest : public ::testing::Test {
 protected:
  SessionEndTest() : loop_(2) {}
  ~SessionEndTest() override { loop_.Stop(); }

  // StartShell starts a `command` session running `script` with sh.
  absl::StatusOr<std::shared_ptr<Session>> StartShell(const std::string& script) {
    SessionOptions options;
    options.id = absl::StrCat(++next_id_);
    options.engine = "command";
    v1::LaunchTarget& launch = *options.target.mutable_launch();
    launch.set_program("sh");
    launch.add_args("-c");
    launch.add_args(script);
    // Shared with the callback, which may outlive a wait that timed out.
    struct Started {
      dbgd::Notification done;
      absl::StatusOr<std::shared_ptr<Session>> session;
    };
    auto started = std::make_shared<Started>();
    Session::Start(loop_.context(), std::move(options), nullptr,
                   [started](absl::StatusOr<std::shared_ptr<Session>> session) {
                     started->session = std::move(session);
                     started->done.Notify();
                   });
    if (!started->done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
      return absl::DeadlineExceededError("the session did not start in 30 s");
    }
    return started->session;
  }

  EventLoop loop_;
  int next_id_ = 0;
};

// A defect once seen: the engine's exit was handled as soon as it was
// seen, and the console closed with its last bytes still unread.
TEST_F(SessionEndTest, EveryByteBeforeTheExitReachesTheClientBeforeTheEnd) {
  const std::string want = SeqOutput(kLines);
  constexpr int kIterations = 15;
  int lost = 0;
  for (int i = 0; i < kIterations; ++i) {
    // It waits for a line, so that the client is attached before the first
    // byte, then prints as fast as it can and exits.
    absl::StatusOr<std::shared_ptr<Session>> session =
        StartShell(absl::StrCat("read go; exec seq 1 ", kLines));
    ASSERT_TRUE(session.ok()) << session.status();
    std::shared_ptr<HubClient> client = (*session)->hub().Attach("tester");
    client->Input("go");
    Received received = ReadUntilClosed(*client, absl::Seconds(60));
    ASSERT_FALSE(received.timed_out) << "iteration " << i;
    EXPECT_TRUE(received.ended) << "iteration " << i;
    EXPECT_EQ(received.end_reason, "command exited with status 0")
        << "iteration " << i;
    EXPECT_EQ(received.frames_after_end, 0) << "iteration " << i;
    if (received.output != want) {
      ++lost;
      ADD_FAILURE() << "iteration " << i << ": "
                    << FirstDifference(want, received.output);
    }
    EXPECT_TRUE((*session)->ended());
    EXPECT_EQ((*session)->Describe().state(), v1::Session::ENDED);
  }
  EXPECT_EQ(lost, 0) << "of " << kIterations << " runs";
}

// A process that left the engine's group with the terminal still open
// keeps the console from reaching its end; the session ends anyway, soon,
// with what was printed before the exit.
TEST_F(SessionEndTest, AnEscapedHolderOfTheTerminalDelaysTheEndOnlyBriefly) {
  // Not a group leader, `setsid` execs sleep itself: $! is sleep's pid.
  // The shell exits only once sleep leads a session of its own (field 6 of
  // /proc/PID/stat): before that, the SIGHUP of the shell's exit or the
  // session's SIGKILL of the group would still reach it.
  absl::StatusOr<std::shared_ptr<Session>> session = StartShell(
      "read go; setsid sleep 60 & "
      "while [ \"$(cut -d' ' -f6 /proc/$!/stat)\" != $! ]; do :; done; "
      "echo \"escaped $!\"; echo last words");
  ASSERT_TRUE(session.ok()) << session.status();
  std::shared_ptr<HubClient> client = (*session)->hub().Attach("tester");
  const absl::Time start = absl::Now();
  client->Input("go");
  Received received = ReadUntilClosed(*client, absl::Seconds(30));
  const absl::Duration took = absl::Now() - start;

  pid_t escaped = -1;
  const size_t at = received.output.find("escaped ");
  if (at != std::string::npos) {
    (void)absl::SimpleAtoi(
        received.output.substr(at + 8, received.output.find('\r', at) - at - 8),
        &escaped);
  }
  if (escaped > 0) ::kill(escaped, SIGKILL);  // not the session's any more

  ASSERT_FALSE(received.timed_out);
  EXPECT_GT(escaped, 0) << received.output;
  EXPECT_TRUE(received.ended);
  EXPECT_THAT(received.output, ::testing::EndsWith("last words\r\n"));
  EXPECT_EQ(received.frames_after_end, 0);
  // It waited for the console's end, then gave up (kDrainLimit, 2 s).
  EXPECT_GT(took, absl::Seconds(1));
  EXPECT_LT(took, absl::Seconds(10));
}

}  // namespace
}  // namespace dbgd::session
