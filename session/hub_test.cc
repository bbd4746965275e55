#include "session/hub.h"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <malloc.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/console_text.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DBGD_HAS_ASAN 1
#endif
#endif
#ifndef DBGD_HAS_ASAN
#define DBGD_HAS_ASAN 0
#endif
#if defined(__SANITIZE_ADDRESS__) || DBGD_HAS_ASAN
// The sanitizer runtime's count of the bytes it has handed out (declared
// here: not every toolchain installs its header).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace dbgd::session {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;
using Notice = v1::wire::Notice;

// RecordingSink is the engine's stand-in: it records what reaches it.
class RecordingSink final : public InputSink {
 public:
  void WriteLine(const std::string& identity, const std::string& line) override {
    MutexLock lock(&mu_);
    lines_.emplace_back(identity, line);
  }
  void Interrupt(const std::string& identity) override {
    MutexLock lock(&mu_);
    interrupts_.push_back(identity);
  }

  std::vector<std::pair<std::string, std::string>> lines() const {
    MutexLock lock(&mu_);
    return lines_;
  }
  std::vector<std::string> interrupts() const {
    MutexLock lock(&mu_);
    return interrupts_;
  }

 private:
  mutable Mutex mu_;
  std::vector<std::pair<std::string, std::string>> lines_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> interrupts_ ABSL_GUARDED_BY(mu_);
};

// EventLog records membership events.
class EventLog {
 public:
  std::function<void(const MembershipEvent&)> Callback() {
    return [this](const MembershipEvent& event) {
      MutexLock lock(&mu_);
      events_.push_back(event);
    };
  }
  std::vector<MembershipEvent> events() const {
    MutexLock lock(&mu_);
    return events_;
  }

 private:
  mutable Mutex mu_;
  std::vector<MembershipEvent> events_ ABSL_GUARDED_BY(mu_);
};

std::vector<FramePtr> Drain(HubClient& client) {
  std::vector<FramePtr> frames;
  while (FramePtr frame = client.Pop()) frames.push_back(std::move(frame));
  return frames;
}

// OutputOf concatenates the output bytes among `frames`.
std::string OutputOf(const std::vector<FramePtr>& frames) {
  std::string out;
  for (const FramePtr& frame : frames) {
    if (frame->has_output()) out += frame->output().data();
  }
  return out;
}

// NoticesOf keeps the notices of `kind` among `frames`.
std::vector<Notice> NoticesOf(const std::vector<FramePtr>& frames,
                              Notice::Kind kind) {
  std::vector<Notice> notices;
  for (const FramePtr& frame : frames) {
    if (frame->has_notice() && frame->notice().kind() == kind) {
      notices.push_back(frame->notice());
    }
  }
  return notices;
}

MATCHER_P2(IsOutput, data, replay, "") {
  return arg != nullptr && arg->has_output() && arg->output().data() == data &&
         arg->output().replay() == replay;
}

MATCHER_P3(IsNotice, kind, identity, text, "") {
  return arg != nullptr && arg->has_notice() && arg->notice().kind() == kind &&
         arg->notice().identity() == identity && arg->notice().text() == text;
}

MATCHER_P(IsNoticeOfKind, kind, "") {
  return arg != nullptr && arg->has_notice() && arg->notice().kind() == kind;
}

MATCHER_P3(IsEvent, kind, client_id, identity, "") {
  return arg.kind == kind && arg.client_id == client_id &&
         arg.identity == identity;
}

// Attached attaches clients in order, then consumes their join-time frames
// (replay, HISTORY_END, the later ones' CLIENT_JOINED), so that a test
// starts from empty queues.
template <size_t N>
std::array<std::shared_ptr<HubClient>, N> Attached(
    Hub& hub, const char* const (&identities)[N]) {
  std::array<std::shared_ptr<HubClient>, N> clients;
  for (size_t i = 0; i < N; ++i) clients[i] = hub.Attach(identities[i]);
  for (const auto& client : clients) Drain(*client);
  return clients;
}

TEST(HubTest, EveryClientSeesTheSameOutputInOrder) {
  RecordingSink sink;
  Hub hub(HubOptions{}, &sink);
  auto a = hub.Attach("host\\a");
  auto b = hub.Attach("host\\b");
  Drain(*a);
  Drain(*b);

  hub.PublishOutput("(gdb) ");
  hub.PublishOutput("bt\n");
  hub.PublishOutput("#0 main ()\n");

  for (HubClient* client : {a.get(), b.get()}) {
    EXPECT_THAT(Drain(*client), ElementsAre(IsOutput("(gdb) ", false),
                                            IsOutput("bt\n", false),
                                            IsOutput("#0 main ()\n", false)));
  }
  EXPECT_EQ(hub.client_count(), 2u);
}

TEST(HubTest, FanOutSharesOneFrame) {
  Hub hub(HubOptions{}, nullptr);
  auto [a, b] = Attached(hub, {"a", "b"});
  hub.PublishOutput("x");
  EXPECT_EQ(a->Pop().get(), b->Pop().get());
}

TEST(HubTest, InputReachesTheSinkAndIsAttributedToTheOthers) {
  RecordingSink sink;
  Hub hub(HubOptions{}, &sink);
  auto [a, b] = Attached(hub, {"host\\a", "host\\b"});

  a->Input("bt\n");
  hub.PublishOutput("#0 main ()\n");

  EXPECT_THAT(sink.lines(), ElementsAre(Pair("host\\a", "bt")));
  // B learns who typed the command before it sees the command's output.
  EXPECT_THAT(Drain(*b),
              ElementsAre(IsNotice(Notice::COMMAND, "host\\a", "bt"),
                          IsOutput("#0 main ()\n", false)));
  // A typed it; it is not told about its own command.
  EXPECT_THAT(Drain(*a), ElementsAre(IsOutput("#0 main ()\n", false)));
}

TEST(HubTest, InputLineEndingsAreStrippedAndEmbeddedNewlinesSplit) {
  RecordingSink sink;
  Hub hub(HubOptions{}, &sink);
  auto [a, b] = Attached(hub, {"a", "b"});

  a->Input("first\nsecond\r\nthird\r\n");
  a->Input("\n");  // Enter alone: GDB repeats the last command.
  a->Input("plain");

  EXPECT_THAT(sink.lines(),
              ElementsAre(Pair("a", "first"), Pair("a", "second"),
                          Pair("a", "third"), Pair("a", ""),
                          Pair("a", "plain")));
  EXPECT_THAT(Drain(*b), ElementsAre(IsNotice(Notice::COMMAND, "a", "first"),
                                     IsNotice(Notice::COMMAND, "a", "second"),
                                     IsNotice(Notice::COMMAND, "a", "third"),
                                     IsNotice(Notice::COMMAND, "a", ""),
                                     IsNotice(Notice::COMMAND, "a", "plain")));
}

TEST(HubTest, BreakReachesTheSinkAndIsAnnounced) {
  RecordingSink sink;
  Hub hub(HubOptions{}, &sink);
  auto [a, b] = Attached(hub, {"a", "b"});

  b->Break();

  EXPECT_THAT(sink.interrupts(), ElementsAre("b"));
  EXPECT_THAT(sink.lines(), IsEmpty());
  EXPECT_THAT(Drain(*a), ElementsAre(IsNotice(Notice::COMMAND, "b", "<Break>")));
  EXPECT_THAT(Drain(*b), IsEmpty());
}

TEST(HubTest, AnnounceReachesEveryClientButNotTheSink) {
  RecordingSink sink;
  Hub hub(HubOptions{}, &sink);
  auto [a, b] = Attached(hub, {"a", "b"});

  hub.Announce("control\\script", "info registers");

  for (HubClient* client : {a.get(), b.get()}) {
    EXPECT_THAT(Drain(*client),
                ElementsAre(IsNotice(Notice::COMMAND, "control\\script",
                                     "info registers")));
  }
  EXPECT_THAT(sink.lines(), IsEmpty());
}

// --- What a line of input may hold, and an engine that does not read. ---

// The rule is protocol::InputProblem's (console_text_test has its cases):
// a refused input reaches neither the engine nor the others, and the
// sender learns why, naming the first bad byte.
TEST(HubTest, InputWithControlCharactersIsRefusedToTheSenderAlone) {
  RecordingSink sink;
  Hub hub(HubOptions{}, &sink);
  auto [a, b] = Attached(hub, {"host\\mallory", "host\\ada"});

  // A forged attribution line, a line that would run a second command
  // behind the one shown, a TAB (completion, for line editors), a line
  // the terminal would cut.
  a->Input("x\x1b[2K\r*** host\\ada: fine");
  a->Input("print 1\rshell echo X");
  a->Input("print\t1");
  a->Input(std::string(5000, 'p'));
  a->Input("ok\nstill ok\n\x1b");  // all of an input, or none

  EXPECT_THAT(sink.lines(), IsEmpty());
  EXPECT_THAT(Drain(*b), IsEmpty());
  EXPECT_THAT(
      Drain(*a),
      ElementsAre(
          IsNotice(Notice::INPUT_REFUSED, "host\\mallory",
                   "input refused: control character 0x1b at byte 1; nothing was sent"),
          IsNotice(Notice::INPUT_REFUSED, "host\\mallory",
                   "input refused: control character 0x0d at byte 7; nothing was sent"),
          IsNotice(Notice::INPUT_REFUSED, "host\\mallory",
                   "input refused: control character 0x09 at byte 5; nothing was sent"),
          IsNotice(Notice::INPUT_REFUSED, "host\\mallory",
                   "input refused: a line of 5000 bytes at byte 0 (the limit is "
                   "4095); nothing was sent"),
          IsNotice(Notice::INPUT_REFUSED, "host\\mallory",
                   "input refused: control character 0x1b at byte 12; nothing was sent")));

  // The longest line is taken, whole; UTF-8 is text.
  const std::string longest(protocol::kMaxInputLineBytes, 'p');
  a->Input(longest + "\r\n");
  a->Input("print \"caf\xc3\xa9\"");
  EXPECT_THAT(sink.lines(), ElementsAre(Pair("host\\mallory", longest),
                                        Pair("host\\mallory", "print \"caf\xc3\xa9\"")));
  EXPECT_THAT(Drain(*b),
              ElementsAre(IsNotice(Notice::COMMAND, "host\\mallory", longest),
                          IsNotice(Notice::COMMAND, "host\\mallory",
                                   "print \"caf\xc3\xa9\"")));
}

// BusySink takes input until `budget` lines are waiting, as a session
// does for an engine that does not read.
class BusySink final : public InputSink {
 public:
  explicit BusySink(size_t budget) : budget_(budget) {}
  void WriteLine(const std::string& identity, const std::string& line) override {
    lines_.push_back(line);
  }
  void Interrupt(const std::string& identity) override {}
  std::optional<std::string> RefuseLines(
      const std::vector<std::string>& lines) override {
    if (lines_.size() + lines.size() <= budget_) return std::nullopt;
    return "the debugger is not reading its input";
  }
  std::vector<std::string> lines_;

 private:
  const size_t budget_;
};

TEST(HubTest, InputTheSinkRefusesIsRefusedWholeToTheSenderAlone) {
  BusySink sink(2);
  Hub hub(HubOptions{}, &sink);
  auto [a, b] = Attached(hub, {"a", "b"});

  a->Input("one");
  a->Input("two\nthree");  // would pass the budget: none of it goes
  a->Input("two");

  EXPECT_THAT(sink.lines_, ElementsAre("one", "two"));
  EXPECT_THAT(Drain(*a),
              ElementsAre(IsNotice(Notice::INPUT_REFUSED, "a",
                                   "input refused: the debugger is not reading "
                                   "its input; nothing was sent")));
  EXPECT_THAT(Drain(*b), ElementsAre(IsNotice(Notice::COMMAND, "a", "one"),
                                     IsNotice(Notice::COMMAND, "a", "two")));
}

TEST(HubTest, AnnouncedControlCharactersAreShownNotObeyed) {
  Hub hub(HubOptions{}, nullptr);
  auto [a] = Attached(hub, {"a"});
  hub.Announce("control@unix:", "echo \x1b[2J");
  EXPECT_THAT(Drain(*a), ElementsAre(IsNotice(Notice::COMMAND, "control@unix:",
                                              "echo ^[[2J")));
}

TEST(HubTest, AnEmptyIdentityIsNamedAfterThePeer) {
  RecordingSink sink;
  Hub hub(HubOptions{}, &sink);
  auto [watcher] = Attached(hub, {"box\\w"});
  auto anonymous = hub.Attach("", {.peer = "127.0.0.1:4711"});
  auto unknown = hub.Attach("");
  Drain(*anonymous);

  EXPECT_EQ(anonymous->identity(), "anonymous@127.0.0.1:4711");
  EXPECT_EQ(unknown->identity(), absl::StrCat("anonymous#", unknown->id()));
  anonymous->Input("bt");
  unknown->Input("up");
  EXPECT_THAT(sink.lines(), ElementsAre(Pair("anonymous@127.0.0.1:4711", "bt"),
                                        Pair(unknown->identity(), "up")));
  EXPECT_THAT(
      Drain(*watcher),
      ElementsAre(IsNotice(Notice::CLIENT_JOINED, "anonymous@127.0.0.1:4711", "joined"),
                  IsNotice(Notice::CLIENT_JOINED, unknown->identity(), "joined"),
                  IsNotice(Notice::COMMAND, "anonymous@127.0.0.1:4711", "bt"),
                  IsNotice(Notice::COMMAND, unknown->identity(), "up")));
}

TEST(HubTest, TheLeaveReasonIsRelayedShownAndBounded) {
  EventLog log;  // outlives the clients, which leave when destroyed
  Hub hub(HubOptions{}, nullptr);
  auto [watcher, a, b, c] = Attached(hub, {"w", "a", "b", "c"});
  hub.SetMembershipObserver(log.Callback());

  a->Leave("lunch");
  b->Leave("gone\x1b[2K\r*** w: rm -rf /");
  c->Leave(std::string(10000, 'z'));

  const std::vector<Notice> left = NoticesOf(Drain(*watcher), Notice::CLIENT_LEFT);
  ASSERT_THAT(left, SizeIs(3));
  EXPECT_EQ(left[0].text(), "lunch");
  EXPECT_EQ(left[1].text(), "gone^[[2K^M*** w: rm -rf /");
  EXPECT_LE(left[2].text().size(), kMaxLeaveReasonBytes);
  EXPECT_EQ(left[2].text(), std::string(kMaxLeaveReasonBytes - 3, 'z') + "\xe2\x80\xa6");
  EXPECT_EQ(ShownLeaveReason(""), "left");
  ASSERT_THAT(log.events(), SizeIs(3));
  EXPECT_EQ(log.events()[1].reason, "gone^[[2K^M*** w: rm -rf /");
}

// --- Observers: clients of a read-only server. ---

constexpr char kInputRefusedText[] =
    "input refused: this server is read-only (you are an observer)";
constexpr char kBreakRefusedText[] =
    "break refused: this server is read-only (you are an observer)";

TEST(HubTest, ObserverSeesHistoryOutputAndCommandsAndIsShownAsObserver) {
  RecordingSink sink;
  Hub hub(HubOptions{}, &sink);
  hub.PublishOutput("(gdb) ");
  auto [typist] = Attached(hub, {"host\\typist"});

  auto watcher = hub.Attach("host\\watcher", {.observer = true});
  EXPECT_TRUE(watcher->observer());
  EXPECT_FALSE(typist->observer());
  EXPECT_EQ(watcher->identity(), "host\\watcher");
  EXPECT_THAT(Drain(*watcher),
              ElementsAre(IsNotice(Notice::CLIENT_PRESENT, "host\\typist", "present"),
                          IsOutput("(gdb) ", true), IsNoticeOfKind(Notice::HISTORY_END)));
  EXPECT_THAT(Drain(*typist), ElementsAre(IsNotice(Notice::CLIENT_JOINED,
                                                   "host\\watcher (observer)",
                                                   "joined")));

  typist->Input("bt\n");
  hub.PublishOutput("#0 main ()\n");
  EXPECT_THAT(sink.lines(), ElementsAre(Pair("host\\typist", "bt")));
  EXPECT_THAT(Drain(*watcher),
              ElementsAre(IsNotice(Notice::COMMAND, "host\\typist", "bt"),
                          IsOutput("#0 main ()\n", false)));
}

TEST(HubTest, ObserverInputIsRefusedToItAloneAndReachesNobody) {
  RecordingSink sink;
  Hub hub(HubOptions{}, &sink);
  auto typist = hub.Attach("host\\typist");
  auto watcher = hub.Attach("host\\watcher", {.observer = true});
  Drain(*typist);
  Drain(*watcher);

  watcher->Input("kill\n");
  watcher->Input("first\nsecond\n");  // one refusal per input, however long
  watcher->Break();

  EXPECT_THAT(sink.lines(), IsEmpty());
  EXPECT_THAT(sink.interrupts(), IsEmpty());
  EXPECT_THAT(Drain(*typist), IsEmpty());
  EXPECT_THAT(
      Drain(*watcher),
      ElementsAre(
          IsNotice(Notice::INPUT_REFUSED, "host\\watcher", kInputRefusedText),
          IsNotice(Notice::INPUT_REFUSED, "host\\watcher", kInputRefusedText),
          IsNotice(Notice::INPUT_REFUSED, "host\\watcher", kBreakRefusedText)));

  // The others go on as before, and the observer still watches.
  typist->Input("info frame");
  typist->Break();
  EXPECT_THAT(sink.lines(), ElementsAre(Pair("host\\typist", "info frame")));
  EXPECT_THAT(sink.interrupts(), ElementsAre("host\\typist"));
  EXPECT_THAT(Drain(*watcher),
              ElementsAre(IsNotice(Notice::COMMAND, "host\\typist", "info frame"),
                          IsNotice(Notice::COMMAND, "host\\typist", "<Break>")));
}

TEST(HubTest, ObserverLeavingAndBeingDroppedIsShownAsObserver) {
  HubOptions options;
  // Room for the join notices, and for a few refusals.
  options.client_queue_bytes = 4 * kFrameOverheadBytes;
  RecordingSink sink;
  Hub hub(options, &sink);
  EventLog log;
  hub.SetMembershipObserver(log.Callback());
  auto typist = hub.Attach("host\\typist");
  auto quiet = hub.Attach("host\\quiet", {.observer = true});
  auto flood = hub.Attach("host\\flood", {.observer = true});
  Drain(*typist);
  Drain(*quiet);
  Drain(*flood);

  quiet->Leave("the user left");
  EXPECT_THAT(Drain(*typist),
              ElementsAre(IsNotice(Notice::CLIENT_LEFT, "host\\quiet (observer)",
                                   "the user left")));

  // Refusals count against the observer's queue like anything else: one
  // that types on without reading is dropped, and nothing reached the sink.
  for (int i = 0; i < 100 && !flood->closed(); ++i) flood->Input("step\n");
  EXPECT_TRUE(flood->closed());
  EXPECT_EQ(hub.dropped_count(), 1u);
  EXPECT_THAT(sink.lines(), IsEmpty());
  EXPECT_THAT(Drain(*typist),
              ElementsAre(IsNotice(Notice::CLIENT_LEFT, "host\\flood (observer)",
                                   "dropped: too slow")));
  EXPECT_THAT(Drain(*flood), ElementsAre(IsNoticeOfKind(Notice::DROPPED)));

  // The membership observer gets the plain identity.
  const auto events = log.events();
  ASSERT_THAT(events, SizeIs(5));
  EXPECT_THAT(events[3], IsEvent(MembershipEvent::Kind::kLeft, quiet->id(),
                                 "host\\quiet"));
  EXPECT_THAT(events[4], IsEvent(MembershipEvent::Kind::kDropped, flood->id(),
                                 "host\\flood"));
}

TEST(HubTest, ConcurrentInputKeepsEachSendersOrderAndLosesNothing) {
  constexpr int kThreads = 4;
  constexpr int kLines = 1000;
  RecordingSink sink;
  Hub hub(HubOptions{}, &sink);
  auto [watcher] = Attached(hub, {"watcher"});
  std::vector<std::shared_ptr<HubClient>> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.push_back(hub.Attach(absl::StrCat("sender", t)));
  }
  Drain(*watcher);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&senders, t] {
      for (int i = 0; i < kLines; ++i) {
        senders[t]->Input(absl::StrCat("line ", i, "\n"));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  const auto lines = sink.lines();
  ASSERT_THAT(lines, SizeIs(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const auto& [identity, line] : lines) {
    const int t = identity.back() - '0';
    ASSERT_EQ(line, absl::StrCat("line ", next[t])) << identity;
    ++next[t];
  }
  // The notices every client sees are in the engine's order exactly.
  const std::vector<Notice> commands =
      NoticesOf(Drain(*watcher), Notice::COMMAND);
  ASSERT_THAT(commands, SizeIs(lines.size()));
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(commands[i].identity(), lines[i].first);
    EXPECT_EQ(commands[i].text(), lines[i].second);
  }
}

TEST(HubTest, LateJoinerGetsTheHistoryInChunksThenHistoryEnd) {
  HubOptions options;
  options.history_bytes = 100;
  options.replay_chunk_bytes = 30;
  Hub hub(options, nullptr);
  std::string all;
  for (int i = 0; i < 40; ++i) {
    const std::string piece = absl::StrCat("<", i, ">");
    all += piece;
    hub.PublishOutput(piece);
  }
  ASSERT_GT(all.size(), 100u);
  const std::string tail = all.substr(all.size() - 100);

  auto late = hub.Attach("late");
  const std::vector<FramePtr> frames = Drain(*late);
  ASSERT_GE(frames.size(), 5u);  // 100 bytes in frames of at most 30
  for (size_t i = 0; i + 1 < frames.size(); ++i) {
    EXPECT_TRUE(frames[i]->has_output()) << i;
    EXPECT_TRUE(frames[i]->output().replay()) << i;
    EXPECT_LE(frames[i]->output().data().size(), 30u) << i;
  }
  EXPECT_THAT(frames.back(), IsNotice(Notice::HISTORY_END, "", ""));
  EXPECT_EQ(OutputOf(frames), tail);
  hub.PublishOutput("live");
  EXPECT_THAT(Drain(*late), ElementsAre(IsOutput("live", false)));
}

TEST(HubTest, FirstClientGetsOnlyHistoryEnd) {
  Hub hub(HubOptions{}, nullptr);
  auto first = hub.Attach("first");
  EXPECT_THAT(Drain(*first),
              ElementsAre(IsNoticeOfKind(Notice::HISTORY_END)));
}

TEST(HubTest, HistoryRingKeepsOnlyTheTail) {
  HubOptions options;
  options.history_bytes = 64 * 1024;
  Hub hub(options, nullptr);
  std::string all;
  int i = 0;
  while (all.size() < 1024 * 1024) {
    // Pieces of varying size, so the tail's boundary falls mid-piece.
    const std::string piece =
        absl::StrCat(i, ":", std::string(static_cast<size_t>(i % 97),
                                static_cast<char>('a' + i % 26)), "\n");
    all += piece;
    hub.PublishOutput(piece);
    ++i;
  }
  const std::string history = hub.History();
  EXPECT_EQ(history.size(), 65536u);
  EXPECT_TRUE(history == all.substr(all.size() - 65536));

  // One piece larger than the whole ring replaces it.
  std::string big(100 * 1024, 'z');
  big.back() = '!';
  hub.PublishOutput(big);
  EXPECT_TRUE(hub.History() == big.substr(big.size() - 65536));
}

TEST(HubTest, ZeroHistoryKeepsNothing) {
  HubOptions options;
  options.history_bytes = 0;
  Hub hub(options, nullptr);
  hub.PublishOutput("gone");
  EXPECT_EQ(hub.History(), "");
  auto late = hub.Attach("late");
  EXPECT_THAT(Drain(*late), ElementsAre(IsNoticeOfKind(Notice::HISTORY_END)));
}

TEST(HubTest, QueuedBytesCountsUndeliveredOutput) {
  Hub hub(HubOptions{}, nullptr);
  auto [a] = Attached(hub, {"a"});
  EXPECT_EQ(a->queued_bytes(), 0u);
  hub.PublishOutput(std::string(10, 'x'));
  hub.PublishOutput(std::string(20, 'y'));
  EXPECT_EQ(a->queued_bytes(), 30u + 2 * kFrameOverheadBytes);
  a->Pop();
  EXPECT_EQ(a->queued_bytes(), 20u + kFrameOverheadBytes);
  a->Pop();
  EXPECT_EQ(a->queued_bytes(), 0u);
}

// HeapInUse is what the process's allocator has handed out and not had
// back: glibc's count, or the sanitizer's when it replaces the allocator.
size_t HeapInUse() {
#if defined(__SANITIZE_ADDRESS__) || DBGD_HAS_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

TEST(HubTest, QueuedBytesCoverWhatQueuedFramesReallyCost) {
  // A queue's count must hold in real memory, also for frames with no
  // payload at all (COMMAND notices of empty lines from a client with an
  // empty identity) and for one-byte output.
  HubOptions options;
  options.client_queue_bytes = size_t{1} << 40;  // nothing is dropped
  options.history_bytes = 0;
  Hub hub(options, nullptr);
  auto [typist, idle] = Attached(hub, {"", "idle"});
  constexpr int kFrames = 100000;
  const size_t before = HeapInUse();
  for (int i = 0; i < kFrames; ++i) typist->Input("");
  const size_t notices = HeapInUse() - before;
  EXPECT_GE(idle->queued_bytes(), notices)
      << "a notice costs " << notices / kFrames << " bytes";
  const size_t counted = idle->queued_bytes();
  const size_t before_output = HeapInUse();
  for (int i = 0; i < kFrames; ++i) hub.PublishOutput("x");
  const size_t outputs = HeapInUse() - before_output;
  EXPECT_GE(idle->queued_bytes() - counted, outputs)
      << "an output frame costs " << outputs / kFrames << " bytes";
  std::printf("real cost per frame: notice %zu, output %zu; counted %zu\n",
              notices / kFrames, outputs / kFrames, kFrameOverheadBytes);
  // A notice's payload is its identity (the hub names an anonymous client,
  // `anonymous#1`) and text (empty); an output frame's, its one byte.
  EXPECT_EQ(idle->queued_bytes(),
            kFrames * (kFrameOverheadBytes + typist->identity().size()) +
                kFrames * (kFrameOverheadBytes + 1));
  Drain(*idle);
  EXPECT_EQ(idle->queued_bytes(), 0u);
}

TEST(HubTest, FloodOfEmptyNoticesDropsAClientThatDoesNotRead) {
  // The default 4 MiB bound, and frames whose payload is nothing: each
  // still costs memory, so the bound is reached and the idle client goes.
  RecordingSink sink;
  Hub hub(HubOptions{}, &sink);
  auto [typist, idle] = Attached(hub, {"", "idle"});
  for (int i = 0; i < 100000; ++i) typist->Input("");
  EXPECT_TRUE(idle->closed());
  EXPECT_EQ(hub.dropped_count(), 1u);
  EXPECT_THAT(Drain(*idle), ElementsAre(IsNoticeOfKind(Notice::DROPPED)));
  EXPECT_THAT(sink.lines(), SizeIs(100000));
}

TEST(HubTest, LargeOutputIsSplitIntoFramesTheWireAccepts) {
  Hub hub(HubOptions{}, nullptr);
  auto [a] = Attached(hub, {"a"});
  const std::string big(3 * 1024 * 1024, 'q');
  hub.PublishOutput(big);
  const std::vector<FramePtr> frames = Drain(*a);
  EXPECT_GT(frames.size(), 1u);
  for (const FramePtr& frame : frames) {
    EXPECT_LE(frame->output().data().size(), 1024u * 1024u);
  }
  EXPECT_TRUE(OutputOf(frames) == big);
}

TEST(HubTest, ClientThatNeverReadsIsDroppedWithoutStallingTheOthers) {
  HubOptions options;
  options.client_queue_bytes = 1000;
  RecordingSink sink;
  Hub hub(options, &sink);
  EventLog log;
  hub.SetMembershipObserver(log.Callback());
  auto [slow, fast] = Attached(hub, {"host\\slow", "host\\fast"});

  std::string all;
  std::vector<FramePtr> fast_frames;
  for (int i = 0; i < 100; ++i) {
    const std::string piece = absl::StrCat(std::string(95, '.'), i % 10, "\n");
    ASSERT_EQ(piece.size(), 97u);
    all += piece;
    hub.PublishOutput(piece);
    for (FramePtr& frame : Drain(*fast)) fast_frames.push_back(std::move(frame));
  }

  EXPECT_TRUE(OutputOf(fast_frames) == all);
  EXPECT_THAT(NoticesOf(fast_frames, Notice::CLIENT_LEFT),
              ElementsAre(::testing::Property(&Notice::identity, "host\\slow")));
  EXPECT_EQ(NoticesOf(fast_frames, Notice::CLIENT_LEFT)[0].text(),
            "dropped: too slow");

  EXPECT_TRUE(slow->closed());
  const std::vector<FramePtr> slow_frames = Drain(*slow);
  ASSERT_THAT(slow_frames, ElementsAre(IsNoticeOfKind(Notice::DROPPED)));
  EXPECT_THAT(slow_frames[0]->notice().text(), HasSubstr("fell behind"));
  EXPECT_THAT(slow_frames[0]->notice().text(), HasSubstr("1000"));
  EXPECT_EQ(slow->queued_bytes(), 0u);

  EXPECT_EQ(hub.dropped_count(), 1u);
  EXPECT_EQ(hub.client_count(), 1u);
  const std::vector<MembershipEvent> events = log.events();
  ASSERT_FALSE(events.empty());
  EXPECT_THAT(events.back(), IsEvent(MembershipEvent::Kind::kDropped,
                                     slow->id(), "host\\slow"));

  // A dropped client's input is ignored, and leaving again changes nothing.
  slow->Input("kill\n");
  slow->Break();
  slow->Leave();
  EXPECT_THAT(sink.lines(), IsEmpty());
  EXPECT_THAT(sink.interrupts(), IsEmpty());
  EXPECT_THAT(Drain(*fast), IsEmpty());
  EXPECT_EQ(log.events().size(), events.size());
}

// Resumes counts the producer's resume callbacks that ran.
struct Resumes {
  std::atomic<int> count{0};
  std::function<void()> Callback() {
    return [this] { count.fetch_add(1); };
  }
};

// One live output frame of exactly `bytes` queued bytes.
std::string PieceCosting(size_t bytes) {
  return std::string(bytes - kFrameOverheadBytes, 'x');
}

TEST(HubHoldTest, AClientBehindHoldsTheConsoleUntilItIsDownToHalf) {
  HubOptions options;
  options.hold_bytes = 4000;
  Hub hub(options, nullptr);
  auto [slow, fast] = Attached(hub, {"host\\slow", "host\\fast"});
  Resumes resumes;

  // 3 of 4: nobody holds yet.
  for (int i = 0; i < 3; ++i) hub.PublishOutput(PieceCosting(1000));
  EXPECT_EQ(hub.holding_count(), 0u);
  EXPECT_FALSE(hub.HoldOutput(resumes.Callback()));
  // Both reach 4000 bytes behind: both hold.
  hub.PublishOutput(PieceCosting(1000));
  EXPECT_EQ(hub.holding_count(), 2u);
  ASSERT_TRUE(hub.HoldOutput(resumes.Callback()));

  // The fast one catches up; the slow one still holds.
  Drain(*fast);
  EXPECT_EQ(hub.holding_count(), 1u);
  EXPECT_EQ(resumes.count, 0);
  // Down to 3000, then 2000 — half: it lets go, and the producer resumes,
  // once.
  ASSERT_NE(slow->Pop(), nullptr);
  EXPECT_EQ(hub.holding_count(), 1u);
  ASSERT_NE(slow->Pop(), nullptr);
  EXPECT_EQ(slow->queued_bytes(), 2000u);
  EXPECT_EQ(hub.holding_count(), 0u);
  EXPECT_EQ(resumes.count, 1);
  Drain(*slow);
  EXPECT_EQ(resumes.count, 1);
  EXPECT_FALSE(hub.HoldOutput(resumes.Callback()));
  EXPECT_EQ(hub.dropped_count(), 0u);
}

TEST(HubHoldTest, AnExcusedClientHoldsNothingUntilItHasCaughtUp) {
  HubOptions options;
  options.hold_bytes = 4000;
  options.client_queue_bytes = 10000;
  Hub hub(options, nullptr);
  auto [stalled] = Attached(hub, {"host\\stalled"});
  Resumes resumes;

  for (int i = 0; i < 4; ++i) hub.PublishOutput(PieceCosting(1000));
  ASSERT_TRUE(hub.HoldOutput(resumes.Callback()));
  // The producer waited, and it read nothing meanwhile.
  EXPECT_FALSE(hub.ExcuseStalledHolders(1));
  EXPECT_EQ(hub.holding_count(), 0u);
  EXPECT_EQ(resumes.count, 0);  // the producer resumes itself
  EXPECT_FALSE(hub.HoldOutput(resumes.Callback()));
  // Further behind, still excused: it holds nothing and is dropped at the
  // queue's limit, as a client that does not read always was.
  for (int i = 0; i < 6; ++i) hub.PublishOutput(PieceCosting(1000));
  EXPECT_FALSE(hub.HoldOutput(resumes.Callback()));
  EXPECT_FALSE(stalled->closed());
  hub.PublishOutput(PieceCosting(1000));
  EXPECT_TRUE(stalled->closed());
  EXPECT_EQ(hub.dropped_count(), 1u);
  EXPECT_EQ(resumes.count, 0);
}

TEST(HubHoldTest, AHolderThatReadsKeepsHoldingOneThatStallsIsExcused) {
  HubOptions options;
  options.hold_bytes = 4000;
  options.client_queue_bytes = 100000;
  Hub hub(options, nullptr);
  auto [reader, stalled] = Attached(hub, {"host\\reader", "host\\stalled"});
  Resumes resumes;

  for (int i = 0; i < 8; ++i) hub.PublishOutput(PieceCosting(1000));
  ASSERT_TRUE(hub.HoldOutput(resumes.Callback()));
  EXPECT_EQ(hub.holding_count(), 2u);
  // The reader took 1000 bytes since it began to hold, the other nothing.
  ASSERT_NE(reader->Pop(), nullptr);
  EXPECT_TRUE(hub.ExcuseStalledHolders(1000));
  EXPECT_EQ(hub.holding_count(), 1u);
  EXPECT_EQ(resumes.count, 0);
  // Progress counts from the last look: another 1000 keeps it holding,
  // nothing since then does not.
  ASSERT_NE(reader->Pop(), nullptr);
  EXPECT_TRUE(hub.ExcuseStalledHolders(1000));
  EXPECT_FALSE(hub.ExcuseStalledHolders(1000));
  EXPECT_EQ(hub.holding_count(), 0u);
  EXPECT_EQ(resumes.count, 0);  // the producer resumes itself
  EXPECT_FALSE(hub.HoldOutput(resumes.Callback()));
}

TEST(HubHoldTest, AnExcusedClientThatCaughtUpHoldsAgain) {
  HubOptions options;
  options.hold_bytes = 4000;
  Hub hub(options, nullptr);
  auto [slow] = Attached(hub, {"host\\slow"});
  Resumes resumes;

  for (int i = 0; i < 4; ++i) hub.PublishOutput(PieceCosting(1000));
  EXPECT_FALSE(hub.ExcuseStalledHolders(1));
  ASSERT_NE(slow->Pop(), nullptr);
  ASSERT_NE(slow->Pop(), nullptr);  // down to half: no longer excused
  hub.PublishOutput(PieceCosting(1000));
  EXPECT_EQ(hub.holding_count(), 0u);  // 3000 behind
  hub.PublishOutput(PieceCosting(1000));
  EXPECT_EQ(hub.holding_count(), 1u);
  EXPECT_TRUE(hub.HoldOutput(resumes.Callback()));
}

TEST(HubHoldTest, AHolderThatLeavesIsDroppedOrEndsLetsGo) {
  HubOptions options;
  options.hold_bytes = 4000;
  options.client_queue_bytes = 4500;
  Hub hub(options, nullptr);
  auto [leaver, dropped, reader] =
      Attached(hub, {"host\\leaver", "host\\dropped", "host\\reader"});
  Resumes resumes;

  for (int i = 0; i < 4; ++i) hub.PublishOutput(PieceCosting(1000));
  Drain(*reader);
  EXPECT_EQ(hub.holding_count(), 2u);
  ASSERT_TRUE(hub.HoldOutput(resumes.Callback()));
  leaver->Leave("bye");
  EXPECT_EQ(hub.holding_count(), 1u);
  EXPECT_EQ(resumes.count, 0);
  // Over the queue's limit: dropped, and no longer holding.
  hub.PublishOutput(PieceCosting(1000));
  EXPECT_TRUE(dropped->closed());
  EXPECT_EQ(hub.holding_count(), 0u);
  EXPECT_EQ(resumes.count, 1);

  // The session ending lets every holder go too.
  Drain(*reader);
  for (int i = 0; i < 4; ++i) hub.PublishOutput(PieceCosting(1000));
  ASSERT_TRUE(hub.HoldOutput(resumes.Callback()));
  hub.Close("the end");
  EXPECT_EQ(hub.holding_count(), 0u);
  EXPECT_EQ(resumes.count, 2);
}

TEST(HubHoldTest, HistoryReplayHoldsNothing) {
  HubOptions options;
  options.hold_bytes = 4000;
  options.history_bytes = 64 * 1024;
  Hub hub(options, nullptr);
  hub.PublishOutput(std::string(32 * 1024, 'h'));
  auto late = hub.Attach("host\\late");
  EXPECT_GT(late->queued_bytes(), 32u * 1024);
  EXPECT_EQ(hub.holding_count(), 0u);
  Resumes resumes;
  EXPECT_FALSE(hub.HoldOutput(resumes.Callback()));
}

TEST(HubHoldTest, ZeroHoldBytesNeverHolds) {
  HubOptions options;
  options.hold_bytes = 0;
  options.client_queue_bytes = 100000;
  Hub hub(options, nullptr);
  auto [slow] = Attached(hub, {"host\\slow"});
  for (int i = 0; i < 50; ++i) hub.PublishOutput(PieceCosting(1000));
  EXPECT_EQ(hub.holding_count(), 0u);
  Resumes resumes;
  EXPECT_FALSE(hub.HoldOutput(resumes.Callback()));
}

TEST(HubTest, FloodOfCommandsDropsAClientThatDoesNotRead) {
  HubOptions options;
  options.client_queue_bytes = 3 * kFrameOverheadBytes;
  RecordingSink sink;
  Hub hub(options, &sink);
  auto [typist, idle] = Attached(hub, {"typist", "idle"});
  for (int i = 0; i < 100; ++i) typist->Input("step\n");
  EXPECT_TRUE(idle->closed());
  EXPECT_EQ(hub.dropped_count(), 1u);
  EXPECT_THAT(sink.lines(), SizeIs(100));
}

TEST(HubTest, ReplayLargerThanTheQueueLimitDoesNotDrop) {
  HubOptions options;
  options.history_bytes = 4096;
  options.client_queue_bytes = 1024;
  options.replay_chunk_bytes = 512;
  Hub hub(options, nullptr);
  hub.PublishOutput(std::string(4096, 'h'));

  auto late = hub.Attach("late");
  EXPECT_FALSE(late->closed());
  // Eight chunks and HISTORY_END.
  EXPECT_EQ(late->queued_bytes(), 4096u + 9 * kFrameOverheadBytes);
  EXPECT_EQ(OutputOf(Drain(*late)), std::string(4096, 'h'));
  hub.PublishOutput("after");
  EXPECT_THAT(Drain(*late), ElementsAre(IsOutput("after", false)));
  EXPECT_EQ(hub.dropped_count(), 0u);
}

// Late joiners share the history's bytes: each holds the same replay
// frames, not a copy of its own, whatever the history's size.
TEST(HubTest, LateJoinersShareTheReplayFrames) {
  HubOptions options;
  options.history_bytes = 64 * 1024;
  options.replay_chunk_bytes = 4096;
  Hub hub(options, nullptr);
  std::string all;
  for (int i = 0; i < 100; ++i) {
    const std::string piece = absl::StrCat(std::string(1000, 'a' + i % 26), "\n");
    all += piece;
    hub.PublishOutput(piece);
  }
  const std::string tail = all.substr(all.size() - 64 * 1024);
  std::vector<std::shared_ptr<HubClient>> late;
  std::vector<std::vector<FramePtr>> replays;
  for (int i = 0; i < 3; ++i) {
    late.push_back(hub.Attach(absl::StrCat("late", i)));
    std::vector<FramePtr> frames;
    for (FramePtr& frame : Drain(*late.back())) {
      if (frame->has_output()) frames.push_back(std::move(frame));
    }
    EXPECT_TRUE(OutputOf(frames) == tail) << i;
    for (const FramePtr& frame : frames) {
      EXPECT_TRUE(frame->output().replay());
      EXPECT_LE(frame->output().data().size(), 4096u);
    }
    replays.push_back(std::move(frames));
  }
  // Only the oldest, partly expired piece of the history and the newest,
  // short of a whole chunk, may be copies.
  size_t shared = 0;
  for (size_t at = 0; at < replays[0].size(); ++at) {
    if (at < replays[1].size() && at < replays[2].size() &&
        replays[0][at].get() == replays[1][at].get() &&
        replays[0][at].get() == replays[2][at].get()) {
      ++shared;
    }
  }
  EXPECT_GE(shared + 2, replays[0].size());
  EXPECT_GE(shared, 15u);
}

// The replay is what the joiner asked for, not a sign that it is slow:
// live output that comes while it is still queued waits behind it.
TEST(HubTest, LiveOutputDuringALargeReplayDoesNotDrop) {
  HubOptions options;
  options.history_bytes = 4096;
  options.client_queue_bytes = 1024;
  options.replay_chunk_bytes = 512;
  Hub hub(options, nullptr);
  hub.PublishOutput(std::string(4096, 'h'));

  auto late = hub.Attach("late");
  hub.PublishOutput("after");
  EXPECT_FALSE(late->closed());
  const std::vector<FramePtr> frames = Drain(*late);
  ASSERT_FALSE(frames.empty());
  EXPECT_THAT(frames.back(), IsOutput("after", false));
  EXPECT_EQ(OutputOf(frames), std::string(4096, 'h') + "after");
  EXPECT_EQ(hub.dropped_count(), 0u);
}

// A joiner that never reads still holds at most its queue's worth of live
// output beyond the replay, and is then dropped.
TEST(HubTest, LateJoinerThatNeverReadsIsDroppedByLiveOutput) {
  HubOptions options;
  options.history_bytes = 4096;
  options.client_queue_bytes = 1024;
  options.replay_chunk_bytes = 512;
  Hub hub(options, nullptr);
  hub.PublishOutput(std::string(4096, 'h'));
  auto late = hub.Attach("late");
  for (int i = 0; i < 20 && !late->closed(); ++i) {
    hub.PublishOutput(std::string(100, 'l'));
  }
  EXPECT_TRUE(late->closed());
  EXPECT_THAT(Drain(*late), ElementsAre(IsNoticeOfKind(Notice::DROPPED)));
  EXPECT_EQ(hub.dropped_count(), 1u);
}

TEST(HubTest, JoinAndLeaveAreAnnouncedAndObserved) {
  Hub hub(HubOptions{}, nullptr);
  EventLog log;
  hub.SetMembershipObserver(log.Callback());
  auto [a] = Attached(hub, {"host\\a"});
  auto b = hub.Attach("host\\b");

  EXPECT_THAT(Drain(*a), ElementsAre(IsNoticeOfKind(Notice::CLIENT_JOINED)));
  a->Leave("bye");
  EXPECT_TRUE(a->closed());
  EXPECT_EQ(hub.client_count(), 1u);
  // b learns first who was here before it, then the history, then news.
  EXPECT_THAT(Drain(*b),
              ElementsAre(IsNotice(Notice::CLIENT_PRESENT, "host\\a", "present"),
                          IsNoticeOfKind(Notice::HISTORY_END),
                          IsNotice(Notice::CLIENT_LEFT, "host\\a", "bye")));
  a->Leave("again");  // Idempotent.
  EXPECT_THAT(Drain(*b), IsEmpty());
  // A left client's input is ignored, and it gets no more output.
  a->Input("c\n");
  hub.PublishOutput("x");
  EXPECT_THAT(Drain(*a), IsEmpty());

  const auto events = log.events();
  ASSERT_THAT(events, SizeIs(3));
  EXPECT_THAT(events[0], IsEvent(MembershipEvent::Kind::kJoined, a->id(), "host\\a"));
  EXPECT_THAT(events[1], IsEvent(MembershipEvent::Kind::kJoined, b->id(), "host\\b"));
  EXPECT_THAT(events[2], IsEvent(MembershipEvent::Kind::kLeft, a->id(), "host\\a"));
  EXPECT_EQ(events[2].reason, "bye");
  EXPECT_NE(a->id(), b->id());
}

TEST(HubTest, ObserverMayCallTheHub) {
  Hub hub(HubOptions{}, nullptr);
  std::vector<size_t> counts;
  hub.SetMembershipObserver(
      [&](const MembershipEvent&) { counts.push_back(hub.client_count()); });
  auto a = hub.Attach("a");
  a->Leave();
  EXPECT_THAT(counts, ElementsAre(1u, 0u));
}

TEST(HubTest, DestroyingAClientLeaves) {
  Hub hub(HubOptions{}, nullptr);
  EventLog log;
  auto [a, b] = Attached(hub, {"a", "b"});
  hub.SetMembershipObserver(log.Callback());
  int wakeups = 0;
  b->SetWakeup([&wakeups] { ++wakeups; });
  const uint64_t b_id = b->id();

  b.reset();

  EXPECT_EQ(hub.client_count(), 1u);
  EXPECT_THAT(Drain(*a), ElementsAre(IsNotice(Notice::CLIENT_LEFT, "b", "left")));
  EXPECT_THAT(log.events(),
              ElementsAre(IsEvent(MembershipEvent::Kind::kLeft, b_id, "b")));
  EXPECT_EQ(wakeups, 0);  // Nobody is left to wake.
}

TEST(HubTest, CloseEndsTheSessionForEveryone) {
  RecordingSink sink;
  Hub hub(HubOptions{}, &sink);
  auto [a, b] = Attached(hub, {"a", "b"});
  hub.PublishOutput("last words\n");

  hub.Close("engine exited");
  hub.Close("again");  // Idempotent.

  EXPECT_EQ(hub.client_count(), 0u);
  for (HubClient* client : {a.get(), b.get()}) {
    EXPECT_TRUE(client->closed());
    EXPECT_THAT(Drain(*client),
                ElementsAre(IsOutput("last words\n", false),
                            IsNotice(Notice::SESSION_ENDED, client->identity(),
                                     "engine exited")));
  }
  a->Input("run\n");
  a->Break();
  hub.Announce("ctl", "x");
  EXPECT_THAT(sink.lines(), IsEmpty());
  EXPECT_THAT(sink.interrupts(), IsEmpty());
  EXPECT_THAT(Drain(*b), IsEmpty());
}

TEST(HubTest, AttachAfterCloseGetsOnlySessionEnded) {
  Hub hub(HubOptions{}, nullptr);
  EventLog log;
  hub.SetMembershipObserver(log.Callback());
  hub.PublishOutput("history");
  hub.Close("engine exited");

  auto late = hub.Attach("late");
  EXPECT_TRUE(late->closed());
  EXPECT_THAT(Drain(*late), ElementsAre(IsNotice(Notice::SESSION_ENDED, "late",
                                                 "engine exited")));
  EXPECT_EQ(hub.client_count(), 0u);
  EXPECT_THAT(log.events(), IsEmpty());
  EXPECT_EQ(late->WaitPop(absl::Seconds(10)), nullptr);  // Closed: no wait.
}

TEST(HubTest, ClientMayOutliveTheHub) {
  std::shared_ptr<HubClient> survivor;
  {
    Hub hub(HubOptions{}, nullptr);
    survivor = hub.Attach("survivor");
    Drain(*survivor);
  }
  EXPECT_TRUE(survivor->closed());
  EXPECT_THAT(Drain(*survivor),
              ElementsAre(IsNoticeOfKind(Notice::SESSION_ENDED)));
  survivor->Input("ignored\n");
  survivor->Leave();
  survivor.reset();  // Must not touch the hub (ASan checks).
}

TEST(HubTest, WakeupRunsOnEmptyToNonEmptyAndOnClose) {
  Hub hub(HubOptions{}, nullptr);
  auto [a] = Attached(hub, {"a"});
  int wakeups = 0;
  a->SetWakeup([&wakeups] { ++wakeups; });

  hub.PublishOutput("1");
  hub.PublishOutput("2");  // Already non-empty: no second wake-up.
  EXPECT_EQ(wakeups, 1);
  Drain(*a);
  hub.PublishOutput("3");
  EXPECT_EQ(wakeups, 2);
  hub.PublishOutput("4");
  EXPECT_EQ(wakeups, 2);
  hub.Close("done");  // Not empty, but closing wakes anyway.
  EXPECT_EQ(wakeups, 3);
}

TEST(HubTest, WakeupOnLeaveAndOnDrop) {
  HubOptions options;
  options.client_queue_bytes = 3 * kFrameOverheadBytes;
  Hub hub(options, nullptr);
  auto [leaver, slow] = Attached(hub, {"leaver", "slow"});
  int leaver_wakeups = 0;
  leaver->SetWakeup([&] { ++leaver_wakeups; });
  leaver->Leave();
  EXPECT_EQ(leaver_wakeups, 1);

  Drain(*slow);  // The CLIENT_LEFT notice.
  int slow_wakeups = 0;
  slow->SetWakeup([&] { ++slow_wakeups; });
  hub.PublishOutput("0123456789");
  EXPECT_EQ(slow_wakeups, 1);
  // Overflows: dropped, which wakes it.
  hub.PublishOutput(std::string(2 * kFrameOverheadBytes, 'x'));
  EXPECT_TRUE(slow->closed());
  EXPECT_EQ(slow_wakeups, 2);
}

TEST(HubTest, WakeupRunsWithoutLocksSoItMayPopAndCallTheHub) {
  RecordingSink sink;
  Hub hub(HubOptions{}, &sink);
  // Declared before the clients: leaving at the end still wakes `a`.
  std::vector<FramePtr> popped;
  size_t seen_count = 0;
  auto [a, b] = Attached(hub, {"a", "b"});
  // A transport's wake-up drains the queue right away; this one also asks
  // the hub something and sends input, each of which takes the hub's lock.
  a->SetWakeup([&, client = a.get()] {
    seen_count = hub.client_count();
    while (FramePtr frame = client->Pop()) popped.push_back(std::move(frame));
    if (popped.size() == 1) client->Input("reply");
  });

  hub.PublishOutput("ping");
  b->Input("from b");

  EXPECT_EQ(seen_count, 2u);
  EXPECT_THAT(popped, ElementsAre(IsOutput("ping", false),
                                  IsNotice(Notice::COMMAND, "b", "from b")));
  EXPECT_THAT(sink.lines(),
              ElementsAre(Pair("a", "reply"), Pair("b", "from b")));
}

TEST(HubTest, WaitPopWaitsForAFrameTimesOutAndEndsOnClose) {
  Hub hub(HubOptions{}, nullptr);
  auto [a] = Attached(hub, {"a"});
  EXPECT_EQ(a->WaitPop(absl::Milliseconds(20)), nullptr);

  std::thread publisher([&hub] {
    absl::SleepFor(absl::Milliseconds(20));
    hub.PublishOutput("late");
  });
  EXPECT_THAT(a->WaitPop(absl::Seconds(30)), IsOutput("late", false));
  publisher.join();

  std::thread closer([&hub] {
    absl::SleepFor(absl::Milliseconds(20));
    hub.Close("bye");
  });
  EXPECT_THAT(a->WaitPop(absl::Seconds(30)),
              IsNoticeOfKind(Notice::SESSION_ENDED));
  const absl::Time start = absl::Now();
  EXPECT_EQ(a->WaitPop(absl::Seconds(30)), nullptr);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  closer.join();
}

// Stress, meant for TSan: a publisher, readers that also type, and clients
// attaching and leaving all at once. Every reader must see the whole output;
// every late joiner's replay plus live output must be one contiguous piece.
TEST(HubTest, ConcurrentPublishReadAndChurn) {
  constexpr int kPieces = 2000;
  constexpr int kReaders = 3;
  HubOptions options;
  options.history_bytes = 512;
  options.replay_chunk_bytes = 100;
  RecordingSink sink;
  Hub hub(options, &sink);
  std::atomic<int> observed{0};
  hub.SetMembershipObserver([&observed](const MembershipEvent&) { ++observed; });

  std::string all;
  for (int i = 0; i < kPieces; ++i) absl::StrAppend(&all, "[", i, "]");

  std::atomic<int> wakeups{0};
  std::vector<std::shared_ptr<HubClient>> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.push_back(hub.Attach(absl::StrCat("reader", r)));
  }
  for (const auto& reader : readers) Drain(*reader);
  readers[0]->SetWakeup([&wakeups] { ++wakeups; });

  std::vector<std::string> received(kReaders);
  std::vector<std::thread> threads;
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      HubClient& client = *readers[r];
      int n = 0;
      while (received[r].size() < all.size()) {
        FramePtr frame = client.WaitPop(absl::Seconds(60));
        if (frame == nullptr) break;
        if (frame->has_output()) received[r] += frame->output().data();
        if (++n % 50 == 0) client.Input(absl::StrCat("r", r, " ", n));
      }
    });
  }
  std::atomic<bool> done{false};
  std::vector<std::string> churn_failures;
  threads.emplace_back([&] {
    int round = 0;
    while (!done.load()) {
      auto client = hub.Attach(absl::StrCat("churn", round++));
      std::string seen;
      for (int i = 0; i < 3; ++i) {
        while (FramePtr frame = client->Pop()) {
          if (frame->has_output()) seen += frame->output().data();
        }
        std::this_thread::yield();
      }
      if (round % 2 == 0) client->Leave("churn");
      client.reset();
      if (all.find(seen) == std::string::npos) churn_failures.push_back(seen);
    }
  });
  std::thread publisher([&] {
    for (int i = 0; i < kPieces; ++i) hub.PublishOutput(absl::StrCat("[", i, "]"));
  });

  publisher.join();
  for (int r = 0; r < kReaders; ++r) threads[r].join();
  done = true;
  threads.back().join();

  for (int r = 0; r < kReaders; ++r) {
    EXPECT_TRUE(received[r] == all) << "reader " << r << " got "
                                    << received[r].size() << " bytes";
  }
  EXPECT_THAT(churn_failures, IsEmpty());
  EXPECT_EQ(hub.dropped_count(), 0u);
  EXPECT_EQ(hub.client_count(), static_cast<size_t>(kReaders));
  EXPECT_GE(wakeups.load(), 1);
  EXPECT_GE(observed.load(), 2);
  EXPECT_FALSE(sink.lines().empty());
}

}  // namespace
}  // namespace dbgd::session

namespace dbgd::session {
namespace {

// TapLog is a ConsoleTap that writes down what it sees, one string a call.
class TapLog final : public ConsoleTap {
 public:
  void Output(absl::string_view bytes) override {
    Add(absl::StrCat("output ", bytes));
  }
  void Notice(const v1::wire::Notice& notice) override {
    Add(absl::StrCat("notice ", v1::wire::Notice::Kind_Name(notice.kind()), " ",
                     notice.identity(), " ", notice.text()));
  }
  void Input(const std::string& identity, absl::string_view line) override {
    Add(absl::StrCat("input ", identity, " ", line));
  }
  void Break(const std::string& identity) override {
    Add(absl::StrCat("break ", identity));
  }
  void Closed() override { Add("closed"); }

  std::vector<std::string> calls() const {
    MutexLock lock(&mu_);
    return calls_;
  }

 private:
  void Add(std::string call) {
    MutexLock lock(&mu_);
    calls_.push_back(std::move(call));
  }
  mutable Mutex mu_;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
};

TEST(HubTapTest, SeesTheWholeConsoleInOrder) {
  auto tap = std::make_shared<TapLog>();
  HubOptions options;
  options.tap = tap;
  RecordingSink sink;
  Hub hub(options, &sink);
  hub.PublishOutput("banner\r\n");
  auto a = hub.Attach("box\\a");
  auto b = hub.Attach("box\\b");
  a->Input("one\ntwo\n");
  b->Break();
  hub.Announce("ops\\c", "info");
  hub.PublishOutput("(gdb) ");
  b->Leave("the user left");
  hub.Close("gdb exited with status 0");
  hub.PublishOutput("late");  // after the end: nobody sees it
  EXPECT_THAT(tap->calls(),
              ElementsAre("output banner\r\n", "notice CLIENT_JOINED box\\a joined",
                          "notice CLIENT_JOINED box\\b joined",
                          "notice COMMAND box\\a one", "input box\\a one",
                          "notice COMMAND box\\a two", "input box\\a two",
                          "notice COMMAND box\\b <Break>", "break box\\b",
                          "notice COMMAND ops\\c info", "input ops\\c info",
                          "output (gdb) ", "notice CLIENT_LEFT box\\b the user left",
                          "notice SESSION_ENDED  gdb exited with status 0",
                          "closed"));
  // The tap saw the same order as the clients and the engine did.
  EXPECT_THAT(sink.lines(), ElementsAre(Pair("box\\a", "one"), Pair("box\\a", "two")));
}

TEST(HubTapTest, AnObserversRefusedInputIsNotSeen) {
  auto tap = std::make_shared<TapLog>();
  HubOptions options;
  options.tap = tap;
  RecordingSink sink;
  Hub hub(options, &sink);
  auto a = hub.Attach("box\\a");
  auto eve = hub.Attach("box\\eve", HubClientOptions{.observer = true});
  eve->Input("rm -rf /\n");
  eve->Break();
  eve->Leave("the user left");
  EXPECT_THAT(tap->calls(),
              ElementsAre("notice CLIENT_JOINED box\\a joined",
                          "notice CLIENT_JOINED box\\eve (observer) joined",
                          "notice CLIENT_LEFT box\\eve (observer) the user left"));
  EXPECT_THAT(sink.lines(), IsEmpty());
}

TEST(HubTapTest, SeesADropAsTheOthersDoNotTheDroppedNotice) {
  auto tap = std::make_shared<TapLog>();
  HubOptions options;
  options.client_queue_bytes = 100;
  options.tap = tap;
  RecordingSink sink;
  Hub hub(options, &sink);
  auto [slow] = Attached(hub, {"box\\slow"});
  for (int i = 0; i < 5; ++i) hub.PublishOutput(std::string(60, 'x'));
  const std::vector<std::string> calls = tap->calls();
  EXPECT_THAT(calls, ::testing::Contains("notice CLIENT_LEFT box\\slow dropped: too slow"));
  for (const std::string& call : calls) {
    EXPECT_THAT(call, ::testing::Not(HasSubstr("DROPPED")));
  }
}

}  // namespace
}  // namespace dbgd::session
