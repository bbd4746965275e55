#include "session/target_check.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/posix_error.h"
#include "session/process_guard.h"
#include "session/pty.h"

namespace dbgd::session {
namespace {

bool HasControlCharacter(const std::string& text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

bool HasLineBreak(const std::string& text) {
  return text.find_first_of("\r\n") != std::string::npos;
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
  for (const auto& [key, value] : launch.env()) {
    if (key.empty() || key.find('=') != std::string::npos ||
        HasControlCharacter(key) || HasLineBreak(value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "launch.env: \"", key,
          "\" must be a non-empty name without '=' or control characters, "
          "with a one-line value"));
    }
  }
  for (const std::string& arg : launch.args()) {
    if (HasLineBreak(arg)) {
      return absl::InvalidArgumentError(
          "launch.args: an argument contains a line break");
    }
  }
  return program;
}

}  // namespace

absl::StatusOr<std::string> CheckTarget(const v1::Target& target) {
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
      if (address.empty() || address.find_first_of(" \t") != std::string::npos ||
          HasControlCharacter(address)) {
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
