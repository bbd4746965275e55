// The GDB engine: `gdb -q -nx` on the console PTY, plus a second UI
// (`new-ui mi3 <pty>`) as the machine-interface side channel that Execute
// and target set-up use.

#ifndef DBGD_SESSION_GDB_ENGINE_H_
#define DBGD_SESSION_GDB_ENGINE_H_

#include <memory>
#include <string>

#include "session/engine.h"

namespace dbgd::session {

// MakeGdbEngine returns a GDB engine that runs `gdb_path` on `strand`.
std::unique_ptr<Engine> MakeGdbEngine(Strand& strand, std::string gdb_path);

}  // namespace dbgd::session

#endif  // DBGD_SESSION_GDB_ENGINE_H_
