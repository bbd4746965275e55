#include "server/redialer.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "asio/strand.hpp"
#include "common/event_loop.h"
#include "common/mutex.h"
#include "common/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/ports.h"
#include "transports/factory.h"

namespace dbgd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(BackoffTest, DoublesUpToTheMaximumAndStartsOverOnReset) {
  Backoff backoff(absl::Milliseconds(250), absl::Seconds(1));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(250));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(500));
  EXPECT_EQ(backoff.Next(), absl::Seconds(1));
  EXPECT_EQ(backoff.Next(), absl::Seconds(1));
  backoff.Reset();
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(250));
}

class RedialerTest : public ::testing::Test {
 protected:
  RedialerTest()
      : strand_(asio::make_strand(loop_.context())),
        factory_(loop_.context().get_executor()),
        port_(dbgd::testing::FreePortRun(1)) {}
  ~RedialerTest() override {
    Run([this] {
      if (redialer_ != nullptr) redialer_->Stop();
      redialer_.reset();
      if (client_ != nullptr) client_->Close();
    });
    loop_.Stop();
  }

  template <typename Work>
  void Run(Work work) {
    Notification done;
    asio::post(strand_, [&] {
      work();
      done.Notify();
    });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  }

  // MakeRedialer dials this test's port on 127.0.0.1 through the factory,
  // as a `tcp:port=P,clicon=127.0.0.1` server does.
  void MakeRedialer() {
    absl::StatusOr<transports::ServerSpec> spec = transports::ParseServerSpec(
        absl::StrCat("tcp:port=", port_, ",clicon=127.0.0.1"));
    ASSERT_TRUE(spec.ok()) << spec.status();
    absl::StatusOr<std::unique_ptr<transports::Connector>> connector =
        factory_.ConnectOut(*spec, strand_);
    ASSERT_TRUE(connector.ok()) << connector.status();
    redialer_ = Redialer::Make(
        strand_, *std::move(connector),
        [this](std::unique_ptr<transports::Stream> stream) {
          MutexLock lock(&mu_);
          streams_.push_back(std::move(stream));
        },
        [this](const std::string& why) {
          MutexLock lock(&mu_);
          waits_.push_back(why);
        },
        RedialerOptions{.first_delay = absl::Milliseconds(20),
                        .max_delay = absl::Milliseconds(80)});
  }

  // Listen starts the client side, which waits for the server's connection.
  void Listen() {
    absl::StatusOr<transports::ClientSpec> spec = transports::ParseClientSpec(
        absl::StrCat("tcp:clicon=127.0.0.1,port=", port_));
    ASSERT_TRUE(spec.ok()) << spec.status();
    Run([&] {
      absl::StatusOr<std::unique_ptr<transports::Listener>> listener =
          factory_.AwaitServer(*spec, strand_);
      ASSERT_TRUE(listener.ok()) << listener.status();
      client_ = *std::move(listener);
      client_->AsyncAccept([](absl::StatusOr<std::unique_ptr<transports::Stream>>) {});
    });
  }

  size_t WaitCount() {
    MutexLock lock(&mu_);
    return waits_.size();
  }
  bool WaitForWaits(size_t count) {
    MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return waits_.size() >= count;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }
  bool WaitForStream() {
    MutexLock lock(&mu_);
    auto made = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !streams_.empty();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&made), absl::Seconds(10));
  }

  EventLoop loop_{1};
  asio::strand<asio::io_context::executor_type> strand_;
  transports::TransportFactory factory_;
  const uint16_t port_;
  std::shared_ptr<Redialer> redialer_;
  std::unique_ptr<transports::Listener> client_;
  Mutex mu_;
  std::vector<std::string> waits_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<transports::Stream>> streams_ ABSL_GUARDED_BY(mu_);
};

TEST_F(RedialerTest, KeepsDialingWithBackoffUntilTheClientIsUp) {
  MakeRedialer();
  Run([this] { redialer_->Dial(); });
  ASSERT_TRUE(WaitForWaits(4));
  {
    MutexLock lock(&mu_);
    EXPECT_THAT(waits_[0], HasSubstr(absl::StrCat("connecting to 127.0.0.1:", port_)));
    EXPECT_THAT(waits_[0], HasSubstr("refused"));
    EXPECT_THAT(waits_[0], HasSubstr("retrying in 20ms"));
    EXPECT_THAT(waits_[1], HasSubstr("retrying in 40ms"));
    EXPECT_THAT(waits_[2], HasSubstr("retrying in 80ms"));
    EXPECT_THAT(waits_[3], HasSubstr("retrying in 80ms"));
    EXPECT_TRUE(streams_.empty());
  }
  Listen();
  ASSERT_TRUE(WaitForStream());
  // Connected: no more attempts.
  const size_t waits = WaitCount();
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(WaitCount(), waits);
}

TEST_F(RedialerTest, RetryWaitsAndDialsAgainAfterAGoodConnectionFailedLater) {
  Listen();
  MakeRedialer();
  Run([this] { redialer_->Dial(); });
  ASSERT_TRUE(WaitForStream());
  // E.g. the handshake was refused: the server asks for another go.
  Run([this] {
    redialer_->Reset();
    redialer_->Retry("the client left");
  });
  ASSERT_TRUE(WaitForWaits(1));
  MutexLock lock(&mu_);
  EXPECT_THAT(waits_, ElementsAre(HasSubstr("the client left; retrying in 20ms")));
}

TEST_F(RedialerTest, StopEndsTheAttemptsAndTheCallbacks) {
  MakeRedialer();
  Run([this] { redialer_->Dial(); });
  ASSERT_TRUE(WaitForWaits(2));
  Run([this] { redialer_->Stop(); });
  const size_t waits = WaitCount();
  Listen();
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(WaitCount(), waits);
  MutexLock lock(&mu_);
  EXPECT_TRUE(streams_.empty());
}

}  // namespace
}  // namespace dbgd::server
