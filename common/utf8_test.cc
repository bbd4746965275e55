#include "common/utf8.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;

TEST(Utf8Test, AcceptsAsciiAndMultibyteText) {
  EXPECT_TRUE(IsUtf8(""));
  EXPECT_TRUE(IsUtf8("/usr/bin/true"));
  EXPECT_TRUE(IsUtf8("/tmp/caf\xc3\xa9"));          // é
  EXPECT_TRUE(IsUtf8("\xf0\x9f\x90\x9b"));          // a four-byte sequence
}

TEST(Utf8Test, RefusesWhatProtobufRefuses) {
  EXPECT_FALSE(IsUtf8("/tmp/\xff"));
  EXPECT_FALSE(IsUtf8("\xc3"));                      // truncated sequence
  EXPECT_FALSE(IsUtf8("\xc0\xaf"));                  // overlong '/'
  EXPECT_FALSE(IsUtf8("\xed\xa0\x80"));              // a surrogate
}

TEST(Utf8Test, NamesTheFirstBadArgument) {
  EXPECT_TRUE(CheckArgumentsAreUtf8({"create-session", "--launch=/bin/true"}).ok());
  const absl::Status status =
      CheckArgumentsAreUtf8({"create-session", "--launch=/tmp/\xffx", "\xfe"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("argument 2 (\"--launch=/tmp/\\xffx\")"));
  EXPECT_THAT(status.message(), HasSubstr("not valid UTF-8"));
}

}  // namespace
}  // namespace dbgd
