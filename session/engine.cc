#include "session/engine.h"

#include <signal.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "session/command_engine.h"
#include "session/gdb_engine.h"
#include "session/lldb_engine.h"

namespace dbgd::session {

std::function<void(absl::StatusOr<ExecuteResult>)> AfterAll(
    size_t count, std::function<void()> done) {
  auto remaining = std::make_shared<size_t>(count);
  return [remaining, done = std::move(done)](absl::StatusOr<ExecuteResult>) {
    if (--*remaining == 0) done();
  };
}

void Engine::KillLaunchedInferiors() {
  for (pid_t inferior : LaunchedInferiors()) ::kill(inferior, SIGKILL);
}

absl::StatusOr<std::unique_ptr<Engine>> MakeEngine(const std::string& name,
                                                   Strand& strand) {
  if (name.empty() || name == "gdb") {
    absl::StatusOr<std::string> gdb = FindProgram("gdb", "gdb");
    if (!gdb.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("engine gdb: ", gdb.status().message()));
    }
    return MakeGdbEngine(strand, *gdb);
  }
  if (name == "lldb") {
    absl::StatusOr<std::string> lldb = FindProgram("lldb", "lldb");
    if (!lldb.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("engine lldb: ", lldb.status().message()));
    }
    return MakeLldbEngine(strand, *lldb);
  }
  if (name == "command") return MakeCommandEngine();
  return absl::InvalidArgumentError(absl::StrCat(
      "engine: unknown engine \"", name, "\"; use gdb, lldb or command"));
}

}  // namespace dbgd::session
