// CheckTarget: the rules every engine applies to a session's target, with
// errors that name the field (`launch.program: …`, `attach.pid: …`), so that
// a request is judged the same whichever engine it names.

#ifndef DBGD_SESSION_TARGET_CHECK_H_
#define DBGD_SESSION_TARGET_CHECK_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dbgd/v1/control.pb.h"

namespace dbgd::session {

// The limits on a target's text (docs/sessions.md). A path is one the
// kernel takes (PATH_MAX, 4096, counts its terminating NUL); arguments and
// the environment stay well inside the space execve gives them.
inline constexpr size_t kMaxPathBytes = 4095;
inline constexpr size_t kMaxArgs = 4096;
inline constexpr size_t kMaxArgsBytes = 64 * 1024;  // all arguments together
inline constexpr size_t kMaxEnvBytes = 32 * 1024;   // every NAME=VALUE together

// FindControlCharacter returns the offset of the first control character in
// `text` — C0 (NUL to 0x1F, tab and line breaks included), DEL, or a C1
// control (U+0080 to U+009F) — or npos when there is none. `text` is UTF-8.
size_t FindControlCharacter(absl::string_view text);

// CheckText refuses, naming `field`, a `text` with a control character or
// longer than `max_bytes`. The message says where, never what the text is.
absl::Status CheckText(absl::string_view field, absl::string_view text,
                       size_t max_bytes);

// CheckTargetLimits applies the rules that need no file system: every
// path (program, cwd, core file, executable, remote address) at most
// kMaxPathBytes without control characters; at most kMaxArgs arguments of
// kMaxArgsBytes in all, and environment entries of kMaxEnvBytes in all,
// without control characters. INVALID_ARGUMENT names the field and the
// rule. CheckTarget applies them first.
absl::Status CheckTargetLimits(const v1::Target& target);

// CheckTarget validates `target`: CheckTargetLimits, then a launch program
// that exists (returned, resolved on PATH), a cwd that is a directory, env
// names without '='; an attach PID that exists and is neither dbgd nor one
// of its ancestors (FAILED_PRECONDITION, with why: session/process_guard.h);
// crash-dump files that exist; a remote address without whitespace. Returns
// the resolved program for a launch target, "" for the others.
// INVALID_ARGUMENT or NOT_FOUND name the field.
absl::StatusOr<std::string> CheckTarget(const v1::Target& target);

// TargetOnStop is what an engine does to its target when the session is
// deleted: a launched program is always killed (dbgd started it); an
// attached process or remote target is detached, or killed when
// `kill_target`; a core file needs nothing.
enum class TargetOnStop { kNothing, kDetach, kKill };
TargetOnStop TargetOnStopFor(const v1::Target& target, bool kill_target);

// StopCommands spells TargetOnStopFor in an engine's words: {kill},
// {detach} or nothing.
std::vector<std::string> StopCommands(const v1::Target& target,
                                      bool kill_target, const std::string& kill,
                                      const std::string& detach);

}  // namespace dbgd::session

#endif  // DBGD_SESSION_TARGET_CHECK_H_
