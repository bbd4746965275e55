#include "session/pty.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/posix_error.h"
#include "common/reaper.h"

extern char** environ;

namespace dbgd::session {
namespace {

constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";

absl::Status PtyError(absl::string_view context, int error) {
  // posix_openpt's EAGAIN is the kernel's PTY limit (kernel.pty.max), not a
  // call to retry at once.
  if (error == EAGAIN) {
    return absl::ResourceExhaustedError(PosixErrorMessage(context, error));
  }
  return PosixError(context, error);
}

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

// The step of the child's setup that failed, reported through the error
// pipe with its errno.
enum class ChildStep : int {
  kSetsid,
  kControllingTerminal,
  kStdio,
  kChdir,
  kDeathSignal,
  kExec,
};

struct ChildFailure {
  ChildStep step;
  int error;
};

std::atomic<uint64_t> child_descriptor_limit{0};

// Runs in the forked child of a multithreaded process: async-signal-safe
// calls only, no allocation, no locks. Never returns.
[[noreturn]] void RunChild(pid_t parent, int slave, int error_pipe,
                           const char* path, char* const* argv,
                           char* const* envp, const char* cwd, int max_fd,
                           uint64_t descriptor_limit) {
  auto fail = [error_pipe](ChildStep step) {
    const ChildFailure failure{step, errno};
    ssize_t n;
    do {
      n = ::write(error_pipe, &failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    ::_exit(127);
  };

  // The engine dies with the daemon, even one that ignores the SIGHUP of its
  // terminal's hangup: the kernel sends SIGKILL when the thread that forked
  // it ends, which is when the daemon does (see SpawnOnPty). A daemon that
  // died before the prctl is no longer the parent: nobody is left to tell.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail(ChildStep::kDeathSignal);
  if (::getppid() != parent) ::_exit(127);

  if (::setsid() < 0) fail(ChildStep::kSetsid);
  if (::ioctl(slave, TIOCSCTTY, 0) < 0) fail(ChildStep::kControllingTerminal);
  // dup2 onto itself would keep O_CLOEXEC, and the slave would vanish at exec.
  if (slave <= STDERR_FILENO) {
    slave = ::fcntl(slave, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (slave < 0) fail(ChildStep::kStdio);
  }
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
    if (::dup2(slave, fd) < 0) fail(ChildStep::kStdio);
  }
  if (cwd != nullptr && ::chdir(cwd) < 0) fail(ChildStep::kChdir);

  // The daemon blocks SIGINT and SIGTERM and ignores SIGPIPE; a mask and
  // ignored dispositions survive exec, and an engine that cannot be
  // interrupted by ^C is useless. Handlers reset at exec by themselves.
  sigset_t empty;
  ::sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  struct sigaction default_action;
  std::memset(&default_action, 0, sizeof default_action);
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    // Refused for SIGKILL, SIGSTOP and glibc's internal 32 and 33, which
    // glibc gives handlers before it relies on them.
    ::sigaction(sig, &default_action, nullptr);
  }

  // Descriptors the daemon leaked without O_CLOEXEC (or that another thread
  // opened between its open and fcntl) must not reach the engine.
  bool closed = false;
#ifdef SYS_close_range
  closed = (error_pipe <= 3 ||
            ::syscall(SYS_close_range, 3u,
                      static_cast<unsigned>(error_pipe - 1), 0u) == 0) &&
           ::syscall(SYS_close_range, static_cast<unsigned>(error_pipe + 1),
                     ~0u, 0u) == 0;
#endif
  if (!closed) {
    for (int fd = 3; fd < max_fd; ++fd) {
      if (fd != error_pipe) ::close(fd);
    }
  }

  if (descriptor_limit != 0) {
    rlimit limit;
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur > descriptor_limit) {
      limit.rlim_cur = descriptor_limit;
      ::setrlimit(RLIMIT_NOFILE, &limit);
    }
  }

  ::execve(path, argv, envp);
  fail(ChildStep::kExec);
  ::_exit(127);  // unreachable: fail exits
}

// BuildEnvironment returns the daemon's environment with `overrides`
// replacing or adding variables, as "NAME=value" strings.
std::vector<std::string> BuildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  absl::flat_hash_set<absl::string_view> replaced;
  for (const auto& [name, value] : overrides) replaced.insert(name);
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr;
       ++entry) {
    absl::string_view variable(*entry);
    const size_t equals = variable.find('=');
    if (replaced.contains(variable.substr(0, equals))) continue;
    env.emplace_back(variable);
  }
  // The last of repeated overrides wins, as with repeated setenv calls.
  absl::flat_hash_set<absl::string_view> added;
  for (auto it = overrides.rbegin(); it != overrides.rend(); ++it) {
    if (added.insert(it->first).second) {
      env.push_back(absl::StrCat(it->first, "=", it->second));
    }
  }
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

void KillAndReap(pid_t pid) {
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  Disown(pid);
}

}  // namespace

absl::StatusOr<PtyPair> OpenPty(PtyMode mode) {
  PtyPair pair;
  pair.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pair.master.valid()) return PtyError("posix_openpt", errno);
  const int master = pair.master.get();
  if (::grantpt(master) != 0) return PtyError("grantpt", errno);
  if (::unlockpt(master) != 0) return PtyError("unlockpt", errno);
  char name[PATH_MAX];
  // ptsname_r returns the error number instead of setting errno.
  if (const int error = ::ptsname_r(master, name, sizeof name); error != 0) {
    return PtyError("ptsname_r", error);
  }
  pair.slave_path = name;
  const int flags = ::fcntl(master, F_GETFL);
  if (flags < 0 || ::fcntl(master, F_SETFL, flags | O_NONBLOCK) < 0) {
    return PtyError("fcntl O_NONBLOCK on the PTY master", errno);
  }

  pair.slave.reset(
      ::open(pair.slave_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pair.slave.valid()) {
    return PtyError(absl::StrCat("open ", pair.slave_path), errno);
  }
  const int slave = pair.slave.get();
  if (mode == PtyMode::kRaw) {
    struct termios attributes;
    if (::tcgetattr(slave, &attributes) != 0) {
      return PtyError(absl::StrCat("tcgetattr ", pair.slave_path), errno);
    }
    ::cfmakeraw(&attributes);
    if (::tcsetattr(slave, TCSANOW, &attributes) != 0) {
      return PtyError(absl::StrCat("tcsetattr ", pair.slave_path), errno);
    }
  }
  struct winsize size = {};
  size.ws_row = kTerminalRows;
  size.ws_col = kTerminalColumns;
  if (::ioctl(slave, TIOCSWINSZ, &size) != 0) {
    return PtyError(absl::StrCat("TIOCSWINSZ ", pair.slave_path), errno);
  }
  return pair;
}

absl::StatusOr<std::string> FindProgram(const std::string& name,
                                        const std::string& package) {
  if (name.empty()) return absl::InvalidArgumentError("empty program name");
  if (name.find('/') != std::string::npos) {
    if (IsExecutableFile(name)) return name;
    return absl::NotFoundError(absl::StrCat(name, ": no such executable"));
  }
  const char* path = ::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path != nullptr ? path : kDefaultPath, ':')) {
    // An empty entry means the working directory, as for execvp.
    std::string candidate =
        dir.empty() ? absl::StrCat("./", name) : absl::StrCat(dir, "/", name);
    if (IsExecutableFile(candidate)) return candidate;
  }
  std::string message = absl::StrCat(name, " not found on PATH");
  if (!package.empty()) {
    absl::StrAppend(&message, " (install the Debian package ", package, ")");
  }
  return absl::NotFoundError(message);
}

absl::StatusOr<SpawnedProcess> SpawnOnPty(const SpawnOptions& options,
                                          int slave) {
  if (options.argv.empty()) {
    return absl::InvalidArgumentError("SpawnOnPty: empty argv");
  }
  if (slave < 0) return absl::InvalidArgumentError("SpawnOnPty: no slave");
  for (const auto& [name, value] : options.env) {
    if (name.empty() || name.find('=') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("SpawnOnPty: bad environment variable name \"", name,
                       "\""));
    }
  }
  absl::StatusOr<std::string> found = FindProgram(options.argv[0], "");
  if (!found.ok()) return found.status();
  std::string path = *std::move(found);
  // The child changes directory before exec; a relative path must still
  // name the file FindProgram checked.
  if (path[0] != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) == nullptr) {
      return PosixError("getcwd", errno);
    }
    path = absl::StrCat(cwd, "/", path);
  }

  // Everything the child needs is built here: after fork only
  // async-signal-safe calls are allowed, so no allocation.
  std::vector<std::string> argv_strings = options.argv;
  std::vector<char*> argv = CStrings(argv_strings);
  std::vector<std::string> env_strings = BuildEnvironment(options.env);
  std::vector<char*> envp = CStrings(env_strings);
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  const long open_max = ::sysconf(_SC_OPEN_MAX);
  const int max_fd = open_max > 0 && open_max < INT_MAX
                         ? static_cast<int>(open_max)
                         : 65536;

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return PtyError("pipe2", errno);
  }
  UniqueFd error_read(pipe_fds[0]);
  UniqueFd error_write(pipe_fds[1]);
  // Keep the write end clear of 0-2, which the child overwrites.
  if (error_write.get() <= STDERR_FILENO) {
    error_write.reset(
        ::fcntl(error_write.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1));
    if (!error_write.valid()) return PtyError("fcntl F_DUPFD_CLOEXEC", errno);
  }

  const uint64_t descriptor_limit = child_descriptor_limit.load();
  // Owned: the session collects the engine's exit status, not the reaper.
  const pid_t parent = ::getpid();
  const pid_t pid = ForkOwned();
  if (pid < 0) return PtyError("fork", errno);
  if (pid == 0) {
    RunChild(parent, slave, error_write.get(), path.c_str(), argv.data(),
             envp.data(), cwd, max_fd, descriptor_limit);
  }
  error_write.reset();

  // EOF: exec succeeded and closed the child's copy (O_CLOEXEC).
  ChildFailure failure;
  ssize_t n;
  do {
    n = ::read(error_read.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n != 0) {
    KillAndReap(pid);  // the child has _exit'ed or is about to; reap it
    if (n != static_cast<ssize_t>(sizeof failure)) {
      return absl::InternalError(absl::StrCat(
          "SpawnOnPty: bad report from the child of ", path, ": ",
          n < 0 ? std::strerror(errno) : "short read"));
    }
    // The step decides the code: what failed, more than why.
    const int error = failure.error;
    switch (failure.step) {
      case ChildStep::kExec:
        if (error == ENOENT) {
          // The file exists (FindProgram saw it): its interpreter is missing.
          return absl::NotFoundError(
              PosixErrorMessage(absl::StrCat("exec ", path), error));
        }
        return absl::FailedPreconditionError(
            PosixErrorMessage(absl::StrCat("exec ", path), error));
      case ChildStep::kChdir:
        return absl::FailedPreconditionError(
            PosixErrorMessage(absl::StrCat("chdir ", options.cwd), error));
      case ChildStep::kControllingTerminal:
        return absl::FailedPreconditionError(PosixErrorMessage(
            "make the PTY the controlling terminal (TIOCSCTTY)", error));
      case ChildStep::kSetsid:
        return absl::InternalError(PosixErrorMessage("setsid", error));
      case ChildStep::kDeathSignal:
        return absl::InternalError(
            PosixErrorMessage("prctl PR_SET_PDEATHSIG", error));
      case ChildStep::kStdio:
        return absl::InternalError(PosixErrorMessage("dup2 onto stdio", error));
    }
    return absl::InternalError("SpawnOnPty: unknown child failure");
  }

  SpawnedProcess process;
  process.pid = pid;
  process.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!process.pidfd.valid()) {
    const int error = errno;
    KillAndReap(pid);
    return PosixError("pidfd_open", error);
  }
  return process;
}

void SetChildDescriptorLimit(uint64_t soft) { child_descriptor_limit = soft; }

pid_t ForegroundProcessGroup(int master) {
  const pid_t group = ::tcgetpgrp(master);
  // Linux reports 0 when the terminal has no foreground group.
  return group > 0 ? group : -1;
}

}  // namespace dbgd::session
