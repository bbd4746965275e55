#include "server/handshake_gate.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/event_loop.h"
#include "common/mutex.h"
#include "common/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::server {
namespace {

using ::testing::HasSubstr;

using Ticket = std::shared_ptr<HandshakeGate::Ticket>;

TEST(HandshakeGateTest, CapsHandshakesPerSourceExactly) {
  HandshakeGate gate({.max_handshakes = 100, .max_handshakes_per_source = 3,
                      .descriptor_reserve = 0});
  std::vector<Ticket> held;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<Ticket> ticket = gate.Enter("192.0.2.1");
    ASSERT_TRUE(ticket.ok()) << ticket.status();
    held.push_back(*ticket);
  }
  absl::StatusOr<Ticket> fourth = gate.Enter("192.0.2.1");
  EXPECT_TRUE(absl::IsResourceExhausted(fourth.status()));
  EXPECT_EQ(GateRefusalOf(fourth.status()), GateRefusal::kPerSource);
  EXPECT_THAT(fourth.status().message(), HasSubstr("192.0.2.1"));
  // The same host in another form is the same source; another host is not.
  EXPECT_FALSE(gate.Enter("::ffff:192.0.2.1").ok());
  absl::StatusOr<Ticket> other = gate.Enter("192.0.2.2");
  EXPECT_TRUE(other.ok());
  EXPECT_EQ(gate.counts().handshakes, 4);
  EXPECT_EQ(gate.counts().refused_per_source, 2u);
  // A handshake that ends frees its place.
  held.pop_back();
  EXPECT_TRUE(gate.Enter("192.0.2.1").ok());
  EXPECT_EQ(gate.counts().admitted, 5u);
}

TEST(HandshakeGateTest, CapsHandshakesInTotalExactly) {
  HandshakeGate gate({.max_handshakes = 5, .max_handshakes_per_source = 5,
                      .descriptor_reserve = 0});
  std::vector<Ticket> held;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<Ticket> ticket = gate.Enter(absl::StrCat("10.0.0.", i));
    ASSERT_TRUE(ticket.ok()) << ticket.status();
    held.push_back(*ticket);
  }
  absl::StatusOr<Ticket> sixth = gate.Enter("10.0.0.99");
  EXPECT_EQ(GateRefusalOf(sixth.status()), GateRefusal::kTotal);
  EXPECT_EQ(gate.counts().refused_total, 1u);
  held[2]->Release();
  held[2]->Release();  // idempotent
  EXPECT_EQ(gate.counts().handshakes, 4);
  EXPECT_TRUE(gate.Enter("10.0.0.99").ok());
}

TEST(HandshakeGateTest, KeepsTheDescriptorReserve) {
  int open = 900;
  absl::Time now = absl::FromUnixSeconds(1700000000);
  HandshakeGate gate({.max_handshakes = 1000, .max_handshakes_per_source = 1000,
                      .descriptor_reserve = 64},
                     {.open_descriptors = [&] { return open; },
                      .descriptor_limit = [] { return 1024; },
                      .clock = [&] { return now; }});
  std::vector<Ticket> held;
  // 900 open: 60 more fit below 1024 - 64.
  for (int i = 0; i < 60; ++i) {
    absl::StatusOr<Ticket> ticket = gate.Enter("127.0.0.1");
    ASSERT_TRUE(ticket.ok()) << i << ": " << ticket.status();
    held.push_back(*ticket);
  }
  absl::StatusOr<Ticket> refused = gate.Enter("127.0.0.1");
  EXPECT_EQ(GateRefusalOf(refused.status()), GateRefusal::kDescriptors);
  EXPECT_THAT(refused.status().message(), HasSubstr("64"));
  // Descriptors freed are seen once the count is read again.
  open = 500;
  EXPECT_FALSE(gate.Enter("127.0.0.1").ok());  // read a moment ago
  now += absl::Milliseconds(20);
  EXPECT_TRUE(gate.Enter("127.0.0.1").ok());
  EXPECT_EQ(gate.counts().refused_descriptors, 2u);
}

TEST(HandshakeGateTest, CountsThisProcesssDescriptors) {
  const int before = OpenDescriptors();
  EXPECT_GT(before, 2);  // stdin, stdout, stderr at least
  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) fds.push_back(::open("/dev/null", O_RDONLY));
  EXPECT_EQ(OpenDescriptors(), before + 10);
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(OpenDescriptors(), before);
  EXPECT_GT(DescriptorLimit(), 0);
}

TEST(HandshakeGateTest, ChecksLimits) {
  EXPECT_TRUE(CheckConnectionLimits({}).ok());
  EXPECT_THAT(CheckConnectionLimits({.max_handshakes = 0}).message(),
              HasSubstr("max_handshakes:"));
  EXPECT_THAT(
      CheckConnectionLimits({.max_handshakes_per_source = 0}).message(),
      HasSubstr("max_handshakes_per_source:"));
  EXPECT_THAT(CheckConnectionLimits({.descriptor_reserve = -1}).message(),
              HasSubstr("descriptor_reserve:"));
}

struct Summaries {
  Mutex mu;
  std::vector<std::string> lines;
};

TEST(RefusalLogTest, LogsABurstThenSumsUpTheRest) {
  EventLoop loop(1);
  auto summaries = std::make_shared<Summaries>();
  Notification summed;
  {
    RefusalLog log(
        loop.context().get_executor(),
        [summaries, &summed](uint64_t suppressed, const std::string& breakdown,
                             absl::Duration interval) {
          MutexLock lock(&summaries->mu);
          summaries->lines.push_back(absl::StrCat(
              suppressed, ": ", breakdown, " in ", absl::FormatDuration(interval)));
          if (summaries->lines.size() == 1) summed.Notify();
        },
        /*burst=*/3, /*interval=*/absl::Milliseconds(300));
    int logged = 0;
    for (int i = 0; i < 20; ++i) logged += log.Count(i % 4 == 0 ? "timed out" : "wrong password");
    EXPECT_EQ(logged, 3);
    ASSERT_TRUE(summed.WaitForNotificationWithTimeout(absl::Seconds(10)));
    {
      MutexLock lock(&summaries->mu);
      ASSERT_EQ(summaries->lines.size(), 1u);
      // i = 0, 1, 2 logged; of 3..19: 4 timed out (4, 8, 12, 16), 13 wrong.
      EXPECT_EQ(summaries->lines[0],
                "17: 13 wrong password, 4 timed out in 300ms");
    }
    // A new interval logs a new burst; what it holds back is summed when
    // the log goes.
    EXPECT_TRUE(log.Count("timed out"));
    EXPECT_TRUE(log.Count("timed out"));
    EXPECT_TRUE(log.Count("timed out"));
    EXPECT_FALSE(log.Count("timed out"));
  }
  MutexLock lock(&summaries->mu);
  ASSERT_EQ(summaries->lines.size(), 2u);
  EXPECT_EQ(summaries->lines[1], "1: 1 timed out in 300ms");
}

TEST(RefusalLogTest, NoSummaryWhenNothingWasHeldBack) {
  EventLoop loop(1);
  std::atomic<int> calls{0};
  {
    RefusalLog log(loop.context().get_executor(),
                   [&calls](uint64_t, const std::string&, absl::Duration) { ++calls; },
                   /*burst=*/5, /*interval=*/absl::Milliseconds(50));
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(log.Count("x"));
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace dbgd::server
