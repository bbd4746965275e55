// The command-line conventions dbgd, dbgctl and dbgremote share on top of
// Abseil flags: -h/--help and --version are reported to the caller rather
// than acted on by Abseil, and a usage error (an unknown flag, a missing or
// malformed value) is returned rather than printed as `ERROR: …` with exit
// 1, so that each program names itself once and exits 2.
//
// Thread-safety: call ParseCommandLine once, from main, before any thread
// reads a flag.

#ifndef DBGD_COMMON_COMMAND_LINE_H_
#define DBGD_COMMON_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dbgd {

// kExitUsage is the exit code of a usage error in every dbgd program.
inline constexpr int kExitUsage = 2;

// CommandLine is what ParseCommandLine found.
struct CommandLine {
  // The arguments that are not flags, in order (argv[0] excluded), and
  // every argument after `--`.
  std::vector<std::string> positional;
  // The names of the flags given on the command line, in order; `--noX`
  // is X. Flags read from --flagfile are not listed.
  std::vector<std::string> flags;
  bool help = false;     // -h, -help or --help was given (before any `--`)
  bool version = false;  // --version was given (before any `--`)
};

// ParseCommandLine checks argv against the registered Abseil flags with
// Abseil's syntax (`--name=value`, `--name value`, `-name`, `--noname` for
// a bool) and then sets them with absl::ParseCommandLine, which also reads
// --flagfile, --fromenv and --tryfromenv and answers --helpfull.
// Returns INVALID_ARGUMENT naming the flag for an unknown flag or a bad or
// missing value (no flag is then guaranteed set), and for an argument that
// is not UTF-8 (common/utf8.h). When help or version is
// given, returns at once with no flag set and no error reported, so that
// `PROGRAM --bogus --help` still helps.
absl::StatusOr<CommandLine> ParseCommandLine(int argc, char** argv);

}  // namespace dbgd

#endif  // DBGD_COMMON_COMMAND_LINE_H_
