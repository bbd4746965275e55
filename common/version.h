// What a dbgd binary is: its release (the VERSION file), the git revision it
// was built from (stamped by `bazel build --stamp`, see docs/decisions.md)
// and how it was built, for `--version` on dbgd, dbgctl and dbgremote.
//
// Thread-safety: every function is safe to call from any thread.

#ifndef DBGD_COMMON_VERSION_H_
#define DBGD_COMMON_VERSION_H_

#include <string>

#include "absl/strings/string_view.h"

namespace dbgd {

// Release returns the release number from the repository's VERSION file,
// e.g. "0.12.0".
absl::string_view Release();

// GitDescription returns `git describe --always --dirty` of the tree the
// binary was built from (e.g. "5ee1352" or "v0.12.0-3-g5ee1352-dirty"), or
// "" when the build was not stamped or the tree was not a git checkout.
absl::string_view GitDescription();

// BuildType says what the compiler was told: "asan" or "tsan" when a
// sanitizer is compiled in (those builds keep assertions), else "release"
// when NDEBUG is defined and "debug" when it is not.
absl::string_view BuildType();

// VersionLine is what `PROGRAM --version` prints (without a newline), e.g.
// "dbgd 0.12.0 (git 5ee1352, release build)" or, unstamped,
// "dbgd 0.12.0 (unknown revision, debug build)".
std::string VersionLine(absl::string_view program);

}  // namespace dbgd

#endif  // DBGD_COMMON_VERSION_H_
