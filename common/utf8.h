// Checks that text bound for the control API is UTF-8.
//
// proto3 `string` fields must hold UTF-8: protobuf refuses to parse one that
// does not, and the peer sees a bare gRPC error with no message. Linux file
// names and arguments are bytes, so the clients check what they are given
// and name it, before anything is sent.
//
// Thread-safety: pure functions.

#ifndef DBGD_COMMON_UTF8_H_
#define DBGD_COMMON_UTF8_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace dbgd {

// IsUtf8 is protobuf's own test, so what passes here parses there.
bool IsUtf8(absl::string_view text);

// CheckArgumentsAreUtf8 returns INVALID_ARGUMENT naming the first argument
// (by position, shown C-escaped) that is not UTF-8, else OK. `args` are a
// program's arguments without its name.
absl::Status CheckArgumentsAreUtf8(const std::vector<std::string>& args);

}  // namespace dbgd

#endif  // DBGD_COMMON_UTF8_H_
