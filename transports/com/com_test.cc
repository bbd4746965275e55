// The com transport over real PTYs joined by a null modem: sessions on
// channels, noise, keepalives and idle sessions, and the line's rules.
// The far end is played either by the transport itself (a client) or, to
// misbehave on purpose, by raw packets written from the test.

#include "transports/com/com.h"

#include <poll.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asio/post.hpp"
#include "asio/strand.hpp"
#include "common/event_loop.h"
#include "common/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/frame_codec.h"
#include "testing/null_modem.h"
#include "transports/com/line.h"
#include "transports/com/packet.h"
#include "transports/com/tty.h"
#include "transports/factory.h"

namespace dbgd::transports {
namespace {

using ::testing::HasSubstr;
using StreamPtr = std::unique_ptr<Stream>;

constexpr absl::Duration kTimeout = absl::Seconds(10);

std::string Framed(const std::string& body) {
  protocol::Frame frame;
  frame.mutable_input()->set_line(body);
  return protocol::EncodeFrame(frame);
}

// The line of a frame that Framed made, or "" if `bytes` is not one.
std::string LineOf(const std::string& bytes) {
  protocol::FrameDecoder decoder;
  decoder.Append(bytes);
  absl::StatusOr<std::optional<protocol::Frame>> frame = decoder.Next();
  if (!frame.ok() || !frame->has_value()) return "";
  return (*frame)->input().line();
}

// RawEnd plays the far end of the line byte by byte.
class RawEnd {
 public:
  explicit RawEnd(const std::string& device) {
    absl::StatusOr<com::OpenedLine> line = com::OpenLine(device, 115200, {});
    EXPECT_TRUE(line.ok()) << line.status();
    fd_ = line.ok() ? line->fd : -1;
  }
  ~RawEnd() {
    if (fd_ >= 0) com::CloseLine(fd_);
  }

  void Write(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = write(fd_, bytes.data() + done, bytes.size() - done);
      if (n > 0) {
        done += n;
      } else {
        pollfd p{fd_, POLLOUT, 0};
        poll(&p, 1, 100);
      }
    }
  }
  void Control(com::ControlOp op, uint8_t channel) {
    const char body[2] = {static_cast<char>(op), static_cast<char>(channel)};
    Write(com::EncodeBody(com::kControlChannel, std::string(body, 2)));
  }
  void Send(uint8_t channel, const std::string& line) {
    Write(com::EncodePacket(channel, Framed(line)));
  }

  // Next returns the next packet the line sent, within `timeout`.
  std::optional<com::Packet> Next(absl::Duration timeout = kTimeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      if (std::optional<com::Packet> packet = reader_.Next()) return packet;
      const int ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
      if (ms <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, ms) <= 0) continue;
      char buffer[4096];
      const ssize_t n = read(fd_, buffer, sizeof buffer);
      if (n > 0) reader_.Append(absl::string_view(buffer, n));
    }
  }
  // NextData skips control packets.
  std::optional<com::Packet> NextData(absl::Duration timeout = kTimeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (std::optional<com::Packet> packet = Next(deadline - absl::Now())) {
      if (packet->channel != com::kControlChannel) return packet;
    }
    return std::nullopt;
  }

 private:
  int fd_ = -1;
  com::PacketReader reader_;
};

class ComTest : public ::testing::Test {
 protected:
  explicit ComTest(absl::Duration idle = absl::Seconds(30))
      : loop_(2),
        strand_(asio::make_strand(loop_.context())),
        cable_(*dbgd::testing::NullModem::Create()),
        factory_(loop_.context().get_executor(), {.com_idle_timeout = idle}) {}
  ~ComTest() override { loop_.Stop(); }

  absl::StatusOr<std::unique_ptr<Listener>> Serve(const std::string& text) {
    absl::StatusOr<ServerSpec> spec = ParseServerSpec(text);
    if (!spec.ok()) return spec.status();
    return factory_.Listen(*spec, strand_);
  }
  std::unique_ptr<Listener> MustServe(uint8_t channel, uint32_t baud = 115200) {
    absl::StatusOr<std::unique_ptr<Listener>> listener = Serve(absl::StrCat(
        "com:port=", cable_->a(), ",baud=", baud, ",channel=", channel));
    EXPECT_TRUE(listener.ok()) << listener.status();
    return listener.ok() ? *std::move(listener) : nullptr;
  }

  // A stream's future: an accept or connect started on the strand.
  struct Pending {
    Notification done;
    absl::StatusOr<StreamPtr> stream = absl::DeadlineExceededError("none");
    absl::StatusOr<StreamPtr> Wait(absl::Duration timeout = kTimeout) {
      if (!done.WaitForNotificationWithTimeout(timeout)) {
        return absl::DeadlineExceededError("no stream in time");
      }
      return std::move(stream);
    }
  };
  std::shared_ptr<Pending> Accept(Listener& listener) {
    auto pending = std::make_shared<Pending>();
    asio::post(strand_, [&listener, pending] {
      listener.AsyncAccept([pending](absl::StatusOr<StreamPtr> stream) {
        pending->stream = std::move(stream);
        pending->done.Notify();
      });
    });
    return pending;
  }
  absl::StatusOr<StreamPtr> Connect(uint8_t channel, TransportFactory& factory) {
    absl::StatusOr<ClientSpec> spec = ParseClientSpec(
        absl::StrCat("com:port=", cable_->b(), ",baud=115200,channel=", channel));
    if (!spec.ok()) return spec.status();
    absl::StatusOr<std::unique_ptr<Connector>> connector = factory.Dial(*spec, strand_);
    if (!connector.ok()) return connector.status();
    auto pending = std::make_shared<Pending>();
    asio::post(strand_, [&, pending] {
      (*connector)->AsyncConnect([pending](absl::StatusOr<StreamPtr> stream) {
        pending->stream = std::move(stream);
        pending->done.Notify();
      });
    });
    return pending->Wait();
  }

  // Read reads one frame's worth: what one AsyncReadSome returns.
  struct ReadResult {
    std::string bytes;
    std::error_code error;
  };
  static ReadResult ReadSome(Stream& stream, absl::Duration timeout = kTimeout) {
    auto buffer = std::make_shared<std::vector<char>>(64 * 1024);
    auto result = std::make_shared<ReadResult>();
    auto done = std::make_shared<Notification>();
    asio::post(stream.executor(), [&stream, buffer, result, done] {
      stream.AsyncReadSome(asio::buffer(*buffer),
                           [buffer, result, done](std::error_code error, size_t n) {
                             result->bytes.assign(buffer->data(), n);
                             result->error = error;
                             done->Notify();
                           });
    });
    if (!done->WaitForNotificationWithTimeout(timeout)) {
      return {"", asio::error::timed_out};
    }
    return *result;
  }
  static std::error_code Write(Stream& stream, const std::string& bytes) {
    Notification done;
    std::error_code result;
    asio::post(stream.executor(), [&] {
      stream.AsyncWrite(asio::buffer(bytes), [&](std::error_code error, size_t) {
        result = error;
        done.Notify();
      });
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(kTimeout));
    return result;
  }
  // RawSession: a server on `channel` with a session that a raw far end
  // opened.
  struct RawSession {
    std::unique_ptr<Listener> listener;
    std::unique_ptr<RawEnd> far;
    StreamPtr server;
  };
  RawSession OpenRaw(uint8_t channel) {
    RawSession session{MustServe(channel), std::make_unique<RawEnd>(cable_->b()), nullptr};
    if (session.listener == nullptr) return session;
    std::shared_ptr<Pending> accepted = Accept(*session.listener);
    session.far->Control(com::ControlOp::kOpen, channel);
    absl::StatusOr<StreamPtr> server = accepted->Wait();
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) session.server = *std::move(server);
    return session;
  }

  void CloseOnStrand(Listener& listener) {
    Notification done;
    asio::post(strand_, [&] {
      listener.Close();
      done.Notify();
    });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(kTimeout));
  }

  EventLoop loop_;
  asio::strand<asio::io_context::executor_type> strand_;
  const std::unique_ptr<dbgd::testing::NullModem> cable_;
  TransportFactory factory_;
};

TEST_F(ComTest, TwoChannelsOfOneLineCarryTwoSessionsIndependently) {
  std::unique_ptr<Listener> one = MustServe(1);
  std::unique_ptr<Listener> two = MustServe(2);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  std::shared_ptr<Pending> first = Accept(*one);
  std::shared_ptr<Pending> second = Accept(*two);
  TransportFactory far(loop_.context().get_executor());
  absl::StatusOr<StreamPtr> client_one = Connect(1, far);
  absl::StatusOr<StreamPtr> client_two = Connect(2, far);
  ASSERT_TRUE(client_one.ok()) << client_one.status();
  ASSERT_TRUE(client_two.ok()) << client_two.status();
  absl::StatusOr<StreamPtr> server_one = first->Wait();
  absl::StatusOr<StreamPtr> server_two = second->Wait();
  ASSERT_TRUE(server_one.ok()) << server_one.status();
  ASSERT_TRUE(server_two.ok()) << server_two.status();

  for (int round = 0; round < 20; ++round) {
    ASSERT_FALSE(Write(**client_two, Framed(absl::StrCat("two ", round))));
    ASSERT_FALSE(Write(**client_one, Framed(absl::StrCat("one ", round))));
    EXPECT_EQ(LineOf(ReadSome(**server_one).bytes), absl::StrCat("one ", round));
    EXPECT_EQ(LineOf(ReadSome(**server_two).bytes), absl::StrCat("two ", round));
    ASSERT_FALSE(Write(**server_two, Framed(absl::StrCat("back two ", round))));
    EXPECT_EQ(LineOf(ReadSome(**client_two).bytes), absl::StrCat("back two ", round));
  }
  // One session ending leaves the other be.
  (*client_one)->Close();
  EXPECT_EQ(ReadSome(**server_one).error, asio::error::eof);
  ASSERT_FALSE(Write(**client_two, Framed("still here")));
  EXPECT_EQ(LineOf(ReadSome(**server_two).bytes), "still here");
  EXPECT_EQ(one->damaged_packets(), 0u);
  CloseOnStrand(*one);
  CloseOnStrand(*two);
}

TEST_F(ComTest, NoiseCostsOnlyTheDamagedFramesAndIsCounted) {
  RawSession session = OpenRaw(3);
  ASSERT_NE(session.server, nullptr);
  Listener* listener = session.listener.get();
  RawEnd& far = *session.far;
  StreamPtr* server = &session.server;

  std::mt19937 random(7);
  int damaged = 0;
  for (int i = 0; i < 30; ++i) {
    const std::string line = absl::StrCat("frame ", i);
    std::string packet = com::EncodePacket(3, Framed(line));
    // Garbage between packets: one damaged piece each time (it has no
    // 0x00 inside and sits between two delimiters).
    std::string garbage(1 + random() % 40, '\0');
    for (char& c : garbage) c = static_cast<char>(1 + random() % 255);
    far.Write(garbage);
    far.Write(std::string(1, '\0'));
    ++damaged;
    if (i % 3 == 1) {
      // A byte flipped inside this packet: the frame is lost, the next not.
      packet[1 + random() % (packet.size() - 2)] ^= 0x5a;
      far.Write(packet);
      ++damaged;
      continue;
    }
    far.Write(packet);
    EXPECT_EQ(LineOf(ReadSome(**server).bytes), line);
  }
  // Every damaged piece is counted (a flip that makes a 0x00 splits a
  // piece in two, so at least as many as were damaged).
  EXPECT_GE(listener->damaged_packets(), static_cast<uint64_t>(damaged));
  EXPECT_LE(listener->damaged_packets(), static_cast<uint64_t>(damaged + 10));
  CloseOnStrand(*listener);
}

TEST_F(ComTest, AClientLeavesAndAnotherAttachesOnTheSameChannel) {
  std::unique_ptr<Listener> listener = MustServe(4);
  ASSERT_NE(listener, nullptr);
  for (int client = 0; client < 3; ++client) {
    SCOPED_TRACE(client);
    std::shared_ptr<Pending> accepted = Accept(*listener);
    TransportFactory far(loop_.context().get_executor());
    absl::StatusOr<StreamPtr> stream = Connect(4, far);
    ASSERT_TRUE(stream.ok()) << stream.status();
    absl::StatusOr<StreamPtr> server = accepted->Wait();
    ASSERT_TRUE(server.ok()) << server.status();
    ASSERT_FALSE(Write(**stream, Framed(absl::StrCat("client ", client))));
    EXPECT_EQ(LineOf(ReadSome(**server).bytes), absl::StrCat("client ", client));
    // The server ends the session (as after a Bye): the client reads EOF.
    (*server)->Close();
    EXPECT_EQ(ReadSome(**stream).error, asio::error::eof);
  }
  CloseOnStrand(*listener);
}

TEST_F(ComTest, ARestartedClientTakesItsChannelBack) {
  RawSession session = OpenRaw(5);
  ASSERT_NE(session.server, nullptr);
  Listener* listener = session.listener.get();
  RawEnd& far = *session.far;
  StreamPtr* old_session = &session.server;

  std::shared_ptr<Pending> accepted = Accept(*listener);
  far.Control(com::ControlOp::kOpen, 5);  // no CLOSE: it crashed
  EXPECT_EQ(ReadSome(**old_session).error, asio::error::eof);
  absl::StatusOr<StreamPtr> new_session = accepted->Wait();
  ASSERT_TRUE(new_session.ok()) << new_session.status();
  far.Send(5, "hello again");
  EXPECT_EQ(LineOf(ReadSome(**new_session).bytes), "hello again");
  CloseOnStrand(*listener);
}

TEST_F(ComTest, AFirstFrameWhoseOpenWasLostStillBeginsASession) {
  std::unique_ptr<Listener> listener = MustServe(6);
  ASSERT_NE(listener, nullptr);
  std::shared_ptr<Pending> accepted = Accept(*listener);
  RawEnd far(cable_->b());
  far.Send(6, "no open");
  absl::StatusOr<StreamPtr> server = accepted->Wait();
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(LineOf(ReadSome(**server).bytes), "no open");
  // Frames for a channel nobody serves are ignored.
  far.Send(7, "nobody");
  far.Send(6, "after");
  EXPECT_EQ(LineOf(ReadSome(**server).bytes), "after");
  // The server's frames carry its channel.
  ASSERT_FALSE(Write(**server, Framed("reply")));
  std::optional<com::Packet> packet = far.NextData();
  ASSERT_TRUE(packet.has_value());
  EXPECT_EQ(packet->channel, 6);
  EXPECT_EQ(LineOf(packet->framed), "reply");
  // Closing sends CLOSE for the channel.
  (*server)->Close();
  std::optional<com::Packet> control = far.Next();
  ASSERT_TRUE(control.has_value());
  EXPECT_EQ(control->channel, com::kControlChannel);
  EXPECT_EQ(control->framed.substr(4),
            std::string({static_cast<char>(com::ControlOp::kClose), 6}));
  CloseOnStrand(*listener);
}

TEST_F(ComTest, ChannelsAndRatesOfALineAreChecked) {
  std::unique_ptr<Listener> listener = MustServe(8);
  ASSERT_NE(listener, nullptr);
  absl::StatusOr<std::unique_ptr<Listener>> again =
      Serve(absl::StrCat("com:port=", cable_->a(), ",baud=115200,channel=8"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("channel: 8 of " + cable_->a()));
  absl::StatusOr<std::unique_ptr<Listener>> other_rate =
      Serve(absl::StrCat("com:port=", cable_->a(), ",baud=9600,channel=9"));
  EXPECT_EQ(other_rate.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(other_rate.status().message(), HasSubstr("baud: "));
  EXPECT_THAT(other_rate.status().message(), HasSubstr("115200"));
  // The same line from another process is in use.
  absl::StatusOr<com::OpenedLine> elsewhere = com::OpenLine(cable_->a(), 115200, {});
  EXPECT_FALSE(elsewhere.ok());

  // With its last server gone, the line is closed and free again.
  listener.reset();
  elsewhere = com::OpenLine(cable_->a(), 115200, {});
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
  com::CloseLine(elsewhere->fd);
}

TEST_F(ComTest, DevicesOutsideTheAllowListAreRefusedNamingTheFlag) {
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      Serve("com:port=/dev/null,baud=9600,channel=0");
  EXPECT_EQ(listener.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(listener.status().message(), HasSubstr("--com_allow"));
  listener = Serve("com:port=/dev/pts/999999,baud=9600,channel=0");
  EXPECT_EQ(listener.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ComTest, TheEndpointShowsTheRateTheTtyHolds) {
  std::unique_ptr<Listener> listener = MustServe(0, 250000);
  ASSERT_NE(listener, nullptr);
  EXPECT_EQ(listener->endpoint().device, cable_->a());
  EXPECT_EQ(listener->endpoint().baud, 250000u);
  EXPECT_EQ(listener->endpoint().channel, 0);
  absl::StatusOr<ServerSpec> spec = ParseServerSpec(
      absl::StrCat("com:port=", cable_->a(), ",baud=250000,channel=0"));
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(DescribeEndpoint(*spec, listener->endpoint()),
            absl::StrCat("com:Port=", cable_->a(), ",Baud=250000,Channel=0"));
  CloseOnStrand(*listener);
}

TEST_F(ComTest, WritesCarryWholeFramesAndRefuseOversizedOnes) {
  RawSession session = OpenRaw(10);
  ASSERT_NE(session.server, nullptr);
  Listener* listener = session.listener.get();
  RawEnd& far = *session.far;
  StreamPtr* server = &session.server;
  // A frame split over two writes goes out as one packet.
  const std::string frame = Framed("split");
  ASSERT_FALSE(Write(**server, frame.substr(0, 3)));
  ASSERT_FALSE(Write(**server, frame.substr(3)));
  std::optional<com::Packet> packet = far.NextData();
  ASSERT_TRUE(packet.has_value());
  EXPECT_EQ(LineOf(packet->framed), "split");
  // A length over the limit cannot be a packet.
  EXPECT_EQ(Write(**server, std::string("\x7f\xff\xff\xff", 4)),
            asio::error::message_size);
  CloseOnStrand(*listener);
}

class ComIdleTest : public ComTest {
 protected:
  ComIdleTest() : ComTest(absl::Milliseconds(600)) {}
};

TEST_F(ComIdleTest, ASilentClientsSessionEndsAndKeepalivesKeepALiveOneGoing) {
  RawSession session = OpenRaw(11);
  ASSERT_NE(session.server, nullptr);
  Listener* listener = session.listener.get();
  RawEnd& far = *session.far;
  StreamPtr* server = &session.server;

  // While the far end keeps sending keepalives, the session lasts well past
  // the idle time; and the server sends keepalives of its own.
  int keepalives = 0;
  const absl::Time until = absl::Now() + absl::Milliseconds(1800);
  while (absl::Now() < until) {
    far.Control(com::ControlOp::kKeepalive, 11);
    while (std::optional<com::Packet> packet = far.Next(absl::Milliseconds(150))) {
      if (packet->channel == com::kControlChannel &&
          packet->framed[4] == static_cast<char>(com::ControlOp::kKeepalive)) {
        ++keepalives;
      }
    }
  }
  EXPECT_GE(keepalives, 2);
  far.Send(11, "alive");
  EXPECT_EQ(LineOf(ReadSome(**server).bytes), "alive");

  // Silence: the session ends within the idle time (plus a tick).
  const absl::Time silent = absl::Now();
  ReadResult end = ReadSome(**server, absl::Seconds(5));
  EXPECT_EQ(end.error, asio::error::eof);
  EXPECT_LT(absl::Now() - silent, absl::Seconds(2));
  EXPECT_GE(absl::Now() - silent, absl::Milliseconds(400));
  CloseOnStrand(*listener);
}

}  // namespace
}  // namespace dbgd::transports
