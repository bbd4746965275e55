#include "common/command_line.h"

#include <optional>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "absl/strings/string_view.h"

namespace dbgd {
namespace {

// Abseil's own flags (--flagfile, --fromenv, --helpfull, …) act while
// absl::ParseCommandLine runs; setting one early could act twice.
bool IsAbseilFlag(const absl::CommandLineFlag& flag) {
  return absl::StrContains(flag.Filename(), "absl/flags/");
}

// Abseil answers these itself while absl::ParseCommandLine runs, and does
// not register them as flags.
bool IsAbseilUsageFlag(absl::string_view name) {
  for (absl::string_view usage :
       {"helpfull", "helpshort", "helppackage", "helpon", "helpmatch", "only_check_args"}) {
    if (name == usage) return true;
  }
  return false;
}

// FlagArgument is one argument that names a flag, as typed.
struct FlagArgument {
  absl::string_view dashes;               // "-" or "--"
  absl::string_view name;                 // as typed, e.g. "nojson"
  std::optional<absl::string_view> value;  // after '=', if any
};

FlagArgument Split(absl::string_view arg) {
  FlagArgument result;
  result.dashes = arg.substr(0, absl::StartsWith(arg, "--") ? 2 : 1);
  result.name = arg.substr(result.dashes.size());
  if (const size_t equals = result.name.find('='); equals != absl::string_view::npos) {
    result.value = result.name.substr(equals + 1);
    result.name = result.name.substr(0, equals);
  }
  return result;
}

// CheckFlag validates the flag argument at argv[*index] (advancing *index
// past a separate value) and returns the flag it sets.
absl::StatusOr<absl::CommandLineFlag*> CheckFlag(int argc, char** argv, int* index) {
  const FlagArgument arg = Split(argv[*index]);
  const std::string typed = absl::StrCat(arg.dashes, arg.name);
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(arg.name);
  std::string value;
  if (flag != nullptr && arg.value.has_value()) {
    value = std::string(*arg.value);
  } else if (flag != nullptr && flag->IsOfType<bool>()) {
    value = "true";
  } else if (flag != nullptr) {
    if (*index + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(typed, " needs a value"));
    value = argv[++*index];
  } else if (absl::StartsWith(arg.name, "no") &&
             (flag = absl::FindCommandLineFlag(arg.name.substr(2))) != nullptr &&
             flag->IsOfType<bool>()) {
    if (arg.value.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(typed, " takes no value"));
    }
    value = "false";
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown flag ", typed));
  }
  if (!IsAbseilFlag(*flag)) {
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(typed, ": ", error));
    }
  }
  return flag;
}

}  // namespace

absl::StatusOr<CommandLine> ParseCommandLine(int argc, char** argv) {
  CommandLine result;
  absl::Status error;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") {
      result.positional.insert(result.positional.end(), argv + i + 1, argv + argc);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      result.positional.emplace_back(arg);
      continue;
    }
    const absl::string_view name = Split(arg).name;
    if (name == "h" || name == "help") {
      result.help = true;
    } else if (name == "version") {
      result.version = true;
    } else if (IsAbseilUsageFlag(name)) {
      continue;
    } else if (absl::StatusOr<absl::CommandLineFlag*> flag = CheckFlag(argc, argv, &i);
               !flag.ok()) {
      if (error.ok()) error = flag.status();
    } else {
      result.flags.emplace_back((*flag)->Name());
    }
  }
  if (result.help || result.version) return result;
  if (!error.ok()) return error;
  if (absl::Status text = CheckArgumentsAreUtf8(
          std::vector<std::string>(argv + 1, argv + argc));
      !text.ok()) {
    return text;
  }
  // Every argument is now known good: Abseil sets the flags for good, in
  // its order, after any --flagfile.
  absl::ParseCommandLine(argc, argv);
  return result;
}

}  // namespace dbgd
