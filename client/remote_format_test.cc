#include "client/remote_format.h"

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(FormatByeTest, NamesTheReason) {
  v1::wire::Bye bye;
  bye.set_reason("disconnected by the server's operator");
  EXPECT_EQ(FormatBye(bye),
            "*** disconnected: disconnected by the server's operator");
}

// What the server says reaches the user's terminal shown, never obeyed.
TEST(FormatByeTest, ShowsControlCharacters) {
  v1::wire::Bye bye;
  bye.set_reason("bye\x1b]0;owned\x07");
  EXPECT_EQ(FormatBye(bye), "*** disconnected: bye^[]0;owned^G");
  EXPECT_EQ(HandshakeEnding(absl::InvalidArgumentError("no\x1b[2J")).message,
            "handshake failed: no^[[2J");
  EXPECT_EQ(ConnectionEnding(absl::UnavailableError("\r")).message,
            "connection broken: ^M");
}

struct HandshakeCase {
  absl::Status status;
  ExitCode code;
};

class HandshakeEndingTest : public ::testing::TestWithParam<HandshakeCase> {};

TEST_P(HandshakeEndingTest, ClassifiesTheFailure) {
  const Ending ending = HandshakeEnding(GetParam().status);
  EXPECT_EQ(ending.code, GetParam().code);
  EXPECT_THAT(ending.message, HasSubstr(GetParam().status.message()));
}

INSTANTIATE_TEST_SUITE_P(
    Statuses, HandshakeEndingTest,
    ::testing::Values(
        HandshakeCase{absl::UnauthenticatedError("authentication failed"),
                      ExitCode::kAuthFailed},
        HandshakeCase{absl::PermissionDeniedError(
                          "too many failed attempts from 127.0.0.1"),
                      ExitCode::kAuthFailed},
        HandshakeCase{
            absl::FailedPreconditionError("the server requires a password"),
            ExitCode::kAuthFailed},
        HandshakeCase{absl::FailedPreconditionError(
                          "the server refused the handshake: version 9"),
                      ExitCode::kProtocolError},
        HandshakeCase{absl::InvalidArgumentError("expected ServerHello"),
                      ExitCode::kProtocolError},
        HandshakeCase{absl::DeadlineExceededError("no answer"),
                      ExitCode::kProtocolError},
        HandshakeCase{absl::UnavailableError("server closed the connection"),
                      ExitCode::kProtocolError}));

TEST(ConnectionEndingTest, CleanCloseMeansTheServerLetUsGo) {
  EXPECT_EQ(ConnectionEnding(absl::OkStatus()).code, ExitCode::kSessionGone);
}

TEST(ConnectionEndingTest, BrokenConnectionIsAProtocolError) {
  const Ending ending =
      ConnectionEnding(absl::UnavailableError("peer vanished mid-frame"));
  EXPECT_EQ(ending.code, ExitCode::kProtocolError);
  EXPECT_THAT(ending.message, HasSubstr("peer vanished mid-frame"));
}

TEST(SplitCommandsTest, SplitsAndTrims) {
  EXPECT_THAT(SplitCommands(" break main ; run;;bt "),
              ElementsAre("break main", "run", "bt"));
  EXPECT_THAT(SplitCommands(""), IsEmpty());
  EXPECT_THAT(SplitCommands(" ; "), IsEmpty());
}

// Written returns what `write` put through a ConsoleWriter.
template <typename Write>
std::string Written(Write write) {
  char* data = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&data, &size);
  {
    ConsoleWriter writer(out);
    write(writer);
  }
  std::fclose(out);
  std::string text(data, size);
  std::free(data);
  return text;
}

TEST(ConsoleWriterTest, OutputIsVerbatim) {
  EXPECT_EQ(Written([](ConsoleWriter& w) {
              w.Output("(gdb) ");
              w.Output("bt\r\n");
            }),
            "(gdb) bt\r\n");
}

TEST(ConsoleWriterTest, LineStartsOnAFreshLine) {
  EXPECT_EQ(Written([](ConsoleWriter& w) {
              w.Output("(gdb) ");
              w.Line("*** box\\ann connected");
              w.Line("*** box\\ann: bt");
              w.Output("#0 main\n");
              w.Line("*** box\\ann left");
            }),
            "(gdb) \n*** box\\ann connected\n*** box\\ann: bt\n#0 main\n"
            "*** box\\ann left\n");
}

TEST(ConsoleWriterTest, FirstLineNeedsNoBreak) {
  EXPECT_EQ(Written([](ConsoleWriter& w) { w.Line("*** dropped: slow"); }),
            "*** dropped: slow\n");
}

TEST(EchoFilterTest, PassesOutputWhenNothingIsExpected) {
  EchoFilter filter;
  EXPECT_EQ(filter.Filter("(gdb) "), "(gdb) ");
}

TEST(EchoFilterTest, DropsTheEchoSplitAcrossChunks) {
  EchoFilter filter;
  EXPECT_EQ(filter.Expect("bt"), "");
  EXPECT_EQ(filter.Filter("b"), "");
  EXPECT_EQ(filter.Filter("t\r"), "");
  EXPECT_EQ(filter.Filter("\n#0 main\r\n"), "#0 main\r\n");
  EXPECT_EQ(filter.Filter("bt\r\n"), "bt\r\n");  // only once
}

TEST(EchoFilterTest, AcceptsABareNewline) {
  EchoFilter filter;
  filter.Expect("bt");
  EXPECT_EQ(filter.Filter("bt\n#0\n"), "#0\n");
}

TEST(EchoFilterTest, DropsTheEchoOfAnEmptyLine) {
  EchoFilter filter;
  filter.Expect("");
  EXPECT_EQ(filter.Filter("\r\n(gdb) "), "(gdb) ");
}

TEST(EchoFilterTest, ReleasesWithheldBytesOnAMismatch) {
  EchoFilter filter;
  filter.Expect("bt");
  EXPECT_EQ(filter.Filter("b"), "");
  EXPECT_EQ(filter.Filter("ye\n"), "bye\n");
  EXPECT_EQ(filter.Filter("bt\r\n"), "bt\r\n");
}

TEST(EchoFilterTest, ExpectReleasesAnUnfinishedEcho) {
  EchoFilter filter;
  filter.Expect("run");
  EXPECT_EQ(filter.Filter("ru"), "");
  EXPECT_EQ(filter.Expect("bt"), "ru");
  EXPECT_EQ(filter.Filter("bt\r\n"), "");
}

}  // namespace
}  // namespace dbgd::client
