#include "common/event_loop.h"

#include <algorithm>

namespace dbgd {

EventLoop::EventLoop(int threads) : work_(asio::make_work_guard(context_)) {
  for (int i = 0; i < std::max(threads, 1); ++i) {
    threads_.emplace_back([this] { context_.run(); });
  }
}

EventLoop::~EventLoop() { Stop(); }

void EventLoop::Stop() {
  if (threads_.empty()) return;
  work_.reset();
  context_.stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace dbgd
