#include "session/request_check.h"

#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "session/target_check.h"

namespace dbgd::session {
namespace {

// FindBidiControl returns where the first bidirectional embedding, override
// or isolate (U+202A..U+202E, U+2066..U+2069) starts in UTF-8 `text`, or npos:
// they reorder how the rest of a line is shown, so a name could make the
// text after it read as something else.
size_t FindBidiControl(absl::string_view text) {
  for (size_t at = 0; at + 2 < text.size(); ++at) {
    const unsigned char a = text[at], b = text[at + 1], c = text[at + 2];
    if (a != 0xe2) continue;
    if ((b == 0x80 && c >= 0xaa && c <= 0xae) || (b == 0x81 && c >= 0xa6 && c <= 0xa9)) {
      return at;
    }
  }
  return absl::string_view::npos;
}

}  // namespace

absl::Status CheckDisplayName(absl::string_view name) {
  if (name.size() > kMaxDisplayNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "display_name: must be at most ", kMaxDisplayNameBytes,
        " bytes of printable UTF-8 (it is ", name.size(), ")"));
  }
  if (!IsUtf8(name)) {
    return absl::InvalidArgumentError("display_name: must be UTF-8");
  }
  if (const size_t at = FindBidiControl(name); at != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "display_name: must not contain bidirectional controls (U+202A..U+202E, "
        "U+2066..U+2069); found one at byte ", at));
  }
  return CheckText("display_name", name, kMaxDisplayNameBytes);
}

absl::Status CheckHistoryBytes(int64_t bytes) {
  if (bytes < 0) {
    return absl::InvalidArgumentError("history_bytes: must not be negative");
  }
  if (bytes > kMaxHistoryBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "history_bytes: must be at most ", kMaxHistoryBytes,
        " (16 MiB); 0 means the default, 65536"));
  }
  return absl::OkStatus();
}

absl::Status CheckCreateSessionRequest(const v1::CreateSessionRequest& request) {
  const std::string& engine = request.engine();
  if (engine.size() > kMaxEngineBytes ||
      FindControlCharacter(engine) != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "engine: unknown engine; use gdb, lldb or command");
  }
  if (absl::Status name = CheckDisplayName(request.display_name()); !name.ok()) {
    return name;
  }
  if (absl::Status history = CheckHistoryBytes(request.history_bytes());
      !history.ok()) {
    return history;
  }
  return CheckTargetLimits(request.target());
}

}  // namespace dbgd::session
