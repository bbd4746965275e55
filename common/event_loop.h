// EventLoop: the daemon's one Asio io_context and the threads that run it.
//
// Sockets, PTYs and process descriptors all live on this loop; each session
// (and later each debugging server) serializes its handlers on its own
// strand. Thread-safety: context() may be used from any thread; Stop once.

#ifndef DBGD_COMMON_EVENT_LOOP_H_
#define DBGD_COMMON_EVENT_LOOP_H_

#include <optional>
#include <thread>
#include <vector>

#include "asio/executor_work_guard.hpp"
#include "asio/io_context.hpp"

namespace dbgd {

class EventLoop {
 public:
  // Starts `threads` threads (at least 1) running the context.
  explicit EventLoop(int threads);
  ~EventLoop();  // Stop()
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  asio::io_context& context() { return context_; }

  // Stop stops the context (handlers not yet run are abandoned) and joins
  // the threads. Owners of I/O objects shut them down first. Idempotent.
  // Must not be called from a loop thread.
  void Stop();

 private:
  asio::io_context context_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>>
      work_;
  std::vector<std::thread> threads_;
};

}  // namespace dbgd

#endif  // DBGD_COMMON_EVENT_LOOP_H_
