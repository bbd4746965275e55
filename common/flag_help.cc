#include "common/flag_help.h"

#include <algorithm>
#include <cstdint>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace dbgd {
namespace {

// Lines stay under 80 columns, so that an 80-column terminal does not wrap them.
constexpr size_t kWidth = 79;
constexpr absl::string_view kHelpIndent = "      ";

// TypeName names the flag types dbgd's programs use, as a user types them.
absl::string_view TypeName(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<bool>()) return "bool";
  if (flag.IsOfType<std::string>()) return "string";
  if (flag.IsOfType<std::vector<std::string>>()) return "comma-separated list";
  if (flag.IsOfType<absl::Duration>()) return "duration";
  if (flag.IsOfType<int32_t>() || flag.IsOfType<int64_t>()) return "integer";
  if (flag.IsOfType<uint16_t>() || flag.IsOfType<uint32_t>() ||
      flag.IsOfType<uint64_t>()) {
    return "unsigned integer";
  }
  if (flag.IsOfType<double>()) return "number";
  return "value";
}

bool IsText(const absl::CommandLineFlag& flag) {
  return flag.IsOfType<std::string>() || flag.IsOfType<std::vector<std::string>>();
}

void AppendWrapped(absl::string_view text, std::string* out) {
  std::string line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipWhitespace())) {
    if (!line.empty() && kHelpIndent.size() + line.size() + 1 + word.size() > kWidth) {
      absl::StrAppend(out, kHelpIndent, line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
  }
  if (!line.empty()) absl::StrAppend(out, kHelpIndent, line, "\n");
}

}  // namespace

std::string FormatFlag(const absl::CommandLineFlag& flag) {
  const std::string default_value = flag.DefaultValue();
  std::string entry = absl::StrCat(
      "  --", flag.Name(), " (", TypeName(flag), ", default ",
      IsText(flag) ? absl::StrCat("\"", default_value, "\"") : default_value, ")\n");
  AppendWrapped(flag.Help(), &entry);
  return entry;
}

std::string FormatFlags(absl::Span<const absl::string_view> names) {
  std::string text;
  for (absl::string_view name : names) {
    if (const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name)) {
      absl::StrAppend(&text, FormatFlag(*flag));
    }
  }
  return text;
}

std::string FormatFlagGroups(absl::Span<const FlagGroup> groups,
                             const std::function<bool(absl::string_view file)>& is_own,
                             absl::string_view other_title) {
  absl::flat_hash_set<absl::string_view> grouped;
  for (const FlagGroup& group : groups) grouped.insert(group.flags.begin(), group.flags.end());
  std::vector<absl::string_view> ungrouped;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!grouped.contains(name) && is_own(flag->Filename())) ungrouped.push_back(name);
  }
  std::sort(ungrouped.begin(), ungrouped.end());

  std::string text;
  bool other_listed = false;
  for (const FlagGroup& group : groups) {
    absl::StrAppend(&text, text.empty() ? "" : "\n", group.title, ":\n",
                    FormatFlags(group.flags));
    if (group.title == other_title) {
      absl::StrAppend(&text, FormatFlags(ungrouped));
      other_listed = true;
    }
  }
  if (!other_listed && !ungrouped.empty()) {
    absl::StrAppend(&text, text.empty() ? "" : "\n", other_title, ":\n",
                    FormatFlags(ungrouped));
  }
  return text;
}

}  // namespace dbgd
