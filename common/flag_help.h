// Help text for Abseil flags, for `--help` of dbgd and dbgctl: each flag
// with its type, default and help text, in named groups, without the
// flags of the libraries a binary links (Abseil's own, --helpfull lists
// those).
//
// Thread-safety: safe from any thread once flags are registered (after
// static initialization).

#ifndef DBGD_COMMON_FLAG_HELP_H_
#define DBGD_COMMON_FLAG_HELP_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace dbgd {

// FlagGroup is a titled list of flag names, e.g. {"Logging", {"log_format",
// "log_level"}}.
struct FlagGroup {
  absl::string_view title;
  std::vector<absl::string_view> flags;
};

// FormatFlag returns the flag's entry, e.g.
//   "  --timeout (duration, default 10s)\n"
//   "      Deadline per call.\n"
// with the help text wrapped to fit 80 columns.
std::string FormatFlag(const absl::CommandLineFlag& flag);

// FormatFlags returns the entries of the named flags, in order; a name no
// flag of this binary has is left out.
std::string FormatFlags(absl::Span<const absl::string_view> names);

// FormatFlagGroups returns each group as "Title:\n" and its flags' entries,
// groups separated by a blank line, and then every flag defined in a file
// `is_own` accepts (absl::CommandLineFlag::Filename()) that no group names,
// sorted, under `other_title` — in the group of that title if there is one,
// so that a new flag is listed before anyone files it in its group.
std::string FormatFlagGroups(absl::Span<const FlagGroup> groups,
                             const std::function<bool(absl::string_view file)>& is_own,
                             absl::string_view other_title);

}  // namespace dbgd

#endif  // DBGD_COMMON_FLAG_HELP_H_
