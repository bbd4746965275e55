// The console's input path end to end (docs/protocol.md §6.2): a real dbgd
// with real gdb and `command` sessions, driven over tcp by a client that
// sends raw frames (so that it can send what dbgremote never would) and by
// the real dbgremote.
//
// What a line may hold, and that what the others are shown is what the
// engine gets; that input waiting for an engine that does not read is
// bounded, refused beyond the bound, and stalls nobody; that each line is
// echoed once; that anonymous clients are attributed; and that a Bye's
// reason reaches the others, shown, never obeyed.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "dbgd/v1/wire.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/frame_codec.h"
#include "testing/ports.h"
#include "tests/server_fixture.h"
#include "testing/proc_stats.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using v1::wire::Frame;
using v1::wire::Notice;

// WireClient speaks the remote protocol over tcp with blocking sockets:
// the handshake (no password), then a thread that reads every frame.
class WireClient {
 public:
  static std::unique_ptr<WireClient> Connect(uint16_t port, const std::string& identity) {
    auto client = std::unique_ptr<WireClient>(new WireClient());
    client->fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(client->fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ADD_FAILURE() << "connect to port " << port << ": " << errno;
      return nullptr;
    }
    Frame hello;
    hello.mutable_client_hello()->set_protocol_version(1);
    hello.mutable_client_hello()->set_identity(identity);
    client->Send(hello);
    client->reader_ = std::thread([c = client.get()] { c->ReadLoop(); });
    // Joined once the server's AuthResult{ok} is here.
    if (!client->WaitFor([](const Frame& f) { return f.has_auth_result(); },
                         absl::Seconds(30))) {
      ADD_FAILURE() << "no AuthResult from port " << port;
      return nullptr;
    }
    return client;
  }

  ~WireClient() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    if (reader_.joinable()) reader_.join();
    ::close(fd_);
  }

  void Send(const Frame& frame) {
    const std::string bytes = protocol::EncodeFrame(frame);
    for (size_t at = 0; at < bytes.size();) {
      const ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) {
        ADD_FAILURE() << "send failed: " << errno;
        return;
      }
      at += static_cast<size_t>(n);
    }
  }
  void Input(const std::string& line) {
    Frame frame;
    frame.mutable_input()->set_line(line);
    Send(frame);
  }
  void Bye(const std::string& reason) {
    Frame frame;
    frame.mutable_bye()->set_reason(reason);
    Send(frame);
  }

  // WaitFor waits until a frame received (so far, or within `timeout`)
  // matches; each frame is offered once, in order.
  template <typename Predicate>
  bool WaitFor(Predicate predicate, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    size_t seen = 0;
    while (true) {
      bool closed;
      {
        absl::MutexLock lock(&mu_);
        for (; seen < frames_.size(); ++seen) {
          if (predicate(frames_[seen])) return true;
        }
        closed = closed_;
      }
      if (closed || absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
  bool WaitForOutput(const std::string& needle, absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (absl::StrContains(Output(), needle)) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::StrContains(Output(), needle);
  }
  bool WaitForNotice(Notice::Kind kind, const std::string& part,
                     absl::Duration timeout = absl::Seconds(30)) {
    return WaitFor(
        [&](const Frame& f) {
          return f.has_notice() && f.notice().kind() == kind &&
                 absl::StrContains(f.notice().text(), part);
        },
        timeout);
  }

  std::string Output() {
    absl::MutexLock lock(&mu_);
    std::string out;
    for (const Frame& frame : frames_) {
      if (frame.has_output()) out += frame.output().data();
    }
    return out;
  }
  std::vector<Notice> Notices(Notice::Kind kind) {
    absl::MutexLock lock(&mu_);
    std::vector<Notice> notices;
    for (const Frame& frame : frames_) {
      if (frame.has_notice() && frame.notice().kind() == kind) notices.push_back(frame.notice());
    }
    return notices;
  }

 private:
  WireClient() = default;

  void ReadLoop() {
    protocol::FrameDecoder decoder;
    char buffer[64 * 1024];
    while (!stop_) {
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      decoder.Append(absl::string_view(buffer, static_cast<size_t>(n)));
      while (true) {
        absl::StatusOr<std::optional<Frame>> frame = decoder.Next();
        if (!frame.ok() || !frame->has_value()) break;
        absl::MutexLock lock(&mu_);
        frames_.push_back(**std::move(frame));
      }
    }
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

  int fd_ = -1;
  std::thread reader_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::vector<Frame> frames_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// Count is how many times `needle` occurs in `text`.
size_t Count(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

// RssBytes is a process's resident set size, from /proc.
size_t RssBytes(pid_t pid) {
  const int64_t kib = testing::ResidentKib(pid);
  if (kib < 0) ADD_FAILURE() << "no VmRSS for " << pid;
  return kib < 0 ? 0 : static_cast<size_t>(kib) * 1024;
}

class InputTest : public ServerTest {
 protected:
  // Server makes a tcp server for `session` and returns its port.
  uint16_t Server(const std::string& session) {
    const uint16_t port = testing::FreePort();
    Completed made = Ctl({"--session=" + session, "create-server",
                          absl::StrCat("tcp:port=", port)});
    EXPECT_EQ(WEXITSTATUS(made.status), 0) << made.output;
    return port;
  }
  // CommandSession makes a `command` session running argv; its name.
  std::string CommandSession(std::vector<std::string> argv) {
    std::vector<std::string> args = {"create-session", "--engine=command",
                                     "--launch=" + argv[0], "--"};
    args.insert(args.end(), argv.begin() + 1, argv.end());
    Completed made = Ctl(args);
    EXPECT_EQ(WEXITSTATUS(made.status), 0) << made.output;
    return made.output.substr(0, made.output.find(':'));
  }
};

// --- What a line may hold ---------------------------------------------------

TEST_F(InputTest, ControlCharactersAreRefusedAndReachNeitherTheEngineNorTheOthers) {
  const std::string audit_log = dir_.Join("audit.log");
  StartDaemon("crash", {"--audit_log=" + audit_log});
  const uint16_t port = Server("sessions/1");
  auto ada = WireClient::Connect(port, "box\\ada");
  auto mallory = WireClient::Connect(port, "box\\mallory");
  ASSERT_NE(ada, nullptr);
  ASSERT_NE(mallory, nullptr);
  ASSERT_TRUE(mallory->WaitForNotice(Notice::HISTORY_END, ""));
  const std::string pwned = dir_.Join("pwned");

  // A forged attribution line for ada, and a line that shows one command
  // and would run two.
  mallory->Input("print 1\x1b[2K\r*** box\\ada: print 2");
  mallory->Input("print 1\rshell touch " + pwned);
  ASSERT_TRUE(mallory->WaitForNotice(Notice::INPUT_REFUSED,
                                     "control character 0x0d at byte 7"));
  const std::vector<Notice> refused = mallory->Notices(Notice::INPUT_REFUSED);
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0].text(),
            "input refused: control character 0x1b at byte 7; nothing was sent");

  // Then a good line: once its output is there, the others are over.
  mallory->Input("print 6*7");
  ASSERT_TRUE(ada->WaitForOutput("= 42")) << ada->Output();
  std::vector<std::string> commands;
  for (const Notice& notice : ada->Notices(Notice::COMMAND)) {
    commands.push_back(absl::StrCat(notice.identity(), ": ", notice.text()));
  }
  EXPECT_THAT(commands, ::testing::ElementsAre("box\\mallory: print 6*7"));
  EXPECT_THAT(ada->Output(), Not(HasSubstr("\x1b[2K")));
  EXPECT_THAT(ada->Output(), Not(HasSubstr("= 1\r")));  // print 1 never ran
  EXPECT_NE(::access(pwned.c_str(), F_OK), 0) << "gdb ran the hidden shell command";

  // The audit trail says it was refused and why, and shows the text
  // without obeying it.
  std::ifstream file(audit_log);
  const std::string audit((std::istreambuf_iterator<char>(file)), {});
  EXPECT_THAT(audit, HasSubstr("client_input_refused"));
  EXPECT_THAT(audit, HasSubstr("refused: control character 0x1b at byte 7"));
  EXPECT_THAT(audit, HasSubstr("^[[2K^M"));
  EXPECT_THAT(audit, Not(HasSubstr("\x1b[2K")));
}

TEST_F(InputTest, TheLongestLineReachesTheEngineWholeAndALongerOneIsRefused) {
  StartDaemon();
  const std::string session = CommandSession({"/bin/cat"});
  const uint16_t port = Server(session);
  auto typist = WireClient::Connect(port, "box\\typist");
  auto other = WireClient::Connect(port, "box\\other");
  ASSERT_NE(typist, nullptr);
  ASSERT_NE(other, nullptr);

  typist->Input(std::string(5000, 'y'));
  ASSERT_TRUE(typist->WaitForNotice(
      Notice::INPUT_REFUSED,
      "input refused: a line of 5000 bytes at byte 0 (the limit is 4095)"));

  const std::string longest = "<" + std::string(4093, 'x') + ">";
  ASSERT_EQ(longest.size(), 4095u);
  typist->Input(longest);
  // cat prints back exactly what it read: the whole line.
  ASSERT_TRUE(other->WaitForOutput(longest + "\r\n")) << other->Output().size();
  const std::vector<Notice> commands = other->Notices(Notice::COMMAND);
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(commands[0].text(), longest);
  EXPECT_THAT(other->Output(), Not(HasSubstr("yyyy")));
}

// --- Echo -------------------------------------------------------------------

TEST_F(InputTest, GdbEchoesALineOnceAtItsPromptAndTypeaheadTwice) {
  StartDaemon();
  const uint16_t port = Server("sessions/1");
  auto typist = WireClient::Connect(port, "box\\typist");
  ASSERT_NE(typist, nullptr);
  ASSERT_TRUE(typist->WaitForOutput("(gdb) "));
  // At the prompt: readline's echo alone.
  typist->Input("print 123454+1");
  ASSERT_TRUE(typist->WaitForOutput("= 123455\r\n(gdb) ")) << typist->Output();
  EXPECT_EQ(Count(typist->Output(), "print 123454+1\r\n"), 1u) << typist->Output();

  // Typed while gdb runs a command: the terminal's echo, then readline's.
  typist->Input("shell sleep 2");
  ASSERT_TRUE(typist->WaitForOutput("shell sleep 2\r\n")) << typist->Output();
  typist->Input("print 2*3*7");
  ASSERT_TRUE(typist->WaitForOutput("= 42\r\n")) << typist->Output();
  EXPECT_EQ(Count(typist->Output(), "print 2*3*7\r\n"), 2u) << typist->Output();
}

TEST_F(InputTest, AConsoleProgramGetsTheTerminalsEchoOnceAndPrintsWhatItReads) {
  StartDaemon();
  const uint16_t port = Server(CommandSession({"/bin/cat"}));
  auto typist = WireClient::Connect(port, "box\\typist");
  ASSERT_NE(typist, nullptr);
  typist->Input("first-line");
  ASSERT_TRUE(typist->WaitForOutput("first-line\r\nfirst-line\r\n")) << typist->Output();
  absl::SleepFor(absl::Milliseconds(500));  // a third copy would be here by now
  EXPECT_EQ(typist->Output(), "first-line\r\nfirst-line\r\n");
}

TEST_F(InputTest, LldbEchoesALineOnceAtItsPromptAndRefusesControlCharacters) {
  StartDaemon();
  Completed made = Ctl({"create-session", "--engine=lldb", "--launch=" + Target()});
  ASSERT_EQ(WEXITSTATUS(made.status), 0) << made.output;
  const uint16_t port = Server(made.output.substr(0, made.output.find(':')));
  auto typist = WireClient::Connect(port, "box\\typist");
  auto other = WireClient::Connect(port, "box\\other");
  ASSERT_NE(typist, nullptr);
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(typist->WaitForOutput("(lldb) ")) << typist->Output();
  typist->Input("p 1\rp 2");
  ASSERT_TRUE(typist->WaitForNotice(Notice::INPUT_REFUSED,
                                    "input refused: control character 0x0d at byte 3"));
  typist->Input("p 6*7");
  ASSERT_TRUE(other->WaitForOutput("= 42\r\n")) << other->Output();
  EXPECT_EQ(Count(other->Output(), "p 6*7\r\n"), 1u) << other->Output();
  EXPECT_THAT(other->Output(), Not(HasSubstr("p 1")));
  const std::vector<Notice> commands = other->Notices(Notice::COMMAND);
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(commands[0].text(), "p 6*7");
}

TEST_F(InputTest, ExecuteTakesWhatAClientMayType) {
  StartDaemon();
  Completed refused = Ctl({"exec", "1", "print 1\x1b[2J"});
  EXPECT_NE(WEXITSTATUS(refused.status), 0) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(refused.output, HasSubstr("command: control character 0x1b at byte 7"));
  Completed ran = Ctl({"exec", "1", "print 6*7"});
  EXPECT_EQ(WEXITSTATUS(ran.status), 0) << ran.output;
  EXPECT_THAT(ran.output, HasSubstr("= 42"));
}

// --- An engine that does not read -------------------------------------------

TEST_F(InputTest, InputForAnEngineThatDoesNotReadIsBoundedRefusedAndStallsNobody) {
  // ASan keeps freed memory in quarantine: the daemon's size would say
  // nothing about what it keeps.
  std::string asan = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
  ::setenv("ASAN_OPTIONS", absl::StrCat(asan, asan.empty() ? "" : ":",
                                        "quarantine_size_mb=1").c_str(), 1);
  StartDaemon();
  // It prints, and never reads its terminal.
  const uint16_t port = Server(CommandSession(
      {"/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.1; done"}));
  auto flooder = WireClient::Connect(port, "box\\flooder");
  auto watcher = WireClient::Connect(port, "box\\watcher");
  ASSERT_NE(flooder, nullptr);
  ASSERT_NE(watcher, nullptr);
  ASSERT_TRUE(watcher->WaitForOutput("tick-"));

  // Inputs of 900 lines of 990 bytes: under the frame limit, lines under
  // the line limit, and each under the input bound, but not two.
  std::string input;
  for (int i = 0; i < 900; ++i) absl::StrAppend(&input, std::string(990, 'f'), "\n");
  for (int i = 0; i < 5; ++i) flooder->Input(input);
  ASSERT_TRUE(flooder->WaitForNotice(Notice::INPUT_REFUSED, "not reading its input"));
  const size_t before = RssBytes(daemon_->pid());
  constexpr int kInputs = 60;  // 54 MB
  for (int i = 0; i < kInputs; ++i) flooder->Input(input);
  // The first input of all was taken; every other one is refused.
  ASSERT_TRUE(flooder->WaitFor(
      [&, seen = 0](const Frame& f) mutable {
        return f.has_notice() && f.notice().kind() == Notice::INPUT_REFUSED &&
               ++seen == 4 + kInputs;
      },
      absl::Seconds(120)))
      << flooder->Notices(Notice::INPUT_REFUSED).size() << " refusals";
  const size_t after = RssBytes(daemon_->pid());
  EXPECT_LT(after, before + 24 * 1024 * 1024)
      << "the daemon grew from " << before << " to " << after << " bytes";
  for (const Notice& notice : flooder->Notices(Notice::INPUT_REFUSED)) {
    EXPECT_THAT(notice.text(),
                ::testing::MatchesRegex("input refused: the debugger is not reading its "
                                        "input \\([0-9]+ bytes wait for it; the limit is "
                                        "1048576\\); nothing was sent"));
  }

  // The output still flows to everyone, the flooder included.
  const std::string last = watcher->Output();
  const size_t ticks = Count(last, "tick-");
  ASSERT_TRUE(watcher->WaitFor(
      [&, seen = size_t{0}](const Frame& f) mutable {
        return f.has_output() && absl::StrContains(f.output().data(), "tick-") &&
               ++seen > ticks + 5;
      },
      absl::Seconds(30)));
  EXPECT_TRUE(flooder->WaitForOutput("tick-"));
  EXPECT_TRUE(watcher->Notices(Notice::DROPPED).empty());
  EXPECT_TRUE(flooder->Notices(Notice::DROPPED).empty());
}

// --- Attribution and leaving ------------------------------------------------

TEST_F(InputTest, AnAnonymousClientsCommandsAreStillAttributed) {
  StartDaemon();
  const uint16_t port = Server("sessions/1");
  auto watcher = WireClient::Connect(port, "box\\watcher");
  auto anonymous = WireClient::Connect(port, "");
  ASSERT_NE(watcher, nullptr);
  ASSERT_NE(anonymous, nullptr);
  anonymous->Input("print 7*6");
  ASSERT_TRUE(watcher->WaitForOutput("= 42")) << watcher->Output();
  const std::vector<Notice> commands = watcher->Notices(Notice::COMMAND);
  ASSERT_EQ(commands.size(), 1u);
  // Named after where it connects from.
  EXPECT_THAT(commands[0].identity(), ::testing::StartsWith("anonymous@ipv4:127.0.0.1:"));
  EXPECT_EQ(commands[0].text(), "print 7*6");
  const std::vector<Notice> joined = watcher->Notices(Notice::CLIENT_JOINED);
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(joined[0].identity(), commands[0].identity());
}

TEST_F(InputTest, AByeReasonReachesTheOthersShownNeverObeyed) {
  StartDaemon();
  const uint16_t port = Server("sessions/1");
  auto watcher = WireClient::Connect(port, "box\\watcher");
  ASSERT_NE(watcher, nullptr);
  // A real dbgremote watches too: it prints the notice on its terminal.
  auto remote = Remote(absl::StrCat("tcp:server=localhost,port=", port), "box\\remote");
  ASSERT_TRUE(watcher->WaitForNotice(Notice::CLIENT_JOINED, "joined"));
  ASSERT_TRUE(remote->WaitForOutput("(gdb) ", absl::Seconds(30))) << remote->output();

  auto polite = WireClient::Connect(port, "box\\polite");
  ASSERT_NE(polite, nullptr);
  polite->Bye("lunch, back at two");
  ASSERT_TRUE(watcher->WaitForNotice(Notice::CLIENT_LEFT, "lunch, back at two"));

  auto forger = WireClient::Connect(port, "box\\forger");
  ASSERT_NE(forger, nullptr);
  forger->Bye("\x1b[2K\r*** box\\watcher: kill" + std::string(1000, '!'));
  ASSERT_TRUE(watcher->WaitForNotice(Notice::CLIENT_LEFT, "^[[2K^M*** box\\watcher: kill"));
  const std::vector<Notice> left = watcher->Notices(Notice::CLIENT_LEFT);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].identity(), "box\\polite");
  EXPECT_EQ(left[1].identity(), "box\\forger");
  EXPECT_LE(left[1].text().size(), 256u);
  EXPECT_TRUE(absl::EndsWith(left[1].text(), "!\xe2\x80\xa6")) << left[1].text();

  ASSERT_TRUE(remote->WaitForOutput("*** box\\forger left: ^[[2K^M*** box\\watcher: kill",
                                    absl::Seconds(30)))
      << remote->output();
  EXPECT_THAT(remote->output(), HasSubstr("*** box\\polite left: lunch, back at two\n"));
  EXPECT_THAT(remote->output(), Not(HasSubstr("\x1b[2K")));
  remote->CloseStdin();
  EXPECT_EQ(ExitCode(*remote), 0) << remote->output();
}

}  // namespace
}  // namespace dbgd
