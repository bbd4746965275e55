#include "protocol/frame_connection.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asio/read.hpp"
#include "asio/write.hpp"
#include "common/event_loop.h"
#include "common/mutex.h"
#include "common/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/frame_codec.h"
#include "protocol/test_streams.h"

namespace dbgd::protocol {
namespace {

using ::dbgd::protocol::testing::SocketPair;
using ::dbgd::protocol::testing::StreamPair;
using ::dbgd::protocol::testing::UnixSocket;
using ::dbgd::protocol::testing::WrapSocket;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(30);

Frame InputFrame(absl::string_view line) {
  Frame frame;
  frame.mutable_input()->set_line(std::string(line));
  return frame;
}

std::string Header(uint32_t length) {
  return std::string{static_cast<char>(length >> 24),
                     static_cast<char>(length >> 16),
                     static_cast<char>(length >> 8), static_cast<char>(length)};
}

// Recorder collects what a connection reports.
class Recorder {
 public:
  FrameConnection::FrameHandler OnFrame() {
    return [this](Frame frame) {
      MutexLock lock(&mu_);
      frames_.push_back(std::move(frame));
    };
  }
  FrameConnection::CloseHandler OnClose() {
    return [this](absl::Status status) {
      MutexLock lock(&mu_);
      closes_.push_back(std::move(status));
    };
  }

  bool WaitForFrames(size_t count) {
    MutexLock lock(&mu_);
    auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return frames_.size() >= count;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
  }

  // WaitForClose returns the close status, or nullopt after kWait.
  std::optional<absl::Status> WaitForClose() {
    MutexLock lock(&mu_);
    auto closed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !closes_.empty();
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&closed), kWait)) {
      return std::nullopt;
    }
    return closes_.front();
  }

  std::vector<Frame> frames() const {
    MutexLock lock(&mu_);
    return frames_;
  }
  size_t close_count() const {
    MutexLock lock(&mu_);
    return closes_.size();
  }

 private:
  mutable Mutex mu_;
  std::vector<Frame> frames_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Status> closes_ ABSL_GUARDED_BY(mu_);
};

// ReadAll reads `socket` to EOF (blocking).
std::string ReadAll(UnixSocket& socket) {
  std::string all;
  char buffer[4096];
  std::error_code error;
  while (true) {
    const size_t n = socket.read_some(asio::buffer(buffer), error);
    if (error) break;
    all.append(buffer, n);
  }
  return all;
}

std::vector<Frame> DecodeAll(const std::string& bytes) {
  FrameDecoder decoder;
  decoder.Append(bytes);
  std::vector<Frame> frames;
  while (true) {
    absl::StatusOr<std::optional<Frame>> next = decoder.Next();
    if (!next.ok() || !next->has_value()) break;
    frames.push_back(**next);
  }
  return frames;
}

class FrameConnectionTest : public ::testing::Test {
 protected:
  // Declared before the loop, so the loop's threads are joined before
  // these go away.
  Recorder a_;
  Recorder b_;
  EventLoop loop_{2};
};

TEST_F(FrameConnectionTest, DeliversTenThousandFramesInOrder) {
  auto [sa, sb] = StreamPair(loop_.context(), "a", "b");
  auto sender = FrameConnection::Create(std::move(sa), MakeLengthPrefixedCodec());
  auto receiver = FrameConnection::Create(std::move(sb), MakeLengthPrefixedCodec());
  sender->Start(a_.OnFrame(), a_.OnClose());
  receiver->Start(b_.OnFrame(), b_.OnClose());

  constexpr int kFrames = 10000;
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_TRUE(sender->Send(InputFrame(absl::StrCat("line ", i))).ok());
  }
  ASSERT_TRUE(b_.WaitForFrames(kFrames));
  const std::vector<Frame> frames = b_.frames();
  ASSERT_EQ(frames.size(), kFrames);
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_EQ(frames[i].input().line(), absl::StrCat("line ", i));
  }
  EXPECT_EQ(sender->pending_bytes(), 0u);

  sender->Close(/*flush=*/true);
  std::optional<absl::Status> sender_closed = a_.WaitForClose();
  std::optional<absl::Status> receiver_closed = b_.WaitForClose();
  ASSERT_TRUE(sender_closed.has_value());
  ASSERT_TRUE(receiver_closed.has_value());
  EXPECT_TRUE(sender_closed->ok()) << *sender_closed;
  EXPECT_TRUE(receiver_closed->ok()) << *receiver_closed;  // clean EOF
}

TEST_F(FrameConnectionTest, SendIsSafeFromManyThreads) {
  auto [sa, sb] = StreamPair(loop_.context(), "a", "b");
  auto sender = FrameConnection::Create(std::move(sa), MakeLengthPrefixedCodec());
  auto receiver = FrameConnection::Create(std::move(sb), MakeLengthPrefixedCodec());
  sender->Start(a_.OnFrame(), a_.OnClose());
  receiver->Start(b_.OnFrame(), b_.OnClose());

  constexpr int kThreads = 4;
  constexpr int kPerThread = 2500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&sender, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ASSERT_TRUE(sender->Send(InputFrame(absl::StrCat(t, " ", i))).ok());
        (void)sender->pending_bytes();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(b_.WaitForFrames(kThreads * kPerThread));

  // Each thread's frames arrive in the order it sent them.
  std::vector<int> next(kThreads, 0);
  for (const Frame& frame : b_.frames()) {
    std::vector<std::string> parts = absl::StrSplit(frame.input().line(), ' ');
    ASSERT_EQ(parts.size(), 2u);
    int t = 0;
    int i = 0;
    ASSERT_TRUE(absl::SimpleAtoi(parts[0], &t));
    ASSERT_TRUE(absl::SimpleAtoi(parts[1], &i));
    ASSERT_EQ(i, next[t]) << "thread " << t;
    ++next[t];
  }
  sender->Close(/*flush=*/false);
  ASSERT_TRUE(a_.WaitForClose().has_value());
  ASSERT_TRUE(b_.WaitForClose().has_value());
}

TEST_F(FrameConnectionTest, ReportsAPeerThatVanishesMidFrame) {
  auto [raw, ours] = SocketPair(loop_.context());
  auto connection = FrameConnection::Create(WrapSocket(std::move(ours), "peer"), MakeLengthPrefixedCodec());
  connection->Start(a_.OnFrame(), a_.OnClose());

  // A whole frame, then 14 of the next frame's 104 bytes.
  asio::write(raw, asio::buffer(EncodeFrame(InputFrame("whole")) + Header(100) +
                                std::string(10, 'x')));
  raw.close();

  std::optional<absl::Status> closed = a_.WaitForClose();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(closed->message(), HasSubstr("peer vanished mid-frame"));
  EXPECT_THAT(closed->message(), HasSubstr("14 of 104 bytes"));
  ASSERT_EQ(a_.frames().size(), 1u);
  EXPECT_EQ(a_.frames()[0].input().line(), "whole");
}

TEST_F(FrameConnectionTest, HugeLengthPrefixDropsThePeer) {
  auto [raw, ours] = SocketPair(loop_.context());
  auto connection = FrameConnection::Create(WrapSocket(std::move(ours), "peer"), MakeLengthPrefixedCodec());
  connection->Start(a_.OnFrame(), a_.OnClose());

  asio::write(raw, asio::buffer(Header(0xffffffff)));

  std::optional<absl::Status> closed = a_.WaitForClose();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(closed->message(), "frame of 4294967295 bytes exceeds the 1 MiB limit");
  // The peer is told why, then dropped.
  std::vector<Frame> told = DecodeAll(ReadAll(raw));
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].bye().reason(),
            "frame of 4294967295 bytes exceeds the 1 MiB limit");
  EXPECT_TRUE(a_.frames().empty());
  EXPECT_FALSE(connection->Send(InputFrame("late")).ok());
}

TEST_F(FrameConnectionTest, GarbageDropsThePeer) {
  auto [raw, ours] = SocketPair(loop_.context());
  auto connection = FrameConnection::Create(WrapSocket(std::move(ours), "peer"), MakeLengthPrefixedCodec());
  connection->Start(a_.OnFrame(), a_.OnClose());

  asio::write(raw, asio::buffer(Header(10) + std::string(10, '\xff')));

  std::optional<absl::Status> closed = a_.WaitForClose();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(closed->message(), HasSubstr("unparsable frame of 10 bytes"));
  std::vector<Frame> told = DecodeAll(ReadAll(raw));
  ASSERT_EQ(told.size(), 1u);
  EXPECT_THAT(told[0].bye().reason(), HasSubstr("unparsable"));
}

TEST_F(FrameConnectionTest, CleanEofAtAFrameBoundaryIsOk) {
  auto [raw, ours] = SocketPair(loop_.context());
  auto connection = FrameConnection::Create(WrapSocket(std::move(ours), "peer"), MakeLengthPrefixedCodec());
  connection->Start(a_.OnFrame(), a_.OnClose());

  asio::write(raw, asio::buffer(EncodeFrame(InputFrame("last words"))));
  raw.shutdown(UnixSocket::shutdown_send);

  std::optional<absl::Status> closed = a_.WaitForClose();
  ASSERT_TRUE(closed.has_value());
  EXPECT_TRUE(closed->ok()) << *closed;
  ASSERT_EQ(a_.frames().size(), 1u);
  EXPECT_EQ(a_.frames()[0].input().line(), "last words");
}

TEST_F(FrameConnectionTest, CloseWithFlushDeliversQueuedFramesFirst) {
  auto [sa, sb] = StreamPair(loop_.context(), "a", "b");
  auto sender = FrameConnection::Create(std::move(sa), MakeLengthPrefixedCodec());
  auto receiver = FrameConnection::Create(std::move(sb), MakeLengthPrefixedCodec());
  sender->Start(a_.OnFrame(), a_.OnClose());
  receiver->Start(b_.OnFrame(), b_.OnClose());

  constexpr int kFrames = 1000;
  Frame output;
  output.mutable_output()->set_data(std::string(4096, 'o'));
  for (int i = 0; i < kFrames; ++i) ASSERT_TRUE(sender->Send(output).ok());
  Frame bye;
  bye.mutable_bye()->set_reason("the end");
  ASSERT_TRUE(sender->Send(bye).ok());
  sender->Close(/*flush=*/true);
  EXPECT_EQ(sender->Send(bye).code(), absl::StatusCode::kFailedPrecondition);

  std::optional<absl::Status> receiver_closed = b_.WaitForClose();
  ASSERT_TRUE(receiver_closed.has_value());
  EXPECT_TRUE(receiver_closed->ok()) << *receiver_closed;
  const std::vector<Frame> frames = b_.frames();
  ASSERT_EQ(frames.size(), kFrames + 1);
  EXPECT_EQ(frames.back().bye().reason(), "the end");
  std::optional<absl::Status> sender_closed = a_.WaitForClose();
  ASSERT_TRUE(sender_closed.has_value());
  EXPECT_TRUE(sender_closed->ok());
  EXPECT_EQ(sender->pending_bytes(), 0u);
}

TEST_F(FrameConnectionTest, FlushGivesUpOnAPeerThatDoesNotRead) {
  auto [raw, ours] = SocketPair(loop_.context());
  auto connection = FrameConnection::Create(
      WrapSocket(std::move(ours), "peer"), MakeLengthPrefixedCodec(),
      FrameConnectionOptions{.flush_timeout = absl::Milliseconds(200)});
  connection->Start(a_.OnFrame(), a_.OnClose());
  Frame output;
  output.mutable_output()->set_data(std::string(512 * 1024, 'o'));
  for (int i = 0; i < 32; ++i) ASSERT_TRUE(connection->Send(output).ok());
  EXPECT_GT(connection->pending_bytes(), 0u);

  const absl::Time start = absl::Now();
  connection->Close(/*flush=*/true);
  std::optional<absl::Status> closed = a_.WaitForClose();
  ASSERT_TRUE(closed.has_value());
  EXPECT_TRUE(closed->ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(connection->pending_bytes(), 0u);
}

// A slow reader that keeps reading is not given up on, however long the
// flush takes: the flush timeout runs from its last progress.
TEST_F(FrameConnectionTest, FlushWaitsForAPeerThatKeepsReadingSlowly) {
  auto [ours, theirs] = testing::TcpPair(loop_.context(), 16 * 1024);
  auto connection = FrameConnection::Create(
      testing::WrapTcp(std::move(ours)), MakeLengthPrefixedCodec(),
      FrameConnectionOptions{.flush_timeout = absl::Milliseconds(300)});
  connection->Start(a_.OnFrame(), a_.OnClose());
  constexpr int kFrames = 4;
  Frame output;
  output.mutable_output()->set_data(std::string(512 * 1024, 'o'));
  for (int i = 0; i < kFrames; ++i) ASSERT_TRUE(connection->Send(output).ok());
  Frame bye;
  bye.mutable_bye()->set_reason("dropped");
  ASSERT_TRUE(connection->Send(bye).ok());
  connection->Close(/*flush=*/true);

  // 2 MiB at 32 KiB every 20 ms: over a second, several flush timeouts
  // (and within the flush's limit of 12 timeouts).
  std::string received;
  std::error_code error;
  char buffer[32 * 1024];
  while (!error) {
    absl::SleepFor(absl::Milliseconds(20));
    const size_t n = theirs.read_some(asio::buffer(buffer), error);
    received.append(buffer, n);
  }
  EXPECT_EQ(error, asio::error::eof) << error.message();
  const std::vector<Frame> frames = DecodeAll(received);
  ASSERT_EQ(frames.size(), kFrames + 1);
  EXPECT_EQ(frames.back().bye().reason(), "dropped");
  FrameDecoder whole;
  whole.Append(received);
  for (size_t i = 0; i < frames.size(); ++i) ASSERT_TRUE(whole.Next().ok());
  EXPECT_TRUE(whole.at_frame_boundary()) << "the stream ends inside a frame";
  std::optional<absl::Status> closed = a_.WaitForClose();
  ASSERT_TRUE(closed.has_value());
  EXPECT_TRUE(closed->ok()) << *closed;
}

// A peer that stops reading is reset once the flush timeout passes without
// progress: it sees the connection break, not a stream ending mid-frame.
TEST_F(FrameConnectionTest, FlushResetsATcpPeerThatStoppedReading) {
  auto [ours, theirs] = testing::TcpPair(loop_.context(), 16 * 1024);
  auto connection = FrameConnection::Create(
      testing::WrapTcp(std::move(ours)), MakeLengthPrefixedCodec(),
      FrameConnectionOptions{.flush_timeout = absl::Milliseconds(200)});
  connection->Start(a_.OnFrame(), a_.OnClose());
  Frame output;
  output.mutable_output()->set_data(std::string(512 * 1024, 'o'));
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(connection->Send(output).ok());
  connection->Close(/*flush=*/true);
  std::optional<absl::Status> closed = a_.WaitForClose();
  ASSERT_TRUE(closed.has_value());

  std::error_code error;
  char buffer[64 * 1024];
  while (!error) theirs.read_some(asio::buffer(buffer), error);
  EXPECT_EQ(error, asio::error::connection_reset) << error.message();
}

// A peer that trickles a byte now and then is given up on all the same,
// after 12 flush timeouts.
TEST_F(FrameConnectionTest, FlushEndsForAPeerThatOnlyTrickles) {
  auto [ours, theirs] = testing::TcpPair(loop_.context(), 16 * 1024);
  auto connection = FrameConnection::Create(
      testing::WrapTcp(std::move(ours)), MakeLengthPrefixedCodec(),
      FrameConnectionOptions{.flush_timeout = absl::Milliseconds(100)});
  connection->Start(a_.OnFrame(), a_.OnClose());
  Frame output;
  output.mutable_output()->set_data(std::string(512 * 1024, 'o'));
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(connection->Send(output).ok());
  const absl::Time start = absl::Now();
  connection->Close(/*flush=*/true);

  std::error_code error;
  char buffer[1024];
  while (!error) {
    absl::SleepFor(absl::Milliseconds(50));
    theirs.read_some(asio::buffer(buffer), error);
  }
  EXPECT_EQ(error, asio::error::connection_reset) << error.message();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(1100));
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_TRUE(a_.WaitForClose().has_value());
}

// Stuck sends big frames to a peer that does not read until a write is
// stuck, and returns how many it sent (numbered "frame N ").
int Stuck(FrameConnection& connection, int count) {
  for (int i = 0; i < count; ++i) {
    Frame output;
    output.mutable_output()->set_data(
        absl::StrCat("frame ", i, " ", std::string(512 * 1024, 'o')));
    EXPECT_TRUE(connection.Send(output).ok());
  }
  absl::SleepFor(absl::Milliseconds(200));  // the socket fills
  return count;
}

TEST_F(FrameConnectionTest, PendingBytesCountWhatEachQueuedFrameCosts) {
  auto [raw, ours] = SocketPair(loop_.context());
  auto connection = FrameConnection::Create(WrapSocket(std::move(ours), "peer"),
                                            MakeLengthPrefixedCodec());
  connection->Start(a_.OnFrame(), a_.OnClose());
  Stuck(*connection, 8);
  const size_t before = connection->pending_bytes();
  // Empty frames: 4 bytes on the wire, but each costs a queue entry.
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(connection->Send(Frame()).ok());
  EXPECT_EQ(connection->pending_bytes() - before,
            1000 * (4 + kQueuedFrameOverheadBytes));
  connection->Close(/*flush=*/false);
  ASSERT_TRUE(a_.WaitForClose().has_value());
  EXPECT_EQ(connection->pending_bytes(), 0u);
}

TEST_F(FrameConnectionTest, DiscardQueuedLetsTheNextFrameFollowTheWriteInFlight) {
  auto [raw, ours] = SocketPair(loop_.context());
  auto connection = FrameConnection::Create(WrapSocket(std::move(ours), "peer"),
                                            MakeLengthPrefixedCodec());
  connection->Start(a_.OnFrame(), a_.OnClose());
  const int sent = Stuck(*connection, 16);
  const size_t discarded = connection->DiscardQueued();
  EXPECT_GT(discarded, 0u);
  EXPECT_LT(discarded, static_cast<size_t>(sent)) << "one write is in flight";
  Frame last;
  last.mutable_notice()->set_kind(v1::wire::Notice::DROPPED);
  ASSERT_TRUE(connection->Send(last).ok());
  connection->Close(/*flush=*/true);

  // The peer gets whole frames only: those written before, then the notice.
  FrameDecoder decoder;
  decoder.Append(ReadAll(raw));
  std::vector<Frame> frames;
  while (true) {
    absl::StatusOr<std::optional<Frame>> next = decoder.Next();
    ASSERT_TRUE(next.ok()) << next.status();
    if (!next->has_value()) break;
    frames.push_back(**next);
  }
  EXPECT_TRUE(decoder.at_frame_boundary()) << "a partial frame at the end";
  ASSERT_FALSE(frames.empty());
  EXPECT_TRUE(frames.back().has_notice());
  ASSERT_EQ(frames.size() - 1 + discarded, static_cast<size_t>(sent));
  for (size_t i = 0; i + 1 < frames.size(); ++i) {
    EXPECT_TRUE(absl::StartsWith(frames[i].output().data(),
                                 absl::StrCat("frame ", i, " ")))
        << i;
  }
  ASSERT_TRUE(a_.WaitForClose().has_value());
}

TEST_F(FrameConnectionTest, OnDrainedWaitsForThePeerToRead) {
  auto [raw, ours] = SocketPair(loop_.context());
  auto connection = FrameConnection::Create(WrapSocket(std::move(ours), "peer"), MakeLengthPrefixedCodec());
  connection->Start(a_.OnFrame(), a_.OnClose());

  // Nothing pending: at once.
  dbgd::Notification idle;
  connection->OnDrained(1, [&idle] { idle.Notify(); });
  EXPECT_TRUE(idle.WaitForNotificationWithTimeout(kWait));

  // The peer does not read: the socket fills and the callback waits.
  Frame output;
  output.mutable_output()->set_data(std::string(512 * 1024, 'o'));
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(connection->Send(output).ok());
  std::atomic<int> calls{0};
  dbgd::Notification drained;
  connection->OnDrained(64 * 1024, [&] {
    EXPECT_LT(connection->pending_bytes(), 64u * 1024);
    ++calls;
    drained.Notify();
  });
  EXPECT_FALSE(drained.WaitForNotificationWithTimeout(absl::Milliseconds(200)))
      << "called while " << connection->pending_bytes() << " bytes are pending";

  // The peer reads everything: called, once.
  std::string sink(8 * (512 * 1024 + 16), '\0');
  std::error_code error;
  asio::read(raw, asio::buffer(sink), asio::transfer_at_least(8 * 512 * 1024), error);
  ASSERT_FALSE(error) << error.message();
  EXPECT_TRUE(drained.WaitForNotificationWithTimeout(kWait));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(calls.load(), 1);
  connection->Close(/*flush=*/false);
  ASSERT_TRUE(a_.WaitForClose().has_value());
}

TEST_F(FrameConnectionTest, OnDrainedIsNeverCalledAfterClose) {
  auto [raw, ours] = SocketPair(loop_.context());
  auto connection = FrameConnection::Create(WrapSocket(std::move(ours), "peer"), MakeLengthPrefixedCodec());
  connection->Start(a_.OnFrame(), a_.OnClose());
  Frame output;
  output.mutable_output()->set_data(std::string(512 * 1024, 'o'));
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(connection->Send(output).ok());
  std::atomic<bool> called{false};
  connection->OnDrained(1, [&called] { called = true; });
  connection->Close(/*flush=*/false);
  ASSERT_TRUE(a_.WaitForClose().has_value());
  connection->OnDrained(1, [&called] { called = true; });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(called.load()) << "a closed connection drains nothing";
}

TEST_F(FrameConnectionTest, RefusesOversizedFrames) {
  auto [sa, sb] = StreamPair(loop_.context(), "a", "b");
  auto connection = FrameConnection::Create(std::move(sa), MakeLengthPrefixedCodec());
  Frame huge;
  huge.mutable_output()->set_data(std::string(kMaxFrameBytes, 'h'));
  absl::Status sent = connection->Send(huge);
  EXPECT_EQ(sent.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sent.message(), HasSubstr("exceeds the 1 MiB limit"));
  EXPECT_EQ(connection->pending_bytes(), 0u);
}

TEST_F(FrameConnectionTest, HoldsFramesWhilePaused) {
  auto [sa, sb] = StreamPair(loop_.context(), "a", "b");
  auto sender = FrameConnection::Create(std::move(sa), MakeLengthPrefixedCodec());
  auto receiver = FrameConnection::Create(std::move(sb), MakeLengthPrefixedCodec());
  sender->Start(a_.OnFrame(), a_.OnClose());
  receiver->Start(nullptr, b_.OnClose());

  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(sender->Send(InputFrame(absl::StrCat(i))).ok());
  }
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_TRUE(b_.frames().empty());

  receiver->SetFrameHandler(b_.OnFrame());
  ASSERT_TRUE(b_.WaitForFrames(3));
  EXPECT_EQ(b_.frames()[2].input().line(), "2");
  receiver->Close(/*flush=*/false);
  ASSERT_TRUE(b_.WaitForClose().has_value());
}

TEST_F(FrameConnectionTest, HandlerSwitchedInsideAHandlerLosesNothing) {
  auto [sa, sb] = StreamPair(loop_.context(), "a", "b");
  auto sender = FrameConnection::Create(std::move(sa), MakeLengthPrefixedCodec());
  auto receiver = FrameConnection::Create(std::move(sb), MakeLengthPrefixedCodec());
  sender->Start(a_.OnFrame(), a_.OnClose());

  // The first frame goes to a_, which hands over to b_ (as the handshake
  // hands over to the session phase).
  FrameConnection* raw_receiver = receiver.get();
  FrameConnection::FrameHandler second = b_.OnFrame();
  FrameConnection::FrameHandler first_then_switch =
      [this, raw_receiver, second](Frame frame) {
        a_.OnFrame()(std::move(frame));
        raw_receiver->SetFrameHandler(second);
      };
  // All frames are written before reading starts, so most arrive in one
  // read.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(sender->Send(InputFrame(absl::StrCat(i))).ok());
  }
  absl::SleepFor(absl::Milliseconds(50));
  receiver->Start(first_then_switch, b_.OnClose());

  ASSERT_TRUE(b_.WaitForFrames(99));
  ASSERT_EQ(a_.frames().size(), 1u);
  EXPECT_EQ(a_.frames()[0].input().line(), "0");
  EXPECT_EQ(b_.frames()[0].input().line(), "1");
  EXPECT_EQ(b_.frames()[98].input().line(), "99");
  sender->Close(/*flush=*/true);
  ASSERT_TRUE(b_.WaitForClose().has_value());
}

TEST_F(FrameConnectionTest, ReportsCloseExactlyOnce) {
  auto [sa, sb] = StreamPair(loop_.context(), "a", "b");
  auto one = FrameConnection::Create(std::move(sa), MakeLengthPrefixedCodec());
  auto two = FrameConnection::Create(std::move(sb), MakeLengthPrefixedCodec());
  one->Start(a_.OnFrame(), a_.OnClose());
  two->Start(b_.OnFrame(), b_.OnClose());

  two->Close(/*flush=*/false);
  one->Close(/*flush=*/false);
  two->Close(/*flush=*/true);
  ASSERT_TRUE(a_.WaitForClose().has_value());
  ASSERT_TRUE(b_.WaitForClose().has_value());
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(a_.close_count(), 1u);
  EXPECT_EQ(b_.close_count(), 1u);

  // A close handler installed afterwards still learns the reason.
  Recorder late;
  two->SetCloseHandler(late.OnClose());
  std::optional<absl::Status> reason = late.WaitForClose();
  ASSERT_TRUE(reason.has_value());
  EXPECT_TRUE(reason->ok());
}

}  // namespace
}  // namespace dbgd::protocol
