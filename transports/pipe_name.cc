#include "transports/pipe_name.h"

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "transports/option_text.h"

namespace dbgd::transports {
namespace {

using grammar::IsControl;
using grammar::KeyError;
using grammar::ParseDecimal;
using grammar::Quoted;

// A pid or tid needs at most 11 digits; a larger width only lengthens the
// socket name past what sun_path can hold.
constexpr int kMaxCodeWidth = 20;

absl::StatusOr<std::string> Expand(absl::string_view pipe, pid_t pid,
                                   pid_t tid) {
  using Unsigned = std::make_unsigned_t<pid_t>;
  std::string out;
  out.reserve(pipe.size());
  int codes = 0;
  size_t i = 0;
  while (i < pipe.size()) {
    if (pipe[i] != '%') {
      out.push_back(pipe[i++]);
      continue;
    }
    const size_t start = i++;
    if (i < pipe.size() && pipe[i] == '%') {
      out.push_back('%');
      ++i;
      continue;
    }
    const bool zero_pad = i < pipe.size() && pipe[i] == '0';
    if (zero_pad) ++i;
    const size_t width_start = i;
    while (i < pipe.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(pipe[i]))) {
      ++i;
    }
    const absl::string_view width_text =
        pipe.substr(width_start, i - width_start);
    if (i == pipe.size()) {
      return KeyError("pipe", absl::StrCat(Quoted(pipe.substr(start)),
                                           " is an incomplete format code "
                                           "(write %% for a literal %)"));
    }
    const char conversion = pipe[i++];
    const absl::string_view code = pipe.substr(start, i - start);
    if (!absl::StrContains("diuxXo", conversion)) {
      return KeyError("pipe", absl::StrCat(Quoted(code),
                                           " is not a supported format code "
                                           "(use %d, %i, %u, %x, %X, %o, or "
                                           "%% for a literal %)"));
    }
    int width = 0;
    if (!width_text.empty()) {
      // Space padding would put spaces in a pipe name, which the grammar bans (docs/server-strings.md).
      if (!zero_pad) {
        return KeyError("pipe", absl::StrCat(Quoted(code),
                                             " would pad with spaces; use a "
                                             "zero flag, e.g. %08x"));
      }
      const std::optional<uint64_t> value = ParseDecimal(width_text);
      if (!value || *value > static_cast<uint64_t>(kMaxCodeWidth)) {
        return KeyError("pipe", absl::StrCat("width of ", Quoted(code),
                                             " is above ", kMaxCodeWidth));
      }
      width = static_cast<int>(*value);
    }
    if (++codes > 2) {
      return KeyError("pipe",
                      "more than two format codes (the first becomes the "
                      "process ID, the second the thread ID)");
    }
    const pid_t value = codes == 1 ? pid : tid;
    switch (conversion) {
      case 'd':
      case 'i':
        absl::StrAppendFormat(&out, "%0*d", width, value);
        break;
      case 'u':
        absl::StrAppendFormat(&out, "%0*u", width,
                              static_cast<Unsigned>(value));
        break;
      case 'x':
        absl::StrAppendFormat(&out, "%0*x", width,
                              static_cast<Unsigned>(value));
        break;
      case 'X':
        absl::StrAppendFormat(&out, "%0*X", width,
                              static_cast<Unsigned>(value));
        break;
      case 'o':
        absl::StrAppendFormat(&out, "%0*o", width,
                              static_cast<Unsigned>(value));
        break;
    }
  }
  return out;
}

}  // namespace

absl::Status ValidatePipeName(std::string_view pipe_std, PipeNameForm form) {
  const absl::string_view pipe = grammar::ToAbsl(pipe_std);
  if (pipe.size() > kMaxPipeNameLength) {
    return KeyError("pipe", absl::StrCat("longer than ", kMaxPipeNameLength,
                                         " characters (", pipe.size(), ")"));
  }
  // The name becomes one file in the pipe directory, so it must not name the
  // directory itself or its parent.
  if (pipe == "." || pipe == "..") {
    return KeyError("pipe", "\".\" and \"..\" are not pipe names");
  }
  for (char c : pipe) {
    if (c == ' ') return KeyError("pipe", "must not contain spaces");
    if (c == '"' || c == '\'') {
      return KeyError("pipe", "must not contain quotation marks");
    }
    if (c == '/' || c == '\\') {
      return KeyError("pipe",
                      "must not contain '/' or '\\' (it names one socket in "
                      "the pipe directory)");
    }
    if (IsControl(c)) {
      return KeyError("pipe", "must not contain control characters");
    }
  }
  if (form == PipeNameForm::kExpanded) return absl::OkStatus();
  return Expand(pipe, 0, 0).status();
}

absl::StatusOr<std::string> ExpandPipeName(std::string_view pipe, pid_t pid,
                                           pid_t tid) {
  return Expand(grammar::ToAbsl(pipe), pid, tid);
}

}  // namespace dbgd::transports
