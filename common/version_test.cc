#include "common/version.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/subprocess.h"

namespace dbgd {
namespace {

using ::testing::MatchesRegex;

std::string VersionFile() {
  std::ifstream in(testing::RunfilePath("VERSION"));
  std::stringstream text;
  text << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(text.str()));
}

TEST(VersionTest, ReleaseIsTheVersionFile) {
  ASSERT_FALSE(VersionFile().empty());
  EXPECT_EQ(Release(), VersionFile());
}

TEST(VersionTest, TheLineNamesProgramReleaseRevisionAndBuildType) {
  const std::string revision = GitDescription().empty()
                                   ? "unknown revision"
                                   : absl::StrCat("git ", GitDescription());
  EXPECT_EQ(VersionLine("dbgd"), absl::StrCat("dbgd ", VersionFile(), " (", revision, ", ",
                                              BuildType(), " build)"));
  EXPECT_THAT(std::string(GitDescription()), MatchesRegex("[0-9A-Za-z._+~-]*"));
  // Whether the build type is true: tests/cli_test.cc, on the binaries.
  EXPECT_THAT(std::string(BuildType()), MatchesRegex("release|debug|asan|tsan"));
}

}  // namespace
}  // namespace dbgd
