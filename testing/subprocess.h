// Subprocess: a child program for end-to-end tests, with its output captured.
//
// The child's stdout and stderr are read by a background thread into
// buffers the test can inspect or wait on, so a chatty child never blocks
// on a full pipe. The child leads its own process group; the destructor
// kills (SIGKILL) that group and reaps the child, so a failing test leaves
// no process behind.

#ifndef DBGD_TESTING_SUBPROCESS_H_
#define DBGD_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "common/mutex.h"

namespace dbgd::testing {

class Subprocess {
 public:
  enum class Stdin { kNull, kPipe };

  // Starts `argv[0]` (a path) with `argv`; with Stdin::kPipe the test writes
  // the child's input with WriteStdin. Aborts the test binary if the program
  // cannot be started, which is a broken test set-up.
  explicit Subprocess(const std::vector<std::string>& argv,
                      Stdin stdin_mode = Stdin::kNull);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // WriteStdin writes `text` to the child's stdin (Stdin::kPipe only);
  // CloseStdin gives it EOF.
  void WriteStdin(const std::string& text);
  void CloseStdin();

  // Signal sends `signal` to the child.
  void Signal(int signal);

  // Wait waits up to `timeout` for the child to exit and returns its raw
  // wait status, or nullopt if it is still running. Once it has exited,
  // output() holds everything it wrote (waiting up to 2 s more for that, when
  // a descendant keeps the pipe open).
  std::optional<int> Wait(absl::Duration timeout);

  // WaitForOutput waits up to `timeout` until stdout+stderr contain
  // `needle`; returns whether they do.
  bool WaitForOutput(const std::string& needle, absl::Duration timeout);

  std::string output() const;  // stdout and stderr, interleaved as read

 private:
  void ReadLoop(int fd);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::optional<int> status_;
  std::thread reader_;
  mutable Mutex mu_;
  std::string output_ ABSL_GUARDED_BY(mu_);
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
};

// RunToCompletion runs `argv` and returns {wait status, output}; kills it
// after `timeout`.
struct Completed {
  int status = -1;
  std::string output;
};
Completed RunToCompletion(const std::vector<std::string>& argv,
                          absl::Duration timeout = absl::Seconds(30));

// RunfilePath returns the path of a data dependency such as "server/dbgd".
std::string RunfilePath(const std::string& workspace_relative);

}  // namespace dbgd::testing

#endif  // DBGD_TESTING_SUBPROCESS_H_
