#include "transports/flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::transports {
namespace {

TEST(ParseBindAddressTest, TakesAddressLiteralsInCanonicalForm) {
  EXPECT_EQ(ParseBindAddress("").value_or("x"), "") << "every interface";
  EXPECT_EQ(ParseBindAddress("127.0.0.1").value_or(""), "127.0.0.1");
  EXPECT_EQ(ParseBindAddress("::1").value_or(""), "::1");
  EXPECT_EQ(ParseBindAddress("fe80:0:0::1").value_or(""), "fe80::1");
}

TEST(ParseBindAddressTest, RefusesNamesAndNonsenseNamingTheFlag) {
  for (const char* bad : {"localhost", "10.0.0", "10.0.0.1:5005", "[::1]", " 1.2.3.4"}) {
    absl::StatusOr<std::string> address = ParseBindAddress(bad);
    EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(address.status().message(),
                ::testing::HasSubstr("--server_bind_address: \"" + std::string(bad)))
        << bad;
  }
}

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
