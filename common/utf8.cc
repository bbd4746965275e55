#include "common/utf8.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/common.h"

namespace dbgd {

bool IsUtf8(absl::string_view text) {
  return google::protobuf::internal::IsStructurallyValidUTF8(
      text.data(), static_cast<int>(text.size()));
}

absl::Status CheckArgumentsAreUtf8(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (IsUtf8(args[i])) continue;
    return absl::InvalidArgumentError(absl::StrCat(
        "argument ", i + 1, " (\"", absl::CHexEscape(args[i]),
        "\") is not valid UTF-8; the control API carries text as UTF-8, so "
        "reach such a path through a symbolic link with a UTF-8 name"));
  }
  return absl::OkStatus();
}

}  // namespace dbgd
