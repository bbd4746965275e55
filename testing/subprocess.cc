#include "testing/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace dbgd::testing {

Subprocess::Subprocess(const std::vector<std::string>& argv, Stdin stdin_mode) {
  // A child that exits while the test writes to it must fail the write,
  // not kill the test.
  static const bool ignore_sigpipe = [] {
    ::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)ignore_sigpipe;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) std::abort();
  int input_fds[2] = {-1, -1};
  if (stdin_mode == Stdin::kPipe && ::pipe2(input_fds, O_CLOEXEC) != 0) {
    std::abort();
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) std::abort();
  if (pid_ == 0) {
    // Its own process group, so the destructor can end the child and
    // everything it started (a shell's `sleep`, a daemon's engine).
    ::setpgid(0, 0);
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    if (input_fds[0] >= 0) {
      ::dup2(input_fds[0], STDIN_FILENO);
    } else {
      int devnull = ::open("/dev/null", O_RDONLY);
      ::dup2(devnull, STDIN_FILENO);
    }
    ::execv(args[0], args.data());
    // Only async-signal-safe calls between fork and exec.
    static constexpr char kMessage[] = "Subprocess: exec failed\n";
    (void)!::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  if (input_fds[0] >= 0) ::close(input_fds[0]);
  stdin_fd_ = input_fds[1];
  reader_ = std::thread([this, fd = pipe_fds[0]] { ReadLoop(fd); });
}

void Subprocess::WriteStdin(const std::string& text) {
  size_t done = 0;
  while (stdin_fd_ >= 0 && done < text.size()) {
    ssize_t n = ::write(stdin_fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
}

void Subprocess::CloseStdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

Subprocess::~Subprocess() {
  CloseStdin();
  if (!status_.has_value()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  // Descendants may still hold the output pipe open; the reader would wait
  // for them.
  ::kill(-pid_, SIGKILL);
  if (reader_.joinable()) reader_.join();
}

void Subprocess::ReadLoop(int fd) {
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    MutexLock lock(&mu_);
    output_.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  MutexLock lock(&mu_);
  eof_ = true;
}

void Subprocess::Signal(int signal) {
  if (!status_.has_value()) ::kill(pid_, signal);
}

std::optional<int> Subprocess::Wait(absl::Duration timeout) {
  if (status_.has_value()) return status_;
  const absl::Time deadline = absl::Now() + timeout;
  do {
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      status_ = status;
      // What it wrote before it exited is read by now, unless a descendant
      // still holds the pipe open (then output() is what arrived so far).
      MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&eof_), absl::Seconds(2));
      return status_;
    }
    absl::SleepFor(absl::Milliseconds(10));
  } while (absl::Now() < deadline);
  return std::nullopt;
}

bool Subprocess::WaitForOutput(const std::string& needle,
                               absl::Duration timeout) {
  MutexLock lock(&mu_);
  auto found = [this, &needle]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return eof_ || output_.find(needle) != std::string::npos;
  };
  mu_.AwaitWithTimeout(absl::Condition(&found), timeout);
  return output_.find(needle) != std::string::npos;
}

std::string Subprocess::output() const {
  MutexLock lock(&mu_);
  return output_;
}

Completed RunToCompletion(const std::vector<std::string>& argv,
                          absl::Duration timeout) {
  Subprocess process(argv);
  std::optional<int> status = process.Wait(timeout);
  if (!status.has_value()) {
    process.Signal(SIGKILL);
    status = process.Wait(absl::Seconds(5));
  }
  // The reader thread finishes once the child's end of the pipe closes.
  process.WaitForOutput(std::string(1, '\0'), absl::Seconds(5));
  return Completed{status.value_or(-1), process.output()};
}

std::string RunfilePath(const std::string& workspace_relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  if (srcdir != nullptr) {
    std::string path = std::string(srcdir) + "/dbgd/" + workspace_relative;
    if (std::filesystem::exists(path)) return path;
  }
  return workspace_relative;
}

}  // namespace dbgd::testing
