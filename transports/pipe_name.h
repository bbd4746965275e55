// Pipe names: the rules a `pipe=` value obeys (docs/server-strings.md, docs/decisions.md
// entry 13) and the expansion of a server's printf-style codes into the
// daemon's process and thread IDs. The grammar (transports/spec.h) validates
// with these rules; the npipe transport expands a server's name when it binds.
//
// Thread-safety: every function here is pure and may be called concurrently.

#ifndef DBGD_TRANSPORTS_PIPE_NAME_H_
#define DBGD_TRANSPORTS_PIPE_NAME_H_

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dbgd::transports {

// kMaxPipeNameLength leaves room for the pipe directory within the 108 bytes
// of a Unix socket path.
inline constexpr size_t kMaxPipeNameLength = 80;

// PipeNameForm says whether a `%` in a pipe name starts a format code.
enum class PipeNameForm {
  // A server's `pipe=`: a template whose codes ExpandPipeName fills in.
  kTemplate,
  // A client's `pipe=`: the socket's name as the server expanded it, so `%`
  // is an ordinary character (a server's `pipe=a%%b` is reached as `a%b`).
  kExpanded,
};

// ValidatePipeName checks `pipe`: 1–80 characters, not `.` or `..`, no
// spaces, quotation marks, `/`, `\` or control characters, and for a
// kTemplate only format codes ExpandPipeName accepts. Returns OK, or
// INVALID_ARGUMENT `pipe: <reason>`. An empty name is the caller's to refuse
// (the grammar reports it as a missing value).
absl::Status ValidatePipeName(std::string_view pipe, PipeNameForm form);

// ExpandPipeName replaces the first printf-style numeric code in `pipe`
// (`%d`, `%i`, `%u`, `%x`, `%X`, `%o`, optionally with a zero flag and a
// width such as `%08x`) with `pid` and the second with `tid`; `%%` is a
// literal `%`. Fails with INVALID_ARGUMENT naming `pipe` on any other `%`
// sequence, on space padding (`%5d`), on a width above 20, or on a third
// code. The result is not checked against the length limit: expansion may
// lengthen a valid template past it.
absl::StatusOr<std::string> ExpandPipeName(std::string_view pipe, pid_t pid,
                                           pid_t tid);

}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_PIPE_NAME_H_
