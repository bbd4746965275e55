// Where dbgremote's input comes from: Console, the interactive prompt with
// libedit line editing and history on the terminal; ScriptReader, lines from
// a pipe or file. Both can be woken, so that the session ending on the
// server's side ends a read in progress.
//
// Console keys:
// the editor's usual ones (emacs by default, ~/.editrc is read);
// Ctrl+D on an empty line and Ctrl+B end input (the user leaves). Ctrl+C is
// not handled here: RemoteClient turns SIGINT into a Break.
//
// Thread-safety (both classes): ReadLine is for one thread; Wake may be
// called from any thread.

#ifndef DBGD_CLIENT_REMOTE_CONSOLE_H_
#define DBGD_CLIENT_REMOTE_CONSOLE_H_

#include <histedit.h>

#include <cwchar>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace dbgd::client {

class Console {
 public:
  // Create sets up editing on stdin/stdout. `program` names the editrc
  // section (`dbgremote:bind ...`). Fails with INTERNAL.
  static absl::StatusOr<std::unique_ptr<Console>> Create(const char* program);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // ReadLine blocks for the next line, without its line ending, and adds it
  // to the history. nullopt: the user left (Ctrl+D, Ctrl+B, the end of
  // input) or Wake was called.
  std::optional<std::string> ReadLine();

  // Wake makes the ReadLine in progress, or the next one, return nullopt.
  void Wake();

 private:
  Console(EditLine* editor, History* history, UniqueFd wake);

  // GetChar is libedit's character source: one character from stdin, or
  // end of input when woken.
  static int GetChar(EditLine* editor, wchar_t* c);
  // Leave is bound to Ctrl+B.
  static unsigned char Leave(EditLine* editor, int key);
  // Prompt is empty: the engine prints its own prompt as output.
  static char* Prompt(EditLine* editor);

  // Constant after construction.
  EditLine* const editor_;
  History* const history_;
  const UniqueFd wake_;  // an eventfd

  // Used by the ReadLine thread only.
  std::mbstate_t decode_state_{};
};

// ScriptReader reads stdin line by line when it is not a terminal.
class ScriptReader {
 public:
  // Create fails with INTERNAL when the wake-up descriptor cannot be made.
  static absl::StatusOr<std::unique_ptr<ScriptReader>> Create();

  // ReadLine blocks for the next line, without its line ending (a last
  // line without one counts). nullopt: the end of input (at_eof()), a read
  // error, or Wake was called.
  std::optional<std::string> ReadLine();

  // Wake makes the ReadLine in progress, or the next one, return nullopt.
  void Wake();

  // at_eof: stdin is exhausted.
  bool at_eof() const { return at_eof_; }

 private:
  explicit ScriptReader(UniqueFd wake) : wake_(std::move(wake)) {}

  // Constant after construction.
  const UniqueFd wake_;  // an eventfd

  // Used by the ReadLine thread only.
  std::string buffer_;  // read but not yet returned
  bool at_eof_ = false;
};

}  // namespace dbgd::client

#endif  // DBGD_CLIENT_REMOTE_CONSOLE_H_
