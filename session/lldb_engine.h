// The LLDB engine: `lldb` on the console PTY. LLDB has no machine interface,
// so Execute types each command into the shared console, then a marker
// command whose output is unique to that command, and returns what the
// console printed in between. LLDB runs with a HOME of its own, made and
// removed by the engine, so that the daemon's home (read-only, missing, or
// holding someone's ~/.lldb) changes nothing (docs/decisions.md).

#ifndef DBGD_SESSION_LLDB_ENGINE_H_
#define DBGD_SESSION_LLDB_ENGINE_H_

#include <memory>
#include <string>

#include "session/engine.h"

namespace dbgd::session {

// MakeLldbEngine returns an LLDB engine that runs `lldb_path` on `strand`.
std::unique_ptr<Engine> MakeLldbEngine(Strand& strand, std::string lldb_path);

}  // namespace dbgd::session

#endif  // DBGD_SESSION_LLDB_ENGINE_H_
