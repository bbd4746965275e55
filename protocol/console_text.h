// The shared console as text: how a client shows the remote protocol's
// Output and Notice frames. dbgremote prints this on its stdout, and a
// session recording (docs/recordings.md) holds the same text, so the two
// cannot drift apart.
//
// Thread-safety: FormatNotice is pure; a ConsoleText has one owner.

#ifndef DBGD_PROTOCOL_CONSOLE_TEXT_H_
#define DBGD_PROTOCOL_CONSOLE_TEXT_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "dbgd/v1/wire.pb.h"

namespace dbgd::protocol {

// FormatNotice renders a Notice as the line a client shows (without the
// line ending), or nullopt for notices that show nothing (HISTORY_END,
// CLIENT_PRESENT, unknown kinds): `*** host\user: bt`,
// `*** host\user connected`, `*** host\user left: REASON`,
// `*** dropped: REASON`, `*** session ended: REASON`,
// `*** input refused: …`.
std::optional<std::string> FormatNotice(const v1::wire::Notice& notice);

// ConsoleText turns engine output and a client's own lines into the text
// to show: output verbatim, and each line on a line of its own (after a
// line break when the output so far did not end with one), ended by
// `newline`.
class ConsoleText {
 public:
  // `newline` ends (and, where needed, precedes) each line: "\n" for a
  // program writing to a terminal (the terminal adds the "\r"), "\r\n" for
  // text that is the terminal's own (a recording).
  explicit ConsoleText(std::string newline = "\n")
      : newline_(std::move(newline)) {}

  // Output returns engine bytes as they are, noting where the cursor is.
  std::string Output(std::string_view bytes);

  // Line returns `line` on a line of its own, with its line ending.
  std::string Line(std::string_view line);

  // LineEnded notes that the cursor went to a new line by other means (the
  // user pressed Enter at the prompt).
  void LineEnded() { at_line_start_ = true; }

  bool at_line_start() const { return at_line_start_; }

 private:
  const std::string newline_;
  bool at_line_start_ = true;  // the last byte shown was '\n' (or none)
};

}  // namespace dbgd::protocol

#endif  // DBGD_PROTOCOL_CONSOLE_TEXT_H_
