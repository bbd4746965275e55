// The `command` engine: any console program (a shell, `python3 -m pdb`, a
// debugger dbgd has no driver for) on the console PTY. It has no side
// channel, so Execute is refused; clients drive it through the console.

#ifndef DBGD_SESSION_COMMAND_ENGINE_H_
#define DBGD_SESSION_COMMAND_ENGINE_H_

#include <memory>

#include "session/engine.h"

namespace dbgd::session {

std::unique_ptr<Engine> MakeCommandEngine();

}  // namespace dbgd::session

#endif  // DBGD_SESSION_COMMAND_ENGINE_H_
