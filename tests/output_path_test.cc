// The console's output path under load and faults, through the real dbgd:
// a `command` session printing numbered lines as fast as it can, and raw
// protocol clients that keep up, churn, vanish mid-frame, or stop reading.
// Each test checks that a client that keeps up misses no line, that a
// dropped client gets whole frames and its DROPPED notice (or a clean
// end), never a partial frame, and that dbgd's descriptors and children
// are back to what they were before.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "gtest/gtest.h"
#include "protocol/frame_codec.h"
#include "testing/ports.h"
#include "tests/server_fixture.h"
#include "testing/proc_stats.h"

namespace dbgd {
namespace {

using protocol::Frame;
using v1::wire::Notice;

// The session's program: numbered lines, as fast as the PTY takes them.
constexpr char kFlood[] = "i=0; while :; do i=$((i+1)); echo \"n $i\"; done";
// The same, many times faster (large writes): tens of MiB/s.
constexpr char kFastFlood[] = "seq -f 'n %.0f' 1 1000000000000 | cat";

// The grace a dropped client has to take its notice (the daemon's default
// flush timeout), and the slack a loaded machine needs on top.
constexpr absl::Duration kGrace = absl::Seconds(5);
constexpr absl::Duration kSlack = absl::Seconds(5);

// RawClient is a protocol client on a blocking TCP socket: it sees the
// bytes exactly as dbgd wrote them, so a partial frame cannot hide.
class RawClient {
 public:
  // Connect runs the handshake as `identity`; `receive_buffer` > 0 sets
  // SO_RCVBUF first (a small one makes a non-reader fall behind sooner).
  static absl::StatusOr<std::unique_ptr<RawClient>> Connect(
      uint16_t port, const std::string& identity, int receive_buffer = 0) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(std::strerror(errno));
    auto client = std::unique_ptr<RawClient>(new RawClient(fd, identity));
    if (receive_buffer > 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer,
                   sizeof(receive_buffer));
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(errno)));
    }
    Frame hello;
    hello.mutable_client_hello()->set_protocol_version(protocol::kProtocolVersion);
    hello.mutable_client_hello()->set_identity(identity);
    if (absl::Status sent = client->Send(hello); !sent.ok()) return sent;
    for (;;) {
      absl::StatusOr<std::optional<Frame>> frame = client->Next(absl::Seconds(30));
      if (!frame.ok()) return frame.status();
      if (!frame->has_value()) return absl::UnavailableError("closed in the handshake");
      if ((*frame)->has_bye()) return absl::UnavailableError((*frame)->bye().reason());
      if ((*frame)->has_auth_result()) {
        if (!(*frame)->auth_result().ok()) return absl::PermissionDeniedError("refused");
        return client;
      }
    }
  }

  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  const std::string& identity() const { return identity_; }

  absl::Status Send(const Frame& frame) {
    const std::string bytes = protocol::EncodeFrame(frame);
    size_t at = 0;
    while (at < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n < 0) return absl::UnavailableError(std::strerror(errno));
      at += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  // Next returns the next frame; nullopt when the stream ended between two
  // frames; DATA_LOSS when it ended inside one; DEADLINE_EXCEEDED when
  // nothing came within `timeout`.
  absl::StatusOr<std::optional<Frame>> Next(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      absl::StatusOr<std::optional<Frame>> next = decoder_.Next();
      if (!next.ok() || next->has_value()) return next;
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("no frame");
      pollfd poll_fd{fd_, POLLIN, 0};
      const int ready = ::poll(&poll_fd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) continue;
      char buffer[64 * 1024];
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
      }
      if (n == 0) {
        if (decoder_.at_frame_boundary()) return std::nullopt;
        return absl::DataLossError(absl::StrCat(
            "the stream ended inside a frame (", decoder_.buffered_bytes(), " of ",
            decoder_.expected_bytes(), " bytes)"));
      }
      decoder_.Append(absl::string_view(buffer, static_cast<size_t>(n)));
    }
  }

  // ReadRaw reads up to `bytes` bytes past the decoder, as a client that
  // dies mid-frame would, and returns how many it read.
  size_t ReadRaw(size_t bytes) {
    std::string buffer(bytes, '\0');
    const ssize_t n = ::recv(fd_, buffer.data(), bytes, 0);
    return n > 0 ? static_cast<size_t>(n) : 0;
  }

  // Abort closes the socket with a reset, as a killed client's kernel may.
  void Abort() {
    linger reset{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    ::close(fd_);
    fd_ = -1;
  }
  void Close() {
    ::close(fd_);
    fd_ = -1;
  }

 private:
  RawClient(int fd, std::string identity) : fd_(fd), identity_(std::move(identity)) {}

  int fd_;
  const std::string identity_;
  protocol::FrameDecoder decoder_;
};

// DropWatch records who the steady client was told was dropped, and when.
class DropWatch {
 public:
  void Dropped(const std::string& identity) {
    MutexLock lock(&mu_);
    dropped_.emplace(identity, absl::Now());
  }
  // WaitFor waits until `identity` is dropped; returns when it was.
  std::optional<absl::Time> WaitFor(const std::string& identity, absl::Duration timeout) {
    MutexLock lock(&mu_);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return dropped_.count(identity) > 0;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&seen), timeout)) return std::nullopt;
    return dropped_.at(identity);
  }
  size_t count() const {
    MutexLock lock(&mu_);
    return dropped_.size();
  }

 private:
  mutable Mutex mu_;
  std::map<std::string, absl::Time> dropped_ ABSL_GUARDED_BY(mu_);
};

// Steady is a client that keeps up, on a thread of its own: it checks that
// the live output's numbered lines arrive all and in order.
class Steady {
 public:
  // `bytes_per_second`: read no faster than that (0: as fast as it can).
  Steady(std::unique_ptr<RawClient> client, DropWatch* drops,
         size_t bytes_per_second = 0)
      : client_(std::move(client)),
        drops_(drops),
        bytes_per_second_(bytes_per_second),
        thread_([this] { Run(); }) {}
  ~Steady() { Stop(); }

  // Stop ends the reading and leaves with a Bye.
  void Stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    Frame bye;
    bye.mutable_bye()->set_reason("done");
    (void)client_->Send(bye);
    client_->Close();
  }

  uint64_t lines() const { return lines_.load(); }
  // WaitForLines waits until `count` more lines than now have arrived.
  bool WaitForMoreLines(uint64_t count, absl::Duration timeout) {
    const uint64_t target = lines() + count;
    const absl::Time deadline = absl::Now() + timeout;
    while (lines() < target && absl::Now() < deadline && error().empty()) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    return lines() >= target;
  }
  std::string error() const {
    MutexLock lock(&mu_);
    return error_;
  }

 private:
  void Fail(const std::string& why) {
    MutexLock lock(&mu_);
    if (error_.empty()) error_ = why;
    stop_ = true;
  }

  void Run() {
    std::string pending;
    bool first_line = true;
    uint64_t last = 0;
    const absl::Time start = absl::Now();
    size_t bytes = 0;
    while (!stop_) {
      if (bytes_per_second_ > 0) {
        const absl::Time due =
            start + absl::Seconds(static_cast<double>(bytes) / bytes_per_second_);
        if (absl::Now() < due) absl::SleepFor(due - absl::Now());
      }
      absl::StatusOr<std::optional<Frame>> frame = client_->Next(absl::Milliseconds(200));
      if (absl::IsDeadlineExceeded(frame.status())) continue;
      if (!frame.ok()) return Fail(std::string(frame.status().message()));
      if (!frame->has_value()) return Fail("the connection ended");
      const Frame& f = **frame;
      if (f.has_notice()) {
        if (f.notice().kind() == Notice::DROPPED) {
          return Fail(absl::StrCat("the steady client was dropped: ", f.notice().text()));
        }
        if (f.notice().kind() == Notice::CLIENT_LEFT &&
            f.notice().text() == "dropped: too slow" && drops_ != nullptr) {
          drops_->Dropped(f.notice().identity());
        }
        continue;
      }
      if (!f.has_output() || f.output().replay()) continue;
      bytes += f.output().data().size();
      pending += f.output().data();
      // Lines are taken from the front by position, and what they took is
      // erased once: erasing each line from a 64 KiB frame of short lines
      // would cost this reader far more than dbgd's sending does.
      size_t begin = 0;
      size_t end;
      while ((end = pending.find('\n', begin)) != std::string::npos) {
        const std::string line = pending.substr(begin, end - begin);
        begin = end + 1;
        if (first_line) {  // may have begun before this client joined
          first_line = false;
          continue;
        }
        absl::string_view text = absl::StripTrailingAsciiWhitespace(line);
        uint64_t number = 0;
        if (!absl::ConsumePrefix(&text, "n ") || !absl::SimpleAtoi(text, &number)) {
          return Fail(absl::StrCat("not a numbered line: \"", line, "\""));
        }
        if (last != 0 && number != last + 1) {
          return Fail(absl::StrCat("line ", last, " was followed by line ", number));
        }
        last = number;
        ++lines_;
      }
      pending.erase(0, begin);
    }
  }

  const std::unique_ptr<RawClient> client_;
  DropWatch* const drops_;
  const size_t bytes_per_second_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> lines_{0};
  mutable Mutex mu_;
  std::string error_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// ReadToTheEnd reads what a dropped client still gets: whole frames, the
// last a DROPPED notice, then the end; or only whole frames and a clean
// end. Returns what is wrong, or "".
std::string ReadToTheEnd(RawClient& client, absl::Duration timeout) {
  bool dropped_last = false;
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::StatusOr<std::optional<Frame>> frame = client.Next(deadline - absl::Now());
    if (!frame.ok()) {
      return absl::StrCat(client.identity(), ": ", frame.status().ToString());
    }
    if (!frame->has_value()) return "";  // a clean end, DROPPED last or not
    if (dropped_last) return absl::StrCat(client.identity(), ": a frame after DROPPED");
    dropped_last = (*frame)->has_notice() && (*frame)->notice().kind() == Notice::DROPPED;
  }
}

class OutputPathTest : public ServerTest {
 protected:
  void SetUp() override {
    socket_ = dir_.Join("control.sock");
    daemon_ = std::make_unique<Subprocess>(std::vector<std::string>{
        Dbgd(), "--control_listen=unix:" + socket_, "--advertise_host=localhost",
        "--engine=command", "--launch=/bin/sh", "--", "-c", Program()});
    ASSERT_TRUE(daemon_->WaitForOutput("dbgd ready", absl::Seconds(30)))
        << daemon_->output();
    port_ = CreateServer(absl::StrCat("tcp:port=", testing::FreePortRun(1)));
    ASSERT_NE(port_, 0);
    // Settled: the server listens, the engine runs.
    absl::SleepFor(absl::Milliseconds(300));
    descriptors_ = testing::DescriptorCount(daemon_->pid());
    children_ = testing::ChildrenOf(daemon_->pid());
    ASSERT_FALSE(children_.empty()) << "the session's program";
  }

  // ExpectBaseline expects dbgd's descriptors and children back to what
  // they were before any client came.
  void ExpectBaseline() {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (testing::DescriptorCount(daemon_->pid()) != descriptors_ && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_EQ(testing::DescriptorCount(daemon_->pid()), descriptors_) << "descriptors leaked";
    EXPECT_EQ(testing::ChildrenOf(daemon_->pid()), children_);
  }

  virtual const char* Program() const { return kFlood; }

  std::unique_ptr<RawClient> Join(const std::string& identity, int receive_buffer = 0) {
    absl::StatusOr<std::unique_ptr<RawClient>> client =
        RawClient::Connect(port_, identity, receive_buffer);
    EXPECT_TRUE(client.ok()) << identity << ": " << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  uint16_t port_ = 0;
  int descriptors_ = 0;
  std::vector<pid_t> children_;
};

TEST_F(OutputPathTest, ClientsKilledMidFrameCostTheOthersNothing) {
  DropWatch drops;
  std::unique_ptr<RawClient> first = Join("box\\steady");
  ASSERT_NE(first, nullptr);
  Steady steady(std::move(first), &drops);
  ASSERT_TRUE(steady.WaitForMoreLines(1000, absl::Seconds(30))) << steady.error();
  for (int i = 0; i < 60; ++i) {
    std::unique_ptr<RawClient> victim = Join(absl::StrCat("box\\victim", i));
    ASSERT_NE(victim, nullptr);
    // Read into the middle of a frame (a 7-byte read cannot end on the
    // boundary of frames this size every time), then vanish.
    victim->ReadRaw(static_cast<size_t>(7 + i * 13));
    if (i % 2 == 0) {
      victim->Abort();
    } else {
      victim->Close();
    }
  }
  ASSERT_TRUE(steady.WaitForMoreLines(5000, absl::Seconds(30))) << steady.error();
  EXPECT_EQ(steady.error(), "");
  steady.Stop();
  ExpectBaseline();
}

TEST_F(OutputPathTest, TwoHundredClientsComeAndGoWhileOneMissesNoLine) {
  DropWatch drops;
  std::unique_ptr<RawClient> first = Join("box\\steady");
  ASSERT_NE(first, nullptr);
  Steady steady(std::move(first), &drops);
  ASSERT_TRUE(steady.WaitForMoreLines(1000, absl::Seconds(30))) << steady.error();
  constexpr int kThreads = 4;
  constexpr int kEach = 50;
  std::atomic<int> joined{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        absl::StatusOr<std::unique_ptr<RawClient>> client =
            RawClient::Connect(port_, absl::StrCat("box\\churn", t, "-", i));
        if (!client.ok()) continue;
        ++joined;
        // Take a few frames, then leave: politely, or not.
        for (int f = 0; f < 3; ++f) (void)(*client)->Next(absl::Seconds(5));
        if (i % 3 == 0) {
          Frame bye;
          bye.mutable_bye()->set_reason("churn");
          (void)(*client)->Send(bye);
          (*client)->Close();
        } else if (i % 3 == 1) {
          (*client)->Close();
        } else {
          (*client)->Abort();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(joined.load(), kThreads * kEach);
  ASSERT_TRUE(steady.WaitForMoreLines(5000, absl::Seconds(30))) << steady.error();
  EXPECT_EQ(steady.error(), "");
  EXPECT_EQ(drops.count(), 0u) << "a client that took frames was dropped";
  steady.Stop();
  ExpectBaseline();
}

TEST_F(OutputPathTest, ANonReaderIsDroppedWhileStoppedAndDisconnectedWithinTheGrace) {
  DropWatch drops;
  std::unique_ptr<RawClient> first = Join("box\\steady");
  ASSERT_NE(first, nullptr);
  Steady steady(std::move(first), &drops);
  std::unique_ptr<RawClient> second = Join("box\\steady2");
  ASSERT_NE(second, nullptr);
  Steady steady2(std::move(second), nullptr);
  // One stops reading and looks again once it is dropped; one never looks.
  std::unique_ptr<RawClient> stopped = Join("box\\stopped", 16 * 1024);
  std::unique_ptr<RawClient> gone = Join("box\\gone", 16 * 1024);
  ASSERT_NE(stopped, nullptr);
  ASSERT_NE(gone, nullptr);
  const int with_clients = testing::DescriptorCount(daemon_->pid());

  std::optional<absl::Time> stopped_at = drops.WaitFor("box\\stopped", absl::Seconds(60));
  ASSERT_TRUE(stopped_at.has_value()) << "not dropped while it read nothing";
  // What it gets: whole frames, DROPPED last, the end — within the grace.
  EXPECT_EQ(ReadToTheEnd(*stopped, kGrace + kSlack), "");
  EXPECT_LT(absl::Now() - *stopped_at, kGrace + kSlack);

  std::optional<absl::Time> gone_at = drops.WaitFor("box\\gone", absl::Seconds(60));
  ASSERT_TRUE(gone_at.has_value()) << "not dropped while it read nothing";
  // The one that never reads is let go within the grace all the same: its
  // descriptor is released (both non-readers' by now).
  while (testing::DescriptorCount(daemon_->pid()) > with_clients - 2 &&
         absl::Now() - *gone_at < kGrace + kSlack) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_LE(testing::DescriptorCount(daemon_->pid()), with_clients - 2)
      << "a dropped client still holds its descriptor";
  EXPECT_LT(absl::Now() - *gone_at, kGrace + kSlack);

  // The others missed nothing.
  ASSERT_TRUE(steady.WaitForMoreLines(1000, absl::Seconds(30))) << steady.error();
  EXPECT_EQ(steady.error(), "");
  EXPECT_EQ(steady2.error(), "");
  steady.Stop();
  steady2.Stop();
  gone.reset();
  stopped.reset();
  ExpectBaseline();
}

TEST_F(OutputPathTest, ManyClientsDroppedAtOnceGetNoPartialFrame) {
  DropWatch drops;
  std::unique_ptr<RawClient> first = Join("box\\steady");
  ASSERT_NE(first, nullptr);
  Steady steady(std::move(first), &drops);
  constexpr int kSlow = 100;
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(Join(absl::StrCat("box\\slow", i), 16 * 1024));
    ASSERT_NE(slow.back(), nullptr);
  }
  // None reads until it is dropped; then each reads what it still gets.
  std::vector<std::string> problems(kSlow);
  std::vector<std::thread> readers;
  for (int i = 0; i < kSlow; ++i) {
    readers.emplace_back([&, i] {
      std::optional<absl::Time> at = drops.WaitFor(slow[i]->identity(), absl::Seconds(120));
      if (!at.has_value()) {
        problems[i] = absl::StrCat(slow[i]->identity(), ": never dropped");
        return;
      }
      problems[i] = ReadToTheEnd(*slow[i], kGrace + kSlack);
    });
  }
  for (std::thread& reader : readers) reader.join();
  for (const std::string& problem : problems) EXPECT_EQ(problem, "");
  EXPECT_EQ(drops.count(), static_cast<size_t>(kSlow));
  ASSERT_TRUE(steady.WaitForMoreLines(1000, absl::Seconds(30))) << steady.error();
  EXPECT_EQ(steady.error(), "");
  steady.Stop();
  slow.clear();
  ExpectBaseline();
}

// An engine that prints far faster than a client reads.
class FastOutputPathTest : public OutputPathTest {
 protected:
  const char* Program() const override { return kFastFlood; }
};

TEST_F(FastOutputPathTest, AReaderSlowerThanTheEngineHoldsItBackAndMissesNothing) {
  DropWatch drops;
  // Reading at 2 MiB/s, a tenth of what the engine prints or less: without
  // back-pressure it would be 4 MiB behind, and dropped, within seconds.
  std::unique_ptr<RawClient> first = Join("box\\slow-reader", 64 * 1024);
  ASSERT_NE(first, nullptr);
  Steady slow(std::move(first), &drops, 2 * 1024 * 1024);
  std::unique_ptr<RawClient> second = Join("box\\fast-reader");
  ASSERT_NE(second, nullptr);
  Steady fast(std::move(second), &drops);
  // One that stalls holds the console back for a bounded time, once, and
  // is then dropped as before.
  std::unique_ptr<RawClient> stalled = Join("box\\stalled", 16 * 1024);
  ASSERT_NE(stalled, nullptr);

  // About 10 MiB at the slow reader's pace: five seconds of holding back.
  ASSERT_TRUE(slow.WaitForMoreLines(700000, absl::Seconds(60))) << slow.error();
  EXPECT_EQ(slow.error(), "");
  EXPECT_EQ(fast.error(), "");
  EXPECT_GE(fast.lines(), slow.lines()) << "the readers share one console";
  ASSERT_TRUE(drops.WaitFor("box\\stalled", absl::Seconds(30)).has_value())
      << "a client that stalls is still dropped";
  EXPECT_EQ(drops.count(), 1u) << "only the stalled client";
  EXPECT_EQ(ReadToTheEnd(*stalled, kGrace + kSlack), "");
  slow.Stop();
  fast.Stop();
  stalled.reset();
  ExpectBaseline();
}

}  // namespace
}  // namespace dbgd
