// Helpers for checking option values that users write (the `.server` /
// `-remote` grammar and the pipe-name rules): errors that name the offending
// key, a bounded and escaped echo of the input, strict decimal numbers.
//
// Thread-safety: every function here is pure and may be called concurrently.

#ifndef DBGD_TRANSPORTS_OPTION_TEXT_H_
#define DBGD_TRANSPORTS_OPTION_TEXT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace dbgd::transports::grammar {

// Debian's Abseil is built with its own absl::string_view rather than an
// alias of std::string_view, and Abseil's string functions take only the
// former; the public API's std::string_view is converted once at each entry.
inline absl::string_view ToAbsl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}
inline std::string_view ToStd(absl::string_view text) {
  return std::string_view(text.data(), text.size());
}

// KeyError returns INVALID_ARGUMENT "key: reason".
absl::Status KeyError(absl::string_view key, absl::string_view reason);

// Shown makes user input safe to embed in a message: C-escaped and cut after
// a bound (marked `...`), so a megabyte of garbage does not come back in a
// log line.
std::string Shown(absl::string_view text);

// Quoted is Shown(text) in double quotes.
std::string Quoted(absl::string_view text);

// IsControl is true for ASCII control characters, DEL included.
bool IsControl(char c);

// ParseDecimal accepts plain digits only: SimpleAtoi alone would also take a
// sign and surrounding blanks, which the grammar does not. A value too large
// for uint64_t saturates so callers report it as "above the limit" rather
// than "not a number". Returns nullopt for anything but digits.
std::optional<uint64_t> ParseDecimal(absl::string_view text);

}  // namespace dbgd::transports::grammar

#endif  // DBGD_TRANSPORTS_OPTION_TEXT_H_
