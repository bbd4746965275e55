#include "session/command_queue.h"

namespace dbgd::session {

absl::Status CommandTimedOutError() {
  // The engine cannot take a command back once it has it.
  return absl::DeadlineExceededError(
      "the command did not finish in time; it may still be running");
}

}  // namespace dbgd::session
