#include "protocol/auth_throttle.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace dbgd::protocol {
namespace {

// FakeClock is advanced by hand; the throttle under test reads it.
class FakeClock {
 public:
  std::function<absl::Time()> Function() {
    return [this] { return now_; };
  }
  void Advance(absl::Duration by) { now_ += by; }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

class AuthThrottleTest : public ::testing::Test {
 protected:
  AuthThrottleOptions Options() {
    AuthThrottleOptions options;
    options.failure_delay = absl::Milliseconds(20);
    options.max_failures = 3;
    options.window = absl::Minutes(5);
    options.lockout = absl::Seconds(60);
    options.clock = clock_.Function();
    return options;
  }

  FakeClock clock_;
};

TEST_F(AuthThrottleTest, DefaultsMatchTheContract) {
  AuthThrottle throttle;
  EXPECT_EQ(throttle.FailureDelay(), absl::Seconds(1));
  for (int i = 0; i < 4; ++i) throttle.RecordFailure("192.0.2.1");
  EXPECT_FALSE(throttle.IsLockedOut("192.0.2.1"));
  throttle.RecordFailure("192.0.2.1");  // the fifth
  EXPECT_TRUE(throttle.IsLockedOut("192.0.2.1"));
  EXPECT_GT(throttle.LockoutRemaining("192.0.2.1"), absl::Seconds(59));
  EXPECT_LE(throttle.LockoutRemaining("192.0.2.1"), absl::Seconds(60));
}

TEST_F(AuthThrottleTest, ReportsTheFailureDelay) {
  AuthThrottle throttle(Options());
  EXPECT_EQ(throttle.FailureDelay(), absl::Milliseconds(20));
}

TEST_F(AuthThrottleTest, LocksOutAfterMaxFailures) {
  AuthThrottle throttle(Options());
  throttle.RecordFailure("10.0.0.1");
  throttle.RecordFailure("10.0.0.1");
  EXPECT_FALSE(throttle.IsLockedOut("10.0.0.1"));
  throttle.RecordFailure("10.0.0.1");
  EXPECT_TRUE(throttle.IsLockedOut("10.0.0.1"));
  EXPECT_EQ(throttle.LockoutRemaining("10.0.0.1"), absl::Seconds(60));
}

TEST_F(AuthThrottleTest, UnlocksWhenTheLockoutEnds) {
  AuthThrottle throttle(Options());
  for (int i = 0; i < 3; ++i) throttle.RecordFailure("10.0.0.1");
  clock_.Advance(absl::Seconds(59));
  EXPECT_TRUE(throttle.IsLockedOut("10.0.0.1"));
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(throttle.IsLockedOut("10.0.0.1"));
  // The source starts afresh: one more failure does not lock it again.
  throttle.RecordFailure("10.0.0.1");
  EXPECT_FALSE(throttle.IsLockedOut("10.0.0.1"));
}

TEST_F(AuthThrottleTest, FailuresOutsideTheWindowDoNotCount) {
  AuthThrottle throttle(Options());
  throttle.RecordFailure("10.0.0.1");
  throttle.RecordFailure("10.0.0.1");
  clock_.Advance(absl::Minutes(5));
  throttle.RecordFailure("10.0.0.1");
  EXPECT_FALSE(throttle.IsLockedOut("10.0.0.1"));
  clock_.Advance(absl::Minutes(1));
  throttle.RecordFailure("10.0.0.1");
  throttle.RecordFailure("10.0.0.1");
  EXPECT_TRUE(throttle.IsLockedOut("10.0.0.1"));
}

TEST_F(AuthThrottleTest, SuccessResetsTheCount) {
  AuthThrottle throttle(Options());
  throttle.RecordFailure("10.0.0.1");
  throttle.RecordFailure("10.0.0.1");
  throttle.RecordSuccess("10.0.0.1");
  EXPECT_EQ(throttle.tracked_sources(), 0u);
  throttle.RecordFailure("10.0.0.1");
  throttle.RecordFailure("10.0.0.1");
  EXPECT_FALSE(throttle.IsLockedOut("10.0.0.1"));
}

TEST_F(AuthThrottleTest, CountsLockoutsAndSourcesLockedNow) {
  AuthThrottle throttle(Options());
  for (int i = 0; i < 3; ++i) throttle.RecordFailure("10.0.0.1");
  for (int i = 0; i < 3; ++i) throttle.RecordFailure("10.0.0.2");
  throttle.RecordFailure("10.0.0.3");
  EXPECT_EQ(throttle.lockouts(), 2u);
  EXPECT_EQ(throttle.locked_sources(), 2u);
  clock_.Advance(absl::Seconds(61));  // the lockouts end; the count stays
  EXPECT_EQ(throttle.locked_sources(), 0u);
  EXPECT_EQ(throttle.lockouts(), 2u);
  for (int i = 0; i < 3; ++i) throttle.RecordFailure("10.0.0.1");
  EXPECT_EQ(throttle.lockouts(), 3u);
  EXPECT_EQ(throttle.locked_sources(), 1u);
}

TEST_F(AuthThrottleTest, TryAttemptCountsBeforeTheCheck) {
  AuthThrottle throttle(Options());
  EXPECT_TRUE(throttle.TryAttempt("10.0.0.1"));
  EXPECT_TRUE(throttle.TryAttempt("10.0.0.1"));
  EXPECT_TRUE(throttle.TryAttempt("10.0.0.1"));  // the third locks
  EXPECT_FALSE(throttle.TryAttempt("10.0.0.1"));
  EXPECT_TRUE(throttle.IsLockedOut("10.0.0.1"));
  // A right password undoes its own provisional failure and the others.
  AuthThrottle other(Options());
  EXPECT_TRUE(other.TryAttempt("10.0.0.1"));
  EXPECT_TRUE(other.TryAttempt("10.0.0.1"));
  other.RecordSuccess("10.0.0.1");
  EXPECT_TRUE(other.TryAttempt("10.0.0.1"));
  EXPECT_TRUE(other.TryAttempt("10.0.0.1"));
  EXPECT_FALSE(other.IsLockedOut("10.0.0.1"));
}

TEST_F(AuthThrottleTest, SourcesAreIsolated) {
  AuthThrottle throttle(Options());
  for (int i = 0; i < 3; ++i) throttle.RecordFailure("10.0.0.1");
  throttle.RecordFailure("10.0.0.2");
  EXPECT_TRUE(throttle.IsLockedOut("10.0.0.1"));
  EXPECT_FALSE(throttle.IsLockedOut("10.0.0.2"));
  EXPECT_FALSE(throttle.IsLockedOut("10.0.0.3"));
  EXPECT_EQ(throttle.LockoutRemaining("10.0.0.3"), absl::ZeroDuration());
}

TEST_F(AuthThrottleTest, ForgetsStaleSources) {
  AuthThrottle throttle(Options());
  for (int i = 0; i < 100; ++i) throttle.RecordFailure(absl::StrCat("10.0.1.", i));
  for (int i = 0; i < 3; ++i) throttle.RecordFailure("10.0.0.1");  // locked
  EXPECT_EQ(throttle.tracked_sources(), 101u);
  clock_.Advance(absl::Minutes(5));
  throttle.RecordFailure("10.0.0.2");
  EXPECT_EQ(throttle.tracked_sources(), 1u);
}

TEST_F(AuthThrottleTest, EvictsTheOldestBeyondTheCap) {
  AuthThrottleOptions options = Options();
  options.max_sources = 100;
  AuthThrottle throttle(options);
  throttle.RecordFailure("10.0.0.1");  // oldest, not locked out
  for (int i = 0; i < 1000; ++i) {
    clock_.Advance(absl::Milliseconds(1));
    throttle.RecordFailure(absl::StrCat("10.1.", i / 256, ".", i % 256));
    ASSERT_LE(throttle.tracked_sources(), 100u);
  }
  EXPECT_EQ(throttle.tracked_sources(), 100u);
  // Evicted first: its two next failures do not lock it out.
  throttle.RecordFailure("10.0.0.1");
  throttle.RecordFailure("10.0.0.1");
  EXPECT_FALSE(throttle.IsLockedOut("10.0.0.1"));
}

TEST_F(AuthThrottleTest, ALockoutHoldsWhateverOtherSourcesDo) {
  AuthThrottleOptions options = Options();
  options.max_sources = 100;
  AuthThrottle throttle(options);
  for (int i = 0; i < 3; ++i) throttle.RecordFailure("10.0.0.1");
  ASSERT_TRUE(throttle.IsLockedOut("10.0.0.1"));
  // 10,000 other sources fail during the lockout, each once.
  for (int i = 0; i < 10000; ++i) {
    clock_.Advance(absl::Milliseconds(5));  // 50 s in all
    throttle.RecordFailure(absl::StrCat("10.2.", i / 256, ".", i % 256));
    ASSERT_LE(throttle.tracked_sources(), 100u);
  }
  EXPECT_TRUE(throttle.IsLockedOut("10.0.0.1"));
  EXPECT_FALSE(throttle.TryAttempt("10.0.0.1"));
  EXPECT_EQ(throttle.LockoutRemaining("10.0.0.1"), absl::Seconds(10));
  clock_.Advance(absl::Seconds(10));
  EXPECT_FALSE(throttle.IsLockedOut("10.0.0.1"));
}

TEST_F(AuthThrottleTest, AFullTableOfLockoutsRefusesNewSources) {
  AuthThrottleOptions options = Options();
  options.max_sources = 50;
  AuthThrottle throttle(options);
  for (int i = 0; i < 50; ++i) {
    for (int n = 0; n < 3; ++n) throttle.RecordFailure(absl::StrCat("10.3.0.", i));
  }
  ASSERT_EQ(throttle.locked_sources(), 50u);
  // No room and nothing evictable: a new source is refused as if locked
  // out, and every lockout stays.
  EXPECT_TRUE(throttle.IsLockedOut("10.9.9.9"));
  EXPECT_EQ(throttle.LockoutRemaining("10.9.9.9"), absl::Seconds(60));
  EXPECT_FALSE(throttle.TryAttempt("10.9.9.9"));
  EXPECT_EQ(throttle.full_refusals(), 1u);
  EXPECT_EQ(throttle.tracked_sources(), 50u);
  EXPECT_EQ(throttle.locked_sources(), 50u);
  // When the lockouts end, the new source is tracked again.
  clock_.Advance(absl::Seconds(60));
  EXPECT_FALSE(throttle.IsLockedOut("10.9.9.9"));
  EXPECT_TRUE(throttle.TryAttempt("10.9.9.9"));
  EXPECT_EQ(throttle.tracked_sources(), 1u);
}

TEST_F(AuthThrottleTest, OneHostIsOneSourceWhateverItsAddressForm) {
  AuthThrottle throttle(Options());
  throttle.RecordFailure("192.0.2.7");
  throttle.RecordFailure("::ffff:192.0.2.7");
  throttle.RecordFailure("::FFFF:c000:0207");
  EXPECT_TRUE(throttle.IsLockedOut("192.0.2.7"));
  EXPECT_TRUE(throttle.IsLockedOut("::ffff:192.0.2.7"));
  EXPECT_FALSE(throttle.IsLockedOut("192.0.2.8"));
  EXPECT_EQ(throttle.tracked_sources(), 1u);
  // Every IPv4 loopback address is this host; ::1 is a source of its own.
  throttle.RecordFailure("127.0.0.1");
  throttle.RecordFailure("::ffff:127.0.0.2");
  throttle.RecordFailure("127.45.6.7");
  EXPECT_TRUE(throttle.IsLockedOut("::ffff:127.0.0.1"));
  EXPECT_FALSE(throttle.IsLockedOut("::1"));
  // IPv6 counts per /64.
  throttle.RecordFailure("2001:db8:1:2::1");
  throttle.RecordFailure("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
  throttle.RecordFailure("2001:db8:1:2::ffff%eth0");
  EXPECT_TRUE(throttle.IsLockedOut("2001:db8:1:2::9"));
  EXPECT_FALSE(throttle.IsLockedOut("2001:db8:1:3::1"));
}

TEST(SourceKeyTest, Forms) {
  EXPECT_EQ(SourceKey("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(SourceKey("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(SourceKey("127.0.0.1"), "127.0.0.0/8");
  EXPECT_EQ(SourceKey("127.255.0.9"), "127.0.0.0/8");
  EXPECT_EQ(SourceKey("::ffff:127.0.0.1"), "127.0.0.0/8");
  EXPECT_EQ(SourceKey("::1"), "::1");
  EXPECT_EQ(SourceKey("[::1]"), "::1");
  EXPECT_EQ(SourceKey("2001:DB8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  EXPECT_EQ(SourceKey("fe80::1%eth0"), "fe80::/64");
  EXPECT_EQ(SourceKey("uid=1000"), "uid=1000");
  EXPECT_EQ(SourceKey("?"), "?");
}

TEST_F(AuthThrottleTest, ARepeatOffenderStaysTracked) {
  AuthThrottleOptions options = Options();
  options.max_sources = 10;
  options.max_failures = 100;
  AuthThrottle throttle(options);
  for (int i = 0; i < 50; ++i) {
    clock_.Advance(absl::Milliseconds(1));
    throttle.RecordFailure("10.0.0.1");
    clock_.Advance(absl::Milliseconds(1));
    throttle.RecordFailure(absl::StrCat("10.2.0.", i));
  }
  // 10.0.0.1 always failed second most recently, so it survived the
  // evictions with all 50 failures counted.
  EXPECT_EQ(throttle.tracked_sources(), 10u);
  for (int i = 0; i < 50; ++i) throttle.RecordFailure("10.0.0.1");
  EXPECT_TRUE(throttle.IsLockedOut("10.0.0.1"));
}

TEST(AuthThrottleConcurrencyTest, ManyThreads) {
  AuthThrottleOptions options;
  options.max_failures = 1000000;
  options.max_sources = 64;
  AuthThrottle throttle(options);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&throttle, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string source = absl::StrCat("10.", t, ".", i % 100);
        throttle.RecordFailure(source);
        (void)throttle.IsLockedOut(source);
        if (i % 7 == 0) throttle.RecordSuccess(source);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(throttle.tracked_sources(), 64u);
}

}  // namespace
}  // namespace dbgd::protocol
