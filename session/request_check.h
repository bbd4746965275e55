// CheckCreateSessionRequest: the limits on what a CreateSession request may
// store (docs/sessions.md). Whatever a session keeps is shown to others — in
// listings, in every client's handshake, on their terminals — so it is
// bounded and free of control characters before anything starts: a refused
// request leaves no engine, no recording and no listed session.
//
// Thread-safety: pure functions.

#ifndef DBGD_SESSION_REQUEST_CHECK_H_
#define DBGD_SESSION_REQUEST_CHECK_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dbgd/v1/control.pb.h"

namespace dbgd::session {

// display_name: at most this many bytes of printable UTF-8.
inline constexpr size_t kMaxDisplayNameBytes = 256;
// history_bytes: at most 16 MiB of output kept for late joiners.
inline constexpr int64_t kMaxHistoryBytes = int64_t{16} << 20;
// engine: longer than any engine's name.
inline constexpr size_t kMaxEngineBytes = 32;

// CheckDisplayName: empty (the default name), or at most
// kMaxDisplayNameBytes of UTF-8 without control characters (C0, DEL, C1).
absl::Status CheckDisplayName(absl::string_view name);

// CheckHistoryBytes: 0 (the default, 64 KiB) up to kMaxHistoryBytes.
absl::Status CheckHistoryBytes(int64_t bytes);

// CheckCreateSessionRequest applies every limit: the engine's name, the
// display name, history_bytes and the target's text (CheckTargetLimits).
// INVALID_ARGUMENT names the field and the rule, and never quotes what was
// refused. What needs the file system or the engine (does the program
// exist?) is checked when the session starts.
absl::Status CheckCreateSessionRequest(const v1::CreateSessionRequest& request);

}  // namespace dbgd::session

#endif  // DBGD_SESSION_REQUEST_CHECK_H_
