#include "common/version.h"

#include "absl/strings/str_cat.h"

namespace dbgd {
namespace version_internal {
// Defined in the source tools/stamp/version_source generates.
extern const char kRelease[];
extern const char kGitDescription[];
}  // namespace version_internal

absl::string_view Release() { return version_internal::kRelease; }

absl::string_view GitDescription() { return version_internal::kGitDescription; }

// GCC says __SANITIZE_ADDRESS__ / __SANITIZE_THREAD__; clang __has_feature.
#if defined(__has_feature)
#define DBGD_HAS_FEATURE(feature) __has_feature(feature)
#else
#define DBGD_HAS_FEATURE(feature) 0
#endif

absl::string_view BuildType() {
#if defined(__SANITIZE_ADDRESS__) || DBGD_HAS_FEATURE(address_sanitizer)
  return "asan";
#elif defined(__SANITIZE_THREAD__) || DBGD_HAS_FEATURE(thread_sanitizer)
  return "tsan";
#elif defined(NDEBUG)
  return "release";
#else
  return "debug";
#endif
}

std::string VersionLine(absl::string_view program) {
  const absl::string_view revision = GitDescription();
  return absl::StrCat(program, " ", Release(), " (",
                      revision.empty() ? "unknown revision"
                                       : absl::StrCat("git ", revision),
                      ", ", BuildType(), " build)");
}

}  // namespace dbgd
