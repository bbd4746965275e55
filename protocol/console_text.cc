#include "protocol/console_text.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dbgd::protocol {

using v1::wire::Notice;

namespace {

// Utf8Length returns the length of the well-formed UTF-8 character at the
// start of `text` (no overlong forms, no surrogates, nothing past
// U+10FFFF), or 0 when there is none.
size_t Utf8Length(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  size_t length;
  unsigned char low = 0x80, high = 0xbf;  // the second byte's range
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;   // overlong
    if (lead == 0xed) high = 0x9f;  // surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;   // overlong
    if (lead == 0xf4) high = 0x8f;  // past U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  if (byte(1) < low || byte(1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return length;
}

// ControlCode returns the code of the control character (C0, DEL, C1) a
// well-formed character of `length` bytes at the start of `text` is, or -1.
int ControlCode(std::string_view text, size_t length) {
  const unsigned char lead = static_cast<unsigned char>(text[0]);
  if (length == 1) return lead < 0x20 || lead == 0x7f ? lead : -1;
  if (length == 2 && lead == 0xc2) {
    const unsigned char next = static_cast<unsigned char>(text[1]);
    if (next <= 0x9f) return next;  // U+0080..U+009F
  }
  return -1;
}

}  // namespace

std::optional<std::string> InputProblem(std::string_view text) {
  if (text.size() >= 2 && text.substr(text.size() - 2) == "\r\n") {
    text.remove_suffix(2);
  } else if (!text.empty() && text.back() == '\n') {
    text.remove_suffix(1);
  }
  size_t line_start = 0;
  const auto check_length = [&](size_t end) -> std::optional<std::string> {
    size_t length = end - line_start;
    if (length > 0 && text[end - 1] == '\r') --length;  // "\r\n" ends it
    if (length <= kMaxInputLineBytes) return std::nullopt;
    return absl::StrCat("a line of ", length, " bytes at byte ", line_start,
                        " (the limit is ", kMaxInputLineBytes, ")");
  };
  for (size_t at = 0; at < text.size();) {
    const size_t length = Utf8Length(text.substr(at));
    if (length == 0) {
      return absl::StrFormat("invalid UTF-8 (byte 0x%02x) at byte %d",
                             static_cast<unsigned char>(text[at]), at);
    }
    const int control = ControlCode(text.substr(at), length);
    const bool line_break =
        text[at] == '\n' ||
        (text[at] == '\r' && at + 1 < text.size() && text[at + 1] == '\n');
    if (control >= 0 && !line_break) {
      return absl::StrFormat("control character 0x%02x at byte %d", control,
                             at);
    }
    if (text[at] == '\n') {
      if (std::optional<std::string> problem = check_length(at)) return problem;
      line_start = at + 1;
    }
    at += length;
  }
  return check_length(text.size());
}

std::string VisibleText(std::string_view text, size_t max_bytes) {
  constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD
  constexpr std::string_view kEllipsis = "\xe2\x80\xa6";     // U+2026 …
  std::string shown;
  size_t cut = std::string::npos;  // where "…" goes if it is too long
  for (size_t at = 0; at < text.size();) {
    size_t length = Utf8Length(text.substr(at));
    std::string piece;
    if (length == 0) {
      length = 1;  // one stray byte; resynchronise after it
      piece = kReplacement;
    } else if (const int control = ControlCode(text.substr(at), length);
               control >= 0) {
      piece = control < 0x20 ? std::string{'^', static_cast<char>(control + 0x40)}
                             : absl::StrFormat("\\x%02x", control);
    } else {
      piece = text.substr(at, length);
    }
    at += length;
    if (max_bytes != std::string::npos) {
      if (cut == std::string::npos &&
          shown.size() + piece.size() + kEllipsis.size() > max_bytes) {
        cut = shown.size();
      }
      if (shown.size() + piece.size() > max_bytes) {
        shown.resize(std::min(cut, shown.size()));
        if (shown.size() + kEllipsis.size() <= max_bytes) shown += kEllipsis;
        return shown;
      }
    }
    shown += piece;
  }
  return shown;
}

std::optional<std::string> FormatNotice(const Notice& original) {
  Notice notice = original;
  notice.set_identity(VisibleText(original.identity()));
  notice.set_text(VisibleText(original.text()));
  switch (notice.kind()) {
    case Notice::COMMAND:
      return absl::StrCat("*** ", notice.identity(), ": ", notice.text());
    case Notice::CLIENT_JOINED:
      return absl::StrCat("*** ", notice.identity(), " connected");
    case Notice::CLIENT_LEFT:
      if (notice.text().empty()) {
        return absl::StrCat("*** ", notice.identity(), " left");
      }
      return absl::StrCat("*** ", notice.identity(), " left: ", notice.text());
    case Notice::DROPPED:
      return absl::StrCat("*** dropped: ", notice.text());
    case Notice::SESSION_ENDED:
      return absl::StrCat("*** session ended: ", notice.text());
    case Notice::INPUT_REFUSED:
      return absl::StrCat("*** ", notice.text());
    default:
      return std::nullopt;  // HISTORY_END and kinds newer than this code
  }
}

std::string ConsoleText::Output(std::string_view bytes) {
  if (!bytes.empty()) at_line_start_ = bytes.back() == '\n';
  return std::string(bytes);
}

std::string ConsoleText::Line(std::string_view line) {
  std::string text = at_line_start_ ? "" : newline_;
  absl::StrAppend(&text, absl::string_view(line.data(), line.size()), newline_);
  at_line_start_ = true;
  return text;
}

}  // namespace dbgd::protocol
