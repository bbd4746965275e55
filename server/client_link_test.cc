#include "server/client_link.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/event_loop.h"
#include "common/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/frame_codec.h"
#include "protocol/frame_connection.h"
#include "protocol/test_streams.h"
#include "session/hub.h"

namespace dbgd::server {
namespace {

using protocol::Frame;
using protocol::FrameConnection;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using v1::wire::Notice;

constexpr absl::Duration kWait = absl::Seconds(20);

// RecordingSink is the engine's side of the hub.
class RecordingSink final : public session::InputSink {
 public:
  void WriteLine(const std::string& identity, const std::string& line) override {
    MutexLock lock(&mu_);
    lines_.push_back(absl::StrCat(identity, ": ", line));
  }
  void Interrupt(const std::string& identity) override {
    MutexLock lock(&mu_);
    lines_.push_back(absl::StrCat(identity, ": <break>"));
  }
  bool WaitFor(size_t count) {
    MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return lines_.size() >= count;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
  }
  std::vector<std::string> lines() const {
    MutexLock lock(&mu_);
    return lines_;
  }

 private:
  mutable Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

// Peer is the remote client: a FrameConnection recording what it gets.
class Peer {
 public:
  explicit Peer(std::unique_ptr<transports::Stream> stream)
      : frames_(FrameConnection::Create(std::move(stream),
                                        protocol::MakeLengthPrefixedCodec())) {}
  // The handlers use this object: they must be done before it goes.
  ~Peer() {
    frames_->Close(/*flush=*/false);
    if (started_) WaitForClose();
  }

  void Start() {
    started_ = true;
    frames_->Start(
        [this](Frame frame) {
          MutexLock lock(&mu_);
          received_.push_back(std::move(frame));
        },
        [this](absl::Status) {
          MutexLock lock(&mu_);
          closed_ = true;
        });
  }
  void Send(const Frame& frame) { ASSERT_TRUE(frames_->Send(frame).ok()); }

  // WaitFor waits until a received frame satisfies `match`; returns it.
  template <typename Match>
  std::optional<Frame> WaitFor(Match match) {
    MutexLock lock(&mu_);
    std::optional<Frame> found;
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const Frame& frame : received_) {
        if (match(frame)) {
          found = frame;
          return true;
        }
      }
      return false;
    };
    mu_.AwaitWithTimeout(absl::Condition(&seen), kWait);
    return found;
  }
  bool WaitForClose() {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&closed_), kWait);
  }
  // Output: the Output bytes received, in order.
  std::string Output() const {
    MutexLock lock(&mu_);
    std::string all;
    for (const Frame& frame : received_) {
      if (frame.has_output()) all += frame.output().data();
    }
    return all;
  }
  std::vector<Frame> received() const {
    MutexLock lock(&mu_);
    return received_;
  }

 private:
  std::shared_ptr<FrameConnection> frames_;
  bool started_ = false;
  mutable Mutex mu_;
  std::vector<Frame> received_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

bool IsOutput(const Frame& frame, absl::string_view data) {
  return frame.has_output() && frame.output().data() == data;
}
bool IsNotice(const Frame& frame, Notice::Kind kind) {
  return frame.has_notice() && frame.notice().kind() == kind;
}

class ClientLinkTest : public ::testing::Test {
 protected:
  struct Closed {
    uint64_t id = 0;
    std::string reason;
  };

  // Link connects a Peer to a new ClientLink over a socket pair, as a
  // server does after the handshake.
  std::unique_ptr<Peer> Link(
      ClientLinkOptions options = {},
      protocol::FrameConnectionOptions frame_options = {},
      bool observer = false) {
    auto [ours, theirs] =
        protocol::testing::StreamPair(loop_.context(), "server", "client");
    auto frames = FrameConnection::Create(
        std::move(ours), protocol::MakeLengthPrefixedCodec(), frame_options);
    frames->Start(nullptr, nullptr);  // paused, as the handshake leaves it
    link_ = ClientLink::Make(
        7, "box\\alice", frames,
        hub_->Attach("box\\alice", {.observer = observer}),
        [this](uint64_t id, const std::string& reason) {
          MutexLock lock(&mu_);
          closed_ = Closed{id, reason};
        },
        options);
    link_->Start();
    auto peer = std::make_unique<Peer>(std::move(theirs));
    return peer;
  }

  std::optional<Closed> WaitForLinkClosed(absl::Duration timeout = kWait) {
    MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closed_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
    return closed_;
  }

  RecordingSink sink_;
  std::unique_ptr<session::Hub> hub_ =
      std::make_unique<session::Hub>(session::HubOptions{}, &sink_);
  Mutex mu_;
  std::optional<Closed> closed_ ABSL_GUARDED_BY(mu_);
  EventLoop loop_{2};
  std::shared_ptr<ClientLink> link_;
};

TEST_F(ClientLinkTest, InputAndBreakReachTheEngineAttributed) {
  std::unique_ptr<Peer> peer = Link();
  peer->Start();
  Frame input;
  input.mutable_input()->set_line("bt");
  peer->Send(input);
  Frame interrupt;
  interrupt.mutable_break_();
  peer->Send(interrupt);
  ASSERT_TRUE(sink_.WaitFor(2));
  EXPECT_THAT(sink_.lines(),
              ::testing::ElementsAre("box\\alice: bt", "box\\alice: <break>"));
  EXPECT_GT(link_->last_active(), link_->connect_time());
}

TEST_F(ClientLinkTest, ObserverInputAndBreakAreRefusedAndSeenAsRefused) {
  Mutex seen_mu;
  std::vector<std::string> seen;  // "input: LINE", "refused: LINE", ...
  auto record = [&](const char* what) {
    return [&seen_mu, &seen, what](const Frame& frame) {
      MutexLock lock(&seen_mu);
      seen.push_back(absl::StrCat(
          what, ": ", frame.has_break_() ? "<break>" : frame.input().line()));
    };
  };
  ClientLinkOptions options;
  options.on_input = record("input");
  options.on_refused = record("refused");
  std::unique_ptr<Peer> peer = Link(options, {}, /*observer=*/true);
  EXPECT_TRUE(link_->observer());
  peer->Start();
  Frame input;
  input.mutable_input()->set_line("kill");
  peer->Send(input);
  Frame interrupt;
  interrupt.mutable_break_();
  peer->Send(interrupt);

  std::optional<Frame> break_refused = peer->WaitFor([](const Frame& frame) {
    return IsNotice(frame, Notice::INPUT_REFUSED) &&
           absl::StartsWith(frame.notice().text(), "break refused");
  });
  ASSERT_TRUE(break_refused.has_value());
  EXPECT_THAT(break_refused->notice().text(), HasSubstr("read-only"));
  std::optional<Frame> input_refused = peer->WaitFor([](const Frame& frame) {
    return IsNotice(frame, Notice::INPUT_REFUSED) &&
           absl::StartsWith(frame.notice().text(), "input refused");
  });
  ASSERT_TRUE(input_refused.has_value());
  EXPECT_EQ(input_refused->notice().identity(), "box\\alice");
  EXPECT_TRUE(sink_.lines().empty());
  {
    MutexLock lock(&seen_mu);
    EXPECT_THAT(seen, ::testing::ElementsAre("refused: kill", "refused: <break>"));
  }
  // It is still a client: what the session prints reaches it.
  hub_->PublishOutput("still watching\n");
  EXPECT_TRUE(peer->WaitFor([](const Frame& frame) {
    return IsOutput(frame, "still watching\n");
  }).has_value());
}

TEST_F(ClientLinkTest, HistoryThenLiveOutputReachTheClientInOrder) {
  hub_->PublishOutput("before you came\n");
  std::unique_ptr<Peer> peer = Link();
  peer->Start();
  ASSERT_TRUE(peer->WaitFor([](const Frame& f) {
    return IsNotice(f, Notice::HISTORY_END);
  }));
  hub_->PublishOutput("after\n");
  ASSERT_TRUE(peer->WaitFor([](const Frame& f) { return IsOutput(f, "after\n"); }));
  EXPECT_EQ(peer->Output(), "before you came\nafter\n");
  const std::vector<Frame> frames = peer->received();
  ASSERT_FALSE(frames.empty());
  EXPECT_TRUE(frames.front().output().replay());
}

TEST_F(ClientLinkTest, ByeFromTheClientLeavesTheHubOnce) {
  std::unique_ptr<Peer> peer = Link();
  peer->Start();
  EXPECT_EQ(hub_->client_count(), 1u);
  Frame bye;
  bye.mutable_bye()->set_reason("done");
  peer->Send(bye);
  std::optional<Closed> closed = WaitForLinkClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->id, 7u);
  EXPECT_EQ(closed->reason, "left");
  EXPECT_EQ(hub_->client_count(), 0u);
  EXPECT_TRUE(peer->WaitForClose());
}

TEST_F(ClientLinkTest, DisconnectSendsWhatIsQueuedThenByeWithTheReason) {
  std::unique_ptr<Peer> peer = Link();
  hub_->PublishOutput("last words\n");
  link_->Disconnect("the session ended: quit");
  peer->Start();
  std::optional<Frame> bye =
      peer->WaitFor([](const Frame& f) { return f.has_bye(); });
  ASSERT_TRUE(bye.has_value());
  EXPECT_EQ(bye->bye().reason(), "the session ended: quit");
  EXPECT_EQ(peer->Output(), "last words\n");
  // The output came before the Bye.
  const std::vector<Frame> frames = peer->received();
  EXPECT_TRUE(frames.back().has_bye());
  std::optional<Closed> closed = WaitForLinkClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->reason, "the session ended: quit");
}

TEST_F(ClientLinkTest, HandshakeFrameAfterTheHandshakeDropsTheClient) {
  std::unique_ptr<Peer> peer = Link();
  peer->Start();
  Frame hello;
  hello.mutable_client_hello()->set_identity("again");
  peer->Send(hello);
  std::optional<Frame> bye =
      peer->WaitFor([](const Frame& f) { return f.has_bye(); });
  ASSERT_TRUE(bye.has_value());
  EXPECT_THAT(bye->bye().reason(), HasSubstr("protocol error"));
  EXPECT_TRUE(WaitForLinkClosed().has_value());
}

TEST_F(ClientLinkTest, OutputWaitsInTheHubWhileTheClientIsFullThenAllArrives) {
  // A client that does not read yet: the link keeps at most about
  // high_water unsent, the hub holds the rest.
  ClientLinkOptions options{.high_water = 16 * 1024};
  std::unique_ptr<Peer> peer = Link(options);
  std::string expected;
  for (int i = 0; i < 400; ++i) {
    const std::string chunk = absl::StrCat("chunk ", i, " ", std::string(4000, 'x'), "\n");
    expected += chunk;
    hub_->PublishOutput(chunk);
  }
  // The socket pair's buffers take a few hundred KiB; the rest waits.
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(hub_->client_count(), 1u);
  peer->Start();
  ASSERT_TRUE(peer->WaitFor([](const Frame& f) {
    return f.has_output() && absl::StartsWith(f.output().data(), "chunk 399 ");
  }));
  EXPECT_TRUE(peer->Output() == expected) << "output lost or reordered";
}

TEST_F(ClientLinkTest, ClientTooFarBehindIsDroppedToldWhyAndClosed) {
  hub_ = std::make_unique<session::Hub>(
      session::HubOptions{.client_queue_bytes = 256 * 1024}, &sink_);
  std::unique_ptr<Peer> peer = Link(
      ClientLinkOptions{.high_water = 16 * 1024},
      protocol::FrameConnectionOptions{.flush_timeout = absl::Milliseconds(300)});
  // Never read: the socket fills, then the hub's queue overflows.
  for (int i = 0; i < 400; ++i) hub_->PublishOutput(std::string(8000, 'y'));
  std::optional<Closed> closed = WaitForLinkClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_THAT(closed->reason, StartsWith("dropped: "));
  EXPECT_EQ(hub_->client_count(), 0u);
  EXPECT_EQ(hub_->dropped_count(), 1u);
}

TEST_F(ClientLinkTest, DroppedClientGetsTheNoticeAheadOfItsBacklogThenIsClosed) {
  // The connection may hold much (a high water of 8 MiB); the hub's queue
  // little. A client that stopped reading is dropped while stopped, and
  // when it reads again it finds whole frames, a little old output (what
  // the transport had taken), then DROPPED, then the end.
  hub_ = std::make_unique<session::Hub>(
      session::HubOptions{.client_queue_bytes = 256 * 1024}, &sink_);
  std::unique_ptr<Peer> peer =
      Link(ClientLinkOptions{.high_water = 8 * 1024 * 1024},
           protocol::FrameConnectionOptions{.flush_timeout = absl::Seconds(20)});
  size_t published = 0;
  for (int i = 0; i < 4000 && hub_->dropped_count() == 0; ++i) {
    hub_->PublishOutput(std::string(8000, 'y'));
    published += 8000;
    // Paced, so that the link keeps moving output to the connection.
    absl::SleepFor(absl::Microseconds(300));
  }
  ASSERT_EQ(hub_->dropped_count(), 1u) << "not dropped while it read nothing";
  ASSERT_GT(published, 4u * 1024 * 1024) << "the connection took little";
  EXPECT_FALSE(WaitForLinkClosed(absl::Milliseconds(200)).has_value())
      << "closed before the client could take its notice";
  peer->Start();
  std::optional<Closed> closed = WaitForLinkClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_THAT(closed->reason, StartsWith("dropped: "));
  ASSERT_TRUE(peer->WaitForClose());
  const std::vector<Frame> frames = peer->received();
  ASSERT_FALSE(frames.empty());
  EXPECT_TRUE(IsNotice(frames.back(), Notice::DROPPED));
  // Less than the backlog the connection held: that was discarded.
  EXPECT_LT(peer->Output().size(), 2u * 1024 * 1024);
}

}  // namespace
}  // namespace dbgd::server
