// ProcessGuard: which processes a session must never trace, and the parts
// of a process's identity dbgd checks before it signals one.
//
// Tracing dbgd stops every one of its threads: the daemon, every session
// and every client freeze until the tracer lets go, and a tracer that dies
// at the wrong moment leaves the daemon stopped for good. Tracing a process
// dbgd runs under (its parent, a supervisor, PID 1) stops what the daemon
// depends on. So no session attaches to dbgd, to one of its threads, or to
// an ancestor (docs/sessions.md). Thread-safe: pure functions over /proc.

#ifndef DBGD_SESSION_PROCESS_GUARD_H_
#define DBGD_SESSION_PROCESS_GUARD_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace dbgd::session {

// WhyAttachIsRefused says why no session may attach to `pid` ("PID 12 is
// this dbgd daemon: …"), or nullopt when it may. `pid` may name a thread:
// its thread group decides. A process that does not exist is not refused
// here (the attach fails by itself).
std::optional<std::string> WhyAttachIsRefused(pid_t pid);

// GdbAttachPid returns the PID of a GDB console line that is an `attach`
// command, as GDB reads one: `at`…`attach`, then a number in C syntax
// (decimal, 0x hex, 0 octal), optionally followed by `&`. nullopt for any
// other line.
std::optional<pid_t> GdbAttachPid(absl::string_view line);

// LldbAttach is what an LLDB console line asks to attach to.
struct LldbAttach {
  std::optional<pid_t> pid;  // by PID
  std::string name;          // or by process name (also `--waitfor`)
};

// LldbAttachOf reads an LLDB console line that is an attach command, as LLDB
// resolves one: `attach` (from `at`) with a PID, a name or `process attach`
// options, or `process attach` (from `pro a`) with `-p`/`--pid` or
// `-n`/`--name`, in any of getopt's spellings (`-p 12`, `-p12`, `--pid=12`;
// a PID in C syntax). nullopt for any other line, and for an attach that
// names neither (LLDB then attaches to nothing).
std::optional<LldbAttach> LldbAttachOf(absl::string_view line);

// WhyAttachByNameIsRefused says why no session may attach to a process
// called `name`, or nullopt when it may: the name is that of dbgd or of an
// ancestor (its command name, or its executable's file name), so LLDB
// could pick one of them.
std::optional<std::string> WhyAttachByNameIsRefused(absl::string_view name);

// ParentOf returns the parent PID of `pid` (the PPid of /proc/PID/status),
// 0 for none, -1 when there is no such process.
pid_t ParentOf(pid_t pid);

// GdbAttachGuard returns a GDB command (one line) that makes GDB let go at
// once of any process WhyAttachIsRefused would refuse, whichever way it was
// attached to (an alias, a script, Python, `-target-attach`, `attach &`):
// GDB's Python sees the attach begin, detaches from the one thread traced
// so far and ends GDB (the session ends). `daemon` is dbgd's PID. Needs a
// GDB with Python (Debian's gdb; not gdb-minimal).
std::string GdbAttachGuard(pid_t daemon);

}  // namespace dbgd::session

#endif  // DBGD_SESSION_PROCESS_GUARD_H_
