#include "session/request_check.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::session {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

v1::CreateSessionRequest Request() {
  v1::CreateSessionRequest request;
  request.mutable_target()->mutable_launch()->set_program("/bin/sh");
  return request;
}

TEST(RequestCheckTest, DisplayNameIsBoundedPrintableUtf8) {
  EXPECT_TRUE(CheckDisplayName("").ok());
  EXPECT_TRUE(CheckDisplayName("kernel on qemu — build 7").ok());
  std::string at_limit;
  for (int i = 0; i < 64; ++i) at_limit += "\xf0\x9f\x90\x87";  // 🐇: 4 bytes
  ASSERT_EQ(at_limit.size(), kMaxDisplayNameBytes);
  EXPECT_TRUE(CheckDisplayName(at_limit).ok());

  const absl::Status long_name = CheckDisplayName(at_limit + "x");
  EXPECT_EQ(long_name.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(long_name),
              AllOf(StartsWith("display_name: "), HasSubstr("at most 256 bytes")));
  const absl::Status huge = CheckDisplayName(std::string(1 << 20, 'x'));
  EXPECT_THAT(Message(huge), HasSubstr("at most 256 bytes"));
  EXPECT_LT(huge.message().size(), 200u);

  for (const std::string& bad :
       {std::string("\x1b]0;owned\x07"), std::string("a\tb"),
        std::string("line\nbreak"), std::string("nul\0x", 5),
        std::string("del\x7f"), std::string("csi\xc2\x9b" "2J")}) {
    const absl::Status status = CheckDisplayName(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(Message(status), AllOf(StartsWith("display_name: "),
                                       HasSubstr("control characters")))
        << bad;
  }
  EXPECT_THAT(Message(CheckDisplayName("\xff\xfe")),
              AllOf(StartsWith("display_name: "), HasSubstr("UTF-8")));
  // A right-to-left override would make what follows the name read backwards.
  for (const std::string& bidi : {std::string("evil\xe2\x80\xae" "gnp.exe"),
                                  std::string("\xe2\x81\xa6" "isolate"),
                                  std::string("x\xe2\x80\xaa")}) {
    EXPECT_THAT(Message(CheckDisplayName(bidi)),
                AllOf(StartsWith("display_name: "), HasSubstr("bidirectional")))
        << bidi;
  }
  // Other punctuation of that block is fine (U+2026 HORIZONTAL ELLIPSIS).
  EXPECT_TRUE(CheckDisplayName("wait\xe2\x80\xa6").ok());
  // U+00A0 and the rest of Latin-1 are printable; only U+0080..U+009F are C1.
  EXPECT_TRUE(CheckDisplayName("caf\xc3\xa9 \xc2\xa0 \xc2\xbf").ok());
}

TEST(RequestCheckTest, HistoryBytesHasAMaximum) {
  EXPECT_TRUE(CheckHistoryBytes(0).ok());
  EXPECT_TRUE(CheckHistoryBytes(1).ok());
  EXPECT_TRUE(CheckHistoryBytes(kMaxHistoryBytes).ok());
  EXPECT_EQ(kMaxHistoryBytes, 16 * 1024 * 1024);
  for (int64_t bad : {kMaxHistoryBytes + 1, int64_t{1} << 62}) {
    const absl::Status status = CheckHistoryBytes(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(status), AllOf(StartsWith("history_bytes: "),
                                       HasSubstr("at most 16777216")));
  }
  EXPECT_THAT(Message(CheckHistoryBytes(-1)),
              AllOf(StartsWith("history_bytes: "), HasSubstr("negative")));
}

TEST(RequestCheckTest, RequestChecksEveryField) {
  EXPECT_TRUE(CheckCreateSessionRequest(Request()).ok());

  v1::CreateSessionRequest engine = Request();
  engine.set_engine(std::string(1 << 20, 'g'));
  EXPECT_THAT(Message(CheckCreateSessionRequest(engine)), StartsWith("engine: "));
  EXPECT_LT(CheckCreateSessionRequest(engine).message().size(), 100u);

  v1::CreateSessionRequest name = Request();
  name.set_display_name("\x1b[2J");
  EXPECT_THAT(Message(CheckCreateSessionRequest(name)),
              StartsWith("display_name: "));

  v1::CreateSessionRequest history = Request();
  history.set_history_bytes(int64_t{1} << 62);
  EXPECT_THAT(Message(CheckCreateSessionRequest(history)),
              StartsWith("history_bytes: "));

  v1::CreateSessionRequest program = Request();
  program.mutable_target()->mutable_launch()->set_program(
      std::string("/bin/sh\0x", 9));
  EXPECT_THAT(Message(CheckCreateSessionRequest(program)),
              AllOf(StartsWith("launch.program: "),
                    HasSubstr("control characters (0x00 at byte 7)")));

  v1::CreateSessionRequest remote;
  remote.mutable_target()->mutable_remote()->set_address("host:1\x1b");
  EXPECT_THAT(Message(CheckCreateSessionRequest(remote)),
              StartsWith("remote.address: "));

  // No file system here: a missing program is the session's to report.
  v1::CreateSessionRequest missing = Request();
  missing.mutable_target()->mutable_launch()->set_program("/no/such/program");
  EXPECT_TRUE(CheckCreateSessionRequest(missing).ok());
}

}  // namespace
}  // namespace dbgd::session
