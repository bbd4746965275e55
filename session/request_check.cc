#include "session/request_check.h"

#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "session/target_check.h"

namespace dbgd::session {

absl::Status CheckDisplayName(absl::string_view name) {
  if (name.size() > kMaxDisplayNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "display_name: must be at most ", kMaxDisplayNameBytes,
        " bytes of printable UTF-8 (it is ", name.size(), ")"));
  }
  if (!IsUtf8(name)) {
    return absl::InvalidArgumentError("display_name: must be UTF-8");
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
