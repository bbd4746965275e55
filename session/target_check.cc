#include "session/target_check.h"

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/posix_error.h"
#include "session/process_guard.h"
#include "session/pty.h"

namespace dbgd::session {
namespace {

// What an error may quote of a name the caller gave: short ones only.
constexpr size_t kMaxQuotedBytes = 64;

absl::Status CheckLaunchLimits(const v1::LaunchTarget& launch) {
  if (absl::Status program =
          CheckText("launch.program", launch.program(), kMaxPathBytes);
      !program.ok()) {
    return program;
  }
  if (absl::Status cwd = CheckText("launch.cwd", launch.cwd(), kMaxPathBytes);
      !cwd.ok()) {
    return cwd;
  }
  if (static_cast<size_t>(launch.args_size()) > kMaxArgs) {
    return absl::InvalidArgumentError(
        absl::StrCat("launch.args: must be at most ", kMaxArgs,
                     " arguments (there are ", launch.args_size(), ")"));
  }
  size_t args_bytes = 0;
  for (int i = 0; i < launch.args_size(); ++i) {
    const std::string& arg = launch.args(i);
    if (absl::Status checked =
            CheckText(absl::StrCat("launch.args[", i, "]"), arg, kMaxArgsBytes);
        !checked.ok()) {
      return checked;
    }
    args_bytes += arg.size();
  }
  if (args_bytes > kMaxArgsBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("launch.args: must be at most ", kMaxArgsBytes,
                     " bytes in all (there are ", args_bytes, ")"));
  }
  size_t env_bytes = 0;
  for (const auto& [name, value] : launch.env()) {
    if (name.empty() || name.find('=') != std::string::npos ||
        FindControlCharacter(name) != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          "launch.env: a name must be non-empty, without '=' or control "
          "characters");
    }
    env_bytes += name.size() + 1 + value.size();  // NAME=VALUE
    if (env_bytes > kMaxEnvBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "launch.env: must be at most ", kMaxEnvBytes,
          " bytes in all, counting each entry as NAME=VALUE"));
    }
    const std::string what =
        name.size() <= kMaxQuotedBytes ? absl::StrCat("the value of ", name)
                                       : "a value";
    if (const size_t at = FindControlCharacter(value);
        at != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "launch.env: ", what, " must not contain control characters (0x",
          absl::Hex(static_cast<unsigned char>(value[at]), absl::kZeroPad2),
          " at byte ", at, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckFile(absl::string_view field, const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": is required"));
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return PosixError(absl::StrCat(field, ": ", path), errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", path, " is not a regular file"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CheckLaunch(const v1::LaunchTarget& launch) {
  if (launch.program().empty()) {
    return absl::InvalidArgumentError("launch.program: is required");
  }
  absl::StatusOr<std::string> program =
      FindProgram(launch.program(), launch.program());
  if (!program.ok()) {
    return absl::NotFoundError(
        absl::StrCat("launch.program: ", program.status().message()));
  }
  if (!launch.cwd().empty()) {
    struct stat st;
    if (::stat(launch.cwd().c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::NotFoundError(
          absl::StrCat("launch.cwd: ", launch.cwd(), " is not a directory"));
    }
  }
  return program;
}

}  // namespace

size_t FindControlCharacter(absl::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) return i;
    if (c == 0xc2 && i + 1 < text.size()) {
      const unsigned char next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return i;  // U+0080..U+009F
    }
  }
  return absl::string_view::npos;
}

absl::Status CheckText(absl::string_view field, absl::string_view text,
                       size_t max_bytes) {
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": must be at most ", max_bytes, " bytes (it is ", text.size(),
        ")"));
  }
  if (const size_t at = FindControlCharacter(text);
      at != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": must not contain control characters (0x",
        absl::Hex(static_cast<unsigned char>(text[at]), absl::kZeroPad2),
        " at byte ", at, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckTargetLimits(const v1::Target& target) {
  switch (target.kind_case()) {
    case v1::Target::kLaunch:
      return CheckLaunchLimits(target.launch());
    case v1::Target::kCrashDump:
      if (absl::Status core = CheckText("crash_dump.core_file",
                                        target.crash_dump().core_file(),
                                        kMaxPathBytes);
          !core.ok()) {
        return core;
      }
      return CheckText("crash_dump.executable",
                       target.crash_dump().executable(), kMaxPathBytes);
    case v1::Target::kRemote:
      return CheckText("remote.address", target.remote().address(),
                       kMaxPathBytes);
    case v1::Target::kAttach:
    case v1::Target::KIND_NOT_SET:
      break;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CheckTarget(const v1::Target& target) {
  if (absl::Status limits = CheckTargetLimits(target); !limits.ok()) {
    return limits;
  }
  switch (target.kind_case()) {
    case v1::Target::kLaunch:
      return CheckLaunch(target.launch());
    case v1::Target::kAttach:
      if (target.attach().pid() <= 0) {
        return absl::InvalidArgumentError(
            "attach.pid: must be a positive process ID");
      }
      if (::kill(target.attach().pid(), 0) != 0 && errno == ESRCH) {
        return absl::NotFoundError(
            absl::StrCat("attach.pid: no process ", target.attach().pid()));
      }
      if (std::optional<std::string> refused =
              WhyAttachIsRefused(target.attach().pid())) {
        return absl::FailedPreconditionError(
            absl::StrCat("attach.pid: ", *refused));
      }
      return std::string();
    case v1::Target::kCrashDump: {
      absl::Status core =
          CheckFile("crash_dump.core_file", target.crash_dump().core_file());
      if (!core.ok()) return core;
      absl::Status exe =
          CheckFile("crash_dump.executable", target.crash_dump().executable());
      if (!exe.ok()) return exe;
      return std::string();
    }
    case v1::Target::kRemote: {
      const std::string& address = target.remote().address();
      if (address.empty() || address.find(' ') != std::string::npos) {
        return absl::InvalidArgumentError(
            "remote.address: must be HOST:PORT or a serial device path");
      }
      return std::string();
    }
    case v1::Target::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "target: one of launch, attach, crash_dump or remote is required");
}

TargetOnStop TargetOnStopFor(const v1::Target& target, bool kill_target) {
  switch (target.kind_case()) {
    case v1::Target::kLaunch:
      return TargetOnStop::kKill;
    case v1::Target::kAttach:
    case v1::Target::kRemote:
      return kill_target ? TargetOnStop::kKill : TargetOnStop::kDetach;
    default:
      return TargetOnStop::kNothing;
  }
}

std::vector<std::string> StopCommands(const v1::Target& target,
                                      bool kill_target, const std::string& kill,
                                      const std::string& detach) {
  switch (TargetOnStopFor(target, kill_target)) {
    case TargetOnStop::kKill:
      return {kill};
    case TargetOnStop::kDetach:
      return {detach};
    case TargetOnStop::kNothing:
      break;
  }
  return {};
}

}  // namespace dbgd::session
