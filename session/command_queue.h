// CommandQueue: the commands an engine runs one at a time, in call order,
// each with its own deadline (Engine::Execute's contract).
//
// The engine decides when the next command may start (GDB at once, LLDB at
// its prompt) and when the one in flight is over; the queue keeps the order,
// the command in flight, its deadline timer, and fails every command when
// the engine goes away. A Command is the engine's own struct with at least
// `timeout`, `done` (called exactly once, with a result or a status) and
// `number` (set by Begin: 1, 2, … in the order commands start).
//
// Thread-safety: not thread-safe. Every method is called on `strand`, and
// the deadline fires on it.

#ifndef DBGD_SESSION_COMMAND_QUEUE_H_
#define DBGD_SESSION_COMMAND_QUEUE_H_

#include <concepts>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "asio/strand.hpp"

namespace dbgd::session {

template <typename T>
concept QueueableCommand = requires(T command, absl::Status status) {
  { command.timeout } -> std::convertible_to<absl::Duration>;
  { command.number } -> std::convertible_to<uint64_t>;
  command.done(status);
};

// CommandTimedOutError is what a command that outlived its deadline gets.
absl::Status CommandTimedOutError();

template <QueueableCommand Command>
class CommandQueue {
 public:
  using Strand = asio::strand<asio::io_context::executor_type>;
  // Expired gets the command in flight when its deadline passes; it is no
  // longer in flight, and its `done` has not been called.
  using Expired = std::function<void(Command)>;

  CommandQueue(Strand& strand, Expired expired)
      : timer_(strand), expired_(std::move(expired)) {}

  CommandQueue(const CommandQueue&) = delete;
  CommandQueue& operator=(const CommandQueue&) = delete;

  // Push appends `command`; it starts when the engine calls Begin.
  void Push(Command command) { queue_.push_back(std::move(command)); }

  // InFlight is the command that has begun and not completed, or null.
  Command* InFlight() { return in_flight_ ? &*in_flight_ : nullptr; }

  // Begin puts the oldest queued command in flight, numbers it and starts
  // its deadline, which holds `anchor` while it is pending (no deadline if
  // `anchor` has expired). Returns it, or null when a command is already in
  // flight or none is queued.
  Command* Begin(const std::weak_ptr<void>& anchor) {
    if (in_flight_ || queue_.empty()) return nullptr;
    in_flight_ = std::move(queue_.front());
    queue_.pop_front();
    const uint64_t number = in_flight_->number = ++last_number_;
    if (std::shared_ptr<void> held = anchor.lock()) {
      timer_.expires_after(absl::ToChronoNanoseconds(in_flight_->timeout));
      timer_.async_wait([this, held, number](std::error_code error) {
        if (error || !in_flight_ || in_flight_->number != number) return;
        Command expired = TakeInFlight();
        expired_(std::move(expired));
      });
    }
    return &*in_flight_;
  }

  // Complete ends the command in flight with `result`. REQUIRES: InFlight().
  template <typename Result>
  void Complete(Result result) {
    Command command = TakeInFlight();
    command.done(std::move(result));
  }

  // FailAll ends the command in flight, then every queued one, with
  // `status`. Commands pushed by their callbacks stay queued.
  void FailAll(const absl::Status& status) {
    std::deque<Command> failed = std::move(queue_);
    queue_.clear();
    if (in_flight_) failed.push_front(TakeInFlight());
    for (Command& command : failed) command.done(status);
  }

 private:
  Command TakeInFlight() {
    timer_.cancel();
    Command command = std::move(*in_flight_);
    in_flight_.reset();
    return command;
  }

  asio::steady_timer timer_;
  const Expired expired_;
  std::deque<Command> queue_;
  std::optional<Command> in_flight_;
  uint64_t last_number_ = 0;
};

}  // namespace dbgd::session

#endif  // DBGD_SESSION_COMMAND_QUEUE_H_
