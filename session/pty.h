// Pseudo-terminals and the processes that run on them.
//
// An engine (gdb, lldb, any console program) runs as the leader of its own
// session and process group, with a PTY slave as its controlling terminal
// and stdio; dbgd keeps the master. Thread-safe: no shared state.

#ifndef DBGD_SESSION_PTY_H_
#define DBGD_SESSION_PTY_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace dbgd::session {

// The window size of every PTY OpenPty makes (and of session recordings):
// wide and tall enough that engines neither wrap nor page.
inline constexpr unsigned short kTerminalColumns = 200;
inline constexpr unsigned short kTerminalRows = 50;

struct PtyPair {
  UniqueFd master;         // O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK
  UniqueFd slave;          // O_RDWR | O_NOCTTY | O_CLOEXEC
  std::string slave_path;  // e.g. "/dev/pts/7"
};

enum class PtyMode {
  kTerminal,  // a normal terminal: echo, line discipline, ^C → SIGINT
  kRaw,       // cfmakeraw: bytes pass unchanged (for machine interfaces)
};

// OpenPty opens a new PTY pair, sets the slave's mode and a window size of
// 200x50 (so engines do not wrap or page at 80x24). Fails with
// RESOURCE_EXHAUSTED when no PTY is available, INTERNAL otherwise.
absl::StatusOr<PtyPair> OpenPty(PtyMode mode);

struct SpawnOptions {
  // argv[0] is a path, or a name looked up on PATH.
  std::vector<std::string> argv;
  // Variables added to (or replacing those in) the daemon's environment.
  std::vector<std::pair<std::string, std::string>> env;
  std::string cwd;  // empty: the daemon's
};

struct SpawnedProcess {
  pid_t pid = -1;
  UniqueFd pidfd;  // readable once the process exits (pidfd_open)
};

// FindProgram resolves `name` like execvp would. NOT_FOUND names the program
// and `package` (the Debian package that provides it) when it is missing.
absl::StatusOr<std::string> FindProgram(const std::string& name,
                                        const std::string& package);

// SpawnOnPty starts `options.argv` in a new session whose controlling
// terminal is `slave` (stdin, stdout and stderr too); every other descriptor
// is closed in the child. Returns once exec has succeeded: NOT_FOUND when the
// program does not exist, FAILED_PRECONDITION with errno's text when exec or
// chdir fails (the child is reaped; nothing is left behind).
//
// The child gets SIGKILL when the calling thread ends (PR_SET_PDEATHSIG),
// so that no engine outlives a daemon that was killed: call it from a
// thread that lives as long as the process should (the daemon's event
// loop threads, which end only when the daemon does).
absl::StatusOr<SpawnedProcess> SpawnOnPty(const SpawnOptions& options,
                                          int slave);

// SetChildDescriptorLimit makes the processes SpawnOnPty starts from now on
// begin with RLIMIT_NOFILE's soft value at `soft` (at most the hard value):
// the daemon raises its own at start-up, and an engine or its program should
// get the limit it would have had without dbgd (select() cannot go past
// 1024, and some programs close every descriptor up to the limit).
// 0, the default: the daemon's own limit. Thread-safe.
void SetChildDescriptorLimit(uint64_t soft);

// ForegroundProcessGroup returns the PTY's foreground process group (the
// one Ctrl+C signals), via tcgetpgrp on the master. -1 if none.
pid_t ForegroundProcessGroup(int master);

}  // namespace dbgd::session

#endif  // DBGD_SESSION_PTY_H_
