// The shared console as text: how a client shows the remote protocol's
// Output and Notice frames. dbgremote prints this on its stdout, and a
// session recording (docs/recordings.md) holds the same text, so the two
// cannot drift apart.
//
// It also holds the rules for what a line of input may contain, which the
// daemon enforces before a line reaches the engine or another client.
//
// Thread-safety: the functions are pure; a ConsoleText has one owner.

#ifndef DBGD_PROTOCOL_CONSOLE_TEXT_H_
#define DBGD_PROTOCOL_CONSOLE_TEXT_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "dbgd/v1/wire.pb.h"

namespace dbgd::protocol {

// kMaxInputLineBytes: the longest line of input the console takes, in
// bytes without its line ending. The engine reads from a terminal whose
// line discipline holds 4096 bytes, the line ending included, and cuts a
// longer line without telling anyone.
inline constexpr size_t kMaxInputLineBytes = 4095;

// InputProblem says why `text` (an Input frame's `line`) cannot be typed
// into the shared console, or nullopt when it can. One trailing "\n" or
// "\r\n" is allowed, and "\n" (or "\r\n") separates lines; each line must be
// valid UTF-8 with no control character — C0 (TAB included: engines' line
// editors take it for completion), DEL, C1 — and at most
// kMaxInputLineBytes long. The reason names the first offending byte and
// its offset in `text`: `control character 0x1b at byte 6`,
// `invalid UTF-8 (byte 0xff) at byte 2`, `a line of 5000 bytes at byte 0
// (the limit is 4095)`.
std::optional<std::string> InputProblem(std::string_view text);

// VisibleText returns `text` safe to show on a terminal: every control
// character is shown instead of obeyed — C0 as ^@ … ^_ (ESC is ^[, TAB
// ^I), DEL and C1 as \x7f … \x9f — and a byte that is not UTF-8 as U+FFFD,
// so that nobody's text can move the cursor, erase a line or forge one.
// Longer than `max_bytes`, it is cut at a character boundary and ends in
// `…` (U+2026), within `max_bytes` in all.
std::string VisibleText(std::string_view text,
                        size_t max_bytes = std::string::npos);

// FormatNotice renders a Notice as the line a client shows (without the
// line ending), or nullopt for notices that show nothing (HISTORY_END,
// CLIENT_PRESENT, unknown kinds): `*** host\user: bt`,
// `*** host\user connected`, `*** host\user left: REASON`,
// `*** dropped: REASON`, `*** session ended: REASON`,
// `*** input refused: …`. The identity and text are VisibleText: a notice
// cannot drive the terminal it is shown on.
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
