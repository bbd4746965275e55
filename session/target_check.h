// CheckTarget: the rules every engine applies to a session's target, with
// errors that name the field (`launch.program: …`, `attach.pid: …`), so that
// a request is judged the same whichever engine it names.

#ifndef DBGD_SESSION_TARGET_CHECK_H_
#define DBGD_SESSION_TARGET_CHECK_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dbgd/v1/control.pb.h"

namespace dbgd::session {

// CheckTarget validates `target`: a launch program that exists (returned,
// resolved on PATH), a cwd that is a directory, env names without '=' and
// one-line values, arguments without line breaks; an attach PID that exists
// and is neither dbgd nor one of its ancestors (FAILED_PRECONDITION, with
// why: session/process_guard.h);
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
