// The first pass over an option string: the transport, then each
// `key[=value]` checked against what that transport accepts for the role,
// before any value is interpreted.
//
// Internal to //transports:spec.
//
// Thread-safety: pure functions; safe to call concurrently.

#ifndef DBGD_TRANSPORTS_SPEC_TOKENIZER_H_
#define DBGD_TRANSPORTS_SPEC_TOKENIZER_H_

#include <array>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "transports/spec.h"
#include "transports/spec_table.h"

namespace dbgd::transports::grammar {

// RawOptions is the tokenised option string: each key's value as written
// (a flag's value is empty), with values still pointing into the input.
struct RawOptions {
  Transport transport = Transport::kTcp;
  std::array<std::optional<absl::string_view>, kKeyCount> values;

  bool has(Key key) const { return values[key].has_value(); }
};

// Tokenize checks everything that does not depend on a value's meaning: the
// transport, that every key belongs to it for `role`, once, with or without
// a value as its kind demands. On failure returns INVALID_ARGUMENT naming
// the key (or `transport` / `options`) and the reason. The result borrows
// `text`.
absl::StatusOr<RawOptions> Tokenize(absl::string_view text, Role role);

}  // namespace dbgd::transports::grammar

#endif  // DBGD_TRANSPORTS_SPEC_TOKENIZER_H_
