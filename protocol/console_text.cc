#include "protocol/console_text.h"

#include "absl/strings/str_cat.h"

namespace dbgd::protocol {

using v1::wire::Notice;

std::optional<std::string> FormatNotice(const Notice& notice) {
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
