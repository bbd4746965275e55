#include "transports/flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::transports {
namespace {

TEST(ParsePipeModeTest, ReadsOctal) {
  EXPECT_EQ(ParsePipeMode("0600").value_or(1), 0600u);
  EXPECT_EQ(ParsePipeMode("660").value_or(1), 0660u);
  EXPECT_EQ(ParsePipeMode("0").value_or(1), 0u);
}

TEST(ParsePipeModeTest, RefusesWhatIsNotAModeNamingTheFlag) {
  for (const char* bad : {"", "0800", "1777", "rw", "06600", "-1"}) {
    absl::StatusOr<mode_t> mode = ParsePipeMode(bad);
    EXPECT_EQ(mode.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(mode.status().message(), ::testing::HasSubstr("--pipe_mode")) << bad;
  }
}

}  // namespace
}  // namespace dbgd::transports
