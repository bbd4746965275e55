// fmt formatters (and so spdlog arguments) for Abseil types.
//
// Debian builds Abseil with its own string_view (ABSL_OPTION_USE_STD_STRING_VIEW
// is 0), which fmt does not know; status messages are of that type.

#ifndef DBGD_COMMON_FMT_ABSL_H_
#define DBGD_COMMON_FMT_ABSL_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "fmt/format.h"

template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<fmt::string_view>::format(
        fmt::string_view(s.data(), s.size()), ctx);
  }
};

template <>
struct fmt::formatter<absl::Status> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(const absl::Status& status, FormatContext& ctx) const {
    const std::string text = status.ToString();
    return fmt::formatter<fmt::string_view>::format(
        fmt::string_view(text.data(), text.size()), ctx);
  }
};

#endif  // DBGD_COMMON_FMT_ABSL_H_
