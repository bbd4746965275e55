// AsyncWriter: ordered writes to an Asio stream on its strand.
//
// Asio allows one async_write on a stream at a time; AsyncWriter queues the
// rest. Every method must be called on the stream's strand. Each pending
// write holds `anchor` (the object owning the stream and this writer), so
// neither is destroyed while Asio may still call back.

#ifndef DBGD_SESSION_ASYNC_WRITER_H_
#define DBGD_SESSION_ASYNC_WRITER_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "asio/buffer.hpp"
#include "asio/write.hpp"

namespace dbgd::session {

template <typename Stream>
class AsyncWriter {
 public:
  // `stream` must outlive the writer's pending writes; `on_error` is called
  // (once per failed write) with the error, e.g. when the peer hung up.
  AsyncWriter(Stream& stream, std::weak_ptr<void> anchor,
              std::function<void(std::error_code)> on_error)
      : stream_(stream),
        anchor_(std::move(anchor)),
        on_error_(std::move(on_error)) {}

  void Write(std::string bytes) {
    queue_.push_back(std::move(bytes));
    if (!writing_) WriteNext();
  }

  bool idle() const { return !writing_; }

 private:
  void WriteNext() {
    if (queue_.empty()) {
      writing_ = false;
      return;
    }
    std::shared_ptr<void> anchor = anchor_.lock();
    if (anchor == nullptr) return;  // the owner is being destroyed
    writing_ = true;
    asio::async_write(stream_, asio::buffer(queue_.front()),
                      [this, anchor](std::error_code error, size_t) {
                        queue_.pop_front();
                        if (error) {
                          queue_.clear();
                          writing_ = false;
                          on_error_(error);
                          return;
                        }
                        WriteNext();
                      });
  }

  Stream& stream_;
  const std::weak_ptr<void> anchor_;
  std::function<void(std::error_code)> on_error_;
  std::deque<std::string> queue_;
  bool writing_ = false;
};

}  // namespace dbgd::session

#endif  // DBGD_SESSION_ASYNC_WRITER_H_
