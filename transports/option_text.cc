#include "transports/option_text.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace dbgd::transports::grammar {
namespace {

// How much of the user's input an error message echoes.
constexpr size_t kMaxEcho = 40;

bool IsAllDigits(absl::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::Status KeyError(absl::string_view key, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", reason));
}

std::string Shown(absl::string_view text) {
  if (text.size() <= kMaxEcho) return absl::CHexEscape(text);
  return absl::StrCat(absl::CHexEscape(text.substr(0, kMaxEcho)), "...");
}

std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", Shown(text), "\"");
}

bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

std::optional<uint64_t> ParseDecimal(absl::string_view text) {
  if (!IsAllDigits(text)) return std::nullopt;
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) return UINT64_MAX;
  return value;
}

}  // namespace dbgd::transports::grammar
