#include "session/command_queue.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asio/io_context.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::session {
namespace {

using ::testing::ElementsAre;

// FakeCommand is what an engine's command would be, minus the engine.
struct FakeCommand {
  std::string name;
  absl::Duration timeout;
  std::function<void(absl::StatusOr<std::string>)> done;
  uint64_t number = 0;
};

class CommandQueueTest : public ::testing::Test {
 protected:
  CommandQueueTest()
      : strand_(asio::make_strand(io_)),
        queue_(strand_, [this](FakeCommand command) {
          expired_.push_back(command.name);
        }),
        anchor_(std::make_shared<int>(0)) {}

  // Push queues `name`; its result is recorded in results_ as
  // "name: value" or "name: <status code>".
  void Push(const std::string& name, absl::Duration timeout = absl::Seconds(10)) {
    queue_.Push(FakeCommand{name, timeout, [this, name](absl::StatusOr<std::string> r) {
      results_.push_back(name + ": " +
                         (r.ok() ? *r : absl::StatusCodeToString(r.status().code())));
    }});
  }

  // RunFor runs the io_context's handlers for `duration`.
  void RunFor(absl::Duration duration) {
    io_.restart();
    io_.run_for(absl::ToChronoNanoseconds(duration));
  }

  asio::io_context io_;
  CommandQueue<FakeCommand>::Strand strand_;
  CommandQueue<FakeCommand> queue_;
  std::shared_ptr<int> anchor_;
  std::vector<std::string> expired_;
  std::vector<std::string> results_;
};

TEST_F(CommandQueueTest, RunsOneCommandAtATimeInOrder) {
  Push("a");
  Push("b");
  EXPECT_EQ(queue_.InFlight(), nullptr) << "nothing runs until Begin";

  FakeCommand* a = queue_.Begin(anchor_);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "a");
  EXPECT_EQ(a->number, 1u);
  EXPECT_EQ(queue_.Begin(anchor_), nullptr) << "a is still in flight";
  EXPECT_EQ(queue_.InFlight(), a);

  queue_.Complete(std::string("A"));
  EXPECT_EQ(queue_.InFlight(), nullptr);
  FakeCommand* b = queue_.Begin(anchor_);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->name, "b");
  EXPECT_EQ(b->number, 2u);
  queue_.Complete(absl::StatusOr<std::string>(absl::InternalError("x")));
  EXPECT_EQ(queue_.Begin(anchor_), nullptr) << "the queue is empty";
  EXPECT_THAT(results_, ElementsAre("a: A", "b: INTERNAL"));
}

TEST_F(CommandQueueTest, APassedDeadlineHandsTheCommandToExpired) {
  Push("slow", absl::Milliseconds(20));
  Push("next");
  ASSERT_NE(queue_.Begin(anchor_), nullptr);
  RunFor(absl::Milliseconds(300));
  EXPECT_THAT(expired_, ElementsAre("slow"));
  EXPECT_TRUE(results_.empty()) << "Expired decides what `done` gets";
  EXPECT_EQ(queue_.InFlight(), nullptr);

  FakeCommand* next = queue_.Begin(anchor_);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->name, "next");
}

TEST_F(CommandQueueTest, ACompletedCommandDoesNotExpire) {
  Push("quick", absl::Milliseconds(20));
  ASSERT_NE(queue_.Begin(anchor_), nullptr);
  queue_.Complete(std::string("ok"));
  // The next command's deadline is its own, not the completed one's.
  Push("long", absl::Seconds(10));
  ASSERT_NE(queue_.Begin(anchor_), nullptr);
  RunFor(absl::Milliseconds(200));
  EXPECT_TRUE(expired_.empty());
  EXPECT_THAT(results_, ElementsAre("quick: ok"));
}

TEST_F(CommandQueueTest, ThePendingDeadlineHoldsTheAnchor) {
  std::weak_ptr<int> weak = anchor_;
  Push("a", absl::Seconds(10));
  ASSERT_NE(queue_.Begin(weak), nullptr);
  anchor_.reset();
  EXPECT_FALSE(weak.expired()) << "the deadline's handler holds it";
  queue_.Complete(std::string("ok"));
  RunFor(absl::Milliseconds(50));  // the cancelled wait lets go
  EXPECT_TRUE(weak.expired());
}

TEST_F(CommandQueueTest, NoDeadlineOnceTheAnchorIsGone) {
  std::weak_ptr<int> weak = anchor_;
  anchor_.reset();
  Push("a", absl::Milliseconds(10));
  ASSERT_NE(queue_.Begin(weak), nullptr);
  RunFor(absl::Milliseconds(100));
  EXPECT_TRUE(expired_.empty());
  EXPECT_NE(queue_.InFlight(), nullptr);
}

TEST_F(CommandQueueTest, FailAllEndsTheCommandInFlightThenTheQueuedOnes) {
  Push("a", absl::Milliseconds(20));
  Push("b");
  Push("c");
  ASSERT_NE(queue_.Begin(anchor_), nullptr);
  queue_.FailAll(absl::UnavailableError("gone"));
  EXPECT_THAT(results_, ElementsAre("a: UNAVAILABLE", "b: UNAVAILABLE",
                                    "c: UNAVAILABLE"));
  EXPECT_EQ(queue_.InFlight(), nullptr);
  EXPECT_EQ(queue_.Begin(anchor_), nullptr);
  RunFor(absl::Milliseconds(100));
  EXPECT_TRUE(expired_.empty()) << "a's deadline went with it";
}

TEST_F(CommandQueueTest, CallbacksMayQueueAndBeginTheNextCommand) {
  queue_.Push(FakeCommand{"first", absl::Seconds(10),
                          [this](absl::StatusOr<std::string>) {
                            Push("second");
                            FakeCommand* second = queue_.Begin(anchor_);
                            ASSERT_NE(second, nullptr);
                            EXPECT_EQ(second->name, "second");
                          }});
  ASSERT_NE(queue_.Begin(anchor_), nullptr);
  queue_.Complete(std::string("done"));
  ASSERT_NE(queue_.InFlight(), nullptr);
  EXPECT_EQ(queue_.InFlight()->name, "second");

  queue_.FailAll(absl::UnavailableError("gone"));
  EXPECT_THAT(results_, ElementsAre("second: UNAVAILABLE"));
}

TEST_F(CommandQueueTest, FailAllLeavesCommandsQueuedByCallbacks) {
  queue_.Push(FakeCommand{"a", absl::Seconds(10),
                          [this](absl::StatusOr<std::string>) { Push("late"); }});
  queue_.FailAll(absl::UnavailableError("gone"));
  FakeCommand* late = queue_.Begin(anchor_);
  ASSERT_NE(late, nullptr);
  EXPECT_EQ(late->name, "late");
}

TEST(CommandTimedOutErrorTest, SaysTheCommandMayStillRun) {
  EXPECT_EQ(CommandTimedOutError().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(CommandTimedOutError().message(),
              ::testing::HasSubstr("may still be running"));
}

}  // namespace
}  // namespace dbgd::session
