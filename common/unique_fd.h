// UniqueFd: sole ownership of a file descriptor, closed on destruction.

#ifndef DBGD_COMMON_UNIQUE_FD_H_
#define DBGD_COMMON_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace dbgd {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // release gives up ownership and returns the descriptor.
  int release() { return std::exchange(fd_, -1); }

  // reset closes the current descriptor (if any) and owns `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace dbgd

#endif  // DBGD_COMMON_UNIQUE_FD_H_
