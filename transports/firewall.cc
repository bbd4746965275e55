#include "transports/firewall.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/posix_error.h"
#include "common/reaper.h"

extern char** environ;

namespace dbgd::transports {
namespace {

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Run runs `argv` (argv[0] looked up on PATH) and collects its output.
absl::StatusOr<Result> Run(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return PosixError("pipe", errno);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawned =
      SpawnOwned(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    if (spawned == ENOENT) {
      return absl::FailedPreconditionError(
          "nft is not installed (Debian package nftables)");
    }
    return PosixError(absl::StrCat("cannot run ", argv[0]), spawned);
  }
  Result result;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buffer, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  Disown(pid);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

absl::Status NftError(const Result& result) {
  const std::string message(absl::StripAsciiWhitespace(result.output));
  if (absl::StrContains(message, "Operation not permitted") ||
      absl::StrContains(message, "Permission denied")) {
    return absl::PermissionDeniedError(
        absl::StrCat("nft may not change the ruleset: ", message));
  }
  return absl::InternalError(absl::StrCat("nft failed: ", message));
}

}  // namespace

absl::Status OpenFirewallPort(uint16_t port) {
  const std::string table = kFirewallTable;
  // `add` is idempotent for tables and chains, not for rules: look first.
  const std::vector<std::vector<std::string>> setup = {
      {"nft", "add", "table", "inet", table},
      {"nft", "add", "chain", "inet", table, "input",
       "{ type filter hook input priority -5; policy accept; }"},
  };
  for (const auto& argv : setup) {
    absl::StatusOr<Result> result = Run(argv);
    if (!result.ok()) return result.status();
    if (result->exit_code != 0) return NftError(*result);
  }
  absl::StatusOr<Result> listed =
      Run({"nft", "list", "chain", "inet", table, "input"});
  if (!listed.ok()) return listed.status();
  if (listed->exit_code != 0) return NftError(*listed);
  if (absl::StrContains(listed->output, absl::StrCat("tcp dport ", port, " accept"))) {
    return absl::OkStatus();
  }
  absl::StatusOr<Result> added =
      Run({"nft", "add", "rule", "inet", table, "input", "tcp", "dport",
           std::to_string(port), "accept", "comment", "\"dbgd IcfEnable\""});
  if (!added.ok()) return added.status();
  if (added->exit_code != 0) return NftError(*added);
  return absl::OkStatus();
}

}  // namespace dbgd::transports
