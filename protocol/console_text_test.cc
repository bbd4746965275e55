#include "protocol/console_text.h"

#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::protocol {
namespace {

using v1::wire::Notice;

Notice MakeNotice(Notice::Kind kind, std::string identity, std::string text) {
  Notice notice;
  notice.set_kind(kind);
  notice.set_identity(std::move(identity));
  notice.set_text(std::move(text));
  return notice;
}

struct NoticeCase {
  Notice::Kind kind;
  std::string identity;
  std::string text;
  std::optional<std::string> line;
};

class FormatNoticeTest : public ::testing::TestWithParam<NoticeCase> {};

TEST_P(FormatNoticeTest, RendersTheLine) {
  const NoticeCase& c = GetParam();
  EXPECT_EQ(FormatNotice(MakeNotice(c.kind, c.identity, c.text)), c.line);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, FormatNoticeTest,
    ::testing::Values(
        NoticeCase{Notice::COMMAND, "box\\ann", "bt", "*** box\\ann: bt"},
        NoticeCase{Notice::CLIENT_JOINED, "box\\ann", "joined",
                   "*** box\\ann connected"},
        NoticeCase{Notice::CLIENT_LEFT, "box\\ann", "left",
                   "*** box\\ann left: left"},
        NoticeCase{Notice::CLIENT_LEFT, "box\\ann", "", "*** box\\ann left"},
        NoticeCase{Notice::DROPPED, "box\\ann", "too slow",
                   "*** dropped: too slow"},
        NoticeCase{Notice::SESSION_ENDED, "", "the engine exited",
                   "*** session ended: the engine exited"},
        // An observer (a client of a read-only server) is shown as one.
        NoticeCase{Notice::CLIENT_JOINED, "box\\eve (observer)", "joined",
                   "*** box\\eve (observer) connected"},
        NoticeCase{Notice::INPUT_REFUSED, "box\\eve",
                   "input refused: this server is read-only (you are an observer)",
                   "*** input refused: this server is read-only (you are an "
                   "observer)"},
        NoticeCase{Notice::HISTORY_END, "", "", std::nullopt},
        NoticeCase{Notice::KIND_UNSPECIFIED, "x", "y", std::nullopt}));

TEST(ConsoleTextTest, OutputIsVerbatimAndLinesStartOnAFreshLine) {
  ConsoleText text;
  std::string shown = text.Output("(gdb) ");
  shown += text.Line("*** box\\ann connected");
  shown += text.Line("*** box\\ann: bt");
  shown += text.Output("#0 main\n");
  shown += text.Line("*** box\\ann left");
  EXPECT_EQ(shown,
            "(gdb) \n*** box\\ann connected\n*** box\\ann: bt\n#0 main\n"
            "*** box\\ann left\n");
}

TEST(ConsoleTextTest, TheFirstLineNeedsNoBreak) {
  ConsoleText text;
  EXPECT_TRUE(text.at_line_start());
  EXPECT_EQ(text.Line("*** dropped: slow"), "*** dropped: slow\n");
}

TEST(ConsoleTextTest, TerminalLineEndings) {
  ConsoleText text("\r\n");
  EXPECT_EQ(text.Output("$ "), "$ ");
  EXPECT_FALSE(text.at_line_start());
  EXPECT_EQ(text.Line("*** a: ls"), "\r\n*** a: ls\r\n");
  EXPECT_EQ(text.Output("x\r\n"), "x\r\n");
  EXPECT_EQ(text.Line("*** b left"), "*** b left\r\n");
}

TEST(ConsoleTextTest, EmptyOutputKeepsThePlace) {
  ConsoleText text;
  text.Output("$ ");
  text.Output("");
  EXPECT_FALSE(text.at_line_start());
  text.LineEnded();
  EXPECT_EQ(text.Line("x"), "x\n");
}

}  // namespace
}  // namespace dbgd::protocol
